//! ListObjects (v1 and v2) and ListObjectVersions pages over a bucket's sorted keys.
//!
//! Keys are `String`s in a `BTreeMap`, so iteration order is UTF-8 byte order, as in S3. A page
//! walks a range starting at the marker and stops after `max + 1` entries (the extra one only
//! says whether the page is truncated). A common prefix jumps the range past all its keys, so a
//! delimiter listing of a huge "directory" stays cheap.

use std::ops::Bound;

use time::OffsetDateTime;

use super::model::StoredObject;
use super::store::Bucket;

/// The largest char: `prefix + MAX_CHAR` sorts after every key that starts with `prefix`
/// (except keys continuing with U+10FFFF itself, which S3 keys practically never contain).
pub(crate) const MAX_CHAR: char = char::MAX;

/// What a listing shows of an object.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedObject {
    pub key: String,
    pub etag: String,
    pub size: i64,
    pub last_modified: OffsetDateTime,
    pub storage_class: String,
    pub version_id: Option<String>,
    pub is_latest: bool,
    pub delete_marker: bool,
}

impl ListedObject {
    fn new(key: &str, obj: &StoredObject, is_latest: bool) -> Self {
        Self {
            key: key.to_owned(),
            etag: obj.etag.clone(),
            size: i64::try_from(obj.body.len()).unwrap_or(i64::MAX),
            last_modified: obj.last_modified,
            storage_class: obj.storage_class_or_standard().to_owned(),
            version_id: obj.version_id.clone(),
            is_latest,
            delete_marker: obj.delete_marker,
        }
    }
}

enum Entry {
    Object(ListedObject),
    Prefix(String),
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    pub objects: Vec<ListedObject>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// Where the next page starts (exclusive): the last key, or past the last common prefix.
    pub next_marker: Option<String>,
    /// For version listings: the version id of the last entry.
    pub next_version_marker: Option<String>,
}

/// The common prefix `key` rolls up into, if any.
fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    rest.find(d).map(|pos| &key[..prefix.len() + pos + d.len()])
}

fn finish(mut entries: Vec<(Entry, Option<String>)>, max: usize) -> Page {
    let mut page = Page::default();
    if entries.len() > max {
        page.truncated = true;
        entries.truncate(max);
        if let Some((last, vid)) = entries.last() {
            page.next_marker = Some(match last {
                Entry::Object(o) => o.key.clone(),
                Entry::Prefix(p) => format!("{p}{MAX_CHAR}"),
            });
            page.next_version_marker = vid.clone();
        }
    }
    for (entry, _) in entries {
        match entry {
            Entry::Object(o) => page.objects.push(o),
            Entry::Prefix(p) => page.prefixes.push(p),
        }
    }
    page
}

fn start_bound(prefix: &str, after: Option<&str>) -> Bound<String> {
    match after {
        Some(a) if a >= prefix => Bound::Excluded(a.to_owned()),
        _ => Bound::Included(prefix.to_owned()),
    }
}

/// A ListObjectsV2 page: current versions only, delete markers hidden.
pub fn list_objects(
    bucket: &Bucket,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Page {
    let mut entries = Vec::new();
    if max == 0 {
        return Page::default();
    }
    let mut cursor = start_bound(prefix, after);
    'pages: loop {
        for (key, versions) in bucket.objects.range((cursor.clone(), Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break 'pages;
            }
            let Some(obj) = versions.last().filter(|o| !o.delete_marker) else {
                continue;
            };
            if let Some(cp) = common_prefix(key, prefix, delimiter) {
                entries.push((Entry::Prefix(cp.to_owned()), None));
                if entries.len() > max {
                    break 'pages;
                }
                cursor = Bound::Excluded(format!("{cp}{MAX_CHAR}"));
                continue 'pages;
            }
            entries.push((Entry::Object(ListedObject::new(key, obj, true)), None));
            if entries.len() > max {
                break 'pages;
            }
        }
        break;
    }
    finish(entries, max)
}

/// Where a ListObjects (v1) `marker` resumes: a marker that is itself a common prefix (as
/// NextMarker is when the page ended on one) skips every key under it, as S3 does.
pub fn past_common_prefix(marker: &str, prefix: &str, delimiter: Option<&str>) -> String {
    if common_prefix(marker, prefix, delimiter) == Some(marker) {
        format!("{marker}{MAX_CHAR}")
    } else {
        marker.to_owned()
    }
}

