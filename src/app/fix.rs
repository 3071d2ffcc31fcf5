//! `s3mend fix` and `s3mend undo`: scan (or read a journal), ask, repair, report.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use std::path::Path;

use super::{open_output, resumed, Checkpoints};
use crate::config::{FixConfig, OutputConfig, UndoConfig, WriteConfig};
use crate::exit_codes::ExitCode;
use crate::journal::{self, Journal};
use crate::pipeline::{
    self, AclSupport, Counters, Outcome, RepairSettings, Repaired, Repairer, Settled,
    JOURNAL_FAILED, UNCONDITIONAL_REFUSED,
};
use crate::plan::SkipReason;
use crate::progress::Progress;
use crate::report::{self, ObjectRow, RunInfo, Summary};
use crate::rules::RuleSet;
use crate::s3;

/// Whether a run may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Granted,
    /// Ask on the terminal, with the count, once the scan is done.
    Ask,
    Refused,
}

pub fn consent(write: &WriteConfig, stdin_is_terminal: bool) -> Consent {
    if write.dry_run || write.yes {
        Consent::Granted
    } else if stdin_is_terminal {
        Consent::Ask
    } else {
        Consent::Refused
    }
}

const REFUSED: &str =
    "refusing to write without --yes: stdin is not a terminal to confirm on (see the plan with --dry-run)";

fn open_journal(write: &WriteConfig) -> anyhow::Result<Option<Arc<Journal>>> {
    match (&write.journal, write.dry_run) {
        (Some(path), false) => Journal::create(path)
            .map(|j| Some(Arc::new(j)))
            .with_context(|| format!("cannot write --journal {}", path.display())),
        _ => Ok(None),
    }
}

/// Asks "Repair N objects in TARGET? [y/N]" on the terminal. A Ctrl-C while waiting for the
/// answer counts as no: the read runs on its own thread, so the signal is not stuck behind it.
async fn confirm(question: &str, cancel: &CancellationToken) -> bool {
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Detached: if the run is interrupted the thread stays blocked in read_line until the
    // process exits, which must not wait for it.
    std::thread::spawn(move || {
        let mut answer = String::new();
        let yes = io::stdin().lock().read_line(&mut answer).is_ok()
            && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
        let _ = tx.send(yes);
    });
    tokio::select! {
        answer = rx => answer.unwrap_or(false),
        () = cancel.cancelled() => {
            eprintln!();
            false
        }
    }
}

/// A resumed fix appends to the journal its state names (never to another one), after cutting a
/// line the stop may have torn.
fn continue_journal(write: &mut WriteConfig, previous: &Path) -> anyhow::Result<()> {
    if let Some(given) = write.journal.as_deref().filter(|_| write.journal_given) {
        if given != previous {
            anyhow::bail!(
                "--resume continues the journal named in --state ({}), not --journal {}",
                previous.display(),
                given.display()
            );
        }
    }
    journal::drop_torn_tail(previous)
        .with_context(|| format!("cannot repair journal {}", previous.display()))?;
    write.journal = Some(previous.to_owned());
    Ok(())
}

/// Settles the copies the journal shows in flight when the previous run stopped, so the journal
/// ends complete; returns what to note in the report.
async fn settle_in_flight(repairer: &Repairer, path: &Path) -> anyhow::Result<Vec<String>> {
    let mut open = std::collections::BTreeMap::new();
    for entry in journal::read(path)? {
        if entry.status.is_none() {
            open.insert(entry.key.clone(), entry);
        } else {
            open.remove(&entry.key);
        }
    }
    if open.is_empty() {
        return Ok(Vec::new());
    }
    let (mut applied, mut not_applied, mut changed, mut unknown) = (0, 0, 0, Vec::new());
    for entry in open.values() {
        match repairer.settle(entry).await {
            Ok(Settled::Applied) => applied += 1,
            Ok(Settled::NotApplied) => not_applied += 1,
            Ok(Settled::Changed) => changed += 1,
            Ok(Settled::Unknown(f)) => unknown.push(format!("{} ({f})", entry.key)),
            Err(f) => anyhow::bail!("{f}"),
        }
    }
    let mut notes = vec![format!(
        "{} copies were in flight when the previous run stopped: {applied} applied, {not_applied} not applied, {changed} changed since (the journal now records each)",
        open.len()
    )];
    if !unknown.is_empty() {
        notes.push(format!(
            "could not settle, left open in the journal: {}",
            unknown.join(", ")
        ));
    }
    Ok(notes)
}

/// Removes a journal nothing was written to (the question was declined, or the run stopped
/// before its first repair); true if it did.
fn discard_if_empty(journal: Option<&Journal>) -> bool {
    journal.is_some_and(|journal| {
        std::fs::metadata(journal.path()).is_ok_and(|m| m.len() == 0)
            && std::fs::remove_file(journal.path()).is_ok()
    })
}

