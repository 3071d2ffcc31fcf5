//! The detect stage: the selected rules over each HEAD snapshot.

use super::inspect::HeadResult;
use crate::outcome::Inspected;
use crate::rules::RuleSet;

pub fn detect((listed, outcome): HeadResult, rules: &RuleSet) -> Inspected {
    let findings = outcome
        .as_ref()
        .map(|head| rules.check(head))
        .unwrap_or_default();
    Inspected {
        listed,
        outcome,
        findings,
    }
}
