//! The requests of a repair: reading an object's ACL and tags, and rewriting the object in place
//! with one conditional CopyObject, or a multipart copy above the size limit of CopyObject.
//! What to send is decided by the planner; this file only translates a [`Plan`] into requests.

use aws_sdk_s3::types::{
    AnnotationDirective, ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart,
    MetadataDirective, ObjectCannedAcl, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectOwnership,
    ServerSideEncryption, StorageClass, Type,
};
use std::borrow::Cow;
use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::operation::copy_object::builders::CopyObjectFluentBuilder;
use aws_sdk_s3::Client;
use aws_smithy_types::date_time::Format;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use super::client::retry_with;
use super::store::Parts;
use crate::model::{Grant, ObjectAcl, Rewritten, S3Failure};
use crate::plan::{GrantHeaders, Plan};

/// A planned date as the SDK sends it.
fn sdk_date(at: time::OffsetDateTime) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_nanos(at.unix_timestamp_nanos())
        .expect("every OffsetDateTime is within the SDK's range")
}

/// The slowest server-side copy s3mend waits for, in bytes a second: S3 copies at a few hundred
/// MB/s, so this leaves a wide margin while bounding the wait.
pub(super) const COPY_RATE: u64 = 25 << 20;

/// How long one attempt of a copy of `bytes` may take: the client's attempt timeout
/// (`--attempt-timeout`, the floor, what a small request gets) plus the time the bytes take at
/// [`COPY_RATE`]. A 5 GiB CopyObject gets 30 s + 205 s; a dead server holds an attempt no longer.
fn copy_attempt(client: &Client, bytes: u64) -> Duration {
    let floor = client
        .config()
        .timeout_config()
        .and_then(|t| t.operation_attempt_timeout())
        .unwrap_or_default();
    floor + Duration::from_secs(bytes.div_ceil(COPY_RATE))
}

/// The client's own timeouts but the attempt timeout of a copy of `bytes`: the override replaces
/// the client's whole timeout config, and a connect timeout other than the client's would get a
/// connection pool of its own (see `client::run_connector_settings`).
fn long_attempts(client: &Client, bytes: u64) -> aws_sdk_s3::config::Builder {
    let timeouts = client
        .config()
        .timeout_config()
        .map(TimeoutConfig::to_builder)
        .unwrap_or_default();
    aws_sdk_s3::config::Builder::default().timeout_config(
        timeouts
            .operation_attempt_timeout(copy_attempt(client, bytes))
            .build(),
    )
}

/// Sets every header of a plan on a CopyObject or CreateMultipartUpload builder (they share the
/// setters but not a type).
macro_rules! with_plan_headers {
    ($builder:expr, $plan:expr) => {{
        let h = &$plan.headers;
        let mut b = $builder
            .set_content_type(h.content_type.clone())
            .set_content_encoding(h.content_encoding.clone())
            .set_cache_control(h.cache_control.clone())
            .set_content_disposition(h.content_disposition.clone())
            .set_content_language(h.content_language.clone())
            .set_expires(h.expires.map(sdk_date))
            .set_metadata(Some(h.metadata.clone().into_iter().collect()))
            .set_website_redirect_location(h.website_redirect_location.clone())
            .storage_class(StorageClass::from(h.storage_class.as_str()))
            .set_object_lock_mode(h.object_lock_mode.as_deref().map(ObjectLockMode::from))
            .set_object_lock_retain_until_date(h.object_lock_retain_until_date.map(sdk_date))
            .set_object_lock_legal_hold_status(
                h.object_lock_legal_hold_status
                    .as_deref()
                    .map(ObjectLockLegalHoldStatus::from),
            );
        if let Some(sse) = &h.encryption {
            b = b
                .server_side_encryption(ServerSideEncryption::from(sse.algorithm.as_str()))
                .set_ssekms_key_id(sse.kms_key_id.clone())
                .set_bucket_key_enabled(sse.bucket_key_enabled);
        }
        if let Some(g) = &$plan.grants {
            b = b
                .set_grant_full_control(g.full_control.clone())
                .set_grant_read(g.read.clone())
                .set_grant_read_acp(g.read_acp.clone())
                .set_grant_write_acp(g.write_acp.clone());
        }
        b
    }};
}

