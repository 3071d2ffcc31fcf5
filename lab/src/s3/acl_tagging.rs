//! An object's ACL (GetObjectAcl, PutObjectAcl) and tags (Get-, Put- and DeleteObjectTagging), and
//! a bucket's ACL (GetBucketAcl), which s3mend reads for the caller's canonical id.
//!
//! Both change the version they name in place, as S3 does: no new version, the same etag and
//! last-modified time. What a bucket's ACL mode allows is decided in `ownership.rs`.

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use super::{missing_error, LabS3};
use crate::acl::{self, AclHeaders};
use crate::headers;
use crate::model::StoredObject;
use crate::ownership::{self, AclMode};

pub(super) async fn get_object_acl(
    lab: &LabS3,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let input = &req.input;
    let (owner, grants) = lab.store.read(&input.bucket, |b| {
        // A store without ACLs answers 501 whether or not the object exists.
        if b.acl_mode == AclMode::NotImplemented {
            return ownership::visible_acl(b.acl_mode, &StoredObject::default());
        }
        let obj = b
            .lookup(&input.key, input.version_id.as_deref())
            .map_err(missing_error)?;
        ownership::visible_acl(b.acl_mode, obj)
    })?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(acl::to_dto(&grants)),
        owner: Some(acl::owner_dto_for(&owner)),
        ..GetObjectAclOutput::default()
    }))
}

/// A bucket's ACL: the lab's account owns it with FULL_CONTROL, as a new bucket has; a store
/// without ACLs answers 501, as for objects.
pub(super) async fn get_bucket_acl(
    lab: &LabS3,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let owned = StoredObject {
        owner_id: acl::LAB_OWNER_ID.to_owned(),
        grants: acl::private(),
        ..StoredObject::default()
    };
    let (owner, grants) = lab.store.read(&req.input.bucket, |b| {
        ownership::visible_acl(b.acl_mode, &owned)
    })?;
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(acl::to_dto(&grants)),
        owner: Some(acl::owner_dto_for(&owner)),
    }))
}

pub(super) async fn put_object_acl(
    lab: &LabS3,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let input = &req.input;
    ownership::check_put_acl(lab.acl_mode(&input.bucket)?)?;
    let from_headers = AclHeaders {
        canned: input.acl.as_ref().map(|a| a.as_str().to_owned()),
        full_control: input.grant_full_control.clone(),
        read: input.grant_read.clone(),
        read_acp: input.grant_read_acp.clone(),
        write: input.grant_write.clone(),
        write_acp: input.grant_write_acp.clone(),
    }
    .grants()?;
    let grants = match (from_headers, &input.access_control_policy) {
        (Some(g), _) => g,
        (None, Some(policy)) => acl::from_dto(policy.grants.as_deref().unwrap_or_default())?,
        (None, None) => {
            return Err(s3_error!(
                MissingSecurityHeader,
                "Your request was missing a required header"
            ))
        }
    };
    lab.store.write(&input.bucket, |b| {
        b.lookup_mut(&input.key, input.version_id.as_deref())?
            .grants = grants;
        Ok(())
    })?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub(super) async fn get_object_tagging(
    lab: &LabS3,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let input = &req.input;
    let (tags, version_id) = lab.store.read(&input.bucket, |b| {
        b.lookup(&input.key, input.version_id.as_deref())
            .map(|o| (o.tags.clone(), o.version_id.clone()))
            .map_err(missing_error)
    })?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: headers::tags_to_dto(&tags),
        version_id,
    }))
}

pub(super) async fn put_object_tagging(
    lab: &LabS3,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let input = &req.input;
    let mut tags: Vec<(String, String)> = Vec::new();
    for t in &input.tagging.tag_set {
        let key = t.key.clone().unwrap_or_default();
        if tags.iter().any(|(k, _)| *k == key) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
        tags.push((key, t.value.clone().unwrap_or_default()));
    }
    let version_id = lab.store.write(&input.bucket, |b| {
        let obj = b.lookup_mut(&input.key, input.version_id.as_deref())?;
        obj.tags = tags;
        Ok(obj.version_id.clone())
    })?;
    Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
}

pub(super) async fn delete_object_tagging(
    lab: &LabS3,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let input = &req.input;
    let version_id = lab.store.write(&input.bucket, |b| {
        let obj = b.lookup_mut(&input.key, input.version_id.as_deref())?;
        obj.tags.clear();
        Ok(obj.version_id.clone())
    })?;
    Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
}
