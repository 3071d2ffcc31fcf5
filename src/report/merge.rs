//! `s3mend merge`: the JSON reports of a sharded run (`--shard I/N`) read back and added up. A
//! report is read twice, streaming, from any `BufRead`: once for its summary (checked against
//! the others before anything is written), once for its rows.

use std::fmt;
use std::io::BufRead;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::{FixCounts, ObjectRow, Status, Summary};
use crate::model::{RequestCounts, SkipReason};
use crate::rules::RuleId;

/// What one report's summary says about its run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// The file, for messages.
    pub name: String,
    pub command: String,
    pub target: String,
    pub rules: Vec<String>,
    pub shard: Option<String>,
    pub summary: Summary,
    pub stopped: Option<String>,
    pub notes: Vec<String>,
}

/// The reports added up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    pub summary: Summary,
    pub command: &'static str,
    pub target: String,
    pub rules: Vec<RuleId>,
    pub stopped: Option<String>,
    pub notes: Vec<String>,
}

impl Part {
    /// The part of the report `name` whose summary is `summary` (the JSON object).
    pub fn from_summary(summary: &Value, name: &str) -> Result<Part, String> {
        let text = |field: &str| summary.get(field).and_then(Value::as_str);
        let (Some(command), Some(target)) = (text("command"), text("target")) else {
            return Err(format!(
                "{name}: its summary names no command and target (written by an older s3mend?): merge reads reports of this version"
            ));
        };
        let parsed: SummaryFields = serde_json::from_value(summary.clone())
            .map_err(|e| format!("{name}: its summary does not parse: {e}"))?;
        let rules = summary
            .get("rules")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Part {
            name: name.to_owned(),
            command: command.to_owned(),
            target: target.to_owned(),
            rules,
            shard: text("shard").map(str::to_owned),
            summary: parsed.summary(summary.get("fixed").is_some()),
            stopped: text("stopped").map(str::to_owned),
            notes: summary
                .get("notes")
                .and_then(Value::as_array)
                .map(|n| {
                    n.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// The counts of a summary as the JSON contract writes them.
#[derive(Deserialize)]
struct SummaryFields {
    listed: u64,
    inspected: u64,
    from_catalog: Option<u64>,
    clean: u64,
    with_findings: u64,
    errors: u64,
    gone: u64,
    unreadable: u64,
    complete: bool,
    #[serde(flatten)]
    fix: FixCounts,
    requests: Option<RequestCounts>,
}

impl SummaryFields {
    fn summary(self, is_fix: bool) -> Summary {
        Summary {
            listed: self.listed,
            inspected: self.inspected,
            from_catalog: self.from_catalog,
            clean: self.clean,
            with_findings: self.with_findings,
            errors: self.errors,
            gone: self.gone,
            unreadable: self.unreadable,
            complete: self.complete,
            fix: is_fix.then_some(self.fix),
            requests: self.requests,
        }
    }
}

/// Adds `parts` up: they must be reports of one run (one command, target and rule set), either
/// one whole run or distinct shards of one `--shard I/N` run. Missing shards make the result
/// incomplete.
pub fn merge(parts: &[Part]) -> Result<Merged, String> {
    let Some(first) = parts.first() else {
        return Err("no report to merge".to_owned());
    };
    for part in &parts[1..] {
        for (what, theirs, ours) in [
            ("a", &part.command, &first.command),
            ("for", &part.target, &first.target),
        ] {
            if theirs != ours {
                return Err(format!(
                    "{} is {what} {theirs}, {} {what} {ours}: merge takes the reports of one run",
                    part.name, first.name
                ));
            }
        }
        if part.rules != first.rules {
            return Err(format!(
                "{} ran the rules {}, {} the rules {}: merge takes the reports of one run",
                part.name,
                part.rules.join(","),
                first.name,
                first.rules.join(",")
            ));
        }
    }
    let command = match first.command.as_str() {
        "scan" => "scan",
        "fix" => "fix",
        "undo" => "undo",
        other => return Err(format!("{}: unknown command {other:?}", first.name)),
    };
    let rules = first
        .rules
        .iter()
        .map(|r| r.parse::<RuleId>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", first.name))?;
    let missing = shards_missing(parts)?;
    let mut summary = Summary {
        complete: missing.is_empty(),
        ..Summary::default()
    };
    let mut stopped = Vec::new();
    let mut notes = Vec::new();
    for part in parts {
        add(&mut summary, &part.summary);
        let which = part
            .shard
            .as_deref()
            .map_or(String::new(), |s| format!("shard {s}: "));
        if let Some(why) = &part.stopped {
            stopped.push(format!("{which}{why}"));
        }
        notes.extend(part.notes.iter().map(|n| format!("{which}{n}")));
    }
    if !missing.is_empty() {
        stopped.push(format!("shards missing: {}", missing.join(", ")));
    }
    let shards: Vec<&str> = parts.iter().filter_map(|p| p.shard.as_deref()).collect();
    if !shards.is_empty() {
        notes.insert(
            0,
            format!(
                "merged from {} reports: shards {}",
                parts.len(),
                shards.join(", ")
            ),
        );
    }
    Ok(Merged {
        summary,
        command,
        target: first.target.clone(),
        rules,
        stopped: (!stopped.is_empty()).then(|| stopped.join("; ")),
        notes,
    })
}

/// The shards of the run that no report covers, as `I/N`; an error for reports that cannot be
/// one run's shards.
fn shards_missing(parts: &[Part]) -> Result<Vec<String>, String> {
    if let Some(whole) = parts.iter().find(|p| p.shard.is_none()) {
        let Some(other) = parts.iter().find(|p| !std::ptr::eq(*p, whole)) else {
            // One whole run alone: a change of format.
            return Ok(Vec::new());
        };
        return Err(format!(
            "{} is a whole run, {} {}: merge takes the reports of the shards of one run (--shard I/N)",
            whole.name,
            other.name,
            other
                .shard
                .as_deref()
                .map_or("another whole run".to_owned(), |s| format!("shard {s}"))
        ));
    }
    let mut count = None;
    let mut seen: Vec<(u32, &str)> = Vec::new();
    for part in parts {
        let text = part.shard.as_deref().unwrap_or_default();
        let (i, n) = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)))
            .filter(|(i, n)| (1..=*n).contains(i))
            .ok_or_else(|| format!("{}: shard {text:?} is not I/N", part.name))?;
        match count {
            Some((n0, name)) if n0 != n => {
                return Err(format!(
                    "{} is a shard of {n}, {name} of {n0}: merge takes the shards of one run",
                    part.name
                ))
            }
            Some(_) => {}
            None => count = Some((n, part.name.as_str())),
        }
        if let Some((_, other)) = seen.iter().find(|(s, _)| *s == i) {
            return Err(format!(
                "shard {text} is given twice: {other} and {}",
                part.name
            ));
        }
        seen.push((i, &part.name));
    }
    let n = count.map_or(0, |(n, _)| n);
    Ok((1..=n)
        .filter(|i| !seen.iter().any(|(s, _)| s == i))
        .map(|i| format!("{i}/{n}"))
        .collect())
}

fn add(total: &mut Summary, part: &Summary) {
    total.listed += part.listed;
    total.inspected += part.inspected;
    total.clean += part.clean;
    total.with_findings += part.with_findings;
    total.errors += part.errors;
    total.gone += part.gone;
    total.unreadable += part.unreadable;
    total.complete &= part.complete;
    if let Some(n) = part.from_catalog {
        *total.from_catalog.get_or_insert(0) += n;
    }
    if let Some(fix) = &part.fix {
        let sum = total.fix.get_or_insert_with(FixCounts::default);
        sum.fixed += fix.fixed;
        sum.would_fix += fix.would_fix;
        sum.skipped += fix.skipped;
        sum.conflicts += fix.conflicts;
        sum.failed += fix.failed;
        sum.noncurrent_versions += fix.noncurrent_versions;
    }
    if let Some(requests) = &part.requests {
        let first = total.requests.is_none();
        let sum = total.requests.get_or_insert_with(RequestCounts::default);
        sum.calls += requests.calls;
        sum.attempts += requests.attempts;
        sum.throttled += requests.throttled;
        sum.failed_attempts += requests.failed_attempts;
        sum.concurrency_cuts += requests.concurrency_cuts;
        sum.min_concurrency = if first {
            requests.min_concurrency
        } else {
            sum.min_concurrency.min(requests.min_concurrency)
        };
    }
}

/// Reads one report (`--format json` or `jsonl`), calling `row` with each object in it, and
/// returns its summary.
pub fn read(
    mut input: impl BufRead,
    name: &str,
    mut row: impl FnMut(ObjectRow) -> Result<(), String>,
) -> Result<Value, String> {
    let mut first = String::new();
    input
        .read_line(&mut first)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    let jsonl = serde_json::from_str::<Value>(&first).is_ok();
    if jsonl {
        let mut summary = None;
        let mut line = first;
        loop {
            if !line.trim().is_empty() {
                if summary.is_some() {
                    return Err(format!("{name}: a line follows the summary"));
                }
                let value: Value = serde_json::from_str(&line)
                    .map_err(|e| format!("{name} is not a jsonl report: {e}"))?;
                match value.get("summary") {
                    Some(s) if value.get("key").is_none() => summary = Some(s.clone()),
                    _ => row(object_row(value).map_err(|e| format!("{name}: {e}"))?)?,
                }
            }
            line = String::new();
            let n = input
                .read_line(&mut line)
                .map_err(|e| format!("cannot read {name}: {e}"))?;
            if n == 0 {
                break;
            }
        }
        return summary.ok_or_else(|| {
            format!("{name} has no summary line: the run that wrote it did not finish")
        });
    }
    let whole = std::io::Read::chain(std::io::Cursor::new(first), input);
    let mut de = serde_json::Deserializer::from_reader(whole);
    let summary = Report { row: &mut row }
        .deserialize(&mut de)
        .map_err(|e| format!("{name} is not a json or jsonl report of s3mend: {e}"))?;
    summary.ok_or_else(|| format!("{name} has no summary: the run that wrote it did not finish"))
}

/// A row of a jsonl report.
fn object_row(value: Value) -> Result<ObjectRow, String> {
    let row: ObjectRow = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(with_skip(row))
}

/// What the report says in words, as the gate reads it.
fn with_skip(mut row: ObjectRow) -> ObjectRow {
    if row.status == Status::Skipped {
        row.skip = row
            .reason
            .as_deref()
            .and_then(|r| r.parse::<SkipReason>().ok());
    }
    row
}

/// A `{"objects": [...], "summary": {...}}` document, its rows handed out as they are parsed.
struct Report<'a, F> {
    row: &'a mut F,
}

impl<'de, F: FnMut(ObjectRow) -> Result<(), String>> DeserializeSeed<'de> for Report<'_, F> {
    type Value = Option<Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(ObjectRow) -> Result<(), String>> Visitor<'de> for Report<'_, F> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an s3mend report")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut summary = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "objects" => map.next_value_seed(Rows {
                    row: &mut *self.row,
                })?,
                "summary" => summary = Some(map.next_value::<Value>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(summary)
    }
}

