//! `encoding-mismatch`: a Content-Encoding the body contradicts, or a compressed body without one.
//!
//! `gzip` declared on a plain body makes browsers fail with ERR_CONTENT_DECODING_FAILED
//! (grunt-aws-s3 #7, minio #8364); a gzip body served without the header shows compressed bytes.
//! The rule reads the body's first bytes (one ranged GET of 64 bytes per object it looks at: it
//! looks at objects with a Content-Encoding, and at text types without one) and checks them
//! against each declared coding's magic number (`coding.rs`). A Content-Encoding that is not a
//! list of registered codings is the `content-encoding` rule's.

use super::coding::{reconcile, Magic};
use super::content_encoding::is_registered;
use super::content_type::is_textual_type;
use super::{Finding, RuleId};
use crate::model::{Header, ObjectHead};

/// Whether the rule has anything to check on this object once its body is read.
pub fn wants_body(head: &ObjectHead) -> bool {
    match head.content_encoding.as_deref() {
        Some(value) => value.split(',').all(|token| is_registered(token.trim())),
        None => head.content_type.as_deref().is_some_and(is_textual_type),
    }
}

pub fn check(head: &ObjectHead, body: Option<&[u8]>) -> Option<Finding> {
    let body = body?;
    if !wants_body(head) {
        return None;
    }
    let current = head.content_encoding.as_deref();
    let proposed = match current {
        Some(_) => reconcile(current, body),
        // Only a magic that proves a coding, never a guess from two bytes of text.
        None => Magic::of_body(body)
            .filter(|magic| magic.is_proof())
            .map(|magic| magic.token().to_owned()),
    };
    let unchanged = match (current, &proposed) {
        (Some(current), Some(proposed)) => normalized(current) == normalized(proposed),
        (current, proposed) => current.is_none() && proposed.is_none(),
    };
    (!unchanged).then(|| {
        Finding::new(
            RuleId::EncodingMismatch,
            Header::ContentEncoding,
            current,
            proposed,
        )
    })
}

fn normalized(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|token| token.trim().to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GZIP: &[u8] = &[0x1f, 0x8b, 0x08, 0x00, 0x00];
    const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
    const PLAIN: &[u8] = b"body,with,commas\n";

    fn head(content_type: &str, encoding: Option<&str>) -> ObjectHead {
        ObjectHead {
            content_type: Some(content_type.into()),
            content_encoding: encoding.map(str::to_owned),
            ..ObjectHead::new("k")
        }
    }

    fn proposal(content_type: &str, encoding: Option<&str>, body: &[u8]) -> Option<Option<String>> {
        check(&head(content_type, encoding), Some(body)).map(|f| {
            assert_eq!(f.rule, RuleId::EncodingMismatch);
            assert_eq!(f.current.as_deref(), encoding);
            f.proposed
        })
    }

    #[test]
    fn a_declared_coding_the_body_contradicts_is_flagged() {
        assert_eq!(proposal("text/html", Some("gzip"), PLAIN), Some(None));
        assert_eq!(
            proposal("text/html", Some("x-gzip"), ZSTD),
            Some(Some("zstd".into()))
        );
        assert_eq!(proposal("text/css", Some("zstd"), PLAIN), Some(None));
        assert_eq!(proposal("text/css", Some("deflate"), PLAIN), Some(None));
        assert_eq!(
            proposal("application/json", Some("gzip, br"), PLAIN),
            Some(Some("br".into()))
        );
    }

    #[test]
    fn a_body_that_agrees_or_cannot_tell_is_fine() {
        assert_eq!(proposal("text/html", Some("gzip"), GZIP), None);
        assert_eq!(proposal("text/html", Some("GZIP"), GZIP), None);
        assert_eq!(proposal("text/html", Some("br"), PLAIN), None);
        assert_eq!(proposal("text/html", None, PLAIN), None);
        assert_eq!(proposal("text/html", None, b""), None);
        assert_eq!(
            proposal("text/html", None, b"x Hello"),
            None,
            "not a zlib guess"
        );
    }

    #[test]
    fn a_compressed_text_without_a_coding_is_flagged() {
        assert_eq!(proposal("text/html", None, GZIP), Some(Some("gzip".into())));
        assert_eq!(
            proposal("application/javascript", None, ZSTD),
            Some(Some("zstd".into()))
        );
        // A binary type is what it says: an archive served as an archive.
        assert_eq!(proposal("application/gzip", None, GZIP), None);
    }

    #[test]
    fn no_body_or_an_invalid_header_is_left_to_others() {
        assert_eq!(check(&head("text/html", Some("gzip")), None), None);
        assert_eq!(proposal("text/html", Some("UTF-8"), PLAIN), None);
        assert!(!wants_body(&head("image/png", None)));
        assert!(wants_body(&head("image/png", Some("gzip"))));
    }
}
