//! Why an object with findings is left as it is.

use serde::{Deserialize, Serialize};

/// Why an object with findings is not repaired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Encrypted with a customer key s3mend does not have.
    SseC,
    /// In an archive tier and not restored: CopyObject fails with InvalidObjectState.
    Archived,
    /// HEAD could not return some user metadata; REPLACE would destroy it.
    MissingMeta,
    /// The Expires header is not an HTTP date, so it could not be re-sent.
    UnparseableExpires,
    /// The Object Lock retain-until date could not be read back, so it could not be re-sent.
    UnparseableRetainUntil,
    /// A policy wants `gzip` on a body that does not start as gzip: the object would become
    /// undecodable.
    BodyNotGzip,
    /// A policy wants another coding with a magic number (zstd, deflate) that the body does not
    /// show.
    BodyMismatch,
    /// Owned by another account: a copy would change its owner.
    ForeignOwner,
    /// The run was stopped (Ctrl-C, SIGTERM, or a journal that could not be written) before
    /// this object's copy started.
    Interrupted,
    /// Asked on the terminal, the user did not confirm the repair.
    Declined,
}

impl SkipReason {
    pub const ALL: [SkipReason; 10] = [
        SkipReason::SseC,
        SkipReason::Archived,
        SkipReason::MissingMeta,
        SkipReason::UnparseableExpires,
        SkipReason::UnparseableRetainUntil,
        SkipReason::BodyNotGzip,
        SkipReason::BodyMismatch,
        SkipReason::ForeignOwner,
        SkipReason::Interrupted,
        SkipReason::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::SseC => "sse-c",
            SkipReason::Archived => "archived",
            SkipReason::MissingMeta => "missing-meta",
            SkipReason::UnparseableExpires => "unparseable-expires",
            SkipReason::UnparseableRetainUntil => "unparseable-retain-until",
            SkipReason::BodyNotGzip => "body-not-gzip",
            SkipReason::BodyMismatch => "body-mismatch",
            SkipReason::ForeignOwner => "foreign-owner",
            SkipReason::Interrupted => "interrupted",
            SkipReason::Declined => "declined",
        }
    }
}

impl std::str::FromStr for SkipReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SkipReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = SkipReason::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown skip reason '{s}' (known: {})", known.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_reasons_serialize_as_documented_and_parse_back() {
        for reason in SkipReason::ALL {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.as_str())
            );
            assert_eq!(reason.as_str().parse::<SkipReason>(), Ok(reason));
        }
        let err = "archive".parse::<SkipReason>().unwrap_err();
        assert!(err.contains("unknown skip reason 'archive'"), "{err}");
        assert!(err.contains("archived"), "{err}");
    }
}
