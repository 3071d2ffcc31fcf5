//! Annotations through the SDK (`docs/s3-behaviour.md` §16): what a multipart rewrite, which
//! does not copy them, reads before it completes and puts back after.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::model::{Annotation, S3Failure};

/// Every annotation of a version (the current one if `None`), in the order S3 lists them.
pub async fn list(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Vec<Annotation>, S3Failure> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_object_annotations()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| S3Failure::from_sdk(&e))?;
        all.extend(out.annotations().iter().map(|a| Annotation {
            name: a.annotation_name().to_owned(),
            etag: a.e_tag().map(str::to_owned),
            size: a.size(),
        }));
        match out.next_continuation_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(all),
        }
    }
}

/// One annotation's payload.
pub async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    name: &str,
) -> Result<Vec<u8>, S3Failure> {
    let out = client
        .get_object_annotation()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .annotation_name(name)
        .send()
        .await
        .map_err(|e| S3Failure::from_sdk(&e))?;
    let body = out
        .annotation_payload
        .collect()
        .await
        .map_err(|e| S3Failure {
            code: "NetworkError".into(),
            message: format!("the annotation {name:?} could not be read: {e}"),
            http_status: None,
        })?;
    Ok(body.to_vec())
}

/// Puts one annotation on a version, only while the object's ETag is `if_match`
/// (`x-amz-object-if-match`).
pub async fn put(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    name: &str,
    payload: &[u8],
    if_match: Option<&str>,
) -> Result<(), S3Failure> {
    client
        .put_object_annotation()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .annotation_name(name)
        .annotation_payload(ByteStream::from(payload.to_vec()))
        .set_object_if_match(if_match.map(str::to_owned))
        .send()
        .await
        .map_err(|e| S3Failure::from_sdk(&e))?;
    Ok(())
}
