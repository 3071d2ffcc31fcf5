//! Scan benchmark: the release binary against the in-process lab with injected latency.
//!
//! ```sh
//! cargo bench --bench scan -- [--command scan|fix] [--bad-every N] [--objects N] [--latency-ms MS] [--concurrency N] [--format F] [--include GLOB]
//!                             [--wrap 'heaptrack' | --wrap 'perf record -g']
//! ```
//! Reports objects/s, the ratio to the physical limit (concurrency ÷ latency), client CPU per
//! object (user + sys of the s3mend process), its peak RSS, and TCP connections versus requests
//! as the lab counted them. Targets are checked here, never in timed tests.

mod support;

use clap::Parser;
use std::process::{Command, Stdio};
use std::time::Duration;

use s3mend_lab::{Lab, LabConfig, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use support::{own_cpu, run_measured, Objects};

/// The options in the header above; `--bench` is cargo's.
#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 5000)]
    objects: usize,
    #[arg(long, default_value_t = 10)]
    latency_ms: u64,
    #[arg(long, default_value_t = usize::from(s3mend::cli::DEFAULT_CONCURRENCY))]
    concurrency: usize,
    #[arg(long, default_value = "jsonl")]
    format: String,
    /// One object in this many has a finding.
    #[arg(long, default_value_t = 10)]
    bad_every: usize,
    /// `scan`, or `fix` (one object in `--bad-every` has a finding; the fix repairs them).
    #[arg(long, default_value = "scan")]
    command: String,
    /// A profiler to run s3mend under, e.g. `heaptrack` or `perf record -g` (whitespace-split).
    #[arg(long)]
    wrap: Option<String>,
    /// Passed to s3mend's `--include`: keys that do not match are listed but not HEADed, so
    /// `--include none` measures the listing alone.
    #[arg(long)]
    include: Option<String>,
    #[arg(long, hide = true)]
    bench: bool,
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
        bad_every: args.bad_every,
    }
    .seed(&lab, "bench", None);
    lab.reset_stats();

    let lab_cpu_before = own_cpu();
    let journal = std::path::PathBuf::from(
        std::env::var("S3MEND_BENCH_JOURNAL_DIR")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .join(format!("s3mend-bench-{}.journal", std::process::id()));
    let output = std::env::temp_dir().join(format!("s3mend-bench-{}.out", std::process::id()));
    let mut command = match &args.wrap {
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
            .args([
                args.command.as_str(),
                "s3://bench/",
                "--no-progress",
                "--format",
                &args.format,
            ])
            .args(if args.command == "fix" {
                vec!["--yes", "--journal", journal.to_str().unwrap()]
            } else {
                vec![]
            })
            .args(["--concurrency", &args.concurrency.to_string()])
            .args(
                args.include
                    .iter()
                    .flat_map(|glob| ["--include", glob.as_str()]),
            )
            .args(["--output", output.to_str().unwrap()])
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
    let (code, wall, cpu, rss_kib) = (
        measured.code,
        measured.wall,
        measured.cpu,
        measured.peak_rss_kib,
    );
    let lab_cpu = own_cpu() - lab_cpu_before;
    let _ = std::fs::remove_file(&output);
    let _ = std::fs::remove_file(&journal);
    // Findings exit 1 (scan); a fix that repaired them, or a scan that HEADed nothing, exits 0.
    let expected = if args.command == "fix" || args.include.is_some() {
        0
    } else {
        1
    };
    assert_eq!(
        code, expected,
        "the {} must finish with exit {expected}",
        args.command
    );
    let stats = lab.stats();
    // A fix HEADs each repaired object once more, to verify it; its first copy is the probe of
    // the source condition, refused (412) before any repair.
    let verified = (stats.count("CopyObject") as usize).saturating_sub(1);
    let heads = stats.count("HeadObject") as usize;
    if args.include.is_none() {
        assert_eq!(heads, args.objects + verified);
    }
    println!(
        "  requests         {heads} HeadObject, {} ListObjectsV2",
        stats.count("ListObjectsV2")
    );

    let rate = args.objects as f64 / wall.as_secs_f64();
    let limit = if args.latency_ms == 0 {
        f64::INFINITY
    } else {
        args.concurrency as f64 * 1000.0 / args.latency_ms as f64
    };
    println!(
        "{} objects={} latency={}ms concurrency={} format={}",
        args.command, args.objects, args.latency_ms, args.concurrency, args.format
    );
    if args.command == "fix" {
        println!(
            "  repaired         {} ({:.0} repairs/s; each: GetObjectAcl, CopyObject, HeadObject)",
            stats.count("CopyObject"),
            stats.count("CopyObject") as f64 / wall.as_secs_f64()
        );
    }
    println!("  wall             {:.2} s", wall.as_secs_f64());
    println!("  throughput       {rate:.0} objects/s");
    if limit.is_finite() {
        println!(
            "  of the limit     {:.0} % of concurrency ÷ latency = {limit:.0}/s",
            100.0 * rate / limit
        );
    }
    println!(
        "  client CPU       {:.1} µs/object (user+sys {:.2} s)",
        cpu.as_secs_f64() * 1e6 / args.objects as f64,
        cpu.as_secs_f64()
    );
    println!(
        "  lab CPU          {:.1} µs/object (same machine, same cores)",
        lab_cpu.as_secs_f64() * 1e6 / args.objects as f64
    );
    println!("  peak RSS         {:.1} MiB", rss_kib as f64 / 1024.0);
    println!(
        "  connections      {} for {} requests",
        stats.connections,
        stats.total()
    );
    runtime.block_on(lab.shutdown());
}
