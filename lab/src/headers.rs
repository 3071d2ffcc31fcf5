//! Translation between HTTP-level attributes and [`StoredObject`].
//!
//! PutObject, CopyObject and CreateMultipartUpload carry the same set of object headers; they are
//! read once into [`RequestAttrs`], so the three operations cannot disagree about what a request
//! sets. The other direction (object → HEAD/GET response) is the `object_headers!` macro, since
//! s3s has two output structs with the same field names.

use std::collections::BTreeMap;

use http::HeaderMap;
use md5::{Digest, Md5};
use s3s::dto::{self, ETag, ETagCondition, Timestamp};
use s3s::{s3_error, S3Result};
use time::OffsetDateTime;

use super::acl::AclHeaders;
use super::model::{Grant, StoredObject};
use super::ownership::AclMode;

/// Every object attribute a write request can set. `None`/empty means "not sent".
#[derive(Debug, Default)]
pub struct RequestAttrs {
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
    /// `x-amz-tagging`, parsed.
    pub tags: Option<Vec<(String, String)>>,
    /// `x-amz-acl` / `x-amz-grant-*` as sent; what they mean depends on the bucket's ACL mode.
    pub acl: AclHeaders,
    /// Grants from `acl` once [`RequestAttrs::resolve_acl`] ran; `None`: private to the owner.
    pub grants: Option<Vec<Grant>>,
}

/// Reads the shared header fields of PutObject / CopyObject / CreateMultipartUpload inputs.
macro_rules! request_attrs {
    ($input:expr, $headers:expr) => {{
        let input = &$input;
        let headers: &http::HeaderMap = $headers;
        let acl = $crate::acl::AclHeaders {
            canned: input.acl.as_ref().map(|a| a.as_str().to_owned()),
            full_control: input.grant_full_control.clone(),
            read: input.grant_read.clone(),
            read_acp: input.grant_read_acp.clone(),
            write: None,
            write_acp: input.grant_write_acp.clone(),
        };
        $crate::headers::RequestAttrs {
            content_type: input.content_type.clone(),
            content_encoding: input.content_encoding.clone(),
            cache_control: input.cache_control.clone(),
            content_disposition: input.content_disposition.clone(),
            content_language: input.content_language.clone(),
            expires: $crate::headers::raw_header(headers, "expires"),
            metadata: input
                .metadata
                .iter()
                .flatten()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            storage_class: input.storage_class.as_ref().map(|s| s.as_str().to_owned()),
            website_redirect_location: input.website_redirect_location.clone(),
            server_side_encryption: input
                .server_side_encryption
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            ssekms_key_id: input.ssekms_key_id.clone(),
            bucket_key_enabled: input.bucket_key_enabled,
            sse_customer_algorithm: input.sse_customer_algorithm.clone(),
            sse_customer_key_md5: $crate::headers::customer_key_md5(
                input.sse_customer_key.as_deref(),
                input.sse_customer_key_md5.as_deref(),
            )?,
            object_lock_mode: input
                .object_lock_mode
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            object_lock_retain_until: $crate::headers::retain_until(headers)?,
            object_lock_legal_hold: input
                .object_lock_legal_hold_status
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            tags: input
                .tagging
                .as_deref()
                .map($crate::headers::parse_tagging)
                .transpose()?,
            acl,
            grants: None,
        }
    }};
}
pub(crate) use request_attrs;

/// A header's text, if present and valid UTF-8.
pub fn raw_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `x-amz-object-lock-retain-until-date` as S3 returns it (ISO 8601, milliseconds, `Z`), so a
/// date read from HEAD and sent back in any ISO 8601 spelling (the SDK drops the `.000`) is
/// stored unchanged. Unparseable text is a 400, as on S3.
pub fn retain_until(headers: &HeaderMap) -> S3Result<Option<String>> {
    let Some(raw) = raw_header(headers, "x-amz-object-lock-retain-until-date") else {
        return Ok(None);
    };
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The retain until date must be provided in ISO 8601 format"
        )
    };
    let t = OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?
        .to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).map(Some).map_err(|_| bad())
}

