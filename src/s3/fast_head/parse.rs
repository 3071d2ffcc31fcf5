//! A HEAD's answer read as the SDK reads it, by the model's attribute table.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::date_time::{DateTime, Format};

use crate::model::{Attr, ObjectHead, Slot};

/// The snapshot [`ObjectHead::from_sdk`] builds, from a 200's headers, parsed as the SDK parses
/// them (values trimmed; one value per header), each by the model's attribute table. `None` when
/// a header is repeated, is not UTF-8 or does not parse: the SDK then answers instead, with its
/// own error if it has one.
pub(crate) fn parse(key: &str, response: &HttpResponse) -> Option<ObjectHead> {
    let mut head = ObjectHead::new(key);
    for (name, value) in response.headers().iter_bytes() {
        let value = std::str::from_utf8(value).ok()?.trim();
        if let Some(meta) = name.strip_prefix("x-amz-meta-") {
            if head
                .metadata
                .insert(meta.to_owned(), value.to_owned())
                .is_some()
            {
                return None;
            }
            continue;
        }
        let Some(attr) = Attr::from_header(name) else {
            continue;
        };
        match attr.slot(&mut head) {
            Slot::Text(slot) => set_once(slot, Some(value.to_owned()))?,
            Slot::Length(slot) => set_once(slot, value.parse().ok())?,
            Slot::Count(slot) => set_once(slot, value.parse().ok())?,
            Slot::Flag(slot) => set_once(
                slot,
                match value {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                },
            )?,
            Slot::Date(slot) => set_once(
                slot,
                DateTime::from_str(value, Format::DateTimeWithOffset)
                    .ok()
                    .map(|date| date.to_string()),
            )?,
            Slot::HttpDate(slot) => set_once(
                slot,
                DateTime::from_str(value, Format::HttpDate)
                    .ok()
                    .map(|date| date.to_string()),
            )?,
        }
    }
    Some(head)
}

/// Fills an empty slot with a parsed value; `None` for a second value or one that did not parse.
fn set_once<T>(slot: &mut Option<T>, parsed: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(parsed?);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn response(headers: &[(&str, &str)]) -> HttpResponse {
        let mut response = HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::empty());
        for (name, value) in headers {
            response
                .headers_mut()
                .append(name.to_string(), value.to_string());
        }
        response
    }

    #[test]
    fn headers_parse_as_the_sdk_parses_them() {
        let head = parse(
            "k",
            &response(&[
                ("etag", "\"abc\""),
                ("content-length", "12"),
                ("content-encoding", " gzip, UTF-8 "),
                ("x-amz-meta-author", "=?UTF-8?B?Wm/Dqw==?="),
                ("x-amz-meta-empty", ""),
                ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2030-01-02T03:04:05.000Z",
                ),
                ("x-amz-tagging-count", "2"),
                ("x-amz-request-id", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(head.etag.as_deref(), Some("\"abc\""));
        assert_eq!(head.content_length, Some(12));
        assert_eq!(head.content_encoding.as_deref(), Some("gzip, UTF-8"));
        assert_eq!(head.metadata.len(), 2);
        assert_eq!(head.metadata["author"], "=?UTF-8?B?Wm/Dqw==?=");
        assert_eq!(head.bucket_key_enabled, Some(true));
        assert_eq!(
            head.object_lock_retain_until_date.as_deref(),
            Some("2030-01-02T03:04:05Z")
        );
        assert_eq!(head.tag_count, Some(2));
    }

    #[test]
    fn headers_the_sdk_would_reject_are_left_to_it() {
        for headers in [
            &[("content-encoding", "gzip"), ("content-encoding", "br")][..],
            &[("x-amz-meta-a", "1"), ("x-amz-meta-a", "2")],
            &[("content-length", "12, 13")],
            &[("x-amz-server-side-encryption-bucket-key-enabled", "TRUE")],
            &[("x-amz-object-lock-retain-until-date", "tomorrow")],
            &[("x-amz-mp-parts-count", "many")],
        ] {
            assert_eq!(parse("k", &response(headers)), None, "{headers:?}");
        }
    }
}
