//! The fixture site scanned in every format: exactly the bad objects, the right proposals, and
//! formats that agree with each other.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::{expected_fixture_proposals, proposals, Proposals, TestEnv, BUCKET};

/// The fixture site seeded into a fresh lab, with the proposals its manifest expects.
async fn fixture_site() -> (TestEnv, String, Proposals) {
    let env = TestEnv::new().await;
    let manifest = s3mend::demo::manifest().unwrap();
    s3mend::demo::seed(&env.lab, &manifest).unwrap();
    let expected = expected_fixture_proposals();
    (env, format!("s3://{}/", manifest.bucket), expected)
}

fn csv_proposals(text: &str) -> (Proposals, Vec<String>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut map = Proposals::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        let key = record[col("key")].to_owned();
        match &record[col("status")] {
            "finding" => {
                let proposed = &record[col("proposed")];
                map.entry(key).or_default().insert(
                    record[col("rule")].to_owned(),
                    (!proposed.is_empty()).then(|| proposed.to_owned()),
                );
            }
            "error" => errors.push(key),
            other => panic!("unexpected status {other}"),
        }
    }
    (map, errors)
}

#[tokio::test(flavor = "multi_thread")]
async fn fixture_site_reports_exactly_the_bad_objects_with_the_right_proposals() {
    let (env, target, expected) = fixture_site().await;
    let run = env.s3mend(&["scan", &target, "--format", "json"]).await;
    assert_eq!(run.code, 1, "findings exit 1: {run:?}");
    let report = run.json();
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(proposals(objects), expected);
    let manifest = s3mend::demo::manifest().unwrap();
    let sniffed = expected
        .values()
        .filter(|rules| rules.contains_key("content-encoding"))
        .count();
    assert_eq!(
        report["summary"],
        serde_json::json!({
            "listed": manifest.objects.len(), "inspected": manifest.objects.len(),
            "clean": manifest.objects.len() - expected.len(), "with_findings": expected.len(),
            "errors": 0, "gone": 0, "unreadable": 0, "complete": true, "stopped": null,
            // What the run was, for `s3mend merge`.
            "command": "scan", "target": target, "rules": ["content-encoding", "content-type"],
            // HeadBucket, one ListObjectsV2 page, one HEAD per object, and one ranged GET (the
            // sniff) per object whose Content-Encoding is to change; nothing retried.
            "requests": {"calls": manifest.objects.len() + 2 + sniffed, "attempts": manifest.objects.len() + 2 + sniffed,
                         "throttled": 0, "failed_attempts": 0,
                         "concurrency_cuts": 0, "min_concurrency": s3mend::cli::DEFAULT_CONCURRENCY}
        })
    );
    // Every row carries the contract's fields, with the value seen at HEAD.
    for object in objects {
        let key = object["key"].as_str().unwrap();
        let fixture = manifest.objects.iter().find(|o| o.key == key).unwrap();
        assert_eq!(object["status"], "finding");
        assert_eq!(object["error"], Value::Null);
        assert_eq!(object["version_id"], Value::Null);
        assert!(
            object["etag"].as_str().unwrap().starts_with('"'),
            "{object}"
        );
        for finding in object["findings"].as_array().unwrap() {
            let (header, current) = match finding["rule"].as_str().unwrap() {
                "content-encoding" => ("Content-Encoding", &fixture.content_encoding),
                "content-type" => ("Content-Type", &fixture.content_type),
                other => panic!("unexpected rule {other}"),
            };
            assert_eq!(finding["header"], header);
            assert_eq!(finding["current"].as_str(), current.as_deref(), "{key}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_agrees() {
    let (env, target, expected) = fixture_site().await;

    let json = env.s3mend(&["scan", &target, "--format", "json"]).await;
    let jsonl = env.s3mend(&["scan", &target, "--format", "jsonl"]).await;
    let csv = env.s3mend(&["scan", &target, "--format", "csv"]).await;
    let table = env.s3mend(&["scan", &target, "--format", "table"]).await;
    for run in [&json, &jsonl, &csv, &table] {
        assert_eq!(run.code, 1, "{run:?}");
    }

    let lines = jsonl.jsonl();
    let (summary_line, rows) = lines.split_last().unwrap();
    assert_eq!(summary_line["summary"], json.json()["summary"]);
    assert_eq!(proposals(rows), expected);
    assert_eq!(
        proposals(json.json()["objects"].as_array().unwrap()),
        expected
    );
    let (csv_map, csv_errors) = csv_proposals(&csv.stdout);
    assert_eq!(csv_map, expected);
    assert!(csv_errors.is_empty());

    let mut per_rule = BTreeMap::<String, usize>::new();
    for rules in expected.values() {
        for rule in rules.keys() {
            *per_rule.entry(rule.clone()).or_default() += 1;
        }
    }
    let listed = json.json()["summary"]["listed"].as_u64().unwrap();
    assert!(
        table.stdout.contains(&format!(
            "listed {listed}  clean {}  with findings {}  errors 0",
            listed - expected.len() as u64,
            expected.len()
        )),
        "{}",
        table.stdout
    );
    for (rule, count) in per_rule {
        let noun = if count == 1 { "object" } else { "objects" };
        assert!(
            table.stdout.contains(&format!("{rule} — {count} {noun}")),
            "{rule}: {}",
            table.stdout
        );
    }
    let analytics = table
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("js/analytics.js "))
        .unwrap_or_else(|| panic!("no js/analytics.js row: {}", table.stdout));
    let columns: Vec<&str> = analytics
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(columns, ["js/analytics.js", "gzip, UTF-8", "→", "gzip"]);
    assert!(!table.stdout.contains('\u{1b}'), "no colour when piped");
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_and_empty_buckets_exit_zero_in_every_format() {
    let env = TestEnv::new().await;
    let target = format!("s3://{BUCKET}/");
    for format in ["table", "json", "jsonl", "csv"] {
        let run = env.s3mend(&["scan", &target, "--format", format]).await;
        assert_eq!(run.code, 0, "empty bucket, {format}: {run:?}");
    }
    env.put("index.html", "text/html", None);
    env.put("app.js.gz", "text/javascript", Some("gzip"));
    env.put("style.css", "text/css; charset=utf-8", Some("br, gzip"));

    let json = env.s3mend(&["scan", &target, "--format", "json"]).await;
    assert_eq!(json.code, 0, "{json:?}");
    let report = json.json();
    assert_eq!(report["objects"], serde_json::json!([]));
    assert_eq!(report["summary"]["listed"], 3);
    assert_eq!(report["summary"]["clean"], 3);

    let jsonl = env.s3mend(&["scan", &target, "--format", "jsonl"]).await;
    assert_eq!(jsonl.code, 0);
    assert_eq!(
        jsonl.jsonl(),
        vec![serde_json::json!({"summary": report["summary"]})]
    );

    let csv = env.s3mend(&["scan", &target, "--format", "csv"]).await;
    assert_eq!(csv.code, 0);
    assert_eq!(csv.stdout.lines().count(), 1, "header only: {}", csv.stdout);

    let table = env.s3mend(&["scan", &target]).await;
    assert_eq!(table.code, 0);
    assert!(table.stdout.contains("No findings."), "{}", table.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn output_goes_to_the_given_file() {
    let (env, target, expected) = fixture_site().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.jsonl");
    let run = env
        .s3mend(&[
            "scan",
            &target,
            "--format",
            "jsonl",
            "--output",
            path.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "reports name private objects");
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(proposals(&lines[..lines.len() - 1]), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_has_colour_on_a_terminal_unless_no_color() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let args = ["scan", "s3://test-bucket/", "--no-progress"];
    let (code, screen) = env.on_a_terminal(&args, "", &[]).await;
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("\u{1b}["),
        "colour on a terminal: {screen:?}"
    );
    let (code, screen) = env.on_a_terminal(&args, "", &[("NO_COLOR", "1")]).await;
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("a.html"), "{screen}");
    assert!(!screen.contains("\u{1b}["), "NO_COLOR: {screen:?}");
}
