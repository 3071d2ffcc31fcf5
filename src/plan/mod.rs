//! The planner: from a HEAD snapshot and its findings, the complete header set an in-place
//! `CopyObject` (MetadataDirective=REPLACE) must send so that only the repaired headers change.
//!
//! A REPLACE copy keeps only what the request carries (`docs/s3-behaviour.md` §1), so every attribute HEAD
//! reported is carried over here, and an object whose attributes cannot all be carried is skipped
//! with a reason instead of being repaired lossily. Pure: no I/O, tested field by field.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::model::{date, ObjectHead};
use crate::rules::{Finding, RuleId};

mod copy_source;
mod grants;

pub use copy_source::copy_source;
pub use grants::{grant_headers, GrantHeaders};

/// Why an object with findings is not repaired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Encrypted with a customer key s3mend does not have.
    SseC,
    /// In an archive tier and not restored: CopyObject fails with InvalidObjectState.
    Archived,
    /// HEAD could not return some user metadata; REPLACE would destroy it.
    MissingMeta,
    /// The Expires header is not an HTTP date, so it could not be re-sent.
    UnparseableExpires,
    /// The Object Lock retain-until date could not be read back, so it could not be re-sent.
    UnparseableRetainUntil,
    /// Owned by another account: a copy would change its owner.
    ForeignOwner,
    /// The run was stopped (Ctrl-C, SIGTERM, or a journal that could not be written) before
    /// this object's copy started.
    Interrupted,
    /// Asked on the terminal, the user did not confirm the repair.
    Declined,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::SseC => "sse-c",
            SkipReason::Archived => "archived",
            SkipReason::MissingMeta => "missing-meta",
            SkipReason::UnparseableExpires => "unparseable-expires",
            SkipReason::UnparseableRetainUntil => "unparseable-retain-until",
            SkipReason::ForeignOwner => "foreign-owner",
            SkipReason::Interrupted => "interrupted",
            SkipReason::Declined => "declined",
        }
    }
}

/// Server-side encryption to re-send, so a copy does not fall back to the bucket default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Encryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
}

/// Every user-controllable attribute of an object, as a REPLACE copy must send it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeaderSet {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    #[serde(serialize_with = "http_date")]
    pub expires: Option<OffsetDateTime>,
    pub metadata: BTreeMap<String, String>,
    pub website_redirect_location: Option<String>,
    /// Always sent: an absent header means STANDARD.
    pub storage_class: String,
    pub encryption: Option<Encryption>,
    pub object_lock_mode: Option<String>,
    #[serde(serialize_with = "http_date")]
    pub object_lock_retain_until_date: Option<OffsetDateTime>,
    pub object_lock_legal_hold_status: Option<String>,
}

impl HeaderSet {
    /// The header a rule repairs.
    fn value_mut(&mut self, rule: RuleId) -> &mut Option<String> {
        match rule {
            RuleId::ContentEncoding => &mut self.content_encoding,
            RuleId::ContentType => &mut self.content_type,
        }
    }
}

fn http_date<S: serde::Serializer>(
    value: &Option<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value.and_then(date::http_date) {
        Some(text) => s.serialize_some(&text),
        None => s.serialize_none(),
    }
}

/// One header's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub rule: RuleId,
    pub header: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The exact request that repairs one object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub key: String,
    /// `bucket/key`, percent-encoded, pinned with `?versionId=` when HEAD gave one.
    pub copy_source: String,
    /// The ETag seen at HEAD: the copy is conditional on it.
    pub if_match: String,
    pub headers: HeaderSet,
    pub changes: Vec<Change>,
    /// The object's ACL grants to send with the copy (which would otherwise be private); `None`
    /// when the object is private or the bucket does not use ACLs.
    pub grants: Option<GrantHeaders>,
}

/// Storage classes whose objects must be restored before they can be copied.
const ARCHIVE_CLASSES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

fn is_archived(head: &ObjectHead) -> bool {
    let archived = head
        .storage_class
        .as_deref()
        .is_some_and(|c| ARCHIVE_CLASSES.contains(&c))
        || head.archive_status.is_some();
    let restored = head
        .restore
        .as_deref()
        .is_some_and(|r| r.contains("ongoing-request=\"false\""));
    archived && !restored
}