/// The base64 MD5 of an SSE-C key, checked against the one the client sent (S3 does the same).
pub fn customer_key_md5(key: Option<&str>, md5: Option<&str>) -> S3Result<Option<String>> {
    let computed = match key {
        None => None,
        Some(k) => {
            let raw = aws_smithy_types::base64::decode(k)
                .map_err(|_| s3_error!(InvalidArgument, "The SSE-C key is not valid base64"))?;
            Some(aws_smithy_types::base64::encode(Md5::digest(&raw)))
        }
    };
    match (computed, md5) {
        (Some(c), Some(m)) if c != m => Err(s3_error!(
            InvalidArgument,
            "The calculated MD5 hash of the key did not match the hash that was provided."
        )),
        (Some(c), _) => Ok(Some(c)),
        (None, m) => Ok(m.map(str::to_owned)),
    }
}

/// Parses `x-amz-tagging` (`k1=v1&k2=v2`, form-encoded).
pub fn parse_tagging(s: &str) -> S3Result<Vec<(String, String)>> {
    let decode = |p: &str| {
        percent_encoding::percent_decode_str(&p.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| s3_error!(InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."))
    };
    let mut tags: Vec<(String, String)> = Vec::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if tags.iter().any(|(x, _)| *x == k) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
        tags.push((k, v));
    }
    Ok(tags)
}

impl RequestAttrs {
    /// Turns the ACL headers into grants as a bucket in `mode` does (or rejects them).
    pub fn resolve_acl(&mut self, mode: AclMode) -> S3Result<()> {
        self.grants = super::ownership::request_grants(mode, &self.acl)?;
        Ok(())
    }

    /// A new object carrying exactly what the request sent (PutObject, REPLACE copy, multipart).
    pub fn into_object(self, body: bytes::Bytes) -> StoredObject {
        let mut obj = StoredObject {
            etag: super::store::md5_etag(&body),
            body,
            last_modified: super::store::now(),
            owner_id: super::acl::LAB_OWNER_ID.to_owned(),
            content_type: self.content_type,
            content_encoding: self.content_encoding,
            cache_control: self.cache_control,
            content_disposition: self.content_disposition,
            content_language: self.content_language,
            expires: self.expires,
            metadata: self.metadata,
            ..StoredObject::default()
        };
        obj.tags = self.tags.unwrap_or_default();
        obj.grants = self.grants.unwrap_or_else(super::acl::private);
        obj.storage_class = self.storage_class.filter(|c| c != "STANDARD");
        obj.website_redirect_location = self.website_redirect_location;
        obj.server_side_encryption = self.server_side_encryption;
        obj.ssekms_key_id = self.ssekms_key_id;
        obj.bucket_key_enabled = self.bucket_key_enabled;
        obj.sse_customer_algorithm = self.sse_customer_algorithm;
        obj.sse_customer_key_md5 = self.sse_customer_key_md5;
        obj.object_lock_mode = self.object_lock_mode;
        obj.object_lock_retain_until = self.object_lock_retain_until;
        obj.object_lock_legal_hold = self.object_lock_legal_hold;
        obj
    }

    /// True when the request changes something S3 counts as a change for a copy to itself.
    pub fn changes_storage_or_encryption(&self, source: &StoredObject) -> bool {
        let class_changes = self
            .storage_class
            .as_deref()
            .is_some_and(|c| c != source.storage_class_or_standard());
        class_changes
            || self.website_redirect_location.is_some()
            || self.server_side_encryption.is_some()
            || self.ssekms_key_id.is_some()
            || self.sse_customer_algorithm.is_some()
    }
}

/// Fills the HEAD/GET output fields both s3s output structs share. Returns the extra raw headers
/// (Expires as stored, tag count) that s3s cannot express.
macro_rules! object_headers {
    ($out:expr, $obj:expr) => {{
        let out = &mut $out;
        let obj: &$crate::model::StoredObject = $obj;
        out.content_length = Some(i64::try_from(obj.body.len()).unwrap_or(i64::MAX));
        out.content_type = Some(
            obj.content_type
                .clone()
                .unwrap_or_else(|| "binary/octet-stream".to_owned()),
        );
        out.content_encoding = obj.content_encoding.clone();
        out.cache_control = obj.cache_control.clone();
        out.content_disposition = obj.content_disposition.clone();
        out.content_language = obj.content_language.clone();
        out.e_tag = Some(s3s::dto::ETag::Strong(obj.etag_value().to_owned()));
        out.last_modified = Some(s3s::dto::Timestamp::from(obj.last_modified));
        out.metadata =
            (!obj.metadata.is_empty()).then(|| obj.metadata.clone().into_iter().collect());
        out.storage_class = obj.storage_class.clone().map(s3s::dto::StorageClass::from);
        out.website_redirect_location = obj.website_redirect_location.clone();
        out.server_side_encryption = obj
            .server_side_encryption
            .clone()
            .map(s3s::dto::ServerSideEncryption::from);
        out.ssekms_key_id = obj.ssekms_key_id.clone();
        out.bucket_key_enabled = obj.bucket_key_enabled;
        out.sse_customer_algorithm = obj.sse_customer_algorithm.clone();
        out.sse_customer_key_md5 = obj.sse_customer_key_md5.clone();
        out.object_lock_mode = obj
            .object_lock_mode
            .clone()
            .map(s3s::dto::ObjectLockMode::from);
        out.object_lock_legal_hold_status = obj
            .object_lock_legal_hold
            .clone()
            .map(s3s::dto::ObjectLockLegalHoldStatus::from);
        out.version_id = obj.version_id.clone();
        out.parts_count = obj.parts_count;
        out.accept_ranges = Some("bytes".to_owned());
        $crate::headers::raw_response_headers(obj)
    }};
}
pub(crate) use object_headers;

/// Headers HEAD/GET must send verbatim: Expires and the retain-until date as stored (S3 returns
/// what was sent, parseable or not) and the tag count.
pub fn raw_response_headers(obj: &StoredObject) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    if let Some(e) = &obj.expires {
        put("expires", e);
    }
    if let Some(r) = &obj.object_lock_retain_until {
        put("x-amz-object-lock-retain-until-date", r);
    }
    if !obj.tags.is_empty() {
        put("x-amz-tagging-count", &obj.tags.len().to_string());
    }
    headers
}

