//! Reports: one model, one writer per format. This is the only module that formats results.
//!
//! Clean objects are counted, never listed. Rows reach a writer as results arrive (completion
//! order), so jsonl, json and csv stream with constant memory; the table keeps counts and a few
//! example keys per rule.

mod csv;
mod digest;
mod escape;
mod gate;
mod github;
mod held;
mod json;
mod junit;
mod layout;
mod markdown;
pub mod merge;
pub mod metrics;
pub mod question;
mod table;
mod tee;

pub use gate::{FailOn, Gate};
pub use held::{Held, Release};

use std::io::{self, Write};

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::model::{RequestCounts, S3Failure};
use crate::outcome::{Inspected, Outcome, Repaired, Unread};
use crate::plan::{Change, GrantHeaders, HeaderSet, SkipReason};
use crate::rules::{Finding, RuleSet};

/// Report formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Summary counts and findings grouped by rule, for people.
    #[default]
    Table,
    /// One JSON document: {"objects": [...], "summary": {...}}.
    Json,
    /// One JSON object per line as results arrive, then a {"summary": ...} line.
    Jsonl,
    /// One row per finding or error, with a header row.
    Csv,
    /// GitHub Actions workflow commands (annotations), and the Markdown summary appended to
    /// $GITHUB_STEP_SUMMARY when it is set.
    Github,
    /// JUnit XML, one test case per rule (GitLab, Jenkins, CircleCI).
    Junit,
    /// A Markdown summary, for any CI's job summary or a pull-request comment.
    Markdown,
}

/// An object's state in a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Scan: at least one rule flagged the object.
    Finding,
    /// The object could not be inspected, or (fix) its repair failed.
    Error,
    /// Fix: repaired and verified.
    Fixed,
    /// Fix with --dry-run: the plan that would be sent.
    WouldFix,
    /// Fix: not repaired, for the reason given.
    Skipped,
    /// Fix: the object changed after it was inspected and was left alone.
    Conflict,
    /// Deleted between LIST and HEAD: nothing left to repair (counted as clean).
    Gone,
    /// Undo: the journalled state is back, verified (a fix's `fixed`).
    Restored,
    /// Undo with --dry-run: the plan that would put it back (a fix's `would-fix`).
    WouldRestore,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Finding => "finding",
            Status::Error => "error",
            Status::Fixed => "fixed",
            Status::WouldFix => "would-fix",
            Status::Skipped => "skipped",
            Status::Conflict => "conflict",
            Status::Gone => "gone",
            Status::Restored => "restored",
            Status::WouldRestore => "would-restore",
        }
    }

    /// The word undo uses for this status.
    pub fn in_undo(self) -> Status {
        match self {
            Status::Fixed => Status::Restored,
            Status::WouldFix => Status::WouldRestore,
            other => other,
        }
    }
}

/// One reported object: it has findings, could not be inspected, or is gone. Reports are read
/// back by `s3mend merge`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectRow {
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub status: Status,
    pub findings: Vec<Finding>,
    pub error: Option<S3Failure>,
    /// Fix: why an object was skipped or left as a conflict, or that a new version was repaired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fix: each repaired header, before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<Change>>,
    /// Fix with --dry-run: everything the copy re-sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resend: Option<HeaderSet>,
    /// Fix: the ACL grants sent with the copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<GrantHeaders>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_etag: Option<String>,
    /// Why a skipped object was skipped (`reason` in words), for the gate.
    #[serde(skip)]
    pub skip: Option<SkipReason>,
}

impl ObjectRow {
    pub(crate) fn new(
        key: &str,
        version_id: Option<String>,
        etag: Option<String>,
        status: Status,
        findings: Vec<Finding>,
    ) -> Self {
        ObjectRow {
            key: key.to_owned(),
            version_id,
            etag,
            status,
            findings,
            error: None,
            reason: None,
            changes: None,
            resend: None,
            grants: None,
            new_version_id: None,
            new_etag: None,
            skip: None,
        }
    }

