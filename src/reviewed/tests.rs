//! A plan written and read back, and every way a plan file can be wrong.

use super::*;
use crate::model::Header as Http;
use crate::rules::RuleId;

fn header() -> Header {
    Header {
        format: FORMAT.into(),
        version: VERSION,
        origin: Origin {
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: Some("us-east-1".into()),
            addressing: "path".into(),
            profile: None,
        },
        bucket: "b".into(),
        prefix: "p/".into(),
        rules: vec!["content-encoding".into()],
        policy: None,
        written_at: "2026-12-02T00:00:00Z".into(),
    }
}

fn line(key: &str) -> Line {
    Line {
        key: key.into(),
        snapshot: ObjectHead {
            etag: Some("\"e\"".into()),
            content_encoding: Some("UTF-8".into()),
            ..ObjectHead::new(key)
        },
        findings: vec![Finding::new(
            RuleId::ContentEncoding,
            Http::ContentEncoding,
            Some("UTF-8"),
            None,
        )],
        plan: serde_json::json!({"key": key, "if_match": "\"e\""}),
    }
}

fn written(dir: &std::path::Path, keys: &[&str]) -> std::path::PathBuf {
    let path = dir.join("plan.jsonl");
    let mut writer = Writer::create(&path).unwrap();
    writer.header(&header()).unwrap();
    for key in keys {
        writer.line(&line(key)).unwrap();
    }
    assert_eq!(writer.finish(true).unwrap(), Some(keys.len() as u64));
    path
}

#[test]
fn a_plan_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path(), &["a.html", "b/ü c.html"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (read, objects, lines) = open(&path).unwrap();
    assert_eq!(read, header());
    assert_eq!(objects, 2);
    let lines: Vec<Line> = lines.map(Result::unwrap).collect();
    assert_eq!(lines, vec![line("a.html"), line("b/ü c.html")]);
    // Nothing but the plan is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_unfinished_dry_run_leaves_no_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.jsonl");
    let mut writer = Writer::create(&path).unwrap();
    writer.header(&header()).unwrap();
    writer.line(&line("a")).unwrap();
    assert_eq!(writer.finish(false).unwrap(), None);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let dropped = Writer::create(&path).unwrap();
    drop(dropped);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_plan_that_is_cut_edited_or_foreign_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path(), &["a", "b"]);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let check = |content: String, expected: &str| {
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, content).unwrap();
        let err = open(&bad).err().expect(expected).to_string();
        assert!(err.contains(expected), "{err}");
        assert!(!err.contains('\n'), "{err}");
    };
    check(String::new(), "is empty");
    check(
        "{\"journal\": 1}\n".into(),
        "line 1 is not an s3mend plan header",
    );
    check(
        lines[..3].join("\n") + "\n",
        "has no end line: it was cut short",
    );
    check(
        [lines[0], lines[1], lines[3]].join("\n") + "\n",
        "says it has 2 objects but holds 1",
    );
    check(
        [lines[0], lines[1], "not json", lines[3]].join("\n") + "\n",
        "line 3 is not a planned object",
    );
    check(text.clone() + lines[1] + "\n", "line 5 follows its end");
    check(
        text.replacen("\"version\":1", "\"version\":9", 1),
        "is version 9 of the format",
    );
    check(
        text.replacen(
            "\"snapshot\":{\"key\":\"a\"",
            "\"snapshot\":{\"key\":\"z\"",
            1,
        ),
        "its key and its snapshot's differ",
    );
}
