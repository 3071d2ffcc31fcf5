//! `--statsd` and `--metrics-file`: what a real run sends and writes, read back by parsers of this
//! file's own (not s3mend's), and checked against the same run's JSON report.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3mend_lab::{ListingDamage, ObjectSeed};
use serde_json::Value;

use crate::harness::{fix, Run, TestEnv, BUCKET};
use crate::scan_errors::one_line_error;

/// One DogStatsD line: `name:value|type|#key:value,...`.
#[derive(Debug)]
struct Datagram {
    name: String,
    value: f64,
    kind: String,
    tags: BTreeMap<String, String>,
}

/// A UDP socket on 127.0.0.1 standing in for a DogStatsD agent.
struct Agent {
    socket: UdpSocket,
}

impl Agent {
    fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        Agent { socket }
    }

    fn addr(&self) -> String {
        self.socket.local_addr().unwrap().to_string()
    }

    /// Every line received until the socket stays quiet (the run has exited by then: what it sent
    /// over loopback is already queued).
    fn received(&self) -> Vec<Datagram> {
        let mut lines = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n) = self.socket.recv(&mut buf) {
            let text = std::str::from_utf8(&buf[..n]).expect("UTF-8 datagram");
            lines.extend(text.lines().map(parse_datagram));
        }
        lines
    }
}

fn parse_datagram(line: &str) -> Datagram {
    let mut fields = line.split('|');
    let (name, value) = fields
        .next()
        .unwrap()
        .split_once(':')
        .unwrap_or_else(|| panic!("name:value in {line:?}"));
    let kind = fields.next().unwrap_or_else(|| panic!("type in {line:?}"));
    let mut tags = BTreeMap::new();
    for field in fields {
        let list = field
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only tags follow in {line:?}"));
        for tag in list.split(',') {
            let (key, value) = tag.split_once(':').unwrap_or((tag, ""));
            assert!(
                tags.insert(key.to_owned(), value.to_owned()).is_none(),
                "{line:?}"
            );
        }
    }
    Datagram {
        name: name.to_owned(),
        value: value
            .parse()
            .unwrap_or_else(|_| panic!("number in {line:?}")),
        kind: kind.to_owned(),
        tags,
    }
}

/// One series of a Prometheus text file.
#[derive(Debug, Clone)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A metrics file: its series, and the TYPE of each family.
#[derive(Debug)]
struct Exposition {
    series: Vec<Series>,
    types: BTreeMap<String, String>,
}

impl Exposition {
    fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).expect("metrics file");
        let mut series = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(types.insert(name.to_owned(), kind.to_owned()).is_none());
            } else if !line.starts_with("# HELP ") {
                series.push(parse_series(line));
            }
        }
        Exposition { series, types }
    }

    /// The value of `name`, whose labels beyond bucket, prefix and command are `extra`.
    fn value(&self, name: &str, extra: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Series> = self
            .series
            .iter()
            .filter(|s| {
                s.name == name
                    && s.labels.len() == 3 + extra.len()
                    && extra
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
            })
            .collect();
        assert!(found.len() <= 1, "{name} {extra:?}: {found:?}");
        found.first().map(|s| s.value)
    }

    fn get(&self, name: &str) -> f64 {
        self.value(name, &[])
            .unwrap_or_else(|| panic!("{name} in {self:?}"))
    }
}

/// `name{key="value",...} value`, label values unescaped (`\\`, `\"`, `\n`).
fn parse_series(line: &str) -> Series {
    let (name, rest) = line
        .split_once('{')
        .unwrap_or_else(|| panic!("labels in {line:?}"));
    let mut labels = BTreeMap::new();
    let mut chars = rest.chars();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "{line:?}");
        let mut value = String::new();
        loop {
            match chars.next().unwrap() {
                '"' => break,
                '\\' => match chars.next().unwrap() {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("escape \\{c} in {line:?}"),
                },
                c => value.push(c),
            }
        }
        labels.insert(key, value);
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            other => panic!("{other:?} after a label in {line:?}"),
        }
    }
    let value = chars.as_str().strip_prefix(' ').unwrap();
    Series {
        name: name.to_owned(),
        labels,
        value: value.parse().unwrap_or_else(|_| panic!("{line:?}")),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
}