    /// The row for a repaired object, or `None` when it was clean.
    pub fn from_repaired(repaired: &Repaired) -> Option<ObjectRow> {
        let head = repaired.head.as_ref();
        let row = |status| {
            ObjectRow::new(
                &repaired.listed.key,
                head.and_then(|h| h.version_id.clone()),
                head.and_then(|h| h.etag.clone())
                    .or_else(|| repaired.listed.etag.clone()),
                status,
                repaired.findings.clone(),
            )
        };
        Some(match &repaired.outcome {
            Outcome::Clean => return None,
            Outcome::Gone(why) => ObjectRow {
                reason: Some(why.clone()),
                ..row(Status::Gone)
            },
            Outcome::InspectFailed(failure) => ObjectRow {
                error: Some(failure.clone()),
                ..row(Status::Error)
            },
            Outcome::Failed(failure) => ObjectRow {
                error: Some(failure.reported()),
                ..row(Status::Error)
            },
            Outcome::WouldFix(plan) => ObjectRow {
                changes: Some(plan.changes.clone()),
                resend: Some(plan.headers.clone()),
                grants: plan.grants.clone(),
                ..row(Status::WouldFix)
            },
            Outcome::Fixed {
                plan,
                new,
                after_conflict,
                ..
            } => ObjectRow {
                changes: Some(plan.changes.clone()),
                grants: plan.grants.clone(),
                new_version_id: new.version_id.clone(),
                new_etag: new.etag.clone(),
                reason: after_conflict
                    .then(|| "changed after it was inspected; the new version was repaired".into()),
                ..row(Status::Fixed)
            },
            Outcome::Skipped(reason) => ObjectRow {
                reason: Some(reason.as_str().to_owned()),
                skip: Some(*reason),
                ..row(Status::Skipped)
            },
            Outcome::Conflict(why) => ObjectRow {
                reason: Some(why.clone()),
                ..row(Status::Conflict)
            },
        })
    }

    /// The row for an inspected object, or `None` when it is clean.
    pub fn from_inspected(inspected: &Inspected) -> Option<ObjectRow> {
        let row = |status, version_id, etag| {
            ObjectRow::new(
                &inspected.listed.key,
                version_id,
                etag,
                status,
                inspected.findings.clone(),
            )
        };
        let listed_etag = || inspected.listed.etag.clone();
        match &inspected.outcome {
            Ok(_) if inspected.findings.is_empty() => None,
            Ok(head) => Some(row(
                Status::Finding,
                head.version_id.clone(),
                head.etag.clone(),
            )),
            Err(failure) => Some(match Unread::of(failure) {
                Unread::Gone => ObjectRow {
                    reason: Some(Unread::gone_reason(failure).to_owned()),
                    ..row(Status::Gone, None, listed_etag())
                },
                Unread::SseC => ObjectRow {
                    reason: Some(SkipReason::SseC.as_str().to_owned()),
                    skip: Some(SkipReason::SseC),
                    ..row(Status::Skipped, None, listed_etag())
                },
                Unread::Failed => ObjectRow {
                    error: Some(failure.clone()),
                    ..row(Status::Error, None, listed_etag())
                },
            }),
        }
    }
}

/// Counts over the whole run: `listed = clean + with_findings + unreadable + errors` always holds,
/// also for a run that was interrupted or whose listing failed (then over what was listed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub listed: u64,
    /// HEAD returned the object's metadata (or the catalog had it).
    pub inspected: u64,
    /// With `--catalog`: objects the listing showed unchanged, whose rules ran on the catalog's
    /// snapshot instead of a HEAD (counted in `inspected` too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_catalog: Option<u64>,
    /// No finding, including objects gone by the time of their HEAD.
    pub clean: u64,
    pub with_findings: u64,
    pub errors: u64,
    /// Deleted between LIST and HEAD (counted in `clean`: nothing is left to repair).
    pub gone: u64,
    /// Metadata unreadable without a key the run does not have (SSE-C: HEAD answers 400);
    /// reported as skipped `sse-c`, never rewritten.
    pub unreadable: u64,
    /// False when the run was interrupted or the listing failed: counts cover only part of the
    /// bucket.
    pub complete: bool,
    /// Fix only.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixCounts>,
    /// S3 calls, attempts, throttled and failed attempts of the run, and how far throttling cut
    /// the requests kept in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestCounts>,
}

/// What a fix did with the objects that have findings:
/// `with_findings = fixed + would_fix + skipped + conflicts + failed`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FixCounts {
    pub fixed: u64,
    pub would_fix: u64,
    pub skipped: u64,
    pub conflicts: u64,
    pub failed: u64,
    /// Repairs in a versioned bucket leave the old version (with the old header) as noncurrent;
    /// they still cost storage. s3mend never deletes versions.
    pub noncurrent_versions: u64,
}

/// Where one object falls in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tally {
    Clean,
    Gone,
    Findings,
    Unreadable,
    Error,
}

impl Summary {
    pub fn record(&mut self, inspected: &Inspected) {
        if inspected.from_catalog {
            *self.from_catalog.get_or_insert(0) += 1;
        }
        self.count(match inspected.unread() {
            None if inspected.findings.is_empty() => Tally::Clean,
            None => Tally::Findings,
            Some(Unread::Gone) => Tally::Gone,
            Some(Unread::SseC) => Tally::Unreadable,
            Some(Unread::Failed) => Tally::Error,
        });
    }

