//! One run's bookkeeping, for scan, fix and undo alike: the report being written, the summary,
//! the `--state` checkpoints, why the run stopped early, and the exit code all of that calls for.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::metrics::RunMetrics;
use super::output::Output;
use super::plan_file::PlanFile;
use crate::catalog;
use crate::config::{OutputConfig, StateConfig};
use crate::exit_codes::ExitCode;
use crate::journal::Journal;
use crate::model::ListingFailure;
use crate::model::SkipReason;
use crate::outcome::{Failure, Inspected, Outcome, Repaired};
use crate::repair::Capabilities;
use crate::report::{self, ObjectRow, RunInfo, Summary};
use crate::rules::RuleSet;
use crate::s3::{ConnectOptions, Connection, RequestStats};
use crate::state::Checkpoint;

pub(crate) use super::checkpoints::Checkpoints;

/// Where a run starts.
pub(crate) enum Start {
    /// From the beginning of the listing.
    Fresh,
    /// After the checkpoint `--resume` continues.
    Resume(Box<Checkpoint>),
    /// `--resume` found a finished run: there is nothing to do.
    Finished,
}

impl Start {
    /// Reads the checkpoint to resume, if `--resume` asks for one.
    pub(crate) fn read(state: Option<&StateConfig>) -> anyhow::Result<Start> {
        let Some(state) = state.filter(|s| s.resume) else {
            return Ok(Start::Fresh);
        };
        let checkpoint = Checkpoint::resume(&state.path, &state.scope)?;
        if checkpoint.complete {
            eprintln!(
                "s3mend: --state {} records a finished run: nothing to resume (run without --resume to start over)",
                state.path.display()
            );
            return Ok(Start::Finished);
        }
        Ok(Start::Resume(Box::new(checkpoint)))
    }

    /// The checkpoint resumed, if any.
    pub(crate) fn checkpoint(&self) -> Option<&Checkpoint> {
        match self {
            Start::Resume(checkpoint) => Some(checkpoint),
            Start::Fresh | Start::Finished => None,
        }
    }
}

/// The report side of a run.
pub(crate) struct Run {
    /// Until the report is finished.
    writer: Option<Box<dyn report::ReportWriter>>,
    summary: Summary,
    pub(crate) info: RunInfo,
    /// `--state` (and the watermark); none for undo.
    checkpoints: Option<Checkpoints>,
    listing_failed: Option<ListingFailure>,
    /// A failure that stops the run: the journal could not be written, or copies would not be
    /// conditional.
    fatal: Option<Failure>,
    requests: Arc<RequestStats>,
    /// Where the report goes, for messages: the `--output` file, or stdout.
    destination: String,
    /// The report could not be written (a full disk): the run stops, and its summary goes to
    /// stderr instead.
    report_failed: Option<std::io::Error>,
    /// With `-q` on stdout: lets the report through once there is something to report.
    release: Option<report::Release>,
    started: std::time::Instant,
    /// `--statsd` and `--metrics-file`, sent when the run ends.
    metrics: Option<RunMetrics>,
    /// `--fail-on` and `--accept-skips`.
    gate: report::Gate,
    /// Objects that fail the gate: any makes the run exit 1.
    failing: u64,
    /// `--plan`: the dry run's complete plan.
    plan_file: Option<PlanFile>,
}

/// The one line `-v` logs as a run starts: what, where, with which rules, how hard.
pub(crate) fn log_start(
    command: &str,
    target: &str,
    opts: &ConnectOptions,
    connection: &Connection,
    rules: &RuleSet,
    concurrency: usize,
) {
    let rules: Vec<&str> = rules.ids().iter().map(|r| r.as_str()).collect();
    let (max_attempts, retry_mode) = connection.retry();
    tracing::info!(
        command,
        target,
        endpoint = opts.endpoint_url.as_deref().unwrap_or("AWS"),
        region = connection.region().as_deref().unwrap_or("-"),
        rules = rules.join(","),
        concurrency,
        max_attempts,
        retry_mode,
        "start"
    );
}

