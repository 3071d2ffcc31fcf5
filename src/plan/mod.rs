//! The planner: from a HEAD snapshot and its findings, the complete header set an in-place
//! `CopyObject` (MetadataDirective=REPLACE) must send so that only the repaired headers change.
//!
//! A REPLACE copy keeps only what the request carries (`docs/s3-behaviour.md` §1), so every attribute HEAD
//! reported is carried over here, and an object whose attributes cannot all be carried is skipped
//! with a reason instead of being repaired lossily. Pure: no I/O, tested field by field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use crate::model::SkipReason;
use crate::model::{date, Header, ObjectHead};
use crate::rules::{Finding, RuleId};

mod checksum;
mod copy_source;
mod grants;

pub use checksum::{multipart_checksum, MultipartChecksum};
pub use copy_source::copy_source;
pub use grants::{grant_headers, GrantHeaders};

/// Server-side encryption to re-send, so a copy does not fall back to the bucket default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
}

/// Every user-controllable attribute of an object, as a REPLACE copy must send it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeaderSet {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    #[serde(serialize_with = "http_date", deserialize_with = "from_http_date")]
    pub expires: Option<OffsetDateTime>,
    pub metadata: BTreeMap<String, String>,
    pub website_redirect_location: Option<String>,
    /// Always sent: an absent header means STANDARD.
    pub storage_class: String,
    pub encryption: Option<Encryption>,
    pub object_lock_mode: Option<String>,
    #[serde(serialize_with = "http_date", deserialize_with = "from_http_date")]
    pub object_lock_retain_until_date: Option<OffsetDateTime>,
    pub object_lock_legal_hold_status: Option<String>,
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

/// A date a report wrote with [`http_date`], read back.
fn from_http_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => date::parse_http_date(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an HTTP date"))),
    }
}

/// One header's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub rule: RuleId,
    pub header: Header,
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
    /// The ETag the object must still have when the copy lands, where the server supports the
    /// destination `If-Match`: the source's own for an in-place rewrite; the repair's own copy
    /// when a version written meanwhile is put back on top ([`reinstate`]).
    #[serde(skip)]
    pub destination_etag: String,
    /// The object's length: a copy's attempt may take the longer for it.
    pub size: u64,
    pub headers: HeaderSet,
    pub changes: Vec<Change>,
    /// The object's ACL grants to send with the copy (which would otherwise be private); `None`
    /// when the object is private or the bucket does not use ACLs.
    pub grants: Option<GrantHeaders>,
    /// The checksum a multipart rewrite asks for (a single CopyObject keeps the source's by
    /// itself and sends none); `None` when the snapshot showed none or was taken without
    /// checksum mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<MultipartChecksum>,
    /// Send `x-amz-object-annotation-directive: EXCLUDE`: only where the server refused the
    /// default (COPY) with a 501 or the bucket is a directory bucket, which has no annotations
    /// (`docs/s3-behaviour.md` §16). Set by the repairer, not by the planner.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exclude_annotations: bool,
}

/// Plans the repair of `head`'s findings, or says why it must be skipped. Every finding goes
/// into the one copy: the request re-sends everything of `head` with each finding's header
/// changed.
pub fn plan(bucket: &str, head: &ObjectHead, findings: &[Finding]) -> Result<Plan, SkipReason> {
    if let Some(reason) = findings.iter().find_map(|f| f.blocked) {
        return Err(reason);
    }
    carry_over(head)?;
    let mut repaired = head.clone();
    let changes = findings
        .iter()
        .map(|finding| {
            let before = finding.header.value(&repaired).map(str::to_owned);
            finding.header.set(&mut repaired, finding.proposed.clone());
            Change {
                rule: finding.rule,
                header: finding.header.clone(),
                before,
                after: finding.proposed.clone(),
            }
        })
        .collect();
    let headers = carry_over(&repaired)?;
    Ok(Plan {
        key: head.key.clone(),
        copy_source: copy_source(bucket, &head.key, head.version_id.as_deref()),
        if_match: head.etag.clone().unwrap_or_default(),
        destination_etag: head.etag.clone().unwrap_or_default(),
        size: head.content_length.unwrap_or(0).max(0) as u64,
        headers,
        changes,
        grants: None,
        checksum: multipart_checksum(head),
        exclude_annotations: false,
    })
}

