//! Annotations: named payloads (up to 1,000 of ≤ 1 MiB) on an object version
//! (`docs/s3-behaviour.md` §16). HEAD does not show them; ListObjectAnnotations does.

use serde::{Deserialize, Serialize};

/// One annotation as ListObjectAnnotations lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    pub name: String,
    /// The annotation's own ETag (of its payload), as S3 lists it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The payload's length in bytes.
    pub size: i64,
}

/// The annotations of `before` that `after` lacks or holds with another ETag or size: what a
/// rewrite lost, by name. Empty when `after` has all of them as they were.
pub fn missing<'a>(before: &'a [Annotation], after: &[Annotation]) -> Vec<&'a str> {
    before
        .iter()
        .filter(|a| !after.contains(a))
        .map(|a| a.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: &str, etag: &str, size: i64) -> Annotation {
        Annotation {
            name: name.into(),
            etag: Some(etag.into()),
            size,
        }
    }

    #[test]
    fn an_annotation_is_missing_if_absent_or_different() {
        let before = [a("x", "1", 3), a("y", "2", 4), a("z", "3", 5)];
        let after = [a("x", "1", 3), a("y", "9", 4), a("extra", "4", 1)];
        assert_eq!(missing(&before, &after), ["y", "z"]);
        assert!(missing(&before, &before).is_empty());
        assert!(missing(&[], &after).is_empty());
    }
}
