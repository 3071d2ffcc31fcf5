//! Additional checksums as S3 keeps them (`docs/s3-behaviour.md` §16): an algorithm, a type
//! (FULL_OBJECT: over the whole body; COMPOSITE: over the parts' checksums, `-N` appended) and
//! a value, stored per object and shown by HEAD only in checksum mode.

use md5::Digest as _;
use sha2::Digest as _;

/// An object's additional checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checksum {
    /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256`.
    pub algorithm: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
    /// Base64 of the digest (with `-N` for a composite of N parts).
    pub value: String,
}

/// The raw digest of `bytes` under `algorithm`; `None` for an unknown algorithm.
pub fn digest(algorithm: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    Some(match algorithm {
        "CRC32" => (crc(0xEDB8_8320, 32, bytes) as u32).to_be_bytes().to_vec(),
        "CRC32C" => (crc(0x82F6_3B78, 32, bytes) as u32).to_be_bytes().to_vec(),
        "CRC64NVME" => crc(0x9A6C_9329_AC4B_C9B5, 64, bytes).to_be_bytes().to_vec(),
        "SHA1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA256" => sha2::Sha256::digest(bytes).to_vec(),
        _ => return None,
    })
}

/// A reflected CRC of `width` bits (init and final XOR all ones), table-driven.
fn crc(poly: u64, width: u32, bytes: &[u8]) -> u64 {
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1 << width) - 1
    };
    let mut table = [0u64; 256];
    for (i, entry) in table.iter_mut().enumerate() {
        let mut c = i as u64;
        for _ in 0..8 {
            c = if c & 1 == 1 { (c >> 1) ^ poly } else { c >> 1 };
        }
        *entry = c;
    }
    let mut c = mask;
    for &b in bytes {
        c = table[((c ^ u64::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    (c ^ mask) & mask
}

/// The FULL_OBJECT checksum of `body`.
pub fn full_object(algorithm: &str, body: &[u8]) -> Option<Checksum> {
    Some(Checksum {
        algorithm: algorithm.to_owned(),
        kind: "FULL_OBJECT".to_owned(),
        value: aws_smithy_types::base64::encode(digest(algorithm, body)?),
    })
}

/// The COMPOSITE checksum of parts whose raw digests are `parts`.
pub fn composite(algorithm: &str, parts: &[Vec<u8>]) -> Option<Checksum> {
    let joined: Vec<u8> = parts.concat();
    Some(Checksum {
        algorithm: algorithm.to_owned(),
        kind: "COMPOSITE".to_owned(),
        value: format!(
            "{}-{}",
            aws_smithy_types::base64::encode(digest(algorithm, &joined)?),
            parts.len()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crcs_have_their_check_values() {
        let check = b"123456789";
        assert_eq!(
            digest("CRC32", check).unwrap(),
            0xCBF4_3926u32.to_be_bytes()
        );
        assert_eq!(
            digest("CRC32C", check).unwrap(),
            0xE306_9283u32.to_be_bytes()
        );
        assert_eq!(
            digest("CRC64NVME", check).unwrap(),
            0xAE8B_1486_0A79_9888u64.to_be_bytes()
        );
        assert_eq!(digest("MD5", check), None);
    }

    #[test]
    fn a_composite_names_its_part_count() {
        let parts = vec![
            digest("SHA256", b"a").unwrap(),
            digest("SHA256", b"b").unwrap(),
        ];
        let c = composite("SHA256", &parts).unwrap();
        assert!(c.value.ends_with("-2"), "{c:?}");
        assert_eq!(c.kind, "COMPOSITE");
        assert_ne!(c.value, full_object("SHA256", b"ab").unwrap().value);
    }
}
