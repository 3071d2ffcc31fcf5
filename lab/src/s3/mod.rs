//! The s3s trait implementation: the one [`S3`] impl for [`LabS3`], which hands each operation to
//! the module of its group, and the helpers those modules share.
//!
//! Each operation parses its input, does its work inside one store lock (so checks and writes are
//! atomic) and builds the output DTO. Bad input is always an S3 error, never a panic.
//!
//! The groups: `buckets.rs` (buckets, location, versioning), `objects.rs` (PUT, HEAD, GET,
//! DELETE), `copies.rs` (CopyObject and reading a copy source), `listings.rs` (both ListObjects
//! versions and ListObjectVersions), `acl_tagging.rs` (object ACLs and tags) and `uploads.rs`
//! (multipart uploads).

mod acl_tagging;
mod buckets;
mod copies;
mod listings;
mod objects;
mod uploads;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result, S3};

use crate::handle::LabHandle;
use crate::headers;
use crate::model::StoredObject;
use crate::ownership::AclMode;
use crate::store::{Missing, Store};

/// The lab's S3 implementation over a shared [`Store`].
pub struct LabS3 {
    pub store: Arc<Store>,
    /// The lab's region, and with `testing` its race hooks, which get the same handle tests use.
    pub handle: LabHandle,
}

#[async_trait::async_trait]
impl S3 for LabS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        buckets::create_bucket(self, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        buckets::head_bucket(self, req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        buckets::delete_bucket(self, req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        buckets::list_buckets(self, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        buckets::get_bucket_location(self, req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        buckets::put_bucket_versioning(self, req).await
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        buckets::get_bucket_versioning(self, req).await
    }

    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        buckets::get_bucket_ownership_controls(self, req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        objects::put_object(self, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        objects::head_object(self, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        objects::get_object(self, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        objects::delete_object(self, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        listings::list_objects_v2(self, req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        listings::list_objects(self, req).await
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        listings::list_object_versions(self, req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        copies::copy_object(self, req).await
    }

    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        acl_tagging::get_object_acl(self, req).await
    }

    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        acl_tagging::get_bucket_acl(self, req).await
    }

    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        acl_tagging::put_object_acl(self, req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        acl_tagging::get_object_tagging(self, req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        acl_tagging::put_object_tagging(self, req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        acl_tagging::delete_object_tagging(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        uploads::create_multipart_upload(self, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        uploads::upload_part(self, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        uploads::upload_part_copy(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        uploads::complete_multipart_upload(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        uploads::abort_multipart_upload(self, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        uploads::list_multipart_uploads(self, req).await
    }
}

impl LabS3 {
    fn acl_mode(&self, bucket: &str) -> S3Result<AclMode> {
        self.store.read(bucket, |b| Ok(b.acl_mode))
    }

    /// Whether the bucket plays a store without annotations.
    fn annotations_unimplemented(&self, bucket: &str) -> S3Result<bool> {
        self.store.read(bucket, |b| Ok(!b.annotations))
    }
}

async fn read_body(blob: Option<StreamingBlob>) -> S3Result<Bytes> {
    let Some(mut blob) = blob else {
        return Ok(Bytes::new());
    };
    let mut buf = BytesMut::new();
    while let Some(chunk) = blob.next().await {
        let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "reading the body failed: {e}"))?;
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// S3's answer to a read that found nothing; a delete marker says so in headers.
fn missing_error(missing: Missing) -> S3Error {
    let (mut err, marker) = match missing {
        Missing::NoKey => (
            s3_error!(NoSuchKey, "The specified key does not exist."),
            None,
        ),
        Missing::NoVersion => (
            s3_error!(NoSuchVersion, "The specified version does not exist."),
            None,
        ),
        Missing::DeleteMarker(v) => (
            s3_error!(NoSuchKey, "The specified key does not exist."),
            Some(v),
        ),
        Missing::VersionIsDeleteMarker(v) => (
            s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            ),
            Some(v),
        ),
    };
    if let Some(vid) = marker {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/xml"));
        h.insert("x-amz-delete-marker", HeaderValue::from_static("true"));
        if let Ok(v) = HeaderValue::from_str(vid.as_deref().unwrap_or("null")) {
            h.insert("x-amz-version-id", v);
        }
        err.set_headers(h);
    }
    err
}

/// Reading an SSE-C object needs the customer key (its MD5 must match), like S3.
fn check_customer_key(obj: &StoredObject, key: Option<&str>, md5: Option<&str>) -> S3Result<()> {
    let Some(stored) = &obj.sse_customer_key_md5 else {
        return Ok(());
    };
    if obj.sse_customer_algorithm.is_none() {
        return Ok(());
    }
    match headers::customer_key_md5(key, md5)? {
        Some(given) if given == *stored => Ok(()),
        Some(_) => Err(s3_error!(
            AccessDenied,
            "The provided SSE-C key does not match the key used to encrypt the object"
        )),
        None => Err(s3_error!(
            InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
        )),
    }
}

fn timestamp(t: time::OffsetDateTime) -> Timestamp {
    Timestamp::from(t)
}