/// Rewrites the object with a REPLACE copy onto itself, conditional on the ETag seen at HEAD
/// (source) and, where the server supports it, on the destination's ETag too
/// ([`Plan::destination_etag`]).
///
/// The same request is built twice: here for the SDK, and by [`copy_headers`] for the copy sent
/// around the SDK's pipeline (`fast_head/copy.rs`). A header added to one must be added to the
/// other; `the_fast_copy_sends_every_header_the_sdk_sends` (below) fails otherwise.
pub async fn copy_in_place(
    client: &Client,
    bucket: &str,
    plan: &Plan,
    destination_if_match: bool,
) -> Result<Rewritten, S3Failure> {
    copy_in_place_with(client, bucket, plan, destination_if_match, None).await
}

/// [`copy_in_place`] with `attempts` instead of the client's (after an attempt around the SDK).
pub(super) async fn copy_in_place_with(
    client: &Client,
    bucket: &str,
    plan: &Plan,
    destination_if_match: bool,
    attempts: Option<u32>,
) -> Result<Rewritten, S3Failure> {
    let mut config = long_attempts(client, plan.size);
    if let Some(n) = attempts {
        config = config.retry_config(retry_with(client, n));
    }
    let out = copy_request(client, bucket, plan, destination_if_match)
        .customize()
        .config_override(config)
        .send()
        .await
        .map_err(|e| S3Failure::from_sdk(&e))?;
    Ok(Rewritten {
        version_id: out.version_id().map(str::to_owned),
        etag: out
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .map(str::to_owned),
    })
}

/// The SDK's CopyObject for a plan: see [`copy_headers`] for the same request around the SDK.
pub(super) fn copy_request(
    client: &Client,
    bucket: &str,
    plan: &Plan,
    destination_if_match: bool,
) -> CopyObjectFluentBuilder {
    let request = client
        .copy_object()
        .bucket(bucket)
        .key(&plan.key)
        .copy_source(&plan.copy_source)
        .copy_source_if_match(&plan.if_match)
        .set_if_match(destination_if_match.then(|| plan.destination_etag.clone()))
        .metadata_directive(MetadataDirective::Replace)
        // Absent, the default (COPY) keeps the annotations (docs/s3-behaviour.md §16).
        .set_annotation_directive(
            plan.exclude_annotations
                .then_some(AnnotationDirective::Exclude),
        );
    with_plan_headers!(request, plan)
}

/// A header name and value of a request built here.
pub(super) type Header<'a> = (Cow<'static, str>, Cow<'a, str>);

