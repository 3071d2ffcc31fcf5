//! `s3mend fix`: scan, ask (unless `--yes`), repair, report; with `--resume`, first settle the
//! copies the stopped run left in flight.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::ask::{confirm, consent, on_a_terminal, Consent, REFUSED};
use super::catalog_file::open_catalog;
use super::files;
use super::inventory_file::{self, open_inventory};
use super::journal_file::{discard_if_empty, open_journal, origin};
use super::metrics::RunMetrics;
use super::output::open_output;
use super::plan_file::PlanFile;
use super::run::{log_start, Checkpoints, Run, Start};
use crate::config::{FixConfig, WriteConfig};
use crate::exit_codes::ExitCode;
use crate::journal;
use crate::outcome::{Inspected, Repaired};
use crate::pipeline::{self, Counters, ScanItem};
use crate::plan::SkipReason;
use crate::progress::Progress;
use crate::repair::{Capabilities, Repairer, Settled};
use crate::report;
use crate::report::metrics::Labels;
use crate::s3::{self, S3Store};

pub async fn fix(mut cfg: FixConfig, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    let consent = consent(&cfg.write, on_a_terminal());
    if consent == Consent::Refused {
        anyhow::bail!(REFUSED);
    }
    let start = Start::read(cfg.scan.state.as_ref())?;
    if let Start::Finished = start {
        return Ok(ExitCode::Clean);
    }
    let resumed_journal = start.checkpoint().and_then(|c| c.journal.clone());
    if let (Some(previous), false) = (&resumed_journal, cfg.write.dry_run) {
        cfg.write.journal = Some(journal_to_continue(&cfg.write, previous)?);
    }
    files::distinct(
        [
            ("--journal", cfg.write.journal.as_deref()),
            ("--state", cfg.scan.state.as_ref().map(|s| s.path.as_path())),
            (
                "--catalog",
                cfg.scan.catalog.as_ref().map(|c| c.path.as_path()),
            ),
            ("--metrics-file", cfg.scan.metrics.file.as_deref()),
            ("--plan", cfg.plan.as_deref()),
        ]
        .into_iter()
        .chain(cfg.scan.output.files()),
    )?;
    if let (Some(previous), false) = (&resumed_journal, cfg.write.dry_run) {
        repair_journal(previous)?;
    }
    // Every file is opened (the metrics file checked) before the first request.
    let labels = Labels::of(&cfg.scan.target, "fix");
    let metrics = RunMetrics::start(&cfg.scan.metrics, labels, &cfg.scan.job.rules)?;
    let out = open_output(&cfg.scan.output)?;
    let journal = open_journal(&cfg.write)?;
    let mut plan = cfg.plan.as_deref().map(PlanFile::create).transpose()?;
    cfg.scan.job.start_after = start.checkpoint().and_then(|c| c.done_through.clone());
    let counters = Arc::new(Counters::default());
    let (catalog, next_catalog) = open_catalog(
        cfg.scan.catalog.as_ref(),
        cfg.scan.job.start_after.as_deref(),
    )?;
    let checkpoints = Checkpoints::start(
        cfg.scan.state.as_ref(),
        counters.clone(),
        cfg.scan.job.start_after.clone(),
        cfg.write.journal.clone(),
    )?
    .cataloguing(next_catalog);
    let connection = s3::connect_until(&cfg.scan.connect, &cfg.scan.target.bucket, &cancel)
        .await
        .inspect_err(|_| {
            discard_if_empty(journal.as_deref());
        })?;
    let inventory = open_inventory(
        &connection,
        cfg.scan.inventory.as_ref(),
        &cfg.scan.target.bucket,
    )
    .await
    .inspect_err(|_| {
        discard_if_empty(journal.as_deref());
    })?;
    cfg.scan.job.inventory = inventory;
    let at = origin(&cfg.scan.connect, &connection);
    if let Some(journal) = &journal {
        journal.set_origin(at.clone());
    }
    if let Some(plan) = &mut plan {
        plan.head(&cfg, at)?;
    }
    log_start(
        "fix",
        &cfg.scan.target.to_string(),
        &cfg.scan.connect,
        &connection,
        &cfg.scan.job.rules,
        cfg.scan.job.concurrency,
    );
    let store = connection.store(&cfg.scan.target.bucket);
    // Learnt once: under BucketOwnerEnforced no repair reads an ACL (one request fewer each).
    let capabilities = Arc::new(
        Capabilities::new(store.caller_id().await).acls_disabled(store.acls_disabled().await),
    );
    let repairer = Repairer::new(
        store,
        cfg.scan.job.rules.clone(),
        cfg.repair.clone(),
        capabilities.clone(),
    );
    let repairer = Arc::new(
        repairer
            .journalling(journal.clone())
            .stopping_on(cancel.clone()),
    );
    let mut run = Run::new(
        "fix",
        cfg.scan.target.to_string(),
        cfg.scan.job.rules.clone(),
        &cfg.scan.output,
        out,
        connection.requests.clone(),
    )
    .checkpointed(checkpoints)
    .planning(plan)
    .measured(metrics)
    .sharded(cfg.scan.job.shard);
    run.info.notes.extend(inventory_file::notes(
        cfg.scan.job.inventory.as_deref(),
        cfg.scan.inventory.as_ref(),
    ));
    if let (Some(journal), true) = (&journal, resumed_journal.is_some()) {
        let settled = settle_in_flight(&repairer, journal.path()).await?;
        run.info.notes.extend(settled);
    }
    let concurrency = cfg.scan.job.concurrency;
    let scan = pipeline::scan(
        &connection,
        cfg.scan.job,
        counters.clone(),
        cancel.clone(),
        catalog,
    );
    let to_repair: BoxStream<'_, ScanItem> = if consent == Consent::Ask {
        let progress = Progress::start(counters.clone(), cfg.scan.output.progress);
        let pending = scan_then_hold_findings(scan, &repairer, &mut run, &cancel).await?;
        progress.finish();
        let question = format!(
            "Repair {} objects in {}?",
            report::thousands(pending.len() as u64),
            cfg.scan.target
        );
        if !pending.is_empty() && !cancel.is_cancelled() {
            eprintln!("To repair in {}:", cfg.scan.target);
            for line in report::question::lines(pending.iter().map(|i| i.findings.as_slice())) {
                eprintln!("{line}");
            }
        }
        counters
            .to_repair
            .store(pending.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let confirmed =
            pending.is_empty() || cancel.is_cancelled() || confirm(&question, &cancel).await;
        if !confirmed || cancel.is_cancelled() {
            // Not one copy was made: every object with a finding is in the report as skipped.
            let reason = if cancel.is_cancelled() {
                SkipReason::Interrupted
            } else {
                SkipReason::Declined
            };
            for inspected in pending {
                run.repaired(&Repaired::skipped(inspected, reason), &cancel)?;
            }
            let journal = journal.filter(|j| !discard_if_empty(Some(j)));
            if reason == SkipReason::Declined {
                eprintln!("s3mend: nothing was written");
            }
            return run.finish_writing(&cancel, &capabilities, journal.as_deref());
        }
        // Minutes may have passed at the question: every snapshot is read again before its copy.
        let pending = pending.into_iter().map(|inspected| Inspected {
            taken: None,
            ..inspected
        });
        stream::iter(pending.map(Ok))
            .take_until(cancel.clone().cancelled_owned())
            .boxed()
    } else {
        pipeline::counting_to_repair(scan, counters.clone()).boxed()
    };
    let progress = Progress::start_repairs(counters.clone(), cfg.scan.output.progress);
    let mut results = std::pin::pin!(pipeline::repair(to_repair, repairer, concurrency));
    while let Some(item) = results.next().await {
        match item {
            Ok(repaired) => {
                if !repaired.findings.is_empty() {
                    counters
                        .repaired
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                run.repaired(&repaired, &cancel)?
            }
            Err(failed) => run.listing_failed(failed.0, &cancel),
        }
    }
    progress.finish();
    // Nothing repaired: no journal is left behind, and no undo is offered.
    let journal = journal.filter(|j| !discard_if_empty(Some(j)));
    run.finish_writing(&cancel, &capabilities, journal.as_deref())
}

/// Scans to the end, recording every object without a finding at once and holding those with
/// one, so that the question can give their count.
async fn scan_then_hold_findings(
    scan: impl futures::Stream<Item = ScanItem>,
    repairer: &Repairer<S3Store>,
    run: &mut Run,
    cancel: &CancellationToken,
) -> anyhow::Result<Vec<Inspected>> {
    let mut pending = Vec::new();
    let mut scan = std::pin::pin!(scan);
    while let Some(item) = scan.next().await {
        match item {
            Ok(inspected) if inspected.outcome.is_ok() && !inspected.findings.is_empty() => {
                pending.push(inspected)
            }
            Ok(inspected) => run.repaired(&repairer.repair(inspected).await, cancel)?,
            Err(failed) => run.listing_failed(failed.0, cancel),
        }
    }
    Ok(pending)
}

/// A resumed fix appends to the journal its state names, never to another one.
fn journal_to_continue(write: &WriteConfig, previous: &Path) -> anyhow::Result<PathBuf> {
    if let Some(given) = write.journal.as_deref().filter(|_| write.journal_given) {
        if std::path::absolute(given).ok().as_deref() != Some(previous) && given != previous {
            anyhow::bail!(
                "--resume continues the journal named in --state ({}), not --journal {}",
                previous.display(),
                given.display()
            );
        }
    }
    Ok(previous.to_owned())
}

/// Cuts a last line the stop may have torn, once the file is known to be a journal: a state that
/// names any other file must not cost that file its last line.
fn repair_journal(previous: &Path) -> anyhow::Result<()> {
    journal::read(previous)?;
    journal::drop_torn_tail(previous)
        .with_context(|| format!("cannot repair journal {}", previous.display()))
}

/// Settles the copies the journal shows in flight when the previous run stopped, so the journal
/// ends complete; returns what to note in the report.
async fn settle_in_flight(
    repairer: &Repairer<S3Store>,
    path: &Path,
) -> anyhow::Result<Vec<String>> {
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
