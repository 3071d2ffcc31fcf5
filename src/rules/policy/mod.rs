//! `policy`: the headers each key pattern must have, declared in a TOML file (`--policy`).
//!
//! A policy is a list of `[[match]]` blocks. The first block whose `keys` globs match an object's
//! key applies to it, and later blocks are not consulted (as hugo deploy's matchers and
//! s3deploy's routes work). A block sets headers (a string) or requires them absent (`false`);
//! every header that differs is one finding, with rule id `policy`. Where a block declares a
//! header, the built-in rules do not propose anything for it: the policy wins, and its finding
//! says which rules it overrode. `parse.rs` reads the file and refuses, before any request, what
//! S3 or a browser would not take.

mod parse;

use globset::GlobSet;

pub use parse::{load, parse, PolicyError};

use super::coding::Magic;
use super::{Finding, RuleId, Severity};
use crate::model::{date, Header, ObjectHead, SkipReason};

/// A parsed, validated policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The file it was read from, as given.
    pub path: String,
    pub blocks: Vec<Block>,
}

/// One `[[match]]` block.
#[derive(Clone, Debug)]
pub struct Block {
    /// Where the block starts in the file (1-based).
    pub line: usize,
    /// The globs, as written.
    pub keys: Vec<String>,
    matcher: GlobSet,
    /// What the block declares, in header order.
    pub sets: Vec<(Header, Want)>,
    /// The severity of the block's findings (`severity = "warning"`; error unless it says).
    pub severity: Severity,
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        (self.line, &self.keys, &self.sets, self.severity)
            == (other.line, &other.keys, &other.sets, other.severity)
    }
}

/// What a block declares for one header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// The header must have exactly this value.
    Value(String),
    /// The header must be absent.
    Absent,
}

impl Want {
    /// As the policy file would write it.
    pub fn to_toml(&self) -> String {
        match self {
            Want::Value(value) => format!("{value:?}"),
            Want::Absent => "false".to_owned(),
        }
    }
}

/// The field a policy file sets `header` with: `cache-control`, `metadata.team`.
pub fn field(header: &Header) -> String {
    match header {
        Header::Meta(name) => format!("metadata.{name}"),
        other => other.name().to_ascii_lowercase(),
    }
}

impl Policy {
    /// The block that applies to `key`, with its index: the first whose globs match.
    pub fn block_for(&self, key: &str) -> Option<(usize, &Block)> {
        self.blocks
            .iter()
            .enumerate()
            .find(|(_, block)| block.matcher.is_match(key))
    }

    /// What the block for `head`'s key declares that `head` does not have, one finding per
    /// header. With the body's first bytes known, a Content-Encoding the body contradicts is
    /// still reported, but marked so that a fix skips the object instead of making it
    /// undecodable.
    pub fn check(&self, head: &ObjectHead, body: Option<&[u8]>) -> Vec<Finding> {
        let Some((_, block)) = self.block_for(&head.key) else {
            return Vec::new();
        };
        block
            .sets
            .iter()
            .filter_map(|(header, want)| {
                let current = header.value(head);
                let proposed = match want {
                    Want::Value(value) if same(header, current, value) => return None,
                    Want::Value(value) => Some(value.clone()),
                    Want::Absent if current.is_none() => return None,
                    Want::Absent => None,
                };
                let mut finding = Finding::new(RuleId::Policy, header.clone(), current, proposed);
                finding.severity = block.severity;
                if *header == Header::ContentEncoding {
                    finding.blocked = body.and_then(|body| contradicted(want, body));
                }
                Some(finding)
            })
            .collect()
    }

    /// Whether the block for `key` declares `header` (and so overrides the built-in rules on it).
    pub fn declares(&self, key: &str, header: &Header) -> bool {
        self.block_for(key)
            .is_some_and(|(_, block)| block.sets.iter().any(|(h, _)| h == header))
    }
}

/// Whether `current` already is what the policy wants: Expires compares instants, so the same
/// date in another form is not a finding.
fn same(header: &Header, current: Option<&str>, wanted: &str) -> bool {
    match (header, current) {
        (Header::Expires, Some(current)) => {
            date::parse_http_date(current)
                .is_some_and(|at| Some(at) == date::parse_http_date(wanted))
                || current == wanted
        }
        (_, current) => current == Some(wanted),
    }
}

/// Why a wanted Content-Encoding would make this body undecodable, if it would.
fn contradicted(want: &Want, body: &[u8]) -> Option<SkipReason> {
    let Want::Value(value) = want else {
        return None;
    };
    let shown = Magic::of_body(body);
    value
        .split(',')
        .filter_map(Magic::of_token)
        .find(|magic| Some(*magic) != shown)
        .map(|magic| match magic {
            Magic::Gzip => SkipReason::BodyNotGzip,
            Magic::Zstd | Magic::Zlib => SkipReason::BodyMismatch,
        })
}

#[cfg(test)]
mod tests;