struct Rows<'a, F> {
    row: &'a mut F,
}

impl<'de, F: FnMut(ObjectRow) -> Result<(), String>> DeserializeSeed<'de> for Rows<'_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(ObjectRow) -> Result<(), String>> Visitor<'de> for Rows<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the report's objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<ObjectRow>()? {
            (self.row)(with_skip(row)).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(shard: Option<&str>, listed: u64) -> Part {
        Part {
            name: format!("r{}.json", shard.unwrap_or("").replace('/', "of")),
            command: "scan".into(),
            target: "s3://b/".into(),
            rules: vec!["content-encoding".into(), "content-type".into()],
            shard: shard.map(str::to_owned),
            summary: Summary {
                listed,
                inspected: listed,
                clean: listed - 1,
                with_findings: 1,
                complete: true,
                requests: Some(RequestCounts {
                    calls: listed + 2,
                    attempts: listed + 3,
                    min_concurrency: 100 + listed,
                    ..RequestCounts::default()
                }),
                ..Summary::default()
            },
            stopped: None,
            notes: vec!["policy: p.toml".into()],
        }
    }

    #[test]
    fn shards_add_up() {
        let parts: Vec<Part> = (1..=4)
            .map(|i| part(Some(&format!("{i}/4")), 10 * i as u64))
            .collect();
        let merged = merge(&parts).unwrap();
        assert_eq!(merged.summary.listed, 100);
        assert_eq!(merged.summary.clean, 96);
        assert_eq!(merged.summary.with_findings, 4);
        assert!(merged.summary.complete);
        assert_eq!(merged.summary.fix, None);
        let requests = merged.summary.requests.unwrap();
        assert_eq!((requests.calls, requests.attempts), (108, 112));
        assert_eq!(requests.min_concurrency, 110);
        assert_eq!(merged.command, "scan");
        assert_eq!(merged.stopped, None);
        assert_eq!(
            merged.notes[0],
            "merged from 4 reports: shards 1/4, 2/4, 3/4, 4/4"
        );
        assert!(merged
            .notes
            .contains(&"shard 2/4: policy: p.toml".to_owned()));
    }

    #[test]
    fn a_stopped_or_missing_shard_leaves_the_merge_incomplete() {
        let mut parts: Vec<Part> = (1..=3).map(|i| part(Some(&format!("{i}/4")), 5)).collect();
        parts[1].summary.complete = false;
        parts[1].stopped = Some("interrupted".into());
        let merged = merge(&parts).unwrap();
        assert!(!merged.summary.complete);
        assert_eq!(
            merged.stopped.as_deref(),
            Some("shard 2/4: interrupted; shards missing: 4/4")
        );
    }

    #[test]
    fn reports_of_different_runs_are_refused() {
        let a = part(Some("1/2"), 5);
        for (b, says) in [
            (
                Part {
                    command: "fix".into(),
                    ..part(Some("2/2"), 5)
                },
                "r2of2.json is a fix, r1of2.json a scan",
            ),
            (
                Part {
                    target: "s3://other/".into(),
                    ..part(Some("2/2"), 5)
                },
                "r2of2.json is for s3://other/, r1of2.json for s3://b/",
            ),
            (
                Part {
                    rules: vec!["charset".into()],
                    ..part(Some("2/2"), 5)
                },
                "ran the rules charset",
            ),
            (part(Some("1/2"), 5), "shard 1/2 is given twice"),
            (part(Some("2/3"), 5), "is a shard of 3, r1of2.json of 2"),
            (part(None, 5), "r.json is a whole run, r1of2.json shard 1/2"),
        ] {
            let err = merge(&[a.clone(), b]).unwrap_err();
            assert!(err.contains(says), "{says}: {err}");
        }
        let err = merge(&[part(None, 5), part(None, 6)]).unwrap_err();
        assert!(err.contains("is a whole run"), "{err}");
        // One whole run alone: a change of format.
        assert_eq!(merge(&[part(None, 5)]).unwrap().summary.listed, 5);
    }

    #[test]
    fn fix_counts_add_up_when_present() {
        let mut a = part(Some("1/2"), 5);
        let mut b = part(Some("2/2"), 5);
        a.command = "fix".into();
        b.command = "fix".into();
        a.summary.fix = Some(FixCounts {
            fixed: 1,
            ..FixCounts::default()
        });
        b.summary.fix = Some(FixCounts {
            skipped: 1,
            ..FixCounts::default()
        });
        let fix = merge(&[a, b]).unwrap().summary.fix.unwrap();
        assert_eq!((fix.fixed, fix.skipped), (1, 1));
    }

    const JSON: &str = r#"{"objects": [
{"key":"a b","version_id":null,"etag":"\"e\"","status":"finding","findings":[{"rule":"content-encoding","severity":"error","header":"Content-Encoding","current":"UTF-8","proposed":null}],"error":null},
{"key":"s","version_id":null,"etag":null,"status":"skipped","findings":[],"error":null,"reason":"sse-c"}
],
"summary": {"listed":3,"inspected":2,"clean":1,"with_findings":1,"errors":0,"gone":0,"unreadable":1,"complete":true,"requests":{"calls":4,"attempts":4,"throttled":0,"failed_attempts":0,"concurrency_cuts":0,"min_concurrency":128},"stopped":null,"command":"scan","target":"s3://b/","rules":["content-encoding","content-type"],"shard":"1/2"}}
"#;

    #[test]
    fn reads_json_and_jsonl_reports_row_by_row() {
        let mut rows = Vec::new();
        let summary = read(JSON.as_bytes(), "r.json", |r| {
            rows.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key, "a b");
        assert_eq!(rows[0].findings[0].rule, RuleId::ContentEncoding);
        assert_eq!(rows[1].skip, Some(SkipReason::SseC));
        let part = Part::from_summary(&summary, "r.json").unwrap();
        assert_eq!(part.shard.as_deref(), Some("1/2"));
        assert_eq!(part.summary.unreadable, 1);
        assert_eq!(part.summary.fix, None);

        // The same report as jsonl: rows as lines, then the summary line.
        let doc: Value = serde_json::from_str(JSON).unwrap();
        let mut jsonl = String::new();
        for row in doc["objects"].as_array().unwrap() {
            jsonl.push_str(&format!("{row}\n"));
        }
        jsonl.push_str(&format!(
            "{}\n",
            serde_json::json!({"summary": doc["summary"]})
        ));
        let mut again = Vec::new();
        let summary2 = read(jsonl.as_bytes(), "r.jsonl", |r| {
            again.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(again, rows);
        assert_eq!(summary2, summary);

        // Written again, a row reads back the same.
        let written = serde_json::to_string(&rows[0]).unwrap();
        assert_eq!(
            object_row(serde_json::from_str(&written).unwrap()).unwrap(),
            rows[0]
        );
    }

    #[test]
    fn unfinished_or_foreign_files_are_refused() {
        let cut = &JSON[..JSON.find("\"summary\"").unwrap()];
        let err = read(cut.as_bytes(), "cut.json", |_| Ok(())).unwrap_err();
        assert!(
            err.contains("cut.json is not a json or jsonl report"),
            "{err}"
        );
        let lines = "{\"key\":\"a\",\"version_id\":null,\"etag\":null,\"status\":\"gone\",\"findings\":[],\"error\":null}\n";
        let err = read(lines.as_bytes(), "x.jsonl", |_| Ok(())).unwrap_err();
        assert!(err.contains("has no summary line"), "{err}");
        let err = read("key,status\n".as_bytes(), "x.csv", |_| Ok(())).unwrap_err();
        assert!(err.contains("x.csv is not a json or jsonl report"), "{err}");
        let old = serde_json::json!({"listed": 1});
        let err = Part::from_summary(&old, "old.json").unwrap_err();
        assert!(err.contains("names no command and target"), "{err}");
    }
}