/// Every header [`copy_request`] makes the SDK send for `plan`, as the SDK writes them (lower-case
/// names, dates in the SDK's formats), but for those the SDK adds to every request (signing,
/// user agent, invocation id) and the conventions (`conventions.rs`). `None` where the SDK could
/// not build the request (a date it cannot write): the SDK is then left to say so.
pub(super) fn copy_headers(plan: &Plan, destination_if_match: bool) -> Option<Vec<Header<'_>>> {
    let h = &plan.headers;
    let mut out: Vec<Header<'_>> = Vec::with_capacity(12 + h.metadata.len());
    let mut put = |name: &'static str, value: Option<&str>| {
        if let Some(value) = value {
            out.push((Cow::Borrowed(name), Cow::Owned(value.to_owned())));
        }
    };
    put("x-amz-copy-source", Some(&plan.copy_source));
    put("x-amz-copy-source-if-match", Some(&plan.if_match));
    put(
        "if-match",
        destination_if_match.then_some(plan.destination_etag.as_str()),
    );
    put("x-amz-metadata-directive", Some("REPLACE"));
    put(
        "x-amz-object-annotation-directive",
        plan.exclude_annotations.then_some("EXCLUDE"),
    );
    put("content-type", h.content_type.as_deref());
    put("content-encoding", h.content_encoding.as_deref());
    put("cache-control", h.cache_control.as_deref());
    put("content-disposition", h.content_disposition.as_deref());
    put("content-language", h.content_language.as_deref());
    put(
        "x-amz-website-redirect-location",
        h.website_redirect_location.as_deref(),
    );
    put("x-amz-storage-class", Some(&h.storage_class));
    put("x-amz-object-lock-mode", h.object_lock_mode.as_deref());
    put(
        "x-amz-object-lock-legal-hold",
        h.object_lock_legal_hold_status.as_deref(),
    );
    if let Some(sse) = &h.encryption {
        put("x-amz-server-side-encryption", Some(&sse.algorithm));
        put(
            "x-amz-server-side-encryption-aws-kms-key-id",
            sse.kms_key_id.as_deref(),
        );
        put(
            "x-amz-server-side-encryption-bucket-key-enabled",
            sse.bucket_key_enabled
                .map(|on| if on { "true" } else { "false" }),
        );
    }
    if let Some(g) = &plan.grants {
        put("x-amz-grant-full-control", g.full_control.as_deref());
        put("x-amz-grant-read", g.read.as_deref());
        put("x-amz-grant-read-acp", g.read_acp.as_deref());
        put("x-amz-grant-write-acp", g.write_acp.as_deref());
    }
    if let Some(at) = h.expires {
        let text = sdk_date(at).fmt(Format::HttpDate).ok()?;
        out.push((Cow::Borrowed("expires"), Cow::Owned(text)));
    }
    if let Some(at) = h.object_lock_retain_until_date {
        let text = sdk_date(at).fmt(Format::DateTime).ok()?;
        out.push((
            Cow::Borrowed("x-amz-object-lock-retain-until-date"),
            Cow::Owned(text),
        ));
    }
    for (name, value) in &h.metadata {
        out.push((
            Cow::Owned(format!("x-amz-meta-{}", name.to_ascii_lowercase())),
            Cow::Borrowed(value.as_str()),
        ));
    }
    Some(out)
}

/// Deletes the current version of `key` (a versioned bucket puts a delete marker on top), only
/// while its ETag is `if_match` where given (a conditional delete, which S3 has since 2025).
pub async fn delete_current(
    client: &Client,
    bucket: &str,
    key: &str,
    if_match: Option<&str>,
) -> Result<(), S3Failure> {
    client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .set_if_match(if_match.map(str::to_owned))
        .send()
        .await
        .map_err(|e| S3Failure::from_sdk(&e))?;
    Ok(())
}

/// Whether the server enforces `x-amz-copy-source-if-match`, the condition that keeps a repair
/// from overwriting a concurrent write. Probed without touching the user's object: a copy of
/// `source` to the temporary key `probe_key`, conditional on an ETag no object has. S3 answers
/// 412 and writes nothing; a server that ignores the condition makes the copy, which is deleted
/// at once (by version id in a versioned bucket, which needs `s3:DeleteObjectVersion`). `Err` when the probe itself failed (e.g. no permission to write `probe_key`).
pub async fn copy_source_condition_enforced(
    client: &Client,
    bucket: &str,
    copy_source: &str,
    probe_key: &str,
    size: u64,
) -> Result<bool, S3Failure> {
    const NO_SUCH_ETAG: &str = "\"00000000000000000000000000000000\"";
    let copied = client
        .copy_object()
        .bucket(bucket)
        .key(probe_key)
        .copy_source(copy_source)
        .copy_source_if_match(NO_SUCH_ETAG)
        // Never the annotations: a copy that happens is deleted at once, and a store without
        // them (a directory bucket) refuses the default directive (docs/s3-behaviour.md §16).
        .annotation_directive(AnnotationDirective::Exclude)
        .customize()
        // A server that ignores the condition copies the whole object.
        .config_override(long_attempts(client, size))
        .send()
        .await;
    match copied {
        Err(e) => {
            let failure = S3Failure::from_sdk(&e);
            if failure.http_status == Some(412) {
                Ok(true)
            } else {
                Err(failure)
            }
        }
        Ok(out) => {
            // By version where there is one: a versioned bucket keeps no trace of the probe.
            client
                .delete_object()
                .bucket(bucket)
                .key(probe_key)
                .set_version_id(out.version_id().map(str::to_owned))
                .send()
                .await
                .map_err(|e| S3Failure::from_sdk(&e))?;
            Ok(false)
        }
    }
}

