//! The additional checksum a multipart rewrite must ask for: CopyObject keeps the source's
//! algorithm by itself, but CreateMultipartUpload gives the new object S3's default unless told
//! the algorithm and the type (`docs/s3-behaviour.md` §16). Pure.

use serde::Serialize;

use crate::model::ObjectHead;

/// What CreateMultipartUpload sends as `x-amz-checksum-algorithm` and `x-amz-checksum-type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MultipartChecksum {
    /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256`.
    pub algorithm: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
}

/// The checksum a multipart rewrite of `head` asks for: the source's algorithm, and its type
/// where a multipart upload can have it. S3 computes SHA-1 and SHA-256 of a multipart upload only
/// per part (COMPOSITE) and CRC64NVME only over the whole object (FULL_OBJECT); a CRC32 or CRC32C
/// keeps its type, COMPOSITE (a multipart upload's default) when HEAD named none. `None` when
/// HEAD showed no checksum (or was not asked for one).
pub fn multipart_checksum(head: &ObjectHead) -> Option<MultipartChecksum> {
    let algorithm = head.checksum_algorithm()?;
    let kind = match algorithm {
        "SHA1" | "SHA256" => "COMPOSITE",
        "CRC64NVME" => "FULL_OBJECT",
        _ => match head.checksum_type.as_deref() {
            Some("FULL_OBJECT") => "FULL_OBJECT",
            _ => "COMPOSITE",
        },
    };
    Some(MultipartChecksum {
        algorithm: algorithm.to_owned(),
        kind: kind.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(set: impl FnOnce(&mut ObjectHead), kind: Option<&str>) -> ObjectHead {
        let mut head = ObjectHead {
            checksum_type: kind.map(str::to_owned),
            checksum_mode: true,
            ..ObjectHead::new("k")
        };
        set(&mut head);
        head
    }

    #[test]
    fn the_algorithm_is_kept_and_the_type_is_one_a_multipart_upload_can_have() {
        let v = || Some("AAAA".to_owned());
        let cases: Vec<(ObjectHead, Option<(&str, &str)>)> = vec![
            (head(|_| {}, None), None),
            (
                head(|h| h.checksum_sha256 = v(), Some("FULL_OBJECT")),
                Some(("SHA256", "COMPOSITE")),
            ),
            (
                head(|h| h.checksum_sha256 = v(), Some("COMPOSITE")),
                Some(("SHA256", "COMPOSITE")),
            ),
            (
                head(|h| h.checksum_sha1 = v(), Some("FULL_OBJECT")),
                Some(("SHA1", "COMPOSITE")),
            ),
            (
                head(|h| h.checksum_crc64nvme = v(), Some("FULL_OBJECT")),
                Some(("CRC64NVME", "FULL_OBJECT")),
            ),
            (
                head(|h| h.checksum_crc32 = v(), Some("FULL_OBJECT")),
                Some(("CRC32", "FULL_OBJECT")),
            ),
            (
                head(|h| h.checksum_crc32c = v(), Some("COMPOSITE")),
                Some(("CRC32C", "COMPOSITE")),
            ),
            (
                head(|h| h.checksum_crc32c = v(), None),
                Some(("CRC32C", "COMPOSITE")),
            ),
        ];
        for (head, want) in cases {
            let got = multipart_checksum(&head);
            let got = got
                .as_ref()
                .map(|c| (c.algorithm.as_str(), c.kind.as_str()));
            assert_eq!(got, want, "{head:?}");
        }
    }
}