/// Plans the repair of `head`'s findings, or says why it must be skipped.
pub fn plan(bucket: &str, head: &ObjectHead, findings: &[Finding]) -> Result<Plan, SkipReason> {
    let mut headers = carry_over(head)?;
    let mut changes = Vec::new();
    for finding in findings {
        let slot = headers.value_mut(finding.rule);
        changes.push(Change {
            rule: finding.rule,
            header: finding.header,
            before: slot.clone(),
            after: finding.proposed.clone(),
        });
        slot.clone_from(&finding.proposed);
    }
    Ok(Plan {
        key: head.key.clone(),
        copy_source: copy_source(bucket, &head.key, head.version_id.as_deref()),
        if_match: head.etag.clone().unwrap_or_default(),
        headers,
        changes,
        grants: None,
    })
}

/// The plan that puts `old`'s headers back on the object `current` describes (undo): the copy
/// is conditional on the current ETag and re-sends everything `old` had.
pub fn restore(bucket: &str, current: &ObjectHead, old: &ObjectHead) -> Result<Plan, SkipReason> {
    let headers = carry_over(old)?;
    let changes = RuleId::ALL
        .into_iter()
        .filter(|rule| rule.value(current) != rule.value(old))
        .map(|rule| Change {
            rule,
            header: rule.header(),
            before: rule.value(current).clone(),
            after: rule.value(old).clone(),
        })
        .collect();
    Ok(Plan {
        key: current.key.clone(),
        copy_source: copy_source(bucket, &current.key, current.version_id.as_deref()),
        if_match: current.etag.clone().unwrap_or_default(),
        headers,
        changes,
        grants: None,
    })
}

