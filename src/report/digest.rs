//! A run's findings in groups, for the summary formats (markdown, the GitHub step summary,
//! JUnit): per rule and header a count, how many fail the gate, and the alphabetically first
//! keys, so that memory stays bounded whatever the bucket's size, and the output does not depend
//! on the order results arrive in.

use std::collections::BTreeMap;

use super::{escape, Gate, ObjectRow, Status};
use crate::model::Header;
use crate::rules::{RuleId, Severity};

/// One example key of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// The header's value now, or the error or reason.
    pub detail: String,
    /// A finding's proposal (`(remove)` for removing the header).
    pub proposed: Option<String>,
    /// What became of the object: `finding`, `fixed`, `skipped: archived`…
    pub status: String,
    /// Whether this example fails the gate.
    pub fails: bool,
}

/// A count and the alphabetically first keys.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub count: u64,
    /// Of `count`, the objects that fail the gate.
    pub failing: u64,
    pub examples: BTreeMap<String, Example>,
    capacity: usize,
}

impl Group {
    /// A group that keeps the first `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        Group {
            capacity,
            ..Group::default()
        }
    }

    /// Counts `key`, and keeps it (with its example) if it is among the first.
    pub fn add(&mut self, key: &str, example: impl FnOnce() -> Example, fails: bool) {
        self.count += 1;
        self.failing += u64::from(fails);
        let full = self.examples.len() >= self.capacity;
        if full
            && self
                .examples
                .keys()
                .next_back()
                .is_some_and(|last| key >= last.as_str())
        {
            return;
        }
        self.examples.insert(key.to_owned(), example());
        if self.examples.len() > self.capacity {
            self.examples.pop_last();
        }
    }

    /// How many objects are counted but not among the examples.
    pub fn more(&self) -> u64 {
        self.count - self.examples.len() as u64
    }
}

/// A rule's findings on one header: a policy sets several headers, each its own group.
#[derive(Clone, Debug, Default)]
pub struct RuleGroup {
    /// The worst severity among its findings.
    pub severity: Option<Severity>,
    pub group: Group,
}

/// What a run's rows add up to, grouped.
pub struct Digest {
    gate: Gate,
    capacity: usize,
    /// Every finding of every row that has one (fixed, skipped and in conflict too), by rule
    /// and header.
    pub findings: BTreeMap<(RuleId, Header), RuleGroup>,
    /// Skipped objects, by reason.
    pub skipped: BTreeMap<String, Group>,
    pub conflicts: Group,
    /// Objects that could not be inspected or repaired.
    pub errors: Group,
    /// Objects left to do that no rule found anything on (an undo's entries), by status.
    pub unruled: Group,
    /// Objects that fail the gate.
    pub failing: u64,
}

