//! The sniff's ranged GetObject around the SDK's pipeline: the first bytes of an object whose
//! findings depend on them, as [`crate::s3::read::body_start`] reads them through the SDK. An
//! all-bad bucket sniffs every object, so this is one of the five requests a repaired object
//! costs there (README, "Performance").

use std::borrow::Cow;

use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use percent_encoding::utf8_percent_encode;

use super::acl::QUERY;
use super::template::Template;
use super::{object_url, Attempt, Heads};
use crate::model::S3Failure;
use crate::s3::read::body_start_with;

impl Heads {
    /// The first `n` bytes of a version of `key` (the current one if `None`): fewer if it is
    /// shorter, none if it is empty.
    pub(crate) async fn body_start(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        n: u64,
    ) -> Result<Vec<u8>, S3Failure> {
        let client = &self.0.client;
        let sdk = |attempts| -> BoxFuture<'_, Result<Vec<u8>, S3Failure>> {
            Box::pin(body_start_with(
                client, bucket, key, version_id, n, attempts,
            ))
        };
        let Some((template, connector)) = self.ready(bucket) else {
            return sdk(None).await;
        };
        let attempt = self.get_attempt(template, connector, key, version_id, n);
        self.around(attempt, false, sdk).await
    }

    async fn get_attempt(
        &self,
        template: &Template,
        connector: &SharedHttpConnector,
        key: &str,
        version_id: Option<&str>,
        n: u64,
    ) -> Attempt<Vec<u8>> {
        let uri = get_url(template, key, version_id);
        let range = range(n);
        let headers = [(Cow::Borrowed("range"), Cow::Borrowed(range.as_str()))];
        let conventions = &self.0.conventions.get;
        let Some(request) = self
            .signed(template, "GET", &uri, conventions, &headers)
            .await
        else {
            return Attempt::Unsent;
        };
        let limit = usize::try_from(n).unwrap_or(usize::MAX);
        let exchange = async {
            let response = connector.call(request).await.ok()?;
            let status = response.status().as_u16();
            if !matches!(status, 200 | 206) {
                return Some(Err(status));
            }
            // At most `n` bytes, even from a server that ignores the range: the rest is dropped
            // with the connection, as the SDK's reader drops it.
            let mut body = response.into_body();
            let mut start = Vec::new();
            while start.len() < limit {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(chunk) = frame.into_data() {
                            let take = chunk.len().min(limit - start.len());
                            start.extend_from_slice(&chunk[..take]);
                        }
                    }
                    Some(Err(_)) => return None,
                    None => break,
                }
            }
            Some(Ok(start))
        };
        match tokio::time::timeout(self.0.attempt_timeout, exchange).await {
            Ok(Some(Ok(start))) => Attempt::Answered(start),
            // A range on an empty object: `read::body_start` answers no bytes, whatever the body.
            Ok(Some(Err(416))) => Attempt::Answered(Vec::new()),
            Ok(Some(Err(status))) => Attempt::Failed(Some(status)),
            Ok(None) | Err(_) => Attempt::Failed(None),
        }
    }
}

/// The `Range` header of the first `n` bytes, as `read::body_start` sends it.
pub(super) fn range(n: u64) -> String {
    format!("bytes=0-{}", n.saturating_sub(1))
}

/// The URL of a GetObject of a version, as the SDK writes it.
pub(super) fn get_url(template: &Template, key: &str, version_id: Option<&str>) -> String {
    let mut uri = object_url(template, key);
    uri.push_str("?x-id=GetObject");
    if let Some(version) = version_id {
        uri.push_str("&versionId=");
        uri.extend(utf8_percent_encode(version, QUERY));
    }
    uri
}