pub async fn fix(mut cfg: FixConfig, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    let consent = consent(&cfg.write, io::stdin().is_terminal());
    if consent == Consent::Refused {
        anyhow::bail!(REFUSED);
    }
    // Every file is opened before the first request.
    let (out, color) = open_output(&cfg.scan.output)?;
    let Some(resumed) = resumed(cfg.scan.state.as_ref())? else {
        return Ok(ExitCode::Clean);
    };
    let resumed_journal = resumed.as_ref().and_then(|c| c.journal.clone());
    if let (Some(previous), false) = (&resumed_journal, cfg.write.dry_run) {
        continue_journal(&mut cfg.write, previous)?;
    }
    let journal = open_journal(&cfg.write)?;
    cfg.scan.job.start_after = resumed.and_then(|c| c.done_through);
    let counters = Arc::new(Counters::default());
    let checkpoints = Checkpoints::start(
        cfg.scan.state.as_ref(),
        counters.clone(),
        cfg.scan.job.start_after.clone(),
        cfg.write.journal.clone(),
    )?;
    let connection = s3::connect(&cfg.scan.connect, &cfg.scan.target.bucket)
        .await
        .inspect_err(|_| {
            discard_if_empty(journal.as_deref());
        })?;
    let repairer = Arc::new(
        Repairer::new(
            connection.client.clone(),
            cfg.scan.target.bucket.clone(),
            cfg.scan.job.rules.clone(),
            cfg.repair.clone(),
            journal.clone(),
        )
        .await
        .stopping_on(cancel.clone()),
    );
    let mut run = Run::new(
        "fix",
        connection.requests.clone(),
        cfg.scan.target.to_string(),
        cfg.scan.job.rules.clone(),
        &cfg.scan.output,
        out,
        color,
    );
    run.info.notes.extend(checkpoints.notes());
    run.checkpoints = Some(checkpoints);
    if let (Some(journal), true) = (&journal, resumed_journal.is_some()) {
        let settled = settle_in_flight(&repairer, journal.path()).await?;
        run.info.notes.extend(settled);
    }
    let concurrency = cfg.scan.job.concurrency;
    let scan = pipeline::scan(
        connection.client,
        connection.heads,
        cfg.scan.job,
        counters.clone(),
        cancel.clone(),
    );

    let source: BoxStream<'_, pipeline::ScanItem> = if consent == Consent::Ask {
        // Ask once, with the count: scan first, keeping only the objects with findings.
        let progress = Progress::start(counters.clone(), cfg.scan.output.progress);
        let mut pending = Vec::new();
        let mut scan = std::pin::pin!(scan);
        while let Some(item) = scan.next().await {
            match item {
                Ok(inspected) if inspected.outcome.is_ok() && !inspected.findings.is_empty() => {
                    pending.push(inspected)
                }
                Ok(inspected) => run.record(&repairer.repair(inspected).await, &cancel)?,
                Err(failed) => run.listing_failed(failed.0, &cancel),
            }
        }
        progress.finish();
        let confirmed = pending.is_empty()
            || cancel.is_cancelled()
            || confirm(
                &format!(
                    "Repair {} objects in {}?",
                    report::thousands(pending.len() as u64),
                    cfg.scan.target
                ),
                &cancel,
            )
            .await;
        if !confirmed || cancel.is_cancelled() {
            // Not one copy was made: every object with a finding is in the report as skipped.
            let reason = if cancel.is_cancelled() {
                SkipReason::Interrupted
            } else {
                SkipReason::Declined
            };
            for inspected in pending {
                run.record(&Repaired::skipped(inspected, reason), &cancel)?;
            }
            let journal = journal.filter(|j| !discard_if_empty(Some(j)));
            if reason == SkipReason::Declined {
                eprintln!("s3mend: nothing was written");
            }
            return run.finish(&cancel, &repairer, journal.as_deref());
        }
        stream::iter(pending.into_iter().map(Ok))
            .take_until(cancel.clone().cancelled_owned())
            .boxed()
    } else {
        scan.boxed()
    };
    let progress = Progress::start(counters, cfg.scan.output.progress);
    let mut results = std::pin::pin!(source
        .map(|item| {
            let repairer = repairer.clone();
            async move {
                match item {
                    Ok(inspected) => Ok(repairer.repair(inspected).await),
                    Err(failed) => Err(failed),
                }
            }
        })
        .buffer_unordered(concurrency));
    while let Some(item) = results.next().await {
        match item {
            Ok(repaired) => run.record(&repaired, &cancel)?,
            Err(failed) => run.listing_failed(failed.0, &cancel),
        }
    }
    progress.finish();
    run.finish(&cancel, &repairer, journal.as_deref())
}

