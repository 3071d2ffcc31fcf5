//! Multipart uploads: the parts of an open upload and how CompleteMultipartUpload assembles them.
//!
//! The lab does not enforce S3's 5 MiB minimum part size, so tests can exercise the multipart
//! path with small objects; everything else (part order, part etags, the `-N` etag) is as S3 does.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};
use s3s::{s3_error, S3Result};
use time::OffsetDateTime;

use super::checksum;
use super::model::StoredObject;

/// One uploaded part.
#[derive(Clone, Debug)]
pub struct Part {
    pub body: Bytes,
    /// Quoted MD5 hex of the part.
    pub etag: String,
    pub last_modified: OffsetDateTime,
    /// The part's raw digest under the upload's checksum algorithm, if it has one.
    pub checksum: Option<Vec<u8>>,
}

/// An open upload: the attributes the final object will carry (from CreateMultipartUpload) and
/// the parts so far.
#[derive(Clone, Debug)]
pub struct Upload {
    pub key: String,
    pub initiated: OffsetDateTime,
    pub template: StoredObject,
    pub parts: BTreeMap<i32, Part>,
}

/// Checks the client's part list against the uploaded parts and builds the final object.
///
/// `listed` is (part number, etag without quotes, the part's checksum as base64 if sent) in
/// request order. An upload created with a checksum algorithm and type gets that checksum (a
/// COMPOSITE one needs every part's, as S3 requires); one created without gets S3's default,
/// a FULL_OBJECT CRC64NVME.
/// S3's smallest part but the last (UploadPart, UploadPartCopy): 5 MiB.
pub const MIN_PART_SIZE: usize = 5 << 20;

pub fn assemble(upload: &Upload, listed: &[Listed]) -> S3Result<StoredObject> {
    if listed.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    }
    let mut body = BytesMut::new();
    let mut md5s = Vec::with_capacity(listed.len() * 16);
    let mut previous = 0;
    let wanted = upload.template.checksum.as_ref();
    let mut part_digests = Vec::new();
    for (number, etag, sent) in listed {
        if *number <= previous {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ));
        }
        previous = *number;
        let part = upload.parts.get(number).ok_or_else(invalid_part)?;
        if etag
            .as_deref()
            .is_some_and(|e| e.trim_matches('"') != part.etag.trim_matches('"'))
        {
            return Err(invalid_part());
        }
        // Every part but the last must be at least 5 MiB, or S3 refuses to complete.
        if let (Some(wanted), Some(digest)) = (wanted, &part.checksum) {
            let expected = aws_smithy_types::base64::encode(digest);
            if wanted.kind == "COMPOSITE" && sent.as_deref() != Some(expected.as_str()) {
                return Err(s3_error!(
                    InvalidRequest,
                    "The upload was created using a {} checksum. The complete request must include the checksum for each part.",
                    wanted.algorithm.to_ascii_lowercase()
                ));
            }
            part_digests.push(digest.clone());
        }
        let last = listed.last().is_some_and(|l| l.0 == *number);
        if !last && part.body.len() < MIN_PART_SIZE {
            return Err(s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size."
            ));
        }
        body.extend_from_slice(&part.body);
        md5s.extend_from_slice(&Md5::digest(&part.body));
    }
    let count =
        i32::try_from(listed.len()).map_err(|_| s3_error!(InvalidRequest, "too many parts"))?;
    let body = body.freeze();
    let checksum = match wanted {
        Some(c) if c.kind == "COMPOSITE" => checksum::composite(&c.algorithm, &part_digests),
        Some(c) => checksum::full_object(&c.algorithm, &body),
        None => checksum::full_object("CRC64NVME", &body),
    };
    Ok(StoredObject {
        body,
        etag: format!("\"{}-{count}\"", hex::encode(Md5::digest(&md5s))),
        parts_count: Some(count),
        checksum,
        ..upload.template.clone()
    })
}

/// A part as CompleteMultipartUpload lists it: number, ETag, checksum (base64).
pub type Listed = (i32, Option<String>, Option<String>);

fn invalid_part() -> s3s::S3Error {
    s3_error!(
        InvalidPart,
        "One or more of the specified parts could not be found. The part may not have been uploaded, \
         or the specified entity tag may not match the part's entity tag."
    )
}

/// Parses a copy-source range `bytes=a-b` (inclusive) against an object of `size` bytes.
pub fn parse_copy_range(range: &str, size: usize) -> S3Result<std::ops::Range<usize>> {
    let bad = || {
        s3_error!(InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
    };
    let spec = range.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let first: usize = a.trim().parse().map_err(|_| bad())?;
    let last: usize = b.trim().parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    if last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok(first..last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(parts: &[&[u8]]) -> Upload {
        let mut map = BTreeMap::new();
        for (i, p) in parts.iter().enumerate() {
            map.insert(
                i as i32 + 1,
                Part {
                    body: Bytes::copy_from_slice(p),
                    etag: super::super::store::md5_etag(p),
                    last_modified: OffsetDateTime::UNIX_EPOCH,
                    checksum: None,
                },
            );
        }
        Upload {
            key: "k".into(),
            initiated: OffsetDateTime::UNIX_EPOCH,
            template: StoredObject::default(),
            parts: map,
        }
    }

    #[test]
    fn assembles_in_order_with_dash_n_etag() {
        let first = vec![b'a'; MIN_PART_SIZE];
        let up = upload(&[&first, b"cd"]);
        let obj = assemble(&up, &[(1, None, None), (2, None, None)]).unwrap();
        assert_eq!(obj.body.len(), MIN_PART_SIZE + 2);
        assert!(obj.body.ends_with(b"acd"));
        assert!(obj.etag.ends_with("-2\""));
        assert_eq!(obj.parts_count, Some(2));
    }

    #[test]
    fn a_part_below_5_mib_but_the_last_is_too_small() {
        let up = upload(&[b"ab", b"cd"]);
        let err = assemble(&up, &[(1, None, None), (2, None, None)]).unwrap_err();
        assert_eq!(err.code().as_str(), "EntityTooSmall");
        assert!(
            assemble(&up, &[(2, None, None)]).is_ok(),
            "the last part may be small"
        );
    }

    #[test]
    fn rejects_wrong_order_and_wrong_etag() {
        let up = upload(&[b"ab", b"cd"]);
        assert!(assemble(&up, &[(2, None, None), (1, None, None)]).is_err());
        assert!(assemble(&up, &[(1, Some("nope".into()), None)]).is_err());
        assert!(assemble(&up, &[(3, None, None)]).is_err());
    }

    #[test]
    fn copy_range_is_inclusive() {
        assert_eq!(parse_copy_range("bytes=0-4", 10).unwrap(), 0..5);
        assert!(parse_copy_range("bytes=5-10", 10).is_err());
        assert!(parse_copy_range("0-1", 10).is_err());
    }
}
