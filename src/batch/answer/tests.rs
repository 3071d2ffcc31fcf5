use super::*;
use crate::model::{Header, ObjectHead, Rewritten};
use crate::plan::{self, Plan};
use crate::rules::RuleSet;
use ResultCode::*;

fn failure(code: &str, status: Option<u16>) -> S3Failure {
    S3Failure {
        code: code.to_owned(),
        message: "m".to_owned(),
        http_status: status,
    }
}

/// The plan that repairs a page whose Content-Encoding is a charset and whose Content-Type is
/// generic.
fn plan() -> Plan {
    let head = ObjectHead {
        etag: Some("\"e\"".into()),
        content_encoding: Some("UTF-8".into()),
        content_type: Some("binary/octet-stream".into()),
        ..ObjectHead::new("index.html")
    };
    let findings = RuleSet::all().check(&head, Some(b"<html>"));
    assert_eq!(findings.len(), 2, "{findings:?}");
    plan::plan("b", &head, &findings).unwrap()
}

#[test]
fn request_failures_are_retried_only_when_they_may_pass() {
    let cases = [
        (failure("SlowDown", Some(503)), TemporaryFailure),
        (failure("ServiceUnavailable", Some(503)), TemporaryFailure),
        (failure("InternalError", Some(500)), TemporaryFailure),
        (failure("HttpError", Some(502)), TemporaryFailure),
        (failure("HttpError", Some(504)), TemporaryFailure),
        (failure("TooManyRequests", Some(429)), TemporaryFailure),
        (failure("HttpError", Some(429)), TemporaryFailure),
        (failure("Throttling", Some(400)), TemporaryFailure),
        (failure("ThrottlingException", Some(400)), TemporaryFailure),
        (failure("RequestTimeout", Some(400)), TemporaryFailure),
        (failure("Timeout", None), TemporaryFailure),
        (failure("NetworkError", None), TemporaryFailure),
        (failure("Unknown", None), TemporaryFailure),
        (failure("NotImplemented", Some(501)), PermanentFailure),
        (failure("AccessDenied", Some(403)), PermanentFailure),
        (failure("NoSuchKey", Some(404)), PermanentFailure),
        (failure("NotFound", Some(404)), PermanentFailure),
        (failure("NoSuchBucket", Some(404)), PermanentFailure),
        (failure("BadRequest", Some(400)), PermanentFailure),
        (failure("InvalidObjectState", Some(403)), PermanentFailure),
        (failure("PreconditionFailed", Some(412)), PermanentFailure),
        (failure("InvalidResponse", Some(200)), PermanentFailure),
        (failure("PermanentRedirect", Some(301)), PermanentFailure),
    ];
    for (failure, code) in cases {
        assert_eq!(code_for(&failure), code, "{failure:?}");
    }
}

#[test]
fn every_outcome_has_its_code_and_a_short_string() {
    let fixed = |after_conflict| Outcome::Fixed {
        plan: Box::new(plan()),
        new: Rewritten {
            version_id: None,
            etag: Some("\"e\"".into()),
        },
        after_conflict,
        left_noncurrent: false,
    };
    let cases = [
        (Outcome::Clean, Succeeded, "clean".to_owned()),
        (
            Outcome::Gone("deleted after it was listed".into()),
            PermanentFailure,
            "gone: deleted after it was listed".to_owned(),
        ),
        (
            Outcome::InspectFailed(failure("SlowDown", Some(503))),
            TemporaryFailure,
            "error: SlowDown: m".to_owned(),
        ),
        (
            Outcome::InspectFailed(failure("AccessDenied", Some(403))),
            PermanentFailure,
            "error: AccessDenied: m".to_owned(),
        ),
        (
            Outcome::WouldFix(Box::new(plan())),
            Succeeded,
            "would fix: Content-Encoding UTF-8 → (remove) | Content-Type binary/octet-stream → text/html; charset=utf-8".to_owned(),
        ),
        (
            fixed(false),
            Succeeded,
            "fixed: Content-Encoding UTF-8 → (removed) | Content-Type binary/octet-stream → text/html; charset=utf-8".to_owned(),
        ),
        (
            fixed(true),
            Succeeded,
            "fixed (a version written meanwhile): Content-Encoding UTF-8 → (removed) | Content-Type binary/octet-stream → text/html; charset=utf-8".to_owned(),
        ),
        (
            Outcome::Conflict("changed again while being repaired".into()),
            TemporaryFailure,
            "conflict: changed again while being repaired".to_owned(),
        ),
        (
            Outcome::Failed(Failure::S3(failure("InternalError", Some(500)))),
            TemporaryFailure,
            "error: InternalError: m".to_owned(),
        ),
        (
            Outcome::Failed(Failure::S3(failure("AccessDenied", Some(403)))),
            PermanentFailure,
            "error: AccessDenied: m".to_owned(),
        ),
        (
            Outcome::Failed(Failure::Journal("cannot write journal stdout: EPIPE".into())),
            TemporaryFailure,
            "error: JournalWriteFailed: cannot write journal stdout: EPIPE".to_owned(),
        ),
        (
            Outcome::Failed(Failure::VerifyMismatch(vec!["content_type".into()])),
            PermanentFailure,
            "error: VerifyMismatch: after the copy HEAD differs in content_type".to_owned(),
        ),
        (
            Outcome::Failed(Failure::UnconditionalRefused),
            PermanentFailure,
            format!("error: {}", Failure::UnconditionalRefused),
        ),
        (
            Outcome::Failed(Failure::Reinstate {
                version: "v2".into(),
                failure: failure("SlowDown", Some(503)),
            }),
            PermanentFailure,
            format!(
                "error: {}",
                Failure::Reinstate {
                    version: "v2".into(),
                    failure: failure("SlowDown", Some(503)),
                }
            ),
        ),
    ];
    for (outcome, code, text) in cases {
        let answer = of_outcome(&outcome);
        assert_eq!(answer, Answer::new(code, text), "{outcome:?}");
        assert!(answer.text.len() <= MAX_RESULT && !answer.text.contains('\n'));
    }
}

#[test]
fn every_skip_reason_fails_for_good_but_an_interrupted_task() {
    for reason in SkipReason::ALL {
        let answer = of_outcome(&Outcome::Skipped(reason));
        assert_eq!(answer.text, format!("skipped: {}", reason.as_str()));
        let code = if reason == SkipReason::Interrupted {
            TemporaryFailure
        } else {
            PermanentFailure
        };
        assert_eq!(answer.code, code, "{reason:?}");
    }
}

#[test]
fn a_scan_reports_its_findings_as_a_success() {
    let head = ObjectHead {
        content_encoding: Some("UTF-8".into()),
        content_type: Some("text/html".into()),
        ..ObjectHead::new("index.html")
    };
    let findings = RuleSet::all().check(&head, Some(b"<html>"));
    let answer = found(&findings);
    assert_eq!(answer.code, Succeeded);
    assert_eq!(answer.text, "findings: Content-Encoding UTF-8 → (remove)");
    assert_eq!(findings[0].header, Header::ContentEncoding);
}

#[test]
fn long_strings_are_cut_on_a_character_and_kept_on_one_line() {
    let answer = Answer::new(Succeeded, format!("a\n b {}", "é".repeat(1000)));
    assert!(answer.text.starts_with("a b é"), "{}", answer.text);
    assert!(answer.text.ends_with('…'));
    assert!(answer.text.len() <= MAX_RESULT);
    let short = Answer::refused("userArguments: mode 'x' is not scan, dry-run or fix");
    assert_eq!(short.code, PermanentFailure);
}
