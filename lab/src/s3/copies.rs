//! CopyObject, and reading a copy source (which UploadPartCopy in `uploads.rs` shares).
//!
//! What the new object keeps from its source is decided in `copy.rs`; this is the request side:
//! the directives, the copy-source and destination conditions, and the bucket lock that makes a
//! copy within one bucket atomic against a concurrent writer.

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use super::{check_customer_key, missing_error, timestamp, LabS3};
use crate::copy::{self, Directive};
use crate::headers::{check_write_conditions, etag_condition_header, request_attrs, Conditions};
use crate::model::StoredObject;
use crate::store::{self, Missing};

pub(super) async fn copy_object(
    lab: &LabS3,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    // A test's concurrent writer gets in here, before anything about the request is checked.
    #[cfg(feature = "testing")]
    lab.handle.run_hook(
        crate::hooks::HookPoint::Copy,
        &req.input.bucket,
        &req.input.key,
    );
    let mut attrs = request_attrs!(req.input, &req.headers);
    let input = &req.input;
    attrs.resolve_acl(lab.acl_mode(&input.bucket)?)?;
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
    let keep_annotations = copy::keeps_annotations(
        crate::headers::raw_header(&req.headers, "x-amz-object-annotation-directive").as_deref(),
    )?;
    // A store without annotations refuses the default directive, as a directory bucket does.
    if keep_annotations && lab.annotations_unimplemented(&input.bucket)? {
        return Err(s3_error!(
            NotImplemented,
            "x-amz-object-annotation-directive COPY is not implemented: annotations are not supported here"
        ));
    }
    let dest_if_match = etag_condition_header(&req.headers, "if-match")?;
    let dest_if_none_match = etag_condition_header(&req.headers, "if-none-match")?;
    #[cfg(feature = "testing")]
    if dest_if_match.is_some() {
        lab.store
            .read(&input.bucket, |b| b.quirks.check_copy_if_match())?;
    }
    let src = bucket_key(&input.copy_source)?;
    let conditions = lab.copy_source_conditions(
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
        Some(lab.fetch_source(None, src, &conditions)?)
    };
    let (stored, source_version) = lab.store.write(&input.bucket, |b| {
        let source = match &foreign {
            Some(s) => s.clone(),
            None => lab.fetch_source(Some(b), src, &conditions)?,
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
        let obj = copy::copied_object(&source, attrs, metadata, tagging, keep_annotations);
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

impl LabS3 {
    /// The copy-source conditions of a request into `bucket`, or none where a test made the
    /// bucket ignore them (as moto does). A missing destination bucket is reported here, before
    /// anything about the source.
    pub(super) fn copy_source_conditions<'a>(
        &self,
        bucket: &str,
        sent: Conditions<'a>,
    ) -> S3Result<Conditions<'a>> {
        #[cfg(feature = "testing")]
        if self
            .store
            .read(bucket, |b| Ok(b.quirks.copy_source_conditions_ignored))?
        {
            return Ok(Conditions::default());
        }
        #[cfg(not(feature = "testing"))]
        self.store.read(bucket, |_| Ok(()))?;
        Ok(sent)
    }

    /// Reads the source from its bucket (which may be the destination: then the caller holds
    /// the lock and passes it in).
    pub(super) fn fetch_source(
        &self,
        held: Option<&store::Bucket>,
        src: (&str, &str, Option<&str>),
        conditions: &Conditions<'_>,
    ) -> S3Result<StoredObject> {
        match held {
            Some(bucket) => copy_source(bucket, src.1, src.2, conditions),
            None => self
                .store
                .read(src.0, |b| copy_source(b, src.1, src.2, conditions)),
        }
    }
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

/// A copy source's bucket, key and version id (access points are not supported).
pub(super) fn bucket_key(source: &CopySource) -> S3Result<(&str, &str, Option<&str>)> {
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
