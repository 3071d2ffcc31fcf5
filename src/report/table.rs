//! The table: summary counts, then findings grouped by rule with a few example keys, for people.
//! Examples are the alphabetically first keys, so the table does not depend on timing. Whatever
//! comes from the bucket is shown with its control characters escaped (`escape.rs`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use console::Style;

use super::digest::{Example, Group};
use super::{escape, layout, thousands, ObjectRow, ReportWriter, RunInfo, Status, Summary};
use crate::model::Header;
use crate::rules::{RuleId, Severity};

/// Example keys shown per group.
const EXAMPLES: usize = 10;

pub struct TableWriter {
    out: Box<dyn Write + Send>,
    color: bool,
    /// Columns to fit the groups' lines in (`layout.rs`).
    width: usize,
    /// Findings by rule and header: a policy sets several headers, each its own group.
    by_rule: BTreeMap<(RuleId, Header), Group>,
    /// The worst severity of each group's findings (a policy's blocks choose theirs).
    severities: BTreeMap<(RuleId, Header), Severity>,
    /// Fix: skipped objects by reason, and conflicts.
    skipped: BTreeMap<String, Group>,
    conflicts: Group,
    gone: Group,
    errors: Group,
    /// Example keys per group: the first ten, or all with `--all-rows`.
    examples: usize,
}

impl TableWriter {
    pub fn new(out: Box<dyn Write + Send>, color: bool) -> Self {
        Self::with_width(out, color, layout::stdout_width())
    }

    pub fn with_width(out: Box<dyn Write + Send>, color: bool, width: usize) -> Self {
        TableWriter {
            out,
            color,
            width,
            by_rule: BTreeMap::new(),
            severities: BTreeMap::new(),
            skipped: BTreeMap::new(),
            conflicts: Group::with_capacity(EXAMPLES),
            gone: Group::with_capacity(EXAMPLES),
            errors: Group::with_capacity(EXAMPLES),
            examples: EXAMPLES,
        }
    }

    /// Every object of each group, not the first ten (`--all-rows`): memory then grows with
    /// the findings.
    pub fn all_rows(mut self) -> Self {
        self.examples = usize::MAX;
        for group in [&mut self.conflicts, &mut self.gone, &mut self.errors] {
            *group = Group::with_capacity(usize::MAX);
        }
        self
    }

    fn style(&self, style: Style) -> Style {
        style.force_styling(self.color)
    }

    fn write_group(&mut self, title: &str, about: &str, group: &Group) -> io::Result<()> {
        let bold = self.style(Style::new().bold());
        let dim = self.style(Style::new().dim());
        let noun = if group.count == 1 {
            "object"
        } else {
            "objects"
        };
        writeln!(self.out)?;
        writeln!(
            self.out,
            "{} — {} {noun}",
            bold.apply_to(title),
            thousands(group.count)
        )?;
        for line in layout::wrap(about, "  ", self.width) {
            writeln!(self.out, "{}", dim.apply_to(line))?;
        }
        let key_column = layout::key_column(group.examples.keys());
        let detail_column = layout::detail_column(group.examples.values().map(|e| &e.detail));
        for (key, example) in &group.examples {
            let lines = layout::row(
                key,
                key_column,
                &example.detail,
                detail_column,
                example.proposed.as_deref(),
                self.width,
            );
            for line in lines {
                writeln!(self.out, "{line}")?;
            }
        }
        if group.count > group.examples.len() as u64 {
            let more = group.count - group.examples.len() as u64;
            writeln!(
                self.out,
                "    {}",
                dim.apply_to(format!("… and {more} more (--all-rows lists every one)"))
            )?;
        }
        Ok(())
    }
}

/// A group's example: the table shows a detail and, for a finding, the proposal.
fn example(detail: String, proposed: Option<String>) -> Example {
    Example {
        detail,
        proposed,
        status: String::new(),
        fails: false,
    }
}