impl Digest {
    /// A digest keeping `capacity` example keys per group.
    pub fn new(gate: Gate, capacity: usize) -> Self {
        Digest {
            gate,
            capacity,
            findings: BTreeMap::new(),
            skipped: BTreeMap::new(),
            conflicts: Group::with_capacity(capacity),
            errors: Group::with_capacity(capacity),
            unruled: Group::with_capacity(capacity),
            failing: 0,
        }
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    pub fn add(&mut self, row: &ObjectRow) {
        let key = escape::for_terminal(&row.key).into_owned();
        let fails = self.gate.fails(row);
        self.failing += u64::from(fails);
        let status = match (&row.status, &row.reason) {
            (Status::Skipped, Some(reason)) => format!("skipped: {reason}"),
            (status, _) => status.as_str().to_owned(),
        };
        let reason = || escape::value(&row.reason, "");
        if row.findings.is_empty() && fails {
            let example = || Example {
                detail: reason(),
                proposed: None,
                status: status.clone(),
                fails,
            };
            self.unruled.add(&key, example, fails);
        }
        for finding in &row.findings {
            let fails = self.gate.fails_finding(row, finding);
            let capacity = self.capacity;
            let group = self
                .findings
                .entry((finding.rule, finding.header.clone()))
                .or_insert_with(|| RuleGroup {
                    severity: None,
                    group: Group::with_capacity(capacity),
                });
            group.severity = group.severity.max(Some(finding.severity));
            group.group.add(
                &key,
                || Example {
                    detail: escape::value(&finding.current, "(absent)"),
                    proposed: Some(escape::value(&finding.proposed, "(remove)")),
                    status: status.clone(),
                    fails,
                },
                fails,
            );
        }
        let example = |detail: String| Example {
            detail,
            proposed: None,
            status: status.clone(),
            fails,
        };
        match row.status {
            Status::Skipped => {
                let capacity = self.capacity;
                self.skipped
                    .entry(reason())
                    .or_insert_with(|| Group::with_capacity(capacity))
                    .add(&key, || example(String::new()), fails);
            }
            Status::Conflict => self.conflicts.add(&key, || example(reason()), fails),
            Status::Error => {
                let error = row
                    .error
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                let detail = escape::for_terminal(&error).into_owned();
                self.errors.add(&key, || example(detail), false);
            }
            Status::Finding
            | Status::Fixed
            | Status::WouldFix
            | Status::Gone
            | Status::Restored
            | Status::WouldRestore => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SkipReason;
    use crate::report::FailOn;
    use crate::rules::Finding;

    fn row(key: &str, status: Status, findings: Vec<Finding>) -> ObjectRow {
        ObjectRow::new(key, None, None, status, findings)
    }

    fn encoding() -> Finding {
        Finding::new(
            RuleId::ContentEncoding,
            Header::ContentEncoding,
            Some("UTF-8"),
            None,
        )
    }

    fn content_type() -> Finding {
        Finding::new(
            RuleId::ContentType,
            Header::ContentType,
            None,
            Some("text/html".into()),
        )
    }

    #[test]
    fn groups_count_everything_and_keep_the_first_keys() {
        let gate = Gate {
            fail_on: FailOn::Error,
            accept_skips: vec![SkipReason::Archived],
        };
        let mut digest = Digest::new(gate, 2);
        for key in ["d", "c", "b\u{1b}[2J", "a"] {
            digest.add(&row(key, Status::Finding, vec![encoding(), content_type()]));
        }
        digest.add(&ObjectRow {
            reason: Some("archived".into()),
            skip: Some(SkipReason::Archived),
            ..row("z", Status::Skipped, vec![encoding()])
        });
        let ce = &digest.findings[&(RuleId::ContentEncoding, Header::ContentEncoding)];
        assert_eq!(ce.severity, Some(Severity::Error));
        assert_eq!(
            (ce.group.count, ce.group.failing),
            (5, 4),
            "the accepted skip passes"
        );
        let keys: Vec<&String> = ce.group.examples.keys().collect();
        assert_eq!(keys, ["a", "b\\u{1b}[2J"], "escaped, first two");
        assert_eq!(ce.group.more(), 3);
        assert_eq!(ce.group.examples["a"].proposed.as_deref(), Some("(remove)"));
        let ct = &digest.findings[&(RuleId::ContentType, Header::ContentType)];
        assert_eq!(ct.severity, Some(Severity::Warning));
        assert_eq!((ct.group.count, ct.group.failing), (4, 0));
        assert_eq!(ct.group.examples["a"].detail, "(absent)");
        assert_eq!(digest.skipped["archived"].count, 1);
        assert_eq!(
            digest.skipped["archived"].examples["z"].status,
            "skipped: archived"
        );
        assert_eq!(digest.failing, 4);
        assert_eq!(digest.unruled.count, 0);
        // A row left to do that no rule found anything on has a group of its own.
        digest.add(&row("u", Status::WouldRestore, Vec::new()));
        assert_eq!((digest.unruled.count, digest.unruled.failing), (1, 1));
        assert_eq!(digest.unruled.examples["u"].status, "would-restore");
    }
}
