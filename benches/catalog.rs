//! The nightly run with `--catalog`: the release binary scans a lab bucket three times — the
//! first run (every object HEADed, the catalog written), the second over the unchanged bucket
//! (only LISTs), the third after `--changed-percent` of the objects were rewritten (exactly
//! those HEADed) — and reports requests by operation, wall time and peak RSS for each.
//!
//! ```sh
//! cargo bench --bench catalog -- [--objects N] [--latency-ms MS] [--changed-percent P]
//!                                [--wrap 'perf record -g']
//! ```
//! `--wrap` runs the second scan (the one served from the catalog) under a profiler.
//! Targets (issue "Cron at scale"): the second run sends ≥ 100× fewer requests than the first,
//! all of them ListObjectsV2 but the bucket check, and finishes ≥ 20× faster; the third HEADs
//! exactly the changed objects; peak RSS stays flat from 100k to 1M objects. Checked here, never
//! in timed tests.

mod support;

use clap::Parser;
use std::process::{Command, Stdio};
use std::time::Duration;

use s3mend_lab::{
    Lab, LabConfig, LabStats, ObjectSeed, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY,
};
use support::{run_measured, Measured, Objects};

/// The options in the header above; `--bench` is cargo's.
#[derive(clap::Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    objects: usize,
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    #[arg(long, default_value_t = 1.0)]
    changed_percent: f64,
    #[arg(long)]
    wrap: Option<String>,
    #[arg(long, hide = true)]
    bench: bool,
}

/// One scan with the catalog; what it cost, as the lab counted it.
fn scan(lab: &Lab, catalog: &std::path::Path, wrap: Option<&str>) -> (Measured, LabStats) {
    lab.reset_stats();
    let mut command = match wrap {
        None => Command::new(env!("CARGO_BIN_EXE_s3mend")),
        Some(wrap) => {
            let mut words = wrap.split_whitespace();
            let mut command = Command::new(words.next().expect("--wrap names a command"));
            command.args(words).arg(env!("CARGO_BIN_EXE_s3mend"));
            command
        }
    };
    let measured = run_measured(
        command
            .args(["scan", "s3://bench/", "--no-progress", "--format", "jsonl"])
            .args(["--catalog", catalog.to_str().unwrap()])
            .args(["--output", "/dev/null"])
            .env("AWS_ENDPOINT_URL", lab.endpoint())
            .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
            .env("AWS_REGION", LAB_REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .stdout(Stdio::null()),
        None,
    );
    assert_eq!(measured.code, 1, "the bucket has findings");
    (measured, lab.stats())
}

fn line(what: &str, (m, stats): &(Measured, LabStats)) {
    println!(
        "| {what} | {} | {} | {} | {:.2} s | {} MiB |",
        stats.total(),
        stats.count("ListObjectsV2"),
        stats.count("HeadObject"),
        m.wall.as_secs_f64(),
        m.peak_rss_kib / 1024
    );
}

fn main() {
    let args = Args::parse();
    let runtime = support::lab_runtime();
    let lab = runtime
        .block_on(Lab::start(LabConfig {
            latency: Duration::from_millis(args.latency_ms),
            ..LabConfig::default()
        }))
        .unwrap();
    Objects {
        count: args.objects,
        bad_every: 10,
    }
    .seed(&lab, "bench", None);
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("bench.catalog.jsonl.gz");

    let first = scan(&lab, &catalog, None);
    let size = std::fs::metadata(&catalog).map_or(0, |m| m.len());
    let second = scan(&lab, &catalog, args.wrap.as_deref());
    let every = (100.0 / args.changed_percent).round().max(1.0) as usize;
    let mut changed = 0;
    for i in (0..args.objects).step_by(every) {
        lab.put_object(
            "bench",
            &Objects::key(i),
            ObjectSeed {
                body: bytes::Bytes::from(format!("<html>changed {i}</html>")),
                content_type: Some("text/html".into()),
                content_encoding: Some("UTF-8".into()),
                ..ObjectSeed::default()
            },
        );
        changed += 1;
    }
    let third = scan(&lab, &catalog, None);

    println!(
        "catalog: {} objects, {} ms latency; catalog file {:.1} MiB",
        args.objects,
        args.latency_ms,
        size as f64 / (1 << 20) as f64
    );
    println!("| run | requests | ListObjectsV2 | HeadObject | wall | peak RSS |");
    println!("|---|---|---|---|---|---|");
    line("first (writes the catalog)", &first);
    line("second (unchanged)", &second);
    line(&format!("third ({changed} objects changed)"), &third);
    let fewer = first.1.total() as f64 / second.1.total().max(1) as f64;
    let faster = first.0.wall.as_secs_f64() / second.0.wall.as_secs_f64();
    println!(
        "second run: {fewer:.0}× fewer requests, {faster:.1}× faster; third run HEADed {} of {changed} changed",
        third.1.count("HeadObject")
    );
    let only_lists = second.1.total() == second.1.count("ListObjectsV2") + 1;
    println!(
        "targets: ≥ 100× fewer {}, ≥ 20× faster {}, only LISTs {}, exactly the changed HEADed {}",
        fewer >= 100.0,
        faster >= 20.0,
        only_lists,
        third.1.count("HeadObject") == changed
    );
}
