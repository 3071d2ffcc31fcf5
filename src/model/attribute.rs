//! The attribute table: every single-valued attribute HeadObject reports, the header that carries
//! it, the field of [`ObjectHead`] that keeps it, and what an in-place REPLACE copy does to it.
//!
//! HEAD parsing (the scan's own HEAD path reads headers by this table), the planner (a test there
//! checks that every [`OnCopy::Resend`] attribute reaches the copy request) and verification (it
//! compares what the table says a copy keeps) all read it, so an attribute is added here once and
//! the compiler points at the rest (`ObjectHead`'s field, the SDK's accessor in `s3::head`).
//! User metadata (`x-amz-meta-*`) is a map, not a single value, and is handled beside the table.

use super::ObjectHead;

/// What an in-place `CopyObject` with `MetadataDirective=REPLACE` does to an attribute
/// (`docs/s3-behaviour.md` §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnCopy {
    /// Kept only if the request sends it again: the planner re-sends it.
    Resend,
    /// Kept by the copy itself: the bytes and their length, the ETag of a plain object, tags
    /// (tagging directive COPY), a customer-key algorithm.
    Kept,
    /// Changes with every copy: the version id, the time of writing, and the part count (a copy
    /// is single-part).
    Changes,
    /// The server's state, not the object's metadata: archive and restore status, metadata HEAD
    /// could not return.
    ServerState,
    /// An additional checksum (`docs/s3-behaviour.md` §16): HEAD shows it only in checksum mode
    /// ([`ObjectHead::checksum_mode`]). A copy keeps the algorithm; the value where its type is
    /// FULL_OBJECT (the same bytes give the same value), not a COMPOSITE one (a value of parts).
    Checksum,
}

