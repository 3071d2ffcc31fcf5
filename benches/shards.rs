//! Very large buckets: `--shard I/N` and `--inventory` against the lab, with the release binary.
//!
//! ```sh
//! cargo bench --bench shards -- [--objects N] [--latency-ms MS] [--listing-objects N]
//!                               [--only shards|skew|listing]
//! ```
//! 1. `shards`: one process at `--concurrency 128` against four `--shard i/4` processes at
//!    `--concurrency 32` each, started together on this machine (the same total concurrency),
//!    over `--objects` (100,000) at `--latency-ms` (20): wall time, requests, the objects each
//!    shard took.
//! 2. `skew`: how evenly four shards split a bucket whose units are Zipf-sized (unit k of 200
//!    holds ∝ 1/k of the keys) and the even benchmark bucket, without and with an inventory.
//! 3. `listing`: listing `--listing-objects` (1,000,000) keys against reading them from an
//!    inventory of 10 data files, at the same latency (`--include` matches nothing, so nothing
//!    is HEADed: what is measured is getting the keys).

mod support;

use clap::Parser;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use s3mend_lab::{
    InventorySpec, Lab, LabConfig, ObjectSeed, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY,
};
use support::{run_measured, Measured, Objects};

/// The options in the header above; `--bench` is cargo's.
#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    objects: usize,
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    #[arg(long, default_value_t = 1_000_000)]
    listing_objects: usize,
    #[arg(long)]
    only: Option<String>,
    #[arg(long, hide = true)]
    bench: bool,
}

