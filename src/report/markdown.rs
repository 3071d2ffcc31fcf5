//! Markdown: the run's summary for any CI or a pull-request comment, and the GitHub step summary
//! (`github.rs`). Counts, findings per rule with their severity and how many fail the gate, and
//! the first keys of each group. Every value from the bucket is in a code span (`escape.rs`).

use std::io::{self, Write};

use super::digest::{Digest, Group};
use super::{escape, thousands, Gate, ObjectRow, ReportWriter, RunInfo, Summary};
use crate::rules::RuleId;

/// Example keys per group.
pub const EXAMPLES: usize = 10;

pub struct MarkdownWriter {
    out: Box<dyn Write + Send>,
    digest: Digest,
}

impl MarkdownWriter {
    pub fn new(out: Box<dyn Write + Send>, gate: Gate) -> Self {
        MarkdownWriter {
            out,
            digest: Digest::new(gate, EXAMPLES),
        }
    }
}

impl ReportWriter for MarkdownWriter {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()> {
        self.digest.add(row);
        Ok(())
    }

    fn finish(mut self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()> {
        self.out
            .write_all(render(&self.digest, summary, info).as_bytes())?;
        self.out.flush()
    }
}

/// The verdict of a run in a few words, as a heading ends.
pub fn verdict(digest: &Digest, summary: &Summary, info: &RunInfo) -> String {
    let findings = summary.with_findings;
    let undo = info.command == "undo";
    if info.stopped.is_some() {
        return "incomplete".to_owned();
    }
    let mut words = match &summary.fix {
        Some(fix) if fix.would_fix > 0 => format!(
            "dry run: {} would be {}",
            objects(fix.would_fix),
            if undo { "restored" } else { "repaired" }
        ),
        Some(fix) => {
            let left = fix.would_fix + fix.skipped + fix.conflicts + fix.failed;
            match (fix.fixed, left) {
                (0, 0) => "nothing to do".to_owned(),
                (fixed, 0) => format!(
                    "{} {}",
                    objects(fixed),
                    if undo { "restored" } else { "repaired" }
                ),
                (fixed, left) => format!("{} repaired, {} left", objects(fixed), thousands(left)),
            }
        }
        None if findings == 0 => "no findings".to_owned(),
        None => format!("{} with findings", objects(findings)),
    };
    if digest.failing > 0 {
        words.push_str(&format!(", {} fail the gate", thousands(digest.failing)));
    }
    if summary.errors > 0 {
        words.push_str(&format!(", {} errors", thousands(summary.errors)));
    }
    words
}

fn objects(n: u64) -> String {
    if n == 1 {
        "1 object".to_owned()
    } else {
        format!("{} objects", thousands(n))
    }
}

/// The whole summary, as Markdown.
pub fn render(digest: &Digest, summary: &Summary, info: &RunInfo) -> String {
    let mut md = String::new();
    let passed = digest.failing == 0 && summary.errors == 0 && info.stopped.is_none();
    let mark = if passed { "✅" } else { "❌" };
    md.push_str(&format!(
        "### {mark} s3mend {} {}: {}\n\n",
        info.command,
        escape::for_markdown(&info.target),
        verdict(digest, summary, info)
    ));
    let rules: Vec<&str> = info.rules.ids().iter().map(|r| r.as_str()).collect();
    md.push_str(&format!(
        "Rules: {}. Gate: `{}`.\n\n",
        rules.join(", "),
        digest.gate().describe()
    ));
    counts(&mut md, summary, digest, info.command == "undo");
    if let Some(why) = &info.stopped {
        md.push_str(&format!(
            "**Incomplete** ({}): the counts cover only part of the bucket.\n\n",
            escape::for_terminal(why)
        ));
    }
    if !digest.findings.is_empty() {
        md.push_str("#### Findings by rule\n\n");
        md.push_str("| rule | severity | header | objects | fail the gate |\n");
        md.push_str("|---|---|---|---:|---:|\n");
        for ((rule, header), group) in &digest.findings {
            md.push_str(&format!(
                "| {rule} | {} | {header} | {} | {} |\n",
                group.severity.unwrap_or_else(|| rule.severity()),
                thousands(group.group.count),
                thousands(group.group.failing)
            ));
        }
        md.push('\n');
        for ((rule, header), group) in &digest.findings {
            let severity = group.severity.unwrap_or_else(|| rule.severity());
            let title = match rule {
                RuleId::Policy => format!("{rule}: {header} ({severity})"),
                _ => format!("{rule} ({severity})"),
            };
            section(&mut md, &title, rule.explanation(), &group.group, true);
        }
    }
    for (reason, group) in &digest.skipped {
        section(
            &mut md,
            &format!("skipped: {reason}"),
            "not repaired, so nothing could be lost",
            group,
            false,
        );
    }
    if digest.unruled.count > 0 {
        section(
            &mut md,
            "left to do",
            "what the run was to do on these objects is not done",
            &digest.unruled,
            false,
        );
    }
    if digest.conflicts.count > 0 {
        section(
            &mut md,
            "conflicts",
            "changed by someone else after inspection; left as they are",
            &digest.conflicts,
            false,
        );
    }
    if digest.errors.count > 0 {
        section(
            &mut md,
            "errors",
            "could not be inspected, or the repair failed",
            &digest.errors,
            false,
        );
    }
    if !info.notes.is_empty() {
        for note in &info.notes {
            md.push_str(&format!("- {}\n", escape::for_terminal(note)));
        }
        md.push('\n');
    }
    md
}

fn counts(md: &mut String, summary: &Summary, digest: &Digest, undo: bool) {
    let (listed, clean, findings) = if undo {
        ("journalled", "already as before", "to restore")
    } else {
        ("listed", "clean", "with findings")
    };
    let mut head = vec![listed, clean, findings, "errors", "fail the gate"];
    let mut values = vec![
        summary.listed,
        summary.clean,
        summary.with_findings,
        summary.errors,
        digest.failing,
    ];
    if let Some(served) = summary.from_catalog {
        head.push("from the catalog");
        values.push(served);
    }
    if let Some(fix) = &summary.fix {
        let (fixed, would) = if undo {
            ("restored", "would restore")
        } else {
            ("fixed", "would fix")
        };
        head.extend([fixed, would, "skipped", "conflicts", "failed"]);
        values.extend([
            fix.fixed,
            fix.would_fix,
            fix.skipped,
            fix.conflicts,
            fix.failed,
        ]);
    }
    md.push_str(&format!("| {} |\n", head.join(" | ")));
    md.push_str(&format!("|{}\n", "---:|".repeat(head.len())));
    let values: Vec<String> = values.into_iter().map(thousands).collect();
    md.push_str(&format!("| {} |\n\n", values.join(" | ")));
}

/// A value in a code span; the words s3mend puts for no value, as words.
fn cell(value: &str) -> String {
    match value {
        "" => String::new(),
        "(absent)" | "(remove)" => value.to_owned(),
        _ => escape::for_markdown(value),
    }
}

/// One group: its title and count, what it means, and its first keys.
fn section(md: &mut String, title: &str, about: &str, group: &Group, findings: bool) {
    md.push_str(&format!("#### {title}: {}\n\n", objects(group.count)));
    md.push_str(&format!("{about}.\n\n"));
    if findings {
        md.push_str("| key | now | proposed | status |\n|---|---|---|---|\n");
    } else {
        md.push_str("| key | detail | status |\n|---|---|---|\n");
    }
    for (key, example) in &group.examples {
        let key = escape::for_markdown(key);
        let detail = cell(&example.detail);
        let status = if example.fails {
            format!("**{}**", example.status)
        } else {
            example.status.clone()
        };
        match &example.proposed {
            Some(proposed) if findings => md.push_str(&format!(
                "| {key} | {detail} | {} | {status} |\n",
                cell(proposed)
            )),
            _ => md.push_str(&format!("| {key} | {detail} | {status} |\n")),
        }
    }
    if group.more() > 0 {
        md.push_str(&format!(
            "\n… and {} more (every object is in the JSON report).\n",
            thousands(group.more())
        ));
    }
    md.push('\n');
}