/// Everything of `head` a REPLACE copy must re-send to keep the object as it is, or why that is
/// impossible.
pub fn carry_over(head: &ObjectHead) -> Result<HeaderSet, SkipReason> {
    if head.sse_customer_algorithm.is_some() {
        return Err(SkipReason::SseC);
    }
    if is_archived(head) {
        return Err(SkipReason::Archived);
    }
    if head.missing_meta.unwrap_or(0) > 0 {
        return Err(SkipReason::MissingMeta);
    }
    let expires = match head.expires.as_deref() {
        None => None,
        Some(text) => Some(date::parse_http_date(text).ok_or(SkipReason::UnparseableExpires)?),
    };
    let retain_until = match head.object_lock_retain_until_date.as_deref() {
        None => None,
        Some(text) => Some(date::parse_rfc3339(text).ok_or(SkipReason::UnparseableRetainUntil)?),
    };

    Ok(HeaderSet {
        content_type: head.content_type.clone(),
        content_encoding: head.content_encoding.clone(),
        cache_control: head.cache_control.clone(),
        content_disposition: head.content_disposition.clone(),
        content_language: head.content_language.clone(),
        expires,
        metadata: head.metadata.clone(),
        website_redirect_location: head.website_redirect_location.clone(),
        storage_class: head
            .storage_class
            .clone()
            .unwrap_or_else(|| "STANDARD".to_owned()),
        encryption: head
            .server_side_encryption
            .as_ref()
            .map(|algorithm| Encryption {
                algorithm: algorithm.clone(),
                kms_key_id: head.ssekms_key_id.clone(),
                bucket_key_enabled: head.bucket_key_enabled,
            }),
        object_lock_mode: head.object_lock_mode.clone(),
        object_lock_retain_until_date: retain_until,
        object_lock_legal_hold_status: head.object_lock_legal_hold_status.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    /// An object carrying every attribute a repair must keep.
    fn full_head() -> ObjectHead {
        ObjectHead {
            key: "dir/page one+€.html".into(),
            version_id: Some("v1/x".into()),
            etag: Some("\"0123abcd\"".into()),
            content_length: Some(42),
            content_type: Some("binary/octet-stream".into()),
            content_encoding: Some("gzip, UTF-8".into()),
            cache_control: Some("max-age=60".into()),
            content_disposition: Some("inline; filename=\"a.html\"".into()),
            content_language: Some("de-CH".into()),
            expires: Some("Wed, 21 Oct 2037 07:28:00 GMT".into()),
            metadata: BTreeMap::from([
                ("s3cmd-attrs".into(), "uid:1000/gid:1000".into()),
                ("note".into(), "=?UTF-8?B?w6lsw6h2ZQ==?=".into()),
            ]),
            missing_meta: None,
            storage_class: Some("STANDARD_IA".into()),
            archive_status: None,
            restore: None,
            website_redirect_location: Some("/new.html".into()),
            server_side_encryption: Some("aws:kms".into()),
            ssekms_key_id: Some("arn:aws:kms:eu-west-1:111122223333:key/abc".into()),
            bucket_key_enabled: Some(true),
            sse_customer_algorithm: None,
            object_lock_mode: Some("GOVERNANCE".into()),
            object_lock_retain_until_date: Some("2030-01-02T03:04:05Z".into()),
            object_lock_legal_hold_status: Some("ON".into()),
            tag_count: Some(2),
            parts_count: None,
        }
    }

    fn plan_of(head: &ObjectHead) -> Result<Plan, SkipReason> {
        plan("bucket", head, &RuleSet::all().check(head))
    }

    #[test]
    fn every_attribute_round_trips_and_only_findings_change() {
        let head = full_head();
        let plan = plan_of(&head).unwrap();
        let h = &plan.headers;
        assert_eq!(h.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(h.content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert_eq!(h.cache_control, head.cache_control);
        assert_eq!(h.content_disposition, head.content_disposition);
        assert_eq!(h.content_language, head.content_language);
        assert_eq!(
            date::http_date(h.expires.unwrap()).unwrap(),
            "Wed, 21 Oct 2037 07:28:00 GMT"
        );
        assert_eq!(h.metadata, head.metadata);
        assert_eq!(h.website_redirect_location, head.website_redirect_location);
        assert_eq!(h.storage_class, "STANDARD_IA");
        assert_eq!(
            h.encryption,
            Some(Encryption {
                algorithm: "aws:kms".into(),
                kms_key_id: head.ssekms_key_id.clone(),
                bucket_key_enabled: Some(true),
            })
        );
        assert_eq!(h.object_lock_mode.as_deref(), Some("GOVERNANCE"));
        assert_eq!(
            date::rfc3339(h.object_lock_retain_until_date.unwrap()),
            "2030-01-02T03:04:05Z"
        );
        assert_eq!(h.object_lock_legal_hold_status.as_deref(), Some("ON"));
        assert_eq!(plan.if_match, "\"0123abcd\"");
        assert_eq!(
            plan.copy_source,
            "bucket/dir/page%20one%2B%E2%82%AC.html?versionId=v1%2Fx"
        );
        assert_eq!(
            plan.changes,
            vec![
                Change {
                    rule: RuleId::ContentEncoding,
                    header: "Content-Encoding",
                    before: Some("gzip, UTF-8".into()),
                    after: Some("gzip".into()),
                },
                Change {
                    rule: RuleId::ContentType,
                    header: "Content-Type",
                    before: Some("binary/octet-stream".into()),
                    after: Some("text/html; charset=utf-8".into()),
                },
            ]
        );
    }

    /// The attribute table says which attributes a REPLACE copy must re-send: each of them, and
    /// no other, reaches the request.
    #[test]
    fn exactly_the_attributes_a_copy_drops_are_resent() {
        use crate::model::{Attr, OnCopy};
        let head = full_head();
        let sent = carry_over(&head).unwrap();
        for attr in Attr::ALL {
            let mut without = head.clone();
            attr.clear(&mut without);
            let changed = carry_over(&without).unwrap() != sent;
            assert_eq!(changed, attr.on_copy() == OnCopy::Resend, "{attr:?}");
        }
        let mut without = head.clone();
        without.metadata.clear();
        assert_ne!(carry_over(&without).unwrap(), sent, "user metadata");
    }

    #[test]
    fn a_bare_object_gets_standard_and_nothing_invented() {
        let head = ObjectHead {
            etag: Some("\"e\"".into()),
            content_type: Some("text/html".into()),
            content_encoding: Some("UTF-8".into()),
            ..ObjectHead::new("a.html")
        };
        let plan = plan_of(&head).unwrap();
        assert_eq!(
            plan.headers,
            HeaderSet {
                content_type: Some("text/html".into()),
                content_encoding: None,
                cache_control: None,
                content_disposition: None,
                content_language: None,
                expires: None,
                metadata: BTreeMap::new(),
                website_redirect_location: None,
                storage_class: "STANDARD".into(),
                encryption: None,
                object_lock_mode: None,
                object_lock_retain_until_date: None,
                object_lock_legal_hold_status: None,
            }
        );
        assert_eq!(plan.copy_source, "bucket/a.html");
    }

    #[test]
    fn objects_that_cannot_be_copied_losslessly_are_skipped() {
        let base = ObjectHead {
            content_encoding: Some("UTF-8".into()),
            ..ObjectHead::new("a.html")
        };
        let cases = [
            (
                ObjectHead {
                    sse_customer_algorithm: Some("AES256".into()),
                    ..base.clone()
                },
                SkipReason::SseC,
            ),
            (
                ObjectHead {
                    storage_class: Some("GLACIER".into()),
                    ..base.clone()
                },
                SkipReason::Archived,
            ),
            (
                ObjectHead {
                    storage_class: Some("DEEP_ARCHIVE".into()),
                    restore: Some("ongoing-request=\"true\"".into()),
                    ..base.clone()
                },
                SkipReason::Archived,
            ),
            (
                ObjectHead {
                    storage_class: Some("INTELLIGENT_TIERING".into()),
                    archive_status: Some("ARCHIVE_ACCESS".into()),
                    ..base.clone()
                },
                SkipReason::Archived,
            ),
            (
                ObjectHead {
                    missing_meta: Some(1),
                    ..base.clone()
                },
                SkipReason::MissingMeta,
            ),
            (
                ObjectHead {
                    expires: Some("next tuesday".into()),
                    ..base.clone()
                },
                SkipReason::UnparseableExpires,
            ),
            (
                ObjectHead {
                    object_lock_retain_until_date: Some("the end of time".into()),
                    ..base.clone()
                },
                SkipReason::UnparseableRetainUntil,
            ),
        ];
        for (head, reason) in cases {
            assert_eq!(plan_of(&head), Err(reason), "{head:?}");
        }
    }

    #[test]
    fn restored_and_instant_archive_objects_are_repairable() {
        let restored = ObjectHead {
            content_encoding: Some("UTF-8".into()),
            storage_class: Some("GLACIER".into()),
            restore: Some(
                "ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"".into(),
            ),
            ..ObjectHead::new("a.html")
        };
        assert_eq!(plan_of(&restored).unwrap().headers.storage_class, "GLACIER");
        let instant = ObjectHead {
            storage_class: Some("GLACIER_IR".into()),
            ..restored.clone()
        };
        assert!(plan_of(&ObjectHead {
            restore: None,
            ..instant
        })
        .is_ok());
    }

    #[test]
    fn restore_puts_every_old_header_back() {
        let old = full_head();
        let current = ObjectHead {
            version_id: Some("v2".into()),
            etag: Some("\"0123abcd\"".into()),
            content_encoding: Some("gzip".into()),
            content_type: Some("text/html; charset=utf-8".into()),
            ..old.clone()
        };
        let restore = restore("bucket", &current, &old).unwrap();
        assert_eq!(restore.headers, carry_over(&old).unwrap());
        assert_eq!(
            restore.headers.content_encoding.as_deref(),
            Some("gzip, UTF-8")
        );
        assert_eq!(
            restore.copy_source,
            "bucket/dir/page%20one%2B%E2%82%AC.html?versionId=v2"
        );
        assert_eq!(
            restore
                .changes
                .iter()
                .map(|c| (c.header, c.after.clone()))
                .collect::<Vec<_>>(),
            vec![
                ("Content-Encoding", Some("gzip, UTF-8".to_owned())),
                ("Content-Type", Some("binary/octet-stream".to_owned())),
            ]
        );
    }

    #[test]
    fn skip_reasons_serialize_as_documented() {
        for reason in [
            SkipReason::SseC,
            SkipReason::Archived,
            SkipReason::MissingMeta,
            SkipReason::UnparseableExpires,
            SkipReason::UnparseableRetainUntil,
            SkipReason::ForeignOwner,
            SkipReason::Interrupted,
            SkipReason::Declined,
        ] {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.as_str())
            );
        }
    }
}