/// A ListObjectVersions page: every version and delete marker, newest first within a key.
pub fn list_versions(
    bucket: &Bucket,
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: Option<&str>,
    version_marker: Option<&str>,
    max: usize,
) -> Page {
    let mut entries = Vec::new();
    if max == 0 {
        return Page::default();
    }
    let mut cursor = match (key_marker, version_marker) {
        (Some(k), Some(_)) if k >= prefix => Bound::Included(k.to_owned()),
        _ => start_bound(prefix, key_marker),
    };
    'pages: loop {
        for (key, versions) in bucket.objects.range((cursor.clone(), Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break 'pages;
            }
            if let Some(cp) = common_prefix(key, prefix, delimiter) {
                entries.push((Entry::Prefix(cp.to_owned()), None));
                if entries.len() > max {
                    break 'pages;
                }
                cursor = Bound::Excluded(format!("{cp}{MAX_CHAR}"));
                continue 'pages;
            }
            // Within the marker key, resume after the marker version.
            let mut skipping = version_marker.is_some() && Some(key.as_str()) == key_marker;
            for (i, obj) in versions.iter().rev().enumerate() {
                let vid = obj.version_id.clone().unwrap_or_else(|| "null".to_owned());
                if skipping {
                    skipping = Some(vid.as_str()) != version_marker;
                    continue;
                }
                entries.push((
                    Entry::Object(ListedObject::new(key, obj, i == 0)),
                    Some(vid),
                ));
                if entries.len() > max {
                    break 'pages;
                }
            }
        }
        break;
    }
    finish(entries, max)
}

/// Percent-encodes a key for `encoding-type=url` like S3: unreserved characters and `/` stay,
/// a space becomes `+`, everything else is `%XX` of its UTF-8 bytes.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(keys: &[&str]) -> Bucket {
        let mut b = Bucket::new();
        for k in keys {
            b.insert(k, StoredObject::default());
        }
        b
    }

    #[test]
    fn pages_resume_after_the_marker() {
        let b = bucket(&["a", "b", "c"]);
        let p = list_objects(&b, "", None, None, 2);
        assert!(p.truncated);
        assert_eq!(p.objects.len(), 2);
        let p2 = list_objects(&b, "", None, p.next_marker.as_deref(), 2);
        assert!(!p2.truncated);
        assert_eq!(p2.objects[0].key, "c");
    }

    #[test]
    fn delimiter_rolls_up_common_prefixes() {
        let b = bucket(&["a/1", "a/2", "b", "c/x/y", "d"]);
        let p = list_objects(&b, "", Some("/"), None, 1000);
        assert_eq!(p.prefixes, vec!["a/", "c/"]);
        let keys: Vec<_> = p.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, vec!["b", "d"]);
        let p = list_objects(&b, "", Some("/"), None, 1);
        assert_eq!(p.prefixes, vec!["a/"]);
        let p = list_objects(&b, "", Some("/"), p.next_marker.as_deref(), 1);
        assert_eq!(p.objects[0].key, "b");
    }

    #[test]
    fn a_v1_marker_on_a_common_prefix_skips_its_keys() {
        let b = bucket(&["a/1", "a/2", "b"]);
        let after = past_common_prefix("a/", "", Some("/"));
        let p = list_objects(&b, "", Some("/"), Some(&after), 1000);
        assert!(p.prefixes.is_empty());
        assert_eq!(p.objects[0].key, "b");
        assert_eq!(past_common_prefix("a/1", "", Some("/")), "a/1");
        assert_eq!(past_common_prefix("a/", "", None), "a/");
    }

    #[test]
    fn prefix_limits_the_range() {
        let b = bucket(&["x/1", "x/2", "y/1"]);
        let p = list_objects(&b, "x/", None, None, 1000);
        assert_eq!(p.objects.len(), 2);
    }

    #[test]
    fn url_encoding_matches_s3() {
        assert_eq!(url_encode("a b+c%/é?#"), "a+b%2Bc%25/%C3%A9%3F%23");
    }
}
