//! Command-line arguments (clap derive only). Doc comments become the help text; flag names follow
//! the AWS CLI where one exists. Validation into working settings happens in `config`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::SkipReason;
use crate::report::{FailOn, Format};
use crate::s3::Addressing;

/// `--concurrency` unless given: requests kept in flight. On one core the client's CPU caps a
/// scan near 10,000 HEAD/s; 128 reaches about 5,900/s at a 20 ms round trip (92 % of 128 ÷ 20 ms,
/// against 3,070/s at 64), and AIMD pacing cuts it when S3 answers SlowDown (README
/// "Performance").
pub const DEFAULT_CONCURRENCY: u16 = 128;

const EXIT_CODES: &str = "\
Exit codes:
  0    no findings
  1    findings reported
  2    error: bad usage, no access, or an object that could not be inspected
  130  interrupted (Ctrl-C); the partial report is written and marked incomplete
  143  stopped by SIGTERM, as gracefully";

const FIX_EXIT_CODES: &str = "\
Exit codes:
  0    every finding repaired (or none)
  1    findings left: skipped, conflicts, or --dry-run
  2    error: bad usage, no access, an object that could not be inspected or repaired
  130  interrupted (Ctrl-C); copies in flight finish, the journal and report are written
  143  stopped by SIGTERM, as gracefully";

/// The help headings every flag is under (a test checks that none is left without one). The
/// positional argument of scan, fix and undo is under `Target`; `AWS` holds the flags the AWS CLI
/// has too, which take no `S3MEND_` variable (`command.rs`).
pub const TARGET: &str = "Target";
pub const SELECTION: &str = "Selection";
pub const OUTPUT: &str = "Output";
pub const PERFORMANCE: &str = "Performance";
pub const SAFETY: &str = "Safety";
pub const AWS: &str = "AWS";

