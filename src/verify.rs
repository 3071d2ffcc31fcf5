//! Verification: after a copy, HEAD must show the repaired headers and everything else exactly as
//! before. Pure: compares two snapshots, attribute by attribute, as the model's attribute table
//! says a copy treats each one.

use crate::model::{date, Attr, ObjectHead, OnCopy};
use crate::plan::Plan;

/// What HEAD must return after `plan` is applied to the object `old` describes.
pub fn expected_after(old: &ObjectHead, plan: &Plan) -> ObjectHead {
    let mut new = old.clone();
    for change in &plan.changes {
        change.header.set(&mut new, change.after.clone());
    }
    new
}

/// The fields in which `actual` differs from `expected`, in alphabetical order, ignoring what a
/// copy legitimately changes: version id, part count, the server's own state (archive, restore,
/// missing metadata), and the ETag where it is not an MD5 of the bytes (SSE-KMS) or the source
/// was multipart. A multipart rewrite sets the expected ETag to the new one before comparing.
pub fn differences(expected: &ObjectHead, actual: &ObjectHead) -> Vec<String> {
    // AWS reports a part count only to a HEAD that names a part, so a multipart source is told
    // by its ETag's shape, `"…-N"`, as well.
    let etag_is_md5 = expected.parts_count.is_none()
        && !expected.etag.as_deref().is_some_and(is_multipart_etag)
        && !expected
            .server_side_encryption
            .as_deref()
            .is_some_and(|sse| sse.starts_with("aws:kms"));
    let mut fields: Vec<&str> = Attr::ALL
        .into_iter()
        .filter(|&attr| match attr.on_copy() {
            OnCopy::Changes | OnCopy::ServerState => false,
            OnCopy::Kept if attr == Attr::ETag => etag_is_md5,
            OnCopy::Kept | OnCopy::Resend => true,
        })
        .filter(|&attr| comparable(attr, expected) != comparable(attr, actual))
        .map(Attr::field)
        .collect();
    if expected.metadata != actual.metadata {
        fields.push("metadata");
    }
    if expected.key != actual.key {
        fields.push("key");
    }
    fields.sort_unstable();
    fields.into_iter().map(str::to_owned).collect()
}

/// The fields in which the object changed between two HEAD snapshots, `before` and `now`:
/// everything a writer can change (headers, metadata, ETag, version, Last-Modified, tag count),
/// not the server's own state (an archive tier, a restore in progress).
pub fn changed(before: &ObjectHead, now: &ObjectHead) -> Vec<String> {
    let mut fields: Vec<&str> = Attr::ALL
        .into_iter()
        .filter(|&attr| attr.on_copy() != OnCopy::ServerState)
        .filter(|&attr| comparable(attr, before) != comparable(attr, now))
        .map(Attr::field)
        .collect();
    if before.metadata != now.metadata {
        fields.push("metadata");
    }
    fields.sort_unstable();
    fields.into_iter().map(str::to_owned).collect()
}

/// An ETag of an object uploaded in parts: `"<hex>-<parts>"`.
fn is_multipart_etag(etag: &str) -> bool {
    etag.trim_matches('"')
        .rsplit_once('-')
        .is_some_and(|(_, parts)| !parts.is_empty() && parts.bytes().all(|b| b.is_ascii_digit()))
}

