//! The scan's HeadObject without the SDK's request pipeline.
//!
//! A scan is one HEAD per object, and the SDK's orchestrator (runtime plugins, endpoint and auth
//! scheme resolution, interceptors, deserializers) costs about 90–97 µs of client CPU per HEAD,
//! where this path, the same request signed with `aws-sigv4` and sent through the same paced
//! connection pool, costs about 26 µs (`cargo bench --bench head_path`). It learns everything
//! from the SDK instead of second-guessing it:
//!
//! - the URL and the signing region: the run's first successful HEAD goes through the SDK, and
//!   its request becomes the template (the URL up to the key, the credential scope of its
//!   `Authorization`, which must be plain SigV4 for `s3`). The key's part of the URL is encoded as the SDK encodes it, which is
//!   checked on that first key;
//! - connections, TLS, proxies and pacing: the request goes through the SDK's own HTTP connector,
//!   as wrapped by [`super::pace`], so it shares the run's pool and every attempt is paced;
//! - credentials: the SDK config's provider, asked again 5 minutes before they expire;
//! - the AWS CLI's conventions (`--request-payer`, `--expected-bucket-owner`): the headers the
//!   SDK's HEAD carries by `conventions`, signed here too.
//!
//! Only a 200 whose headers parse exactly as the SDK parses them is answered here. Anything else
//! (404, 403, a redirect, 5xx, a reset, a timeout, a header the SDK would reject) goes to the SDK,
//! whose retries (one attempt fewer: this one counted), error classification and parsing apply
//! as before. If the SDK then succeeds where this path was answered 3xx or 4xx (a clock skew the
//! SDK corrects, say), the path is turned off for the rest of the run. With `--max-attempts 1`
//! it is never used, so that no object gets a second attempt.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::body::SdkBody;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio_util::sync::CancellationToken;

use super::client::{retry_of, retry_with};
use super::conventions::RequestConventions;
use super::metrics::RequestStats;
use super::pace::Pace;
use super::write::Header;
use crate::model::{ObjectHead, S3Failure};

mod acl;
mod copy;
#[cfg(test)]
mod differential;
mod get;
mod parse;
mod template;

pub(crate) use parse::parse;
use template::Capture;
pub(crate) use template::Template;

/// What a key's path may keep unencoded: RFC 3986's unreserved characters and `/`, as the SDK's
/// greedy label encoding (S3 signs the path single-encoded).
pub(super) const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The header that asks HEAD for the additional checksum (`docs/s3-behaviour.md` §16).
const CHECKSUM_MODE: [Header<'static>; 1] = [(
    std::borrow::Cow::Borrowed("x-amz-checksum-mode"),
    std::borrow::Cow::Borrowed("ENABLED"),
)];

/// SHA-256 of the empty body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// HEADs for one run's bucket: this path when it can, the SDK otherwise. Cheap to clone.
#[derive(Clone)]
pub struct Heads(Arc<Inner>);

struct Inner {
    client: aws_sdk_s3::Client,
    /// The same client, retried even once the run is stopping: what settles a copy goes to it.
    settling: aws_sdk_s3::Client,
    /// The run's pacing, whose run connector (the SDK's own, paced) the HEADs are sent through.
    pace: Arc<Pace>,
    /// Once it fires, an attempt that failed here is final: no retry through the SDK.
    stop: CancellationToken,
    credentials: Option<SharedCredentialsProvider>,
    identity: tokio::sync::RwLock<Option<Identity>>,
    template: OnceLock<Template>,
    learning: AtomicBool,
    off: AtomicBool,
    stats: Arc<RequestStats>,
    attempt_timeout: Duration,
    retry: RetryConfig,
    /// Sent and signed on every request of each kind (`conventions`), as the SDK's carry them.
    conventions: Conventions,
    answered: AtomicU64,
    handed_over: AtomicU64,
}

