//! What the confirmation question shows before it asks: how many objects each rule will repair,
//! and each distinct change with how many objects it applies to, so that the answer is given
//! knowing what will be written.

use std::collections::BTreeMap;

use super::{escape, thousands};
use crate::model::Header;
use crate::rules::{Finding, RuleId, Severity};

/// Distinct changes shown per rule; the rest are counted.
const CHANGES: usize = 5;

/// One rule's part of the repairs.
#[derive(Default)]
struct RuleCount {
    objects: u64,
    severity: Option<Severity>,
    /// (header, now, proposed) → objects.
    changes: BTreeMap<(Header, Option<String>, Option<String>), u64>,
}

/// The lines shown before asking to repair the objects whose findings are `objects`.
pub fn lines<'a>(objects: impl IntoIterator<Item = &'a [Finding]>) -> Vec<String> {
    let mut by_rule: BTreeMap<RuleId, RuleCount> = BTreeMap::new();
    for findings in objects {
        let mut rules: Vec<RuleId> = findings.iter().map(|f| f.rule).collect();
        rules.dedup();
        for rule in rules {
            by_rule.entry(rule).or_default().objects += 1;
        }
        for f in findings {
            let count = by_rule.entry(f.rule).or_default();
            count.severity = count.severity.max(Some(f.severity));
            let change = (f.header.clone(), f.current.clone(), f.proposed.clone());
            *count.changes.entry(change).or_default() += 1;
        }
    }
    let mut lines = Vec::new();
    for (rule, count) in by_rule {
        let severity = count.severity.unwrap_or_else(|| rule.severity());
        lines.push(format!(
            "  {rule} [{severity}]: {} {}",
            thousands(count.objects),
            if count.objects == 1 {
                "object"
            } else {
                "objects"
            }
        ));
        let mut changes: Vec<_> = count.changes.into_iter().collect();
        // The commonest first; equal ones in header and value order.
        changes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let described: Vec<(String, u64)> = changes
            .iter()
            .take(CHANGES)
            .map(|((header, now, proposed), n)| (describe(header, now, proposed), *n))
            .collect();
        let width = described
            .iter()
            .map(|(d, _)| d.chars().count())
            .max()
            .unwrap_or(0);
        for (description, n) in described {
            lines.push(format!("    {description:<width$}  × {}", thousands(n)));
        }
        if changes.len() > CHANGES {
            let rest: u64 = changes[CHANGES..].iter().map(|(_, n)| n).sum();
            lines.push(format!(
                "    … and {} other changes ({} findings)",
                changes.len() - CHANGES,
                thousands(rest)
            ));
        }
    }
    lines
}

fn describe(header: &Header, now: &Option<String>, proposed: &Option<String>) -> String {
    format!(
        "{header} {} → {}",
        escape::value(now, "(absent)"),
        escape::value(proposed, "(remove)")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoding(now: &str, proposed: Option<&str>) -> Finding {
        Finding::new(
            RuleId::ContentEncoding,
            Header::ContentEncoding,
            Some(now),
            proposed.map(str::to_owned),
        )
    }

    #[test]
    fn rules_count_objects_and_each_change_its_findings() {
        let utf8 = vec![encoding("UTF-8", None)];
        let ansi = vec![encoding("ANSI_X3.4-1968", None)];
        let both = vec![
            encoding("gzip, UTF-8", Some("gzip")),
            Finding::new(
                RuleId::ContentType,
                Header::ContentType,
                None,
                Some("text/css".into()),
            ),
        ];
        let objects = [&utf8, &utf8, &ansi, &both];
        let lines = lines(objects.iter().map(|f| f.as_slice()));
        assert_eq!(
            lines,
            [
                "  content-encoding [error]: 4 objects",
                "    Content-Encoding UTF-8 → (remove)           × 2",
                "    Content-Encoding ANSI_X3.4-1968 → (remove)  × 1",
                "    Content-Encoding gzip, UTF-8 → gzip         × 1",
                "  content-type [warning]: 1 object",
                "    Content-Type (absent) → text/css  × 1",
            ]
        );
    }

    #[test]
    fn many_changes_are_summed_up_and_values_escaped() {
        let findings: Vec<Vec<Finding>> = (0..8)
            .map(|i| vec![encoding(&format!("x{i}\u{1b}"), None)])
            .collect();
        let lines = lines(findings.iter().map(Vec::as_slice));
        assert_eq!(lines.len(), 1 + CHANGES + 1, "{lines:?}");
        assert_eq!(
            lines.last().unwrap(),
            "    … and 3 other changes (3 findings)"
        );
        assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "{lines:?}");
    }
}
