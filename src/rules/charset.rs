//! `charset`: a text type without a `charset` parameter.
//!
//! Without one, a browser guesses the encoding of a text response (and `text/*` defaults to
//! US-ASCII in older specifications), which garbles every non-ASCII character of a UTF-8 site
//! (aws-cli #1346). The rule proposes the same type with `; charset=utf-8`. A generic or missing
//! type is the `content-type` rule's, which proposes a charset itself.

use super::content_type::is_textual;
use super::{Finding, RuleId};
use crate::model::{Header, ObjectHead};

pub fn check(head: &ObjectHead) -> Option<Finding> {
    let current = head.content_type.as_deref()?;
    let mime: mime_guess::Mime = current.trim().parse().ok()?;
    if !is_textual(&mime) || mime.get_param(mime_guess::mime::CHARSET).is_some() {
        return None;
    }
    Some(Finding::new(
        RuleId::Charset,
        Header::ContentType,
        Some(current),
        Some(format!(
            "{}; charset=utf-8",
            current.trim().trim_end_matches(';')
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(content_type: &str) -> Option<String> {
        let head = ObjectHead {
            content_type: Some(content_type.to_owned()),
            ..ObjectHead::new("k")
        };
        check(&head).map(|f| {
            assert_eq!((f.rule, f.header), (RuleId::Charset, Header::ContentType));
            f.proposed.unwrap()
        })
    }

    #[test]
    fn text_types_without_a_charset_get_utf_8() {
        for (current, proposed) in [
            ("text/css", "text/css; charset=utf-8"),
            ("text/html", "text/html; charset=utf-8"),
            (
                "application/javascript",
                "application/javascript; charset=utf-8",
            ),
            ("application/json", "application/json; charset=utf-8"),
            ("application/xml", "application/xml; charset=utf-8"),
            ("image/svg+xml", "image/svg+xml; charset=utf-8"),
            (
                "application/manifest+json",
                "application/manifest+json; charset=utf-8",
            ),
            (
                "text/plain; format=flowed",
                "text/plain; format=flowed; charset=utf-8",
            ),
        ] {
            assert_eq!(proposal(current).as_deref(), Some(proposed), "{current}");
        }
    }

    #[test]
    fn a_charset_or_a_binary_type_is_left_alone() {
        for current in [
            "text/css; charset=utf-8",
            "text/html;charset=ISO-8859-1",
            "image/png",
            "font/woff2",
            "application/wasm",
            "application/octet-stream",
            "not a type",
        ] {
            assert_eq!(proposal(current), None, "{current}");
        }
        assert_eq!(check(&ObjectHead::new("k")), None);
    }
}
