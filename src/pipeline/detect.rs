//! The detect stage: the selected rules over each HEAD snapshot, with the body's first bytes read
//! (one ranged GET) for the objects whose findings depend on them, unless the catalog has them.

use super::inspect::HeadResult;
use crate::outcome::Inspected;
use crate::rules::{RuleSet, SNIFF_BYTES};
use crate::s3::Store;

/// Where a snapshot came from: a HEAD just now, or the catalog (with the first bytes it kept).
pub enum Source {
    Head,
    Catalog { body_start: Option<Vec<u8>> },
}

pub async fn detect<S: Store>(
    (listed, outcome): HeadResult,
    source: Source,
    rules: &RuleSet,
    store: &S,
) -> Inspected {
    // The HEAD has just answered: the snapshot's age counts from here. A catalog's snapshot has
    // no age a copy could trust.
    let (taken, known, from_catalog) = match source {
        Source::Head => (Some(std::time::Instant::now()), None, false),
        Source::Catalog { body_start } => (None, body_start, true),
    };
    let (outcome, findings, body_start) = match outcome {
        Ok(head) => {
            let version = head.version_id.as_deref();
            let read = || store.body_start(&head.key, version, SNIFF_BYTES);
            match rules.check_sniffing(&head, known, read).await {
                Ok((findings, body_start)) => (Ok(head), findings, body_start),
                // Deleted meanwhile, or unreadable: the object is reported as its GET answered.
                Err(failure) => (Err(failure), Vec::new(), None),
            }
        }
        Err(failure) => (Err(failure), Vec::new(), None),
    };
    Inspected {
        listed,
        outcome,
        findings,
        taken,
        body_start,
        from_catalog,
    }
}
