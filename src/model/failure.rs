//! What went wrong with one request, and what a run's requests cost.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The code s3mend gives a HEAD that found a delete marker (S3 sends none: HEAD has no body).
pub const DELETE_MARKER: &str = "DeleteMarker";

/// A failed S3 request: the S3 error code (or a code derived from the HTTP status or the kind
/// of transport failure), a message, and the HTTP status when there was a response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Failure {
    pub code: String,
    pub message: String,
    pub http_status: Option<u16>,
}

impl S3Failure {
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code.as_str(),
            "NotFound" | "NoSuchKey" | "NoSuchBucket"
        )
    }
}

#[cfg(test)]
impl S3Failure {
    /// A failure as a server would answer it.
    pub(crate) fn answered(code: &str, status: u16) -> Self {
        S3Failure {
            code: code.to_owned(),
            message: String::new(),
            http_status: Some(status),
        }
    }
}

impl fmt::Display for S3Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Why a listing could not go on: nothing after this point can be known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListingFailure {
    /// A request failed.
    Request(S3Failure),
    /// The server's answer cannot be a true listing (a page cut off, a token cycle, keys out of
    /// order): the reason, in one line.
    Damaged(String),
    /// An inventory read instead of a listing cannot be read to its end: why, in one line.
    Inventory(String),
}

impl fmt::Display for ListingFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListingFailure::Request(failure) => failure.fmt(f),
            ListingFailure::Damaged(why) => write!(f, "the listing is damaged: {why}"),
            ListingFailure::Inventory(why) => f.write_str(why),
        }
    }
}

/// What a run's S3 requests came to, as reports show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestCounts {
    /// S3 operations s3mend asked for.
    pub calls: u64,
    /// HTTP attempts the SDK made for them (retries included).
    pub attempts: u64,
    /// Attempts answered 503 SlowDown (or 429).
    pub throttled: u64,
    /// Attempts that failed otherwise (5xx, broken connections, timeouts).
    pub failed_attempts: u64,
    /// Times throttling cut the number of requests kept in flight (at most once per 100 ms).
    pub concurrency_cuts: u64,
    /// The fewest requests in flight it allowed: `--concurrency` unless throttling cut it.
    pub min_concurrency: u64,
}

impl RequestCounts {
    pub fn retries(&self) -> u64 {
        self.attempts.saturating_sub(self.calls)
    }
}
