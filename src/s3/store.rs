//! The requests a repair makes, as a trait, so that the repairer (`crate::repair`) is tested
//! with a stub; [`S3Store`] sends them for one bucket: through the SDK, or the copy, the ACL read
//! and the HEADs around its request pipeline (`fast_head`, `docs/fast-copy.md`) where the run
//! allows it.

use std::future::Future;

use aws_sdk_s3::Client;

use super::fast_head::Heads;
use super::{annotations, head, read, write};
use crate::model::{Annotation, ObjectAcl, ObjectHead, ObjectVersion, Rewritten, S3Failure};
use crate::plan::{GrantHeaders, Plan};

/// How a multipart rewrite cuts an object: `size` bytes in parts of `part_size`, with the tags
/// to re-send (a multipart upload has no tagging directive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parts {
    pub size: u64,
    pub part_size: u64,
    /// As the `x-amz-tagging` header wants them.
    pub tagging: Option<String>,
}

/// One bucket's objects, as a repair reads and rewrites them.
pub trait Store: Send + Sync {
    /// The bucket every call is about.
    fn bucket(&self) -> &str;

    /// HEADs the current version of `key`, in checksum mode (`docs/s3-behaviour.md` §16).
    fn head(&self, key: &str) -> impl Future<Output = Result<ObjectHead, S3Failure>> + Send;

