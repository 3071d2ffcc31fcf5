//! `s3mend undo JOURNAL`: the journal's repairs put back, each only if the object is still as the
//! fix left it.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal};
use std::sync::Arc;

use anyhow::Context;
use futures::stream;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::ask::{confirm, consent, Consent, REFUSED};
use super::files;
use super::journal_file::{discard_if_empty, open_journal};
use super::run::{open_output, Run};
use crate::config::UndoConfig;
use crate::exit_codes::ExitCode;
use crate::journal::{self, Recorded, Status};
use crate::repair::{Capabilities, RepairSettings, Repairer};
use crate::report;
use crate::rules::RuleSet;
use crate::s3;

pub async fn undo(cfg: UndoConfig, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    files::distinct(&[
        ("JOURNAL", Some(cfg.from.as_path())),
        ("--journal", cfg.write.journal.as_deref()),
        ("--output", cfg.output.path.as_deref()),
    ])?;
    let (bucket, latest) = repairs_to_undo(&cfg)?;
    let consent = consent(&cfg.write, io::stdin().is_terminal());
    if consent == Consent::Refused {
        anyhow::bail!(REFUSED);
    }
    let out = open_output(&cfg.output)?;
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
    let connection = s3::connect_until(&cfg.connect, &bucket, &cancel)
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
    let store = connection.store(&bucket);
    let capabilities = Arc::new(Capabilities::new(store.caller_id().await));
    let repairer = Arc::new(
        Repairer::new(store, RuleSet::all(), settings, capabilities.clone())
            .journalling(journal.clone()),
    );
    let mut run = Run::new(
        "undo",
        format!("s3://{bucket}/"),
        RuleSet::all(),
        &cfg.output,
        out,
        connection.requests.clone(),
    );
    let mut results = std::pin::pin!(stream::iter(latest.into_values())
        .take_until(cancel.clone().cancelled_owned())
        .map(|entry| {
            let repairer = repairer.clone();
            async move { repairer.undo(entry).await }
        })
        .buffer_unordered(cfg.concurrency));
    while let Some(repaired) = results.next().await {
        run.repaired(&repaired, &cancel)?;
    }
    run.finish_writing(&cancel, &capabilities, journal.as_deref())
}

/// The journal's bucket, and the last written repair of each key: the one to undo. Planned-only
/// entries may have been written before the run stopped, so they are checked like the others.
fn repairs_to_undo(cfg: &UndoConfig) -> anyhow::Result<(String, BTreeMap<String, Recorded>)> {
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
    let mut latest = BTreeMap::new();
    for entry in entries {
        if matches!(entry.status, None | Some(Status::Fixed | Status::Error)) {
            latest.insert(entry.key.clone(), entry);
        }
    }
    Ok((bucket, latest))
}
