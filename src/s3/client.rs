//! All S3 client construction: the credential and region chain, custom endpoints, addressing style,
//! retry settings, TLS trust, the AWS CLI's request conventions and the bucket's region.
//!
//! One `Client` serves the whole run: its connection pool keeps connections alive, which is most of
//! what makes a HEAD-bound scan fast. Its HTTP client is the SDK's default one (or one trusting
//! `--ca-bundle`, or none with `--no-verify-ssl`: `tls`), wrapped in the run's pacing (`pace`).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::head_bucket::{HeadBucketError, HeadBucketOutput};
use aws_sdk_s3::Client;
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::client::http::HttpConnectorSettings;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use clap::ValueEnum;
use tokio_util::sync::CancellationToken;

use super::conventions::{RequestConventions, SendConventions};
use super::error::chain;
use super::fast_head::Heads;
use super::list::Pages;
use super::metrics::{CountRequests, RequestStats};
use super::pace::{self, Pace};
use super::read::Body;
use super::retry::{Configured, Retry, RetryMode};
use super::store::S3Store;
use super::tls::TlsOptions;
use crate::model::{legacy_name, not_a_bucket_name, S3Failure};

/// Region assumed for a custom endpoint when none is configured.
const DEFAULT_REGION: &str = "us-east-1";

/// How the bucket appears in request URLs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Addressing {
    /// Path style with a custom endpoint, virtual-hosted style against AWS.
    #[default]
    Auto,
    /// `https://endpoint/BUCKET/KEY`.
    Path,
    /// `https://BUCKET.endpoint/KEY`.
    Virtual,
}

impl Addressing {
    /// Whether the bucket goes in the URL's path, with or without `--endpoint-url`.
    pub fn is_path_style(self, custom_endpoint: bool) -> bool {
        match self {
            Addressing::Auto => custom_endpoint,
            Addressing::Path => true,
            Addressing::Virtual => false,
        }
    }
}

/// Where and as whom to connect, and how hard to push.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub addressing: Addressing,
    /// Fixed credentials instead of the aws-config chain (the demo's lab).
    pub static_credentials: Option<(String, String)>,
    /// `--max-attempts`: attempts per request, retries included. Unless given, what
    /// `AWS_MAX_ATTEMPTS` or the profile says, else [`DEFAULT_MAX_ATTEMPTS`](super::retry::DEFAULT_MAX_ATTEMPTS).
    pub max_attempts: Option<u32>,
    /// `--retry-mode`; unless given, `AWS_RETRY_MODE` or the profile's, else standard.
    pub retry_mode: Option<RetryMode>,
    /// How long one attempt of a small request (HEAD, LIST, ACL) may take before it is given up
    /// and retried. Copies get longer, never shorter.
    pub attempt_timeout: Duration,
    /// Requests in flight at most, retries included: the command's `--concurrency`. Throttling
    /// lowers this for a while (see `pace`); a fix's two stages share it.
    pub max_in_flight: usize,
    /// `--max-rps`: requests per second at most, retries included.
    pub max_rps: Option<NonZeroU32>,
    /// Send the scan's HEADs around the SDK's pipeline (`fast_head`); `--no-fast-head` turns it
    /// off, so that a bug report can rule it out.
    pub fast_head: bool,
    /// `--request-payer` and `--expected-bucket-owner`, sent on every request that takes them.
    pub conventions: RequestConventions,
    /// `--ca-bundle` and `--no-verify-ssl`.
    pub tls: TlsOptions,
}

/// `--attempt-timeout` unless given: long enough for a HEAD on a loaded server, short enough that
/// a stalled response costs one retry, not the run.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The first request's attempts wait at most this long (or `--attempt-timeout` if shorter): an
/// endpoint that accepts connections but never answers is a prompt error.
const PREFLIGHT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may take to open, but for the preflight's. The one source of the
/// run's connector settings: the SDK's timeout config and the pacing's run connector (which the
/// scan's HEADs use) both come from [`run_connector_settings`], so they share one pool.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn run_connector_settings() -> HttpConnectorSettings {
    HttpConnectorSettings::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// The run's client, its scan HEADs and what it counts.
