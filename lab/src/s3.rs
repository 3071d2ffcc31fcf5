//! The s3s trait implementation: maps S3 request DTOs onto the store and back.
//!
//! Each method parses its input, does its work inside one store lock (so checks and writes are
//! atomic) and builds the output DTO. Bad input is always an S3 error, never a panic.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result, S3};

use super::acl::{self, AclHeaders};
use super::copy::{self, Directive};
use super::handle::LabHandle;
use super::headers::{
    self, check_write_conditions, etag_condition_header, object_headers, request_attrs,
    ConditionFailure, Conditions,
};
use super::inject::HookPoint;
use super::listing;
use super::model::StoredObject;
use super::multipart::{self, Part, Upload};
use super::ownership::{self, AclMode};
use super::store::{self, Missing, Store, Versioning};
use super::LAB_REGION;

/// The lab's S3 implementation over a shared [`Store`].
pub struct LabS3 {
    pub store: Arc<Store>,
    /// For race hooks, which get the same handle tests use.
    pub handle: LabHandle,
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

fn read_conditions_error(f: ConditionFailure) -> S3Error {
    match f {
        ConditionFailure::PreconditionFailed => headers::precondition_failed(),
        ConditionFailure::NotModified => s3_error!(NotModified),
    }
}

fn with_headers<T>(output: T, headers: HeaderMap) -> S3Response<T> {
    let mut resp = S3Response::new(output);
    resp.headers = headers;
    resp
}

fn bucket_key(source: &CopySource) -> S3Result<(&str, &str, Option<&str>)> {
    match source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((bucket, key, version_id.as_deref())),
        _ => Err(s3_error!(
            NotImplemented,
            "access point copy sources are not supported by the lab"
        )),
    }
}

fn timestamp(t: time::OffsetDateTime) -> Timestamp {
    Timestamp::from(t)
}

/// A listing page's objects as both ListObjects versions send them.
fn listed_contents(page: &listing::Page, owner: bool, enc: &dyn Fn(&str) -> String) -> Vec<Object> {
    page.objects
        .iter()
        .map(|o| Object {
            key: Some(enc(&o.key)),
            e_tag: Some(ETag::Strong(o.etag.trim_matches('"').to_owned())),
            size: Some(o.size),
            last_modified: Some(timestamp(o.last_modified)),
            storage_class: Some(ObjectStorageClass::from(o.storage_class.clone())),
            owner: owner.then(acl::owner_dto),
            ..Object::default()
        })
        .collect()
}

fn listed_prefixes(page: &listing::Page, enc: &dyn Fn(&str) -> String) -> Vec<CommonPrefix> {
    page.prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect()
}

fn max_keys(requested: Option<i32>) -> usize {
    usize::try_from(requested.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000)
}

impl LabS3 {
    /// The copy-source conditions of a request into `bucket`, or none where the bucket is set to
    /// ignore them (as moto does).
    fn copy_source_conditions<'a>(
        &self,
        bucket: &str,
        sent: Conditions<'a>,
    ) -> S3Result<Conditions<'a>> {
        let ignored = self
            .store
            .read(bucket, |b| Ok(b.copy_source_conditions_ignored))?;
        Ok(if ignored { Conditions::default() } else { sent })
    }

    /// The object a HEAD or GET reads: found, its SSE-C key matching, its conditions met.
    fn readable(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        (sse_key, sse_key_md5): (Option<&str>, Option<&str>),
        conditions: Conditions<'_>,
    ) -> S3Result<StoredObject> {
        let obj = self.store.read(bucket, |b| {
            b.lookup(key, version_id).cloned().map_err(missing_error)
        })?;
        check_customer_key(&obj, sse_key, sse_key_md5)?;
        conditions.check(&obj).map_err(read_conditions_error)?;
        Ok(obj)
    }

    fn acl_mode(&self, bucket: &str) -> S3Result<AclMode> {
        self.store.read(bucket, |b| Ok(b.acl_mode))
    }

    /// Reads a copy source (current or pinned version), checking the copy-source conditions.
    fn copy_source(
        bucket: &store::Bucket,
        key: &str,
        version_id: Option<&str>,
        conditions: &Conditions<'_>,
    ) -> S3Result<StoredObject> {
        let source = bucket.lookup(key, version_id).map_err(|m| match m {
            Missing::VersionIsDeleteMarker(_) => s3_error!(InvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id."),
            other => missing_error(other),
        })?;
        conditions.check_copy_source(source)?;
        Ok(source.clone())
    }

    /// Reads the source from its bucket (which may be the destination: then the caller holds
    /// the lock and passes it in).
    fn fetch_source(
        &self,
        held: Option<&store::Bucket>,
        src: (&str, &str, Option<&str>),
        conditions: &Conditions<'_>,
    ) -> S3Result<StoredObject> {
        match held {
            Some(bucket) => Self::copy_source(bucket, src.1, src.2, conditions),
            None => self
                .store
                .read(src.0, |b| Self::copy_source(b, src.1, src.2, conditions)),
        }
    }
}