impl Run {
    /// A run of `command` (`scan`, `fix` or `undo`) on `target`, reporting to `out`.
    pub(crate) fn new(
        command: &'static str,
        target: String,
        rules: RuleSet,
        output: &OutputConfig,
        out: Output,
        requests: Arc<RequestStats>,
    ) -> Self {
        let mut notes = Vec::new();
        if let Some(policy) = rules.policy() {
            notes.push(format!("policy: {}", policy.path));
        }
        if !rules.sniffs() {
            notes.push(
                "--no-sniff: no body was read; Content-Encoding proposals come from the headers alone"
                    .to_owned(),
            );
        }
        let options = report::WriterOptions {
            color: out.color,
            gate: output.gate.clone(),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|p| !p.is_empty())
                .map(Into::into),
            all_rows: output.all_rows,
        };
        let main = report::writer(output.format, out.out, &options);
        let writer = if out.also.is_empty() {
            main
        } else {
            let plain = report::WriterOptions {
                color: false,
                ..options
            };
            let also = out
                .also
                .into_iter()
                .map(|(format, to)| report::writer(format, to, &plain));
            report::tee(std::iter::once(main).chain(also).collect())
        };
        Run {
            writer: Some(writer),
            gate: output.gate.clone(),
            failing: 0,
            plan_file: None,
            release: out.release,
            started: std::time::Instant::now(),
            summary: Summary {
                fix: (command != "scan").then(Default::default),
                ..Summary::default()
            },
            info: RunInfo {
                target,
                rules,
                stopped: None,
                command,
                notes,
                shard: None,
            },
            checkpoints: None,
            listing_failed: None,
            fatal: None,
            requests,
            destination: output
                .path
                .as_ref()
                .map_or("stdout".to_owned(), |p| p.display().to_string()),
            report_failed: None,
            metrics: None,
        }
    }

    /// Keeps `--state` as results are recorded, and says so in the report.
    pub(crate) fn checkpointed(mut self, checkpoints: Checkpoints) -> Self {
        self.info.notes.extend(checkpoints.notes());
        if checkpoints.catalogues() {
            self.summary.from_catalog = Some(0);
        }
        self.checkpoints = Some(checkpoints);
        self
    }

    /// Writes each object a dry run would repair into `plan` (`--plan`).
    pub(crate) fn planning(mut self, plan: Option<PlanFile>) -> Self {
        self.plan_file = plan;
        self
    }

    /// The part of a sharded run this is (`--shard I/N`): the report says so, for `merge`.
    pub(crate) fn sharded(mut self, shard: Option<crate::shard::Shard>) -> Self {
        self.info.shard = shard.map(|s| s.to_string());
        self
    }

    /// Sends the run's metrics when it ends.
    pub(crate) fn measured(mut self, metrics: Option<RunMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// A scanned object.
    pub(crate) fn inspected(
        &mut self,
        inspected: &Inspected,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        self.summary.record(inspected);
        if let Some(row) = ObjectRow::from_inspected(inspected) {
            self.write_row(&row, cancel);
        }
        self.done(&inspected.listed.key, || {
            catalog::Entry::of_inspected(inspected)
        })
    }

    /// Writes one object's row; the first failure stops the run (see `report_failed`) and the
    /// rows after it are counted but not written. A scan stopped this way is reported
    /// incomplete, so `--state` lets it resume.
    fn write_row(&mut self, row: &ObjectRow, cancel: &CancellationToken) {
        self.failing += u64::from(self.gate.fails(row));
        if let Some(metrics) = &mut self.metrics {
            metrics.record(row);
        }
        let Some(writer) = self
            .writer
            .as_mut()
            .filter(|_| self.report_failed.is_none())
        else {
            return;
        };
        if let Some(release) = &self.release {
            release.release();
        }
        if let Err(e) = writer.object(row) {
            self.report_failed = Some(e);
            cancel.cancel();
        }
    }

    /// A repaired (or restored) object. A failure that stops the run cancels it.
    pub(crate) fn repaired(
        &mut self,
        repaired: &Repaired,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        self.summary.record_repaired(repaired);
        if let Some(plan) = &mut self.plan_file {
            if !plan.add(repaired) {
                cancel.cancel();
            }
        }
        if let Outcome::Failed(failure) = &repaired.outcome {
            // Nothing may change without a record, nor without its condition: stop taking new
            // objects.
            if failure.stops_the_run() && self.fatal.is_none() {
                self.fatal = Some(failure.clone());
                cancel.cancel();
            }
        }
        if let Some(mut row) = ObjectRow::from_repaired(repaired) {
            if self.info.command == "undo" {
                row.status = row.status.in_undo();
            }
            self.write_row(&row, cancel);
        }
        // Left alone because the run stopped (or the question was declined): not done, so a
        // resumed run lists it again.
        if matches!(
            repaired.outcome,
            Outcome::Skipped(SkipReason::Interrupted | SkipReason::Declined)
        ) {
            return Ok(());
        }
        self.done(&repaired.listed.key, || {
            catalog::Entry::of_repaired(repaired)
        })
    }

    fn plan_failed(&self) -> bool {
        self.plan_file.as_ref().is_some_and(PlanFile::failed)
    }

    /// Puts `--plan` in place if the dry run is complete, removes it otherwise, and says which
    /// in a note; why it could not be written, if so.
    fn finish_plan(&mut self) -> Option<String> {
        match self.plan_file.take()?.finish(self.summary.complete) {
            Ok(note) => {
                self.info.notes.push(note);
                None
            }
            Err(why) => Some(why),
        }
    }

    /// `key` is recorded in `--state` (and the catalog, with `entry`), unless its row could not
    /// be written: a resumed run must report it again.
    fn done(
        &mut self,
        key: &str,
        entry: impl FnOnce() -> Option<catalog::Entry>,
    ) -> anyhow::Result<()> {
        match &mut self.checkpoints {
            Some(checkpoints) if self.report_failed.is_none() => checkpoints.done(key, entry),
            _ => Ok(()),
        }
    }

    /// The listing failed: nothing after this point can be known. Stops taking new keys; what is
    /// in flight still arrives and is recorded.
    pub(crate) fn listing_failed(&mut self, failure: ListingFailure, cancel: &CancellationToken) {
        cancel.cancel();
        self.listing_failed.get_or_insert(failure);
    }

    /// [`Run::finish`] for a run that writes: what it learnt about the server, and where its
    /// journal is, go into the report's notes first.
    pub(crate) fn finish_writing(
        mut self,
        cancel: &CancellationToken,
        capabilities: &Capabilities,
        journal: Option<&Journal>,
    ) -> anyhow::Result<ExitCode> {
        let notes = capabilities.notes(self.fatal.is_some());
        self.info.notes.extend(notes);
        if let Some(journal) = journal {
            self.info.notes.push(format!(
                "journal: {} (undo with: s3mend undo {})",
                journal.path().display(),
                journal.path().display()
            ));
        }
        self.finish(cancel)
    }

    /// Writes the summary, the last checkpoint and the metrics; the run's exit code, or its
    /// one-line error.
    pub(crate) fn finish(mut self, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
        let outcome = self.close(cancel);
        match self.metrics.take() {
            Some(metrics) => metrics.finish(&self.summary, outcome),
            None => outcome,
        }
    }

    fn close(&mut self, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
        let interrupted = cancel.is_cancelled()
            && !self.plan_failed()
            && self.listing_failed.is_none()
            && self.fatal.is_none()
            && self.report_failed.is_none();
        self.info.stopped = match (&self.fatal, &self.listing_failed) {
            _ if self.report_failed.is_some() => Some("the report could not be written".into()),
            _ if self.plan_failed() => Some("the plan could not be written".into()),
            (Some(f), _) => Some(format!("stopped: {}", f.reported().message)),
            (None, Some(f)) => Some(format!("listing failed ({f})")),
            (None, None) if interrupted => Some("interrupted".to_owned()),
            (None, None) => None,
        };
        self.summary.complete = self.info.stopped.is_none();
        self.summary.requests = Some(self.requests.snapshot());
        let plan_failed = self.finish_plan();
        // The catalog first, so the report can say what became of it.
        let mut catalog_failed = None;
        if let Some(checkpoints) = &mut self.checkpoints {
            let complete = self.summary.complete && self.report_failed.is_none();
            match checkpoints.finish_catalog(complete) {
                Ok(note) => self.info.notes.extend(note),
                Err(why) => {
                    self.info.notes.push(why.clone());
                    catalog_failed = Some(why);
                }
            }
        }
        let code = exit_code(&self.summary, self.failing, interrupted);
        if self.gate != report::Gate::default() {
            let (n, verb) = match self.failing {
                1 => ("1 object".to_owned(), "fails"),
                n => (format!("{n} objects"), "fail"),
            };
            self.info
                .notes
                .push(format!("gate: {}: {n} {verb} it", self.gate.describe()));
        }
        self.log_end(code);
        if let (Some(release), false) = (
            &self.release,
            code == ExitCode::Clean && self.summary.complete,
        ) {
            release.release();
        }
        let written = match (self.report_failed.take(), self.writer.take()) {
            (Some(e), _) => Err(e),
            (None, Some(writer)) => writer.finish(&self.summary, &self.info),
            // Finished already: `close` runs once, from `finish`.
            (None, None) => Ok(()),
        };
        if let Err(e) = written {
            // Not reported is not done: the state stays unfinished, and the summary, which the
            // report would have ended with, goes to stderr.
            self.summary.complete = false;
            if let Some(checkpoints) = &mut self.checkpoints {
                checkpoints.finish_state(false)?;
            }
            let summary = serde_json::to_string(&self.summary).unwrap_or_default();
            eprintln!("s3mend: the report could not be written; its summary: {summary}");
            anyhow::bail!("cannot write the report to {}: {e}", self.destination);
        }
        if let Some(checkpoints) = &mut self.checkpoints {
            checkpoints.finish_state(self.summary.complete)?;
        }
        if let Some(why) = catalog_failed.or(plan_failed) {
            anyhow::bail!("{why}");
        }
        if let Some(f) = &self.fatal {
            anyhow::bail!("{}: {f}", self.info.target);
        }
        if let Some(f) = &self.listing_failed {
            anyhow::bail!("listing {} failed: {f}", self.info.target);
        }
        Ok(code)
    }
}