/// Find and losslessly repair bad S3 object metadata in place.
///
/// s3mend walks a bucket, HEADs every object and reports metadata that is wrong, such as the charset
/// names s3cmd 1.5.0-alpha wrote into Content-Encoding.
#[derive(Debug, Parser)]
#[command(
    name = "s3mend",
    // -V: one line; --version adds what a bug report needs (build.rs).
    version = env!("S3MEND_VERSION"),
    long_version = concat!(
        env!("S3MEND_VERSION"),
        "\ntarget ",
        env!("S3MEND_TARGET"),
        "\n",
        env!("S3MEND_RUSTC"),
    ),
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log output on stderr: -v info, -vv debug, -vvv trace.
    // The global flags come last under Output, after each command's own.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = OUTPUT, display_order = 900)]
    pub verbose: u8,

    /// Format of log lines on stderr.
    #[arg(long, value_enum, default_value_t, global = true, help_heading = OUTPUT, display_order = 901)]
    pub log_format: LogFormat,

    /// Colour in the table, the logs and the help (never in a file given to --output).
    #[arg(long, value_enum, default_value_t, global = true, value_name = "WHEN", help_heading = OUTPUT, display_order = 902)]
    pub color: ColorWhen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report objects whose metadata is wrong (read-only).
    #[command(after_help = EXIT_CODES)]
    Scan(ScanArgs),
    /// Repair what scan finds, losslessly, with a conditional in-place copy per object.
    #[command(after_help = FIX_EXIT_CODES)]
    Fix(FixArgs),
    /// Put back the metadata a fix changed, from its journal (or the journals of its shards).
    #[command(after_help = FIX_EXIT_CODES)]
    Undo(UndoArgs),
    /// Perform a reviewed plan (`fix --dry-run --plan PLAN`) exactly, with no listing: each
    /// object only if it is still as planned.
    Apply(ApplyArgs),
    /// Combine the JSON reports of a sharded run (--shard I/N) into one report, in any format.
    Merge(MergeArgs),
    /// Start an embedded S3 server seeded with a broken static site, then scan, fix and scan it
    /// again. No AWS account or network needed.
    Demo(DemoArgs),
    /// Check a --policy file, or show which of its blocks applies to given keys. Sends nothing.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print a completion script for a shell, e.g. `s3mend completions bash >
    /// /etc/bash_completion.d/s3mend` (README "Shell completions and man page").
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `s3mend man | man -l -`; with a command, its own page.
    Man {
        /// The command whose page to print, e.g. `scan` or `policy check` (default: s3mend's
        /// own, which lists them).
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file: every mistake is one line with its line and column (exit 2).
    Check {
        /// The policy file (TOML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// For each key, the [[match]] block that applies to it and what it sets.
    Explain {
        /// The policy file (TOML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Object keys, as in the bucket.
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// What to scan: s3://BUCKET or s3://BUCKET/PREFIX.
    #[arg(value_name = "S3_URL", help_heading = TARGET)]
    pub target: String,

    /// Only keys matching this glob (repeatable; matched against the whole key, `*` crosses `/`).
    #[arg(long, value_name = "GLOB", help_heading = SELECTION)]
    pub include: Vec<String>,

    /// Skip keys matching this glob (repeatable; wins over --include).
    #[arg(long, value_name = "GLOB", help_heading = SELECTION)]
    pub exclude: Vec<String>,

    /// Rules to run, comma-separated: content-encoding, content-type, charset,
    /// encoding-mismatch, policy; `default` is content-encoding and content-type, and policy
    /// with --policy (`all` means the same, as before).
    #[arg(long, value_name = "LIST", default_value = "default", help_heading = SELECTION)]
    pub rules: Vec<String>,

    /// The headers each key pattern must have (TOML; see README "Policy"). Checked before the
    /// first request.
    #[arg(long, value_name = "FILE", env = "S3MEND_POLICY", help_heading = SELECTION)]
    pub policy: Option<PathBuf>,

    /// Never read an object's first bytes: Content-Encoding proposals then come from the headers
    /// alone, and encoding-mismatch finds nothing (saves one ranged GET per object concerned).
    #[arg(long, help_heading = SELECTION)]
    pub no_sniff: bool,

    /// Read the objects from this S3 Inventory report (s3://BUCKET/PATH/manifest.json; CSV, or
    /// Parquet when built with the `parquet` feature) instead of listing the bucket. Objects
    /// written after the inventory was taken are not seen.
    #[arg(long, value_name = "S3_URL", help_heading = SELECTION)]
    pub inventory: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub metrics: MetricsArgs,

    /// How many HEAD requests to keep in flight.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=1024), help_heading = PERFORMANCE)]
    pub concurrency: u16,

    /// Do part I of N of the run (I from 1 to N): N processes given 1/N, 2/N, ... N/N cover the bucket
    /// exactly once. `auto`: the part from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or
    /// AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job), which count from 0.
    #[arg(long, value_name = "I/N|auto", help_heading = PERFORMANCE)]
    pub shard: Option<String>,

    /// The number of shards of `--shard auto` (AWS Batch: AWS_BATCH_JOB_ARRAY_SIZE unless given).
    #[arg(long, value_name = "N", requires = "shard", value_parser = clap::value_parser!(u32).range(1..=100_000), help_heading = PERFORMANCE)]
    pub shard_count: Option<u32>,

    /// Keep a checkpoint in this file (rewritten atomically about once a second): the key up to
    /// which every object is done, for --resume.
    #[arg(long, value_name = "PATH", help_heading = PERFORMANCE)]
    pub state: Option<PathBuf>,

    /// Continue the run recorded in --state: list only keys after its checkpoint and, for a fix,
    /// settle the copies its journal shows in flight, appending to the same journal.
    #[arg(long, requires = "state", help_heading = PERFORMANCE)]
    pub resume: bool,

    /// Keep a catalog of every object in this file (gzip-compressed JSON Lines): the next run
    /// with it HEADs only the objects the listing shows changed. Replaced only by a complete run.
    #[arg(long, value_name = "PATH", env = "S3MEND_CATALOG", help_heading = PERFORMANCE)]
    pub catalog: Option<PathBuf>,

    /// Start the --catalog over: HEAD every object, and replace what the file holds.
    #[arg(long, requires = "catalog", help_heading = PERFORMANCE)]
    pub catalog_reset: bool,

    // Headings appear in the order of the fields. Last: a flattened struct's heading carries
    // over to the fields after it.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    #[command(flatten)]
    pub scan: ScanArgs,

    #[command(flatten)]
    pub write: WriteArgs,

    /// Rewrite objects larger than this with a multipart copy (CopyObject stops at 5 GiB).
    #[arg(long, value_name = "SIZE", default_value = "5GiB", value_parser = parse_size, help_heading = PERFORMANCE)]
    pub multipart_threshold: u64,

    /// HEAD an object again before its copy when its snapshot is older than this (0 = always),
    /// and leave it alone if anything changed; after the confirmation question, always.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_recheck_after, help_heading = SAFETY)]
    pub recheck_after: Duration,

    /// With --dry-run, also write the complete plan to PATH (one line per object: the snapshot
    /// it was made on, every change, everything the copy will send), to review and then perform
    /// exactly with `s3mend apply PATH`. Written only when the dry run is complete.
    #[arg(long, value_name = "PATH", requires = "dry_run", help_heading = SAFETY)]
    pub plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan `s3mend fix --dry-run --plan PLAN` wrote.
    #[arg(value_name = "PLAN", help_heading = TARGET)]
    pub from: PathBuf,

    /// The bucket (and prefix) the plan must be for: a check; a plan for another is refused.
    #[arg(value_name = "S3_URL", help_heading = TARGET)]
    pub target: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,

    /// How many objects to repair at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=1024), help_heading = PERFORMANCE)]
    pub concurrency: u16,

    #[command(flatten)]
    pub connect: ConnectArgs,

    // Last, as in fix and undo.
    #[command(flatten)]
    pub write: WriteArgs,
}

/// Undo gives these flags its own words (`command.rs`).
#[derive(Debug, Args)]
#[command(next_help_heading = SAFETY)]
pub struct WriteArgs {
    /// Show the exact plan per object (each header before and after, and everything re-sent);
    /// write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation (required when stdin is not a terminal, as in cron or CI).
    #[arg(short, long)]
    pub yes: bool,

    /// Journal of every change, for undo [default: ./s3mend-journal-<UTC timestamp>.jsonl].
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,

    /// Repair even on a server that ignores x-amz-copy-source-if-match (probed before the first
    /// copy), where a write made after s3mend's HEAD could be overwritten.
    #[arg(long)]
    pub allow_unconditional_copies: bool,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The journal a fix wrote; several for the journals of a sharded fix.
    #[arg(value_name = "JOURNAL", required = true, help_heading = TARGET)]
    pub from: Vec<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub metrics: MetricsArgs,

    /// How many objects to restore at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=1024), help_heading = PERFORMANCE)]
    pub concurrency: u16,

    #[command(flatten)]
    pub connect: ConnectArgs,

    // Last, as in fix, where it follows all of scan's flags.
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The reports to combine, each written with --format json or jsonl (one per shard).
    #[arg(value_name = "REPORT", required = true, help_heading = TARGET)]
    pub reports: Vec<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// `FORMAT=PATH` of `--also-format`.
fn parse_also_format(text: &str) -> Result<(Format, PathBuf), String> {
    let (format, path) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not FORMAT=PATH, e.g. json=report.json"))?;
    let format = Format::from_str(format, true).map_err(|_| {
        let known: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        format!("'{format}' is not a report format ({})", known.join(", "))
    })?;
    if path.is_empty() {
        return Err(format!(
            "'{text}' names no file: use FORMAT=PATH, or FORMAT=- for stdout"
        ));
    }
    Ok((format, PathBuf::from(path)))
}

fn parse_region(text: &str) -> Result<String, String> {
    crate::s3::check_region(text)
        .map(|()| text.to_owned())
        .map_err(|e| e.to_string())
}

fn parse_size(text: &str) -> Result<u64, String> {
    parse_size::parse_size(text).map_err(|e| format!("'{text}' is not a size: {e}"))
}

/// Bounds of `--attempt-timeout`: below 100 ms even a healthy HEAD times out; above an hour a
/// stalled request is not worth waiting for.
const ATTEMPT_TIMEOUT_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(3600);

fn parse_attempt_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if ATTEMPT_TIMEOUT_RANGE.contains(&duration) {
        Ok(duration)
    } else {
        Err(format!("'{text}' is out of range: from 100ms to 1h"))
    }
}

/// `--recheck-after`: at most a minute, the promise the README makes stays narrow.
fn parse_recheck_after(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration <= Duration::from_secs(60) {
        Ok(duration)
    } else {
        Err(format!("'{text}' is out of range: from 0s to 1m"))
    }
}

/// A duration as humantime reads it (`30s`, `500ms`, `1.5s`, `2m`, `1m30s`, `1h 5m`), or a bare
/// number of seconds (`45`), which s3mend accepted before it used humantime and still does.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("'{text}' is not a duration: use a number and a unit, e.g. 30s, 500ms, 2m or 1m30s")
    };
    let trimmed = text.trim();
    let bare_number = !trimmed.is_empty()
        && trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && trimmed.bytes().any(|b| b.is_ascii_digit())
        && trimmed.matches('.').count() <= 1;
    if bare_number {
        let seconds: f64 = trimmed.parse().map_err(|_| bad())?;
        return Duration::try_from_secs_f64(seconds).map_err(|_| bad());
    }
    humantime::parse_duration(trimmed).map_err(|_| bad())
}