/// A bucket with a finding of each kind a fix handles differently: two it repairs, one archived
/// (skipped), one SSE-C (skipped before any rule), one clean.
fn seed(env: &TestEnv) {
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("b.html", "text/html", None);
    env.put("style.css", "binary/octet-stream", None);
    env.lab.put_object(
        BUCKET,
        "cold.html",
        ObjectSeed {
            content_type: Some("text/html".into()),
            content_encoding: Some("UTF-8".into()),
            storage_class: Some("GLACIER".into()),
            ..ObjectSeed::with_body(&b"<html>cold</html>"[..])
        },
    );
    env.lab.put_object(
        BUCKET,
        "secret.bin",
        ObjectSeed {
            sse_customer_algorithm: Some("AES256".into()),
            sse_customer_key_md5: Some("bWQ1b2Z0aGVrZXk=".into()),
            ..ObjectSeed::with_body(&b"secret"[..])
        },
    );
}

/// A summary field of a JSON report, 0 when absent (fix-only fields in a scan, `from_catalog`).
fn field(summary: &Value, path: &[&str]) -> f64 {
    let mut value = summary;
    for key in path {
        value = &value[key];
    }
    value.as_f64().unwrap_or(0.0)
}

/// Every metric that is a summary field, with the fields it is made of.
const FROM_SUMMARY: [(&str, &[&[&str]]); 13] = [
    ("s3mend_listed", &[&["listed"]]),
    ("s3mend_inspected", &[&["inspected"]]),
    ("s3mend_from_catalog", &[&["from_catalog"]]),
    ("s3mend_clean", &[&["clean"]]),
    ("s3mend_findings", &[&["with_findings"]]),
    ("s3mend_fixed", &[&["fixed"]]),
    ("s3mend_conflicts", &[&["conflicts"]]),
    ("s3mend_errors", &[&["errors"], &["failed"]]),
    ("s3mend_requests", &[&["requests", "calls"]]),
    ("s3mend_attempts", &[&["requests", "attempts"]]),
    ("s3mend_throttled", &[&["requests", "throttled"]]),
    (
        "s3mend_failed_attempts",
        &[&["requests", "failed_attempts"]],
    ),
    ("s3mend_complete", &[&["complete"]]),
];

