//! The repair's CopyObject around the SDK's pipeline: the request `write::copy_headers` builds
//! from the plan (the same plan the SDK's request is built from, next to it), signed and sent as
//! the HEADs are, its answer read as the SDK reads it (`answer`).

use std::time::Duration;

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_xml::decode::{try_data, Document};
use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::BodyExt;

use super::template::Template;
use super::{object_url, Attempt, Heads};
use crate::model::{Rewritten, S3Failure};
use crate::plan::Plan;
use crate::s3::write::{copy_headers, copy_in_place_with, COPY_RATE};

/// The largest answer body read here; a larger one is left to the SDK.
const MAX_BODY: usize = 64 << 10;

impl Heads {
    /// One REPLACE CopyObject onto itself, as [`crate::s3::write::copy_in_place`] sends it.
    pub(crate) async fn copy(
        &self,
        bucket: &str,
        plan: &Plan,
        destination_if_match: bool,
    ) -> Result<Rewritten, S3Failure> {
        let client = &self.0.client;
        let sdk = |attempts| -> BoxFuture<'_, Result<Rewritten, S3Failure>> {
            Box::pin(copy_in_place_with(
                client,
                bucket,
                plan,
                destination_if_match,
                attempts,
            ))
        };
        let Some((template, connector)) = self.ready(bucket) else {
            return sdk(None).await;
        };
        let attempt = self.copy_attempt(template, connector, plan, destination_if_match);
        self.around(attempt, false, sdk).await
    }

    async fn copy_attempt(
        &self,
        template: &Template,
        connector: &SharedHttpConnector,
        plan: &Plan,
        destination_if_match: bool,
    ) -> Attempt<Rewritten> {
        let Some(headers) = copy_headers(plan, destination_if_match) else {
            return Attempt::Unsent;
        };
        let uri = format!("{}?x-id=CopyObject", object_url(template, &plan.key));
        let conventions = &self.0.conventions.copy;
        let Some(request) = self
            .signed(template, "PUT", &uri, conventions, &headers)
            .await
        else {
            return Attempt::Unsent;
        };
        // As `write::copy_attempt`: the client's attempt timeout plus the bytes' time.
        let timeout = self.0.attempt_timeout + Duration::from_secs(plan.size.div_ceil(COPY_RATE));
        match tokio::time::timeout(timeout, exchange(connector, request)).await {
            Ok(Some((response, body))) => answer(&response, &body),
            Ok(None) | Err(_) => Attempt::Failed(None),
        }
    }
}

/// Sends `request` and reads the whole answer; `None` without one (a reset), or with a body
/// larger than [`MAX_BODY`].
pub(super) async fn exchange(
    connector: &SharedHttpConnector,
    request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
) -> Option<(HttpResponse, Bytes)> {
    let mut response = connector.call(request).await.ok()?;
    let body = std::mem::replace(
        response.body_mut(),
        aws_smithy_types::body::SdkBody::empty(),
    );
    let body = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .ok()?
        .to_bytes();
    Some((response, body))
}

/// The errors a repair acts on (`repair::is_conflict`, `Repairer::rewrite`): answered with one of
/// these codes, which the SDK neither retries nor corrects, the copy's failure is the SDK's
/// failure, and is reported here rather than sent again for the SDK to see.
const ACTED_ON: &[&str] = &[
    "PreconditionFailed",
    "ConditionalRequestConflict",
    "Conflict",
    "NoSuchKey",
    "NoSuchVersion",
    "NotImplemented",
    "AccessControlListNotSupported",
];

