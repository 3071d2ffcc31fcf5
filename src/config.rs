//! Validated settings built from the command line. No I/O here: the files they name are opened
//! by `app` before the first request, so that a bad path fails before anything is sent.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog;
use crate::cli::{
    ApplyArgs, ConnectArgs, FixArgs, MergeArgs, MetricsArgs, OutputArgs, RequestPayerArg,
    RetryModeArg, ScanArgs, UndoArgs, WriteArgs,
};
use crate::model::{legacy_name, not_a_bucket_name, S3Uri};
use crate::pipeline::{KeyFilter, ScanJob};
use crate::repair::{RepairSettings, MIN_PART_SIZE};
use crate::report::{Format, Gate};
use crate::rules::{policy, RuleSet};
use crate::s3::{ConnectOptions, RequestConventions, RetryMode, TlsOptions};
use crate::shard::Shard;
use crate::state::Scope;

/// Everything a scan needs.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    pub target: S3Uri,
    pub connect: ConnectOptions,
    pub job: ScanJob,
    pub output: OutputConfig,
    pub state: Option<StateConfig>,
    pub catalog: Option<CatalogConfig>,
    pub metrics: MetricsConfig,
    /// `--inventory`: where the manifest is (read by `app` before the first HEAD).
    pub inventory: Option<S3Uri>,
}

/// `--catalog PATH [--catalog-reset]`, with the listing it describes.
#[derive(Clone, Debug)]
pub struct CatalogConfig {
    pub path: PathBuf,
    /// Ignore what the file holds, and replace it.
    pub reset: bool,
    pub scope: catalog::Scope,
}

/// `--state PATH [--resume]`, with what the run covers (a resume must cover the same).
#[derive(Clone, Debug)]
pub struct StateConfig {
    pub path: PathBuf,
    pub resume: bool,
    pub scope: Scope,
}

/// Where and how the report goes, and whether to show progress.
#[derive(Clone, Debug)]
pub struct OutputConfig {
    pub format: Format,
    /// `None` is stdout.
    pub path: Option<PathBuf>,
    /// `--also-format`: more reports of the same run (`None` is stdout).
    pub also: Vec<(Format, Option<PathBuf>)>,
    pub quiet: bool,
    pub progress: bool,
    /// `--fail-on` and `--accept-skips`.
    pub gate: Gate,
    /// `--all-rows`.
    pub all_rows: bool,
}

impl OutputConfig {
    /// The report files, with the flag that names each, for `files::distinct`.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, Option<&Path>)> {
        std::iter::once(("--output", self.path.as_deref())).chain(
            self.also
                .iter()
                .map(|(_, path)| ("--also-format", path.as_deref())),
        )
    }
}

/// Where the run's metrics go at its end: `--statsd`, `--metrics-file`, either or neither.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    pub statsd: Option<StatsdAddr>,
    pub file: Option<PathBuf>,
}

