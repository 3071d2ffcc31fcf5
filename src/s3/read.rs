//! Reading an object's first bytes (the sniff): one ranged GetObject, of which at most the
//! asked-for bytes are read even from a server that ignores the range.

use aws_sdk_s3::Client;

use crate::model::S3Failure;

/// The first `n` bytes of a version of `key` (the current one if `None`); fewer if the object is
/// shorter, none if it is empty (S3 answers a range on an empty object 416 InvalidRange).
pub async fn body_start(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    n: u64,
) -> Result<Vec<u8>, S3Failure> {
    let answer = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .range(format!("bytes=0-{}", n.saturating_sub(1)))
        .send()
        .await;
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
