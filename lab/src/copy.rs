//! CopyObject's rules: what the new object keeps from its source and what it takes from the
//! request, exactly as S3 does (see docs/s3-behaviour.md).
//!
//! Under MetadataDirective COPY the content headers and user metadata come from the source;
//! under REPLACE only what the request carries. Under both, storage class, website redirect,
//! encryption, object lock and the ACL come only from the request, and the tags follow the
//! tagging directive. The body is always the source's.

use s3s::{s3_error, S3Result};

use super::headers::RequestAttrs;
use super::model::StoredObject;

/// A metadata or tagging directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    Copy,
    Replace,
}

impl Directive {
    /// Parses the header value; absent means COPY.
    pub fn parse(value: Option<&str>, header: &str) -> S3Result<Self> {
        match value {
            None | Some("COPY") => Ok(Self::Copy),
            Some("REPLACE") => Ok(Self::Replace),
            Some(other) => Err(s3_error!(InvalidArgument, "Unknown {header}: {other}")),
        }
    }
}

/// The S3 message for a copy to itself that changes nothing.
pub const ILLEGAL_COPY: &str = "This copy request is illegal because it is trying to copy an object to itself \
without changing the object's metadata, storage class, website redirect location or encryption attributes.";

/// Rejects a copy to itself that would change nothing.
pub fn check_self_copy(
    source: &StoredObject,
    attrs: &RequestAttrs,
    metadata: Directive,
) -> S3Result<()> {
    if metadata == Directive::Copy && !attrs.changes_storage_or_encryption(source) {
        return Err(s3_error!(InvalidRequest, "{}", ILLEGAL_COPY));
    }
    Ok(())
}

/// The object a copy creates (before the store assigns its version id).
pub fn copied_object(
    source: &StoredObject,
    attrs: RequestAttrs,
    metadata: Directive,
    tagging: Directive,
    keep_annotations: bool,
) -> StoredObject {
    let source_tags = source.tags.clone();
    let mut attrs = attrs;
    if metadata == Directive::Copy {
        attrs.content_type.clone_from(&source.content_type);
        attrs.content_encoding.clone_from(&source.content_encoding);
        attrs.cache_control.clone_from(&source.cache_control);
        attrs
            .content_disposition
            .clone_from(&source.content_disposition);
        attrs.content_language.clone_from(&source.content_language);
        attrs.expires.clone_from(&source.expires);
        attrs.metadata.clone_from(&source.metadata);
    } else if attrs.content_type.is_none() {
        attrs.content_type = Some("binary/octet-stream".to_owned());
    }
    if tagging == Directive::Copy {
        attrs.tags = Some(source_tags);
    }
    // A multipart source becomes single-part: its etag is recomputed from the bytes. A
    // single-part etag is already the MD5 of the same bytes.
    let mut obj = attrs.into_object(source.body.clone());
    if source.parts_count.is_none() {
        obj.etag.clone_from(&source.etag);
    }
    // The algorithm is kept (no x-amz-checksum-algorithm is sent); the copy is one part, so its
    // checksum is over the whole body: a FULL_OBJECT value stays the same.
    obj.checksum = source
        .checksum
        .as_ref()
        .and_then(|c| super::checksum::full_object(&c.algorithm, &obj.body));
    if keep_annotations {
        obj.annotations.clone_from(&source.annotations);
    }
    obj
}

