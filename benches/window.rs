//! The race window a fix leaves, measured on the server's side: for each repaired object, how long
//! after s3mend's last HEAD of it, and after its ACL read, its CopyObject arrived at the lab. A
//! write landing in that time, in a bucket without versioning, is what a repair can still
//! overwrite when it changes neither the ETag (same bytes) nor anything HEAD shows (an ACL); the
//! README's "What s3mend guarantees" quotes these figures.
//!
//! ```sh
//! cargo bench --bench window -- [--objects N] [--latency-ms MS] [--concurrency N] [--recheck-after D] [--public]
//! ```
//! Every object has the finding; `--public` gives each a public-read ACL (the copy then carries
//! grants). Reports p50, p90, p99 and the maximum, in milliseconds.

mod support;

use clap::Parser;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use s3mend_lab::{Lab, LabConfig, ObjectSeed, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use support::{run_measured, Objects};

/// The options in the header above; `--bench` is cargo's.
#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 2000)]
    objects: usize,
    #[arg(long, default_value_t = 10)]
    latency_ms: u64,
    #[arg(long, default_value_t = usize::from(s3mend::cli::DEFAULT_CONCURRENCY))]
    concurrency: usize,
    #[arg(long, default_value = "1s")]
    recheck_after: String,
    #[arg(long)]
    public: bool,
    #[arg(long, hide = true)]
    bench: bool,
}

/// Milliseconds at the given quantiles of `samples` (sorted here), and the maximum.
fn quantiles(samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n = {})",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        samples.len()
    )
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
    lab.create_bucket("bench");
    for i in 0..args.objects {
        lab.put_object(
            "bench",
            &Objects::key(i),
            ObjectSeed {
                body: bytes::Bytes::from_static(b"<html></html>"),
                content_type: Some("text/html".into()),
                content_encoding: Some("UTF-8".into()),
                acl: args.public.then(|| "public-read".to_owned()),
                ..ObjectSeed::default()
            },
        );
    }
    let journal = std::env::temp_dir().join(format!("s3mend-window-{}.jsonl", std::process::id()));
    lab.record_arrivals(true);
    let measured = run_measured(
        Command::new(env!("CARGO_BIN_EXE_s3mend"))
            .args([
                "fix",
                "s3://bench/",
                "--yes",
                "--no-progress",
                "--format",
                "jsonl",
            ])
            .args(["--journal", journal.to_str().unwrap()])
            .args(["--concurrency", &args.concurrency.to_string()])
            .args(["--recheck-after", &args.recheck_after])
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
    let _ = std::fs::remove_file(&journal);
    assert_eq!(measured.code, 0, "the fix repaired everything");

    // Per key, the last HEAD and ACL read before its copy.
    let mut last_head: HashMap<String, Instant> = HashMap::new();
    let mut last_acl: HashMap<String, Instant> = HashMap::new();
    let (mut head_to_copy, mut acl_to_copy) = (Vec::new(), Vec::new());
    for arrival in lab.take_arrivals() {
        let Some(key) = arrival.key else { continue };
        match arrival.operation.as_str() {
            "HeadObject" => {
                last_head.insert(key, arrival.at);
            }
            "GetObjectAcl" => {
                last_acl.insert(key, arrival.at);
            }
            "CopyObject" => {
                if let Some(head) = last_head.get(&key) {
                    head_to_copy.push(arrival.at - *head);
                }
                if let Some(acl) = last_acl.get(&key) {
                    acl_to_copy.push(arrival.at - *acl);
                }
            }
            _ => {}
        }
    }
    println!(
        "window: {} objects, {} ms latency, concurrency {}, --recheck-after {}{}; fix took {:.2} s",
        args.objects,
        args.latency_ms,
        args.concurrency,
        args.recheck_after,
        if args.public { ", public objects" } else { "" },
        measured.wall.as_secs_f64()
    );
    println!(
        "last HEAD -> copy arrives: {}",
        quantiles(&mut head_to_copy)
    );
    println!("ACL read  -> copy arrives: {}", quantiles(&mut acl_to_copy));
}