#[derive(Clone, Debug)]
pub struct Connection {
    /// The SDK client, for tests and benchmarks that compare with it; s3mend itself reaches S3
    /// through the methods below.
    pub client: Client,
    /// The same client, but its requests are retried after the run is stopped: it settles what
    /// copies in flight did.
    settling: Client,
    pub heads: Heads,
    pub requests: Arc<RequestStats>,
}

impl Connection {
    /// The region requests are signed for (the one the bucket check settled on).
    pub fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.to_string())
    }

    /// The retry settings requests get: attempts per request, and the mode.
    pub fn retry(&self) -> (u32, &'static str) {
        self.client
            .config()
            .retry_config()
            .map_or((1, "none"), |r| {
                let mode = match r.mode() {
                    aws_sdk_s3::config::retry::RetryMode::Adaptive => "adaptive",
                    _ => "standard",
                };
                (r.max_attempts(), mode)
            })
    }

    /// The listing of `bucket` under `prefix`, after `start_after`, page by page.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<String>,
        page_size: i32,
    ) -> Pages {
        Pages::new(&self.client, bucket, prefix, start_after, page_size)
    }

    /// One level of `bucket` under `prefix` (keys and common prefixes up to the next `/`).
    pub fn list_level(&self, bucket: &str, prefix: &str, start_after: Option<String>) -> Pages {
        Pages::new(&self.client, bucket, prefix, start_after, 1000).delimited("/")
    }

    /// A GetObject of the whole of `key`, its body to be read as it arrives.
    pub async fn object(&self, bucket: &str, key: &str) -> Result<Body, S3Failure> {
        super::read::object(&self.client, bucket, key).await
    }

    /// All of `key`, if it has at most `max` bytes.
    pub async fn whole_object(
        &self,
        bucket: &str,
        key: &str,
        max: usize,
    ) -> Result<Vec<u8>, S3Failure> {
        super::read::whole_object(&self.client, bucket, key, max).await
    }

    /// The requests a repair of `bucket`'s objects makes.
    pub fn store(&self, bucket: &str) -> S3Store {
        S3Store::new(self.client.clone(), bucket)
            .settling_with(self.settling.clone())
            .around_the_sdk(self.heads.clone())
    }
}

/// Builds the run's client for `bucket`, checking on the way that the bucket exists and is
/// reachable. When the server names another region for the bucket (`x-amz-bucket-region`, as AWS
/// does on a 301 and on success), the client switches to it, because aws-sdk-rust does not follow
/// a 301; with a custom endpoint only when the check failed.
pub async fn connect(opts: &ConnectOptions, bucket: &str) -> anyhow::Result<Connection> {
    connect_until(opts, bucket, &CancellationToken::new()).await
}

