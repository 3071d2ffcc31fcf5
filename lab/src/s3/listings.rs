//! The listings: ListObjectsV2, ListObjects (v1) and ListObjectVersions, and what they share:
//! `encoding-type=url`, `max-keys` and the continuation token.
//!
//! The pages themselves come from `listing.rs`; this turns requests into page queries and pages
//! into DTOs.

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

use super::{timestamp, LabS3};
use crate::acl;
use crate::listing;

pub(super) async fn list_objects_v2(
    lab: &LabS3,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = &req.input;
    let enc = key_encoder(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let after = match &input.continuation_token {
        Some(token) => Some(decode_token(token)?),
        None => input.start_after.clone(),
    };
    #[cfg(feature = "testing")]
    let after = crate::damage::resume_after(&req.extensions, after);
    let max = max_keys(input.max_keys);
    let page = lab.store.read(&input.bucket, |b| {
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
    let output = ListObjectsV2Output {
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
    };
    #[cfg(feature = "testing")]
    let output = crate::damage::damage_page(&req.extensions, output, &prefix, encode_token);
    Ok(S3Response::new(output))
}

/// The original ListObjects (v1), which s3cmd and rclone (for S3-compatible providers) use:
/// the same pages as v2, resumed from a plain `marker` instead of a token.
pub(super) async fn list_objects(
    lab: &LabS3,
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
    let page = lab.store.read(&input.bucket, |b| {
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

pub(super) async fn list_object_versions(
    lab: &LabS3,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let input = &req.input;
    let enc = key_encoder(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let max = max_keys(input.max_keys);
    let page = lab.store.read(&input.bucket, |b| {
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
