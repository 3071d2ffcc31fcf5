//! Undo: one journalled repair put back, only if the object is still exactly as the fix left it,
//! and with the same lossless, conditional, journalled, verified copy as a repair.

use super::{Repairer, Stop};
use crate::journal::Recorded;
use crate::model::ListedObject;
use crate::outcome::{Outcome, Repaired};
use crate::plan;
use crate::rules::Finding;
use crate::s3::Store;
use crate::verify;

impl<S: Store> Repairer<S> {
    /// Undoes one journalled repair.
    pub async fn undo(&self, entry: Recorded) -> Repaired {
        let listed = ListedObject {
            key: entry.key.clone(),
            size: entry.old.content_length.unwrap_or(0),
            etag: entry.new.etag.clone(),
            last_modified: None,
        };
        let repaired = |head, findings, outcome| Repaired {
            listed: listed.clone(),
            head,
            findings,
            outcome,
            body_start: None,
            from_catalog: false,
        };
        let current = match self.store.head(&entry.key).await {
            Ok(head) => head,
            Err(f) if f.is_not_found() => {
                let outcome = Outcome::Conflict("deleted since the fix".into());
                return repaired(None, Vec::new(), outcome);
            }
            Err(f) => return repaired(None, Vec::new(), Outcome::InspectFailed(f)),
        };
        let changed = verify::differences(&entry.new, &current);
        if !changed.is_empty() {
            let outcome = if verify::differences(&entry.old, &current).is_empty() {
                Outcome::Clean
            } else {
                Outcome::Conflict(format!("changed since the fix ({})", changed.join(", ")))
            };
            return repaired(Some(current), Vec::new(), outcome);
        }
        let mut plan = match plan::restore(self.store.bucket(), &current, &entry.old) {
            Ok(plan) => plan,
            Err(reason) => return repaired(Some(current), Vec::new(), Outcome::Skipped(reason)),
        };
        let findings: Vec<Finding> = plan
            .changes
            .iter()
            .map(|change| {
                Finding::new(
                    change.rule,
                    change.header.clone(),
                    change.before.as_deref(),
                    change.after.clone(),
                )
            })
            .collect();
        plan.grants = entry.old_acl.as_ref().and_then(plan::grant_headers);
        let outcome = match self
            .apply(&current, plan, entry.old_acl.as_ref(), &entry.old)
            .await
        {
            Ok(outcome) => outcome,
            Err(Stop::Skip(reason)) => Outcome::Skipped(reason),
            Err(Stop::Fail(f)) => Outcome::Failed(f),
            Err(Stop::Intruded(why)) => Outcome::Conflict(why),
            Err(Stop::Conflict) => Outcome::Conflict("changed while being restored".into()),
        };
        repaired(Some(current), findings, outcome)
    }
}
