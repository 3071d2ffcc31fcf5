//! The lab's data model: what a stored object carries and what a seed sets.
//!
//! These are plain values with no locking or I/O, so tests can compare a whole object before and
//! after a repair with `==` and see exactly which attribute changed.

use std::collections::BTreeMap;

use bytes::Bytes;
use time::OffsetDateTime;

pub use super::checksum::Checksum;

/// Everything a stored object (or delete marker) carries: what HEAD returns, plus body, tags and ACL.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredObject {
    pub body: Bytes,
    /// With quotes, like S3 sends it.
    pub etag: String,
    pub last_modified: OffsetDateTime,
    pub version_id: Option<String>,
    pub delete_marker: bool,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    /// Raw header text: S3 stores and returns whatever was sent, even an unparseable date.
    pub expires: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// `None` means STANDARD (HEAD omits the header then, as S3 does).
    pub storage_class: Option<String>,
    pub website_redirect_location: Option<String>,
    pub server_side_encryption: Option<String>,
    pub ssekms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    /// SSE-C: the algorithm and the key's MD5 (base64) are kept, never the key.
    pub sse_customer_algorithm: Option<String>,
    pub sse_customer_key_md5: Option<String>,
    pub object_lock_mode: Option<String>,
    /// ISO 8601 text: as seeded, or as S3 returns it (milliseconds, `Z`) when a request set it.
    pub object_lock_retain_until: Option<String>,
    pub object_lock_legal_hold: Option<String>,
    pub tags: Vec<(String, String)>,
    pub grants: Vec<Grant>,
    pub owner_id: String,
    /// `Some(n)` when created by a multipart upload (the etag then ends in `-n`).
    pub parts_count: Option<i32>,
    /// The additional checksum, shown by HEAD only in checksum mode.
    pub checksum: Option<Checksum>,
    /// This version's annotations by name (`annotations.rs`): a copy keeps them unless told to
    /// exclude them; a multipart upload starts without.
    pub annotations: BTreeMap<String, Annotation>,
}

/// One annotation: a named payload on an object version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    pub payload: Bytes,
    /// The payload's MD5, quoted.
    pub etag: String,
    pub last_modified: OffsetDateTime,
}

impl Annotation {
    pub fn new(payload: Bytes) -> Self {
        Annotation {
            etag: super::store::md5_etag(&payload),
            payload,
            last_modified: super::store::now(),
        }
    }
}

impl Default for StoredObject {
    fn default() -> Self {
        Self {
            body: Bytes::new(),
            etag: String::new(),
            last_modified: OffsetDateTime::UNIX_EPOCH,
            version_id: None,
            delete_marker: false,
            content_type: None,
            content_encoding: None,
            cache_control: None,
            content_disposition: None,
            content_language: None,
            expires: None,
            metadata: BTreeMap::new(),
            storage_class: None,
            website_redirect_location: None,
            server_side_encryption: None,
            ssekms_key_id: None,
            bucket_key_enabled: None,
            sse_customer_algorithm: None,
            sse_customer_key_md5: None,
            object_lock_mode: None,
            object_lock_retain_until: None,
            object_lock_legal_hold: None,
            tags: Vec::new(),
            grants: Vec::new(),
            owner_id: String::new(),
            parts_count: None,
            checksum: None,
            annotations: BTreeMap::new(),
        }
    }
}

impl StoredObject {
    /// The storage class as listings show it (always present there).
    pub fn storage_class_or_standard(&self) -> &str {
        self.storage_class.as_deref().unwrap_or("STANDARD")
    }

    /// The etag without its quotes, as s3s wants it.
    pub fn etag_value(&self) -> &str {
        self.etag.trim_matches('"')
    }
}

/// One ACL entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub grantee: Grantee,
    /// READ, WRITE, READ_ACP, WRITE_ACP or FULL_CONTROL.
    pub permission: String,
}

/// Who a grant is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grantee {
    CanonicalUser {
        id: String,
        display_name: Option<String>,
    },
    Group {
        uri: String,
    },
    Email {
        address: String,
    },
}

/// What a seed sets; the lab computes etag, version id and last-modified.
///
/// `grants` wins over `acl`; with neither the object is private (owner FULL_CONTROL), like S3.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectSeed {
    pub body: Bytes,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub storage_class: Option<String>,
    pub website_redirect_location: Option<String>,
    pub server_side_encryption: Option<String>,
    pub ssekms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub sse_customer_algorithm: Option<String>,
    pub sse_customer_key_md5: Option<String>,
    pub object_lock_mode: Option<String>,
    pub object_lock_retain_until: Option<String>,
    pub object_lock_legal_hold: Option<String>,
    pub tags: Vec<(String, String)>,
    pub grants: Vec<Grant>,
    /// Canned ACL ("public-read", ...), expanded into grants like S3 does.
    pub acl: Option<String>,
    /// The canonical id of the account that wrote the object (another account's upload into a
    /// lab bucket); `None`: the lab's own account.
    pub owner_id: Option<String>,
    /// Uploaded with this additional checksum (`SHA256`…): a single PUT's, FULL_OBJECT.
    pub checksum_algorithm: Option<String>,
    /// Annotations by name, put after the upload.
    pub annotations: BTreeMap<String, Bytes>,
}

impl ObjectSeed {
    /// A seed with just a body.
    pub fn with_body(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
}
