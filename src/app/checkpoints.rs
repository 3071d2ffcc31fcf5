//! A run's checkpoints: the `--state` file (the key up to which every object is done) and the
//! `--catalog` being written, both moved forward by the pipeline's watermark as results are
//! recorded, and both finished only as the run ends.

use std::path::PathBuf;
use std::sync::Arc;

use crate::catalog;
use crate::config::StateConfig;
use crate::pipeline::Counters;
use crate::state::{Checkpoint, Checkpointer};

/// The run's `--state` file and `--catalog`, fed from the pipeline's watermark as results are
/// recorded.
pub(crate) struct Checkpoints {
    file: Option<Checkpointer>,
    counters: Arc<Counters>,
    resumed_after: Option<String>,
    catalog: Option<catalog::Writer>,
}

impl Checkpoints {
    /// Writes the first checkpoint (so an unwritable `--state` fails before any request).
    pub(crate) fn start(
        state: Option<&StateConfig>,
        counters: Arc<Counters>,
        done_through: Option<String>,
        journal: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        // Absolute: a resume from another directory must find the same journal.
        let journal = journal.map(|j| std::path::absolute(&j).unwrap_or(j));
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
            catalog: None,
        })
    }

    /// Also writes the next catalog with `writer` (see [`catalog::Writer`]).
    pub(crate) fn cataloguing(mut self, writer: Option<catalog::Writer>) -> Self {
        self.catalog = writer;
        self
    }

    /// Whether the run writes a catalog.
    pub(super) fn catalogues(&self) -> bool {
        self.catalog.is_some()
    }

    /// What the report should say about the state.
    pub(super) fn notes(&self) -> Vec<String> {
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

    /// `key`'s result is recorded, with what the catalog keeps of it.
    pub(super) fn done(
        &mut self,
        key: &str,
        entry: impl FnOnce() -> Option<catalog::Entry>,
    ) -> anyhow::Result<()> {
        if let Some(catalog) = &mut self.catalog {
            catalog.record(key, entry());
        }
        let done_through = {
            let mut watermark = self.counters.watermark.lock();
            watermark.done(key);
            watermark.done_through().map(str::to_owned)
        };
        if let (Some(catalog), Some(through)) = (&mut self.catalog, &done_through) {
            catalog.flush_through(through);
        }
        match &mut self.file {
            Some(file) => file.progress(done_through.as_deref()),
            None => Ok(()),
        }
    }

    /// Ends the catalog: it replaces the old one if the run is `complete` (else the old one
    /// stays). `Ok` says what to note; `Err` why the new catalog could not be written (the old
    /// one then stays).
    pub(super) fn finish_catalog(&mut self, complete: bool) -> Result<Option<String>, String> {
        let Some(writer) = self.catalog.take() else {
            return Ok(None);
        };
        let path = writer.path().display().to_string();
        match writer.finish(complete) {
            Ok(Some(entries)) => Ok(Some(format!("catalog: {path} ({entries} objects)"))),
            Ok(None) => Ok(Some(format!(
                "catalog: {path} kept as it was: the run did not complete"
            ))),
            Err(e) => Err(format!("cannot write catalog {path}: {e}")),
        }
    }

    /// The last checkpoint.
    pub(super) fn finish_state(&mut self, complete: bool) -> anyhow::Result<()> {
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
