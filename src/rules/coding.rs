//! What an object's first bytes say about its content coding: the magic numbers of the codings
//! that have one, so that a declared Content-Encoding can be checked against the body
//! (`encoding-mismatch`) and a repair never makes a working object undecodable.
//!
//! gzip starts `1f 8b` (RFC 1952), zstd `28 b5 2f fd` (RFC 8878) and a zlib stream, which HTTP's
//! `deflate` is (RFC 9110 §8.4.1.2), has a two-byte header whose CMF byte says method 8 and whose
//! two bytes form a multiple of 31 (RFC 1950). Brotli and the others have no magic number: a body
//! never contradicts them.

use super::content_encoding::is_registered;

/// A content coding a body's first bytes can confirm or contradict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magic {
    Gzip,
    Zstd,
    Zlib,
}

impl Magic {
    /// The coding token s3mend proposes for a body that starts so.
    pub fn token(self) -> &'static str {
        match self {
            Magic::Gzip => "gzip",
            Magic::Zstd => "zstd",
            Magic::Zlib => "deflate",
        }
    }

    /// The magic a declared coding token must show, if it has one.
    pub fn of_token(token: &str) -> Option<Magic> {
        let token = token.trim().to_ascii_lowercase();
        match token.as_str() {
            "gzip" | "x-gzip" => Some(Magic::Gzip),
            "zstd" => Some(Magic::Zstd),
            "deflate" => Some(Magic::Zlib),
            _ => None,
        }
    }

    /// Whether the magic is long and rare enough to name a coding the header does not: a zlib
    /// header is two bytes that text can start with too (`x ` is one), so it only confirms a
    /// declared `deflate`.
    pub fn is_proof(self) -> bool {
        self != Magic::Zlib
    }

    /// The coding the body's first bytes show, if any.
    pub fn of_body(start: &[u8]) -> Option<Magic> {
        match start {
            [0x1f, 0x8b, ..] => Some(Magic::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Magic::Zstd),
            [cmf, flg, ..]
                if cmf & 0x0f == 8
                    && cmf >> 4 <= 7
                    && ((u16::from(*cmf) << 8) | u16::from(*flg)) % 31 == 0 =>
            {
                Some(Magic::Zlib)
            }
            _ => None,
        }
    }
}

/// The Content-Encoding a body's first bytes allow for a declared value: its registered
/// codings, less those whose magic the body contradicts; with none left, the coding the body
/// proves (gzip, zstd), or none. A coding without a magic number (`br`) is never contradicted. `None` means
/// no Content-Encoding.
pub fn reconcile(declared: Option<&str>, start: &[u8]) -> Option<String> {
    let shown = Magic::of_body(start);
    let kept: Vec<&str> = declared
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|token| is_registered(token))
        .filter(|token| Magic::of_token(token).is_none_or(|magic| Some(magic) == shown))
        .collect();
    if kept.is_empty() {
        shown
            .filter(|magic| magic.is_proof())
            .map(|magic| magic.token().to_owned())
    } else {
        Some(kept.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GZIP: &[u8] = &[0x1f, 0x8b, 0x08, 0x00];
    const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd, 0x24];
    const ZLIB: &[u8] = &[0x78, 0x9c, 0x01];
    const PLAIN: &[u8] = b"<!doctype html>";

    #[test]
    fn each_coding_is_known_by_its_magic() {
        assert_eq!(Magic::of_body(GZIP), Some(Magic::Gzip));
        assert_eq!(Magic::of_body(ZSTD), Some(Magic::Zstd));
        for zlib in [
            [0x78, 0x01],
            [0x78, 0x5e],
            [0x78, 0x9c],
            [0x78, 0xda],
            [0x08, 0x1d],
        ] {
            assert_eq!(Magic::of_body(&zlib), Some(Magic::Zlib), "{zlib:x?}");
        }
        for other in [
            PLAIN,
            b"",
            b"\x1f",
            b"\x28\xb5\x2f",
            b"{\"a\":1}",
            b"\x78\x9d",
        ] {
            assert_eq!(Magic::of_body(other), None, "{other:x?}");
        }
    }

    #[test]
    fn the_body_decides_what_a_declared_value_becomes() {
        let cases: [(Option<&str>, &[u8], Option<&str>); 16] = [
            (Some("UTF-8"), GZIP, Some("gzip")),
            (Some("gzip, UTF-8"), GZIP, Some("gzip")),
            (Some("gzip, UTF-8"), PLAIN, None),
            (Some("UTF-8"), PLAIN, None),
            (Some("x-gzip"), GZIP, Some("x-gzip")),
            (Some("gzip"), PLAIN, None),
            (Some("gzip"), ZSTD, Some("zstd")),
            (Some("zstd"), ZSTD, Some("zstd")),
            (Some("deflate"), ZLIB, Some("deflate")),
            (Some("br"), PLAIN, Some("br")),
            (Some("br, UTF-8"), GZIP, Some("br")),
            (None, GZIP, Some("gzip")),
            (None, b"", None),
            (None, ZLIB, None),
            (Some("UTF-8"), b"x Hello", None),
            (Some("identity"), ZSTD, Some("zstd")),
        ];
        for (declared, body, expected) in cases {
            assert_eq!(
                reconcile(declared, body).as_deref(),
                expected,
                "{declared:?} on {body:x?}"
            );
        }
    }
}