/// An ETag condition against an object's etag (`*` matches any existing object).
pub fn etag_matches(cond: &ETagCondition, obj: &StoredObject) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(ETag::Strong(v) | ETag::Weak(v)) => {
            v.trim_matches('"') == obj.etag_value()
        }
    }
}

/// Conditional headers, as copy-source conditions or GET/HEAD conditions.
#[derive(Default)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// What failed a condition: S3 answers 412 for most, 304 for GET/HEAD if-none-match/if-modified-since.
#[derive(Debug, PartialEq, Eq)]
pub enum ConditionFailure {
    PreconditionFailed,
    NotModified,
}

impl Conditions<'_> {
    /// S3's rules (RFC 7232 §6): if-match wins over if-unmodified-since, if-none-match over
    /// if-modified-since. Dates compare at second precision, as headers carry them.
    pub fn check(&self, obj: &StoredObject) -> Result<(), ConditionFailure> {
        let secs = |t: &Timestamp| OffsetDateTime::from(t.clone()).unix_timestamp();
        let modified = obj.last_modified.unix_timestamp();
        if let Some(c) = self.if_match {
            if !etag_matches(c, obj) {
                return Err(ConditionFailure::PreconditionFailed);
            }
        } else if self.if_unmodified_since.is_some_and(|t| modified > secs(t)) {
            return Err(ConditionFailure::PreconditionFailed);
        }
        if let Some(c) = self.if_none_match {
            if etag_matches(c, obj) {
                return Err(ConditionFailure::NotModified);
            }
        } else if self.if_modified_since.is_some_and(|t| modified <= secs(t)) {
            return Err(ConditionFailure::NotModified);
        }
        Ok(())
    }

    /// For copy sources every failure is a 412.
    pub fn check_copy_source(&self, obj: &StoredObject) -> S3Result<()> {
        self.check(obj).map_err(|_| precondition_failed())
    }
}

