//! Validated settings built from the command line. No I/O here: the files they name are opened
//! by `app` before the first request, so that a bad path fails before anything is sent.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use crate::catalog;
use crate::cli::{ConnectArgs, FixArgs, OutputArgs, RetryModeArg, ScanArgs, UndoArgs, WriteArgs};
use crate::model::S3Uri;
use crate::pipeline::{KeyFilter, ScanJob};
use crate::repair::{RepairSettings, MIN_PART_SIZE};
use crate::report::Format;
use crate::rules::{policy, RuleSet};
use crate::s3::ConnectOptions;
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
    pub path: Option<PathBuf>,
    pub quiet: bool,
    pub progress: bool,
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
}

#[derive(Clone, Debug)]
pub struct UndoConfig {
    pub from: PathBuf,
    pub connect: ConnectOptions,
    pub write: WriteConfig,
    pub concurrency: usize,
    pub output: OutputConfig,
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
        })
    }
}

impl UndoConfig {
    pub fn from_args(args: &UndoArgs) -> Self {
        UndoConfig {
            from: args.from.clone(),
            connect: connect_options(&args.connect, args.concurrency),
            write: WriteConfig::from_args(&args.write),
            concurrency: usize::from(args.concurrency),
            output: OutputConfig::from(&args.output),
        }
    }
}

impl ScanConfig {
    pub fn from_args(args: &ScanArgs) -> Result<Self, String> {
        let target: S3Uri = args.target.parse()?;
        let policy = match &args.policy {
            Some(path) => Some(Arc::new(policy::load(path).map_err(|e| e.to_string())?)),
            None => None,
        };
        let rules = RuleSet::parse(&args.rules, policy)?.sniffing(!args.no_sniff);
        let filter = KeyFilter::new(&args.include, &args.exclude)?;
        Ok(ScanConfig {
            job: ScanJob {
                bucket: target.bucket.clone(),
                prefix: target.prefix.clone(),
                filter,
                rules: rules.clone(),
                concurrency: usize::from(args.concurrency),
                start_after: None,
            },
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
            connect: connect_options(&args.connect, args.concurrency),
            output: OutputConfig::from(&args.output),
        })
    }
}

/// The connection settings, with the command's `--concurrency` as the cap on requests in flight
/// (it lives with each command, not with the connection flags).
fn connect_options(args: &ConnectArgs, concurrency: u16) -> ConnectOptions {
    ConnectOptions {
        endpoint_url: args.endpoint_url.clone().filter(|e| !e.is_empty()),
        region: args.region.clone(),
        profile: args.profile.clone(),
        addressing: args.addressing_style,
        static_credentials: None,
        max_attempts: args.max_attempts,
        adaptive_retries: args.retry_mode == RetryModeArg::Adaptive,
        attempt_timeout: args.attempt_timeout,
        max_in_flight: usize::from(concurrency),
        max_rps: args.max_rps.and_then(NonZeroU32::new),
        fast_head: !args.no_fast_head,
    }
}

impl From<&OutputArgs> for OutputConfig {
    fn from(args: &OutputArgs) -> Self {
        OutputConfig {
            format: args.format,
            // `--output -` is stdout.
            path: args.output.clone().filter(|p| p.as_os_str() != "-"),
            quiet: args.quiet,
            progress: !args.quiet && !args.no_progress,
        }
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
        let cfg = UndoConfig::from_args(&undo);
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
    fn quiet_hides_progress() {
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--quiet"]).unwrap();
        assert!(!cfg.output.progress);
        let cfg = parse(&["s3mend", "scan", "s3://bucket", "--no-progress"]).unwrap();
        assert!(!cfg.output.progress && !cfg.output.quiet);
    }
}
