//! `s3mend merge REPORT...`: the JSON reports of a sharded run made one report, in any format.
//! Every report's summary is read and checked first (one run, distinct shards), then their rows
//! are streamed into the writer, so memory does not grow with the reports.

use std::fs::File;
use std::io::BufReader;

use anyhow::Context;

use super::output::open_output;
use super::run::exit_code;
use crate::config::MergeConfig;
use crate::exit_codes::ExitCode;
use crate::report::merge::{self, Part};
use crate::report::{self, RunInfo};
use crate::rules::RuleSet;

pub fn merge(cfg: MergeConfig) -> anyhow::Result<ExitCode> {
    let open = |path: &std::path::Path| -> anyhow::Result<BufReader<File>> {
        let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(BufReader::new(file))
    };
    let mut parts = Vec::new();
    for path in &cfg.reports {
        let name = path.display().to_string();
        let summary = merge::read(open(path)?, &name, |_| Ok(())).map_err(anyhow::Error::msg)?;
        parts.push(Part::from_summary(&summary, &name).map_err(anyhow::Error::msg)?);
    }
    let merged = merge::merge(&parts).map_err(anyhow::Error::msg)?;
    let out = open_output(&cfg.output)?;
    let options = report::WriterOptions {
        color: out.color,
        gate: cfg.output.gate.clone(),
        step_summary: None,
        all_rows: cfg.output.all_rows,
    };
    let mut writers = vec![report::writer(cfg.output.format, out.out, &options)];
    let plain = report::WriterOptions {
        color: false,
        ..options
    };
    for (format, to) in out.also {
        writers.push(report::writer(format, to, &plain));
    }
    let mut writer = report::tee(writers);
    if let Some(release) = &out.release {
        release.release();
    }
    let mut failing = 0;
    for (path, part) in cfg.reports.iter().zip(&parts) {
        merge::read(open(path)?, &part.name, |row| {
            failing += u64::from(cfg.output.gate.fails(&row));
            writer
                .object(&row)
                .map_err(|e| format!("cannot write the report: {e}"))
        })
        .map_err(anyhow::Error::msg)?;
    }
    let info = RunInfo {
        target: merged.target.clone(),
        rules: RuleSet::reported(merged.rules.clone()),
        stopped: merged.stopped.clone(),
        command: merged.command,
        notes: merged.notes.clone(),
        shard: None,
    };
    writer
        .finish(&merged.summary, &info)
        .context("cannot write the report")?;
    let code = exit_code(&merged.summary, failing, false);
    if !merged.summary.complete {
        eprintln!(
            "s3mend: the merged report is incomplete: {}",
            merged
                .stopped
                .as_deref()
                .unwrap_or("a shard did not finish")
        );
        return Ok(code.merge(ExitCode::Error));
    }
    Ok(code)
}
