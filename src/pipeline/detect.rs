//! The detect stage: the selected rules over each HEAD snapshot.

use super::inspect::HeadResult;
use crate::rules::{Finding, RuleSet};
use crate::s3::{ListedObject, ObjectHead, S3Failure};

/// One object after inspection: its snapshot and findings, or why it could not be inspected.
#[derive(Clone, Debug)]
pub struct Inspected {
    pub listed: ListedObject,
    pub outcome: Result<ObjectHead, S3Failure>,
    pub findings: Vec<Finding>,
}

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