fn expected(summary: &Value, fields: &[&[&str]]) -> f64 {
    fields
        .iter()
        .map(|path| match summary[path[0]] {
            Value::Bool(b) if path.len() == 1 => f64::from(u8::from(b)),
            _ => field(summary, path),
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_and_fix_send_their_metrics_to_statsd() {
    let env = TestEnv::new().await;
    seed(&env);
    let agent = Agent::new();
    let started = unix_now();
    let target = format!("s3://{BUCKET}/");
    for (command, code) in [("scan", 1), ("fix", 1)] {
        let addr = agent.addr();
        let mut args = vec![command, &target, "--format", "json", "--statsd", &addr];
        if command == "fix" {
            args.extend(["--yes", "--dry-run"]);
        }
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, code, "{command}: {run:?}");
        assert_eq!(run.stderr, "", "{command}");
        let summary = &run.json()["summary"];
        let received = agent.received();
        let one = |name: &str, extra: Option<(&str, &str)>| -> &Datagram {
            let found: Vec<&Datagram> = received
                .iter()
                .filter(|d| {
                    d.name == name
                        && extra.is_none_or(|(k, v)| d.tags.get(k).map(String::as_str) == Some(v))
                })
                .collect();
            assert_eq!(found.len(), 1, "{command} {name} {extra:?}: {received:?}");
            found[0]
        };
        for (name, fields) in FROM_SUMMARY {
            let datagram = one(name, None);
            let kind = if name == "s3mend_complete" { "g" } else { "c" };
            assert_eq!(datagram.kind, kind, "{command} {name}");
            assert_eq!(
                datagram.value,
                expected(summary, fields),
                "{command} {name}: {summary}"
            );
        }
        for datagram in &received {
            let expected_tags = match datagram.name.as_str() {
                "s3mend_findings_by_rule" => 3,
                "s3mend_skipped" => 3,
                _ => 2,
            };
            assert_eq!(datagram.tags.len(), expected_tags, "{datagram:?}");
            assert_eq!(datagram.tags["bucket"], BUCKET);
            assert_eq!(datagram.tags["command"], command);
            assert!(!datagram.tags.contains_key("prefix"), "a whole bucket");
        }
        // content-encoding: a.html and cold.html; content-type: style.css.
        assert_eq!(
            one(
                "s3mend_findings_by_rule",
                Some(("rule", "content-encoding"))
            )
            .value,
            2.0
        );
        assert_eq!(
            one("s3mend_findings_by_rule", Some(("rule", "content-type"))).value,
            1.0
        );
        assert_eq!(one("s3mend_skipped", Some(("reason", "sse-c"))).value, 1.0);
        let duration = one("s3mend_duration_seconds", None);
        assert_eq!(duration.kind, "g");
        assert!(
            duration.value > 0.0 && duration.value < 60.0,
            "{duration:?}"
        );
        let last_success = one("s3mend_last_success_timestamp_seconds", None);
        assert_eq!(last_success.kind, "g");
        assert!(
            (started..=unix_now() + 1.0).contains(&last_success.value),
            "{last_success:?}"
        );
    }
    assert_eq!(env.lab.stats().count("CopyObject"), 0, "a dry run");

    // A real fix: repaired, and skipped by reason; then its undo.
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("fix.jsonl");
    let addr = agent.addr();
    let run = fix(&env, &journal, &["--statsd", &addr]).await;
    assert_eq!(run.code, 1, "the archived object is left: {run:?}");
    let summary = &run.json()["summary"];
    assert_eq!(summary["fixed"], 2, "{summary}");
    let received = agent.received();
    let value = |name: &str, tag: Option<(&str, &str)>| {
        received
            .iter()
            .find(|d| d.name == name && tag.is_none_or(|(k, v)| d.tags[k] == v))
            .unwrap_or_else(|| panic!("{name} {tag:?} in {received:?}"))
            .value
    };
    assert_eq!(value("s3mend_fixed", None), 2.0);
    assert_eq!(value("s3mend_skipped", Some(("reason", "archived"))), 1.0);
    assert_eq!(value("s3mend_skipped", Some(("reason", "sse-c"))), 1.0);
    assert_eq!(value("s3mend_errors", None), 0.0);
    assert_eq!(
        value("s3mend_requests", None),
        field(summary, &["requests", "calls"])
    );

    let run = env
        .s3mend(&[
            "undo",
            journal.to_str().unwrap(),
            "--yes",
            "--format",
            "json",
            "--journal",
            dir.path().join("undo.jsonl").to_str().unwrap(),
            "--statsd",
            &addr,
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let received = agent.received();
    assert!(!received.is_empty());
    assert!(received.iter().all(|d| d.tags["command"] == "undo"
        && d.tags["bucket"] == BUCKET
        && !d.tags.contains_key("prefix")));
    let fixed = received.iter().find(|d| d.name == "s3mend_fixed").unwrap();
    assert_eq!(fixed.value, 2.0, "both repairs put back");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_file_says_what_the_report_says() {
    let env = TestEnv::new().await;
    seed(&env);
    let prefix = "we \"ird\"\\dir/";
    env.put(&format!("{prefix}x.html"), "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s3mend.prom");
    let started = unix_now();
    for (args, code, labels) in [
        (vec!["scan", "s3://test-bucket/"], 1, (BUCKET, "", "scan")),
        (
            vec!["fix", "s3://test-bucket/", "--yes", "--dry-run"],
            1,
            (BUCKET, "", "fix"),
        ),
        (
            vec!["scan", "s3://test-bucket/we \"ird\"\\dir/"],
            1,
            (BUCKET, prefix, "scan"),
        ),
    ] {
        let mut args = args.clone();
        args.extend(["--format", "json", "--metrics-file", file.to_str().unwrap()]);
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        assert_eq!(run.stderr, "", "{args:?}");
        let summary = &run.json()["summary"];
        let metrics = Exposition::read(&file);
        for series in &metrics.series {
            let (bucket, prefix, command) = labels;
            assert_eq!(series.labels["bucket"], bucket, "{series:?}");
            assert_eq!(series.labels["prefix"], prefix, "{series:?}");
            assert_eq!(series.labels["command"], command, "{series:?}");
            let kind = &metrics.types[&series.name];
            assert_eq!(
                kind == "counter",
                series.name.ends_with("_total"),
                "{series:?} is a {kind}"
            );
        }
        for (name, fields) in FROM_SUMMARY {
            let name = if name == "s3mend_complete" {
                name.to_owned()
            } else {
                format!("{name}_total")
            };
            assert_eq!(
                metrics.get(&name),
                expected(summary, fields),
                "{args:?} {name}: {summary}"
            );
        }
        let by_rule = |rule| metrics.value("s3mend_findings_by_rule_total", &[("rule", rule)]);
        let skipped = |reason| metrics.value("s3mend_skipped_total", &[("reason", reason)]);
        if labels.1.is_empty() {
            // a.html, cold.html and the one under the prefix; style.css.
            assert_eq!(by_rule("content-encoding"), Some(3.0));
            assert_eq!(by_rule("content-type"), Some(1.0));
            assert_eq!(skipped("sse-c"), Some(1.0));
        } else {
            assert_eq!(by_rule("content-encoding"), Some(1.0));
            assert_eq!(
                by_rule("content-type"),
                Some(0.0),
                "every rule has a series"
            );
            assert_eq!(skipped("sse-c"), None, "no such object under the prefix");
        }
        let duration = metrics.get("s3mend_duration_seconds");
        assert!(duration > 0.0 && duration < 60.0, "{duration}");
        let last_success = metrics.get("s3mend_last_success_timestamp_seconds");
        assert!(
            (started..=unix_now() + 1.0).contains(&last_success),
            "{last_success}"
        );
    }
    // Readable by node_exporter, and nothing left beside it.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o644, 0o644, "{mode:o}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["s3mend.prom"]);
}

/// `s3mend scan s3://test-bucket/ --format json` with both sinks, then `extra`.
async fn scan_into(env: &TestEnv, file: &Path, agent: &Agent, extra: &[&str]) -> Run {
    let addr = agent.addr();
    let mut args = vec![
        "scan",
        "s3://test-bucket/",
        "--format",
        "json",
        "--metrics-file",
        file.to_str().unwrap(),
        "--statsd",
        &addr,
    ];
    args.extend_from_slice(extra);
    env.s3mend(&args).await
}

/// The file's last success, rewritten to a time long past, so that keeping it cannot be mistaken
/// for writing a new one.
fn age_last_success(file: &Path, bucket: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("s3mend_last_success_timestamp_seconds{"))
        .map(str::to_owned)
        .collect();
    lines.push(format!(
        "s3mend_last_success_timestamp_seconds{{bucket=\"{bucket}\",prefix=\"\",command=\"scan\"}} 1000000000"
    ));
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_keeps_the_last_success_of_the_run_before() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("b.html", "text/html", None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s3mend.prom");
    let agent = Agent::new();
    let scan = || scan_into(&env, &file, &agent, &["--max-attempts", "1"]);
    let run = scan().await;
    assert_eq!(run.code, 1, "{run:?}");
    agent.received();
    age_last_success(&file, BUCKET);

    // An object that cannot be inspected: the run is complete but exits 2.
    env.lab.fail_next("HeadObject", "b.html", 1);
    let run = scan().await;
    assert_eq!(run.code, 2, "{run:?}");
    let summary = &run.json()["summary"];
    assert_eq!(summary["complete"], true, "{summary}");
    let metrics = Exposition::read(&file);
    assert_eq!(metrics.get("s3mend_errors_total"), 1.0);
    assert_eq!(metrics.get("s3mend_complete"), 1.0);
    assert_eq!(
        metrics.get("s3mend_last_success_timestamp_seconds"),
        1_000_000_000.0,
        "kept from the file before"
    );
    let received = agent.received();
    assert!(received
        .iter()
        .any(|d| d.name == "s3mend_errors" && d.value == 1.0));
    assert!(
        !received
            .iter()
            .any(|d| d.name == "s3mend_last_success_timestamp_seconds"),
        "statsd keeps its own last value: {received:?}"
    );

    // A file of another job (another bucket) has nothing to keep.
    age_last_success(&file, "other-bucket");
    env.lab.fail_next("HeadObject", "b.html", 1);
    let run = scan().await;
    assert_eq!(run.code, 2, "{run:?}");
    let metrics = Exposition::read(&file);
    assert_eq!(metrics.get("s3mend_errors_total"), 1.0);
    assert_eq!(
        metrics.value("s3mend_last_success_timestamp_seconds", &[]),
        None
    );

    // Nor did a run whose listing failed: it is not complete.
    age_last_success(&file, BUCKET);
    env.lab
        .damage_listings(ListingDamage::TruncatedWithoutToken, 1);
    let run = scan().await;
    assert_eq!(run.code, 2, "{run:?}");
    let metrics = Exposition::read(&file);
    assert_eq!(metrics.get("s3mend_complete"), 0.0);
    assert_eq!(
        metrics.get("s3mend_last_success_timestamp_seconds"),
        1_000_000_000.0
    );

    // The next run that succeeds moves it on.
    let before = unix_now();
    let run = scan().await;
    assert_eq!(run.code, 1, "{run:?}");
    let at = Exposition::read(&file).get("s3mend_last_success_timestamp_seconds");
    assert!((before..=unix_now() + 1.0).contains(&at), "{at}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_statsd_address_is_a_one_line_usage_error() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    for command in [
        &["scan", "s3://test-bucket/"][..],
        &["fix", "s3://test-bucket/", "--yes"],
        &["undo", "no-such-journal.jsonl", "--yes"],
    ] {
        for bad in [
            "localhost",
            "localhost:0",
            "localhost:99999",
            "::1:8125",
            "udp://x:1",
        ] {
            let mut args = command.to_vec();
            args.extend(["--statsd", bad]);
            let run = env.s3mend(&args).await;
            assert_eq!(run.code, 2, "{args:?}: {run:?}");
            one_line_error(&run.stderr, &format!("--statsd '{bad}' is not HOST:PORT"));
        }
        let run = env
            .s3mend_with(command, &[("S3MEND_STATSD", "statsd")])
            .await;
        assert_eq!(run.code, 2, "{command:?}: {run:?}");
        one_line_error(&run.stderr, "--statsd 'statsd' is not HOST:PORT");
    }
    assert_eq!(env.lab.stats().total(), 0, "no request for bad usage");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_statsd_that_cannot_be_reached_is_one_warning() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    // .invalid never resolves (RFC 6761).
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "--format",
            "json",
            "--statsd",
            "s3mend-test.invalid:8125",
        ])
        .await;
    assert_eq!(run.code, 1, "as without --statsd: {run:?}");
    assert_eq!(run.json()["summary"]["with_findings"], 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].contains("WARN"), "{}", run.stderr);
    assert!(
        lines[0].contains("the metrics could not be sent to --statsd s3mend-test.invalid:8125"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_metrics_file_is_refused_before_any_request() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("fix.jsonl");
    let run = fix(&env, &journal, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    env.lab.reset_stats();
    let read_only = dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root writes anywhere: a read-only directory refuses only others.
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let dir_path = dir.path().to_str().unwrap().to_owned();
    let mut unwritable = vec!["/nonexistent/dir/s3mend.prom".to_owned(), dir_path];
    if !root {
        unwritable.push(read_only.join("s3mend.prom").to_str().unwrap().to_owned());
    }
    let target = format!("s3://{BUCKET}/");
    for command in [
        vec!["scan", &target],
        vec!["fix", &target, "--yes"],
        vec!["undo", journal.to_str().unwrap(), "--yes"],
    ] {
        for path in &unwritable {
            let mut args = command.clone();
            args.extend(["--metrics-file", path]);
            let run = env.s3mend(&args).await;
            assert_eq!(run.code, 2, "{args:?}: {run:?}");
            one_line_error(&run.stderr, &format!("cannot write --metrics-file {path}"));
        }
        // The report and the metrics cannot share a file.
        let shared = dir.path().join("shared.txt");
        let mut args = command.clone();
        args.extend(["--output", shared.to_str().unwrap()]);
        args.extend(["--metrics-file", shared.to_str().unwrap()]);
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        one_line_error(&run.stderr, "are the same file");
    }
    assert_eq!(env.lab.stats().total(), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_checked_on_the_catalog_are_counted_as_such() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("b.html", "text/html", None);
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.jsonl.gz");
    let file = dir.path().join("s3mend.prom");
    let agent = Agent::new();
    for from_catalog in [0.0, 2.0] {
        let catalog = ["--catalog", catalog.to_str().unwrap()];
        let run = scan_into(&env, &file, &agent, &catalog).await;
        assert_eq!(run.code, 1, "{run:?}");
        let summary = &run.json()["summary"];
        assert_eq!(field(summary, &["from_catalog"]), from_catalog, "{summary}");
        assert_eq!(
            Exposition::read(&file).get("s3mend_from_catalog_total"),
            from_catalog
        );
        let received = agent.received();
        let sent = received
            .iter()
            .find(|d| d.name == "s3mend_from_catalog")
            .unwrap();
        assert_eq!(sent.value, from_catalog);
        // The rules ran on the kept snapshot: the finding is still counted.
        let by_rule = received
            .iter()
            .find(|d| d.name == "s3mend_findings_by_rule" && d.tags["rule"] == "content-encoding")
            .unwrap();
        assert_eq!(by_rule.value, 1.0);
    }
}