#[derive(Debug, Args)]
#[command(next_help_heading = AWS)]
pub struct ConnectArgs {
    /// S3 endpoint, for S3-compatible stores and local servers. Implies path-style addressing.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Region to sign for. When the server answers that the bucket is in another region and names
    /// it (x-amz-bucket-region, as AWS does), s3mend switches to that one.
    #[arg(long, value_parser = parse_region)]
    pub region: Option<String>,

    /// Named profile from the AWS config and credentials files.
    #[arg(long)]
    pub profile: Option<String>,

    /// Bucket addressing: path style with --endpoint-url, virtual-hosted against AWS.
    #[arg(long, value_enum, default_value_t)]
    pub addressing_style: Addressing,

    /// Attempts per request, retries included (with exponential backoff, also on 503 SlowDown)
    /// [default: AWS_MAX_ATTEMPTS or the profile's max_attempts, else 10].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: Option<u32>,

    /// Retry mode: standard (exponential backoff) or adaptive (also a client-side rate limiter
    /// that slows down after throttling) [default: AWS_RETRY_MODE or the profile's retry_mode,
    /// else standard].
    #[arg(long, value_enum)]
    pub retry_mode: Option<RetryModeArg>,

    /// How long one attempt of a request may wait for its answer before it is given up and
    /// retried, e.g. 30s, 500ms, 2m (100ms to 1h). Copies of large objects get longer; the first
    /// request at most 10s, so an endpoint that never answers is a prompt error.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_attempt_timeout, help_heading = PERFORMANCE)]
    pub attempt_timeout: Duration,

