//! What happened to one object, as the pipeline's stages hand it on and the report shows it:
//! inspected (with its findings, or why its HEAD failed), then, in a fix or an undo, repaired or
//! left alone for a reason. Plain data, so the report and the exit code are decided without I/O.

use std::fmt;

use crate::model::{ListedObject, ObjectHead, Rewritten, S3Failure, DELETE_MARKER};
use crate::plan::{Plan, SkipReason};
use crate::rules::Finding;

/// One object after inspection: its snapshot and findings, or why it could not be inspected.
#[derive(Clone, Debug)]
pub struct Inspected {
    pub listed: ListedObject,
    pub outcome: Result<ObjectHead, S3Failure>,
    pub findings: Vec<Finding>,
    /// When the HEAD snapshot was taken; `None` when its age is unknown or it must be read
    /// again before any copy (after the confirmation question, say).
    pub taken: Option<std::time::Instant>,
    /// The body's first bytes, when the rules read them (or the catalog had them): kept for the
    /// catalog, so an unchanged object is not read again.
    pub body_start: Option<Vec<u8>>,
    /// Served from `--catalog`: the listing showed it unchanged, so it was not HEADed; a fix
    /// HEADs it again before any copy.
    pub from_catalog: bool,
}

impl Inspected {
    /// `None` when HEAD returned the metadata.
    pub fn unread(&self) -> Option<Unread> {
        self.outcome.as_ref().err().map(Unread::of)
    }
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

/// How one object of a fix or an undo ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// No finding: nothing to do.
    Clean,
    /// Deleted between LIST and HEAD: nothing left to repair. Says how it was found gone.
    Gone(String),
    /// HEAD failed.
    InspectFailed(S3Failure),
    /// Dry run: this is what would be sent.
    WouldFix(Box<Plan>),
    Fixed {
        plan: Box<Plan>,
        new: Rewritten,
        /// The object changed after the first HEAD and its new version was repaired.
        after_conflict: bool,
        /// A versioned bucket keeps the old version (with the old header) as noncurrent.
        left_noncurrent: bool,
    },
    Skipped(SkipReason),
    /// The object changed under us and was left alone; says why.
    Conflict(String),
    /// The copy, its verification or its record failed.
    Failed(Failure),
}

/// One object after the repair stage.
#[derive(Clone, Debug)]
pub struct Repaired {
    pub listed: ListedObject,
    pub head: Option<ObjectHead>,
    pub findings: Vec<Finding>,
    pub outcome: Outcome,
    /// As [`Inspected::body_start`].
    pub body_start: Option<Vec<u8>>,
    /// As [`Inspected::from_catalog`].
    pub from_catalog: bool,
}

impl Repaired {
    /// An inspected object left alone for `reason`, before any request about it was made.
    pub fn skipped(inspected: Inspected, reason: SkipReason) -> Repaired {
        Repaired {
            listed: inspected.listed,
            head: inspected.outcome.ok(),
            findings: inspected.findings,
            outcome: Outcome::Skipped(reason),
            body_start: inspected.body_start,
            from_catalog: inspected.from_catalog,
        }
    }
}

/// Why writing an object failed: S3 said no, or one of s3mend's own guarantees could not be kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A request failed.
    S3(S3Failure),
    /// After the copy, HEAD differs from what the copy should have left in these fields (see
    /// `verify`).
    VerifyMismatch(Vec<String>),
    /// The journal could not be written (the message names the file). Nothing may change
    /// without a record, so the run stops.
    Journal(String),
    /// The server ignores `x-amz-copy-source-if-match` and unconditional copies were not
    /// allowed: a repair could overwrite a concurrent write, so the run stops.
    UnconditionalRefused,
    /// A version someone else wrote while the repair was in flight is noncurrent under the
    /// repair's copy, and putting it back on top failed (`repair/landing.rs`).
    Reinstate { version: String, failure: S3Failure },
    /// A multipart rewrite was made but these annotations are not back on the new object (it
    /// does not copy them): `why` says what failed; their payloads stay next to the journal,
    /// which names each file (`repair/annotations.rs`). Only a run stopped before the record
    /// is finished by `--resume`.
    Annotations { names: Vec<String>, why: String },
}

impl Failure {
    /// Whether the run must stop taking new objects.
    pub fn stops_the_run(&self) -> bool {
        matches!(self, Failure::Journal(_) | Failure::UnconditionalRefused)
    }

    /// The failure as reports show errors: an S3 error code and message, or a code of
    /// s3mend's own for the others.
    pub fn reported(&self) -> S3Failure {
        let local = |code: &str, message: String| S3Failure {
            code: code.to_owned(),
            message,
            http_status: None,
        };
        match self {
            Failure::S3(failure) => failure.clone(),
            Failure::VerifyMismatch(fields) => local(
                "VerifyMismatch",
                format!("after the copy HEAD differs in {}", fields.join(", ")),
            ),
            Failure::Journal(message) => local("JournalWriteFailed", message.clone()),
            Failure::Reinstate { version, failure } => local(
                "ReinstateFailed",
                format!("version {version} was written between the inspection and the copy and is now noncurrent under the repair; putting it back on top failed: {failure}"),
            ),
            Failure::Annotations { names, why } => local(
                "AnnotationsNotRestored",
                format!("the object was rewritten in parts, but {} of its annotations ({}) are not back on it: {why}; their payloads stay next to the journal, which names each file", names.len(), names.join(", ")),
            ),
            Failure::UnconditionalRefused => local(
                "UnconditionalCopyRefused",
                "the server ignores x-amz-copy-source-if-match, so a repair could overwrite a concurrent write: nothing was written (pass --allow-unconditional-copies to repair anyway)".to_owned(),
            ),
        }
    }
}

impl From<S3Failure> for Failure {
    fn from(failure: S3Failure) -> Self {
        Failure::S3(failure)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reported().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_heads_are_classified() {
        let cases = [
            (S3Failure::answered("NotFound", 404), Unread::Gone),
            (S3Failure::answered("NoSuchKey", 404), Unread::Gone),
            (S3Failure::answered(DELETE_MARKER, 404), Unread::Gone),
            (S3Failure::answered("BadRequest", 400), Unread::SseC),
            (S3Failure::answered("Forbidden", 403), Unread::Failed),
            (S3Failure::answered("InternalError", 500), Unread::Failed),
            (S3Failure::answered("SlowDown", 503), Unread::Failed),
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

    #[test]
    fn local_failures_keep_their_report_codes_and_only_two_stop_the_run() {
        let cases = [
            (
                Failure::S3(S3Failure::answered("InternalError", 500)),
                "InternalError",
                false,
            ),
            (
                Failure::VerifyMismatch(vec!["content_type".into(), "metadata".into()]),
                "VerifyMismatch",
                false,
            ),
            (
                Failure::Journal("cannot write journal j: disk full".into()),
                "JournalWriteFailed",
                true,
            ),
            (
                Failure::UnconditionalRefused,
                "UnconditionalCopyRefused",
                true,
            ),
        ];
        for (failure, code, stops) in cases {
            assert_eq!(failure.reported().code, code);
            assert_eq!(failure.stops_the_run(), stops, "{code}");
            let from_s3 = matches!(failure, Failure::S3(_));
            assert_eq!(failure.reported().http_status.is_some(), from_s3, "{code}");
        }
        assert_eq!(
            Failure::VerifyMismatch(vec!["content_type".into(), "metadata".into()]).to_string(),
            "VerifyMismatch: after the copy HEAD differs in content_type, metadata"
        );
    }
}