pub async fn undo(cfg: UndoConfig, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    let entries = journal::read(&cfg.from)?;
    let Some(bucket) = entries.first().map(|e| e.bucket.clone()) else {
        anyhow::bail!(
            "journal {} records no repair: nothing to undo",
            cfg.from.display()
        );
    };
    if let Some(other) = entries.iter().find(|e| e.bucket != bucket) {
        anyhow::bail!(
            "journal {} mixes buckets ({bucket} and {}): not a journal s3mend wrote",
            cfg.from.display(),
            other.bucket
        );
    }
    // The last written repair of each key is the one to undo; planned-only entries may have been
    // written before the run stopped, so they are checked like the others.
    let mut latest = std::collections::BTreeMap::new();
    for entry in entries {
        if matches!(
            entry.status.as_deref(),
            None | Some("fixed") | Some("error")
        ) {
            latest.insert(entry.key.clone(), entry);
        }
    }
    let consent = consent(&cfg.write, io::stdin().is_terminal());
    if consent == Consent::Refused {
        anyhow::bail!(REFUSED);
    }
    let (out, color) = open_output(&cfg.output)?;
    let journal = open_journal(&cfg.write)?;
    if consent == Consent::Ask
        && !confirm(
            &format!(
                "Restore the old metadata of {} objects in s3://{bucket}/?",
                report::thousands(latest.len() as u64)
            ),
            &cancel,
        )
        .await
    {
        discard_if_empty(journal.as_deref());
        eprintln!("s3mend: nothing was written");
        return Ok(if cancel.is_cancelled() {
            ExitCode::Interrupted
        } else {
            ExitCode::Findings
        });
    }
    // The bucket comes from the journal, not the command line: say which journal named it.
    let connection = s3::connect(&cfg.connect, &bucket)
        .await
        .inspect_err(|_| {
            discard_if_empty(journal.as_deref());
        })
        .with_context(|| format!("journal {} is for s3://{bucket}/", cfg.from.display()))?;
    let settings = RepairSettings {
        dry_run: cfg.write.dry_run,
        allow_unconditional: cfg.write.allow_unconditional,
        ..RepairSettings::default()
    };
    let repairer = Arc::new(
        Repairer::new(
            connection.client,
            bucket.clone(),
            RuleSet::all(),
            settings,
            journal.clone(),
        )
        .await,
    );
    let mut run = Run::new(
        "undo",
        connection.requests.clone(),
        format!("s3://{bucket}/"),
        RuleSet::all(),
        &cfg.output,
        out,
        color,
    );
    let mut results = std::pin::pin!(stream::iter(latest.into_values())
        .take_until(cancel.clone().cancelled_owned())
        .map(|entry| {
            let repairer = repairer.clone();
            async move { repairer.undo(entry).await }
        })
        .buffer_unordered(cfg.concurrency));
    while let Some(repaired) = results.next().await {
        run.record(&repaired, &cancel)?;
    }
    run.finish(&cancel, &repairer, journal.as_deref())
}

/// The report side of a fix or undo run.
struct Run {
    writer: Box<dyn report::ReportWriter>,
    summary: Summary,
    info: RunInfo,
    /// A fix's `--state` (and watermark); none for undo.
    checkpoints: Option<Checkpoints>,
    listing_failed: Option<s3::S3Failure>,
    /// A failure that stops the run: the journal could not be written, or copies would not be
    /// conditional.
    fatal: Option<s3::S3Failure>,
    requests: Arc<s3::RequestStats>,
}

impl Run {
    fn new(
        command: &'static str,
        requests: Arc<s3::RequestStats>,
        target: String,
        rules: RuleSet,
        output: &OutputConfig,
        out: Box<dyn Write + Send>,
        color: bool,
    ) -> Self {
        Run {
            writer: report::writer(output.format, out, color),
            summary: Summary {
                fix: Some(Default::default()),
                ..Summary::default()
            },
            info: RunInfo {
                target,
                rules,
                stopped: None,
                command,
                notes: Vec::new(),
            },
            listing_failed: None,
            fatal: None,
            requests,
            checkpoints: None,
        }
    }

    fn record(&mut self, repaired: &Repaired, cancel: &CancellationToken) -> anyhow::Result<()> {
        self.summary.record_repaired(repaired);
        if let Outcome::Failed(f) = &repaired.outcome {
            // Nothing may change without a record, nor without its condition: stop taking new
            // objects.
            let fatal = f.code == JOURNAL_FAILED || f.code == UNCONDITIONAL_REFUSED;
            if fatal && self.fatal.is_none() {
                self.fatal = Some(f.clone());
                cancel.cancel();
            }
        }
        if let Some(row) = ObjectRow::from_repaired(repaired) {
            self.writer.object(&row).context("writing the report")?;
        }
        match &mut self.checkpoints {
            Some(checkpoints) => checkpoints.done(&repaired.listed.key),
            None => Ok(()),
        }
    }