    /// At most N requests per second, retries included (a token bucket over all requests).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000), help_heading = PERFORMANCE)]
    pub max_rps: Option<u32>,

    /// Send every HEAD, and every repair's CopyObject and GetObjectAcl, through the AWS SDK's
    /// own request pipeline, not s3mend's faster path around it (about 3.7 times less client
    /// CPU per HEAD): to rule that path out when reporting a bug.
    #[arg(long, env = "S3MEND_NO_FAST_HEAD", value_parser = clap::builder::FalseyValueParser::new(), help_heading = PERFORMANCE)]
    pub no_fast_head: bool,

    /// Agree to pay for the requests in a Requester Pays bucket (sent on every request that
    /// takes it, as x-amz-request-payer).
    #[arg(long, value_enum, value_name = "WHO")]
    pub request_payer: Option<RequestPayerArg>,

    /// The 12-digit AWS account id that must own the bucket: S3 refuses every request (403) to a
    /// bucket another account owns (x-amz-expected-bucket-owner on every request).
    #[arg(long, value_name = "ACCOUNT", value_parser = parse_account_id)]
    pub expected_bucket_owner: Option<String>,

    /// Trust the certificates in this PEM file (instead of the system's) to verify the
    /// endpoint's TLS certificate.
    #[arg(long, value_name = "PATH", env = "AWS_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,

    /// Do not verify the endpoint's TLS certificate (a warning is printed; wins over
    /// --ca-bundle): for a test server with a self-signed certificate only.
    #[arg(long)]
    pub no_verify_ssl: bool,
}

