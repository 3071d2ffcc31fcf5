//! The detect stage: the selected rules over each HEAD snapshot, with the body's first bytes read
//! (one ranged GET) for the objects whose findings depend on them.

use super::inspect::HeadResult;
use crate::outcome::Inspected;
use crate::rules::{RuleSet, SNIFF_BYTES};
use crate::s3::Store;

pub async fn detect<S: Store>(
    (listed, outcome): HeadResult,
    rules: &RuleSet,
    store: &S,
) -> Inspected {
    // The HEAD has just answered: the snapshot's age counts from here.
    let taken = std::time::Instant::now();
    let (outcome, findings) = match outcome {
        Ok(head) => {
            let version = head.version_id.as_deref();
            let read = || store.body_start(&head.key, version, SNIFF_BYTES);
            match rules.check_reading(&head, read).await {
                Ok(findings) => (Ok(head), findings),
                // Deleted meanwhile, or unreadable: the object is reported as its GET answered.
                Err(failure) => (Err(failure), Vec::new()),
            }
        }
        Err(failure) => (Err(failure), Vec::new()),
    };
    Inspected {
        listed,
        outcome,
        findings,
        taken: Some(taken),
    }
}
