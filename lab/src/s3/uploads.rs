//! The multipart operations: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload and ListMultipartUploads.
//!
//! An open upload keeps the attributes CreateMultipartUpload was sent as a template, and
//! CompleteMultipartUpload stores them with the assembled body (see `multipart.rs`).

use bytes::Bytes;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use super::copies::bucket_key;
use super::{check_customer_key, read_body, timestamp, LabS3};
use crate::acl;
use crate::checksum::{self, Checksum};
use crate::headers::{check_write_conditions, etag_condition_header, request_attrs, Conditions};
use crate::model::StoredObject;
use crate::multipart::{self, Part, Upload};
use crate::store;

pub(super) async fn create_multipart_upload(
    lab: &LabS3,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    // The multipart path's counterpart of CopyObject's hook (see `copy_object`).
    #[cfg(feature = "testing")]
    lab.handle.run_hook(
        crate::hooks::HookPoint::Copy,
        &req.input.bucket,
        &req.input.key,
    );
    let mut attrs = request_attrs!(req.input, &req.headers);
    let input = &req.input;
    attrs.resolve_acl(lab.acl_mode(&input.bucket)?)?;
    let upload_id = store::new_version_id();
    let mut template = attrs.into_object(Bytes::new());
    // The checksum the upload asked for; the value comes when it completes.
    template.checksum = input.checksum_algorithm.as_ref().map(|a| Checksum {
        algorithm: a.as_str().to_owned(),
        kind: match (
            a.as_str(),
            input.checksum_type.as_ref().map(ChecksumType::as_str),
        ) {
            (_, Some(kind)) => kind.to_owned(),
            ("CRC64NVME", None) => "FULL_OBJECT".to_owned(),
            _ => "COMPOSITE".to_owned(),
        },
        value: String::new(),
    });
    let upload = Upload {
        key: input.key.clone(),
        initiated: store::now(),
        template: template.clone(),
        parts: Default::default(),
    };
    lab.store.write(&input.bucket, |b| {
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

pub(super) async fn upload_part(
    lab: &LabS3,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let input = req.input;
    check_part_number(input.part_number)?;
    let body = read_body(input.body).await?;
    let part = Part {
        etag: store::md5_etag(&body),
        checksum: upload_digest(lab, &input.bucket, &input.upload_id, &body)?,
        body,
        last_modified: store::now(),
    };
    let etag = part.etag.clone();
    lab.store.write(&input.bucket, |b| {
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

pub(super) async fn upload_part_copy(
    lab: &LabS3,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let input = &req.input;
    check_part_number(input.part_number)?;
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
    let source = lab.fetch_source(None, src, &conditions)?;
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
        checksum: upload_digest(lab, &input.bucket, &input.upload_id, &body)?,
        body,
        last_modified: store::now(),
    };
    let mut result = CopyPartResult {
        e_tag: Some(ETag::Strong(part.etag.trim_matches('"').to_owned())),
        last_modified: Some(timestamp(part.last_modified)),
        ..CopyPartResult::default()
    };
    // As S3: the part's checksum under the upload's algorithm.
    if let Some(digest) = &part.checksum {
        let value = Some(aws_smithy_types::base64::encode(digest));
        match upload_algorithm(lab, &input.bucket, &input.upload_id)?.as_deref() {
            Some("CRC32") => result.checksum_crc32 = value,
            Some("CRC32C") => result.checksum_crc32c = value,
            Some("CRC64NVME") => result.checksum_crc64nvme = value,
            Some("SHA1") => result.checksum_sha1 = value,
            _ => result.checksum_sha256 = value,
        }
    }
    lab.store.write(&input.bucket, |b| {
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

pub(super) async fn complete_multipart_upload(
    lab: &LabS3,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = &req.input;
    let listed: Vec<multipart::Listed> = input
        .multipart_upload
        .as_ref()
        .and_then(|m| m.parts.as_ref())
        .into_iter()
        .flatten()
        .map(|p| {
            let checksum = [
                &p.checksum_crc32,
                &p.checksum_crc32c,
                &p.checksum_crc64nvme,
                &p.checksum_sha1,
                &p.checksum_sha256,
            ]
            .into_iter()
            .find_map(Clone::clone);
            (
                p.part_number.unwrap_or(0),
                p.e_tag.as_ref().map(|e| e.value().to_owned()),
                checksum,
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
    let stored = lab.store.write(&input.bucket, |b| {
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

pub(super) async fn abort_multipart_upload(
    lab: &LabS3,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = &req.input;
    lab.store.write(&input.bucket, |b| {
        open_upload(b, &input.upload_id, &input.key)?;
        b.uploads.remove(&input.upload_id);
        Ok(())
    })?;
    Ok(S3Response::with_status(
        AbortMultipartUploadOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub(super) async fn list_multipart_uploads(
    lab: &LabS3,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let input = &req.input;
    let prefix = input.prefix.clone().unwrap_or_default();
    let mut uploads: Vec<MultipartUpload> = lab.store.read(&input.bucket, |b| {
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

/// The checksum algorithm an open upload was created with.
fn upload_algorithm(lab: &LabS3, bucket: &str, upload_id: &str) -> S3Result<Option<String>> {
    lab.store.read(bucket, |b| {
        Ok(b.uploads
            .get(upload_id)
            .and_then(|u| u.template.checksum.as_ref())
            .map(|c| c.algorithm.clone()))
    })
}

/// A part's raw digest under its upload's checksum algorithm, if the upload has one.
fn upload_digest(
    lab: &LabS3,
    bucket: &str,
    upload_id: &str,
    body: &[u8],
) -> S3Result<Option<Vec<u8>>> {
    let algorithm = upload_algorithm(lab, bucket, upload_id)?;
    Ok(algorithm.and_then(|a| checksum::digest(&a, body)))
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