/// Rewrites an object too large for CopyObject: CreateMultipartUpload with the full header set,
/// grants and tags (there is no tagging directive here), UploadPartCopy per range conditional on
/// the HEAD ETag, CompleteMultipartUpload conditional on the destination. Any failure aborts the
/// upload, so none is ever left open.
pub async fn multipart_in_place(
    client: &Client,
    bucket: &str,
    plan: &Plan,
    parts: &Parts,
    destination_if_match: bool,
) -> Result<Rewritten, S3Failure> {
    // Without the algorithm and type the new object gets S3's default checksum instead of the
    // source's (docs/s3-behaviour.md §16).
    let checksum = plan.checksum.as_ref();
    let create = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(&plan.key)
        .set_tagging(parts.tagging.clone())
        .set_checksum_algorithm(checksum.map(|c| ChecksumAlgorithm::from(c.algorithm.as_str())))
        .set_checksum_type(checksum.map(|c| ChecksumType::from(c.kind.as_str())));
    let upload = with_plan_headers!(create, plan)
        .send()
        .await
        .map_err(|e| S3Failure::from_sdk(&e))?;
    let Some(upload_id) = upload.upload_id().map(str::to_owned) else {
        return Err(S3Failure {
            code: "InvalidResponse".into(),
            message: "CreateMultipartUpload returned no upload id".into(),
            http_status: None,
        });
    };
    let result = copy_parts(
        client,
        bucket,
        plan,
        &upload_id,
        parts,
        destination_if_match,
    )
    .await;
    if result.is_err() {
        let aborted = client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(&plan.key)
            .upload_id(&upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            tracing::error!(key = %plan.key, %upload_id, error = %S3Failure::from_sdk(&e), "could not abort the multipart upload");
        }
    }
    result
}

async fn copy_parts(
    client: &Client,
    bucket: &str,
    plan: &Plan,
    upload_id: &str,
    parts: &Parts,
    destination_if_match: bool,
) -> Result<Rewritten, S3Failure> {
    let (size, part_size) = (parts.size, parts.part_size);
    let mut parts = Vec::new();
    for (index, start) in (0..size).step_by(part_size.max(1) as usize).enumerate() {
        let end = (start + part_size).min(size) - 1;
        let number = index as i32 + 1;
        let out = client
            .upload_part_copy()
            .bucket(bucket)
            .key(&plan.key)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(&plan.copy_source)
            .copy_source_if_match(&plan.if_match)
            .copy_source_range(format!("bytes={start}-{end}"))
            .customize()
            .config_override(long_attempts(client, end + 1 - start))
            .send()
            .await
            .map_err(|e| S3Failure::from_sdk(&e))?;
        // An upload with a checksum algorithm completes only with each part's checksum, which
        // UploadPartCopy computed and returned.
        let result = out.copy_part_result();
        let owned = |f: fn(&aws_sdk_s3::types::CopyPartResult) -> Option<&str>| {
            result.and_then(f).map(str::to_owned)
        };
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(owned(|r| r.e_tag()))
                .set_checksum_crc32(owned(|r| r.checksum_crc32()))
                .set_checksum_crc32_c(owned(|r| r.checksum_crc32_c()))
                .set_checksum_crc64_nvme(owned(|r| r.checksum_crc64_nvme()))
                .set_checksum_sha1(owned(|r| r.checksum_sha1()))
                .set_checksum_sha256(owned(|r| r.checksum_sha256()))
                .build(),
        );
    }
    let out = client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(&plan.key)
        .upload_id(upload_id)
        .set_if_match(destination_if_match.then(|| plan.destination_etag.clone()))
        .set_checksum_type(
            plan.checksum
                .as_ref()
                .map(|c| ChecksumType::from(c.kind.as_str())),
        )
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .customize()
        // S3 assembles the parts before it answers: minutes for the largest objects.
        .config_override(long_attempts(client, size))
        .send()
        .await
        .map_err(|e| S3Failure::from_sdk(&e))?;
    Ok(Rewritten {
        version_id: out.version_id().map(str::to_owned),
        etag: out.e_tag().map(str::to_owned),
    })
}

