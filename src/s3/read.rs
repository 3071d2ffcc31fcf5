//! Reading an object's first bytes (the sniff): one ranged GetObject, of which at most the
//! asked-for bytes are read even from a server that ignores the range; and the newest versions of
//! one key, to check what a versioned repair landed on.

use aws_sdk_s3::Client;

use crate::model::{ObjectVersion, S3Failure};

/// How many versions of a key [`newest_versions`] asks for: the repair's own, the one it copied,
/// and room for a few written in between.
const NEWEST: i32 = 20;

/// The newest versions (and delete markers) of exactly `key`, newest first: one
/// ListObjectVersions page of at most [`NEWEST`] entries under the prefix `key`, the other keys
/// it starts left out.
pub async fn newest_versions(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<ObjectVersion>, S3Failure> {
    let out = client
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .max_keys(NEWEST)
        .send()
        .await
        .map_err(|e| S3Failure::from_sdk(&e))?;
    let versions = out.versions().iter().filter(|v| v.key() == Some(key));
    let versions = versions.map(|v| {
        let at = v.last_modified().map(|d| (d.secs(), d.subsec_nanos()));
        let entry = ObjectVersion {
            version_id: v.version_id().unwrap_or("null").to_owned(),
            etag: v.e_tag().map(str::to_owned),
            delete_marker: false,
        };
        (at, v.is_latest(), entry)
    });
    let markers = out.delete_markers().iter().filter(|m| m.key() == Some(key));
    let markers = markers.map(|m| {
        let at = m.last_modified().map(|d| (d.secs(), d.subsec_nanos()));
        let entry = ObjectVersion {
            version_id: m.version_id().unwrap_or("null").to_owned(),
            etag: None,
            delete_marker: true,
        };
        (at, m.is_latest(), entry)
    });
    // S3 lists versions and delete markers in two lists: merged newest first, the latest on
    // top, and a stable sort keeps S3's own order between entries of the same instant.
    let mut all: Vec<_> = versions.chain(markers).collect();
    all.sort_by_key(|&(at, latest, _)| std::cmp::Reverse((latest == Some(true), at)));
    Ok(all.into_iter().map(|(_, _, entry)| entry).collect())
}

/// The first `n` bytes of a version of `key` (the current one if `None`); fewer if the object is
/// shorter, none if it is empty (S3 answers a range on an empty object 416 InvalidRange).
pub async fn body_start(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    n: u64,
) -> Result<Vec<u8>, S3Failure> {
    body_start_with(client, bucket, key, version_id, n, None).await
}

/// [`body_start`] with `attempts` instead of the client's (after an attempt around the SDK,
/// `fast_head/get.rs`, which sends the same request).
pub(super) async fn body_start_with(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    n: u64,
    attempts: Option<u32>,
) -> Result<Vec<u8>, S3Failure> {
    let request = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .range(format!("bytes=0-{}", n.saturating_sub(1)));
    let answer = match attempts {
        None => request.send().await,
        Some(n) => {
            let retry = super::client::retry_with(client, n);
            request
                .customize()
                .config_override(aws_sdk_s3::config::Builder::default().retry_config(retry))
                .send()
                .await
        }
    };
    let out = match answer {
        Ok(out) => out,
        Err(err) => {
            let failure = S3Failure::from_sdk(&err);
            if failure.http_status == Some(416) {
                return Ok(Vec::new());
            }
            return Err(failure);
        }
    };
    let limit = usize::try_from(n).unwrap_or(usize::MAX);
    let mut body = out.body;
    let mut start = Vec::new();
    while start.len() < limit {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                start.extend_from_slice(&chunk[..chunk.len().min(limit - start.len())])
            }
            Ok(None) => break,
            Err(e) => {
                return Err(S3Failure {
                    code: "NetworkError".into(),
                    message: super::error::chain(&e),
                    http_status: None,
                })
            }
        }
    }
    Ok(start)
}

/// The body of a whole object, read chunk by chunk as it arrives (an inventory's data file).
pub struct Body {
    stream: aws_sdk_s3::primitives::ByteStream,
}

impl Body {
    /// The next chunk, `None` at the end; a connection lost midway is a failure.
    pub async fn next(&mut self) -> Option<Result<bytes::Bytes, S3Failure>> {
        match self.stream.try_next().await {
            Ok(Some(chunk)) => Some(Ok(chunk)),
            Ok(None) => None,
            Err(e) => Some(Err(S3Failure {
                code: "NetworkError".into(),
                message: super::error::chain(&e),
                http_status: None,
            })),
        }
    }
}

/// A GetObject of the whole of `key`, its body not yet read.
pub async fn object(client: &Client, bucket: &str, key: &str) -> Result<Body, S3Failure> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| S3Failure::from_sdk(&e))?;
    Ok(Body { stream: out.body })
}

/// All of `key`, if it has at most `max` bytes (a manifest).
pub async fn whole_object(
    client: &Client,
    bucket: &str,
    key: &str,
    max: usize,
) -> Result<Vec<u8>, S3Failure> {
    let mut body = object(client, bucket, key).await?;
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await {
        all.extend_from_slice(&chunk?);
        if all.len() > max {
            return Err(S3Failure {
                code: "TooLarge".into(),
                message: format!("s3://{bucket}/{key} is larger than {max} bytes"),
                http_status: None,
            });
        }
    }
    Ok(all)
}
