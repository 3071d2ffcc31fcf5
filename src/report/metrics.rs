//! Metrics for alerting: a run's counts as named values, rendered in the Prometheus text format
//! (for node_exporter's textfile collector) and as DogStatsD samples. Pure: the file and the
//! socket belong to `app::metrics`.
//!
//! Both sinks use the same names, `s3mend_<what>`; in the Prometheus file a counter's name ends
//! in `_total`, as that format's convention asks. Every value covers one run: each run replaces
//! the whole file, and statsd counts are sent once, at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::{ObjectRow, Status, Summary};
use crate::model::S3Uri;
use crate::rules::RuleSet;

/// The name of the gauge a failed run keeps from the previous file.
const LAST_SUCCESS: &str = "s3mend_last_success_timestamp_seconds";

/// What a run is, on every series: which bucket and prefix, and which command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    pub bucket: String,
    /// Empty for a whole bucket (and for undo, which covers what its journal names).
    pub prefix: String,
    /// `scan`, `fix` or `undo`.
    pub command: &'static str,
}

impl Labels {
    /// The labels of a run of `command` on `target`.
    pub fn of(target: &S3Uri, command: &'static str) -> Self {
        Labels {
            bucket: target.bucket.clone(),
            prefix: target.prefix.clone(),
            command,
        }
    }
}

/// A metric's value: a count of objects or requests, or a gauge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Counter(u64),
    Gauge(f64),
}

/// One series of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// `s3mend_listed`: without the `_total` a Prometheus counter adds.
    pub name: &'static str,
    /// What it counts: the Prometheus HELP line.
    pub help: &'static str,
    pub value: Value,
    /// `rule` or `reason`, for the metrics counted per rule or per skip reason.
    pub label: Option<(&'static str, String)>,
}

/// One DogStatsD metric: `name:value|c` or `|g`, then its tags.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsdSample {
    pub name: &'static str,
    pub value: Value,
    /// `(key, value)`, values already safe for the DogStatsD line.
    pub tags: Vec<(&'static str, String)>,
}

/// What the summary does not count, fed with every row of the report: objects by rule, and
/// objects reported skipped by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    by_rule: BTreeMap<&'static str, u64>,
    skipped: BTreeMap<String, u64>,
}

impl Tally {
    /// Every rule of the run starts at 0, so a rule that found nothing still has its series.
    pub fn new(rules: &RuleSet) -> Self {
        Tally {
            by_rule: rules.ids().iter().map(|r| (r.as_str(), 0)).collect(),
            skipped: BTreeMap::new(),
        }
    }

    /// One reported object. An object counts once per rule, however many headers that rule
    /// flagged; one gone by the time of its repair counts as clean, as in the summary.
    pub fn record(&mut self, row: &ObjectRow) {
        if row.status == Status::Gone {
            return;
        }
        let mut rules: Vec<&'static str> = row.findings.iter().map(|f| f.rule.as_str()).collect();
        rules.sort_unstable();
        rules.dedup();
        for rule in rules {
            *self.by_rule.entry(rule).or_default() += 1;
        }
        if row.status == Status::Skipped {
            let reason = row.reason.clone().unwrap_or_default();
            *self.skipped.entry(reason).or_default() += 1;
        }
    }
}

/// One run's metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    pub labels: Labels,
    pub samples: Vec<Sample>,
    pub last_success: LastSuccess,
}

/// When the last successful run ended, as far as this run knows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LastSuccess {
    /// This run succeeded, ending at this Unix time (seconds).
    Now(f64),
    /// This run did not; the previous metrics file says one did then.
    Kept(f64),
    /// Neither: no series, so that `absent()` can alert on it.
    Unknown,
}

