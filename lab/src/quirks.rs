//! Other stores' departures from S3 that s3mend must survive, played per bucket: moto ignores the
//! copy-source conditions, and stores that predate CopyObject's destination `If-Match` (added to
//! S3 in 2025) refuse it.
//!
//! Only tests stage these, through the setters on [`LabHandle`](super::LabHandle).

use s3s::{s3_error, S3Result};

/// A bucket's departures from S3; none by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Like moto: `x-amz-copy-source-if-*` on CopyObject and UploadPartCopy are ignored.
    pub copy_source_conditions_ignored: bool,
    /// Like older S3-compatible stores: CopyObject with a destination `If-Match` is refused with
    /// 501 NotImplemented.
    pub copy_if_match_unsupported: bool,
}

impl Quirks {
    /// Whether a CopyObject into the bucket may send a destination `If-Match`.
    pub fn check_copy_if_match(self) -> S3Result<()> {
        if self.copy_if_match_unsupported {
            return Err(s3_error!(
                NotImplemented,
                "A header you provided implies functionality that is not implemented"
            ));
        }
        Ok(())
    }
}
