//! The bucket operations: create, head, delete and list buckets, GetBucketLocation and
//! versioning.
//!
//! A lab bucket is a name, a creation time, a versioning state and its ACL mode; every bucket is
//! in the lab's one region (see `region.rs`).

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use super::{timestamp, LabS3};
use crate::acl;
use crate::ownership::AclMode;
use crate::region::LAB_REGION;
use crate::store::Versioning;

pub(super) async fn create_bucket(
    lab: &LabS3,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    if !lab.store.create_bucket(&req.input.bucket) {
        return Err(s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        ));
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", req.input.bucket)),
    }))
}

pub(super) async fn head_bucket(
    lab: &LabS3,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    lab.store.read(&req.input.bucket, |_| Ok(()))?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(lab.handle.region().to_owned()),
        ..HeadBucketOutput::default()
    }))
}

pub(super) async fn delete_bucket(
    lab: &LabS3,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    lab.store.delete_bucket(&req.input.bucket)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub(super) async fn list_buckets(
    lab: &LabS3,
    _req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let buckets = lab
        .store
        .bucket_list()
        .into_iter()
        .map(|(name, created)| Bucket {
            bucket_region: Some(lab.handle.region().to_owned()),
            creation_date: Some(timestamp(created)),
            name: Some(name),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(acl::owner_dto()),
        ..ListBucketsOutput::default()
    }))
}

pub(super) async fn get_bucket_location(
    lab: &LabS3,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    lab.store.read(&req.input.bucket, |_| Ok(()))?;
    // us-east-1 is reported as an empty LocationConstraint, as S3 does.
    let region = lab.handle.region();
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: (region != LAB_REGION)
            .then(|| BucketLocationConstraint::from(region.to_owned())),
    }))
}

pub(super) async fn put_bucket_versioning(
    lab: &LabS3,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let status = req.input.versioning_configuration.status.clone();
    let state = match status.as_ref().map(BucketVersioningStatus::as_str) {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "Status must be Enabled or Suspended"
            ))
        }
    };
    lab.store.write(&req.input.bucket, |b| {
        b.versioning = state;
        Ok(())
    })?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

pub(super) async fn get_bucket_versioning(
    lab: &LabS3,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let state = lab.store.read(&req.input.bucket, |b| Ok(b.versioning))?;
    let status = match state {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::from_static(
            BucketVersioningStatus::ENABLED,
        )),
        Versioning::Suspended => Some(BucketVersioningStatus::from_static(
            BucketVersioningStatus::SUSPENDED,
        )),
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        status,
        ..GetBucketVersioningOutput::default()
    }))
}

/// The bucket's Object Ownership as its ACL mode says (`crate::ownership`): BucketOwnerEnforced,
/// ObjectWriter (S3's setting for a bucket that keeps ACLs), or 501 where the lab plays a
/// server without ACLs, as Garage and s3s-fs answer.
pub(super) async fn get_bucket_ownership_controls(
    lab: &LabS3,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let ownership = match lab.acl_mode(&req.input.bucket)? {
        AclMode::Enabled => ObjectOwnership::OBJECT_WRITER,
        AclMode::OwnerEnforced => ObjectOwnership::BUCKET_OWNER_ENFORCED,
        AclMode::NotImplemented => {
            return Err(s3_error!(
                NotImplemented,
                "GetBucketOwnershipControls is not implemented by this server"
            ))
        }
    };
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(ownership),
            }],
        }),
    }))
}
