//! `s3mend scan`: walk → inspect → detect → report.

use std::sync::Arc;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::catalog_file::open_catalog;
use super::files;
use super::inventory_file::{self, open_inventory};
use super::metrics::RunMetrics;
use super::output::open_output;
use super::run::{log_start, Checkpoints, Run, Start};
use crate::config::ScanConfig;
use crate::exit_codes::ExitCode;
use crate::pipeline::{self, Counters};
use crate::progress::Progress;
use crate::report::metrics::Labels;
use crate::s3;

/// Runs a scan to the end, an interruption or a listing failure, and writes its report.
pub async fn scan(mut cfg: ScanConfig, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    files::distinct(
        [
            ("--state", cfg.state.as_ref().map(|s| s.path.as_path())),
            ("--catalog", cfg.catalog.as_ref().map(|c| c.path.as_path())),
            ("--metrics-file", cfg.metrics.file.as_deref()),
        ]
        .into_iter()
        .chain(cfg.output.files()),
    )?;
    // The metrics, report and state files must be writable before the first request is sent.
    let labels = Labels::of(&cfg.target, "scan");
    let metrics = RunMetrics::start(&cfg.metrics, labels, &cfg.job.rules)?;
    let out = open_output(&cfg.output)?;
    let start = Start::read(cfg.state.as_ref())?;
    if let Start::Finished = start {
        return Ok(ExitCode::Clean);
    }
    cfg.job.start_after = start.checkpoint().and_then(|c| c.done_through.clone());
    let counters = Arc::new(Counters::default());
    let (catalog, next_catalog) =
        open_catalog(cfg.catalog.as_ref(), cfg.job.start_after.as_deref())?;
    let checkpoints = Checkpoints::start(
        cfg.state.as_ref(),
        counters.clone(),
        cfg.job.start_after.clone(),
        None,
    )?
    .cataloguing(next_catalog);
    let connection = s3::connect_until(&cfg.connect, &cfg.target.bucket, &cancel).await?;
    cfg.job.inventory =
        open_inventory(&connection, cfg.inventory.as_ref(), &cfg.target.bucket).await?;
    log_start(
        "scan",
        &cfg.target.to_string(),
        &cfg.connect,
        &connection,
        &cfg.job.rules,
        cfg.job.concurrency,
    );
    let mut run = Run::new(
        "scan",
        cfg.target.to_string(),
        cfg.job.rules.clone(),
        &cfg.output,
        out,
        connection.requests.clone(),
    )
    .checkpointed(checkpoints)
    .measured(metrics)
    .sharded(cfg.job.shard);
    run.info.notes.extend(inventory_file::notes(
        cfg.job.inventory.as_deref(),
        cfg.inventory.as_ref(),
    ));
    let progress = Progress::start(counters.clone(), cfg.output.progress);
    let mut results = std::pin::pin!(pipeline::scan(
        &connection,
        cfg.job,
        counters,
        cancel.clone(),
        catalog,
    ));
    while let Some(item) = results.next().await {
        match item {
            Ok(inspected) => run.inspected(&inspected, &cancel)?,
            Err(failed) => run.listing_failed(failed.0, &cancel),
        }
    }
    progress.finish();
    run.finish(&cancel)
}
