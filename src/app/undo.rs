//! `s3mend undo JOURNAL...`: the journals' repairs put back, each only if the object is still as
//! the fix left it. Several journals are those of one sharded fix (`--shard I/N`): one bucket,
//! one place, every key in one journal only.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use futures::stream;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::ask::{confirm, consent, on_a_terminal, Consent, REFUSED};
use super::files;
use super::journal_file::{discard_if_empty, open_journal, origin};
use super::metrics::RunMetrics;
use super::output::open_output;
use super::run::{log_start, Run};
use crate::config::UndoConfig;
use crate::exit_codes::ExitCode;
use crate::journal::{self, Origin, Recorded, Status};
use crate::repair::{Capabilities, RepairSettings, Repairer};
use crate::report;
use crate::report::metrics::Labels;
use crate::rules::RuleSet;
use crate::s3::{self, Addressing, ConnectOptions};
use clap::ValueEnum;

pub async fn undo(mut cfg: UndoConfig, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    files::distinct(
        cfg.from
            .iter()
            .map(|from| ("JOURNAL", Some(from.as_path())))
            .chain([
                ("--journal", cfg.write.journal.as_deref()),
                ("--metrics-file", cfg.metrics.file.as_deref()),
            ])
            .chain(cfg.output.files()),
    )?;
    let (bucket, latest, at) = repairs_to_undo(&cfg)?;
    let (connect, warnings) = where_it_was(cfg.connect.clone(), at.as_ref(), "the journal")?;
    for warning in warnings {
        eprintln!("s3mend: warning: {warning}: using {}", warning.given);
    }
    cfg.connect = connect;
    let consent = consent(&cfg.write, on_a_terminal());
    if consent == Consent::Refused {
        anyhow::bail!(REFUSED);
    }
    // The journal names one bucket, and an undo covers what it names: no prefix.
    let labels = Labels {
        bucket: bucket.clone(),
        prefix: String::new(),
        command: "undo",
    };
    let metrics = RunMetrics::start(&cfg.metrics, labels, &RuleSet::all())?;
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
        .with_context(|| format!("journal {} is for s3://{bucket}/", cfg.from[0].display()))?;
    if let Some(journal) = &journal {
        journal.set_origin(origin(&cfg.connect, &connection));
    }
    log_start(
        "undo",
        &format!("s3://{bucket}/"),
        &cfg.connect,
        &connection,
        &RuleSet::all(),
        cfg.concurrency,
    );
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
    )
    .measured(metrics);
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
    // Nothing restored: no journal is left behind, and no undo of the undo is offered.
    let journal = journal.filter(|j| !discard_if_empty(Some(j)));
    run.finish_writing(&cancel, &capabilities, journal.as_deref())
}

/// What undo needs from a journal.
type ToUndo = (String, BTreeMap<String, Recorded>, Option<Origin>);

/// The journals' bucket, the last written repair of each key (the one to undo) and where the
/// fix wrote. Planned-only entries may have been written before the run stopped, so they are
/// checked like the others. The journals of a sharded fix name one bucket and one place, and no
/// key twice: journals of fixes run one after the other are undone one at a time, newest first.
fn repairs_to_undo(cfg: &UndoConfig) -> anyhow::Result<ToUndo> {
    let mut found: Option<(String, PathBuf)> = None;
    let mut at: Option<(Origin, PathBuf)> = None;
    let mut latest = BTreeMap::new();
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for (n, path) in cfg.from.iter().enumerate() {
        let entries = journal::read(path)?;
        let Some(first) = entries.first() else {
            if cfg.from.len() == 1 {
                anyhow::bail!(
                    "journal {} records no repair: nothing to undo",
                    path.display()
                );
            }
            continue;
        };
        let (bucket, named_in) = found.get_or_insert_with(|| (first.bucket.clone(), path.clone()));
        if let Some(other) = entries.iter().find(|e| e.bucket != *bucket) {
            if named_in == path {
                anyhow::bail!(
                    "journal {} mixes buckets ({bucket} and {}): not a journal s3mend wrote",
                    path.display(),
                    other.bucket
                );
            }
            anyhow::bail!(
                "journal {} is for bucket {}, journal {} for {bucket}: undo them one at a time",
                path.display(),
                other.bucket,
                named_in.display()
            );
        }
        if let Some(origin) = entries.iter().find_map(|e| e.at.clone()) {
            match &at {
                Some((seen, in_journal)) if *seen != origin => anyhow::bail!(
                    "journals {} and {} record different places (endpoint, region or profile): undo them one at a time",
                    in_journal.display(),
                    path.display()
                ),
                Some(_) => {}
                None => at = Some((origin, path.clone())),
            }
        }
        for entry in entries {
            if let Some(&other) = owner.get(&entry.key).filter(|&&other| other != n) {
                anyhow::bail!(
                    "{} is in journals {} and {}: undo them one at a time, newest first",
                    entry.key,
                    cfg.from[other].display(),
                    path.display()
                );
            }
            owner.insert(entry.key.clone(), n);
            if matches!(entry.status, None | Some(Status::Fixed | Status::Error)) {
                latest.insert(entry.key.clone(), entry);
            }
        }
    }
    let Some((bucket, _)) = found else {
        anyhow::bail!("the journals record no repair: nothing to undo");
    };
    Ok((bucket, latest, at.map(|(origin, _)| origin)))
}

/// Where undo (or apply) connects: where `what` (the journal, the plan) says the run was, except
/// for what the command line (or the environment) says, which wins; each contradiction is a
/// warning (apply refuses them).
pub(super) fn where_it_was(
    mut opts: ConnectOptions,
    at: Option<&Origin>,
    what: &'static str,
) -> anyhow::Result<(ConnectOptions, Vec<Contradiction>)> {
    let Some(at) = at else {
        return Ok((opts, Vec::new()));
    };
    let mut contradictions = Vec::new();
    let mut merge = |flag, given: &mut Option<String>, recorded: &Option<String>| match (
        given.as_deref(),
        recorded,
    ) {
        (None, _) => given.clone_from(recorded),
        (Some(g), Some(r)) if g != r => contradictions.push(Contradiction {
            flag,
            given: g.to_owned(),
            recorded: r.clone(),
            what,
        }),
        _ => {}
    };
    merge("--endpoint-url", &mut opts.endpoint_url, &at.endpoint);
    merge("--region", &mut opts.region, &at.region);
    merge("--profile", &mut opts.profile, &at.profile);
    if let Some(region) = &opts.region {
        s3::check_region(region).map_err(|e| anyhow::anyhow!("{what}'s region: {e}"))?;
    }
    let recorded = Addressing::from_str(&at.addressing, true).unwrap_or_default();
    match opts.addressing {
        Addressing::Auto => opts.addressing = recorded,
        given if given != recorded => contradictions.push(Contradiction {
            flag: "--addressing-style",
            given: name(given),
            recorded: at.addressing.clone(),
            what,
        }),
        _ => {}
    }
    Ok((opts, contradictions))
}

/// A flag (or variable) that says otherwise than the journal or plan: undo warns and uses the
/// flag; apply refuses.
pub(super) struct Contradiction {
    flag: &'static str,
    given: String,
    recorded: String,
    /// `the journal`, `the plan`.
    what: &'static str,
}

impl std::fmt::Display for Contradiction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} is not what {} records ({})",
            self.flag, self.given, self.what, self.recorded
        )
    }
}

fn name(addressing: Addressing) -> String {
    addressing
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_owned())
}