/// Sends a GET of an object version's subresource (`?acl`, `?tagging`): the builders share the
/// setters but not a type.
macro_rules! get_version {
    ($request:expr, $bucket:expr, $key:expr, $version_id:expr) => {
        $request
            .bucket($bucket)
            .key($key)
            .set_version_id($version_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| S3Failure::from_sdk(&e))
    };
}

/// The object's ACL.
pub async fn object_acl(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<ObjectAcl, S3Failure> {
    object_acl_with(client, bucket, key, version_id, None).await
}

/// [`object_acl`] with `attempts` instead of the client's (after an attempt around the SDK).
pub(super) async fn object_acl_with(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    attempts: Option<u32>,
) -> Result<ObjectAcl, S3Failure> {
    let request = client
        .get_object_acl()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned));
    let out = match attempts {
        None => request.send().await,
        Some(n) => {
            request
                .customize()
                .config_override(
                    aws_sdk_s3::config::Builder::default().retry_config(retry_with(client, n)),
                )
                .send()
                .await
        }
    }
    .map_err(|e| S3Failure::from_sdk(&e))?;
    let grants = out
        .grants()
        .iter()
        .filter_map(|grant| {
            let grantee = grant.grantee()?;
            let form = match grantee.r#type() {
                Type::CanonicalUser => format!("id=\"{}\"", grantee.id()?),
                Type::Group => format!("uri=\"{}\"", grantee.uri()?),
                Type::AmazonCustomerByEmail => {
                    format!("emailAddress=\"{}\"", grantee.email_address()?)
                }
                _ => return None,
            };
            Some(Grant {
                grantee: form,
                permission: grant.permission()?.as_str().to_owned(),
            })
        })
        .collect();
    Ok(ObjectAcl {
        owner_id: out.owner().and_then(|o| o.id()).map(str::to_owned),
        grants,
    })
}

/// Sets one version's ACL: `grants`, or private if `None`.
pub async fn put_acl(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: &str,
    grants: Option<&GrantHeaders>,
) -> Result<(), S3Failure> {
    let request = client
        .put_object_acl()
        .bucket(bucket)
        .key(key)
        .version_id(version_id);
    let request = match grants {
        None => request.acl(ObjectCannedAcl::Private),
        Some(g) => request
            .set_grant_full_control(g.full_control.clone())
            .set_grant_read(g.read.clone())
            .set_grant_read_acp(g.read_acp.clone())
            .set_grant_write_acp(g.write_acp.clone()),
    };
    request.send().await.map_err(|e| S3Failure::from_sdk(&e))?;
    Ok(())
}

/// The object's tags as the `x-amz-tagging` header wants them (`k=v&k2=v2`, URL-encoded).
pub async fn object_tagging(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<String, S3Failure> {
    let out = get_version!(client.get_object_tagging(), bucket, key, version_id)?;
    let pairs: Vec<String> = out
        .tag_set()
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                utf8_percent_encode(t.key(), NON_ALPHANUMERIC),
                utf8_percent_encode(t.value(), NON_ALPHANUMERIC)
            )
        })
        .collect();
    Ok(pairs.join("&"))
}

/// Whether `bucket`'s Object Ownership is BucketOwnerEnforced: its ACLs are disabled, every
/// object's ACL is the bucket owner's FULL_CONTROL, and a copy may carry no grants, so a repair
/// need not read any object's ACL. `false` when GetBucketOwnershipControls fails (no controls
/// set, no `s3:GetBucketOwnershipControls`, a server without them): ACLs are then read.
pub async fn acls_disabled(client: &Client, bucket: &str) -> bool {
    let Ok(out) = client
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
    else {
        return false;
    };
    out.ownership_controls().is_some_and(|controls| {
        controls
            .rules()
            .iter()
            .any(|rule| rule.object_ownership() == &ObjectOwnership::BucketOwnerEnforced)
    })
}

