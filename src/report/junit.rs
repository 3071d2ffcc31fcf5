//! JUnit XML, which GitLab, Jenkins and CircleCI show as test results. One test case per rule
//! (and per header a policy sets), failing when objects with its findings fail the gate, its
//! failure listing them (`key: now → proposed`); findings that do not fail the gate (warnings
//! under `--fail-on error`, accepted skips) are listed in the case's `<system-out>`. One more
//! case, "every object inspected", holds the objects that could not be inspected or repaired,
//! and an incomplete run, as `<error>`. At most [`KEYS`] keys per case: the JSON report has them
//! all.

use std::io::{self, Write};

use super::digest::{Digest, Example, Group};
use super::escape::for_xml;
use super::{Gate, ObjectRow, ReportWriter, RunInfo, Summary};
use crate::model::Header;
use crate::rules::{RuleId, Severity};

/// Keys listed per test case.
pub const KEYS: usize = 200;

pub struct JunitWriter {
    out: Box<dyn Write + Send>,
    digest: Digest,
}

impl JunitWriter {
    pub fn new(out: Box<dyn Write + Send>, gate: Gate) -> Self {
        JunitWriter {
            out,
            digest: Digest::new(gate, KEYS),
        }
    }
}

/// One test case to write.
struct Case {
    name: String,
    severity: Severity,
    about: &'static str,
    group: Option<Group>,
}

/// The header each built-in rule is about, for its case when it found nothing.
fn header_of(rule: RuleId) -> Option<Header> {
    match rule {
        RuleId::ContentEncoding | RuleId::EncodingMismatch => Some(Header::ContentEncoding),
        RuleId::ContentType | RuleId::Charset => Some(Header::ContentType),
        RuleId::Policy => None,
    }
}

impl JunitWriter {
    /// A case per rule of the run, a policy's per header it found something on.
    fn cases(&mut self, info: &RunInfo) -> Vec<Case> {
        let mut findings = std::mem::take(&mut self.digest.findings);
        let mut cases = Vec::new();
        for &rule in info.rules.ids() {
            let case = |name: String, group: Option<(Option<Severity>, Group)>| {
                let (severity, group) = match group {
                    Some((severity, group)) => (severity.unwrap_or(rule.severity()), Some(group)),
                    None => (rule.severity(), None),
                };
                Case {
                    name,
                    severity,
                    about: rule.explanation(),
                    group,
                }
            };
            match header_of(rule) {
                Some(header) => {
                    let group = findings.remove(&(rule, header));
                    cases.push(case(rule.to_string(), group.map(|g| (g.severity, g.group))));
                }
                None => {
                    let keys: Vec<(RuleId, Header)> = findings
                        .keys()
                        .filter(|(r, _)| *r == rule)
                        .cloned()
                        .collect();
                    if keys.is_empty() {
                        cases.push(case(rule.to_string(), None));
                    }
                    for key in keys {
                        let group = findings.remove(&key).map(|g| (g.severity, g.group));
                        cases.push(case(format!("{rule}: {}", key.1), group));
                    }
                }
            }
        }
        cases
    }
}

fn lines<'a>(examples: impl Iterator<Item = (&'a String, &'a Example)>) -> String {
    let mut text = String::new();
    for (key, example) in examples {
        match &example.proposed {
            Some(proposed) => text.push_str(&format!(
                "{key}: {} → {proposed} [{}]\n",
                example.detail, example.status
            )),
            None => text.push_str(&format!("{key}: {} [{}]\n", example.detail, example.status)),
        }
    }
    text
}

fn more(group: &Group) -> String {
    if group.more() > 0 {
        format!(
            "… and {} more (the JSON report has every object)\n",
            group.more()
        )
    } else {
        String::new()
    }
}

impl ReportWriter for JunitWriter {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()> {
        self.digest.add(row);
        Ok(())
    }

    fn finish(mut self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()> {
        let mut cases = self.cases(info);
        if self.digest.unruled.count > 0 {
            // An undo's entries left to do: no rule, so a case of their own.
            cases.push(Case {
                name: "left to do".to_owned(),
                severity: Severity::Error,
                about: "what the run was to do on these objects is not done",
                group: Some(std::mem::take(&mut self.digest.unruled)),
            });
        }
        let suite = format!("s3mend {} {}", info.command, info.target);
        let failures = cases
            .iter()
            .filter(|c| c.group.as_ref().is_some_and(|g| g.failing > 0))
            .count();
        let errored = self.digest.errors.count > 0 || info.stopped.is_some();
        let tests = cases.len() + 1;
        let errors = usize::from(errored);
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml.push_str(&format!(
            "<testsuites name=\"s3mend\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n"
        ));
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\">\n",
            for_xml(&suite)
        ));
        xml.push_str("    <properties>\n");
        let mut properties = vec![
            ("listed", summary.listed.to_string()),
            ("clean", summary.clean.to_string()),
            ("with_findings", summary.with_findings.to_string()),
            ("errors", summary.errors.to_string()),
            ("failing", self.digest.failing.to_string()),
            ("gate", self.digest.gate().describe()),
            ("complete", summary.complete.to_string()),
        ];
        if let Some(fix) = &summary.fix {
            properties.extend([
                ("fixed", fix.fixed.to_string()),
                ("would_fix", fix.would_fix.to_string()),
                ("skipped", fix.skipped.to_string()),
                ("conflicts", fix.conflicts.to_string()),
                ("failed", fix.failed.to_string()),
            ]);
        }
        for (name, value) in properties {
            xml.push_str(&format!(
                "      <property name=\"{name}\" value=\"{}\"/>\n",
                for_xml(&value)
            ));
        }
        xml.push_str("    </properties>\n");
        let classname = for_xml(&format!("s3mend.{}", info.command));
        for case in &cases {
            let name = for_xml(&format!("{} ({})", case.name, case.severity));
            xml.push_str(&format!(
                "    <testcase classname=\"{classname}\" name=\"{name}\">\n"
            ));
            if let Some(group) = &case.group {
                let failing = group.examples.iter().filter(|(_, e)| e.fails);
                let passing = group.examples.iter().filter(|(_, e)| !e.fails);
                if group.failing > 0 {
                    let message = format!(
                        "{} of {} objects fail the gate: {}",
                        group.failing, group.count, case.about
                    );
                    xml.push_str(&format!(
                        "      <failure type=\"{}\" message=\"{}\">{}{}</failure>\n",
                        case.severity,
                        for_xml(&message),
                        for_xml(&lines(failing)),
                        for_xml(&more(group))
                    ));
                }
                let passing = lines(passing);
                if !passing.is_empty() {
                    xml.push_str(&format!(
                        "      <system-out>{}{}</system-out>\n",
                        for_xml(&passing),
                        for_xml(&more(group))
                    ));
                }
            }
            xml.push_str("    </testcase>\n");
        }
        xml.push_str(&format!(
            "    <testcase classname=\"{classname}\" name=\"every object inspected\">\n"
        ));
        if errored {
            let errors = &self.digest.errors;
            let mut message = format!(
                "{} objects could not be inspected or repaired",
                errors.count
            );
            if let Some(why) = &info.stopped {
                message = format!("incomplete ({why}); {message}");
            }
            xml.push_str(&format!(
                "      <error message=\"{}\">{}{}</error>\n",
                for_xml(&message),
                for_xml(&lines(errors.examples.iter())),
                for_xml(&more(errors))
            ));
        }
        xml.push_str("    </testcase>\n  </testsuite>\n</testsuites>\n");
        self.out.write_all(xml.as_bytes())?;
        self.out.flush()
    }
}
