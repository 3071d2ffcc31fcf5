//! What one HEAD costs the client, by request path: through aws-sdk-s3 (the client `s3::connect`
//! builds, through `s3::head_object`), through a default SDK client, and through `s3::Heads`,
//! the scan's path around the SDK's request pipeline (signed with `aws-sigv4`, sent through the
//! same paced connector).
//!
//! ```sh
//! cargo bench --bench head_path -- [--objects N] [--concurrency N] [--latency-ms MS] [--jitter-ms MS] [--path sdk,plain-sdk,heads] [--no-pin]
//! ```
//! All run on one thread (a current-thread runtime, mimalloc, as the s3mend binary), pinned to
//! CPU 1 with the lab on CPU 0 when there are two CPUs; client CPU is that thread's CPU time.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use s3mend::s3::{self, Addressing, ConnectOptions};
use s3mend_lab::{Lab, LabConfig, LatencyDist, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use support::Objects;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// The client as a scan builds it.
async fn connect(endpoint: String, concurrency: usize) -> s3::Connection {
    s3::connect(
        &ConnectOptions {
            endpoint_url: Some(endpoint),
            region: Some(LAB_REGION.to_owned()),
            profile: None,
            addressing: Addressing::Path,
            static_credentials: Some((LAB_ACCESS_KEY.to_owned(), LAB_SECRET_KEY.to_owned())),
            max_attempts: Some(s3::DEFAULT_MAX_ATTEMPTS),
            retry_mode: None,
            attempt_timeout: s3::DEFAULT_ATTEMPT_TIMEOUT,
            max_in_flight: concurrency,
            max_rps: None,
            fast_head: true,
            conventions: Default::default(),
            tls: Default::default(),
        },
        "bench",
    )
    .await
    .expect("connect")
}

/// Every HEAD through `client`: the SDK client as a scan builds it, or one with nothing of
/// s3mend's around it (no pacing, no request counting, no timeouts), for what the SDK alone costs.
async fn sdk_path(client: aws_sdk_s3::Client, keys: Arc<Vec<String>>, concurrency: usize) -> usize {
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

/// s3mend's scan path: `s3::Heads`, which learns from the SDK's first HEAD and sends the rest
/// around the SDK's request pipeline.
async fn heads_path(endpoint: String, keys: Arc<Vec<String>>, concurrency: usize) -> usize {
    let connection = connect(endpoint, concurrency).await;
    let heads = connection.heads;
    let ok = futures::stream::iter(keys.iter())
        .map(|key| {
            let heads = heads.clone();
            async move { heads.head("bench", key).await.is_ok() }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    // While the first HEAD teaches the URL, the others in flight go through the SDK.
    let (answered, _) = heads.counts();
    assert!(answered as usize + concurrency >= ok, "{answered} of {ok}");
    ok
}

/// The options in the header above; `--bench` is cargo's.
#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 20_000)]
    objects: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// The paths to measure, of `sdk`, `plain-sdk` and `heads`, in that order.
    #[arg(long, value_delimiter = ',', default_value = "sdk,plain-sdk,heads")]
    path: Vec<String>,
    #[arg(long)]
    no_pin: bool,
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    let (objects, concurrency, latency_ms, jitter_ms) = (
        args.objects,
        args.concurrency,
        args.latency_ms,
        args.jitter_ms,
    );
    let mut paths = vec!["sdk", "plain-sdk", "heads"];
    paths.retain(|p| args.path.iter().any(|x| x == p));
    let pin = !args.no_pin && std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if pin {
        pin_this_thread(0);
    }
    let lab_runtime = support::lab_runtime();
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
        let plain = s3mend_lab::client(&lab);
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
                    "sdk" => {
                        let client = connect(endpoint, concurrency).await.client;
                        sdk_path(client, keys, concurrency).await
                    }
                    "plain-sdk" => sdk_path(plain, keys, concurrency).await,
                    _ => heads_path(endpoint, keys, concurrency).await,
                }
            });
            (ok, start.elapsed(), thread_cpu() - cpu)
        });
        let (ok, wall, cpu) = client.join().expect("client thread");
        assert_eq!(ok, objects, "{path}: every HEAD must succeed");
        println!(
            "  {:<32} {:>6.1} µs CPU/HEAD   {:>7.0} HEAD/s   lab adds {:>5.0} µs/request",
            match path {
                "sdk" => "aws-sdk-s3, s3mend's client",
                "plain-sdk" => "aws-sdk-s3, default client",
                _ => "s3::Heads (the scan's path)",
            },
            cpu.as_secs_f64() * 1e6 / objects as f64,
            objects as f64 / wall.as_secs_f64(),
            lab.stats().server_time_per_request().as_secs_f64() * 1e6
        );
    }
    lab_runtime.block_on(lab.shutdown());
}