    fn listing_failed(&mut self, failure: s3::S3Failure, cancel: &CancellationToken) {
        cancel.cancel();
        self.listing_failed.get_or_insert(failure);
    }

    fn finish(
        mut self,
        cancel: &CancellationToken,
        repairer: &Repairer,
        journal: Option<&Journal>,
    ) -> anyhow::Result<ExitCode> {
        match repairer.source_condition() {
            Some(Ok(false)) if self.fatal.is_none() => self.info.notes.push(
                "the server ignores x-amz-copy-source-if-match: copies were made without it (--allow-unconditional-copies)".into(),
            ),
            Some(Err(f)) => self.info.notes.push(format!(
                "could not check that the server enforces x-amz-copy-source-if-match ({f}): copies relied on it"
            )),
            _ => {}
        }
        if !repairer.destination_conditions() {
            self.info.notes.push(
                "the server does not support If-Match on CopyObject: copies were conditional on the source ETag only".into(),
            );
        }
        match repairer.acl_support() {
            AclSupport::Used => {}
            AclSupport::NotImplemented => self.info.notes.push(
                "the server does not implement object ACLs (501): objects were rewritten without ACL grants".into(),
            ),
            AclSupport::Disabled => self.info.notes.push(
                "the bucket does not use ACLs (Object Ownership = BucketOwnerEnforced): no grants were sent".into(),
            ),
        }
        if let Some(journal) = journal {
            self.info.notes.push(format!(
                "journal: {} (undo with: s3mend undo {})",
                journal.path().display(),
                journal.path().display()
            ));
        }
        let interrupted =
            cancel.is_cancelled() && self.listing_failed.is_none() && self.fatal.is_none();
        self.info.stopped = match (&self.fatal, &self.listing_failed) {
            (Some(f), _) => Some(format!("stopped: {}", f.message)),
            (None, Some(f)) => Some(format!("listing failed ({f})")),
            (None, None) if interrupted => Some("interrupted".to_owned()),
            (None, None) => None,
        };
        self.summary.complete = self.info.stopped.is_none();
        self.summary.requests = Some(self.requests.snapshot());
        if let Some(checkpoints) = &mut self.checkpoints {
            checkpoints.finish(self.summary.complete)?;
        }
        self.writer
            .finish(&self.summary, &self.info)
            .context("writing the report")?;
        if let Some(f) = self.fatal.or(self.listing_failed) {
            anyhow::bail!("{}: {f}", self.info.target);
        }
        Ok(exit_code(&self.summary, interrupted))
    }
}

/// 0 every finding repaired (or none); 1 findings left; 2 errors; 130 interrupted.
pub fn exit_code(summary: &Summary, interrupted: bool) -> ExitCode {
    let fix = summary.fix.clone().unwrap_or_default();
    let mut code = ExitCode::Clean;
    if fix.would_fix + fix.skipped + fix.conflicts > 0 {
        code = code.merge(ExitCode::Findings);
    }
    if summary.errors + fix.failed > 0 {
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
    fn consent_needs_yes_without_a_terminal() {
        let write = |dry_run, yes| WriteConfig {
            dry_run,
            yes,
            journal: None,
            journal_given: false,
            allow_unconditional: false,
        };
        assert_eq!(consent(&write(false, false), false), Consent::Refused);
        assert_eq!(consent(&write(false, false), true), Consent::Ask);
        assert_eq!(consent(&write(false, true), false), Consent::Granted);
        assert_eq!(consent(&write(true, false), false), Consent::Granted);
    }

    #[test]
    fn fix_exit_codes() {
        let with = |fix: FixCounts, errors| Summary {
            errors,
            fix: Some(fix),
            ..Summary::default()
        };
        let fixed = FixCounts {
            fixed: 3,
            ..FixCounts::default()
        };
        assert_eq!(exit_code(&with(fixed.clone(), 0), false), ExitCode::Clean);
        let left = FixCounts {
            skipped: 1,
            ..fixed.clone()
        };
        assert_eq!(exit_code(&with(left.clone(), 0), false), ExitCode::Findings);
        let dry = FixCounts {
            would_fix: 1,
            ..FixCounts::default()
        };
        assert_eq!(exit_code(&with(dry, 0), false), ExitCode::Findings);
        let failed = FixCounts { failed: 1, ..left };
        assert_eq!(exit_code(&with(failed, 0), false), ExitCode::Error);
        assert_eq!(exit_code(&with(fixed.clone(), 1), false), ExitCode::Error);
        assert_eq!(exit_code(&with(fixed, 0), true), ExitCode::Interrupted);
    }
}
