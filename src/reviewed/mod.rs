//! A reviewed plan: the file `fix --dry-run --plan PATH` writes and `s3mend apply PATH` performs.
//!
//! JSON Lines, readable with jq or any editor: a header naming where and how the plan was made
//! (endpoint, region, addressing, profile, bucket, prefix, rules, policy), then one line per
//! object to repair (the HEAD snapshot the plan was made on, its findings, and the complete
//! request the copy will send), then a trailer with the count, so that a cut file is never taken
//! for a whole one. `write.rs` writes it beside its path and renames it into place only when the
//! dry run was complete; `read.rs` checks all of it before apply sends anything.

mod read;
mod write;

use serde::{Deserialize, Serialize};

pub use read::{open, Lines};
pub use write::Writer;

use crate::journal::Origin;
use crate::model::ObjectHead;
use crate::rules::Finding;

/// The `format` of a plan's header.
pub const FORMAT: &str = "s3mend-plan";
/// The version of the format this build reads and writes.
pub const VERSION: u32 = 1;

/// The first line: where and how the plan was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// Where the dry run read (apply writes there and nowhere else).
    pub origin: Origin,
    pub bucket: String,
    pub prefix: String,
    /// The rules of the dry run, by id.
    pub rules: Vec<String>,
    /// The `--policy` file, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub written_at: String,
}

/// One object to repair, as reviewed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub key: String,
    /// What HEAD showed when the plan was made: apply repairs the object only if it still is
    /// exactly this.
    pub snapshot: ObjectHead,
    pub findings: Vec<Finding>,
    /// The complete request the copy sends (`plan::Plan` as JSON: copy source, condition,
    /// every header, every change, the ACL grants). Apply makes its plan again on the same
    /// snapshot and findings, and writes only if it is exactly this.
    pub plan: serde_json::Value,
}

/// The last line: how many objects the plan has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    pub end: End,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub objects: u64,
}

#[cfg(test)]
mod tests;