/// [`connect`], with no retry of any request once `stop` fires (a Ctrl-C): attempts in flight
/// finish, and their failures are final.
pub async fn connect_until(
    opts: &ConnectOptions,
    bucket: &str,
    stop: &CancellationToken,
) -> anyhow::Result<Connection> {
    let requests = Arc::new(RequestStats::default());
    let pace = Pace::new(opts.max_in_flight, opts.max_rps, requests.clone());
    let settings = run_connector_settings();
    let mut timeouts = TimeoutConfig::builder();
    timeouts.set_connect_timeout(settings.connect_timeout());
    let http_client = pace.wrap(super::tls::http_client(&opts.tls)?, settings);
    // Before aws-config: a profile named but missing would otherwise end as a failed IMDS token,
    // and a bad AWS_MAX_ATTEMPTS as a panic in the loader.
    // Fixed credentials (the demo's lab) need no profile, and take their retries as given.
    let configured = if opts.static_credentials.is_some() {
        Configured::default()
    } else {
        super::profile::read(opts.profile.as_deref())
            .await
            .map_err(anyhow::Error::msg)?
    };
    let resolved = configured
        .resolve(opts.max_attempts, opts.retry_mode)
        .map_err(anyhow::Error::msg)?;
    let (own_attempts, own_mode) = configured.own().map_err(anyhow::Error::msg)?;
    // An attempt's timeout, for the SDK and for the scan's HEADs (`fast_head`) alike.
    let head_timeout =
        attempt_timeout(opts) + pace::longest_rate_wait(opts.max_in_flight, opts.max_rps);
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        timeouts
            // A stalled response must not hold a slot for ever; copies override this. The
            // attempt includes its wait for a turn under --max-rps, which is allowed for.
            .operation_attempt_timeout(head_timeout)
            .build(),
    );
    // Stalled-stream protection guards long bodies; scans and copies move none, and it costs a
    // timer per request.
    loader = loader.stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    // The credential providers (STS, SSO) retry as the environment and profile say, as before;
    // the values are the ones checked above.
    loader = loader.retry_config(sdk_retry(Retry {
        max_attempts: own_attempts.unwrap_or(RetryConfig::standard().max_attempts()),
        mode: own_mode.unwrap_or_default(),
    }));
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &opts.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some((key, secret)) = &opts.static_credentials {
        loader = loader.credentials_provider(Credentials::new(key, secret, None, None, "s3mend"));
    }
    let sdk_config = loader.load().await;
    // From --region, AWS_REGION or the profile: the SDK would panic while signing with a region
    // that cannot travel in a header.
    if let Some(region) = sdk_config.region() {
        check_region(region.as_ref())?;
    }
    check_credentials(&sdk_config).await?;
    let path_style = opts.addressing.is_path_style(opts.endpoint_url.is_some());
    // The retry quota is unlimited: under sustained SlowDown the shared quota would drain and
    // every request would then fail at once, while backing off is exactly what S3 asks for.
    // Standard mode by default: with a steady 10 % SlowDown, adaptive mode's client-side rate
    // limiter kept cutting the rate and a 5,000-object scan took over two minutes instead of
    // about ten seconds (tests/faults.rs).
    let retry = sdk_retry(resolved).with_max_backoff(Duration::from_secs(20));
    let partition = RetryPartition::custom("s3mend")
        .token_bucket(TokenBucket::unlimited())
        .build();
    // The run's client stops retrying once the run is stopped; the settling client (the HEADs
    // that tell what became of a copy in flight) goes on, so that the copy is settled.
    let build_with = |region: Option<Region>, stoppable: bool| {
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk_config)
            .retry_config(retry.clone())
            .retry_partition(partition.clone())
            .interceptor(CountRequests(requests.clone()));
        if !opts.conventions.is_empty() {
            builder = builder.interceptor(SendConventions(opts.conventions.clone()));
        }
        if stoppable {
            builder = builder.retry_classifier(StopRetries(stop.clone()));
        }
        builder = builder
            // Only S3's client is paced: the credential providers (IMDS, SSO, STS) keep the
            // loader's own, so that S3 throttling does not slow them nor they spend S3's rate.
            .http_client(http_client.clone())
            .force_path_style(path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(region) = region {
            builder = builder.region(region);
        } else if sdk_config.region().is_none() {
            builder = builder.region(Region::from_static(DEFAULT_REGION));
        }
        Client::from_conf(builder.build())
    };
    let build =
        |region: Option<Region>| (build_with(region.clone(), true), build_with(region, false));

    let connection = |(client, settling): (Client, Client)| Connection {
        heads: Heads::new(
            client.clone(),
            settling.clone(),
            sdk_config.credentials_provider(),
            pace.clone(),
            opts.fast_head.then(|| stop.clone()),
            requests.clone(),
            head_timeout,
            &opts.conventions,
        ),
        client,
        settling,
        requests: requests.clone(),
    };

    let clients = build(None);
    let client = &clients.0;
    let signed_for = client
        .config()
        .region()
        .map_or_else(|| DEFAULT_REGION.to_owned(), |r| r.to_string());
    let probe = preflight(client, bucket, attempt_timeout(opts)).await;
    // The bucket's region as the server names it. After a failed probe it is followed whatever
    // the endpoint; a probe that succeeded is taken at its word, except against AWS, which names
    // the region on success too.
    let named = match &probe {
        Ok(out) if opts.endpoint_url.is_none() => out.bucket_region().map(str::to_owned),
        Ok(_) => None,
        Err(err) => err
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_owned),
    };
    if let Some(region) = named.filter(|named| *named != signed_for) {
        tracing::info!(%region, %signed_for, "the bucket is in another region; switching");
        let clients = build(Some(Region::new(region.clone())));
        check_bucket(&clients.0, bucket, attempt_timeout(opts))
            .await
            .with_context(|| format!("bucket '{bucket}' in region {region}"))?;
        return Ok(connection(clients));
    }
    match probe {
        Ok(_) => Ok(connection(clients)),
        Err(err) => Err(bucket_error(
            bucket,
            &S3Failure::from_sdk(&err),
            opts,
            &signed_for,
        )),
    }
}

