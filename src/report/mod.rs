//! Reports: one model, one writer per format. This is the only module that formats results.
//!
//! Clean objects are counted, never listed. Rows reach a writer as results arrive (completion
//! order), so jsonl, json and csv stream with constant memory; the table keeps counts and a few
//! example keys per rule.

mod csv;
mod json;
mod table;

use std::io::{self, Write};

use clap::ValueEnum;
use serde::Serialize;

use crate::pipeline::Inspected;
use crate::rules::{Finding, RuleSet};
use crate::s3::S3Failure;

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
}

/// An object's state in a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// At least one rule flagged the object.
    Finding,
    /// The object could not be inspected.
    Error,
}

/// One reported object: it has findings or could not be inspected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectRow {
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub status: Status,
    pub findings: Vec<Finding>,
    pub error: Option<S3Failure>,
}

impl ObjectRow {
    /// The row for an inspected object, or `None` when it is clean.
    pub fn from_inspected(inspected: &Inspected) -> Option<ObjectRow> {
        let (version_id, etag, status, error) = match &inspected.outcome {
            Ok(_) if inspected.findings.is_empty() => return None,
            Ok(head) => (
                head.version_id.clone(),
                head.etag.clone(),
                Status::Finding,
                None,
            ),
            Err(failure) => (
                None,
                inspected.listed.etag.clone(),
                Status::Error,
                Some(failure.clone()),
            ),
        };
        Some(ObjectRow {
            key: inspected.listed.key.clone(),
            version_id,
            etag,
            status,
            findings: inspected.findings.clone(),
            error,
        })
    }
}

/// Counts over the whole run. `listed = clean + with_findings + errors` always holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub listed: u64,
    pub inspected: u64,
    pub clean: u64,
    pub with_findings: u64,
    pub errors: u64,
    /// False when the run was interrupted or the listing failed: counts cover only part of the
    /// bucket.
    pub complete: bool,
}

impl Summary {
    pub fn record(&mut self, inspected: &Inspected) {
        self.listed += 1;
        match &inspected.outcome {
            Err(_) => self.errors += 1,
            Ok(_) => {
                self.inspected += 1;
                if inspected.findings.is_empty() {
                    self.clean += 1;
                } else {
                    self.with_findings += 1;
                }
            }
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
}

/// A report being written.
pub trait ReportWriter: Send {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()>;
    fn finish(self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()>;
}

/// A writer for `format` over `out`. `color` applies to the table only.
pub fn writer(format: Format, out: Box<dyn Write + Send>, color: bool) -> Box<dyn ReportWriter> {
    match format {
        Format::Table => Box::new(table::TableWriter::new(out, color)),
        Format::Json => Box::new(json::JsonWriter::new(out)),
        Format::Jsonl => Box::new(json::JsonlWriter::new(out)),
        Format::Csv => Box::new(csv::CsvWriter::new(out)),
    }
}
