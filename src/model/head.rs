//! An object as a listing and as HeadObject show it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One entry of a bucket listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: i64,
    pub etag: Option<String>,
    /// As the listing gives it (to the millisecond on S3), when it does.
    pub last_modified: Option<String>,
}

/// Everything HeadObject returns that matters for detecting and repairing metadata. The
/// single-valued fields are listed, with their headers, in [`Attr`](super::Attr); journals and
/// catalogs store this struct as JSON, so its field names are a file format. Absent fields are
/// left out of the JSON (and read back as absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectHead {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_length: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// The raw Expires header: it may not parse as a date, and must survive a repair anyway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Number of user metadata entries S3 could not return in headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_meta: Option<i32>,
    /// `None` means STANDARD: S3 omits the header for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssekms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse_customer_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_lock_mode: Option<String>,
    /// RFC 3339 (`2030-01-02T03:04:05Z`), as [`date::rfc3339`](super::date::rfc3339) writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_lock_retain_until_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_lock_legal_hold_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts_count: Option<i32>,
    /// When this version was written, RFC 3339 (the header is an HTTP date): a rewrite of the
    /// same bytes keeps the ETag but not this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The additional checksum's value, base64, under the attribute of its algorithm (at most
    /// one is set), and its type (`FULL_OBJECT` or `COMPOSITE`): shown by HEAD only in checksum
    /// mode ([`ObjectHead::checksum_mode`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_crc32: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_crc32c: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_crc64nvme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// Whether the HEAD asked for checksums (`x-amz-checksum-mode: ENABLED`): without it the
    /// checksum fields say nothing, and are compared with nothing. The scan's HEADs do not ask
    /// (on SSE-KMS objects the mode needs `kms:Decrypt`); a repair's own HEADs do.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub checksum_mode: bool,
}

/// Storage classes whose objects must be restored before they can be copied or read.
const ARCHIVE_CLASSES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

impl ObjectHead {
    /// The additional checksum's algorithm (`SHA256`…), if HEAD showed one.
    pub fn checksum_algorithm(&self) -> Option<&'static str> {
        super::attribute::CHECKSUMS
            .into_iter()
            .find(|(attr, _)| attr.value(self).is_some())
            .map(|(_, algorithm)| algorithm)
    }

    /// An object with only its key known; tests fill in the rest.
    pub fn new(key: impl Into<String>) -> Self {
        ObjectHead {
            key: key.into(),
            ..ObjectHead::default()
        }
    }

    /// Whether the object sits in an archive tier, unrestored: it can be neither copied nor read
    /// (`docs/s3-behaviour.md` §6).
    pub fn is_archived(&self) -> bool {
        let archived = self
            .storage_class
            .as_deref()
            .is_some_and(|c| ARCHIVE_CLASSES.contains(&c))
            || self.archive_status.is_some();
        let restored = self
            .restore
            .as_deref()
            .is_some_and(|r| r.contains("ongoing-request=\"false\""));
        archived && !restored
    }
}

/// What S3 said about the object a copy wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

/// One entry of ListObjectVersions for a key: a version of the object, or a delete marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectVersion {
    pub version_id: String,
    pub etag: Option<String>,
    pub delete_marker: bool,
}
