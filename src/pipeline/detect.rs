//! The detect stage: the selected rules over each HEAD snapshot, and what a failed HEAD means.

use super::inspect::HeadResult;
use crate::rules::{Finding, RuleSet};
use crate::s3::{ListedObject, ObjectHead, S3Failure, DELETE_MARKER};

/// One object after inspection: its snapshot and findings, or why it could not be inspected.
#[derive(Clone, Debug)]
pub struct Inspected {
    pub listed: ListedObject,
    pub outcome: Result<ObjectHead, S3Failure>,
    pub findings: Vec<Finding>,
}

/// What a HEAD that returned no metadata means for the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unread {
    /// Deleted between LIST and HEAD (404, or a delete marker in a versioned bucket): nothing is
    /// left to repair, so it counts as clean.
    Gone,
    /// HEAD answered 400: S3 does so for an object encrypted with a customer-provided key
    /// (SSE-C) when the request carries no key. Its metadata cannot be read, nor rewritten.
    SseC,
    /// Anything else: an error of the run.
    Failed,
}

impl Unread {
    pub fn of(failure: &S3Failure) -> Unread {
        match (failure.code.as_str(), failure.http_status) {
            (DELETE_MARKER | "NotFound" | "NoSuchKey", _) => Unread::Gone,
            (_, Some(400)) => Unread::SseC,
            _ => Unread::Failed,
        }
    }

    /// Why a gone object is gone, as reports say it.
    pub fn gone_reason(failure: &S3Failure) -> &'static str {
        if failure.code == DELETE_MARKER {
            "deleted after it was listed (the current version is a delete marker)"
        } else {
            "deleted after it was listed"
        }
    }
}

impl Inspected {
    /// `None` when HEAD returned the metadata.
    pub fn unread(&self) -> Option<Unread> {
        self.outcome.as_ref().err().map(Unread::of)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str, status: u16) -> S3Failure {
        S3Failure {
            code: code.into(),
            message: String::new(),
            http_status: Some(status),
        }
    }

    #[test]
    fn failed_heads_are_classified() {
        let cases = [
            (failure("NotFound", 404), Unread::Gone),
            (failure("NoSuchKey", 404), Unread::Gone),
            (failure(DELETE_MARKER, 404), Unread::Gone),
            (failure("BadRequest", 400), Unread::SseC),
            (failure("Forbidden", 403), Unread::Failed),
            (failure("InternalError", 500), Unread::Failed),
            (failure("SlowDown", 503), Unread::Failed),
            (
                S3Failure {
                    code: "DispatchFailure".into(),
                    message: String::new(),
                    http_status: None,
                },
                Unread::Failed,
            ),
        ];
        for (failure, expected) in cases {
            assert_eq!(Unread::of(&failure), expected, "{failure:?}");
        }
    }
}
