//! Verification: after a copy, HEAD must show the repaired headers and everything else exactly as
//! before. Pure: compares two snapshots, attribute by attribute, as the model's attribute table
//! says a copy treats each one.

use crate::model::{date, Attr, ObjectHead, OnCopy};
use crate::plan::{MultipartChecksum, Plan};

/// What HEAD must return after `plan` is applied to the object `old` describes.
pub fn expected_after(old: &ObjectHead, plan: &Plan) -> ObjectHead {
    let mut new = old.clone();
    for change in &plan.changes {
        change.header.set(&mut new, change.after.clone());
    }
    new
}

/// What HEAD must show after a multipart rewrite meant to leave `expected`: the new `…-N`
/// ETag the upload got, and the checksum type it asked for (a SHA-256 of the whole object becomes
/// one of parts, `docs/s3-behaviour.md` §16).
pub fn after_multipart(
    expected: &ObjectHead,
    etag: Option<&str>,
    checksum: Option<&MultipartChecksum>,
) -> ObjectHead {
    let mut expected = expected.clone();
    expected.etag = etag.map(str::to_owned);
    if let Some(checksum) = checksum {
        expected.checksum_type = Some(checksum.kind.clone());
    }
    expected
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
            OnCopy::Checksum => true,
        })
        .filter(|&attr| differs(attr, expected, actual))
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
        .filter(|&attr| differs(attr, before, now))
        .map(Attr::field)
        .collect();
    if before.metadata != now.metadata {
        fields.push("metadata");
    }
    fields.sort_unstable();
    fields.into_iter().map(str::to_owned).collect()
}

/// Whether `attr` differs between `expected` and `actual`. A checksum attribute is compared only
/// when both HEADs asked for checksums and the expected object has one, and then its presence (the algorithm) always, but its
/// value and the type only where the expected type is FULL_OBJECT: a COMPOSITE value is one of
/// parts, which a rewrite cuts anew (`docs/s3-behaviour.md` §16).
fn differs(attr: Attr, expected: &ObjectHead, actual: &ObjectHead) -> bool {
    if attr.on_copy() != OnCopy::Checksum {
        return comparable(attr, expected) != comparable(attr, actual);
    }
    // Nothing to keep where the object had no checksum (S3 gives a rewrite its default).
    if !(expected.checksum_mode && actual.checksum_mode) || expected.checksum_algorithm().is_none()
    {
        return false;
    }
    let (want, got) = (attr.value(expected), attr.value(actual));
    let full_object = expected
        .checksum_type
        .as_deref()
        .is_none_or(|t| t == "FULL_OBJECT");
    if full_object {
        want != got
    } else {
        attr != Attr::ChecksumType && want.is_some() != got.is_some()
    }
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

    #[test]
    fn checksums_are_compared_only_when_both_heads_asked_for_them() {
        let full = ObjectHead {
            checksum_crc64nvme: Some("AAAAAAAAAAA=".into()),
            checksum_type: Some("FULL_OBJECT".into()),
            checksum_mode: true,
            ..old()
        };
        assert!(differences(&full, &full.clone()).is_empty());
        let lost = ObjectHead {
            checksum_crc64nvme: None,
            checksum_crc32: Some("AAAAAA==".into()),
            ..full.clone()
        };
        assert_eq!(
            differences(&full, &lost),
            ["checksum_crc32", "checksum_crc64nvme"]
        );
        // A FULL_OBJECT value is the bytes': a metadata-only copy keeps it.
        let other_value = ObjectHead {
            checksum_crc64nvme: Some("BBBBBBBBBBB=".into()),
            ..full.clone()
        };
        assert_eq!(differences(&full, &other_value), ["checksum_crc64nvme"]);
        // Without checksum mode on either side nothing is known.
        let unread = ObjectHead {
            checksum_mode: false,
            ..lost.clone()
        };
        assert!(differences(&full, &unread).is_empty());
        assert!(changed(&unread, &full).is_empty());
        // A COMPOSITE value is one of parts: only the algorithm must stay.
        let composite = ObjectHead {
            checksum_sha256: Some("x-2".into()),
            checksum_type: Some("COMPOSITE".into()),
            checksum_mode: true,
            ..old()
        };
        let rewritten = ObjectHead {
            checksum_sha256: Some("y-3".into()),
            ..composite.clone()
        };
        assert!(differences(&composite, &rewritten).is_empty());
        let sha_lost = ObjectHead {
            checksum_sha256: None,
            checksum_crc64nvme: Some("AAAAAAAAAAA=".into()),
            checksum_type: Some("FULL_OBJECT".into()),
            ..composite.clone()
        };
        assert_eq!(
            differences(&composite, &sha_lost),
            ["checksum_crc64nvme", "checksum_sha256"]
        );
    }

    #[test]
    fn a_multipart_rewrite_expects_its_etag_and_the_checksum_type_it_asked_for() {
        let sha = ObjectHead {
            checksum_sha256: Some("v".into()),
            checksum_type: Some("FULL_OBJECT".into()),
            checksum_mode: true,
            ..old()
        };
        let checksum = crate::plan::multipart_checksum(&sha);
        let expected = after_multipart(&sha, Some("\"n-2\""), checksum.as_ref());
        assert_eq!(expected.etag.as_deref(), Some("\"n-2\""));
        assert_eq!(expected.checksum_type.as_deref(), Some("COMPOSITE"));
        let actual = ObjectHead {
            checksum_sha256: Some("w-2".into()),
            ..expected.clone()
        };
        assert!(differences(&expected, &actual).is_empty());
    }
}
