//! From what happened to one object to what Batch Operations is told: a result code (whether it
//! retries the task) and a short result string (what the completion report shows). Pure, so every
//! case is tested here.
//!
//! Retried (`TemporaryFailure`): what may pass by itself: throttling, server errors, timeouts
//! and lost connections, an object that changed while it was repaired (the retry looks again).
//! Failed for good (`PermanentFailure`): what a retry would meet again: no such object, an
//! SSE-C object, access denied, a skip reason, a repair that could not be verified.

use super::event::ResultCode;
use crate::model::{S3Failure, SkipReason};
use crate::outcome::{Failure, Outcome};
use crate::plan::Change;
use crate::rules::Finding;

/// The completion report keeps what it is given; beyond this many bytes a result string is cut.
pub const MAX_RESULT: usize = 900;

/// The result code and string of one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub code: ResultCode,
    pub text: String,
}

impl Answer {
    pub fn new(code: ResultCode, text: impl Into<String>) -> Answer {
        let mut text: String = text.into().split_whitespace().collect::<Vec<_>>().join(" ");
        if text.len() > MAX_RESULT {
            let mut end = MAX_RESULT - "…".len();
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        Answer { code, text }
    }

    /// A task that could not be started for `why` (bad arguments, a key that does not decode).
    pub fn refused(why: &str) -> Answer {
        Answer::new(ResultCode::PermanentFailure, why)
    }
}

/// Whether a failed request may succeed when Batch Operations tries the task again.
pub fn code_for(failure: &S3Failure) -> ResultCode {
    let passing = matches!(
        failure.code.as_str(),
        "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "TooManyRequests"
            | "RequestTimeout"
            | "InternalError"
            | "ServiceUnavailable"
            | "Timeout"
            | "NetworkError"
    ) || match failure.http_status {
        // No answer at all: a timeout or a lost connection.
        None => true,
        Some(status) => status == 429 || (status >= 500 && status != 501),
    };
    if passing {
        ResultCode::TemporaryFailure
    } else {
        ResultCode::PermanentFailure
    }
}

/// A scan's answer for an object with findings: it succeeded, and says what it found.
pub fn found(findings: &[Finding]) -> Answer {
    let found: Vec<String> = findings
        .iter()
        .map(|f| change(&f.header.to_string(), &f.current, &f.proposed, "(remove)"))
        .collect();
    Answer::new(
        ResultCode::Succeeded,
        format!("findings: {}", found.join(" | ")),
    )
}

/// The answer for an object the repairer handled (a scan's clean or unreadable ones included).
pub fn of_outcome(outcome: &Outcome) -> Answer {
    use ResultCode::*;
    match outcome {
        Outcome::Clean => Answer::new(Succeeded, "clean"),
        Outcome::Gone(why) => Answer::new(PermanentFailure, format!("gone: {why}")),
        Outcome::InspectFailed(failure) => {
            Answer::new(code_for(failure), format!("error: {failure}"))
        }
        Outcome::WouldFix(plan) => Answer::new(
            Succeeded,
            format!("would fix: {}", changes(&plan.changes, "(remove)")),
        ),
        Outcome::Fixed {
            plan,
            after_conflict,
            ..
        } => {
            let newer = if *after_conflict {
                " (a version written meanwhile)"
            } else {
                ""
            };
            Answer::new(
                Succeeded,
                format!("fixed{newer}: {}", changes(&plan.changes, "(removed)")),
            )
        }
        Outcome::Skipped(reason) => {
            let code = match reason {
                // The function is being stopped: the task was never started.
                SkipReason::Interrupted => TemporaryFailure,
                _ => PermanentFailure,
            };
            Answer::new(code, format!("skipped: {}", reason.as_str()))
        }
        Outcome::Conflict(why) => Answer::new(TemporaryFailure, format!("conflict: {why}")),
        Outcome::Failed(failure) => {
            let code = match failure {
                Failure::S3(failure) => code_for(failure),
                // The journal line could not be written: nothing was copied.
                Failure::Journal(_) => TemporaryFailure,
                // Annotations a multipart rewrite could not put back need a person: the
                // completion report names them.
                Failure::VerifyMismatch(_)
                | Failure::UnconditionalRefused
                | Failure::Reinstate { .. }
                | Failure::Annotations { .. } => PermanentFailure,
            };
            Answer::new(code, format!("error: {failure}"))
        }
    }
}

fn changes(changes: &[Change], absent: &str) -> String {
    let shown: Vec<String> = changes
        .iter()
        .map(|c| change(&c.header.to_string(), &c.before, &c.after, absent))
        .collect();
    shown.join(" | ")
}

fn change(header: &str, before: &Option<String>, after: &Option<String>, absent: &str) -> String {
    format!(
        "{header} {} → {}",
        before.as_deref().unwrap_or("(absent)"),
        after.as_deref().unwrap_or(absent)
    )
}

#[cfg(test)]
mod tests;