impl Metrics {
    /// The metrics of a run that ended with `summary`, after `duration`.
    pub fn new(
        labels: Labels,
        summary: &Summary,
        tally: &Tally,
        duration: Duration,
        last_success: LastSuccess,
    ) -> Self {
        let fix = summary.fix.clone().unwrap_or_default();
        let requests = summary.requests.clone().unwrap_or_default();
        let count = |name, help, n| Sample {
            name,
            help,
            value: Value::Counter(n),
            label: None,
        };
        let gauge = |name, help, x| Sample {
            name,
            help,
            value: Value::Gauge(x),
            label: None,
        };
        let mut samples = vec![
            count("s3mend_listed", "Objects listed.", summary.listed),
            count(
                "s3mend_inspected",
                "Objects whose metadata was checked: from a HEAD, or from the --catalog.",
                summary.inspected,
            ),
            count(
                "s3mend_from_catalog",
                "Objects the listing showed unchanged, checked on the --catalog's snapshot.",
                summary.from_catalog.unwrap_or(0),
            ),
            count(
                "s3mend_clean",
                "Objects without a finding (those deleted before their HEAD included).",
                summary.clean,
            ),
            count(
                "s3mend_findings",
                "Objects with at least one finding.",
                summary.with_findings,
            ),
        ];
        samples.extend(tally.by_rule.iter().map(|(rule, n)| Sample {
            label: Some(("rule", (*rule).to_owned())),
            ..count(
                "s3mend_findings_by_rule",
                "Objects with at least one finding of the rule.",
                *n,
            )
        }));
        samples.push(count(
            "s3mend_fixed",
            "Objects repaired and verified (fix) or restored (undo).",
            fix.fixed,
        ));
        samples.extend(tally.skipped.iter().map(|(reason, n)| Sample {
            label: Some(("reason", reason.clone())),
            ..count(
                "s3mend_skipped",
                "Objects left as they are, by reason (SSE-C objects included).",
                *n,
            )
        }));
        samples.extend([
            count(
                "s3mend_conflicts",
                "Objects left alone because they changed after their inspection.",
                fix.conflicts,
            ),
            count(
                "s3mend_errors",
                "Objects that could not be inspected, and repairs that failed.",
                summary.errors + fix.failed,
            ),
            count(
                "s3mend_requests",
                "S3 operations the run asked for.",
                requests.calls,
            ),
            count(
                "s3mend_attempts",
                "HTTP attempts those took, retries included.",
                requests.attempts,
            ),
            count(
                "s3mend_throttled",
                "Attempts answered 503 SlowDown or 429.",
                requests.throttled,
            ),
            count(
                "s3mend_failed_attempts",
                "Attempts that failed otherwise: 5xx, broken connections, timeouts.",
                requests.failed_attempts,
            ),
            gauge(
                "s3mend_duration_seconds",
                "How long the run took, from its start to its end.",
                duration.as_millis() as f64 / 1000.0,
            ),
            gauge(
                "s3mend_complete",
                "1 if the run went to the end (not interrupted, its listing did not fail, nothing stopped it).",
                if summary.complete { 1.0 } else { 0.0 },
            ),
        ]);
        Metrics {
            labels,
            samples,
            last_success,
        }
    }

