//! HeadObject through the SDK, into the model's [`ObjectHead`].

use aws_sdk_s3::client::customize::CustomizableOperation;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder;
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::types::ChecksumMode;

use crate::model::{ObjectHead, S3Failure, DELETE_MARKER};

/// HEADs the current version of `key`.
pub async fn head_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<ObjectHead, S3Failure> {
    outcome(
        key,
        client.head_object().bucket(bucket).key(key).send().await,
    )
}

/// HEADs the current version of `key` in checksum mode, so the additional checksum shows
/// (`docs/s3-behaviour.md` §16): what a repair plans on and verifies with.
pub async fn head_with_checksums(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<ObjectHead, S3Failure> {
    head_object_with(client, bucket, key, true, |op| op.customize()).await
}

/// HEADs one version of `key` (in checksum mode, as a repair's own HEADs are).
pub async fn head_version(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<ObjectHead, S3Failure> {
    let request = client.head_object().bucket(bucket).key(key);
    let request = request.version_id(version_id);
    let sent = request.checksum_mode(ChecksumMode::Enabled).send().await;
    outcome(key, sent).map(|head| ObjectHead {
        checksum_mode: true,
        ..head
    })
}

/// [`head_object`] (or, if `checksums`, [`head_with_checksums`]) with the operation customized
/// (an interceptor, a config override).
pub(super) async fn head_object_with(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    checksums: bool,
    customize: impl FnOnce(
        HeadObjectFluentBuilder,
    ) -> CustomizableOperation<
        HeadObjectOutput,
        HeadObjectError,
        HeadObjectFluentBuilder,
    >,
) -> Result<ObjectHead, S3Failure> {
    let request = client.head_object().bucket(bucket).key(key);
    let request = if checksums {
        request.checksum_mode(ChecksumMode::Enabled)
    } else {
        request
    };
    outcome(key, customize(request).send().await).map(|head| ObjectHead {
        checksum_mode: checksums,
        ..head
    })
}

fn outcome(
    key: &str,
    result: Result<HeadObjectOutput, SdkError<HeadObjectError, HttpResponse>>,
) -> Result<ObjectHead, S3Failure> {
    match result {
        Ok(out) => Ok(ObjectHead::from_sdk(key, &out)),
        Err(err) => {
            let mut failure = S3Failure::from_sdk(&err);
            // In a versioned bucket a deleted key answers 404 with this header: the object was
            // deleted, not lost.
            let marker = err
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-delete-marker"))
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if marker {
                failure.code = DELETE_MARKER.to_owned();
                failure.message = "the current version is a delete marker".to_owned();
            }
            Err(failure)
        }
    }
}

impl ObjectHead {
    /// The snapshot of an SDK answer. A struct literal on purpose: a field added to
    /// [`ObjectHead`] does not compile until it is read here.
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
            last_modified: out.last_modified().map(|d| d.to_string()),
            checksum_crc32: owned(out.checksum_crc32()),
            checksum_crc32c: owned(out.checksum_crc32_c()),
            checksum_crc64nvme: owned(out.checksum_crc64_nvme()),
            checksum_sha1: owned(out.checksum_sha1()),
            checksum_sha256: owned(out.checksum_sha256()),
            checksum_type: out.checksum_type().map(|t| t.as_str().to_owned()),
            checksum_mode: false,
        }
    }
}
