//! The single-object operations: PutObject, HeadObject, GetObject (with ranges) and
//! DeleteObject.
//!
//! HEAD and GET read through one helper, so both answer a missing key, a delete marker, a missing
//! SSE-C key and failed conditions the same way.

use http::HeaderMap;
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result};

use super::{check_customer_key, missing_error, read_body, LabS3};
use crate::headers::{
    self, check_write_conditions, object_headers, request_attrs, ConditionFailure, Conditions,
};
use crate::model::StoredObject;

pub(super) async fn put_object(
    lab: &LabS3,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let mut attrs = request_attrs!(req.input, &req.headers);
    let input = req.input;
    attrs.resolve_acl(lab.acl_mode(&input.bucket)?)?;
    let body = read_body(input.body).await?;
    let obj = attrs.into_object(body);
    let stored = lab.store.write(&input.bucket, |b| {
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

pub(super) async fn head_object(
    lab: &LabS3,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = &req.input;
    #[cfg(feature = "testing")]
    lab.handle
        .run_hook(crate::hooks::HookPoint::Head, &input.bucket, &input.key);
    let obj = lab.readable(
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
    // As S3: the checksum only in checksum mode.
    let mode = input.checksum_mode.as_ref().map(ChecksumMode::as_str);
    if let (Some("ENABLED"), Some(c)) = (mode, &obj.checksum) {
        let value = Some(c.value.clone());
        match c.algorithm.as_str() {
            "CRC32" => out.checksum_crc32 = value,
            "CRC32C" => out.checksum_crc32c = value,
            "CRC64NVME" => out.checksum_crc64nvme = value,
            "SHA1" => out.checksum_sha1 = value,
            _ => out.checksum_sha256 = value,
        }
        out.checksum_type = Some(ChecksumType::from(c.kind.clone()));
    }
    Ok(with_headers(out, extra))
}

pub(super) async fn get_object(
    lab: &LabS3,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = &req.input;
    let obj = lab.readable(
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
    // An archived object's bytes are in cold storage: S3 answers 403 until it is restored (the
    // lab models no restore).
    if matches!(
        obj.storage_class.as_deref(),
        Some("GLACIER" | "DEEP_ARCHIVE")
    ) {
        return Err(s3_error!(
            InvalidObjectState,
            "The operation is not valid for the object's storage class"
        ));
    }
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

pub(super) async fn delete_object(
    lab: &LabS3,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = &req.input;
    let removed = lab.store.write(&input.bucket, |b| {
        // A conditional delete (S3, since 2025) is evaluated on the current version only.
        if input.version_id.is_none() {
            check_write_conditions(b.live(&input.key), input.if_match.as_ref(), None)?;
        }
        Ok(b.delete(&input.key, input.version_id.as_deref()))
    })?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: removed.delete_marker.then_some(true),
        version_id: removed.version_id,
        ..DeleteObjectOutput::default()
    }))
}

impl LabS3 {
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