    fn count(&mut self, tally: Tally) {
        self.listed += 1;
        match tally {
            Tally::Clean => {
                self.inspected += 1;
                self.clean += 1;
            }
            Tally::Findings => {
                self.inspected += 1;
                self.with_findings += 1;
            }
            Tally::Gone => {
                self.gone += 1;
                self.clean += 1;
            }
            Tally::Unreadable => self.unreadable += 1,
            Tally::Error => self.errors += 1,
        }
    }

    /// Counts a fix's object: `with_findings = fixed + would_fix + skipped + conflicts + failed`.
    pub fn record_repaired(&mut self, repaired: &Repaired) {
        if repaired.from_catalog {
            *self.from_catalog.get_or_insert(0) += 1;
        }
        let tally = match &repaired.outcome {
            Outcome::Clean => Tally::Clean,
            Outcome::Gone(_) => Tally::Gone,
            Outcome::InspectFailed(_) => Tally::Error,
            // Skipped at HEAD, before any rule could run: SSE-C.
            Outcome::Skipped(_) if repaired.head.is_none() => Tally::Unreadable,
            _ => Tally::Findings,
        };
        self.count(tally);
        if tally != Tally::Findings {
            return;
        }
        let fix = self.fix.get_or_insert_with(FixCounts::default);
        match &repaired.outcome {
            Outcome::Clean | Outcome::Gone(_) | Outcome::InspectFailed(_) => {}
            Outcome::WouldFix(_) => fix.would_fix += 1,
            Outcome::Fixed {
                left_noncurrent, ..
            } => {
                fix.fixed += 1;
                fix.noncurrent_versions += u64::from(*left_noncurrent);
            }
            Outcome::Skipped(_) => fix.skipped += 1,
            Outcome::Conflict(_) => fix.conflicts += 1,
            Outcome::Failed(_) => fix.failed += 1,
        }
    }
}

/// What a report says about the run besides its rows.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// `s3://bucket/prefix`.
    pub target: String,
    pub rules: RuleSet,
    /// Why the run stopped early, when it did.
    pub stopped: Option<String>,
    /// `scan`, `fix` or `undo`.
    pub command: &'static str,
    /// Things said once about the run (e.g. that the server has no ACLs).
    pub notes: Vec<String>,
    /// `--shard I/N`: the part of the run this report covers.
    pub shard: Option<String>,
}

/// How a report is written, besides its format.
#[derive(Clone, Debug, Default)]
pub struct WriterOptions {
    /// Colours (the table only).
    pub color: bool,
    /// Which objects fail the run: the summary formats say so.
    pub gate: Gate,
    /// `$GITHUB_STEP_SUMMARY`, for the github format.
    pub step_summary: Option<std::path::PathBuf>,
    /// `--all-rows`: the table lists every object, not the first ten of each group.
    pub all_rows: bool,
}

/// A report being written.
pub trait ReportWriter: Send {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()>;
    fn finish(self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()>;
}

/// `1234567` as `1,234,567`, as the confirmation question and the benchmarks show counts.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A writer for `format` over `out`.
pub fn writer(
    format: Format,
    out: Box<dyn Write + Send>,
    options: &WriterOptions,
) -> Box<dyn ReportWriter> {
    let gate = options.gate.clone();
    match format {
        Format::Table if options.all_rows => {
            Box::new(table::TableWriter::new(out, options.color).all_rows())
        }
        Format::Table => Box::new(table::TableWriter::new(out, options.color)),
        Format::Json => Box::new(json::JsonWriter::new(out)),
        Format::Jsonl => Box::new(json::JsonlWriter::new(out)),
        Format::Csv => Box::new(csv::CsvWriter::new(out)),
        Format::Github => Box::new(github::GithubWriter::new(
            out,
            gate,
            options.step_summary.clone(),
        )),
        Format::Junit => Box::new(junit::JunitWriter::new(out, gate)),
        Format::Markdown => Box::new(markdown::MarkdownWriter::new(out, gate)),
    }
}

/// Several reports of one run, each written as if it were the only one.
pub fn tee(writers: Vec<Box<dyn ReportWriter>>) -> Box<dyn ReportWriter> {
    Box::new(tee::Tee::new(writers))
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn counts_have_thousands_separators() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1234, "1,234"),
            (1234567, "1,234,567"),
        ];
        for (n, text) in cases {
            assert_eq!(thousands(n), text);
        }
    }
}
