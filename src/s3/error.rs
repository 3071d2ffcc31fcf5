//! What went wrong with one S3 request, reduced to the model's [`S3Failure`]: what a report and
//! an exit code need.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::model::S3Failure;

impl S3Failure {
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let http_status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message) = match err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let failure = S3Failure::service_error(
                    e.code().map(str::to_owned),
                    e.message().map(str::to_owned),
                    http_status,
                );
                (failure.code, failure.message)
            }
            SdkError::TimeoutError(_) => ("Timeout".to_owned(), "the request timed out".to_owned()),
            // Answered, but the answer could not be read (a header that is not UTF-8, a body
            // that does not parse): no S3 error, so not an HTTP status's either.
            SdkError::ResponseError(_) => (
                "InvalidResponse".to_owned(),
                format!("the server's answer could not be read: {}", chain(err)),
            ),
            SdkError::DispatchFailure(d) => {
                let code = if d.is_timeout() {
                    "Timeout"
                } else {
                    "NetworkError"
                };
                (code.to_owned(), chain(err))
            }
            _ => (code_for_status(http_status), chain(err)),
        };
        S3Failure {
            code,
            message,
            http_status,
        }
    }
}

impl S3Failure {
    /// An S3 error answer with this code and message (each from the answer's `Error` body, if
    /// it had them), as [`S3Failure::from_sdk`] reports the SDK's service error; also for the
    /// requests sent around the SDK (`fast_head`), so that both report it alike.
    pub(super) fn service_error(
        code: Option<String>,
        message: Option<String>,
        http_status: Option<u16>,
    ) -> Self {
        let code = code.unwrap_or_else(|| code_for_status(http_status));
        let message = message.unwrap_or_else(|| default_message(&code).to_owned());
        S3Failure {
            code,
            message,
            http_status,
        }
    }
}

/// HEAD responses have no body, so S3 sends no error code: derive one from the status.
pub(super) fn code_for_status(status: Option<u16>) -> String {
    match status {
        Some(301) => "PermanentRedirect",
        Some(400) => "BadRequest",
        Some(403) => "AccessDenied",
        Some(404) => "NotFound",
        Some(405) => "MethodNotAllowed",
        Some(409) => "Conflict",
        Some(412) => "PreconditionFailed",
        Some(500) => "InternalError",
        Some(501) => "NotImplemented",
        Some(503) => "SlowDown",
        Some(_) => "HttpError",
        None => "Unknown",
    }
    .to_owned()
}

fn default_message(code: &str) -> &'static str {
    match code {
        "BadRequest" => "the server rejected the request (for HEAD: an SSE-C object needs its key)",
        "AccessDenied" => "access denied",
        "NotFound" => "not found",
        "PreconditionFailed" => "the object changed",
        "PermanentRedirect" => "the bucket is in another region",
        _ => "request failed",
    }
}

/// An error and its sources, by their Display texts only: the SDK's DisplayErrorContext appends
/// a Debug dump of whole responses.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    one_line(&parts.join(": "))
}

/// SDK error chains span lines; reports and the one-line errors want one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_s3_error_codes() {
        assert_eq!(code_for_status(Some(403)), "AccessDenied");
        assert_eq!(code_for_status(Some(404)), "NotFound");
        assert_eq!(code_for_status(Some(412)), "PreconditionFailed");
        assert_eq!(code_for_status(Some(418)), "HttpError");
        assert_eq!(code_for_status(None), "Unknown");
    }

    #[test]
    fn an_answer_that_cannot_be_read_says_so_whatever_its_status() {
        use aws_sdk_s3::operation::head_object::HeadObjectError;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        let response = HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::empty());
        let err: SdkError<HeadObjectError, HttpResponse> =
            SdkError::response_error("header `x-amz-meta-a` is not UTF-8", response);
        let failure = S3Failure::from_sdk(&err);
        assert_eq!(failure.code, "InvalidResponse");
        assert!(failure.message.contains("is not UTF-8"), "{failure}");
        assert_eq!(failure.http_status, Some(200));
    }

    #[test]
    fn one_line_collapses_whitespace() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
