//! The gate: which objects fail a run (exit 1), from `--fail-on` and `--accept-skips`. A pure
//! decision over report rows, so every format and the exit code agree on it.
//!
//! An object fails when something is left to do on it (a scan's finding, a dry run's plan, a
//! skip, a conflict, an undo not done) and a finding on it is at least as severe as `--fail-on`,
//! unless it was skipped for a reason `--accept-skips` names. An object whose metadata could not
//! be read without a customer key (SSE-C) never fails: nothing is known to be wrong with it. An
//! undo's rows have no findings: what is left of an undo fails unless `--fail-on never`. Objects
//! that could not be inspected or repaired are errors (exit 2) whatever the gate says.

use clap::ValueEnum;

use super::{ObjectRow, Status};
use crate::model::SkipReason;
use crate::rules::{Finding, Severity};

/// `--fail-on`: the least severe finding that fails the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Only error-level findings fail the run; warnings are reported and exit 0.
    Error,
    /// Any finding fails the run (as before there were severities).
    #[default]
    Warning,
    /// Findings never fail the run; errors still exit 2.
    Never,
}

impl FailOn {
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Error => "error",
            FailOn::Warning => "warning",
            FailOn::Never => "never",
        }
    }

    /// Whether a finding of `severity` fails the run.
    pub fn fails(self, severity: Severity) -> bool {
        match self {
            FailOn::Error => severity >= Severity::Error,
            FailOn::Warning => true,
            FailOn::Never => false,
        }
    }
}

/// `--fail-on` and `--accept-skips` together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gate {
    pub fail_on: FailOn,
    /// Skip reasons that do not fail the run (e.g. `archived`: a known GLACIER object).
    pub accept_skips: Vec<SkipReason>,
}

impl Gate {
    /// Whether `row` fails the run.
    pub fn fails(&self, row: &ObjectRow) -> bool {
        if !self.open(row) {
            return false;
        }
        if row.findings.is_empty() {
            // An undo's entry: no rule, so no severity.
            return self.fail_on != FailOn::Never;
        }
        row.findings.iter().any(|f| self.fail_on.fails(f.severity))
    }

    /// Whether `finding`, one of `row`'s, fails the run.
    pub fn fails_finding(&self, row: &ObjectRow, finding: &Finding) -> bool {
        self.open(row) && self.fail_on.fails(finding.severity)
    }

    /// Whether something is left to do on `row` that the gate may count.
    fn open(&self, row: &ObjectRow) -> bool {
        match row.status {
            Status::Finding | Status::WouldFix | Status::Conflict | Status::WouldRestore => true,
            Status::Skipped => match row.skip {
                Some(SkipReason::SseC) => false,
                Some(reason) => !self.accept_skips.contains(&reason),
                None => true,
            },
            Status::Error | Status::Fixed | Status::Gone | Status::Restored => false,
        }
    }

    /// How the gate reads, for reports: `--fail-on warning`, `--fail-on error, accepting
    /// skips: archived`.
    pub fn describe(&self) -> String {
        let mut text = format!("--fail-on {}", self.fail_on.as_str());
        if !self.accept_skips.is_empty() {
            let reasons: Vec<&str> = self.accept_skips.iter().map(|r| r.as_str()).collect();
            text.push_str(&format!(", accepting skips: {}", reasons.join(", ")));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Header;
    use crate::rules::RuleId;

    fn finding(rule: RuleId) -> Finding {
        Finding::new(rule, Header::ContentType, None, Some("text/html".into()))
    }

    fn row(status: Status, rules: &[RuleId], skip: Option<SkipReason>) -> ObjectRow {
        ObjectRow {
            skip,
            ..ObjectRow::new(
                "k",
                None,
                None,
                status,
                rules.iter().map(|r| finding(*r)).collect(),
            )
        }
    }

    fn gate(fail_on: FailOn, accept: &[SkipReason]) -> Gate {
        Gate {
            fail_on,
            accept_skips: accept.to_vec(),
        }
    }

    #[test]
    fn a_finding_fails_by_its_severity() {
        let warning = row(Status::Finding, &[RuleId::ContentType], None);
        let error = row(Status::Finding, &[RuleId::ContentEncoding], None);
        let both = row(
            Status::Finding,
            &[RuleId::ContentEncoding, RuleId::ContentType],
            None,
        );
        for (fail_on, fails_warning, fails_error) in [
            (FailOn::Warning, true, true),
            (FailOn::Error, false, true),
            (FailOn::Never, false, false),
        ] {
            let g = gate(fail_on, &[]);
            assert_eq!(g.fails(&warning), fails_warning, "{fail_on:?}");
            assert_eq!(g.fails(&error), fails_error, "{fail_on:?}");
            assert_eq!(g.fails(&both), fails_error, "{fail_on:?}");
            assert_eq!(
                g.fails_finding(&both, &both.findings[1]),
                fails_warning,
                "{fail_on:?}"
            );
        }
        assert_eq!(FailOn::default(), FailOn::Warning);
    }

    #[test]
    fn only_what_is_left_to_do_can_fail() {
        let g = Gate::default();
        for status in [Status::Finding, Status::WouldFix, Status::Conflict] {
            assert!(
                g.fails(&row(status, &[RuleId::ContentType], None)),
                "{status:?}"
            );
        }
        for status in [Status::Fixed, Status::Gone, Status::Error, Status::Restored] {
            assert!(
                !g.fails(&row(status, &[RuleId::ContentType], None)),
                "{status:?}"
            );
        }
        // An undo's rows have no findings.
        assert!(g.fails(&row(Status::WouldRestore, &[], None)));
        assert!(!gate(FailOn::Never, &[]).fails(&row(Status::WouldRestore, &[], None)));
    }

    #[test]
    fn accepted_skips_pass_and_sse_c_never_fails() {
        let archived = row(
            Status::Skipped,
            &[RuleId::ContentEncoding],
            Some(SkipReason::Archived),
        );
        let foreign = row(
            Status::Skipped,
            &[RuleId::ContentEncoding],
            Some(SkipReason::ForeignOwner),
        );
        let sse_c = row(Status::Skipped, &[], Some(SkipReason::SseC));
        let plain = Gate::default();
        assert!(plain.fails(&archived));
        assert!(plain.fails(&foreign));
        assert!(!plain.fails(&sse_c));
        let accepting = gate(FailOn::Warning, &[SkipReason::Archived]);
        assert!(!accepting.fails(&archived));
        assert!(!accepting.fails_finding(&archived, &archived.findings[0]));
        assert!(accepting.fails(&foreign));
        assert_eq!(
            accepting.describe(),
            "--fail-on warning, accepting skips: archived"
        );
        assert_eq!(gate(FailOn::Error, &[]).describe(), "--fail-on error");
    }
}