#[async_trait::async_trait]
impl S3 for LabS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        if !self.store.create_bucket(&req.input.bucket) {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{}", req.input.bucket)),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.store.read(&req.input.bucket, |_| Ok(()))?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.handle.region().to_owned()),
            ..HeadBucketOutput::default()
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.store.delete_bucket(&req.input.bucket)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self
            .store
            .bucket_list()
            .into_iter()
            .map(|(name, created)| Bucket {
                bucket_region: Some(self.handle.region().to_owned()),
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

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.store.read(&req.input.bucket, |_| Ok(()))?;
        // us-east-1 is reported as an empty LocationConstraint, as S3 does.
        let region = self.handle.region();
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: (region != LAB_REGION)
                .then(|| BucketLocationConstraint::from(region.to_owned())),
        }))
    }

    async fn put_bucket_versioning(
        &self,
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
        self.store.write(&req.input.bucket, |b| {
            b.versioning = state;
            Ok(())
        })?;
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let state = self.store.read(&req.input.bucket, |b| Ok(b.versioning))?;
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

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let mut attrs = request_attrs!(req.input, &req.headers);
        let input = req.input;
        attrs.resolve_acl(self.acl_mode(&input.bucket)?)?;
        let body = read_body(input.body).await?;
        let obj = attrs.into_object(body);
        let stored = self.store.write(&input.bucket, |b| {
            check_write_conditions(
                b.live(&input.key),
                input.if_match.as_ref(),
                input.if_none_match.as_ref(),
            )?;
            Ok(b.insert(&input.key, obj))
        })?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(stored.etag_value().to_owned())),
            version_id: stored.version_id.clone(),
            server_side_encryption: stored
                .server_side_encryption
                .clone()
                .map(ServerSideEncryption::from),
            ssekms_key_id: stored.ssekms_key_id.clone(),
            bucket_key_enabled: stored.bucket_key_enabled,
            sse_customer_algorithm: stored.sse_customer_algorithm.clone(),
            sse_customer_key_md5: stored.sse_customer_key_md5.clone(),
            size: i64::try_from(stored.body.len()).ok(),
            ..PutObjectOutput::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = &req.input;
        self.handle
            .run_hook(HookPoint::Head, &input.bucket, &input.key);
        let obj = self.readable(
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            (
                input.sse_customer_key.as_deref(),
                input.sse_customer_key_md5.as_deref(),
            ),
            Conditions {
                if_match: input.if_match.as_ref(),
                if_none_match: input.if_none_match.as_ref(),
                if_modified_since: input.if_modified_since.as_ref(),
                if_unmodified_since: input.if_unmodified_since.as_ref(),
            },
        )?;
        let mut out = HeadObjectOutput::default();
        let extra = object_headers!(out, &obj);
        Ok(with_headers(out, extra))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = &req.input;
        let obj = self.readable(
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            (
                input.sse_customer_key.as_deref(),
                input.sse_customer_key_md5.as_deref(),
            ),
            Conditions {
                if_match: input.if_match.as_ref(),
                if_none_match: input.if_none_match.as_ref(),
                if_modified_since: input.if_modified_since.as_ref(),
                if_unmodified_since: input.if_unmodified_since.as_ref(),
            },
        )?;
        let mut out = GetObjectOutput::default();
        let extra = object_headers!(out, &obj);
        let mut body = obj.body.clone();
        if let Some(range) = &input.range {
            let len = u64::try_from(body.len()).unwrap_or(u64::MAX);
            let r = range
                .check(len)
                .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
            let (start, end) = (
                usize::try_from(r.start).unwrap_or(usize::MAX),
                usize::try_from(r.end).unwrap_or(usize::MAX),
            );
            body = body.slice(start..end.min(body.len()));
            out.content_range = Some(format!(
                "bytes {}-{}/{}",
                r.start,
                r.end.saturating_sub(1),
                len
            ));
            out.content_length = i64::try_from(body.len()).ok();
        }
        out.body = Some(StreamingBlob::from(s3s::Body::from(body)));
        Ok(with_headers(out, extra))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = &req.input;
        let removed = self.store.write(&input.bucket, |b| {
            Ok(b.delete(&input.key, input.version_id.as_deref()))
        })?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: removed.delete_marker.then_some(true),
            version_id: removed.version_id,
            ..DeleteObjectOutput::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = &req.input;
        let enc = key_encoder(input.encoding_type.as_ref())?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = match &input.continuation_token {
            Some(token) => Some(decode_token(token)?),
            None => input.start_after.clone(),
        };
        let max = max_keys(input.max_keys);
        let page = self.store.read(&input.bucket, |b| {
            Ok(listing::list_objects(
                b,
                &prefix,
                input.delimiter.as_deref(),
                after.as_deref(),
                max,
            ))
        })?;
        let key_count = i32::try_from(page.objects.len() + page.prefixes.len()).unwrap_or(i32::MAX);
        let contents = listed_contents(&page, input.fetch_owner.unwrap_or(false), &enc);
        let prefixes = listed_prefixes(&page, &enc);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket.clone()),
            prefix: Some(enc(&prefix)),
            delimiter: input.delimiter.as_deref().map(enc),
            start_after: input.start_after.as_deref().map(enc),
            encoding_type: input.encoding_type.clone(),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            key_count: Some(key_count),
            continuation_token: input.continuation_token.clone(),
            is_truncated: Some(page.truncated),
            next_continuation_token: page.next_marker.as_deref().map(encode_token),
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            ..ListObjectsV2Output::default()
        }))
    }

    /// The original ListObjects (v1), which s3cmd and rclone (for S3-compatible providers) use:
    /// the same pages as v2, resumed from a plain `marker` instead of a token.
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = &req.input;
        let enc = key_encoder(input.encoding_type.as_ref())?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let delimiter = input.delimiter.as_deref();
        // A marker that is a common prefix (a NextMarker) resumes past every key under it.
        let after = input
            .marker
            .as_deref()
            .map(|m| listing::past_common_prefix(m, &prefix, delimiter));
        let max = max_keys(input.max_keys);
        let page = self.store.read(&input.bucket, |b| {
            Ok(listing::list_objects(
                b,
                &prefix,
                delimiter,
                after.as_deref(),
                max,
            ))
        })?;
        // S3 sends NextMarker only with a delimiter (the page's last key or common prefix,
        // whichever sorts last); without one, clients resume from the last key.
        let last_key = page.objects.last().map(|o| o.key.as_str());
        let last_prefix = page.prefixes.last().map(String::as_str);
        let next_marker = (page.truncated && delimiter.is_some())
            .then(|| last_key.max(last_prefix))
            .flatten()
            .map(enc);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket.clone()),
            prefix: Some(enc(&prefix)),
            delimiter: delimiter.map(enc),
            marker: Some(input.marker.as_deref().map(enc).unwrap_or_default()),
            encoding_type: input.encoding_type.clone(),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.truncated),
            next_marker,
            contents: Some(listed_contents(&page, true, &enc)),
            common_prefixes: Some(listed_prefixes(&page, &enc)),
            ..ListObjectsOutput::default()
        }))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = &req.input;
        let enc = key_encoder(input.encoding_type.as_ref())?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = max_keys(input.max_keys);
        let page = self.store.read(&input.bucket, |b| {
            Ok(listing::list_versions(
                b,
                &prefix,
                input.delimiter.as_deref(),
                input.key_marker.as_deref(),
                input.version_id_marker.as_deref(),
                max,
            ))
        })?;
        let vid = |v: &Option<String>| Some(v.clone().unwrap_or_else(|| "null".to_owned()));
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for o in &page.objects {
            if o.delete_marker {
                markers.push(DeleteMarkerEntry {
                    is_latest: Some(o.is_latest),
                    key: Some(enc(&o.key)),
                    last_modified: Some(timestamp(o.last_modified)),
                    owner: Some(acl::owner_dto()),
                    version_id: vid(&o.version_id),
                });
            } else {
                versions.push(ObjectVersion {
                    e_tag: Some(ETag::Strong(o.etag.trim_matches('"').to_owned())),
                    is_latest: Some(o.is_latest),
                    key: Some(enc(&o.key)),
                    last_modified: Some(timestamp(o.last_modified)),
                    owner: Some(acl::owner_dto()),
                    size: Some(o.size),
                    storage_class: Some(ObjectVersionStorageClass::from(o.storage_class.clone())),
                    version_id: vid(&o.version_id),
                    ..ObjectVersion::default()
                });
            }
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            common_prefixes: Some(
                page.prefixes
                    .iter()
                    .map(|p| CommonPrefix {
                        prefix: Some(enc(p)),
                    })
                    .collect(),
            ),
            delete_markers: Some(markers),
            versions: Some(versions),
            delimiter: input.delimiter.as_deref().map(enc),
            encoding_type: input.encoding_type.clone(),
            is_truncated: Some(page.truncated),
            key_marker: input.key_marker.as_deref().map(enc),
            version_id_marker: input.version_id_marker.clone(),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            name: Some(input.bucket.clone()),
            next_key_marker: page.next_marker.as_deref().map(enc),
            next_version_id_marker: page.next_version_marker,
            prefix: Some(enc(&prefix)),
            ..ListObjectVersionsOutput::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        // A test's concurrent writer gets in here, before anything about the request is checked.
        self.handle
            .run_hook(HookPoint::Copy, &req.input.bucket, &req.input.key);
        let mut attrs = request_attrs!(req.input, &req.headers);
        let input = &req.input;
        attrs.resolve_acl(self.acl_mode(&input.bucket)?)?;
        let metadata = Directive::parse(
            input
                .metadata_directive
                .as_ref()
                .map(MetadataDirective::as_str),
            "x-amz-metadata-directive",
        )?;
        let tagging = Directive::parse(
            input
                .tagging_directive
                .as_ref()
                .map(TaggingDirective::as_str),
            "x-amz-tagging-directive",
        )?;
        let dest_if_match = etag_condition_header(&req.headers, "if-match")?;
        let dest_if_none_match = etag_condition_header(&req.headers, "if-none-match")?;
        if dest_if_match.is_some()
            && self
                .store
                .read(&input.bucket, |b| Ok(b.copy_if_match_unsupported))?
        {
            return Err(s3_error!(
                NotImplemented,
                "A header you provided implies functionality that is not implemented"
            ));
        }
        let src = bucket_key(&input.copy_source)?;
        let conditions = self.copy_source_conditions(
            &input.bucket,
            Conditions {
                if_match: input.copy_source_if_match.as_ref(),
                if_none_match: input.copy_source_if_none_match.as_ref(),
                if_modified_since: input.copy_source_if_modified_since.as_ref(),
                if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
            },
        )?;
        let same_bucket = src.0 == input.bucket;
        // Across buckets the source is read first; within one bucket everything happens under
        // its lock, so a concurrent writer cannot slip between the checks and the write.
        let foreign = if same_bucket {
            None
        } else {
            Some(self.fetch_source(None, src, &conditions)?)
        };
        let (stored, source_version) = self.store.write(&input.bucket, |b| {
            let source = match &foreign {
                Some(s) => s.clone(),
                None => self.fetch_source(Some(b), src, &conditions)?,
            };
            check_customer_key(
                &source,
                input.copy_source_sse_customer_key.as_deref(),
                input.copy_source_sse_customer_key_md5.as_deref(),
            )?;
            let current = b.live(&input.key);
            let to_itself = same_bucket
                && src.1 == input.key
                && current.is_some_and(|c| c.version_id == source.version_id);
            if to_itself {
                copy::check_self_copy(&source, &attrs, metadata)?;
            }
            check_write_conditions(current, dest_if_match.as_ref(), dest_if_none_match.as_ref())?;
            let source_version = source.version_id.clone();
            let obj = copy::copied_object(&source, attrs, metadata, tagging);
            Ok((b.insert(&input.key, obj), source_version))
        })?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(stored.etag_value().to_owned())),
                last_modified: Some(timestamp(stored.last_modified)),
                ..CopyObjectResult::default()
            }),
            copy_source_version_id: source_version,
            version_id: stored.version_id.clone(),
            server_side_encryption: stored
                .server_side_encryption
                .clone()
                .map(ServerSideEncryption::from),
            ssekms_key_id: stored.ssekms_key_id.clone(),
            bucket_key_enabled: stored.bucket_key_enabled,
            sse_customer_algorithm: stored.sse_customer_algorithm.clone(),
            sse_customer_key_md5: stored.sse_customer_key_md5.clone(),
            ..CopyObjectOutput::default()
        }))
    }

    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let input = &req.input;
        let (owner, grants) = self.store.read(&input.bucket, |b| {
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

    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let input = &req.input;
        ownership::check_put_acl(self.acl_mode(&input.bucket)?)?;
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
        self.store.write(&input.bucket, |b| {
            b.lookup_mut(&input.key, input.version_id.as_deref())?
                .grants = grants;
            Ok(())
        })?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let input = &req.input;
        let (tags, version_id) = self.store.read(&input.bucket, |b| {
            b.lookup(&input.key, input.version_id.as_deref())
                .map(|o| (o.tags.clone(), o.version_id.clone()))
                .map_err(missing_error)
        })?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: headers::tags_to_dto(&tags),
            version_id,
        }))
    }

    async fn put_object_tagging(
        &self,
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
        let version_id = self.store.write(&input.bucket, |b| {
            let obj = b.lookup_mut(&input.key, input.version_id.as_deref())?;
            obj.tags = tags;
            Ok(obj.version_id.clone())
        })?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let input = &req.input;
        let version_id = self.store.write(&input.bucket, |b| {
            let obj = b.lookup_mut(&input.key, input.version_id.as_deref())?;
            obj.tags.clear();
            Ok(obj.version_id.clone())
        })?;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        // The multipart path's counterpart of CopyObject's hook (see `copy_object`).
        self.handle
            .run_hook(HookPoint::Copy, &req.input.bucket, &req.input.key);
        let mut attrs = request_attrs!(req.input, &req.headers);
        let input = &req.input;
        attrs.resolve_acl(self.acl_mode(&input.bucket)?)?;
        let upload_id = store::new_version_id();
        let template = attrs.into_object(Bytes::new());
        let upload = Upload {
            key: input.key.clone(),
            initiated: store::now(),
            template: template.clone(),
            parts: Default::default(),
        };
        self.store.write(&input.bucket, |b| {
            b.uploads.insert(upload_id.clone(), upload);
            Ok(())
        })?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            upload_id: Some(upload_id),
            server_side_encryption: template
                .server_side_encryption
                .map(ServerSideEncryption::from),
            ssekms_key_id: template.ssekms_key_id,
            bucket_key_enabled: template.bucket_key_enabled,
            sse_customer_algorithm: template.sse_customer_algorithm,
            sse_customer_key_md5: template.sse_customer_key_md5,
            ..CreateMultipartUploadOutput::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        check_part_number(input.part_number)?;
        let body = read_body(input.body).await?;
        let part = Part {
            etag: store::md5_etag(&body),
            body,
            last_modified: store::now(),
        };
        let etag = part.etag.clone();
        self.store.write(&input.bucket, |b| {
            open_upload(b, &input.upload_id, &input.key)?
                .parts
                .insert(input.part_number, part);
            Ok(())
        })?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag.trim_matches('"').to_owned())),
            ..UploadPartOutput::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = &req.input;
        check_part_number(input.part_number)?;
        let src = bucket_key(&input.copy_source)?;
        let conditions = self.copy_source_conditions(
            &input.bucket,
            Conditions {
                if_match: input.copy_source_if_match.as_ref(),
                if_none_match: input.copy_source_if_none_match.as_ref(),
                if_modified_since: input.copy_source_if_modified_since.as_ref(),
                if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
            },
        )?;
        let source = self.fetch_source(None, src, &conditions)?;
        check_customer_key(
            &source,
            input.copy_source_sse_customer_key.as_deref(),
            input.copy_source_sse_customer_key_md5.as_deref(),
        )?;
        let body = match &input.copy_source_range {
            Some(range) => source
                .body
                .slice(multipart::parse_copy_range(range, source.body.len())?),
            None => source.body.clone(),
        };
        let part = Part {
            etag: store::md5_etag(&body),
            body,
            last_modified: store::now(),
        };
        let result = CopyPartResult {
            e_tag: Some(ETag::Strong(part.etag.trim_matches('"').to_owned())),
            last_modified: Some(timestamp(part.last_modified)),
            ..CopyPartResult::default()
        };
        self.store.write(&input.bucket, |b| {
            open_upload(b, &input.upload_id, &input.key)?
                .parts
                .insert(input.part_number, part);
            Ok(())
        })?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(result),
            copy_source_version_id: source.version_id,
            ..UploadPartCopyOutput::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = &req.input;
        let listed: Vec<(i32, Option<String>)> = input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.as_ref())
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p.part_number.unwrap_or(0),
                    p.e_tag.as_ref().map(|e| e.value().to_owned()),
                )
            })
            .collect();
        // s3s models these on CompleteMultipartUpload; the raw headers are a fallback should a
        // client's spelling not reach the input.
        let if_match = match &input.if_match {
            Some(c) => Some(c.clone()),
            None => etag_condition_header(&req.headers, "if-match")?,
        };
        let if_none_match = match &input.if_none_match {
            Some(c) => Some(c.clone()),
            None => etag_condition_header(&req.headers, "if-none-match")?,
        };
        let stored = self.store.write(&input.bucket, |b| {
            let obj = multipart::assemble(open_upload(b, &input.upload_id, &input.key)?, &listed)?;
            check_write_conditions(
                b.live(&input.key),
                if_match.as_ref(),
                if_none_match.as_ref(),
            )?;
            b.uploads.remove(&input.upload_id);
            let obj = StoredObject {
                last_modified: store::now(),
                ..obj
            };
            Ok(b.insert(&input.key, obj))
        })?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(ETag::Strong(stored.etag_value().to_owned())),
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            version_id: stored.version_id.clone(),
            server_side_encryption: stored
                .server_side_encryption
                .clone()
                .map(ServerSideEncryption::from),
            ssekms_key_id: stored.ssekms_key_id.clone(),
            bucket_key_enabled: stored.bucket_key_enabled,
            ..CompleteMultipartUploadOutput::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = &req.input;
        self.store.write(&input.bucket, |b| {
            open_upload(b, &input.upload_id, &input.key)?;
            b.uploads.remove(&input.upload_id);
            Ok(())
        })?;
        Ok(S3Response::with_status(
            AbortMultipartUploadOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = &req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut uploads: Vec<MultipartUpload> = self.store.read(&input.bucket, |b| {
            Ok(b.uploads
                .iter()
                .filter(|(_, u)| u.key.starts_with(&prefix))
                .map(|(id, u)| MultipartUpload {
                    initiated: Some(timestamp(u.initiated)),
                    initiator: Some(Initiator {
                        display_name: Some(acl::LAB_OWNER_NAME.to_owned()),
                        id: Some(acl::LAB_OWNER_ID.to_owned()),
                    }),
                    key: Some(u.key.clone()),
                    owner: Some(acl::owner_dto()),
                    storage_class: Some(StorageClass::from(
                        u.template.storage_class_or_standard().to_owned(),
                    )),
                    upload_id: Some(id.clone()),
                    ..MultipartUpload::default()
                })
                .collect())
        })?;
        uploads.sort_by(|a, b| (&a.key, &a.initiated).cmp(&(&b.key, &b.initiated)));
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket.clone()),
            prefix: Some(prefix),
            is_truncated: Some(false),
            max_uploads: Some(1000),
            uploads: Some(uploads),
            ..ListMultipartUploadsOutput::default()
        }))
    }
}

fn check_part_number(n: i32) -> S3Result<()> {
    if (1..=10_000).contains(&n) {
        Ok(())
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ))
    }
}

fn open_upload<'b>(
    bucket: &'b mut store::Bucket,
    upload_id: &str,
    key: &str,
) -> S3Result<&'b mut Upload> {
    bucket
        .uploads
        .get_mut(upload_id)
        .filter(|u| u.key == key)
        .ok_or_else(|| {
            s3_error!(
                NoSuchUpload,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
            )
        })
}

/// How a listing writes keys and prefixes: URL-encoded for `encoding-type=url`, else as they are.
fn key_encoder(encoding: Option<&EncodingType>) -> S3Result<fn(&str) -> String> {
    match encoding.map(EncodingType::as_str) {
        None => Ok(str::to_owned),
        Some("url") => Ok(listing::url_encode),
        Some(other) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request: {other}"
        )),
    }
}

/// Continuation tokens are the hex of the resume marker: opaque to clients, safe in a query.
fn encode_token(marker: &str) -> String {
    hex::encode(marker.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    hex::decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}
