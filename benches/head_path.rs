//! What one HEAD costs the client, by request path: s3mend's own (aws-sdk-s3, built by
//! `s3::connect` exactly as a scan builds it, through `s3::head_object`) against a prototype that
//! signs with the `aws-sigv4` crate and sends over hyper-util's pooled client directly, building
//! the same `ObjectHead`. The prototype is not used by s3mend; it measures what the SDK's
//! orchestrator costs.
//!
//! ```sh
//! cargo bench --bench head_path -- [--objects N] [--concurrency N] [--latency-ms MS] [--jitter-ms MS] [--path sdk,plain-sdk,raw] [--no-pin]
//! ```
//! Both run on one thread (a current-thread runtime, mimalloc, as the s3mend binary), pinned to
//! CPU 1 with the lab on CPU 0 when there are two CPUs; client CPU is that thread's CPU time.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::Empty;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use s3mend::lab::{Lab, LabConfig, LatencyDist, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use s3mend::s3::{self, Addressing, ConnectOptions, ObjectHead};
use support::Objects;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SHA-256 of the empty body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What a key's path segment may keep unencoded (RFC 3986 unreserved, and `/`).
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn thread_cpu() -> Duration {
    // SAFETY: an all-zero timespec is valid for clock_gettime to fill in.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is valid for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn pin_this_thread(cpu: usize) {
    // SAFETY: an all-zero cpu_set_t is an empty set; CPU_SET stays within it for cpu < 1024.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// s3mend's path: the SDK client as a scan builds it.
async fn sdk_path(endpoint: String, keys: Arc<Vec<String>>, concurrency: usize) -> usize {
    let connection = s3::connect(
        &ConnectOptions {
            endpoint_url: Some(endpoint),
            region: Some(LAB_REGION.to_owned()),
            profile: None,
            addressing: Addressing::Path,
            static_credentials: Some((LAB_ACCESS_KEY.to_owned(), LAB_SECRET_KEY.to_owned())),
            max_attempts: s3::DEFAULT_MAX_ATTEMPTS,
            adaptive_retries: false,
            attempt_timeout: s3::DEFAULT_ATTEMPT_TIMEOUT,
            max_in_flight: concurrency,
            max_rps: None,
        },
        "bench",
    )
    .await
    .expect("connect");
    let client = connection.client;
    futures::stream::iter(keys.iter())
        .map(|key| {
            let client = client.clone();
            async move { s3::head_object(&client, "bench", key).await.is_ok() }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

/// The SDK client with nothing of s3mend's around it (no pacing, no request counting, no
/// timeouts): what the SDK alone costs.
async fn plain_sdk_path(
    client: aws_sdk_s3::Client,
    keys: Arc<Vec<String>>,
    concurrency: usize,
) -> usize {
    futures::stream::iter(keys.iter())
        .map(|key| {
            let client = client.clone();
            async move { s3::head_object(&client, "bench", key).await.is_ok() }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

/// The prototype: SigV4 by `aws-sigv4`, HTTP/1.1 by hyper-util's pooled client.
struct Raw {
    client: Client<HttpConnector, Empty<Bytes>>,
    endpoint: String,
    host: String,
    identity: Identity,
}

impl Raw {
    async fn head(&self, bucket: &str, key: &str) -> Option<ObjectHead> {
        let uri = format!(
            "{}/{bucket}/{}",
            self.endpoint,
            utf8_percent_encode(key, KEY)
        );
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(LAB_REGION)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .ok()?
            .into();
        let signable = SignableRequest::new(
            "HEAD",
            uri.as_str(),
            [("host", self.host.as_str())].into_iter(),
            SignableBody::Precomputed(EMPTY_SHA256.to_owned()),
        )
        .ok()?;
        let (instructions, _) = sign(signable, &params).ok()?.into_parts();
        let mut request = http::Request::head(uri.as_str())
            .body(Empty::<Bytes>::new())
            .ok()?;
        instructions.apply_to_request_http1x(&mut request);
        let response = self.client.request(request).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        Some(head_from_headers(key, response.headers()))
    }
}

/// The same snapshot `ObjectHead::from_sdk` builds, from the raw headers.
fn head_from_headers(key: &str, h: &http::HeaderMap) -> ObjectHead {
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut metadata = BTreeMap::new();
    for (name, value) in h {
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            if let Ok(value) = value.to_str() {
                metadata.insert(meta.to_owned(), value.to_owned());
            }
        }
    }
    ObjectHead {
        key: key.to_owned(),
        version_id: get("x-amz-version-id"),
        etag: get("etag"),
        content_length: get("content-length").and_then(|v| v.parse().ok()),
        content_type: get("content-type"),
        content_encoding: get("content-encoding"),
        cache_control: get("cache-control"),
        content_disposition: get("content-disposition"),
        content_language: get("content-language"),
        expires: get("expires"),
        metadata,
        missing_meta: get("x-amz-missing-meta").and_then(|v| v.parse().ok()),
        storage_class: get("x-amz-storage-class"),
        archive_status: get("x-amz-archive-status"),
        restore: get("x-amz-restore"),
        website_redirect_location: get("x-amz-website-redirect-location"),
        server_side_encryption: get("x-amz-server-side-encryption"),
        ssekms_key_id: get("x-amz-server-side-encryption-aws-kms-key-id"),
        bucket_key_enabled: get("x-amz-server-side-encryption-bucket-key-enabled")
            .map(|v| v.eq_ignore_ascii_case("true")),
        sse_customer_algorithm: get("x-amz-server-side-encryption-customer-algorithm"),
        object_lock_mode: get("x-amz-object-lock-mode"),
        object_lock_retain_until_date: get("x-amz-object-lock-retain-until-date"),
        object_lock_legal_hold_status: get("x-amz-object-lock-legal-hold"),
        tag_count: get("x-amz-tagging-count").and_then(|v| v.parse().ok()),
        parts_count: get("x-amz-mp-parts-count").and_then(|v| v.parse().ok()),
    }
}

async fn raw_path(endpoint: String, keys: Arc<Vec<String>>, concurrency: usize) -> usize {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let raw = Arc::new(Raw {
        client: Client::builder(TokioExecutor::new()).build(connector),
        host: endpoint.trim_start_matches("http://").to_owned(),
        endpoint,
        identity: Credentials::new(LAB_ACCESS_KEY, LAB_SECRET_KEY, None, None, "bench").into(),
    });
    // The same bound on requests in flight as s3mend's pacing, without its adaptive limit.
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    futures::stream::iter(keys.iter())
        .map(|key| {
            let raw = raw.clone();
            let slots = slots.clone();
            async move {
                let _slot = slots.acquire().await.ok()?;
                raw.head("bench", key).await
            }
        })
        .buffer_unordered(concurrency)
        .filter(|head| std::future::ready(head.is_some()))
        .count()
        .await
}

fn main() {
    let mut objects = 20_000;
    let mut concurrency = 64;
    let mut latency_ms = 0;
    let mut jitter_ms = 0;
    let mut paths = vec!["sdk", "plain-sdk", "raw"];
    let mut pin = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--objects" => objects = value().parse().expect("--objects N"),
            "--concurrency" => concurrency = value().parse().expect("--concurrency N"),
            "--latency-ms" => latency_ms = value().parse().expect("--latency-ms MS"),
            "--jitter-ms" => jitter_ms = value().parse().expect("--jitter-ms MS"),
            "--path" => {
                let v = value();
                paths.retain(|p| v.split(',').any(|x| x == *p));
            }
            "--no-pin" => pin = false,
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    if pin {
        pin_this_thread(0);
    }
    let lab_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let lab = lab_runtime
        .block_on(Lab::start(LabConfig {
            latency: Duration::from_millis(latency_ms),
            // Uniform around the latency: real round trips vary, so requests do not stay in the
            // lock-step waves a fixed latency keeps them in.
            latency_dist: (jitter_ms > 0).then(|| LatencyDist::Uniform {
                min: Duration::from_millis(latency_ms.saturating_sub(jitter_ms)),
                max: Duration::from_millis(latency_ms + jitter_ms),
            }),
            ..LabConfig::default()
        }))
        .unwrap();
    Objects {
        count: objects,
        bad_every: 10,
    }
    .seed(&lab, "bench", None);
    let keys: Arc<Vec<String>> = Arc::new((0..objects).map(Objects::key).collect());
    println!(
        "HEAD {objects} objects, concurrency {concurrency}, latency {latency_ms} ms ± {jitter_ms} ms"
    );
    for path in paths {
        let endpoint = lab.endpoint();
        let keys = keys.clone();
        let plain = s3mend::lab::client(&lab);
        lab.reset_stats();
        let client = std::thread::spawn(move || {
            if pin {
                pin_this_thread(1);
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let cpu = thread_cpu();
            let start = Instant::now();
            let ok = runtime.block_on(async move {
                match path {
                    "sdk" => sdk_path(endpoint, keys, concurrency).await,
                    "plain-sdk" => plain_sdk_path(plain, keys, concurrency).await,
                    _ => raw_path(endpoint, keys, concurrency).await,
                }
            });
            (ok, start.elapsed(), thread_cpu() - cpu)
        });
        let (ok, wall, cpu) = client.join().expect("client thread");
        assert_eq!(ok, objects, "{path}: every HEAD must succeed");
        println!(
            "  {:<32} {:>6.1} µs CPU/HEAD   {:>7.0} HEAD/s   lab adds {:>5.0} µs/request",
            match path {
                "sdk" => "aws-sdk-s3 (s3mend today)",
                "plain-sdk" => "aws-sdk-s3, default client",
                _ => "aws-sigv4 + hyper (prototype)",
            },
            cpu.as_secs_f64() * 1e6 / objects as f64,
            objects as f64 / wall.as_secs_f64(),
            lab.stats().server_time_per_request().as_secs_f64() * 1e6
        );
    }
    lab_runtime.block_on(lab.shutdown());
}
