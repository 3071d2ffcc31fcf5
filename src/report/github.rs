//! GitHub Actions: one workflow command per finding, skip, conflict and error, which the runner
//! shows as annotations on the job (`::error` for error-level findings, `::warning` for
//! warning-level ones), a closing `::notice` with the counts, and, when the runner sets
//! `$GITHUB_STEP_SUMMARY`, the Markdown summary (`markdown.rs`) appended to that file. Every value
//! from the bucket is escaped so that it cannot start a command of its own (`escape.rs`).

use std::io::{self, Write};
use std::path::PathBuf;

use super::digest::Digest;
use super::{escape, markdown, Gate, ObjectRow, ReportWriter, RunInfo, Status, Summary};
use crate::rules::{Finding, RuleId, Severity};

pub struct GithubWriter {
    out: Box<dyn Write + Send>,
    digest: Digest,
    /// `$GITHUB_STEP_SUMMARY`, when the runner set it.
    step_summary: Option<PathBuf>,
}

impl GithubWriter {
    pub fn new(out: Box<dyn Write + Send>, gate: Gate, step_summary: Option<PathBuf>) -> Self {
        GithubWriter {
            out,
            digest: Digest::new(gate, markdown::EXAMPLES),
            step_summary,
        }
    }

    fn command(&mut self, level: &str, title: &str, message: &str) -> io::Result<()> {
        writeln!(
            self.out,
            "::{level} title={}::{}",
            escape::for_workflow_property(title),
            escape::for_workflow_data(message)
        )
    }
}

/// The annotation title of a finding: its rule, and for the policy the header too.
fn title(finding: &Finding) -> String {
    match finding.rule {
        RuleId::Policy => format!("s3mend policy: {}", finding.header),
        rule => format!("s3mend {rule}"),
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn change(finding: &Finding) -> String {
    format!(
        "{} {} → {}",
        finding.header,
        finding.current.as_deref().unwrap_or("(absent)"),
        finding.proposed.as_deref().unwrap_or("(remove)")
    )
}

impl ReportWriter for GithubWriter {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()> {
        self.digest.add(row);
        let key = &row.key;
        match row.status {
            Status::Finding | Status::WouldFix | Status::WouldRestore => {
                let prefix = match row.status {
                    Status::Finding => "",
                    Status::WouldRestore => "would restore: ",
                    _ => "would fix: ",
                };
                for finding in &row.findings {
                    let message = format!("{prefix}{key}: {}", change(finding));
                    self.command(level(finding.severity), &title(finding), &message)?;
                }
            }
            Status::Skipped | Status::Conflict => {
                let what = match row.status {
                    Status::Skipped => "skipped",
                    _ => "conflict",
                };
                let reason = row.reason.as_deref().unwrap_or("");
                // A skip the gate accepts is a notice; one that fails it is as severe as its worst
                // finding.
                let level = if self.digest.gate().fails(row) {
                    row.findings
                        .iter()
                        .map(|f| f.severity)
                        .max()
                        .map_or("error", level)
                } else {
                    "notice"
                };
                self.command(level, &format!("s3mend {what}: {reason}"), key)?;
            }
            Status::Error => {
                let error = row
                    .error
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                self.command("error", "s3mend error", &format!("{key}: {error}"))?;
            }
            Status::Fixed | Status::Gone | Status::Restored => {}
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()> {
        let verdict = markdown::verdict(&self.digest, summary, info);
        let level = if info.stopped.is_some() || summary.errors > 0 {
            "error"
        } else {
            "notice"
        };
        let message = format!(
            "{}: listed {}, {verdict} ({})",
            info.target,
            summary.listed,
            self.digest.gate().describe()
        );
        self.command(level, &format!("s3mend {}", info.command), &message)?;
        if let Some(path) = &self.step_summary {
            let text = markdown::render(&self.digest, summary, info);
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("GITHUB_STEP_SUMMARY {}: {e}", path.display()),
                    )
                })?;
            file.write_all(text.as_bytes())?;
        }
        self.out.flush()
    }
}