/// A CopyObject's answer, as the SDK's deserialiser reads it: a 200 whose body is a
/// `CopyObjectResult` is the copy; a 200 whose body is an `Error` is an error (the SDK looks
/// for one in every answer: `body_is_error`), as is any other status. Reported here exactly as
/// [`S3Failure::from_sdk`] reports the SDK's error: a 412, an error the repair acts on
/// ([`ACTED_ON`]), and an error in a 200 that the SDK would not retry. Everything else goes to the
/// SDK: an error it would retry (a 5xx, a 429, a throttling or transient code) and any other 3xx
/// or 4xx, which it might judge otherwise (a clock skew it corrects, a redirect).
pub(super) fn answer(response: &HttpResponse, body: &[u8]) -> Attempt<Rewritten> {
    let status = response.status().as_u16();
    let error = error_in(body);
    match (status, error) {
        (200, None) => {
            let Some(etag) = copy_result_etag(body) else {
                return Attempt::Unparsed;
            };
            let mut versions = response.headers().get_all("x-amz-version-id");
            let version_id = versions.next().map(str::to_owned);
            if versions.next().is_some() {
                return Attempt::Unparsed;
            }
            Attempt::Answered(Rewritten { version_id, etag })
        }
        (200, Some(Some((code, message)))) if !retried_by_the_sdk(code.as_deref()) => {
            Attempt::Refused(S3Failure::service_error(code, message, Some(status)))
        }
        (200, Some(_)) => Attempt::ErrorBody,
        (400..=499 | 501, Some(Some((code, message))))
            if status == 412 || code.as_deref().is_some_and(|c| ACTED_ON.contains(&c)) =>
        {
            Attempt::Refused(S3Failure::service_error(code, message, Some(status)))
        }
        // A 412 without a readable error: the SDK's error then has neither code nor message.
        (412, _) if body.is_empty() => {
            Attempt::Refused(S3Failure::service_error(None, None, Some(412)))
        }
        _ => Attempt::Failed(Some(status)),
    }
}

/// Codes the SDK's CopyObject retries besides aws-runtime's throttling and transient lists: its own
/// extra transient code, and the clock-skew codes (aws-runtime's clock-skew classifier retries
/// them once it has measured a skew, which this path cannot know).
const ALSO_RETRIED: &[&str] = &[
    "InternalError",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "RequestTimeTooSkewed",
    "AccessDeniedException",
];

/// Whether the SDK's CopyObject may retry an error with this code whatever its status.
fn retried_by_the_sdk(code: Option<&str>) -> bool {
    code.is_some_and(|code| {
        THROTTLING_ERRORS.contains(&code)
            || TRANSIENT_ERRORS.contains(&code)
            || ALSO_RETRIED.contains(&code)
    })
}

/// `None` when the body is not an S3 error; `Some(None)` when it is one that does not parse;
/// else its code and message, as the SDK's `rest_xml_unwrapped_errors` reads them.
#[allow(clippy::type_complexity)]
fn error_in(body: &[u8]) -> Option<Option<(Option<String>, Option<String>)>> {
    let mut doc = Document::try_from(body).ok()?;
    let mut root = doc.root_element().ok()?;
    if !root.start_el().matches("Error") {
        return None;
    }
    let (mut code, mut message) = (None, None);
    while let Some(mut tag) = root.next_tag() {
        match tag.start_el().local() {
            "Code" => match try_data(&mut tag) {
                Ok(text) => code = Some(text.into_owned()),
                Err(_) => return Some(None),
            },
            "Message" => match try_data(&mut tag) {
                Ok(text) => message = Some(text.into_owned()),
                Err(_) => return Some(None),
            },
            _ => {}
        }
    }
    Some(Some((code, message)))
}