/// `--statsd HOST:PORT`, checked for its form only: the name is resolved when the metrics are
/// sent, and a name that does not resolve then is a warning like any failed send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsdAddr {
    /// A name, an IPv4 address, or an IPv6 address (written in brackets).
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for StatsdAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "--statsd '{}' is not HOST:PORT ({why}), e.g. 127.0.0.1:8125",
                text.escape_debug()
            )
        };
        let (host, port_text) = text.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let port = match port_text.parse::<u16>() {
            Ok(port) if port > 0 && port.to_string() == port_text => port,
            _ => return Err(bad("the port is a number from 1 to 65535")),
        };
        let host = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            v6.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address in the brackets"))?;
            v6
        } else if host.parse::<std::net::Ipv6Addr>().is_ok() {
            return Err(bad("an IPv6 address goes in brackets"));
        } else if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(bad("not a host name or address"));
        } else {
            host
        };
        Ok(StatsdAddr {
            host: host.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for StatsdAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl MetricsConfig {
    pub fn from_args(args: &MetricsArgs) -> Result<Self, String> {
        Ok(MetricsConfig {
            statsd: match args.statsd.as_deref().filter(|s| !s.is_empty()) {
                Some(text) => Some(text.parse()?),
                None => None,
            },
            file: args
                .metrics_file
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
        })
    }
}

/// Settings of a run that writes.
#[derive(Clone, Debug)]
pub struct WriteConfig {
    pub dry_run: bool,
    pub yes: bool,
    /// `None` with --dry-run.
    pub journal: Option<PathBuf>,
    /// `--journal` was given (rather than the timestamped default).
    pub journal_given: bool,
    /// `--allow-unconditional-copies`.
    pub allow_unconditional: bool,
}

#[derive(Clone, Debug)]
pub struct FixConfig {
    pub scan: ScanConfig,
    pub write: WriteConfig,
    pub repair: RepairSettings,
    /// `--plan`: where a dry run writes its complete plan.
    pub plan: Option<PathBuf>,
}

/// Everything `apply` needs.
#[derive(Clone, Debug)]
pub struct ApplyConfig {
    pub from: PathBuf,
    /// The bucket and prefix the plan must be for, when given.
    pub target: Option<S3Uri>,
    pub connect: ConnectOptions,
    pub write: WriteConfig,
    pub concurrency: usize,
    pub output: OutputConfig,
}

impl ApplyConfig {
    pub fn from_args(args: &ApplyArgs) -> Result<Self, String> {
        Ok(ApplyConfig {
            from: args.from.clone(),
            target: args.target.as_deref().map(str::parse).transpose()?,
            connect: connect_options(&args.connect, args.concurrency)?,
            write: WriteConfig::from_args(&args.write),
            concurrency: usize::from(args.concurrency),
            output: OutputConfig::try_from(&args.output)?,
        })
    }
}

/// `s3mend merge REPORT...`.
#[derive(Clone, Debug)]
pub struct MergeConfig {
    pub reports: Vec<PathBuf>,
    pub output: OutputConfig,
}

impl MergeConfig {
    pub fn from_args(args: &MergeArgs) -> Result<Self, String> {
        Ok(MergeConfig {
            reports: args.reports.clone(),
            output: OutputConfig::try_from(&args.output)?,
        })
    }
}

#[derive(Clone, Debug)]
pub struct UndoConfig {
    /// The journals, one per shard of the fix (or just one).
    pub from: Vec<PathBuf>,
    pub connect: ConnectOptions,
    pub write: WriteConfig,
    pub concurrency: usize,
    pub output: OutputConfig,
    pub metrics: MetricsConfig,
}

impl WriteConfig {
    /// The journal defaults to `./s3mend-journal-<UTC timestamp>.jsonl`; a dry run writes none.
    pub fn from_args(args: &WriteArgs) -> Self {
        let journal = (!args.dry_run).then(|| {
            args.journal.clone().unwrap_or_else(|| {
                let now = time::OffsetDateTime::now_utc();
                let stamp = now
                    .format(time::macros::format_description!(
                        "[year][month][day]T[hour][minute][second]Z"
                    ))
                    .unwrap_or_else(|_| now.unix_timestamp().to_string());
                PathBuf::from(format!("s3mend-journal-{stamp}.jsonl"))
            })
        });
        WriteConfig {
            dry_run: args.dry_run,
            yes: args.yes,
            journal,
            journal_given: args.journal.is_some(),
            allow_unconditional: args.allow_unconditional_copies,
        }
    }
}

impl FixConfig {
    pub fn from_args(args: &FixArgs) -> Result<Self, String> {
        let mut scan = ScanConfig::from_args(&args.scan)?;
        if let Some(state) = &mut scan.state {
            state.scope.command = "fix".into();
        }
        Ok(FixConfig {
            scan,
            write: WriteConfig::from_args(&args.write),
            repair: RepairSettings {
                dry_run: args.write.dry_run,
                multipart_threshold: args.multipart_threshold,
                // Parts of 5 MiB (S3's minimum but for the last part) to 256 MiB; a smaller
                // threshold means smaller parts, never below the minimum.
                part_size: args.multipart_threshold.clamp(MIN_PART_SIZE, 256 << 20),
                allow_unconditional: args.write.allow_unconditional_copies,
                recheck_after: args.recheck_after,
            },
            plan: args.plan.clone(),
        })
    }
}

impl UndoConfig {
    pub fn from_args(args: &UndoArgs) -> Result<Self, String> {
        Ok(UndoConfig {
            from: args.from.clone(),
            connect: connect_options(&args.connect, args.concurrency)?,
            write: WriteConfig::from_args(&args.write),
            concurrency: usize::from(args.concurrency),
            output: OutputConfig::try_from(&args.output)?,
            metrics: MetricsConfig::from_args(&args.metrics)?,
        })
    }
}

impl ScanConfig {
    pub fn from_args(args: &ScanArgs) -> Result<Self, String> {
        let target: S3Uri = args.target.parse()?;
        let connect = connect_options(&args.connect, args.concurrency)?;
        if !connect
            .addressing
            .is_path_style(connect.endpoint_url.is_some())
        {
            if let Some(why) = legacy_name(&target.bucket) {
                return Err(format!(
                    "{}: only a legacy us-east-1 bucket can have such a name, and it needs --addressing-style path",
                    not_a_bucket_name(&target.bucket, why)
                ));
            }
        }
        let policy = match &args.policy {
            Some(path) => Some(Arc::new(policy::load(path).map_err(|e| e.to_string())?)),
            None => None,
        };
        let rules = RuleSet::parse(&args.rules, policy)?.sniffing(!args.no_sniff);
        let filter = KeyFilter::new(&args.include, &args.exclude)?;
        let shard = match &args.shard {
            Some(spec) => Some(Shard::resolve(spec, args.shard_count, |name| {
                std::env::var(name).ok()
            })?),
            None => None,
        };
        let inventory = match &args.inventory {
            Some(url) => Some(inventory_location(url, args)?),
            None => None,
        };
        Ok(ScanConfig {
            job: ScanJob {
                bucket: target.bucket.clone(),
                prefix: target.prefix.clone(),
                filter,
                rules: rules.clone(),
                concurrency: usize::from(args.concurrency),
                start_after: None,
                shard,
                inventory: None,
            },
            inventory,
            state: args.state.clone().map(|path| StateConfig {
                path,
                resume: args.resume,
                scope: Scope {
                    command: "scan".into(),
                    bucket: target.bucket.clone(),
                    prefix: target.prefix.clone(),
                    include: args.include.clone(),
                    exclude: args.exclude.clone(),
                    rules: rules.ids().iter().map(|r| r.as_str().to_owned()).collect(),
                    policy: args.policy.as_ref().map(|p| p.display().to_string()),
                    shard: shard.map(|s| s.to_string()),
                },
            }),
            catalog: args.catalog.clone().map(|path| CatalogConfig {
                path,
                reset: args.catalog_reset,
                scope: catalog::Scope {
                    endpoint: args.connect.endpoint_url.clone().filter(|e| !e.is_empty()),
                    bucket: target.bucket.clone(),
                    prefix: target.prefix.clone(),
                },
            }),
            target,
            connect,
            output: OutputConfig::try_from(&args.output)?,
            metrics: MetricsConfig::from_args(&args.metrics)?,
        })
    }
}

/// `--inventory URL`: the manifest's location, and the flags that cannot go with it.
fn inventory_location(url: &str, args: &ScanArgs) -> Result<S3Uri, String> {
    let location: S3Uri = url
        .parse()
        .map_err(|e: String| format!("--inventory: {e}"))?;
    if location.prefix.is_empty() || location.prefix.ends_with('/') {
        return Err(format!(
            "--inventory {url} names no manifest: give s3://BUCKET/PATH/manifest.json"
        ));
    }
    // An inventory's rows are not in key order (across its files), and the catalog and the
    // checkpoint of --state both stand on a listing in key order.
    if args.catalog.is_some() {
        return Err(
            "--catalog cannot go with --inventory: the catalog is merged with a listing in key order, and an inventory is not one (the inventory already spares the listing)"
                .to_owned(),
        );
    }
    if args.state.is_some() {
        return Err(
            "--state cannot go with --inventory: an inventory's rows are not in key order, so no checkpoint key says what is done (run again instead, or shard the run)"
                .to_owned(),
        );
    }
    Ok(location)
}

/// The connection settings, with the command's `--concurrency` as the cap on requests in flight
/// (it lives with each command, not with the connection flags).
fn connect_options(args: &ConnectArgs, concurrency: u16) -> Result<ConnectOptions, String> {
    let endpoint_url = args.endpoint_url.clone().filter(|e| !e.is_empty());
    if let Some(url) = &endpoint_url {
        check_endpoint_url(url)?;
    }
    Ok(ConnectOptions {
        endpoint_url,
        region: args.region.clone(),
        profile: args.profile.clone(),
        addressing: args.addressing_style,
        static_credentials: None,
        max_attempts: args.max_attempts,
        retry_mode: args.retry_mode.map(|mode| match mode {
            RetryModeArg::Standard => RetryMode::Standard,
            RetryModeArg::Adaptive => RetryMode::Adaptive,
        }),
        attempt_timeout: args.attempt_timeout,
        max_in_flight: usize::from(concurrency),
        max_rps: args.max_rps.and_then(NonZeroU32::new),
        fast_head: !args.no_fast_head,
        conventions: RequestConventions {
            request_payer: args.request_payer == Some(RequestPayerArg::Requester),
            expected_bucket_owner: args.expected_bucket_owner.clone(),
        },
        tls: TlsOptions {
            ca_bundle: args.ca_bundle.clone().filter(|p| !p.as_os_str().is_empty()),
            verify: !args.no_verify_ssl,
        },
    })
}

/// `--endpoint-url` (or `AWS_ENDPOINT_URL`) must be an http or https URL with a host: without a
/// scheme the SDK fails every request with "dispatch failure … not a valid URI".
fn check_endpoint_url(url: &str) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(format!(
                "--endpoint-url '{}' is not an http:// or https:// URL (scheme '{}')",
                url.escape_debug(),
                other.escape_debug()
            ))
        }
        None => {
            // A local server speaks plain HTTP more often than not; anything else is S3-like.
            let host = url.split([':', '/']).next().unwrap_or_default();
            let local = host == "localhost"
                || host.parse::<std::net::IpAddr>().is_ok_and(|ip| {
                    ip.is_loopback() || matches!(ip, std::net::IpAddr::V4(v4) if v4.is_private())
                });
            let scheme = if local { "http" } else { "https" };
            return Err(format!(
                "--endpoint-url needs a scheme: did you mean {scheme}://{}?",
                url.escape_debug()
            ));
        }
    }
    match url.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(format!(
            "--endpoint-url '{}' is not a URL with a host, e.g. https://s3.example.com or http://127.0.0.1:9000",
            url.escape_debug()
        )),
    }
}