fn s3mend(lab: &Lab, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3mend"));
    command
        .args(args)
        .args(["--no-progress", "--format", "json"])
        .env("AWS_ENDPOINT_URL", lab.endpoint())
        .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
        .env("AWS_REGION", LAB_REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdout(Stdio::null());
    command
}

/// `listed` of a JSON report.
fn listed(report: &Path) -> u64 {
    let text = std::fs::read_to_string(report).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    json["summary"]["listed"].as_u64().unwrap_or(0)
}

fn publish(lab: &Lab, bucket: &str, files: usize) -> String {
    lab.create_bucket("inventory");
    let key = lab.handle().publish_inventory(
        bucket,
        &InventorySpec {
            destination: "inventory".into(),
            prefix: format!("{bucket}/daily/2026-11-27T01-00Z"),
            files,
            versions: false,
        },
    );
    format!("s3://inventory/{key}")
}

/// Four shards of `bucket` at once, each with `concurrency`: the wall time of the slowest, and
/// how many objects each took.
fn four_shards(
    lab: &Lab,
    bucket: &str,
    concurrency: &str,
    extra: &[&str],
    dir: &Path,
) -> (Duration, Vec<u64>) {
    let target = format!("s3://{bucket}/");
    let start = Instant::now();
    let children: Vec<_> = (1..=4)
        .map(|i| {
            let report = dir.join(format!("{bucket}-{i}.json"));
            let shard = format!("{i}/4");
            let mut command = s3mend(lab, &["scan", &target, "--shard", &shard]);
            command
                .args([
                    "--concurrency",
                    concurrency,
                    "--output",
                    report.to_str().unwrap(),
                ])
                .args(extra);
            std::thread::spawn(move || run_measured(&mut command, None))
        })
        .collect();
    let measured: Vec<Measured> = children.into_iter().map(|c| c.join().unwrap()).collect();
    let wall = start.elapsed();
    for m in &measured {
        assert!(m.code <= 1, "a shard failed: exit {}", m.code);
    }
    let per_shard = (1..=4)
        .map(|i| listed(&dir.join(format!("{bucket}-{i}.json"))))
        .collect();
    (wall, per_shard)
}

fn shares(per_shard: &[u64]) -> String {
    let total: u64 = per_shard.iter().sum();
    let mean = total as f64 / per_shard.len() as f64;
    let max = per_shard.iter().copied().max().unwrap_or(0) as f64;
    format!(
        "{} (largest {:.2}× the mean)",
        per_shard
            .iter()
            .map(|n| format!("{:.1} %", 100.0 * *n as f64 / total.max(1) as f64))
            .collect::<Vec<_>>()
            .join(" / "),
        max / mean.max(1.0)
    )
}

fn shards(lab: &Lab, args: &Args, dir: &Path) {
    Objects {
        count: args.objects,
        bad_every: 10,
    }
    .seed(lab, "bench", None);
    lab.reset_stats();
    let one = run_measured(
        &mut s3mend(
            lab,
            &[
                "scan",
                "s3://bench/",
                "--concurrency",
                "128",
                "--output",
                "/dev/null",
            ],
        ),
        None,
    );
    let one_requests = lab.stats().total();
    lab.reset_stats();
    let (wall, per_shard) = four_shards(lab, "bench", "32", &[], dir);
    let four_requests = lab.stats().total();
    println!(
        "shards: {} objects, {} ms latency",
        args.objects, args.latency_ms
    );
    println!("| run | wall | objects/s | requests |");
    println!("|---|---|---|---|");
    println!(
        "| one process, --concurrency 128 | {:.1} s | {:.0} | {one_requests} |",
        one.wall.as_secs_f64(),
        args.objects as f64 / one.wall.as_secs_f64()
    );
    println!(
        "| four --shard i/4 processes, --concurrency 32 each | {:.1} s | {:.0} | {four_requests} |",
        wall.as_secs_f64(),
        args.objects as f64 / wall.as_secs_f64()
    );
    println!("objects per shard: {}", shares(&per_shard));
}

fn skew(lab: &Lab, dir: &Path) {
    // 200 units of Zipf sizes: unit k holds ∝ 1/k of 100,000 keys.
    let harmonic: f64 = (1..=200).map(|k| 1.0 / k as f64).sum();
    lab.create_bucket("skewed");
    let mut total = 0;
    for k in 1..=200usize {
        let n = (100_000.0 / harmonic / k as f64).round().max(1.0) as usize;
        for i in 0..n {
            lab.put_object(
                "skewed",
                &format!("data/unit-{k:03}/part-{i:06}.json"),
                ObjectSeed {
                    body: bytes::Bytes::from_static(b"{}"),
                    content_type: Some("application/json".into()),
                    ..ObjectSeed::default()
                },
            );
        }
        total += n;
    }
    let inventory = publish(lab, "skewed", 3);
    lab.set_latency(Duration::ZERO);
    println!(
        "skew: {total} keys in 200 units of Zipf sizes (the largest {:.0} keys)",
        100_000.0 / harmonic
    );
    let (_, by_unit) = four_shards(lab, "skewed", "128", &[], dir);
    println!("without inventory (by unit): {}", shares(&by_unit));
    let (_, by_key) = four_shards(lab, "skewed", "128", &["--inventory", &inventory], dir);
    println!("with an inventory of 3 files (by key): {}", shares(&by_key));
}

fn listing(lab: &Lab, args: &Args, latency: Duration) {
    lab.set_latency(Duration::ZERO);
    Objects {
        count: args.listing_objects,
        bad_every: 10,
    }
    .seed(lab, "million", None);
    let inventory = publish(lab, "million", 10);
    lab.set_latency(latency);
    let mut rows = Vec::new();
    for (what, extra) in [
        ("ListObjectsV2", vec![]),
        (
            "--inventory (10 files)",
            vec!["--inventory", inventory.as_str()],
        ),
    ] {
        lab.reset_stats();
        let mut command = s3mend(
            lab,
            &[
                "scan",
                "s3://million/",
                "--include",
                "none",
                "--output",
                "/dev/null",
            ],
        );
        command.args(&extra);
        let m = run_measured(&mut command, None);
        assert_eq!(m.code, 0, "{what}");
        let stats = lab.stats();
        rows.push((
            what,
            m,
            stats.total(),
            stats.count("ListObjectsV2"),
            stats.count("GetObject"),
        ));
    }
    println!(
        "listing: {} keys, {} ms latency",
        args.listing_objects, args.latency_ms
    );
    println!("| keys from | wall | keys/s | requests (ListObjectsV2 / GetObject) | client CPU | peak RSS |");
    println!("|---|---|---|---|---|---|");
    for (what, m, total, lists, gets) in rows {
        println!(
            "| {what} | {:.2} s | {:.0} | {total} ({lists} / {gets}) | {:.2} s | {} MiB |",
            m.wall.as_secs_f64(),
            args.listing_objects as f64 / m.wall.as_secs_f64(),
            m.cpu.as_secs_f64(),
            m.peak_rss_kib / 1024
        );
    }
}

fn main() {
    let args = Args::parse();
    let latency = Duration::from_millis(args.latency_ms);
    let runtime = support::lab_runtime();
    let lab = runtime
        .block_on(Lab::start(LabConfig {
            latency,
            ..LabConfig::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let only = args.only.as_deref();
    if only.is_none_or(|o| o == "shards") {
        shards(&lab, &args, dir.path());
    }
    if only.is_none_or(|o| o == "skew") {
        skew(&lab, dir.path());
        lab.set_latency(latency);
    }
    if only.is_none_or(|o| o == "listing") {
        listing(&lab, &args, latency);
    }
}