/// The ETag of a `CopyObjectResult` body (`Some(None)` when it has none, as the SDK allows);
/// `None` when the body is not one.
fn copy_result_etag(body: &[u8]) -> Option<Option<String>> {
    let mut doc = Document::try_from(body).ok()?;
    let mut root = doc.root_element().ok()?;
    if !root.start_el().matches("CopyObjectResult") {
        return None;
    }
    let mut etag = None;
    while let Some(mut tag) = root.next_tag() {
        if tag.start_el().matches("ETag") {
            etag = Some(try_data(&mut tag).ok()?.into_owned());
        }
    }
    Some(etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        let mut response =
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        for (name, value) in headers {
            response
                .headers_mut()
                .append(name.to_string(), value.to_string());
        }
        response
    }

    const RESULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LastModified>2026-11-27T10:00:00.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></CopyObjectResult>"#;

    fn error(code: &str) -> String {
        format!("<Error><Code>{code}</Code><Message>It &amp; failed</Message><RequestId>r</RequestId></Error>")
    }

    #[test]
    fn a_copy_result_is_read_as_the_sdk_reads_it() {
        let answered = answer(
            &response(200, &[("x-amz-version-id", "v2")]),
            RESULT.as_bytes(),
        );
        let Attempt::Answered(new) = answered else {
            panic!("not answered");
        };
        assert_eq!(new.version_id.as_deref(), Some("v2"));
        assert_eq!(
            new.etag.as_deref(),
            Some("\"9b2cf535f27731c974343645a3985328\"")
        );
        let Attempt::Answered(bare) = answer(&response(200, &[]), b"<CopyObjectResult/>") else {
            panic!("not answered");
        };
        assert_eq!((bare.version_id, bare.etag), (None, None));
    }

    #[test]
    fn a_failed_condition_is_a_failure_as_the_sdk_reports_it() {
        let Attempt::Refused(failure) =
            answer(&response(412, &[]), error("PreconditionFailed").as_bytes())
        else {
            panic!("not refused");
        };
        assert_eq!(
            failure,
            S3Failure {
                code: "PreconditionFailed".into(),
                message: "It & failed".into(),
                http_status: Some(412),
            }
        );
        let Attempt::Refused(bare) = answer(&response(412, &[]), b"") else {
            panic!("not refused");
        };
        assert_eq!(bare.code, "PreconditionFailed");
        assert_eq!(bare.http_status, Some(412));
    }

    #[test]
    fn the_errors_a_repair_acts_on_are_failures_as_the_sdk_reports_them() {
        for (status, code) in [
            (501, "NotImplemented"),
            (400, "AccessControlListNotSupported"),
            (409, "ConditionalRequestConflict"),
            (404, "NoSuchKey"),
            (404, "NoSuchVersion"),
        ] {
            let Attempt::Refused(failure) = answer(&response(status, &[]), error(code).as_bytes())
            else {
                panic!("{status} {code} not refused");
            };
            assert_eq!(
                failure,
                S3Failure {
                    code: code.into(),
                    message: "It & failed".into(),
                    http_status: Some(status),
                }
            );
        }
    }

    #[test]
    fn an_error_in_a_200_is_an_error_and_retried_only_where_the_sdk_retries() {
        let Attempt::Refused(failure) =
            answer(&response(200, &[]), error("AccessDenied").as_bytes())
        else {
            panic!("not refused");
        };
        assert_eq!(
            (failure.code.as_str(), failure.http_status),
            ("AccessDenied", Some(200))
        );
        // The SDK's CopyObject retries InternalError too, and a clock skew.
        for code in [
            "SlowDown",
            "InternalError",
            "RequestTimeout",
            "RequestTimeTooSkewed",
        ] {
            assert!(
                matches!(
                    answer(&response(200, &[]), error(code).as_bytes()),
                    Attempt::ErrorBody
                ),
                "{code}"
            );
        }
        assert!(matches!(
            answer(
                &response(200, &[]),
                b"<Error><Code>x</Code><Message>&bogus;</Message></Error>"
            ),
            Attempt::ErrorBody
        ));
    }

    #[test]
    fn anything_else_goes_to_the_sdk() {
        for (status, body) in [
            (200, "not xml".to_owned()),
            (200, "<Other/>".to_owned()),
            (503, error("SlowDown")),
            (500, error("InternalError")),
            (403, error("AccessDenied")),
            (400, error("RequestTimeout")),
            (
                501,
                "<Error><Code>NotImplemented</Code><Message>&bogus;</Message></Error>".to_owned(),
            ),
            (400, error("AuthorizationHeaderMalformed")),
            (301, String::new()),
        ] {
            let got = answer(&response(status, &[]), body.as_bytes());
            let expected_status = if status == 200 { None } else { Some(status) };
            match got {
                Attempt::Unparsed => assert_eq!(status, 200, "{body}"),
                Attempt::Failed(s) => assert_eq!(s, expected_status, "{body}"),
                _ => panic!("{status} {body}: kept here"),
            }
        }
        let twice = response(200, &[("x-amz-version-id", "a"), ("x-amz-version-id", "b")]);
        assert!(matches!(
            answer(&twice, RESULT.as_bytes()),
            Attempt::Unparsed
        ));
    }
}
