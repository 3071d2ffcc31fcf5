//! Wiring: client, pipeline, progress and report for one run, and the run's exit code.

mod fix;

pub use fix::{consent, fix, undo, Consent};

use std::io::{self, BufWriter, IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::config::{OutputConfig, ScanConfig, StateConfig};
use crate::exit_codes::ExitCode;
use crate::pipeline::{self, Counters};
use crate::progress::Progress;
use crate::report::{self, ObjectRow, RunInfo, Summary};
use crate::s3;
use crate::state::{Checkpoint, Checkpointer};

/// Runs a scan to the end, an interruption or a listing failure, and writes its report.
pub async fn scan(mut cfg: ScanConfig, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    // The report and state files must be writable before the first request is sent.
    let (out, color) = open_output(&cfg.output)?;
    let Some(resumed) = resumed(cfg.state.as_ref())? else {
        return Ok(ExitCode::Clean);
    };
    cfg.job.start_after = resumed.and_then(|c| c.done_through);
    let counters = Arc::new(Counters::default());
    let mut checkpoints = Checkpoints::start(
        cfg.state.as_ref(),
        counters.clone(),
        cfg.job.start_after.clone(),
        None,
    )?;
    let connection = s3::connect(&cfg.connect, &cfg.target.bucket).await?;
    let mut info = RunInfo {
        target: cfg.target.to_string(),
        rules: cfg.job.rules.clone(),
        stopped: None,
        command: "scan",
        notes: checkpoints.notes(),
    };
    let mut writer = report::writer(cfg.output.format, out, color);
    let progress = Progress::start(counters.clone(), cfg.output.progress);

    let mut summary = Summary::default();
    let mut listing_failed = None;
    let mut results = std::pin::pin!(pipeline::scan(
        connection.client.clone(),
        connection.heads.clone(),
        cfg.job,
        counters,
        cancel.clone()
    ));
    while let Some(item) = results.next().await {
        match item {
            Ok(inspected) => {
                summary.record(&inspected);
                if let Some(row) = ObjectRow::from_inspected(&inspected) {
                    writer.object(&row).context("writing the report")?;
                }
                checkpoints.done(&inspected.listed.key)?;
            }
            // Stop taking new keys; HEADs already in flight still arrive and are recorded.
            Err(failed) => {
                cancel.cancel();
                listing_failed.get_or_insert(failed.0);
            }
        }
    }
    progress.finish();

    let interrupted = cancel.is_cancelled() && listing_failed.is_none();
    if let Some(failure) = &listing_failed {
        info.stopped = Some(format!("listing failed ({failure})"));
    } else if interrupted {
        info.stopped = Some("interrupted".to_owned());
    }
    summary.complete = info.stopped.is_none();
    summary.requests = Some(connection.requests.snapshot());
    checkpoints.finish(summary.complete)?;
    writer
        .finish(&summary, &info)
        .context("writing the report")?;

    if let Some(failure) = listing_failed {
        anyhow::bail!("listing {} failed: {failure}", info.target);
    }
    Ok(exit_code(&summary, interrupted))
}

/// The checkpoint `--resume` continues, or `None` (after saying so) when it records a finished
/// run.
pub(crate) fn resumed(state: Option<&StateConfig>) -> anyhow::Result<Option<Option<Checkpoint>>> {
    let Some(state) = state.filter(|s| s.resume) else {
        return Ok(Some(None));
    };
    let checkpoint = Checkpoint::resume(&state.path, &state.scope)?;
    if checkpoint.complete {
        eprintln!(
            "s3mend: --state {} records a finished run: nothing to resume (run without --resume to start over)",
            state.path.display()
        );
        return Ok(None);
    }
    Ok(Some(Some(checkpoint)))
}

/// The run's `--state` file, fed from the pipeline's watermark as results are recorded.
pub(crate) struct Checkpoints {
    file: Option<Checkpointer>,
    counters: Arc<Counters>,
    resumed_after: Option<String>,
}

impl Checkpoints {
    /// Writes the first checkpoint (so an unwritable `--state` fails before any request).
    pub(crate) fn start(
        state: Option<&StateConfig>,
        counters: Arc<Counters>,
        done_through: Option<String>,
        journal: Option<std::path::PathBuf>,
    ) -> anyhow::Result<Self> {
        let file = match state {
            Some(state) => {
                let mut checkpoint = Checkpoint::new(state.scope.clone(), journal);
                checkpoint.done_through = done_through.clone();
                Some(Checkpointer::start(state.path.clone(), checkpoint)?)
            }
            None => None,
        };
        let resumed_after = state.filter(|s| s.resume).and(done_through);
        Ok(Checkpoints {
            file,
            counters,
            resumed_after,
        })
    }

    /// What the report should say about the state.
    pub(crate) fn notes(&self) -> Vec<String> {
        let Some(file) = &self.file else {
            return Vec::new();
        };
        let mut notes = vec![format!("state: {}", file.path().display())];
        if let Some(after) = &self.resumed_after {
            notes.push(format!(
                "resumed: only keys after {after:?} were listed; the counts cover this run"
            ));
        }
        notes
    }

    /// `key`'s result is recorded.
    pub(crate) fn done(&mut self, key: &str) -> anyhow::Result<()> {
        let done_through = {
            let mut watermark = self.counters.watermark.lock();
            watermark.done(key);
            watermark.done_through().map(str::to_owned)
        };
        match &mut self.file {
            Some(file) => file.progress(done_through.as_deref()),
            None => Ok(()),
        }
    }

    pub(crate) fn finish(&mut self, complete: bool) -> anyhow::Result<()> {
        let done_through = self
            .counters
            .watermark
            .lock()
            .done_through()
            .map(str::to_owned);
        match &mut self.file {
            Some(file) => file.finish(done_through.as_deref(), complete),
            None => Ok(()),
        }
    }
}

/// The exit code a scan's summary calls for.
pub fn exit_code(summary: &Summary, interrupted: bool) -> ExitCode {
    let mut code = ExitCode::Clean;
    if summary.with_findings > 0 {
        code = code.merge(ExitCode::Findings);
    }
    if summary.errors > 0 {
        code = code.merge(ExitCode::Error);
    }
    if interrupted {
        code = code.merge(ExitCode::Interrupted);
    }
    code
}

/// The report's destination, and whether the table may use colour (a terminal, and NO_COLOR
/// unset).
pub fn open_output(cfg: &OutputConfig) -> anyhow::Result<(Box<dyn Write + Send>, bool)> {
    match &cfg.path {
        Some(path) => {
            // Reports name private objects: readable by the owner only.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options
                .open(path)
                .with_context(|| format!("cannot write --output {}", path.display()))?;
            Ok((Box::new(BufWriter::new(file)), false))
        }
        None => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let color = io::stdout().is_terminal() && !no_color;
            Ok((Box::new(BufWriter::new(io::stdout())), color))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_follows_the_summary() {
        let clean = Summary {
            listed: 3,
            inspected: 3,
            clean: 3,
            ..Summary::default()
        };
        assert_eq!(exit_code(&clean, false), ExitCode::Clean);
        let findings = Summary {
            with_findings: 1,
            ..clean.clone()
        };
        assert_eq!(exit_code(&findings, false), ExitCode::Findings);
        let errors = Summary {
            errors: 1,
            ..findings.clone()
        };
        assert_eq!(exit_code(&errors, false), ExitCode::Error);
        assert_eq!(exit_code(&errors, true), ExitCode::Interrupted);
        assert_eq!(exit_code(&Summary::default(), false), ExitCode::Clean);
    }
}