/// The plan that puts `old`'s headers back on the object `current` describes (undo): the copy
/// is conditional on the current ETag and re-sends everything `old` had.
pub fn restore(bucket: &str, current: &ObjectHead, old: &ObjectHead) -> Result<Plan, SkipReason> {
    let headers = carry_over(old)?;
    let metadata = current.metadata.keys().chain(old.metadata.keys());
    let mut names: Vec<Header> = metadata.map(|name| Header::Meta(name.clone())).collect();
    names.sort();
    names.dedup();
    let changes = Header::STANDARD
        .into_iter()
        .chain(names)
        .filter(|header| header.value(current) != header.value(old))
        .map(|header| Change {
            rule: rule_of(&header),
            before: header.value(current).map(str::to_owned),
            after: header.value(old).map(str::to_owned),
            header,
        })
        .collect();
    Ok(Plan {
        key: current.key.clone(),
        copy_source: copy_source(bucket, &current.key, current.version_id.as_deref()),
        if_match: current.etag.clone().unwrap_or_default(),
        destination_etag: current.etag.clone().unwrap_or_default(),
        size: current.content_length.unwrap_or(0).max(0) as u64,
        headers,
        changes,
        grants: None,
        checksum: multipart_checksum(current),
        exclude_annotations: false,
    })
}

/// The plan that puts `version` (a version someone else wrote while a repair was in flight, now
/// noncurrent under the repair's copy) back on top, exactly as it was: a copy of that version
/// with everything it had and nothing changed, landing only while the repair's copy, of ETag
/// `ours`, is still the current version.
pub fn reinstate(bucket: &str, version: &ObjectHead, ours: &str) -> Result<Plan, SkipReason> {
    let mut plan = plan(bucket, version, &[])?;
    plan.destination_etag = ours.to_owned();
    Ok(plan)
}

/// The rule a restored header is reported under: the built-in rule that repairs it, or the
/// policy for the headers only a policy sets.
fn rule_of(header: &Header) -> RuleId {
    match header {
        Header::ContentEncoding => RuleId::ContentEncoding,
        Header::ContentType => RuleId::ContentType,
        _ => RuleId::Policy,
    }
}

/// Everything of `head` a REPLACE copy must re-send to keep the object as it is, or why that is
/// impossible.
pub fn carry_over(head: &ObjectHead) -> Result<HeaderSet, SkipReason> {
    if head.sse_customer_algorithm.is_some() {
        return Err(SkipReason::SseC);
    }
    if head.is_archived() {
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
            last_modified: Some("2013-08-02T08:28:20Z".into()),
            checksum_crc32: None,
            checksum_crc32c: None,
            checksum_crc64nvme: None,
            checksum_sha1: None,
            checksum_sha256: Some("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".into()),
            checksum_type: Some("FULL_OBJECT".into()),
            checksum_mode: true,
        }
    }

    fn plan_of(head: &ObjectHead) -> Result<Plan, SkipReason> {
        plan("bucket", head, &RuleSet::all().check(head, None))
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
                    header: Header::ContentEncoding,
                    before: Some("gzip, UTF-8".into()),
                    after: Some("gzip".into()),
                },
                Change {
                    rule: RuleId::ContentType,
                    header: Header::ContentType,
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
                .map(|c| (c.header.clone(), c.after.clone()))
                .collect::<Vec<_>>(),
            vec![
                (Header::ContentType, Some("binary/octet-stream".to_owned())),
                (Header::ContentEncoding, Some("gzip, UTF-8".to_owned())),
            ]
        );
    }
}