/// Where an attribute's value lives in an [`ObjectHead`], by its type.
#[derive(Debug, PartialEq, Eq)]
pub enum Slot<'a> {
    /// A header value, kept as text (trimmed, as the SDK keeps it).
    Text(&'a mut Option<String>),
    /// `Content-Length`.
    Length(&'a mut Option<i64>),
    /// A small count.
    Count(&'a mut Option<i32>),
    /// `true` or `false`.
    Flag(&'a mut Option<bool>),
    /// An RFC 3339 timestamp, kept as [`date::rfc3339`](super::date::rfc3339) writes it.
    Date(&'a mut Option<String>),
    /// An HTTP date (whole seconds), kept in RFC 3339 as [`Slot::Date`] is.
    HttpDate(&'a mut Option<String>),
}

/// The table, one row per attribute: its name, the header that carries it, where [`ObjectHead`]
/// keeps it (a [`Slot`] kind and the field), and what a copy does to it.
macro_rules! attributes {
    ($($attr:ident: $header:literal => $kind:ident($field:ident), $on_copy:ident;)*) => {
        /// One attribute of [`ObjectHead`], in the struct's field order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Attr {
            $($attr,)*
        }

        impl Attr {
            pub const ALL: [Attr; [$(Attr::$attr),*].len()] = [$(Attr::$attr),*];

            /// The response header that carries it, in lower case.
            pub fn header(self) -> &'static str {
                match self {
                    $(Attr::$attr => $header,)*
                }
            }

            /// The name of its field in [`ObjectHead`] (and in journals and verification
            /// messages).
            pub fn field(self) -> &'static str {
                match self {
                    $(Attr::$attr => stringify!($field),)*
                }
            }

            pub fn on_copy(self) -> OnCopy {
                match self {
                    $(Attr::$attr => OnCopy::$on_copy,)*
                }
            }

            /// Where `head` keeps this attribute.
            pub fn slot(self, head: &mut ObjectHead) -> Slot<'_> {
                match self {
                    $(Attr::$attr => Slot::$kind(&mut head.$field),)*
                }
            }

            /// Its value in `head` as text (a number or flag as a header carries it), `None`
            /// when absent.
            pub fn value(self, head: &ObjectHead) -> Option<String> {
                match self {
                    $(Attr::$attr => head.$field.as_ref().map(ToString::to_string),)*
                }
            }
        }
    };
}

attributes! {
    VersionId: "x-amz-version-id" => Text(version_id), Changes;
    ETag: "etag" => Text(etag), Kept;
    ContentLength: "content-length" => Length(content_length), Kept;
    ContentType: "content-type" => Text(content_type), Resend;
    ContentEncoding: "content-encoding" => Text(content_encoding), Resend;
    CacheControl: "cache-control" => Text(cache_control), Resend;
    ContentDisposition: "content-disposition" => Text(content_disposition), Resend;
    ContentLanguage: "content-language" => Text(content_language), Resend;
    Expires: "expires" => Text(expires), Resend;
    MissingMeta: "x-amz-missing-meta" => Count(missing_meta), ServerState;
    StorageClass: "x-amz-storage-class" => Text(storage_class), Resend;
    ArchiveStatus: "x-amz-archive-status" => Text(archive_status), ServerState;
    Restore: "x-amz-restore" => Text(restore), ServerState;
    WebsiteRedirectLocation: "x-amz-website-redirect-location" => Text(website_redirect_location), Resend;
    ServerSideEncryption: "x-amz-server-side-encryption" => Text(server_side_encryption), Resend;
    SsekmsKeyId: "x-amz-server-side-encryption-aws-kms-key-id" => Text(ssekms_key_id), Resend;
    BucketKeyEnabled: "x-amz-server-side-encryption-bucket-key-enabled" => Flag(bucket_key_enabled), Resend;
    SseCustomerAlgorithm: "x-amz-server-side-encryption-customer-algorithm" => Text(sse_customer_algorithm), Kept;
    ObjectLockMode: "x-amz-object-lock-mode" => Text(object_lock_mode), Resend;
    ObjectLockRetainUntilDate: "x-amz-object-lock-retain-until-date" => Date(object_lock_retain_until_date), Resend;
    ObjectLockLegalHoldStatus: "x-amz-object-lock-legal-hold" => Text(object_lock_legal_hold_status), Resend;
    TagCount: "x-amz-tagging-count" => Count(tag_count), Kept;
    PartsCount: "x-amz-mp-parts-count" => Count(parts_count), Changes;
    LastModified: "last-modified" => HttpDate(last_modified), Changes;
    ChecksumCrc32: "x-amz-checksum-crc32" => Text(checksum_crc32), Checksum;
    ChecksumCrc32c: "x-amz-checksum-crc32c" => Text(checksum_crc32c), Checksum;
    ChecksumCrc64nvme: "x-amz-checksum-crc64nvme" => Text(checksum_crc64nvme), Checksum;
    ChecksumSha1: "x-amz-checksum-sha1" => Text(checksum_sha1), Checksum;
    ChecksumSha256: "x-amz-checksum-sha256" => Text(checksum_sha256), Checksum;
    ChecksumType: "x-amz-checksum-type" => Text(checksum_type), Checksum;
}

/// The checksum value attributes with the algorithm each names, as S3 and the SDK spell it.
pub const CHECKSUMS: [(Attr, &str); 5] = [
    (Attr::ChecksumCrc32, "CRC32"),
    (Attr::ChecksumCrc32c, "CRC32C"),
    (Attr::ChecksumCrc64nvme, "CRC64NVME"),
    (Attr::ChecksumSha1, "SHA1"),
    (Attr::ChecksumSha256, "SHA256"),
];

impl Attr {
    /// The attribute a response header carries (`name` in lower case, as HTTP libraries give it).
    pub fn from_header(name: &str) -> Option<Attr> {
        Attr::ALL.into_iter().find(|attr| attr.header() == name)
    }

    /// Removes the attribute from `head`.
    pub fn clear(self, head: &mut ObjectHead) {
        match self.slot(head) {
            Slot::Text(v) | Slot::Date(v) | Slot::HttpDate(v) => *v = None,
            Slot::Length(v) => *v = None,
            Slot::Count(v) => *v = None,
            Slot::Flag(v) => *v = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_fields_name_each_attribute_once() {
        let mut headers: Vec<_> = Attr::ALL.iter().map(|a| a.header()).collect();
        let mut fields: Vec<_> = Attr::ALL.iter().map(|a| a.field()).collect();
        headers.sort_unstable();
        headers.dedup();
        fields.sort_unstable();
        fields.dedup();
        assert_eq!(
            (headers.len(), fields.len()),
            (Attr::ALL.len(), Attr::ALL.len())
        );
        for attr in Attr::ALL {
            assert_eq!(Attr::from_header(attr.header()), Some(attr));
            assert_eq!(attr.header(), attr.header().to_ascii_lowercase());
        }
        assert_eq!(Attr::from_header("x-amz-meta-a"), None);
    }

    #[test]
    fn the_table_covers_every_field_of_a_head() {
        // Every field but the key and the metadata map is an attribute, under its own name. A
        // literal without `..`: a field added to the head does not compile here until it is
        // given a value, and then it must be in the table.
        let some = || Some("1".to_owned());
        let head = ObjectHead {
            key: "k".into(),
            version_id: some(),
            etag: some(),
            content_length: Some(1),
            content_type: some(),
            content_encoding: some(),
            cache_control: some(),
            content_disposition: some(),
            content_language: some(),
            expires: some(),
            metadata: [("a".to_owned(), "b".to_owned())].into(),
            missing_meta: Some(1),
            storage_class: some(),
            archive_status: some(),
            restore: some(),
            website_redirect_location: some(),
            server_side_encryption: some(),
            ssekms_key_id: some(),
            bucket_key_enabled: Some(true),
            sse_customer_algorithm: some(),
            object_lock_mode: some(),
            object_lock_retain_until_date: some(),
            object_lock_legal_hold_status: some(),
            tag_count: Some(1),
            parts_count: Some(1),
            last_modified: some(),
            checksum_crc32: some(),
            checksum_crc32c: some(),
            checksum_crc64nvme: some(),
            checksum_sha1: some(),
            checksum_sha256: some(),
            checksum_type: some(),
            checksum_mode: true,
        };
        let head = serde_json::to_value(&head).unwrap();
        let mut fields: Vec<&str> = head
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|f| !matches!(*f, "key" | "metadata" | "checksum_mode"))
            .collect();
        fields.sort_unstable();
        let mut table: Vec<&str> = Attr::ALL.iter().map(|a| a.field()).collect();
        table.sort_unstable();
        assert_eq!(fields, table);
    }

    #[test]
    fn each_slot_is_its_own_field() {
        for attr in Attr::ALL {
            let mut head = ObjectHead::default();
            match attr.slot(&mut head) {
                Slot::Text(v) | Slot::Date(v) | Slot::HttpDate(v) => *v = Some("1".into()),
                Slot::Length(v) => *v = Some(1),
                Slot::Count(v) => *v = Some(1),
                Slot::Flag(v) => *v = Some(true),
            }
            let json = serde_json::to_value(&head).unwrap();
            let set: Vec<&String> = json
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| !v.is_null() && *v != "" && !v.is_object())
                .map(|(k, _)| k)
                .collect();
            assert_eq!(set, vec![attr.field()], "{attr:?}");
            assert!(attr.value(&head).is_some());
            attr.clear(&mut head);
            assert_eq!(attr.value(&head), None, "{attr:?}");
        }
    }
}