impl fmt::Debug for Heads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heads")
            .field("template", &self.0.template.get())
            .field("off", &self.0.off.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Heads {
    /// `client`, the SDK config's `credentials` and the pacing `client` sends through, as the run
    /// built them. With `enabled` `None` (`--no-fast-head`) every HEAD goes through the SDK;
    /// otherwise it is the run's stop, after which a failed attempt here is not handed on.
    /// `conventions` are the ones the client's interceptors add to each request.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        client: aws_sdk_s3::Client,
        settling: aws_sdk_s3::Client,
        credentials: Option<SharedCredentialsProvider>,
        pace: Arc<Pace>,
        enabled: Option<CancellationToken>,
        stats: Arc<RequestStats>,
        attempt_timeout: Duration,
        conventions: &RequestConventions,
    ) -> Self {
        let retry = retry_of(&client);
        Heads(Arc::new(Inner {
            pace,
            credentials,
            identity: tokio::sync::RwLock::new(None),
            template: OnceLock::new(),
            learning: AtomicBool::new(false),
            off: AtomicBool::new(enabled.is_none()),
            stop: enabled.unwrap_or_default(),
            stats,
            attempt_timeout,
            retry,
            conventions: Conventions {
                head: conventions.headers_for("HeadObject"),
                copy: conventions.headers_for("CopyObject"),
                acl: conventions.headers_for("GetObjectAcl"),
                get: conventions.headers_for("GetObject"),
            },
            answered: AtomicU64::new(0),
            handed_over: AtomicU64::new(0),
            client,
            settling,
        }))
    }

    /// HEADs the current version of `key`, as [`super::head::head_object`] does.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectHead, S3Failure> {
        self.head_in(bucket, key, false).await
    }

    /// HEADs the current version of `key` in checksum mode, as
    /// [`super::head::head_with_checksums`] does: a repair's HEADs.
    pub async fn head_with_checksums(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectHead, S3Failure> {
        self.head_in(bucket, key, true).await
    }

    async fn head_in(
        &self,
        bucket: &str,
        key: &str,
        checksums: bool,
    ) -> Result<ObjectHead, S3Failure> {
        let me = &self.0;
        if let Some((template, connector)) = self.ready(bucket) {
            return self.fast(template, connector, bucket, key, checksums).await;
        }
        if me.retry.max_attempts() >= 2
            && !me.off.load(Ordering::Relaxed)
            && me.template.get().is_none()
            && !me.learning.swap(true, Ordering::AcqRel)
        {
            let result = Box::pin(self.learn(bucket, key, checksums)).await;
            if me.template.get().is_none() {
                me.learning.store(false, Ordering::Release);
            }
            return result;
        }
        sdk_head(&me.client, bucket, key, None, checksums).await
    }

    /// HEADs `key` to settle what a copy did (the verification after a copy, the look after a
    /// copy that got no answer): as [`Heads::head_with_checksums`], but never learning, and
    /// retried (by the settling client) even once the run is stopping.
    pub(crate) async fn head_to_settle(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<ObjectHead, S3Failure> {
        let settling = &self.0.settling;
        let Some((template, connector)) = self.ready(bucket) else {
            return sdk_head(settling, bucket, key, None, true).await;
        };
        let attempt = self.head_attempt(template, connector, key, true);
        self.around(attempt, true, |attempts| {
            sdk_head(settling, bucket, key, attempts, true)
        })
        .await
    }

    /// Requests (HEADs, and a repair's sniffs, ACL reads and copies) answered here, and those
    /// handed to the SDK after an attempt here.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.0.answered.load(Ordering::Relaxed),
            self.0.handed_over.load(Ordering::Relaxed),
        )
    }

    /// Whether the template is known and the path is on.
    pub fn is_active(&self) -> bool {
        self.0.template.get().is_some() && !self.0.off.load(Ordering::Relaxed)
    }

    /// One HEAD through the SDK, keeping its request as the template.
    async fn learn(
        &self,
        bucket: &str,
        key: &str,
        checksums: bool,
    ) -> Result<ObjectHead, S3Failure> {
        let seen = Arc::new(Mutex::new(None));
        let result = super::head::head_object_with(&self.0.client, bucket, key, checksums, |op| {
            op.customize().interceptor(Capture(seen.clone()))
        })
        .await;
        if result.is_ok() {
            let seen = seen.lock().take();
            let template =
                seen.and_then(|(uri, auth)| Template::from_request(bucket, key, &uri, &auth));
            match template {
                // The SDK sent this HEAD through the pacing: its connector is the run's, unless
                // the request's settings were not the run's.
                Some(_) if self.0.pace.run_connector().is_none() => {
                    tracing::debug!(
                        "the SDK's HEAD did not use the run's connector; HEADs stay with the SDK"
                    );
                    self.0.off.store(true, Ordering::Relaxed);
                }
                Some(template) => {
                    tracing::debug!(base = %template.base, region = %template.region, "HEADs go around the SDK's pipeline");
                    let _ = self.0.template.set(template);
                }
                None => {
                    tracing::debug!(
                        "the SDK's HEAD does not fit the template; HEADs stay with the SDK"
                    );
                    self.0.off.store(true, Ordering::Relaxed);
                }
            }
        }
        result
    }

    /// One HEAD here, handed to the SDK as the contract says (`around`).
    async fn fast(
        &self,
        template: &Template,
        connector: &SharedHttpConnector,
        bucket: &str,
        key: &str,
        checksums: bool,
    ) -> Result<ObjectHead, S3Failure> {
        let client = &self.0.client;
        self.around(
            self.head_attempt(template, connector, key, checksums),
            false,
            |attempts| sdk_head(client, bucket, key, attempts, checksums),
        )
        .await
    }

    /// One HEAD here; in checksum mode (`x-amz-checksum-mode: ENABLED`) if `checksums`.
    async fn head_attempt(
        &self,
        template: &Template,
        connector: &SharedHttpConnector,
        key: &str,
        checksums: bool,
    ) -> Attempt<ObjectHead> {
        let mode: &[Header<'_>] = if checksums { &CHECKSUM_MODE } else { &[] };
        let Some(request) = self
            .signed(
                template,
                "HEAD",
                &object_url(template, key),
                &self.0.conventions.head,
                mode,
            )
            .await
        else {
            return Attempt::Unsent;
        };
        match self.send(connector, request, self.0.attempt_timeout).await {
            Ok(response) if response.status().as_u16() == 200 => match parse(key, &response) {
                Some(head) => Attempt::Answered(ObjectHead {
                    checksum_mode: checksums,
                    ..head
                }),
                None => Attempt::Unparsed,
            },
            Ok(response) => Attempt::Failed(Some(response.status().as_u16())),
            Err(()) => Attempt::Failed(None),
        }
    }

    /// The contract of this path for any request: an answer this path is certain of is kept
    /// (and counted as one call and one attempt, as an SDK request would be); anything else goes
    /// to `sdk`, with the SDK's attempts (`None`) or, after a retryable failure here, one fewer.
    /// Unless `settle`, a retryable failure once the run is stopping is final, as the SDK's own
    /// retries are forbidden then (`client::StopRetries`).
    async fn around<'a, T>(
        &'a self,
        attempt: impl Future<Output = Attempt<T>>,
        settle: bool,
        sdk: impl FnOnce(Option<u32>) -> BoxFuture<'a, Result<T, S3Failure>>,
    ) -> Result<T, S3Failure> {
        let me = &self.0;
        let (status, retryable) = match attempt.await {
            Attempt::Answered(answer) => {
                me.stats.record_call();
                me.stats.record_attempt(Some(200));
                me.answered.fetch_add(1, Ordering::Relaxed);
                return Ok(answer);
            }
            Attempt::Refused(failure) => {
                me.stats.record_call();
                me.stats.record_attempt(failure.http_status);
                me.answered.fetch_add(1, Ordering::Relaxed);
                return Err(failure);
            }
            Attempt::Unparsed => {
                // Answered 200 with something the SDK must judge; not a failed attempt, but the
                // SDK sends its own.
                me.stats.record_attempt(Some(200));
                (Some(200), false)
            }
            Attempt::ErrorBody => {
                // A 200 whose body is an S3 error (CopyObject, `docs/s3-behaviour.md` §7): the
                // copy failed, and S3 asks for a retry as after a 500.
                me.stats.record_attempt(Some(200));
                (None, true)
            }
            Attempt::Failed(status) => {
                me.stats.record_attempt(status);
                (status, status.is_none_or(|s| s >= 500 || s == 429))
            }
            // Nothing was sent: the SDK makes every attempt, and reports what is wrong.
            Attempt::Unsent => {
                me.handed_over.fetch_add(1, Ordering::Relaxed);
                return sdk(None).await;
            }
        };
        me.handed_over.fetch_add(1, Ordering::Relaxed);
        if retryable && !settle && me.stop.is_cancelled() {
            return Err(S3Failure {
                code: status.map_or_else(
                    || "NetworkError".to_owned(),
                    |s| super::error::code_for_status(Some(s)),
                ),
                message: "the attempt failed and the run is stopping: not retried".into(),
                http_status: status,
            });
        }
        let result = if retryable {
            // The pause the SDK's standard retry takes before a second attempt, then the SDK's
            // attempts less the one made here.
            let pause = me.retry.initial_backoff().mul_f64(fastrand::f64());
            tokio::time::sleep(pause).await;
            sdk(Some((me.retry.max_attempts() - 1).max(1))).await
        } else {
            sdk(None).await
        };
        // A 404 the SDK gets past is an object written meanwhile, not this path's mistake.
        if result.is_ok() && status.is_some_and(|s| (300..500).contains(&s) && s != 404) {
            tracing::debug!(
                ?status,
                "the SDK succeeded where a request around it did not; requests stay with the SDK"
            );
            me.off.store(true, Ordering::Relaxed);
        }
        result
    }

    /// The template and connector to send around the SDK for `bucket`, if this path is on and
    /// has learnt them (from the scan's first HEAD).
    fn ready(&self, bucket: &str) -> Option<(&Template, &SharedHttpConnector)> {
        let me = &self.0;
        if me.retry.max_attempts() < 2 || me.off.load(Ordering::Relaxed) {
            return None;
        }
        match (me.template.get(), me.pace.run_connector()) {
            (Some(template), Some(connector)) if template.bucket == bucket => {
                Some((template, connector))
            }
            _ => None,
        }
    }

    /// Sends one attempt through the run's paced connector, for at most `timeout`; `Err` without
    /// an answer (a reset, a timeout).
    async fn send(
        &self,
        connector: &SharedHttpConnector,
        request: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, ()> {
        match tokio::time::timeout(timeout, connector.call(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) | Err(_) => Err(()),
        }
    }

    /// `method` on `uri` with `conventions` and `headers`, signed for now (see [`sign_request`]);
    /// `None` without credentials.
    async fn signed(
        &self,
        template: &Template,
        method: &str,
        uri: &str,
        conventions: &[(&'static str, String)],
        headers: &[Header<'_>],
    ) -> Option<HttpRequest> {
        let identity = self.identity().await?;
        sign_request(
            &identity,
            template,
            method,
            uri,
            conventions,
            headers,
            SystemTime::now(),
        )
    }

    /// The credentials as an identity, fetched again when they are about to expire.
    async fn identity(&self) -> Option<Identity> {
        let fresh = |identity: &Identity| {
            identity
                .expiration()
                .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE)
        };
        if let Some(identity) = self.0.identity.read().await.as_ref().filter(|i| fresh(i)) {
            return Some(identity.clone());
        }
        let mut slot = self.0.identity.write().await;
        if let Some(identity) = slot.as_ref().filter(|i| fresh(i)) {
            return Some(identity.clone());
        }
        let credentials: Credentials = self
            .0
            .credentials
            .as_ref()?
            .provide_credentials()
            .await
            .ok()?;
        let identity = Identity::from(credentials);
        *slot = Some(identity.clone());
        Some(identity)
    }
}

/// The headers `--request-payer` and `--expected-bucket-owner` add, per kind of request.
struct Conventions {
    head: Vec<(&'static str, String)>,
    copy: Vec<(&'static str, String)>,
    acl: Vec<(&'static str, String)>,
    get: Vec<(&'static str, String)>,
}

/// What one attempt here came to.
enum Attempt<T> {
    /// A 200 read exactly as the SDK reads it.
    Answered(T),
    /// An error answer this path reads as the SDK does, and that the SDK would not retry (a
    /// copy's 412): final, as the SDK's would be.
    Refused(S3Failure),
    /// A 200 this path does not read as the SDK would.
    Unparsed,
    /// A 200 whose body is an S3 error (CopyObject can answer so).
    ErrorBody,
    /// The status, or `None` without a response.
    Failed(Option<u16>),
    /// No request could be signed (the credentials could not be had).
    Unsent,
}

/// `method` on `uri`, with `conventions` and `headers` (lower-case names), signed as the SDK
/// signs: SigV4 for the template's scope at `time`, the empty body's SHA-256 in
/// `x-amz-content-sha256`, single percent-encoding, no path normalisation.
pub(crate) fn sign_request(
    identity: &Identity,
    template: &Template,
    method: &str,
    uri: &str,
    conventions: &[(&'static str, String)],
    headers: &[Header<'_>],
    time: SystemTime,
) -> Option<HttpRequest> {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(&template.region)
        .name(&template.service)
        .time(time)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let extra = conventions
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(headers.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
    let signable = SignableRequest::new(
        method,
        uri,
        std::iter::once(("host", template.host.as_str())).chain(extra.clone()),
        SignableBody::Precomputed(EMPTY_SHA256.to_owned()),
    )
    .ok()?;
    let (instructions, _) = sign(signable, &params).ok()?.into_parts();
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in extra {
        builder = builder.header(name, value);
    }
    let mut request = builder.body(SdkBody::empty()).ok()?;
    instructions.apply_to_request_http1x(&mut request);
    HttpRequest::try_from(request).ok()
}

/// The URL of `key` in the template's bucket, encoded as the SDK encodes it.
fn object_url(template: &Template, key: &str) -> String {
    format!("{}{}", template.base, utf8_percent_encode(key, KEY))
}

/// HeadObject through the SDK: with its own attempts, or `attempts`; in checksum mode if
/// `checksums`.
fn sdk_head<'a>(
    client: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    key: &'a str,
    attempts: Option<u32>,
    checksums: bool,
) -> BoxFuture<'a, Result<ObjectHead, S3Failure>> {
    // The SDK's futures are large: boxed, they do not make every caller's future as large.
    Box::pin(super::head::head_object_with(
        client,
        bucket,
        key,
        checksums,
        move |op| match attempts {
            None => op.customize(),
            Some(n) => op.customize().config_override(
                aws_sdk_s3::config::Builder::default().retry_config(retry_with(client, n)),
            ),
        },
    ))
}
