//! `content-type`: objects whose Content-Type is missing or generic although the key says what
//! they are.
//!
//! Uploaders that cannot guess a type send `binary/octet-stream` (S3's default) or
//! `application/octet-stream`; browsers then download a page instead of showing it. The rule only
//! flags a missing or generic type, and only when the key's extension names a type: it never
//! second-guesses a specific type that merely differs from the guess.

use super::content_encoding::valid_codings;
use super::{Finding, RuleId};
use crate::model::{Header, ObjectHead};

const GENERIC_TYPES: [&str; 2] = ["binary/octet-stream", "application/octet-stream"];

/// Extensions a precompressed file keeps after its own (`app.js.gz` served with `gzip`).
const COMPRESSED_EXTENSIONS: [(&str, &str); 4] = [
    ("gz", "gzip"),
    ("gz", "x-gzip"),
    ("br", "br"),
    ("zst", "zstd"),
];

fn is_generic(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.is_empty()
        || GENERIC_TYPES
            .iter()
            .any(|g| g.eq_ignore_ascii_case(essence))
}

/// Types a browser decodes as text, so they are proposed with an explicit charset.
pub fn is_textual(mime: &mime_guess::Mime) -> bool {
    mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.subtype().as_str(), "javascript" | "json" | "xml")
        || mime
            .suffix()
            .is_some_and(|s| s == mime_guess::mime::JSON || s == mime_guess::mime::XML)
}

/// The key whose extension names the content: for `app.js.gz` stored with `Content-Encoding:
/// gzip`, that is `app.js`.
fn content_key<'a>(key: &'a str, content_encoding: Option<&str>) -> &'a str {
    let Some((stem, ext)) = key.rsplit_once('.') else {
        return key;
    };
    let coded = content_encoding.is_some_and(|value| {
        valid_codings(value).any(|coding| {
            COMPRESSED_EXTENSIONS
                .iter()
                .any(|(e, c)| e.eq_ignore_ascii_case(ext) && c.eq_ignore_ascii_case(coding))
        })
    });
    if coded && stem.contains('.') {
        stem
    } else {
        key
    }
}

/// The Content-Type s3mend proposes for a key, if its extension names one.
pub fn guess(key: &str, content_encoding: Option<&str>) -> Option<String> {
    let name = content_key(key, content_encoding);
    let name = name.rsplit('/').next().unwrap_or(name);
    if !name.contains('.') {
        return None;
    }
    let mime = mime_guess::from_path(name).first()?;
    if is_generic(mime.essence_str()) {
        return None;
    }
    Some(if is_textual(&mime) {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_owned()
    })
}

/// Whether a Content-Type value names a text type.
pub fn is_textual_type(content_type: &str) -> bool {
    content_type
        .trim()
        .parse::<mime_guess::Mime>()
        .is_ok_and(|mime| is_textual(&mime))
}

pub fn check(head: &ObjectHead) -> Option<Finding> {
    if head.content_type.as_deref().is_some_and(|t| !is_generic(t)) {
        return None;
    }
    let proposed = guess(&head.key, head.content_encoding.as_deref())?;
    Some(Finding::new(
        RuleId::ContentType,
        Header::ContentType,
        head.content_type.as_deref(),
        Some(proposed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(key: &str, content_type: Option<&str>, encoding: Option<&str>) -> ObjectHead {
        ObjectHead {
            content_type: content_type.map(str::to_owned),
            content_encoding: encoding.map(str::to_owned),
            ..ObjectHead::new(key)
        }
    }

    fn proposal(key: &str, content_type: Option<&str>) -> Option<String> {
        let h = head(key, content_type, None);
        check(&h).map(|f| {
            assert_eq!(f.rule, RuleId::ContentType);
            assert_eq!(f.header, Header::ContentType);
            assert_eq!(f.current.as_deref(), content_type);
            f.proposed
                .expect("a content-type finding always proposes a type")
        })
    }

    #[test]
    fn generic_or_missing_types_get_the_guess() {
        let cases = [
            (
                "index.html",
                Some("binary/octet-stream"),
                "text/html; charset=utf-8",
            ),
            (
                "a/b/c.css",
                Some("application/octet-stream"),
                "text/css; charset=utf-8",
            ),
            ("app.js", None, "text/javascript; charset=utf-8"),
            (
                "js/app.mjs",
                Some("binary/octet-stream"),
                "application/javascript; charset=utf-8",
            ),
            ("mod.wasm", Some("binary/octet-stream"), "application/wasm"),
            ("data.json", Some(""), "application/json; charset=utf-8"),
            (
                "logo.svg",
                Some("Binary/Octet-Stream"),
                "image/svg+xml; charset=utf-8",
            ),
            (
                "feed.xml",
                Some("application/octet-stream; foo=bar"),
                "text/xml; charset=utf-8",
            ),
            ("photo.PNG", Some("binary/octet-stream"), "image/png"),
            ("img/photo.jpg", None, "image/jpeg"),
            ("font.woff2", Some("binary/octet-stream"), "font/woff2"),
            ("doc.pdf", Some("binary/octet-stream"), "application/pdf"),
        ];
        for (key, current, expected) in cases {
            assert_eq!(proposal(key, current).as_deref(), Some(expected), "{key}");
        }
    }

    #[test]
    fn specific_types_are_never_second_guessed() {
        let cases = [
            ("index.html", "text/html"),
            ("index.html", "text/plain"),
            ("app.js", "application/javascript"),
            ("photo.png", "image/jpeg"),
            ("data.bin", "application/x-custom"),
        ];
        for (key, current) in cases {
            assert_eq!(proposal(key, Some(current)), None, "{key} {current}");
        }
    }

    #[test]
    fn keys_without_a_known_extension_are_left_alone() {
        for key in [
            "README",
            "dir/",
            "archive.unknownext",
            "dir.d/file",
            ".hidden",
            "blob.bin",
        ] {
            assert_eq!(proposal(key, Some("binary/octet-stream")), None, "{key}");
            assert_eq!(proposal(key, None), None, "{key}");
        }
    }

    #[test]
    fn precompressed_files_are_typed_by_their_inner_extension() {
        let h = head("js/app.js.gz", Some("binary/octet-stream"), Some("gzip"));
        assert_eq!(
            check(&h).and_then(|f| f.proposed).as_deref(),
            Some("text/javascript; charset=utf-8")
        );
        let h = head("css/site.css.br", None, Some("br"));
        assert_eq!(
            check(&h).and_then(|f| f.proposed).as_deref(),
            Some("text/css; charset=utf-8")
        );
        // Without the coding the archive is what it says.
        let h = head("backup.tar.gz", Some("binary/octet-stream"), None);
        assert_eq!(
            check(&h).and_then(|f| f.proposed).as_deref(),
            Some("application/gzip")
        );
    }
}