impl Run {
    /// The one line `-v` logs as a run ends: its counts, how long it took, what it sent.
    fn log_end(&self, code: ExitCode) {
        let s = &self.summary;
        let fix = s.fix.clone().unwrap_or_default();
        let requests = s.requests.clone().unwrap_or_default();
        tracing::info!(
            command = self.info.command,
            listed = s.listed,
            inspected = s.inspected,
            from_catalog = s.from_catalog,
            clean = s.clean,
            with_findings = s.with_findings,
            errors = s.errors,
            fixed = fix.fixed,
            skipped = fix.skipped,
            conflicts = fix.conflicts,
            failed = fix.failed,
            complete = s.complete,
            seconds = self.started.elapsed().as_secs_f64(),
            requests = requests.calls,
            attempts = requests.attempts,
            throttled = requests.throttled,
            exit_code = code as i32,
            "end"
        );
    }
}

/// The exit code a run calls for: 0 nothing left that fails the gate (no findings, every one
/// repaired, or only what `--fail-on` and `--accept-skips` let pass); 1 `failing` objects (with
/// findings reported, skipped, in conflict, or a dry run's: `report::Gate`); 2 errors; 130
/// interrupted.
pub fn exit_code(summary: &Summary, failing: u64, interrupted: bool) -> ExitCode {
    let failed = summary.fix.as_ref().map_or(0, |fix| fix.failed);
    let mut code = ExitCode::Clean;
    if failing > 0 {
        code = code.merge(ExitCode::Findings);
    }
    if summary.errors + failed > 0 {
        code = code.merge(ExitCode::Error);
    }
    if interrupted {
        code = code.merge(ExitCode::Interrupted);
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FixCounts;

    #[test]
    fn a_run_exits_by_what_fails_the_gate_and_its_errors() {
        let clean = Summary {
            listed: 3,
            inspected: 3,
            clean: 3,
            ..Summary::default()
        };
        assert_eq!(exit_code(&clean, 0, false), ExitCode::Clean);
        assert_eq!(exit_code(&Summary::default(), 0, false), ExitCode::Clean);
        let findings = Summary {
            with_findings: 2,
            ..clean.clone()
        };
        // Findings that pass the gate (warnings under --fail-on error) exit 0.
        assert_eq!(exit_code(&findings, 0, false), ExitCode::Clean);
        assert_eq!(exit_code(&findings, 1, false), ExitCode::Findings);
        let errors = Summary {
            errors: 1,
            ..findings.clone()
        };
        assert_eq!(exit_code(&errors, 0, false), ExitCode::Error);
        assert_eq!(exit_code(&errors, 1, false), ExitCode::Error);
        assert_eq!(exit_code(&errors, 1, true), ExitCode::Interrupted);
        let failed = Summary {
            fix: Some(FixCounts {
                failed: 1,
                ..FixCounts::default()
            }),
            ..findings
        };
        assert_eq!(exit_code(&failed, 0, false), ExitCode::Error);
        assert_eq!(exit_code(&clean, 0, true), ExitCode::Interrupted);
    }
}