fn attempt_timeout(opts: &ConnectOptions) -> Duration {
    if opts.attempt_timeout.is_zero() {
        DEFAULT_ATTEMPT_TIMEOUT
    } else {
        opts.attempt_timeout
    }
}

/// The SDK's retry config for resolved settings.
fn sdk_retry(retry: Retry) -> RetryConfig {
    match retry.mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    }
    .with_max_attempts(retry.max_attempts.max(1))
}

/// Forbids every retry once the run is stopped: one Ctrl-C must not wait out backoffs.
#[derive(Debug)]
struct StopRetries(CancellationToken);

impl ClassifyRetry for StopRetries {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        if self.0.is_cancelled() {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "s3mend::StopRetries"
    }
}

/// A region name must be one token of a URL and a header: AWS's are lower-case letters, digits
/// and `-`, and S3-compatible stores also use `_` and `.`.
pub fn check_region(region: &str) -> anyhow::Result<()> {
    let valid = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        bail!(
            "region '{}' is not a region name (letters, digits, '-', '_' and '.', e.g. eu-west-1): check --region, AWS_REGION or the profile",
            region.escape_default()
        );
    }
    Ok(())
}

/// Resolves the credentials once before the first request, so that having none, or having an
/// access key id or session token that cannot travel in a header (the SDK would panic while
/// signing), is a one-line error. Values are never printed.
async fn check_credentials(sdk_config: &aws_config::SdkConfig) -> anyhow::Result<()> {
    let Some(provider) = sdk_config.credentials_provider() else {
        bail!("no AWS credentials configured");
    };
    let credentials = provider.provide_credentials().await.map_err(|e| match e {
        CredentialsError::CredentialsNotLoaded(_) => anyhow::anyhow!(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run where instance or SSO credentials exist"
        ),
        other => anyhow::anyhow!("cannot load AWS credentials: {}", chain(&other)),
    })?;
    let sendable = |value: &str| !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic());
    if !sendable(credentials.access_key_id()) {
        bail!("the AWS access key id is empty or contains a character that cannot be sent in an HTTP header");
    }
    if credentials.session_token().is_some_and(|t| !sendable(t)) {
        bail!("the AWS session token contains a character that cannot be sent in an HTTP header");
    }
    Ok(())
}

/// HeadBucket with two attempts and short timeouts: an endpoint that does not answer must be a
/// prompt error, not minutes of retries before the first object.
async fn preflight(
    client: &Client,
    bucket: &str,
    attempt_timeout: Duration,
) -> Result<HeadBucketOutput, SdkError<HeadBucketError, HttpResponse>> {
    client
        .head_bucket()
        .bucket(bucket)
        .customize()
        .config_override(
            aws_sdk_s3::config::Builder::default()
                .retry_config(RetryConfig::standard().with_max_attempts(2))
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .operation_attempt_timeout(attempt_timeout.min(PREFLIGHT_ATTEMPT_TIMEOUT))
                        // Both attempts together: a server that never answers is an error after
                        // at most the documented 10 s, not one timeout per attempt.
                        .operation_timeout(attempt_timeout.min(PREFLIGHT_ATTEMPT_TIMEOUT))
                        .build(),
                ),
        )
        .send()
        .await
}

async fn check_bucket(
    client: &Client,
    bucket: &str,
    attempt_timeout: Duration,
) -> anyhow::Result<()> {
    match preflight(client, bucket, attempt_timeout).await {
        Ok(_) => Ok(()),
        Err(err) => {
            let failure = S3Failure::from_sdk(&err);
            Err(anyhow::Error::new(BucketUnreachable {
                message: failure.to_string(),
                failure,
            }))
        }
    }
}

/// A bucket check that failed: the one-line message, and S3's answer behind it, for a caller
/// that decides by the answer (the Batch Operations handler: retry on throttling, not on 403).
#[derive(Debug)]
pub struct BucketUnreachable {
    pub message: String,
    pub failure: S3Failure,
}

impl std::fmt::Display for BucketUnreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BucketUnreachable {}

/// The one-line error for a failed preflight. `signed_for` is the region the request was signed
/// for.
fn bucket_error(
    bucket: &str,
    failure: &S3Failure,
    opts: &ConnectOptions,
    signed_for: &str,
) -> anyhow::Error {
    let message = bucket_message(bucket, failure, opts, signed_for);
    anyhow::Error::new(BucketUnreachable {
        message: message.to_string(),
        failure: failure.clone(),
    })
}

