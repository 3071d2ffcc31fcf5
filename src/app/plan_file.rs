//! `fix --dry-run --plan PATH`: the plan file a dry run writes as it goes (`reviewed::Writer`),
//! opened before the first request, headed once the run knows where it writes, one line per
//! object it would repair, and put in place only by a complete run.

use std::io;
use std::path::Path;

use anyhow::Context;

use crate::config::FixConfig;
use crate::journal;
use crate::outcome::{Outcome, Repaired};
use crate::reviewed;

/// The `--plan` being written, and why it could not be, if so.
pub(crate) struct PlanFile {
    writer: reviewed::Writer,
    failed: Option<io::Error>,
}

impl PlanFile {
    /// Creates `path` (checked before the first request).
    pub(crate) fn create(path: &Path) -> anyhow::Result<Self> {
        let writer = reviewed::Writer::create(path)
            .with_context(|| format!("cannot write --plan {}", path.display()))?;
        Ok(PlanFile {
            writer,
            failed: None,
        })
    }

    /// Writes the header: where (`origin`) and how the plan was made.
    pub(crate) fn head(&mut self, cfg: &FixConfig, origin: journal::Origin) -> anyhow::Result<()> {
        let path = self.writer.path().display().to_string();
        self.writer
            .header(&header(cfg, origin))
            .with_context(|| format!("cannot write --plan {path}"))
    }

    /// Adds a dry run's planned repair; `false` once the plan cannot be written, which stops the
    /// run.
    pub(crate) fn add(&mut self, repaired: &Repaired) -> bool {
        let (Outcome::WouldFix(plan), Some(head)) = (&repaired.outcome, &repaired.head) else {
            return self.failed.is_none();
        };
        if self.failed.is_some() {
            return false;
        }
        let line = reviewed::Line {
            key: head.key.clone(),
            snapshot: head.clone(),
            findings: repaired.findings.clone(),
            plan: serde_json::to_value(plan).unwrap_or_default(),
        };
        if let Err(e) = self.writer.line(&line) {
            self.failed = Some(e);
            return false;
        }
        true
    }

    /// Whether a line could not be written.
    pub(crate) fn failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Puts the plan in place if the dry run is `complete`, removes it otherwise: `Ok` with the
    /// note that says which, `Err` with why it could not be written.
    pub(crate) fn finish(self, complete: bool) -> Result<String, String> {
        let path = self.writer.path().display().to_string();
        let failed = |e: io::Error| format!("cannot write --plan {path}: {e}");
        if let Some(e) = self.failed {
            return Err(failed(e));
        }
        match self.writer.finish(complete) {
            Ok(Some(objects)) => Ok(format!(
                "plan: {path}, {objects} objects (review it, then perform exactly it with: s3mend apply {path})"
            )),
            Ok(None) => Ok("no plan written: the dry run did not finish".to_owned()),
            Err(e) => Err(failed(e)),
        }
    }
}

/// The header of the `--plan` a dry run writes: where and how it was made.
fn header(cfg: &FixConfig, origin: journal::Origin) -> reviewed::Header {
    let rules = cfg.scan.job.rules.ids().iter();
    reviewed::Header {
        format: reviewed::FORMAT.to_owned(),
        version: reviewed::VERSION,
        origin,
        bucket: cfg.scan.target.bucket.clone(),
        prefix: cfg.scan.target.prefix.clone(),
        rules: rules.map(|r| r.as_str().to_owned()).collect(),
        policy: cfg.scan.job.rules.policy().map(|p| p.path.clone()),
        written_at: crate::model::date::rfc3339(time::OffsetDateTime::now_utc()),
    }
}