/// The annotation directive of a copy (`x-amz-object-annotation-directive`): whether the copy
/// keeps the source's annotations. Absent means COPY.
pub fn keeps_annotations(value: Option<&str>) -> S3Result<bool> {
    match value {
        None | Some("COPY") => Ok(true),
        Some("EXCLUDE") => Ok(false),
        Some(other) => Err(s3_error!(
            InvalidArgument,
            "Unknown x-amz-object-annotation-directive: {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::md5_etag;

    fn source() -> StoredObject {
        StoredObject {
            body: bytes::Bytes::from_static(b"hello"),
            etag: md5_etag(b"hello"),
            content_type: Some("text/plain".into()),
            content_encoding: Some("utf-8".into()),
            cache_control: Some("max-age=60".into()),
            metadata: BTreeMap::from([("a".to_owned(), "1".to_owned())]),
            storage_class: Some("STANDARD_IA".into()),
            website_redirect_location: Some("/x".into()),
            tags: vec![("t".into(), "v".into())],
            ..StoredObject::default()
        }
    }

    #[test]
    fn replace_keeps_only_what_is_sent() {
        let attrs = RequestAttrs {
            content_encoding: Some("gzip".into()),
            ..RequestAttrs::default()
        };
        let obj = copied_object(&source(), attrs, Directive::Replace, Directive::Copy, true);
        assert_eq!(obj.content_type.as_deref(), Some("binary/octet-stream"));
        assert_eq!(obj.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(obj.cache_control, None);
        assert!(obj.metadata.is_empty());
        assert_eq!(obj.storage_class, None);
        assert_eq!(obj.website_redirect_location, None);
        assert_eq!(obj.tags, source().tags);
        assert_eq!(obj.etag, source().etag);
        assert_eq!(obj.grants, crate::acl::private());
    }

    #[test]
    fn copy_keeps_content_headers_but_not_class_or_redirect() {
        let obj = copied_object(
            &source(),
            RequestAttrs::default(),
            Directive::Copy,
            Directive::Replace,
            true,
        );
        assert_eq!(obj.content_type.as_deref(), Some("text/plain"));
        assert_eq!(obj.metadata, source().metadata);
        assert_eq!(obj.storage_class, None);
        assert_eq!(obj.website_redirect_location, None);
        assert!(obj.tags.is_empty());
    }

    #[test]
    fn self_copy_needs_a_change() {
        let src = source();
        assert!(check_self_copy(&src, &RequestAttrs::default(), Directive::Copy).is_err());
        assert!(check_self_copy(&src, &RequestAttrs::default(), Directive::Replace).is_ok());
        let same_class = RequestAttrs {
            storage_class: Some("STANDARD_IA".into()),
            ..RequestAttrs::default()
        };
        assert!(check_self_copy(&src, &same_class, Directive::Copy).is_err());
        let new_class = RequestAttrs {
            storage_class: Some("GLACIER".into()),
            ..RequestAttrs::default()
        };
        assert!(check_self_copy(&src, &new_class, Directive::Copy).is_ok());
    }

    #[test]
    fn a_copy_keeps_the_checksum_algorithm_and_the_annotations_unless_excluded() {
        let src = StoredObject {
            checksum: crate::checksum::full_object("SHA256", b"hello"),
            annotations: [("a".to_owned(), crate::model::Annotation::new("x".into()))].into(),
            ..source()
        };
        let attrs = || RequestAttrs::default();
        let kept = copied_object(&src, attrs(), Directive::Replace, Directive::Copy, true);
        assert_eq!(kept.checksum, src.checksum);
        assert_eq!(kept.annotations, src.annotations);
        let excluded = copied_object(&src, attrs(), Directive::Replace, Directive::Copy, false);
        assert!(excluded.annotations.is_empty());
        assert!(keeps_annotations(None).unwrap());
        assert!(!keeps_annotations(Some("EXCLUDE")).unwrap());
        assert!(keeps_annotations(Some("MAYBE")).is_err());
    }

    #[test]
    fn multipart_source_gets_an_md5_etag() {
        let src = StoredObject {
            etag: "\"abc-2\"".into(),
            parts_count: Some(2),
            ..source()
        };
        let obj = copied_object(
            &src,
            RequestAttrs::default(),
            Directive::Replace,
            Directive::Copy,
            true,
        );
        assert_eq!(obj.etag, md5_etag(b"hello"));
        assert_eq!(obj.parts_count, None);
    }
}