impl ReportWriter for TableWriter {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()> {
        let key = escape::for_terminal(&row.key);
        let key = key.as_ref();
        let examples = self.examples;
        let reason = || example(escape::value(&row.reason, ""), None);
        match row.status {
            Status::Skipped => {
                let why = escape::value(&row.reason, "");
                self.skipped
                    .entry(why)
                    .or_insert_with(|| Group::with_capacity(examples))
                    .add(key, || example(String::new(), None), false);
                return Ok(());
            }
            Status::Conflict => {
                self.conflicts.add(key, reason, false);
                return Ok(());
            }
            Status::Gone => {
                self.gone.add(key, || example(String::new(), None), false);
                return Ok(());
            }
            Status::Finding
            | Status::Error
            | Status::Fixed
            | Status::WouldFix
            | Status::Restored
            | Status::WouldRestore => {}
        }
        for finding in &row.findings {
            let severity = self
                .severities
                .entry((finding.rule, finding.header.clone()))
                .or_insert(finding.severity);
            *severity = (*severity).max(finding.severity);
            self.by_rule
                .entry((finding.rule, finding.header.clone()))
                .or_insert_with(|| Group::with_capacity(examples))
                .add(
                    key,
                    || {
                        example(
                            escape::value(&finding.current, "(absent)"),
                            Some(escape::value(&finding.proposed, "(remove)")),
                        )
                    },
                    false,
                );
        }
        if let Some(error) = &row.error {
            let detail = || example(escape::for_terminal(&error.to_string()).into_owned(), None);
            self.errors.add(key, detail, false);
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()> {
        let bold = self.style(Style::new().bold());
        let red = self.style(Style::new().red().bold());
        let yellow = self.style(Style::new().yellow().bold());
        let green = self.style(Style::new().green().bold());
        let rules: Vec<&str> = info.rules.ids().iter().map(|r| r.as_str()).collect();
        writeln!(
            self.out,
            "{} {}  (rules: {})",
            bold.apply_to(format!("s3mend {}", info.command)),
            escape::for_terminal(&info.target),
            rules.join(", ")
        )?;
        let undo = info.command == "undo";
        // Undo counts journal entries: "clean" ones were already as they were.
        let (listed, clean, findings) = if undo {
            ("journalled", "already as before", "to restore")
        } else {
            ("listed", "clean", "with findings")
        };
        writeln!(
            self.out,
            "  {listed} {}  {clean} {}  {findings} {}  errors {}",
            thousands(summary.listed),
            thousands(summary.clean),
            if summary.with_findings > 0 {
                yellow.apply_to(thousands(summary.with_findings))
            } else {
                green.apply_to(thousands(summary.with_findings))
            },
            if summary.errors > 0 {
                red.apply_to(thousands(summary.errors))
            } else {
                green.apply_to(thousands(summary.errors))
            },
        )?;
        if let Some(served) = summary.from_catalog {
            writeln!(
                self.out,
                "  from the catalog {} (unchanged since the last run: not HEADed)",
                thousands(served)
            )?;
        }
        if summary.gone + summary.unreadable > 0 {
            writeln!(
                self.out,
                "  gone {}  unreadable without a customer key (SSE-C) {}",
                thousands(summary.gone),
                thousands(summary.unreadable)
            )?;
        }
        let (fixed, would_fix) = if undo {
            ("restored", "would restore")
        } else {
            ("fixed", "would fix")
        };
        if let Some(fix) = &summary.fix {
            writeln!(
                self.out,
                "  {fixed} {}  {would_fix} {}  skipped {}  conflicts {}  failed {}  noncurrent versions left {}",
                green.apply_to(thousands(fix.fixed)),
                thousands(fix.would_fix),
                thousands(fix.skipped),
                thousands(fix.conflicts),
                if fix.failed > 0 {
                    red.apply_to(thousands(fix.failed))
                } else {
                    green.apply_to(thousands(fix.failed))
                },
                thousands(fix.noncurrent_versions),
            )?;
        }
        if let Some(r) = &summary.requests {
            if r.retries() > 0 || r.throttled > 0 {
                write!(
                    self.out,
                    "  requests {}  retried {}  throttled {}  failed attempts {}",
                    thousands(r.calls),
                    thousands(r.retries()),
                    thousands(r.throttled),
                    thousands(r.failed_attempts)
                )?;
                if r.concurrency_cuts > 0 {
                    write!(
                        self.out,
                        "  in flight cut {}× (down to {})",
                        r.concurrency_cuts, r.min_concurrency
                    )?;
                }
                writeln!(self.out)?;
            }
        }
        for note in &info.notes {
            writeln!(self.out, "  note: {}", escape::for_terminal(note))?;
        }
        for ((rule, header), group) in std::mem::take(&mut self.by_rule) {
            let severity = self
                .severities
                .get(&(rule, header.clone()))
                .copied()
                .unwrap_or_else(|| rule.severity());
            let title = match rule {
                RuleId::Policy => format!("{rule}: {header}"),
                _ => rule.to_string(),
            };
            let about = format!("{severity} · {}", rule.explanation());
            self.write_group(&title, &about, &group)?;
        }
        for (reason, group) in std::mem::take(&mut self.skipped) {
            self.write_group(
                &format!("skipped: {reason}"),
                "not repaired, so nothing could be lost",
                &group,
            )?;
        }
        if self.gone.count > 0 {
            let gone = std::mem::take(&mut self.gone);
            self.write_group(
                "gone",
                "deleted after they were listed; nothing left to repair",
                &gone,
            )?;
        }
        if self.conflicts.count > 0 {
            let conflicts = std::mem::take(&mut self.conflicts);
            self.write_group(
                "conflicts",
                "changed by someone else after inspection; left as they are",
                &conflicts,
            )?;
        }
        if self.errors.count > 0 {
            let errors = std::mem::take(&mut self.errors);
            let about = if summary.fix.is_some() {
                "could not be inspected, or the repair failed"
            } else {
                "these objects could not be inspected"
            };
            self.write_group("errors", about, &errors)?;
        }
        writeln!(self.out)?;
        if let Some(why) = &info.stopped {
            writeln!(
                self.out,
                "{} {}: the counts above cover only part of the bucket.",
                red.apply_to("INCOMPLETE:"),
                escape::for_terminal(why)
            )?;
        } else if let Some(fix) = &summary.fix {
            let left = fix.would_fix + fix.skipped + fix.conflicts + fix.failed;
            let (repaired, every, still) = if undo {
                (
                    "restored",
                    "Every repair undone",
                    ("was not restored", "were not restored"),
                )
            } else {
                (
                    "repaired",
                    "Every finding repaired",
                    ("still has findings", "still have findings"),
                )
            };
            if fix.would_fix > 0 {
                writeln!(
                    self.out,
                    "Dry run: {} would be {repaired}; nothing was written.",
                    yellow.apply_to(objects(fix.would_fix))
                )?;
            } else if left == 0 && fix.fixed == 0 {
                writeln!(self.out, "{}", green.apply_to("Nothing to do."))?;
            } else if left == 0 {
                writeln!(
                    self.out,
                    "{}",
                    green.apply_to(format!("{every} ({}).", objects(fix.fixed)))
                )?;
            } else {
                let still = if left == 1 { still.0 } else { still.1 };
                writeln!(self.out, "{} {still}.", yellow.apply_to(objects(left)))?;
            }
        } else if summary.with_findings == 0 && summary.errors == 0 {
            writeln!(self.out, "{}", green.apply_to("No findings."))?;
        } else if summary.with_findings > 0 {
            writeln!(
                self.out,
                "{} {}.",
                yellow.apply_to(objects(summary.with_findings)),
                if summary.with_findings == 1 {
                    "needs repair"
                } else {
                    "need repair"
                }
            )?;
        }
        self.out.flush()
    }
}

/// `1 object`, `1,515 objects`.
fn objects(n: u64) -> String {
    match n {
        1 => "1 object".to_owned(),
        n => format!("{} objects", thousands(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RequestCounts;

    #[test]
    fn groups_keep_the_first_keys_in_order() {
        let mut group = Group::with_capacity(EXAMPLES);
        for i in (0..25).rev() {
            group.add(
                &format!("k{i:02}"),
                || example(format!("d{i}"), None),
                false,
            );
        }
        assert_eq!(group.count, 25);
        let keys: Vec<_> = group.examples.keys().cloned().collect();
        let expected: Vec<_> = (0..EXAMPLES).map(|i| format!("k{i:02}")).collect();
        assert_eq!(keys, expected);
    }

    /// A `Write` whose bytes the test can read after the writer is gone.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The table of one scan that found these (key, Content-Encoding) pairs, `width` wide.
    fn table_of(findings: &[(&str, &str)], width: usize) -> String {
        let out = Shared::default();
        let mut writer = Box::new(TableWriter::with_width(Box::new(out.clone()), false, width));
        for (key, current) in findings {
            let finding = crate::rules::Finding::new(
                RuleId::ContentEncoding,
                Header::ContentEncoding,
                Some(current),
                None,
            );
            let row = ObjectRow::new(key, None, None, Status::Finding, vec![finding]);
            writer.object(&row).unwrap();
        }
        let info = RunInfo {
            target: "s3://b/".into(),
            rules: crate::rules::RuleSet::all(),
            stopped: None,
            command: "scan",
            notes: Vec::new(),
            shard: None,
        };
        writer.finish(&Summary::default(), &info).unwrap();
        let bytes = out.0.lock().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn keys_in_wide_characters_keep_the_columns_aligned() {
        let text = table_of(
            &[
                ("日本語/索引.html", "UTF-8"),
                ("index.html", "gzip, UTF-8"),
                ("🎉/party.js", "UTF-8"),
                ("café.css", "UTF-8"),
            ],
            80,
        );
        let arrows: Vec<usize> = text
            .lines()
            .filter_map(|l| l.split_once('→'))
            .map(|(before, _)| layout::columns(before))
            .collect();
        assert_eq!(arrows.len(), 4, "{text}");
        assert!(arrows.iter().all(|&a| a == arrows[0]), "{arrows:?}\n{text}");
        // The rule's one-line explanation is wrapped to the width, not cut.
        assert!(text.lines().all(|l| layout::columns(l) <= 80), "{text}");
        let about: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("content-encoding"))
            .skip(1)
            .take_while(|l| l.starts_with("  ") && !l.starts_with("    "))
            .map(str::trim)
            .collect();
        assert_eq!(
            about.join(" "),
            format!("error · {}", RuleId::ContentEncoding.explanation()),
            "{text}"
        );
    }

    #[test]
    fn a_narrow_table_puts_a_long_key_on_its_own_line_whole() {
        let key = format!("assets/{}.js", "a".repeat(50));
        let text = table_of(&[(key.as_str(), "gzip, UTF-8"), ("b.js", "UTF-8")], 40);
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.trim() == key)
            .unwrap_or_else(|| panic!("{text}"));
        assert_eq!(lines[at + 1].trim(), "gzip, UTF-8  →  (remove)", "{text}");
    }

    /// The table's end for a run of `command` with nothing but `summary`.
    fn finished(summary: &Summary, command: &'static str) -> String {
        let out = Shared::default();
        let info = RunInfo {
            target: "s3://b/".into(),
            rules: crate::rules::RuleSet::all(),
            stopped: None,
            command,
            notes: Vec::new(),
            shard: None,
        };
        Box::new(TableWriter::new(Box::new(out.clone()), false))
            .finish(summary, &info)
            .unwrap();
        let bytes = out.0.lock().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn summary_lines(requests: RequestCounts) -> String {
        let summary = Summary {
            requests: Some(requests),
            ..Summary::default()
        };
        finished(&summary, "scan")
    }

    #[test]
    fn the_requests_line_says_how_far_throttling_cut_the_requests_in_flight() {
        let throttled = RequestCounts {
            calls: 100,
            attempts: 130,
            throttled: 30,
            failed_attempts: 0,
            concurrency_cuts: 3,
            min_concurrency: 21,
        };
        let text = summary_lines(throttled.clone());
        assert!(
            text.contains(
                "  requests 100  retried 30  throttled 30  failed attempts 0  in flight cut 3× (down to 21)\n"
            ),
            "{text}"
        );
        let text = summary_lines(RequestCounts {
            concurrency_cuts: 0,
            min_concurrency: 64,
            ..throttled
        });
        assert!(
            text.contains("  requests 100  retried 30  throttled 30  failed attempts 0\n"),
            "{text}"
        );
        let text = summary_lines(RequestCounts {
            calls: 5,
            attempts: 5,
            min_concurrency: 64,
            ..RequestCounts::default()
        });
        assert!(!text.contains("requests"), "{text}");
    }

    #[test]
    fn counts_have_thousands_separators_and_one_object_is_singular() {
        let summary = Summary {
            listed: 1_520,
            clean: 5,
            with_findings: 1_515,
            fix: Some(crate::report::FixCounts {
                fixed: 1_515,
                ..crate::report::FixCounts::default()
            }),
            ..Summary::default()
        };
        let text = finished(&summary, "fix");
        assert!(
            text.contains("  listed 1,520  clean 5  with findings 1,515  errors 0\n"),
            "{text}"
        );
        assert!(text.contains("  fixed 1,515  would fix 0"), "{text}");
        assert!(
            text.contains("Every finding repaired (1,515 objects)."),
            "{text}"
        );
        let one_left = Summary {
            listed: 1,
            with_findings: 1,
            fix: Some(crate::report::FixCounts {
                conflicts: 1,
                ..crate::report::FixCounts::default()
            }),
            ..Summary::default()
        };
        let text = finished(&one_left, "fix");
        assert!(text.contains("\n1 object still has findings.\n"), "{text}");
        let scanned = Summary {
            listed: 1,
            with_findings: 1,
            ..Summary::default()
        };
        let text = finished(&scanned, "scan");
        assert!(text.contains("\n1 object needs repair.\n"), "{text}");
    }
}