    /// The series of every sample, and the last success unless it is unknown.
    fn series(&self) -> impl Iterator<Item = Sample> + '_ {
        let last_success = match self.last_success {
            LastSuccess::Now(at) | LastSuccess::Kept(at) => Some(Sample {
                name: LAST_SUCCESS,
                help:
                    "Unix time at which the last successful run (complete, exit code 0 or 1) ended.",
                value: Value::Gauge(at),
                label: None,
            }),
            LastSuccess::Unknown => None,
        };
        self.samples.iter().cloned().chain(last_success)
    }

    /// The Prometheus text exposition format (0.0.4): one HELP and TYPE line per family, every
    /// series labelled with bucket, prefix and command.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut family = String::new();
        for sample in self.series() {
            let name = match sample.value {
                Value::Counter(_) => format!("{}_total", sample.name),
                Value::Gauge(_) => sample.name.to_owned(),
            };
            if name != family {
                let kind = match sample.value {
                    Value::Counter(_) => "counter",
                    Value::Gauge(_) => "gauge",
                };
                let _ = writeln!(out, "# HELP {name} {}", escape_help(sample.help));
                let _ = writeln!(out, "# TYPE {name} {kind}");
            }
            let mut labels = vec![
                ("bucket", self.labels.bucket.as_str()),
                ("prefix", self.labels.prefix.as_str()),
                ("command", self.labels.command),
            ];
            if let Some((key, value)) = &sample.label {
                labels.push((key, value));
            }
            let labels: Vec<String> = labels
                .iter()
                .map(|(key, value)| format!("{key}=\"{}\"", escape_label_value(value)))
                .collect();
            let _ = writeln!(
                out,
                "{name}{{{}}} {}",
                labels.join(","),
                number(sample.value)
            );
            family = name;
        }
        out
    }

    /// The DogStatsD samples. The last success only when it is this run's: a kept one is for the
    /// file, which would otherwise lose it. The prefix tag only when there is a prefix.
    pub fn statsd(&self) -> Vec<StatsdSample> {
        self.series()
            .filter(|s| s.name != LAST_SUCCESS || matches!(self.last_success, LastSuccess::Now(_)))
            .map(|sample| {
                let mut tags = vec![("bucket", statsd_tag(&self.labels.bucket))];
                if !self.labels.prefix.is_empty() {
                    tags.push(("prefix", statsd_tag(&self.labels.prefix)));
                }
                tags.push(("command", self.labels.command.to_owned()));
                if let Some((key, value)) = &sample.label {
                    tags.push((key, statsd_tag(value)));
                }
                StatsdSample {
                    name: sample.name,
                    value: sample.value,
                    tags,
                }
            })
            .collect()
    }
}

/// A HELP text: backslash and newline escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A label value: backslash, double quote and newline escaped.
fn escape_label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A value as the Prometheus format writes numbers: integers as they are, `NaN`, `+Inf`, `-Inf`.
fn number(value: Value) -> String {
    match value {
        Value::Counter(n) => n.to_string(),
        Value::Gauge(x) if x.is_nan() => "NaN".to_owned(),
        Value::Gauge(x) if x == f64::INFINITY => "+Inf".to_owned(),
        Value::Gauge(x) if x == f64::NEG_INFINITY => "-Inf".to_owned(),
        Value::Gauge(x) => x.to_string(),
    }
}

/// A DogStatsD tag value: `,` separates tags, `|` fields and a newline metrics, so each of them
/// (and every other control character) becomes `_`.
fn statsd_tag(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ',' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect()
}

/// The last success a previous metrics file records for a run with these labels: a failed run
/// keeps it, so that an alert on its age goes on counting from the last run that worked. A
/// series of another bucket, prefix or command is not this job's, and is not taken.
pub fn last_success_in(text: &str, labels: &Labels) -> Option<f64> {
    text.lines()
        .filter_map(parse_series)
        .find(|(name, series_labels, _)| {
            let label = |key: &str| series_labels.get(key).map_or("", String::as_str);
            *name == LAST_SUCCESS
                && label("bucket") == labels.bucket
                && label("prefix") == labels.prefix
                && label("command") == labels.command
        })
        .and_then(|(_, _, value)| value.parse::<f64>().ok())
        .filter(|at| at.is_finite() && *at > 0.0)
}