/// An attribute's value as it is compared: STANDARD is the absent storage class, and an Expires
/// date is the same instant whatever format it is written in.
fn comparable(attr: Attr, head: &ObjectHead) -> Option<String> {
    let value = attr.value(head);
    match attr {
        Attr::StorageClass => value.filter(|class| class != "STANDARD"),
        Attr::Expires => value.map(|text| {
            date::parse_http_date(&text).map_or(text, |at| at.unix_timestamp().to_string())
        }),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    #[test]
    fn a_snapshot_changes_with_anything_a_writer_can_change() {
        let before = ObjectHead {
            last_modified: Some("2026-12-02T17:00:00Z".into()),
            tag_count: Some(1),
            ..old()
        };
        assert_eq!(changed(&before, &before.clone()), Vec::<String>::new());
        let restoring = ObjectHead {
            restore: Some("ongoing-request=\"true\"".into()),
            ..before.clone()
        };
        assert_eq!(changed(&before, &restoring), Vec::<String>::new());
        let cases: Vec<(ObjectHead, &str)> = vec![
            (
                ObjectHead {
                    last_modified: Some("2026-12-02T17:00:01Z".into()),
                    ..before.clone()
                },
                "last_modified",
            ),
            (
                ObjectHead {
                    tag_count: Some(2),
                    ..before.clone()
                },
                "tag_count",
            ),
            (
                ObjectHead {
                    cache_control: Some("no-cache".into()),
                    ..before.clone()
                },
                "cache_control",
            ),
            (
                ObjectHead {
                    metadata: Default::default(),
                    ..before.clone()
                },
                "metadata",
            ),
            (
                ObjectHead {
                    version_id: Some("v2".into()),
                    ..before.clone()
                },
                "version_id",
            ),
        ];
        for (now, field) in cases {
            assert_eq!(changed(&before, &now), [field], "{field}");
        }
    }

    fn old() -> ObjectHead {
        ObjectHead {
            etag: Some("\"md5\"".into()),
            version_id: Some("v1".into()),
            content_length: Some(10),
            content_type: Some("text/html".into()),
            content_encoding: Some("gzip, UTF-8".into()),
            expires: Some("Wed, 21 Oct 2037 07:28:00 GMT".into()),
            metadata: [("a".to_owned(), "b".to_owned())].into(),
            ..ObjectHead::new("k.html")
        }
    }

    fn plan_for(head: &ObjectHead) -> Plan {
        crate::plan::plan("b", head, &RuleSet::all().check(head, None)).unwrap()
    }

    #[test]
    fn a_faithful_copy_has_no_differences() {
        let old = old();
        let expected = expected_after(&old, &plan_for(&old));
        assert_eq!(expected.content_encoding.as_deref(), Some("gzip"));
        let actual = ObjectHead {
            version_id: Some("v2".into()),
            storage_class: Some("STANDARD".into()),
            expires: Some("Wed, 21 Oct 2037 07:28:00 GMT".into()),
            ..expected.clone()
        };
        assert_eq!(differences(&expected, &actual), Vec::<String>::new());
    }

    #[test]
    fn every_lost_or_changed_field_is_named() {
        let old = old();
        let expected = expected_after(&old, &plan_for(&old));
        let cases: Vec<(ObjectHead, &str)> = vec![
            (
                ObjectHead {
                    metadata: Default::default(),
                    ..expected.clone()
                },
                "metadata",
            ),
            (
                ObjectHead {
                    content_encoding: Some("gzip, UTF-8".into()),
                    ..expected.clone()
                },
                "content_encoding",
            ),
            (
                ObjectHead {
                    storage_class: Some("STANDARD_IA".into()),
                    ..expected.clone()
                },
                "storage_class",
            ),
            (
                ObjectHead {
                    expires: None,
                    ..expected.clone()
                },
                "expires",
            ),
            (
                ObjectHead {
                    etag: Some("\"other\"".into()),
                    ..expected.clone()
                },
                "etag",
            ),
            (
                ObjectHead {
                    content_length: Some(11),
                    ..expected.clone()
                },
                "content_length",
            ),
        ];
        for (actual, field) in cases {
            assert_eq!(
                differences(&expected, &actual),
                vec![field.to_owned()],
                "{field}"
            );
        }
    }

    #[test]
    fn multipart_and_kms_etags_may_change() {
        let multipart = ObjectHead {
            parts_count: Some(3),
            ..old()
        };
        let expected = expected_after(&multipart, &plan_for(&multipart));
        let actual = ObjectHead {
            etag: Some("\"x-1\"".into()),
            parts_count: None,
            ..expected.clone()
        };
        assert!(differences(&expected, &actual).is_empty());
        // As AWS answers a HEAD without a part number: no count, only the ETag's shape.
        let uploaded_in_parts = ObjectHead {
            etag: Some("\"9b2cf535f27731c974343645a3985328-3\"".into()),
            ..old()
        };
        let expected = expected_after(&uploaded_in_parts, &plan_for(&uploaded_in_parts));
        let actual = ObjectHead {
            etag: Some("\"0123456789abcdef0123456789abcdef\"".into()),
            ..expected.clone()
        };
        assert!(differences(&expected, &actual).is_empty());
        let plain = ObjectHead {
            etag: Some("\"my-etag\"".into()),
            ..old()
        };
        let expected = expected_after(&plain, &plan_for(&plain));
        let actual = ObjectHead {
            etag: Some("\"other\"".into()),
            ..expected.clone()
        };
        assert_eq!(differences(&expected, &actual), ["etag"]);
        let kms = ObjectHead {
            server_side_encryption: Some("aws:kms".into()),
            ..old()
        };
        let expected = expected_after(&kms, &plan_for(&kms));
        let actual = ObjectHead {
            etag: Some("\"random\"".into()),
            ..expected.clone()
        };
        assert!(differences(&expected, &actual).is_empty());
    }
}
