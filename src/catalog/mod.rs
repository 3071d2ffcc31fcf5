//! The catalog (`--catalog PATH`): what a complete run saw of every object it inspected, so the
//! next run HEADs only what the listing shows changed.
//!
//! The file is gzip-compressed JSON Lines, readable without s3mend
//! (`zcat site.catalog.jsonl.gz | jq`, or DuckDB's `read_json`). Its first line is a [`Header`]
//! naming the endpoint, bucket and prefix it describes; each further line is an [`Entry`], in key
//! order, as the listing is. The next run merges its listing with the file in one pass
//! (`read.rs`): an object whose listed ETag, size and last-modified equal the entry's is not
//! HEADed, its rules run on the entry's headers (and the first bytes the sniff kept), so a
//! changed rule set or policy still applies. The new file is written beside the old one as
//! results arrive, reordered into key order (`write.rs`), and replaces it only when the run is
//! complete.
//!
//! Pure here: the format and the one decision, [`Entry::unchanged`]. A fix never writes from the
//! catalog: objects it serves are HEADed again before any copy (`repair`).

mod read;
mod write;

use serde::{Deserialize, Serialize};

pub use read::Reader;
pub use write::Writer;

use crate::model::{ListedObject, ObjectHead};
use crate::outcome::{Inspected, Outcome, Repaired};
use crate::rules::Finding;

/// What the first line of a catalog says.
pub const FORMAT: &str = "s3mend-catalog";
pub const VERSION: u32 = 1;

/// The first line: which listing the catalog describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The endpoint URL, or `None` for AWS's own.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub prefix: String,
    /// When the run that wrote it finished, RFC 3339.
    pub written_at: String,
}

/// The scope a catalog must have to be used: another one is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub endpoint: Option<String>,
    pub bucket: String,
    pub prefix: String,
}

impl Header {
    pub fn new(scope: &Scope) -> Header {
        let now = time::OffsetDateTime::now_utc();
        Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            endpoint: scope.endpoint.clone(),
            bucket: scope.bucket.clone(),
            prefix: scope.prefix.clone(),
            written_at: crate::model::date::rfc3339(now),
        }
    }

    /// Why this catalog cannot serve `scope`, if it cannot.
    pub fn mismatch(&self, scope: &Scope) -> Option<String> {
        let describe = |endpoint: &Option<String>, bucket: &str, prefix: &str| {
            format!(
                "s3://{bucket}/{prefix} at {}",
                endpoint.as_deref().unwrap_or("AWS")
            )
        };
        let ours = describe(&self.endpoint, &self.bucket, &self.prefix);
        let theirs = describe(&scope.endpoint, &scope.bucket, &scope.prefix);
        (ours != theirs).then(|| format!("it is for {ours}, not {theirs}"))
    }
}

/// One object as a complete run last saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    /// The listing's ETag, size and last-modified: what the next listing is compared with.
    pub etag: Option<String>,
    pub size: i64,
    pub last_modified: Option<String>,
    /// The HEAD snapshot (absent fields left out).
    pub head: ObjectHead,
    /// The first bytes of the body, hex, when the rules read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_start: Option<String>,
    /// `clean`, or `findings` with the rules that found something (informative: the next run
    /// runs the rules again).
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl Entry {
    /// The entry for an object a run inspected, or `None` when it has nothing a next run could
    /// trust (its HEAD failed).
    pub fn of(
        listed: &ListedObject,
        head: &ObjectHead,
        findings: &[Finding],
        body_start: Option<&[u8]>,
    ) -> Entry {
        let mut rules: Vec<String> = findings.iter().map(|f| f.rule.as_str().into()).collect();
        rules.dedup();
        Entry {
            key: listed.key.clone(),
            etag: listed.etag.clone(),
            size: listed.size,
            last_modified: listed.last_modified.clone(),
            head: head.clone(),
            body_start: body_start.map(hex::encode),
            verdict: if findings.is_empty() {
                "clean"
            } else {
                "findings"
            }
            .to_owned(),
            rules,
        }
    }

    /// The entry for an inspected object (a scan).
    pub fn of_inspected(inspected: &Inspected) -> Option<Entry> {
        let head = inspected.outcome.as_ref().ok()?;
        let body_start = inspected.body_start.as_deref();
        Some(Entry::of(
            &inspected.listed,
            head,
            &inspected.findings,
            body_start,
        ))
    }

    /// The entry for an object after the repair stage: none for an object the run rewrote (its
    /// new state is not what was inspected; the next run HEADs it once).
    pub fn of_repaired(repaired: &Repaired) -> Option<Entry> {
        if matches!(repaired.outcome, Outcome::Fixed { .. }) {
            return None;
        }
        let head = repaired.head.as_ref()?;
        let body_start = repaired.body_start.as_deref();
        Some(Entry::of(
            &repaired.listed,
            head,
            &repaired.findings,
            body_start,
        ))
    }

    /// Whether `listed` shows the object as this entry recorded it: the same ETag, size and
    /// last-modified (an entry or a listing without a last-modified is never unchanged).
    pub fn unchanged(&self, listed: &ListedObject) -> bool {
        self.key == listed.key
            && self.etag.is_some()
            && self.etag == listed.etag
            && self.size == listed.size
            && self.last_modified.is_some()
            && self.last_modified == listed.last_modified
    }

    /// The first bytes the entry keeps, if any (and if they are hex).
    pub fn body_start(&self) -> Option<Vec<u8>> {
        self.body_start.as_deref().and_then(|h| hex::decode(h).ok())
    }
}

#[cfg(test)]
mod tests;
