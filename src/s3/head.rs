//! Owned snapshots of what S3 told us about an object, so rules and plans are pure functions over
//! plain data and can be built by hand in tests.

use std::collections::BTreeMap;

use aws_sdk_s3::client::customize::CustomizableOperation;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder;
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use serde::{Deserialize, Serialize};

/// One entry of a bucket listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: i64,
    pub etag: Option<String>,
}

/// Everything HeadObject returns that matters for detecting and repairing metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectHead {
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub content_length: Option<i64>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    /// The raw Expires header: it may not parse as a date, and must survive a repair anyway.
    pub expires: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Number of user metadata entries S3 could not return in headers.
    pub missing_meta: Option<i32>,
    /// `None` means STANDARD: S3 omits the header for it.
    pub storage_class: Option<String>,
    pub archive_status: Option<String>,
    pub restore: Option<String>,
    pub website_redirect_location: Option<String>,
    pub server_side_encryption: Option<String>,
    pub ssekms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub sse_customer_algorithm: Option<String>,
    pub object_lock_mode: Option<String>,
    pub object_lock_retain_until_date: Option<String>,
    pub object_lock_legal_hold_status: Option<String>,
    pub tag_count: Option<i32>,
    pub parts_count: Option<i32>,
}

/// HEADs the current version of `key`.
pub async fn head_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<ObjectHead, super::S3Failure> {
    outcome(
        key,
        client.head_object().bucket(bucket).key(key).send().await,
    )
}

/// [`head_object`] with the operation customized (an interceptor, a config override).
pub(super) async fn head_object_with(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    customize: impl FnOnce(
        HeadObjectFluentBuilder,
    ) -> CustomizableOperation<
        HeadObjectOutput,
        HeadObjectError,
        HeadObjectFluentBuilder,
    >,
) -> Result<ObjectHead, super::S3Failure> {
    let op = customize(client.head_object().bucket(bucket).key(key));
    outcome(key, op.send().await)
}

fn outcome(
    key: &str,
    result: Result<HeadObjectOutput, SdkError<HeadObjectError, HttpResponse>>,
) -> Result<ObjectHead, super::S3Failure> {
    match result {
        Ok(out) => Ok(ObjectHead::from_sdk(key, &out)),
        Err(err) => {
            let mut failure = super::S3Failure::from_sdk(&err);
            // In a versioned bucket a deleted key answers 404 with this header: the object was
            // deleted, not lost.
            let marker = err
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-delete-marker"))
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if marker {
                failure.code = super::error::DELETE_MARKER.to_owned();
                failure.message = "the current version is a delete marker".to_owned();
            }
            Err(failure)
        }
    }
}

impl ObjectHead {
    /// An object with only its key known; tests fill in the rest.
    pub fn new(key: impl Into<String>) -> Self {
        ObjectHead {
            key: key.into(),
            ..ObjectHead::default()
        }
    }

    pub fn from_sdk(key: &str, out: &HeadObjectOutput) -> Self {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        ObjectHead {
            key: key.to_owned(),
            version_id: owned(out.version_id()),
            etag: owned(out.e_tag()),
            content_length: out.content_length(),
            content_type: owned(out.content_type()),
            content_encoding: owned(out.content_encoding()),
            cache_control: owned(out.cache_control()),
            content_disposition: owned(out.content_disposition()),
            content_language: owned(out.content_language()),
            expires: owned(out.expires_string()),
            metadata: out
                .metadata()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            missing_meta: out.missing_meta(),
            storage_class: out.storage_class().map(|s| s.as_str().to_owned()),
            archive_status: out.archive_status().map(|s| s.as_str().to_owned()),
            restore: owned(out.restore()),
            website_redirect_location: owned(out.website_redirect_location()),
            server_side_encryption: out.server_side_encryption().map(|s| s.as_str().to_owned()),
            ssekms_key_id: owned(out.ssekms_key_id()),
            bucket_key_enabled: out.bucket_key_enabled(),
            sse_customer_algorithm: owned(out.sse_customer_algorithm()),
            object_lock_mode: out.object_lock_mode().map(|s| s.as_str().to_owned()),
            object_lock_retain_until_date: out
                .object_lock_retain_until_date()
                .map(|d| d.to_string()),
            object_lock_legal_hold_status: out
                .object_lock_legal_hold_status()
                .map(|s| s.as_str().to_owned()),
            tag_count: out.tag_count(),
            parts_count: out.parts_count(),
        }
    }
}
