//! Verification: after a copy, HEAD must show the repaired headers and everything else exactly as
//! before. Pure: compares two snapshots.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use crate::plan::Plan;
use crate::s3::ObjectHead;

/// What HEAD must return after `plan` is applied to the object `old` describes.
pub fn expected_after(old: &ObjectHead, plan: &Plan) -> ObjectHead {
    let mut new = old.clone();
    for change in &plan.changes {
        change.rule.value_mut(&mut new).clone_from(&change.after);
    }
    new
}

/// The fields in which `actual` differs from `expected`, ignoring what a copy legitimately
/// changes: version id, Last-Modified, the multipart shape of the ETag, and the ETag itself where
/// it is not an MD5 of the bytes (SSE-KMS) or the source was multipart. A multipart rewrite sets
/// the expected ETag to the new one before comparing.
pub fn differences(expected: &ObjectHead, actual: &ObjectHead) -> Vec<String> {
    let etag_is_md5 = expected.parts_count.is_none()
        && !expected
            .server_side_encryption
            .as_deref()
            .is_some_and(|sse| sse.starts_with("aws:kms"));
    let view = |head: &ObjectHead| {
        let mut head = head.clone();
        head.version_id = None;
        head.parts_count = None;
        head.missing_meta = None;
        head.restore = None;
        head.archive_status = None;
        if !etag_is_md5 {
            head.etag = None;
        }
        if head.storage_class.as_deref() == Some("STANDARD") {
            head.storage_class = None;
        }
        // The same instant may be written in another format.
        head.expires = head.expires.map(|text| {
            DateTime::from_str(text.trim(), Format::HttpDate)
                .map(|d| d.secs().to_string())
                .unwrap_or(text)
        });
        serde_json::to_value(head).unwrap_or_default()
    };
    let (expected, actual) = (view(expected), view(actual));
    let (Some(expected), Some(actual)) = (expected.as_object(), actual.as_object()) else {
        return vec!["(unserializable)".to_owned()];
    };
    expected
        .iter()
        .filter(|(field, value)| actual.get(*field) != Some(value))
        .map(|(field, _)| field.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

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
        crate::plan::plan("b", head, &RuleSet::all().check(head)).unwrap()
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
