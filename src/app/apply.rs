//! `s3mend apply PLAN`: a reviewed plan (`fix --dry-run --plan PLAN`) performed exactly, with no
//! listing. Where the plan was made is where it applies: a flag or variable that points
//! elsewhere is refused, as is a plan for another bucket than the one named. Each object is
//! repaired only if it is still as planned (`repair/reviewed.rs`); the journal and the report
//! are a fix's.

use std::sync::Arc;

use anyhow::{bail, Context};
use futures::stream;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::ask::{confirm, consent, on_a_terminal, Consent, REFUSED};
use super::files;
use super::journal_file::{discard_if_empty, open_journal, origin};
use super::output::open_output;
use super::run::{log_start, Run};
use super::undo::where_it_was;
use crate::config::ApplyConfig;
use crate::exit_codes::ExitCode;
use crate::model::S3Uri;
use crate::repair::{Capabilities, RepairSettings, Repairer};
use crate::report;
use crate::reviewed;
use crate::rules::RuleSet;
use crate::s3;

pub async fn apply(mut cfg: ApplyConfig, cancel: CancellationToken) -> anyhow::Result<ExitCode> {
    files::distinct(
        [
            ("PLAN", Some(cfg.from.as_path())),
            ("--journal", cfg.write.journal.as_deref()),
        ]
        .into_iter()
        .chain(cfg.output.files()),
    )?;
    let (header, objects, lines) = reviewed::open(&cfg.from)?;
    let target = S3Uri {
        bucket: header.bucket.clone(),
        prefix: header.prefix.clone(),
    };
    if let Some(named) = cfg.target.as_ref().filter(|t| **t != target) {
        bail!(
            "plan {} is for {target}, not {named}: a plan applies only where it was made",
            cfg.from.display()
        );
    }
    let (connect, contradictions) =
        where_it_was(cfg.connect.clone(), Some(&header.origin), "the plan")?;
    if let Some(first) = contradictions.first() {
        bail!("{first}: a plan applies only where it was made");
    }
    cfg.connect = connect;
    let consent = consent(&cfg.write, on_a_terminal());
    if consent == Consent::Refused {
        bail!(REFUSED);
    }
    let rules = RuleSet::named(&header.rules);
    let out = open_output(&cfg.output)?;
    let journal = open_journal(&cfg.write)?;
    if consent == Consent::Ask
        && objects > 0
        && !confirm(
            &format!(
                "Apply the reviewed plan {}: repair {} objects in {target}?",
                cfg.from.display(),
                report::thousands(objects)
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
    let connection = s3::connect_until(&cfg.connect, &target.bucket, &cancel)
        .await
        .inspect_err(|_| {
            discard_if_empty(journal.as_deref());
        })
        .with_context(|| format!("plan {} is for {target}", cfg.from.display()))?;
    if let Some(journal) = &journal {
        journal.set_origin(origin(&cfg.connect, &connection));
    }
    log_start(
        "apply",
        &target.to_string(),
        &cfg.connect,
        &connection,
        &rules,
        cfg.concurrency,
    );
    let settings = RepairSettings {
        dry_run: cfg.write.dry_run,
        allow_unconditional: cfg.write.allow_unconditional,
        ..RepairSettings::default()
    };
    let store = connection.store(&target.bucket);
    let capabilities = Arc::new(Capabilities::new(store.caller_id().await));
    let repairer = Arc::new(
        Repairer::new(store, rules.clone(), settings, capabilities.clone())
            .journalling(journal.clone())
            .stopping_on(cancel.clone()),
    );
    let mut run = Run::new(
        "apply",
        target.to_string(),
        rules,
        &cfg.output,
        out,
        connection.requests.clone(),
    );
    run.info.notes.push(format!(
        "plan: {}, made {} ({objects} objects)",
        cfg.from.display(),
        header.written_at
    ));
    let mut results = std::pin::pin!(stream::iter(lines)
        .take_until(cancel.clone().cancelled_owned())
        .map(|line| {
            let repairer = repairer.clone();
            async move {
                match line {
                    Ok(line) => Ok(repairer.apply_reviewed(line).await),
                    Err(e) => Err(e),
                }
            }
        })
        .buffer_unordered(cfg.concurrency));
    while let Some(result) = results.next().await {
        match result {
            Ok(repaired) => run.repaired(&repaired, &cancel)?,
            Err(e) => {
                cancel.cancel();
                bail!("plan {}: {e}", cfg.from.display());
            }
        }
    }
    // Nothing written: no journal is left behind, and no undo is offered.
    let journal = journal.filter(|j| !discard_if_empty(Some(j)));
    run.finish_writing(&cancel, &capabilities, journal.as_deref())
}
