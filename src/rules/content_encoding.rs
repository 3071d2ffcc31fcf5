//! `content-encoding`: Content-Encoding may only list registered content codings.
//!
//! s3cmd 1.5.0-alpha wrote the locale's charset (`UTF-8`, `ANSI_X3.4-1968` under cron) into
//! Content-Encoding. Chromium then disables all decoding, libcurl rejects the response and
//! CloudFront will not compress the object. RFC 9110 §8.4: a comma-separated list of codings in the
//! order applied, case-insensitive. The repair keeps the registered codings in their order and drops
//! everything else; with nothing left the header is removed.
//!
//! When the body's first bytes are known (the sniff, `coding.rs`) they decide instead: `UTF-8` or
//! `gzip, UTF-8` on a gzip body becomes `gzip`, on a plain body nothing, so that a repair never
//! leaves a compressed body undeclared or a plain one declared compressed.

use super::coding::reconcile;
use super::{Finding, RuleId};
use crate::model::{Header, ObjectHead};

/// The IANA HTTP Content Coding registry, without `identity` (RFC 9110: SHOULD NOT be sent).
pub const REGISTERED_CODINGS: [&str; 12] = [
    "aes128gcm",
    "br",
    "compress",
    "dcb",
    "dcz",
    "deflate",
    "exi",
    "gzip",
    "pack200-gzip",
    "x-compress",
    "x-gzip",
    "zstd",
];

pub fn is_registered(token: &str) -> bool {
    REGISTERED_CODINGS
        .iter()
        .any(|coding| coding.eq_ignore_ascii_case(token))
}

/// The valid codings of a Content-Encoding value, trimmed, in their order.
pub fn valid_codings(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|t| is_registered(t))
}

/// The rule over `head`, with the proposal decided by `body`'s first bytes when they are known.
pub fn check(head: &ObjectHead, body: Option<&[u8]>) -> Option<Finding> {
    let current = head.content_encoding.as_deref()?;
    let all_valid = current.split(',').map(str::trim).all(is_registered);
    if all_valid {
        return None;
    }
    let proposed = match body {
        Some(body) => reconcile(Some(current), body),
        None => {
            let kept: Vec<&str> = valid_codings(current).collect();
            (!kept.is_empty()).then(|| kept.join(", "))
        }
    };
    Some(Finding::new(
        RuleId::ContentEncoding,
        Header::ContentEncoding,
        Some(current),
        proposed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(value: &str) -> Option<Option<String>> {
        let head = ObjectHead {
            content_encoding: Some(value.to_owned()),
            ..ObjectHead::new("k")
        };
        check(&head, None).map(|f| {
            assert_eq!(f.rule, RuleId::ContentEncoding);
            assert_eq!(f.header, Header::ContentEncoding);
            assert_eq!(f.current.as_deref(), Some(value));
            f.proposed
        })
    }

    #[test]
    fn the_body_decides_the_proposal_when_it_is_known() {
        let gzip = [0x1f, 0x8b, 0x08];
        let head = |value: &str| ObjectHead {
            content_encoding: Some(value.to_owned()),
            ..ObjectHead::new("k")
        };
        let proposed = |value: &str, body: &[u8]| check(&head(value), Some(body)).unwrap().proposed;
        assert_eq!(proposed("UTF-8", &gzip).as_deref(), Some("gzip"));
        assert_eq!(proposed("gzip, UTF-8", &gzip).as_deref(), Some("gzip"));
        assert_eq!(proposed("gzip, UTF-8", b"<html>"), None);
        assert_eq!(proposed("UTF-8", b"<html>"), None);
        assert_eq!(proposed("br, utf-8", b"<html>").as_deref(), Some("br"));
        assert_eq!(
            check(&head("gzip"), Some(b"<html>")),
            None,
            "the other rule's"
        );
    }

    #[test]
    fn absent_header_is_fine() {
        assert_eq!(check(&ObjectHead::new("k"), None), None);
    }

    #[test]
    fn every_registered_coding_is_valid_in_any_case() {
        for coding in REGISTERED_CODINGS {
            let upper = coding.to_ascii_uppercase();
            let mixed: String = coding
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for form in [coding.to_owned(), upper, mixed, format!("  {coding}\t")] {
                assert_eq!(proposal(&form), None, "{form:?} must be valid");
            }
        }
    }

    #[test]
    fn lists_of_registered_codings_are_valid() {
        for value in ["gzip, br", "deflate,gzip", " zstd , x-gzip ", "gzip, gzip"] {
            assert_eq!(proposal(value), None, "{value:?}");
        }
    }

    #[test]
    fn charsets_and_other_tokens_are_removed() {
        let removed = [
            "UTF-8",
            "utf-8",
            "utf8",
            "UTF8",
            "US-ASCII",
            "us-ascii",
            "ANSI_X3.4-1968",
            "ISO-8859-1",
            "iso-8859-15",
            "latin1",
            "windows-1252",
            "identity",
            "IDENTITY",
            "aws-chunked",
            "text/html",
            "gz",
            "brotli",
            "chunked",
        ];
        for value in removed {
            assert_eq!(proposal(value), Some(None), "{value:?}");
        }
    }

    #[test]
    fn empty_values_and_tokens_are_flagged() {
        let cases = [
            ("", None),
            ("   ", None),
            (",", None),
            ("gzip,", Some("gzip")),
            (",gzip", Some("gzip")),
            ("gzip,,br", Some("gzip, br")),
        ];
        for (value, expected) in cases {
            assert_eq!(
                proposal(value),
                Some(expected.map(str::to_owned)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn valid_codings_are_kept_in_order() {
        let cases = [
            ("gzip, UTF-8", "gzip"),
            ("UTF-8, gzip", "gzip"),
            ("aws-chunked,gzip", "gzip"),
            ("br, identity, gzip", "br, gzip"),
            ("  GZIP ,utf-8", "GZIP"),
            ("deflate, ANSI_X3.4-1968, zstd", "deflate, zstd"),
        ];
        for (value, expected) in cases {
            assert_eq!(
                proposal(value),
                Some(Some(expected.to_owned())),
                "{value:?}"
            );
        }
    }
}
