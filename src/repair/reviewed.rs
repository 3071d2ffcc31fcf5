//! `s3mend apply`: a reviewed plan performed exactly. Per object, the same journalled,
//! conditional, verified write as a fix, on the snapshot the plan was made on: the object is
//! HEADed again and must still be exactly that snapshot, and the plan made now (with the ACL
//! read now) must be exactly the reviewed one. Anything changed since the plan is a conflict,
//! never a new plan.

use super::{gone_or_failed, Repairer, Stop};
use crate::model::ListedObject;
use crate::outcome::{Outcome, Repaired};
use crate::plan::SkipReason;
use crate::reviewed::Line;
use crate::s3::Store;
use crate::verify;

impl<S: Store> Repairer<S> {
    /// Performs one reviewed object of a plan.
    pub async fn apply_reviewed(&self, line: Line) -> Repaired {
        let Line {
            key,
            snapshot,
            findings,
            plan: reviewed,
        } = line;
        let outcome = if self.stop.is_cancelled() {
            Outcome::Skipped(SkipReason::Interrupted)
        } else {
            match self.store.head(&key).await {
                // `now` is the snapshot as far as the plan can tell, and more (the checksums a
                // repair's HEAD asks for, which a multipart rewrite keeps).
                Ok(now) => match verify::changed(&snapshot, &now) {
                    changed if changed.is_empty() => {
                        self.as_reviewed(&now, &findings, &reviewed).await
                    }
                    changed => Outcome::Conflict(format!(
                        "changed since the plan was made ({})",
                        changed.join(", ")
                    )),
                },
                Err(failure) => gone_or_failed(failure),
            }
        };
        Repaired {
            listed: ListedObject {
                key,
                size: snapshot.content_length.unwrap_or_default(),
                etag: snapshot.etag.clone(),
                last_modified: None,
            },
            head: Some(snapshot),
            findings,
            outcome,
            body_start: None,
            from_catalog: false,
        }
    }

    async fn as_reviewed(
        &self,
        head: &crate::model::ObjectHead,
        findings: &[crate::rules::Finding],
        reviewed: &serde_json::Value,
    ) -> Outcome {
        let written = async {
            let (plan, acl) = self.prepare(head, findings).await?;
            let now = comparable(serde_json::to_value(&plan).unwrap_or_default());
            let reviewed = comparable(reviewed.clone());
            if now != reviewed {
                return Err(Stop::Intruded(format!(
                    "the plan made now differs from the reviewed one ({}): left as it is",
                    differences(&reviewed, &now).join(", ")
                )));
            }
            self.write_prepared(head, plan, acl).await
        };
        match written.await {
            Ok(outcome) => outcome,
            Err(Stop::Skip(reason)) => Outcome::Skipped(reason),
            Err(Stop::Fail(failure)) => Outcome::Failed(failure),
            Err(Stop::Intruded(why)) => Outcome::Conflict(why),
            Err(Stop::Conflict) => Outcome::Conflict("changed since the plan was made".into()),
        }
    }
}

/// A plan as reviewed: without what the repair learns only when it writes (the checksum a
/// multipart rewrite asks for, read by a HEAD in checksum mode; whether the server takes
/// annotations), which the dry run could not know.
fn comparable(mut plan: serde_json::Value) -> serde_json::Value {
    if let Some(fields) = plan.as_object_mut() {
        fields.remove("checksum");
        fields.remove("exclude_annotations");
    }
    plan
}

/// The top-level fields of two plans that differ (`grants`, `headers`…).
fn differences(reviewed: &serde_json::Value, now: &serde_json::Value) -> Vec<String> {
    let fields = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut names = fields(reviewed);
    names.extend(fields(now));
    names.sort();
    names.dedup();
    names.retain(|name| reviewed.get(name) != now.get(name));
    names
}

#[cfg(test)]
mod tests {
    use super::differences;

    #[test]
    fn differences_name_the_fields() {
        let reviewed = serde_json::json!({"a": 1, "grants": {"read": "x"}, "only": 1});
        let now = serde_json::json!({"a": 1, "grants": null, "new": 2});
        assert_eq!(differences(&reviewed, &now), ["grants", "new", "only"]);
    }
}