/// `name{key="value",...} value [timestamp]`: the name, the labels unescaped, and the value; `None`
/// for comments, blank lines and anything malformed.
fn parse_series(line: &str) -> Option<(&str, BTreeMap<String, String>, &str)> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let (name, mut rest) = line.split_at(end);
    let mut labels = BTreeMap::new();
    if let Some(inside) = rest.strip_prefix('{') {
        let mut chars = inside.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' if key.trim().is_empty() => {
                    rest = &inside[i + 1..];
                    break;
                }
                ',' if key.trim().is_empty() => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                c => value.push(c),
                            },
                            c => value.push(c),
                        }
                    }
                    labels.insert(std::mem::take(&mut key).trim().to_owned(), value);
                }
                c => key.push(c),
            }
        }
    }
    let value = rest.split_whitespace().next()?;
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Header, RequestCounts};
    use crate::report::FixCounts;
    use crate::rules::{Finding, RuleId};

    fn labels(prefix: &str) -> Labels {
        Labels {
            bucket: "site".into(),
            prefix: prefix.into(),
            command: "fix",
        }
    }

    /// A fix of 10 objects: 6 clean, 4 with findings (2 fixed, 1 skipped, 1 failed), 1 error.
    fn summary() -> Summary {
        Summary {
            listed: 11,
            inspected: 10,
            from_catalog: Some(3),
            clean: 6,
            with_findings: 4,
            errors: 1,
            complete: true,
            fix: Some(FixCounts {
                fixed: 2,
                skipped: 1,
                failed: 1,
                ..FixCounts::default()
            }),
            requests: Some(RequestCounts {
                calls: 20,
                attempts: 23,
                throttled: 2,
                failed_attempts: 1,
                ..RequestCounts::default()
            }),
            ..Summary::default()
        }
    }

    fn finding(rule: RuleId, header: Header) -> Finding {
        Finding::new(rule, header, Some("UTF-8"), None)
    }

    fn row(status: Status, findings: Vec<Finding>, reason: Option<&str>) -> ObjectRow {
        ObjectRow {
            reason: reason.map(str::to_owned),
            ..ObjectRow::new("k", None, None, status, findings)
        }
    }

    fn tally() -> Tally {
        let mut tally = Tally::new(&RuleSet::all());
        let ce = || finding(RuleId::ContentEncoding, Header::ContentEncoding);
        tally.record(&row(Status::Fixed, vec![ce()], None));
        tally.record(&row(Status::Fixed, vec![ce()], None));
        tally.record(&row(Status::Skipped, vec![ce()], Some("archived")));
        tally.record(&row(Status::Error, vec![ce()], None));
        tally
    }

    /// The metrics of [`summary`] and [`tally`], under `www/`, after `millis`.
    fn of_a_fix(millis: u64) -> Metrics {
        Metrics::new(
            labels("www/"),
            &summary(),
            &tally(),
            Duration::from_millis(millis),
            LastSuccess::Now(1_790_000_000.0),
        )
    }

    /// The metrics of a run that saw nothing.
    fn of_nothing(labels: Labels, last_success: LastSuccess) -> Metrics {
        Metrics::new(
            labels,
            &Summary::default(),
            &Tally::default(),
            Duration::ZERO,
            last_success,
        )
    }

    #[test]
    fn the_file_is_the_prometheus_text_format() {
        let metrics = of_a_fix(12_345);
        let l = r#"bucket="site",prefix="www/",command="fix""#;
        let expected = format!(
            "\
# HELP s3mend_listed_total Objects listed.
# TYPE s3mend_listed_total counter
s3mend_listed_total{{{l}}} 11
# HELP s3mend_inspected_total Objects whose metadata was checked: from a HEAD, or from the --catalog.
# TYPE s3mend_inspected_total counter
s3mend_inspected_total{{{l}}} 10
# HELP s3mend_from_catalog_total Objects the listing showed unchanged, checked on the --catalog's snapshot.
# TYPE s3mend_from_catalog_total counter
s3mend_from_catalog_total{{{l}}} 3
# HELP s3mend_clean_total Objects without a finding (those deleted before their HEAD included).
# TYPE s3mend_clean_total counter
s3mend_clean_total{{{l}}} 6
# HELP s3mend_findings_total Objects with at least one finding.
# TYPE s3mend_findings_total counter
s3mend_findings_total{{{l}}} 4
# HELP s3mend_findings_by_rule_total Objects with at least one finding of the rule.
# TYPE s3mend_findings_by_rule_total counter
s3mend_findings_by_rule_total{{{l},rule=\"content-encoding\"}} 4
s3mend_findings_by_rule_total{{{l},rule=\"content-type\"}} 0
# HELP s3mend_fixed_total Objects repaired and verified (fix) or restored (undo).
# TYPE s3mend_fixed_total counter
s3mend_fixed_total{{{l}}} 2
# HELP s3mend_skipped_total Objects left as they are, by reason (SSE-C objects included).
# TYPE s3mend_skipped_total counter
s3mend_skipped_total{{{l},reason=\"archived\"}} 1
# HELP s3mend_conflicts_total Objects left alone because they changed after their inspection.
# TYPE s3mend_conflicts_total counter
s3mend_conflicts_total{{{l}}} 0
# HELP s3mend_errors_total Objects that could not be inspected, and repairs that failed.
# TYPE s3mend_errors_total counter
s3mend_errors_total{{{l}}} 2
# HELP s3mend_requests_total S3 operations the run asked for.
# TYPE s3mend_requests_total counter
s3mend_requests_total{{{l}}} 20
# HELP s3mend_attempts_total HTTP attempts those took, retries included.
# TYPE s3mend_attempts_total counter
s3mend_attempts_total{{{l}}} 23
# HELP s3mend_throttled_total Attempts answered 503 SlowDown or 429.
# TYPE s3mend_throttled_total counter
s3mend_throttled_total{{{l}}} 2
# HELP s3mend_failed_attempts_total Attempts that failed otherwise: 5xx, broken connections, timeouts.
# TYPE s3mend_failed_attempts_total counter
s3mend_failed_attempts_total{{{l}}} 1
# HELP s3mend_duration_seconds How long the run took, from its start to its end.
# TYPE s3mend_duration_seconds gauge
s3mend_duration_seconds{{{l}}} 12.345
# HELP s3mend_complete 1 if the run went to the end (not interrupted, its listing did not fail, nothing stopped it).
# TYPE s3mend_complete gauge
s3mend_complete{{{l}}} 1
# HELP s3mend_last_success_timestamp_seconds Unix time at which the last successful run (complete, exit code 0 or 1) ended.
# TYPE s3mend_last_success_timestamp_seconds gauge
s3mend_last_success_timestamp_seconds{{{l}}} 1790000000
"
        );
        assert_eq!(metrics.prometheus(), expected);
    }

    #[test]
    fn a_scan_has_every_count_at_zero_and_no_last_success_unless_known() {
        let metrics = Metrics::new(
            Labels {
                command: "scan",
                ..labels("")
            },
            &Summary::default(),
            &Tally::new(&RuleSet::all()),
            Duration::ZERO,
            LastSuccess::Unknown,
        );
        let text = metrics.prometheus();
        assert!(
            text.contains("s3mend_fixed_total{bucket=\"site\",prefix=\"\",command=\"scan\"} 0\n")
        );
        assert!(text.contains("s3mend_complete{bucket=\"site\",prefix=\"\",command=\"scan\"} 0\n"));
        assert!(text
            .contains("s3mend_duration_seconds{bucket=\"site\",prefix=\"\",command=\"scan\"} 0\n"));
        assert!(!text.contains("s3mend_skipped"), "no reason, no series");
        assert!(!text.contains(LAST_SUCCESS), "{text}");
        // Each family's HELP and TYPE once, before its series.
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            assert_eq!(text.matches(line).count(), 1, "{line}");
        }
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        for (raw, escaped) in [
            ("plain/", "plain/"),
            ("a\\b", "a\\\\b"),
            ("say \"hi\"", "say \\\"hi\\\""),
            ("two\nlines", "two\\nlines"),
            ("\\\"\n", "\\\\\\\"\\n"),
            // Everything else as it is: tabs, carriage returns, braces, commas, UTF-8.
            ("t\tr\r{},=日本", "t\tr\r{},=日本"),
            ("", ""),
        ] {
            assert_eq!(escape_label_value(raw), escaped, "{raw:?}");
            let metrics = of_nothing(labels(raw), LastSuccess::Unknown);
            let text = metrics.prometheus();
            assert!(
                text.contains(&format!("prefix=\"{escaped}\"")),
                "{raw:?}: {text}"
            );
            // Whatever the prefix, one line per series: a newline never splits one.
            for line in text.lines() {
                assert!(
                    line.starts_with("# ") || line.starts_with("s3mend_"),
                    "{raw:?}: {line:?}"
                );
            }
        }
    }

    #[test]
    fn help_escapes_backslash_and_newline_but_not_quotes() {
        assert_eq!(escape_help("a\\b\nc \"d\""), "a\\\\b\\nc \"d\"");
    }

    #[test]
    fn numbers_are_written_as_prometheus_reads_them() {
        for (value, text) in [
            (Value::Counter(0), "0"),
            (Value::Counter(u64::MAX), "18446744073709551615"),
            (Value::Gauge(0.0), "0"),
            (Value::Gauge(1.0), "1"),
            (Value::Gauge(0.25), "0.25"),
            (Value::Gauge(1_790_000_000.0), "1790000000"),
            (Value::Gauge(f64::NAN), "NaN"),
            (Value::Gauge(f64::INFINITY), "+Inf"),
            (Value::Gauge(f64::NEG_INFINITY), "-Inf"),
        ] {
            assert_eq!(number(value), text, "{value:?}");
        }
    }

    #[test]
    fn statsd_samples_have_the_same_names_and_tags_for_each_label() {
        let metrics = of_a_fix(1500);
        let samples = metrics.statsd();
        let names: Vec<&str> = samples.iter().map(|s| s.name).collect();
        let mut families: Vec<&str> = metrics.series().map(|s| s.name).collect();
        families.dedup();
        let mut distinct = names.clone();
        distinct.dedup();
        assert_eq!(distinct, families);
        let find = |name: &str, label: Option<(&str, &str)>| {
            samples
                .iter()
                .find(|s| {
                    s.name == name
                        && label
                            .is_none_or(|(k, v)| s.tags.iter().any(|(tk, tv)| *tk == k && tv == v))
                })
                .unwrap_or_else(|| panic!("{name} {label:?} in {samples:?}"))
        };
        let base = vec![
            ("bucket", "site".to_owned()),
            ("prefix", "www/".to_owned()),
            ("command", "fix".to_owned()),
        ];
        assert_eq!(
            find("s3mend_listed", None),
            &StatsdSample {
                name: "s3mend_listed",
                value: Value::Counter(11),
                tags: base.clone(),
            }
        );
        let by_rule = find(
            "s3mend_findings_by_rule",
            Some(("rule", "content-encoding")),
        );
        assert_eq!(by_rule.value, Value::Counter(4));
        assert_eq!(
            by_rule.tags.last(),
            Some(&("rule", "content-encoding".to_owned()))
        );
        let skipped = find("s3mend_skipped", Some(("reason", "archived")));
        assert_eq!(skipped.value, Value::Counter(1));
        assert_eq!(
            find("s3mend_duration_seconds", None).value,
            Value::Gauge(1.5)
        );
        assert_eq!(
            find(LAST_SUCCESS, None).value,
            Value::Gauge(1_790_000_000.0)
        );
        assert!(samples.iter().all(|s| s.tags[..3] == base[..]));
    }

    #[test]
    fn statsd_sends_only_its_own_last_success_and_no_empty_prefix() {
        for (last_success, sent) in [
            (LastSuccess::Now(5.0), true),
            (LastSuccess::Kept(5.0), false),
            (LastSuccess::Unknown, false),
        ] {
            let metrics = of_nothing(labels(""), last_success);
            let samples = metrics.statsd();
            assert_eq!(
                samples.iter().any(|s| s.name == LAST_SUCCESS),
                sent,
                "{last_success:?}"
            );
            assert!(samples
                .iter()
                .all(|s| s.tags.iter().all(|(k, _)| *k != "prefix")));
            // The file keeps a kept one.
            assert_eq!(
                metrics.prometheus().contains(LAST_SUCCESS),
                last_success != LastSuccess::Unknown
            );
        }
    }

    #[test]
    fn statsd_tag_values_cannot_break_the_line() {
        for (raw, tag) in [
            ("www/", "www/"),
            ("a,b|c", "a_b_c"),
            ("new\nline\r\t\u{1}", "new_line___"),
            ("key:value #x é", "key:value #x é"),
        ] {
            assert_eq!(statsd_tag(raw), tag, "{raw:?}");
        }
    }

    #[test]
    fn objects_count_once_per_rule_and_skips_by_reason() {
        let mut tally = Tally::new(&RuleSet::all());
        assert_eq!(
            tally.by_rule,
            BTreeMap::from([("content-encoding", 0), ("content-type", 0)])
        );
        // A policy sets two headers of one object: one object for the rule.
        let policy = vec![
            finding(RuleId::Policy, Header::CacheControl),
            finding(RuleId::Policy, Header::ContentType),
            finding(RuleId::ContentType, Header::ContentType),
        ];
        tally.record(&row(Status::Finding, policy.clone(), None));
        tally.record(&row(Status::Skipped, vec![], Some("sse-c")));
        tally.record(&row(Status::Skipped, policy.clone(), Some("archived")));
        tally.record(&row(Status::Skipped, policy.clone(), Some("archived")));
        // Gone by its repair: clean, as the summary counts it.
        tally.record(&row(Status::Gone, policy, Some("deleted")));
        tally.record(&row(Status::Error, vec![], None));
        assert_eq!(
            tally.by_rule,
            BTreeMap::from([("content-encoding", 0), ("content-type", 3), ("policy", 3)])
        );
        assert_eq!(
            tally.skipped,
            BTreeMap::from([("archived".to_owned(), 2), ("sse-c".to_owned(), 1)])
        );
    }

    #[test]
    fn a_failed_run_reads_the_last_success_of_its_own_series_back() {
        for prefix in ["", "www/", "we\"ird\\dir\nx/"] {
            let written =
                of_nothing(labels(prefix), LastSuccess::Now(1_790_000_123.0)).prometheus();
            assert_eq!(
                last_success_in(&written, &labels(prefix)),
                Some(1_790_000_123.0),
                "{prefix:?}: {written}"
            );
            // Another job's file: another bucket, prefix or command.
            let other_bucket = Labels {
                bucket: "other".into(),
                ..labels(prefix)
            };
            let other_command = Labels {
                command: "scan",
                ..labels(prefix)
            };
            for other in [other_bucket, other_command, labels("elsewhere/")] {
                assert_eq!(last_success_in(&written, &other), None, "{other:?}");
            }
        }
    }

    #[test]
    fn the_last_success_is_read_from_any_well_formed_file_and_nothing_else() {
        let l = labels("");
        let read = |text: &str| last_success_in(text, &l);
        // Label order, spacing, a timestamp, and an absent prefix (which means empty) do not
        // matter.
        assert_eq!(
            read("s3mend_last_success_timestamp_seconds{command=\"fix\", bucket=\"site\",} 42 1700000000000\n"),
            Some(42.0)
        );
        assert_eq!(
            read("# HELP x\n\ns3mend_last_success_timestamp_seconds{bucket=\"site\",prefix=\"\",command=\"fix\"} 1.5e9"),
            Some(1.5e9)
        );
        for bad in [
            "",
            "garbage",
            "s3mend_last_success_timestamp_seconds{bucket=\"site\",command=\"fix\"}",
            "s3mend_last_success_timestamp_seconds{bucket=\"site\",command=\"fix\"} NaN",
            "s3mend_last_success_timestamp_seconds{bucket=\"site\",command=\"fix\"} -Inf",
            "s3mend_last_success_timestamp_seconds{bucket=\"site\",command=\"fix\"} 0",
            "s3mend_last_success_timestamp_seconds{bucket=\"site\",command=\"fix\" 5",
            "s3mend_last_success_timestamp_seconds{bucket=site,command=\"fix\"} 5",
            "s3mend_last_success_timestamp_seconds{bucket=\"site,command=\"fix\"} 5",
            "# s3mend_last_success_timestamp_seconds{bucket=\"site\",command=\"fix\"} 5",
            "s3mend_last_success_timestamp_seconds_x{bucket=\"site\",command=\"fix\"} 5",
        ] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_readme_documents_every_metric() {
        let readme = include_str!("../../README.md");
        for sample in of_a_fix(0).series() {
            let name = match sample.value {
                Value::Counter(_) => format!("`{}_total`", sample.name),
                Value::Gauge(_) => format!("`{}`", sample.name),
            };
            assert!(readme.contains(&name), "README \"Metrics\" lists {name}");
        }
    }
}