impl TryFrom<&OutputArgs> for OutputConfig {
    type Error = String;

    fn try_from(args: &OutputArgs) -> Result<Self, String> {
        // `-` is stdout.
        let file = |path: &PathBuf| Some(path.clone()).filter(|p| p.as_os_str() != "-");
        let path = args.output.as_ref().and_then(file);
        let also: Vec<(Format, Option<PathBuf>)> = args
            .also_format
            .iter()
            .map(|(format, path)| (*format, file(path)))
            .collect();
        let on_stdout =
            usize::from(path.is_none()) + also.iter().filter(|(_, p)| p.is_none()).count();
        if on_stdout > 1 {
            return Err(
                "two reports on stdout: give --output PATH, or --also-format FORMAT=PATH with a file"
                    .to_owned(),
            );
        }
        Ok(OutputConfig {
            format: args.format,
            path,
            also,
            quiet: args.quiet,
            progress: !args.quiet && !args.no_progress,
            gate: Gate {
                fail_on: args.fail_on,
                accept_skips: args.accept_skips.clone(),
            },
            all_rows: args.all_rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ScanConfig, String> {
        let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Scan(scan) => ScanConfig::from_args(&scan),
            other => panic!("not a scan: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let cfg = parse(&["s3mend", "scan", "s3://bucket/pre/"]).unwrap();
        assert_eq!(cfg.target.bucket, "bucket");
        assert_eq!(cfg.job.prefix, "pre/");
        assert_eq!(
            cfg.job.concurrency,
            usize::from(crate::cli::DEFAULT_CONCURRENCY)
        );
        assert_eq!(cfg.job.rules, RuleSet::all());
        assert_eq!(cfg.output.format, Format::Table);
        assert!(cfg.output.progress);
        assert_eq!(
            cfg.connect.attempt_timeout,
            crate::s3::DEFAULT_ATTEMPT_TIMEOUT
        );
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--attempt-timeout", "2m"]).unwrap();
        assert_eq!(cfg.connect.attempt_timeout.as_secs(), 120);
    }

    #[test]
    fn concurrency_is_bounded() {
        for bad in ["0", "1025", "-1", "many"] {
            let flag = format!("--concurrency={bad}");
            let err = parse(&["s3mend", "scan", "s3://bucket", &flag]).unwrap_err();
            assert!(err.contains("concurrency"), "{bad}: {err}");
        }
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--concurrency", "1024"]).unwrap();
        assert_eq!(cfg.job.concurrency, 1024);
    }

    #[test]
    fn bad_values_name_the_culprit() {
        let err = parse(&["s3mend", "scan", "bucket"]).unwrap_err();
        assert!(err.contains("not an S3 URL"), "{err}");
        let err = parse(&["s3mend", "scan", "s3://bucket", "--include", "[x"]).unwrap_err();
        assert!(err.contains("bad glob '[x'"), "{err}");
        let err = parse(&["s3mend", "scan", "s3://bucket", "--rules", "nope"]).unwrap_err();
        assert!(err.contains("unknown rule 'nope'"), "{err}");
    }

    #[test]
    fn concurrency_and_max_rps_pace_the_connection() {
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--concurrency", "8"]).unwrap();
        assert_eq!((cfg.connect.max_in_flight, cfg.connect.max_rps), (8, None));
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--max-rps", "250"]).unwrap();
        assert_eq!(
            cfg.connect.max_in_flight,
            usize::from(crate::cli::DEFAULT_CONCURRENCY)
        );
        assert_eq!(cfg.connect.max_rps, NonZeroU32::new(250));
        for bad in ["0", "100001", "-5", "fast"] {
            let flag = format!("--max-rps={bad}");
            let err = parse(&["s3mend", "scan", "s3://bucket", &flag]).unwrap_err();
            assert!(err.contains("max-rps"), "{bad}: {err}");
        }
        let cli = Cli::try_parse_from([
            "s3mend",
            "undo",
            "j.jsonl",
            "--concurrency",
            "5",
            "--max-rps",
            "9",
        ])
        .unwrap();
        let Command::Undo(undo) = cli.command else {
            panic!("not an undo")
        };
        let cfg = UndoConfig::from_args(&undo).unwrap();
        assert_eq!(cfg.connect.max_in_flight, 5);
        assert_eq!(cfg.connect.max_rps, NonZeroU32::new(9));
    }

    #[test]
    fn the_fast_head_path_can_be_turned_off_by_flag_or_environment() {
        use clap::CommandFactory;
        let cfg = parse(&["s3mend", "scan", "s3://bucket"]).unwrap();
        assert!(cfg.connect.fast_head);
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--no-fast-head"]).unwrap();
        assert!(!cfg.connect.fast_head);
        let command = Cli::command();
        let scan = command.find_subcommand("scan").unwrap();
        let arg = scan
            .get_arguments()
            .find(|a| a.get_id() == "no_fast_head")
            .unwrap();
        assert_eq!(
            arg.get_env(),
            Some(std::ffi::OsStr::new("S3MEND_NO_FAST_HEAD"))
        );
    }

    #[test]
    fn statsd_takes_host_colon_port() {
        for (text, host, port) in [
            ("127.0.0.1:8125", "127.0.0.1", 8125),
            ("localhost:1", "localhost", 1),
            (
                "statsd.internal-net_1.example:65535",
                "statsd.internal-net_1.example",
                65535,
            ),
            ("[::1]:8125", "::1", 8125),
            ("[fe80::1:2]:9", "fe80::1:2", 9),
        ] {
            let addr: StatsdAddr = text.parse().unwrap();
            assert_eq!((addr.host.as_str(), addr.port), (host, port), "{text}");
        }
        for (text, why) in [
            ("", "no port"),
            ("localhost", "no port"),
            ("localhost:", "from 1 to 65535"),
            ("localhost:0", "from 1 to 65535"),
            ("localhost:65536", "from 1 to 65535"),
            ("localhost:+80", "from 1 to 65535"),
            ("localhost:http", "from 1 to 65535"),
            (":8125", "not a host name or address"),
            ("host name:8125", "not a host name or address"),
            ("udp://host:8125", "not a host name or address"),
            ("::1:8125", "an IPv6 address goes in brackets"),
            ("[::g]:8125", "not an IPv6 address"),
            ("[127.0.0.1]:8125", "not an IPv6 address"),
            ("a\nb:1", "not a host name or address"),
        ] {
            let err = text.parse::<StatsdAddr>().unwrap_err();
            assert!(err.starts_with("--statsd '"), "{text}: {err}");
            assert!(err.contains(why), "{text}: {err}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    #[test]
    fn metrics_flags_come_from_the_environment_too() {
        let cfg = parse(&["s3mend", "scan", "s3://bucket"]).unwrap();
        assert_eq!(cfg.metrics, MetricsConfig::default());
        let cfg = parse(&[
            "s3mend",
            "scan",
            "s3://bucket",
            "--statsd",
            "127.0.0.1:8125",
            "--metrics-file",
            "m.prom",
        ])
        .unwrap();
        assert_eq!(cfg.metrics.statsd.unwrap().port, 8125);
        assert_eq!(cfg.metrics.file, Some(PathBuf::from("m.prom")));
        let err = parse(&["s3mend", "scan", "s3://bucket", "--statsd", "nope"]).unwrap_err();
        assert!(err.contains("--statsd 'nope' is not HOST:PORT"), "{err}");
        use clap::CommandFactory;
        let command = Cli::command();
        for sub in ["scan", "fix", "undo"] {
            let sub = command.find_subcommand(sub).unwrap();
            let env = |id: &str| {
                sub.get_arguments()
                    .find(|a| a.get_id() == id)
                    .and_then(|a| a.get_env())
                    .map(|e| e.to_str().unwrap().to_owned())
            };
            assert_eq!(env("statsd").as_deref(), Some("S3MEND_STATSD"));
            assert_eq!(env("metrics_file").as_deref(), Some("S3MEND_METRICS_FILE"));
        }
    }

    #[test]
    fn aws_flags_reach_the_connection() {
        let cfg = parse(&["s3mend", "scan", "s3://bucket"]).unwrap();
        assert_eq!(
            (cfg.connect.max_attempts, cfg.connect.retry_mode),
            (None, None)
        );
        assert_eq!(cfg.connect.conventions, RequestConventions::default());
        // (--ca-bundle's default is AWS_CA_BUNDLE, which this machine may set.)
        assert!(cfg.connect.tls.verify);
        let cfg = parse(&[
            "s3mend",
            "scan",
            "s3://bucket",
            "--max-attempts",
            "3",
            "--retry-mode",
            "adaptive",
            "--request-payer",
            "requester",
            "--expected-bucket-owner",
            "111122223333",
            "--ca-bundle",
            "ca.pem",
        ])
        .unwrap();
        assert_eq!(cfg.connect.max_attempts, Some(3));
        assert_eq!(cfg.connect.retry_mode, Some(RetryMode::Adaptive));
        assert!(cfg.connect.conventions.request_payer);
        assert_eq!(
            cfg.connect.conventions.expected_bucket_owner.as_deref(),
            Some("111122223333")
        );
        assert_eq!(cfg.connect.tls.ca_bundle, Some(PathBuf::from("ca.pem")));
        assert!(cfg.connect.tls.verify);
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--no-verify-ssl"]).unwrap();
        assert!(!cfg.connect.tls.verify);
        for bad in ["12345678901", "1234567890123", "11112222333a", ""] {
            let flag = format!("--expected-bucket-owner={bad}");
            let err = parse(&["s3mend", "scan", "s3://bucket", &flag]).unwrap_err();
            assert!(err.contains("is not an AWS account id"), "{bad}: {err}");
        }
        use clap::CommandFactory;
        let command = Cli::command();
        let scan = command.find_subcommand("scan").unwrap();
        let env = |id: &str| {
            scan.get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_env())
                .map(|e| e.to_str().unwrap().to_owned())
        };
        assert_eq!(env("ca_bundle").as_deref(), Some("AWS_CA_BUNDLE"));
    }

    #[test]
    fn an_endpoint_url_needs_a_scheme_and_a_host() {
        for good in [
            "http://127.0.0.1:9000",
            "https://s3.example.com",
            "https://s3.example.com/",
            "http://[::1]:9000",
            "http://localhost:9000",
        ] {
            assert_eq!(check_endpoint_url(good), Ok(()), "{good}");
        }
        for (bad, message) in [
            (
                "127.0.0.1:9911",
                "--endpoint-url needs a scheme: did you mean http://127.0.0.1:9911?",
            ),
            (
                "localhost:9000",
                "--endpoint-url needs a scheme: did you mean http://localhost:9000?",
            ),
            (
                "10.1.2.3",
                "--endpoint-url needs a scheme: did you mean http://10.1.2.3?",
            ),
            (
                "s3.example.com",
                "--endpoint-url needs a scheme: did you mean https://s3.example.com?",
            ),
            (
                "ftp://host",
                "--endpoint-url 'ftp://host' is not an http:// or https:// URL (scheme 'ftp')",
            ),
            (
                "http://",
                "--endpoint-url 'http://' is not a URL with a host",
            ),
            (
                "http://a b",
                "--endpoint-url 'http://a b' is not a URL with a host",
            ),
        ] {
            let err = check_endpoint_url(bad).unwrap_err();
            assert!(err.starts_with(message), "{bad}: {err}");
        }
    }

    #[test]
    fn a_legacy_bucket_name_needs_path_style() {
        let err = parse(&["s3mend", "scan", "s3://Fieldnotes_Site"]).unwrap_err();
        assert!(err.contains("needs --addressing-style path"), "{err}");
        for ok in [
            &[
                "s3mend",
                "scan",
                "s3://Fieldnotes_Site",
                "--addressing-style",
                "path",
            ][..],
            &[
                "s3mend",
                "scan",
                "s3://Fieldnotes_Site",
                "--endpoint-url",
                "http://127.0.0.1:9000",
            ][..],
        ] {
            let cfg = parse(ok).unwrap();
            assert_eq!(cfg.target.bucket, "Fieldnotes_Site");
        }
        let err = parse(&[
            "s3mend",
            "scan",
            "s3://Fieldnotes_Site",
            "--endpoint-url",
            "http://127.0.0.1:9000",
            "--addressing-style",
            "virtual",
        ])
        .unwrap_err();
        assert!(
            err.contains("is not a valid S3 bucket name (upper case;"),
            "{err}"
        );
    }

    #[test]
    fn quiet_hides_progress() {
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--quiet"]).unwrap();
        assert!(!cfg.output.progress);
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--no-progress"]).unwrap();
        assert!(!cfg.output.progress && !cfg.output.quiet);
    }
}