    /// HEADs `key` to settle what a copy in flight did: retried even once the run is stopped.
    fn head_to_settle(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<ObjectHead, S3Failure>> + Send {
        self.head(key)
    }

    /// HEADs one version of `key`.
    fn head_version(
        &self,
        key: &str,
        version_id: &str,
    ) -> impl Future<Output = Result<ObjectHead, S3Failure>> + Send;

    /// The newest versions and delete markers of `key`, newest first (see
    /// [`read::newest_versions`]).
    fn versions(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<ObjectVersion>, S3Failure>> + Send;

    /// Deletes the current version of `key` (a delete marker goes on top), only while its ETag
    /// is `if_match` where given.
    fn delete_current(
        &self,
        key: &str,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(), S3Failure>> + Send;

    /// The first `n` bytes of a version's body (fewer if it is shorter), to sniff its coding.
    fn body_start(
        &self,
        key: &str,
        version_id: Option<&str>,
        n: u64,
    ) -> impl Future<Output = Result<Vec<u8>, S3Failure>> + Send;

    /// GetObjectAcl of a version (the current one if `None`).
    fn acl(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<ObjectAcl, S3Failure>> + Send;

    /// PutObjectAcl on one version: these grants, or private if `None`.
    fn put_acl(
        &self,
        key: &str,
        version_id: &str,
        grants: Option<&GrantHeaders>,
    ) -> impl Future<Output = Result<(), S3Failure>> + Send;

    /// The tags of a version, as the `x-amz-tagging` header wants them.
    fn tagging(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<String, S3Failure>> + Send;

    /// The annotations of a version (the current one if `None`): ListObjectAnnotations.
    fn annotations(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Annotation>, S3Failure>> + Send;

    /// One annotation's payload: GetObjectAnnotation.
    fn annotation(
        &self,
        key: &str,
        version_id: Option<&str>,
        name: &str,
    ) -> impl Future<Output = Result<Vec<u8>, S3Failure>> + Send;

    /// PutObjectAnnotation on a version (the current one if `None`), only while the object's
    /// ETag is `if_match`. Retried even once the run is stopped: it finishes a rewrite.
    fn put_annotation(
        &self,
        key: &str,
        version_id: Option<&str>,
        name: &str,
        payload: &[u8],
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(), S3Failure>> + Send;

    /// One REPLACE CopyObject onto itself, conditional on `plan.if_match` (the source's ETag)
    /// and, if `destination_if_match`, on the destination's too.
    fn copy(
        &self,
        plan: &Plan,
        destination_if_match: bool,
    ) -> impl Future<Output = Result<Rewritten, S3Failure>> + Send;

    /// The same rewrite as a multipart copy in `parts`.
    fn multipart(
        &self,
        plan: &Plan,
        parts: &Parts,
        destination_if_match: bool,
    ) -> impl Future<Output = Result<Rewritten, S3Failure>> + Send;

    /// Whether the server enforces `x-amz-copy-source-if-match`, probed by copying
    /// `copy_source` (of `size` bytes) to `probe_key` on a condition no object meets (see
    /// [`write::copy_source_condition_enforced`]).
    fn source_condition_enforced(
        &self,
        copy_source: &str,
        probe_key: &str,
        size: u64,
    ) -> impl Future<Output = Result<bool, S3Failure>> + Send;
}

/// [`Store`] through the SDK, or around it.
#[derive(Clone, Debug)]
pub struct S3Store {
    client: Client,
    /// For [`Store::head_to_settle`].
    settling: Client,
    bucket: String,
    /// The requests a repair repeats for every object (HEAD, the sniff's GET, GetObjectAcl,
    /// CopyObject) go
    /// around the SDK's pipeline through this, which hands them to the SDK when it must.
    around: Option<Heads>,
}

impl S3Store {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Store {
            settling: client.clone(),
            client,
            bucket: bucket.into(),
            around: None,
        }
    }

    /// Sends the HEADs, sniffs, ACL reads and copies through `heads` (itself off with
    /// `--no-fast-head`). The SDK's futures, without it, are boxed: a repair's future holds
    /// every branch, and is moved per object.
    pub fn around_the_sdk(mut self, heads: Heads) -> Self {
        self.around = Some(heads);
        self
    }

    /// Whether the bucket's Object Ownership is BucketOwnerEnforced (ACLs disabled), from its
    /// ownership controls; `false` when they cannot be read (no permission, a server without
    /// them), so that ACLs are then read per object as before.
    pub async fn acls_disabled(&self) -> bool {
        write::acls_disabled(&self.client, &self.bucket).await
    }

    /// Settles with `client`, whose retries a stopped run does not forbid.
    pub fn settling_with(mut self, client: Client) -> Self {
        self.settling = client;
        self
    }

    /// The caller's canonical id, to recognise objects another account owns; `None` when it
    /// cannot be learned (see [`write::caller_id`]).
    pub async fn caller_id(&self) -> Option<String> {
        write::caller_id(&self.client, &self.bucket).await
    }
}

impl Store for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn head(&self, key: &str) -> Result<ObjectHead, S3Failure> {
        match &self.around {
            Some(heads) => heads.head_with_checksums(&self.bucket, key).await,
            None => Box::pin(head::head_with_checksums(&self.client, &self.bucket, key)).await,
        }
    }

    async fn head_to_settle(&self, key: &str) -> Result<ObjectHead, S3Failure> {
        match &self.around {
            Some(heads) => heads.head_to_settle(&self.bucket, key).await,
            None => Box::pin(head::head_with_checksums(&self.settling, &self.bucket, key)).await,
        }
    }

    async fn head_version(&self, key: &str, version_id: &str) -> Result<ObjectHead, S3Failure> {
        head::head_version(&self.settling, &self.bucket, key, version_id).await
    }

    async fn versions(&self, key: &str) -> Result<Vec<ObjectVersion>, S3Failure> {
        read::newest_versions(&self.settling, &self.bucket, key).await
    }

    async fn delete_current(&self, key: &str, if_match: Option<&str>) -> Result<(), S3Failure> {
        write::delete_current(&self.settling, &self.bucket, key, if_match).await
    }

    async fn body_start(
        &self,
        key: &str,
        version_id: Option<&str>,
        n: u64,
    ) -> Result<Vec<u8>, S3Failure> {
        match &self.around {
            Some(heads) => heads.body_start(&self.bucket, key, version_id, n).await,
            None => {
                Box::pin(read::body_start(
                    &self.client,
                    &self.bucket,
                    key,
                    version_id,
                    n,
                ))
                .await
            }
        }
    }

    async fn acl(&self, key: &str, version_id: Option<&str>) -> Result<ObjectAcl, S3Failure> {
        match &self.around {
            Some(heads) => heads.acl(&self.bucket, key, version_id).await,
            None => {
                Box::pin(write::object_acl(
                    &self.client,
                    &self.bucket,
                    key,
                    version_id,
                ))
                .await
            }
        }
    }

    async fn put_acl(
        &self,
        key: &str,
        version_id: &str,
        grants: Option<&GrantHeaders>,
    ) -> Result<(), S3Failure> {
        write::put_acl(&self.settling, &self.bucket, key, version_id, grants).await
    }

    async fn tagging(&self, key: &str, version_id: Option<&str>) -> Result<String, S3Failure> {
        write::object_tagging(&self.client, &self.bucket, key, version_id).await
    }

    async fn annotations(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Vec<Annotation>, S3Failure> {
        annotations::list(&self.settling, &self.bucket, key, version_id).await
    }

    async fn annotation(
        &self,
        key: &str,
        version_id: Option<&str>,
        name: &str,
    ) -> Result<Vec<u8>, S3Failure> {
        annotations::get(&self.client, &self.bucket, key, version_id, name).await
    }

    async fn put_annotation(
        &self,
        key: &str,
        version_id: Option<&str>,
        name: &str,
        payload: &[u8],
        if_match: Option<&str>,
    ) -> Result<(), S3Failure> {
        let bucket = &self.bucket;
        annotations::put(
            &self.settling,
            bucket,
            key,
            version_id,
            name,
            payload,
            if_match,
        )
        .await
    }

    async fn copy(&self, plan: &Plan, destination_if_match: bool) -> Result<Rewritten, S3Failure> {
        match &self.around {
            Some(heads) => heads.copy(&self.bucket, plan, destination_if_match).await,
            None => {
                write::copy_in_place(&self.client, &self.bucket, plan, destination_if_match).await
            }
        }
    }

    async fn multipart(
        &self,
        plan: &Plan,
        parts: &Parts,
        destination_if_match: bool,
    ) -> Result<Rewritten, S3Failure> {
        write::multipart_in_place(
            &self.client,
            &self.bucket,
            plan,
            parts,
            destination_if_match,
        )
        .await
    }

    async fn source_condition_enforced(
        &self,
        copy_source: &str,
        probe_key: &str,
        size: u64,
    ) -> Result<bool, S3Failure> {
        write::copy_source_condition_enforced(
            &self.client,
            &self.bucket,
            copy_source,
            probe_key,
            size,
        )
        .await
    }
}