fn bucket_message(
    bucket: &str,
    failure: &S3Failure,
    opts: &ConnectOptions,
    signed_for: &str,
) -> anyhow::Error {
    let place = opts
        .endpoint_url
        .as_deref()
        .map(|e| format!(" at {e}"))
        .unwrap_or_default();
    match failure.code.as_str() {
        // A legacy name (upper case, '_') sent with path style to a server that has no such
        // names: the 400 has no body, and "bad request" would send the user looking elsewhere.
        "BadRequest" | "InvalidBucketName" if legacy_name(bucket).is_some() => {
            let why = legacy_name(bucket).unwrap_or_default();
            anyhow::anyhow!(
                "{}: the server{place} answered {}",
                not_a_bucket_name(bucket, why),
                failure.http_status.map_or_else(|| failure.code.clone(), |s| s.to_string())
            )
        }
        "NotFound" | "NoSuchBucket" => anyhow::anyhow!("bucket '{bucket}' does not exist{place}"),
        // S3 answers a request whose x-amz-expected-bucket-owner names another account as it
        // answers one it denies: 403, and HeadBucket has no body to tell them apart.
        "AccessDenied" | "Forbidden" => match &opts.conventions.expected_bucket_owner {
            Some(account) => anyhow::anyhow!(
                "bucket '{bucket}'{place} is not owned by account {account} (--expected-bucket-owner), or access to it is denied: S3 answers 403 to both"
            ),
            None => anyhow::anyhow!(
                "access denied to bucket '{bucket}'{place}: check the credentials and that they allow s3:ListBucket"
            ),
        },
        // The server says the region is wrong without naming the right one (a named one would
        // have been switched to): a 301 without x-amz-bucket-region, as from Ceph RGW or a proxy
        // that drops the header, or a 400 AuthorizationHeaderMalformed.
        "PermanentRedirect" | "AuthorizationHeaderMalformed" => {
            let status = failure
                .http_status
                .map(|s| format!("{s} "))
                .unwrap_or_default();
            anyhow::anyhow!(
                "bucket '{bucket}'{place} is not in region {signed_for} (the server answered {status}{}): pass --region with the bucket's region",
                failure.code
            )
        }
        _ => match untrusted_certificate(&failure.message) {
            Some(why) => {
                let endpoint = opts
                    .endpoint_url
                    .as_deref()
                    .map_or_else(|| format!("S3 for bucket '{bucket}'"), str::to_owned);
                anyhow::anyhow!(
                    "the TLS certificate of {endpoint} is not trusted ({why}): pass --ca-bundle with the certificate of the CA that signed it, or --no-verify-ssl for a test server"
                )
            }
            None => anyhow::anyhow!("cannot reach bucket '{bucket}'{place}: {failure}"),
        },
    }
}

/// rustls's reason for refusing the server's certificate ("invalid peer certificate:
/// UnknownIssuer", "…: NotValidForName", "…: Expired"), found in a failed request's error chain.
fn untrusted_certificate(message: &str) -> Option<&str> {
    let at = message.find("invalid peer certificate")?;
    Some(
        message[at..]
            .split(['\n', ';'])
            .next()
            .unwrap_or_default()
            .trim_end(),
    )
}

/// `client`'s retry config (the SDK's standard one if it has none).
pub(super) fn retry_of(client: &Client) -> RetryConfig {
    client
        .config()
        .retry_config()
        .cloned()
        .unwrap_or_else(RetryConfig::standard)
}

/// `client`'s retry config with `attempts` attempts: for a request the SDK sends after an
/// attempt around it (`fast_head`), which was one of the request's own.
pub(super) fn retry_with(client: &Client, attempts: u32) -> RetryConfig {
    retry_of(client).with_max_attempts(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untrusted_certificate_is_told_from_other_network_failures() {
        let message = "dispatch failure: io error: client error (Connect): TLS handshake failed: invalid peer certificate: UnknownIssuer";
        assert_eq!(
            untrusted_certificate(message),
            Some("invalid peer certificate: UnknownIssuer")
        );
        assert_eq!(
            untrusted_certificate("dispatch failure: io error: Connection refused (os error 111)"),
            None
        );
    }
}