/// `--expected-bucket-owner`: an AWS account id is 12 digits.
fn parse_account_id(text: &str) -> Result<String, String> {
    if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "'{}' is not an AWS account id (12 digits, e.g. 111122223333)",
            text.escape_debug()
        ))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RequestPayerArg {
    /// The caller pays for the requests and the data transfer.
    Requester,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RetryModeArg {
    Standard,
    Adaptive,
}

#[derive(Debug, Args)]
#[command(next_help_heading = OUTPUT)]
pub struct OutputArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,

    /// Write the report to this file instead of stdout (`-` is stdout).
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Also write the report in another format, to PATH (`-` is stdout), e.g. `--format github
    /// --also-format json=report.json`: annotations and an artifact from one run. Repeatable.
    #[arg(long, value_name = "FORMAT=PATH", value_parser = parse_also_format)]
    pub also_format: Vec<(Format, PathBuf)>,

    /// The table lists every object of each rule, skip and error, not the first ten (its
    /// memory then grows with the findings; json, jsonl and csv always list every object).
    #[arg(long)]
    pub all_rows: bool,

    /// The least severe finding that fails the run (exit 1): `error` lets warnings (content-type,
    /// charset) pass, `never` reports findings and exits 0. Errors still exit 2.
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t)]
    pub fail_on: FailOn,

    /// Skips that do not fail the run, comma-separated, e.g. `archived` for known GLACIER
    /// objects a nightly fix can never repair (reasons as in the report).
    #[arg(long, value_name = "REASONS", value_delimiter = ',')]
    pub accept_skips: Vec<SkipReason>,

    /// No progress bar and no notes on stderr; errors are still printed.
    #[arg(short, long)]
    pub quiet: bool,

    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// Metrics of the run, for alerting (README "Metrics").
#[derive(Debug, Args)]
#[command(next_help_heading = OUTPUT)]
pub struct MetricsArgs {
    /// At the end of the run, send its metrics to this DogStatsD (or StatsD) server over UDP,
    /// e.g. 127.0.0.1:8125. A send that fails is a warning, never the run's failure.
    #[arg(long, value_name = "HOST:PORT", env = "S3MEND_STATSD")]
    pub statsd: Option<String>,

    /// At the end of the run, replace this file atomically with its metrics in the Prometheus
    /// text format (for node_exporter's textfile collector). Checked before the first request.
    #[arg(long, value_name = "PATH", env = "S3MEND_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the embedded server running and print its endpoint and credentials, so s3mend, the
    /// AWS CLI or s3cmd can be pointed at it. Stop with Ctrl-C.
    #[arg(long)]
    pub serve: bool,

    /// Port for the embedded server (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Format of the three reports (scan, fix, scan again); with json each is one document.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `--color`: when to colour (`color.rs` decides for auto).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set; CLICOLOR_FORCE=1 colours without one.
    #[default]
    Auto,
    /// Even when piped (e.g. into `less -R`).
    Always,
    /// Never.
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_take_a_unit() {
        for (text, expected) in [
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1.5s", Duration::from_millis(1500)),
            ("45", Duration::from_secs(45)),
            ("2.5", Duration::from_millis(2500)),
            (" 10 s ", Duration::from_secs(10)),
            ("1m30s", Duration::from_secs(90)),
            ("1h 5m", Duration::from_secs(3900)),
            ("2min", Duration::from_secs(120)),
            ("250 ms", Duration::from_millis(250)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for bad in [
            "",
            "s",
            "ten",
            "5x",
            "-1s",
            "1e3s",
            "1..2s",
            ".",
            "1.2.3",
            "1m30",
            "inf",
            "NaN",
            "99999999999999999999h",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn attempt_timeouts_are_bounded() {
        assert!(parse_attempt_timeout("100ms").is_ok());
        assert!(parse_attempt_timeout("1h").is_ok());
        assert_eq!(parse_attempt_timeout("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_recheck_after("0"), Ok(Duration::ZERO));
        let err = parse_recheck_after("1m1s").unwrap_err();
        assert!(err.contains("out of range: from 0s to 1m"), "{err}");
        for out in ["99ms", "0s", "61m"] {
            let err = parse_attempt_timeout(out).unwrap_err();
            assert!(err.contains("out of range"), "{out}: {err}");
        }
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("130"), "{help}");
    }
}