pub fn precondition_failed() -> s3s::S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

/// A destination condition header (`If-Match` / `If-None-Match`) of a write, parsed from raw
/// headers because s3s 0.14.1 does not model them on CopyObject.
pub fn etag_condition_header(headers: &HeaderMap, name: &str) -> S3Result<Option<ETagCondition>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => ETagCondition::parse_http_header(v.as_bytes())
            .map(Some)
            .map_err(|_| s3_error!(InvalidArgument, "invalid {name} header")),
    }
}

/// S3's rules for conditional writes on the destination: If-Match needs an existing object with
/// that etag (404 when there is none), If-None-Match `*` needs no object.
pub fn check_write_conditions(
    current: Option<&StoredObject>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    if let Some(cond) = if_match {
        match current {
            None => return Err(s3_error!(NoSuchKey, "The specified key does not exist.")),
            Some(obj) if !etag_matches(cond, obj) => return Err(precondition_failed()),
            Some(_) => {}
        }
    }
    if let (Some(cond), Some(obj)) = (if_none_match, current) {
        if etag_matches(cond, obj) {
            return Err(precondition_failed());
        }
    }
    Ok(())
}

/// Tag DTOs from tag pairs.
pub fn tags_to_dto(tags: &[(String, String)]) -> Vec<dto::Tag> {
    tags.iter()
        .map(|(k, v)| dto::Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_header_is_form_decoded() {
        let tags = parse_tagging("a=1&b%20c=x+y&empty=").unwrap();
        assert_eq!(
            tags,
            vec![
                ("a".into(), "1".into()),
                ("b c".into(), "x y".into()),
                ("empty".into(), String::new())
            ]
        );
        assert!(parse_tagging("a=1&a=2").is_err());
    }

    #[test]
    fn if_match_beats_if_unmodified_since() {
        let obj = StoredObject {
            etag: "\"abc\"".into(),
            last_modified: OffsetDateTime::now_utc(),
            ..StoredObject::default()
        };
        let m = ETagCondition::ETag(ETag::Strong("abc".into()));
        let old = Timestamp::from(OffsetDateTime::UNIX_EPOCH);
        let c = Conditions {
            if_match: Some(&m),
            if_unmodified_since: Some(&old),
            ..Conditions::default()
        };
        assert!(c.check(&obj).is_ok());
        let other = ETagCondition::ETag(ETag::Strong("zzz".into()));
        let c = Conditions {
            if_match: Some(&other),
            ..Conditions::default()
        };
        assert_eq!(c.check(&obj), Err(ConditionFailure::PreconditionFailed));
    }

    #[test]
    fn retain_until_is_normalised_to_milliseconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retain_until(&h).unwrap(), None);
        h.insert(
            "x-amz-object-lock-retain-until-date",
            http::HeaderValue::from_static("2037-01-01T01:00:00+01:00"),
        );
        assert_eq!(
            retain_until(&h).unwrap().as_deref(),
            Some("2037-01-01T00:00:00.000Z")
        );
        h.insert(
            "x-amz-object-lock-retain-until-date",
            http::HeaderValue::from_static("next year"),
        );
        assert!(retain_until(&h).is_err());
    }

    #[test]
    fn sse_c_key_md5_is_computed_and_checked() {
        let key = aws_smithy_types::base64::encode([7u8; 32]);
        let md5 = customer_key_md5(Some(&key), None).unwrap().unwrap();
        assert!(customer_key_md5(Some(&key), Some(&md5)).is_ok());
        assert!(customer_key_md5(Some(&key), Some("bogus")).is_err());
    }
}
