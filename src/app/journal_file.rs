//! The journal file of a run that writes: opened before the first request, and removed again
//! when nothing was written to it.

use std::sync::Arc;

use anyhow::Context;

use crate::config::WriteConfig;
use crate::journal::{Journal, Origin};
use crate::s3::{ConnectOptions, Connection};

pub(super) fn open_journal(write: &WriteConfig) -> anyhow::Result<Option<Arc<Journal>>> {
    match (&write.journal, write.dry_run) {
        (Some(path), false) => Journal::create(path)
            .map(|j| Some(Arc::new(j)))
            .with_context(|| format!("cannot write --journal {}", path.display())),
        _ => Ok(None),
    }
}

/// Removes a journal nothing was written to (the question was declined, or the run stopped
/// before its first repair); true if it did.
pub(super) fn discard_if_empty(journal: Option<&Journal>) -> bool {
    journal.is_some_and(|journal| {
        std::fs::metadata(journal.path()).is_ok_and(|m| m.len() == 0)
            && std::fs::remove_file(journal.path()).is_ok()
    })
}

/// Where a run that connected with `opts` writes, for its journal: what undo needs to reach the
/// same objects.
pub(crate) fn origin(opts: &ConnectOptions, connection: &Connection) -> Origin {
    use clap::ValueEnum;
    Origin {
        endpoint: opts.endpoint_url.clone(),
        region: connection.region().or_else(|| opts.region.clone()),
        addressing: opts
            .addressing
            .to_possible_value()
            .map_or_else(|| "auto".to_owned(), |v| v.get_name().to_owned()),
        profile: opts.profile.clone(),
    }
}