/// The canonical user id of the caller, used to recognise objects owned by another account.
/// ListBuckets names it, and lists only the caller's own buckets: when `bucket` is among them,
/// the owner id in the bucket's ACL is the caller's too, in the form object ACLs use (moto's
/// ListBuckets owner id differs from the one in all its ACLs). `None` when the caller may not
/// list buckets.
pub async fn caller_id(client: &Client, bucket: &str) -> Option<String> {
    let out = client.list_buckets().prefix(bucket).send().await.ok()?;
    let listed = out.owner().and_then(|o| o.id()).map(str::to_owned);
    if out.buckets().iter().any(|b| b.name() == Some(bucket)) {
        let acl = client.get_bucket_acl().bucket(bucket).send().await;
        if let Some(id) = acl
            .ok()
            .and_then(|acl| acl.owner()?.id().map(str::to_owned))
        {
            return Some(id);
        }
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_with_attempt_timeout(timeout: Duration) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(7))
                    .operation_attempt_timeout(timeout)
                    .build(),
            )
            .build();
        Client::from_conf(config)
    }

    #[test]
    fn copies_keep_the_clients_connect_timeout_and_so_its_connection_pool() {
        let client = client_with_attempt_timeout(Duration::from_secs(30));
        let config = long_attempts(&client, 5 << 30).build();
        let timeouts = config.timeout_config().unwrap();
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(7)));
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(Duration::from_secs(30 + 205))
        );
    }

    /// The planner reads dates with the model's parsers, and this file sends what they read: both
    /// must agree with the SDK's own parsers, or a date would be re-sent other than HEAD showed
    /// it, or an object skipped that the SDK could have carried.
    #[test]
    fn the_models_dates_are_the_sdks_dates() {
        use crate::model::date;
        use aws_smithy_types::date_time::Format;
        use aws_smithy_types::DateTime;
        for text in [
            "Wed, 21 Oct 2037 07:28:00 GMT",
            " Thu, 01 Jan 1970 00:00:00 GMT ",
            "Mon, 16 Dec 2019 23:48:18.52 GMT",
            "Mon, 16 Dec 2019 23:48:18.123 GMT",
            "Mon, 16 Dec 2019 23:48:18.1234 GMT",
            "Xyz, 16 Dec 2019 23:48:18 GMT",
            "Wednesday, 21-Oct-37 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2037",
            "Wed, 31 Feb 2037 07:28:00 GMT",
            "Wed, 21 Oct 2037 24:00:00 GMT",
            "Wed, 21 Oct 2037 07:28:00 UTC",
            "Wed, 21 Okt 2037 07:28:00 GMT",
            "next tuesday",
            "",
        ] {
            let ours = date::parse_http_date(text).map(sdk_date);
            let sdk = DateTime::from_str(text.trim(), Format::HttpDate).ok();
            assert_eq!(ours, sdk, "{text:?}");
            if let Some(at) = date::parse_http_date(text) {
                let sent = DateTime::from_secs(at.unix_timestamp());
                assert_eq!(date::http_date(at), sent.fmt(Format::HttpDate).ok());
            }
        }
        for text in [
            "2030-01-02T03:04:05Z",
            "2030-01-02T03:04:05.5Z",
            "2030-01-02T03:04:05.123456Z",
            "2030-01-02t03:04:05Z",
            "2030-01-02T03:04:05+01:00",
            "2030-01-02 03:04:05Z",
            "1893456000",
            "1893456000.25",
            "-5",
            "soon",
        ] {
            let ours = date::parse_rfc3339(text).map(sdk_date);
            let sdk = DateTime::from_str(text, Format::DateTime)
                .or_else(|_| DateTime::from_str(text, Format::EpochSeconds))
                .ok();
            assert_eq!(ours, sdk, "{text:?}");
            if let Some(at) = date::parse_rfc3339(text) {
                assert_eq!(date::rfc3339(at), sdk_date(at).to_string(), "{text:?}");
            }
        }
    }

    #[test]
    fn a_copy_attempt_waits_for_its_bytes_on_top_of_the_clients_attempt_timeout() {
        let client = client_with_attempt_timeout(Duration::from_secs(30));
        assert_eq!(copy_attempt(&client, 0), Duration::from_secs(30));
        assert_eq!(copy_attempt(&client, 1000), Duration::from_secs(31));
        assert_eq!(
            copy_attempt(&client, 5 << 30),
            Duration::from_secs(30 + 205)
        );
        let quick = client_with_attempt_timeout(Duration::from_secs(1));
        assert_eq!(copy_attempt(&quick, 10 << 20), Duration::from_secs(1 + 1));
    }
}
