//! `--state` and `--resume`: a run killed at any instant continues where it stopped, and every
//! finding is repaired exactly once with a complete journal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use s3mend::journal::Status;
use s3mend_lab::{LabConfig, ObjectSeed, StoredObject};
use serde_json::Value;

use crate::harness::{TestEnv, BUCKET};

const OBJECTS: usize = 1200;

fn key(i: usize) -> String {
    format!("site/{:02}/page-{i:05}.html", i % 12)
}

fn is_bad(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// A bucket where every other object has a bad Content-Encoding, and what each object was.
async fn seeded(versioned: bool) -> (TestEnv, BTreeMap<String, StoredObject>) {
    let env = TestEnv::with_config(LabConfig {
        // Slow enough that the kill lands mid-run after the first timed checkpoint (1 s).
        latency: Duration::from_millis(10),
        ..LabConfig::default()
    })
    .await;
    env.lab.set_versioning(BUCKET, versioned);
    let mut before = BTreeMap::new();
    for i in 0..OBJECTS {
        let object = env.lab.put_object(
            BUCKET,
            &key(i),
            ObjectSeed {
                body: bytes::Bytes::from(format!("<p>{i}</p>")),
                content_type: Some("text/html".into()),
                content_encoding: is_bad(i).then(|| "UTF-8".into()),
                cache_control: Some(format!("max-age={i}")),
                metadata: [("s3cmd-attrs".to_owned(), format!("md5:{i}"))].into(),
                acl: Some("public-read".into()),
                ..ObjectSeed::default()
            },
        );
        before.insert(key(i), object);
    }
    (env, before)
}

fn state(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn summary_of(report: &Path) -> Value {
    let text = std::fs::read_to_string(report).unwrap();
    let last = text.lines().last().expect("a summary line");
    serde_json::from_str::<Value>(last).unwrap()["summary"].clone()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_in_the_middle_of_a_fix_then_resume_repairs_every_finding_exactly_once() {
    // Versioned, so every applied copy leaves a version behind: exactly two versions per bad key
    // proves exactly one repair, whatever the journal says.
    let (env, before) = seeded(true).await;
    let dir = tempfile::tempdir().unwrap();
    let (journal, state_path) = (dir.path().join("j.jsonl"), dir.path().join("state.json"));
    let (first, second) = (dir.path().join("1.jsonl"), dir.path().join("2.jsonl"));
    let args = |report: &Path| {
        vec![
            "fix".to_owned(),
            "s3://test-bucket/site/".into(),
            "--yes".into(),
            "--concurrency".into(),
            "8".into(),
            "--state".into(),
            state_path.to_str().unwrap().into(),
            "--format".into(),
            "jsonl".into(),
            "--output".into(),
            report.to_str().unwrap().into(),
        ]
    };

    let mut first_args = args(&first);
    first_args.extend(["--journal".into(), journal.to_str().unwrap().into()]);
    let first_args: Vec<&str> = first_args.iter().map(String::as_str).collect();
    let mut child = env.spawn(&first_args, &[]);
    // Kill when a good part is repaired and the checkpoint has moved, with copies in flight.
    wait_for("a third of the repairs and a checkpoint", || {
        env.lab.stats().count("CopyObject") >= (OBJECTS / 6) as u64
            && state_path.exists()
            && !state(&state_path)["done_through"].is_null()
    })
    .await;
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), None, "killed by SIGKILL");
    let copies_before_kill = env.lab.stats().count("CopyObject");
    let checkpoint = state(&state_path);
    assert_eq!(checkpoint["complete"], false, "{checkpoint}");
    assert_eq!(checkpoint["bucket"], BUCKET);
    assert_eq!(checkpoint["prefix"], "site/");
    assert_eq!(checkpoint["journal"], journal.to_str().unwrap());
    let done_through = checkpoint["done_through"].as_str().unwrap().to_owned();
    assert!(
        (copies_before_kill as usize) < OBJECTS / 2,
        "the kill came before the end"
    );

    // Resume: no --journal, the state names it.
    let second_args = args(&second);
    let second_args: Vec<&str> = second_args.iter().map(String::as_str).collect();
    let mut resume_args = second_args.clone();
    resume_args.push("--resume");
    env.lab.reset_stats();
    let run = env.s3mend(&resume_args).await;
    assert_eq!(run.code, 0, "{run:?}");
    let summary = summary_of(&second);
    println!(
        "killed after {copies_before_kill} copies; resumed: {}",
        summary["notes"]
    );
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(
        summary["notes"].to_string().contains("resumed"),
        "{summary}"
    );
    // Only keys after the checkpoint were listed again.
    let relisted = summary["listed"].as_u64().unwrap() as usize;
    let done_before = before.keys().filter(|k| **k <= done_through).count();
    assert_eq!(relisted, OBJECTS - done_before, "{summary}");
    assert_eq!(state(&state_path)["complete"], true);

    // Every bad object repaired exactly once, every clean one never copied, nothing lost.
    for (i, (key, old)) in before.iter().enumerate() {
        let index: usize = key[13..18].parse().unwrap();
        let versions = env.lab.versions(BUCKET, key);
        let expected_versions = if is_bad(index) { 2 } else { 1 };
        assert_eq!(versions.len(), expected_versions, "{key} (#{i})");
        let new = env.lab.object(BUCKET, key).unwrap();
        let expected = StoredObject {
            content_encoding: None,
            last_modified: new.last_modified,
            version_id: new.version_id.clone(),
            ..old.clone()
        };
        assert_eq!(new, expected, "{key}");
    }

    // The journal is complete: every plan has an outcome, and each bad key is fixed exactly once.
    let entries = s3mend::journal::read(&journal).unwrap();
    let open: Vec<_> = entries.iter().filter(|e| e.status.is_none()).collect();
    assert!(open.is_empty(), "plans without an outcome: {open:?}");
    let mut fixed: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in &entries {
        if entry.status == Some(Status::Fixed) {
            *fixed.entry(entry.key.as_str()).or_default() += 1;
        }
    }
    let bad: BTreeSet<&str> = before
        .keys()
        .filter(|k| is_bad(k[13..18].parse().unwrap()))
        .map(String::as_str)
        .collect();
    assert_eq!(fixed.keys().copied().collect::<BTreeSet<_>>(), bad);
    assert!(fixed.values().all(|n| *n == 1), "{fixed:?}");
    let statuses: BTreeSet<_> = entries.iter().filter_map(|e| e.status).collect();
    assert!(
        statuses.is_subset(&[Status::Fixed, Status::NotApplied].into()),
        "{statuses:?}"
    );

    // Undo reads the resumed journal like any other.
    let undo = env
        .s3mend(&[
            "undo",
            journal.to_str().unwrap(),
            "--dry-run",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(undo.json()["summary"]["would_fix"], OBJECTS / 2, "{undo:?}");

    // Resuming a finished run does nothing.
    env.lab.reset_stats();
    let again = env.s3mend(&resume_args).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("records a finished run"), "{again:?}");
    assert_eq!(env.lab.stats().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_scan_resumes_after_its_checkpoint() {
    let (env, before) = seeded(false).await;
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.json");
    let (first, second) = (dir.path().join("1.jsonl"), dir.path().join("2.jsonl"));
    let args = |report: &Path| {
        vec![
            "scan".to_owned(),
            "s3://test-bucket/".into(),
            "--concurrency".into(),
            "8".into(),
            "--state".into(),
            state_path.to_str().unwrap().into(),
            "--format".into(),
            "jsonl".into(),
            "--output".into(),
            report.to_str().unwrap().into(),
        ]
    };
    let first_args = args(&first);
    let first_args: Vec<&str> = first_args.iter().map(String::as_str).collect();
    let child = env.spawn(&first_args, &[]);
    wait_for("a few hundred HEADs", || {
        env.lab.stats().count("HeadObject") >= 300
    })
    .await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130));
    let checkpoint = state(&state_path);
    assert_eq!(checkpoint["complete"], false);
    let done_through = checkpoint["done_through"].as_str().unwrap().to_owned();

    let mut resume_args = args(&second);
    resume_args.push("--resume".into());
    let resume_args: Vec<&str> = resume_args.iter().map(String::as_str).collect();
    let run = env.s3mend(&resume_args).await;
    assert_eq!(run.code, 1, "findings: {run:?}");

    // Between them the two reports name every bad object, and the second starts after the
    // checkpoint (the final checkpoint of an interrupted run is exact, not a second old).
    let rows = |report: &Path| -> BTreeSet<String> {
        std::fs::read_to_string(report)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["key"].as_str().map(str::to_owned))
            .collect()
    };
    let (one, two) = (rows(&first), rows(&second));
    assert!(
        two.iter().all(|k| *k > done_through),
        "resumed after {done_through}"
    );
    let bad: BTreeSet<String> = before
        .keys()
        .filter(|k| is_bad(k[13..18].parse().unwrap()))
        .cloned()
        .collect();
    assert_eq!(one.union(&two).cloned().collect::<BTreeSet<_>>(), bad);
    let listed = summary_of(&second)["listed"].as_u64().unwrap() as usize;
    assert_eq!(listed, before.keys().filter(|k| **k > done_through).count());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_state_is_a_one_line_error_before_any_request() {
    let env = TestEnv::new().await;
    env.put("site/a.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.json");
    let state_arg = state_path.to_str().unwrap();
    let run = env
        .s3mend(&["scan", "s3://test-bucket/site/", "--state", state_arg])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(state(&state_path)["complete"], true);
    // An unfinished run of the same scope, to resume from.
    let mut unfinished = state(&state_path);
    unfinished["complete"] = false.into();
    std::fs::write(&state_path, unfinished.to_string()).unwrap();

    let missing = dir.path().join("absent.json");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "not a state").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "scan",
                "s3://other-bucket/site/",
                "--state",
                state_arg,
                "--resume",
            ],
            "it is for s3://test-bucket/site/, not s3://other-bucket/site/",
        ),
        (
            vec![
                "scan",
                "s3://test-bucket/",
                "--state",
                state_arg,
                "--resume",
            ],
            "not s3://test-bucket/",
        ),
        (
            vec![
                "fix",
                "s3://test-bucket/site/",
                "--yes",
                "--state",
                state_arg,
                "--resume",
            ],
            "it is for a scan, not a fix",
        ),
        (
            vec![
                "scan",
                "s3://test-bucket/site/",
                "--rules",
                "content-type",
                "--state",
                state_arg,
                "--resume",
            ],
            "--rules content-encoding,content-type",
        ),
        (
            vec![
                "scan",
                "s3://test-bucket/site/",
                "--state",
                missing.to_str().unwrap(),
                "--resume",
            ],
            "cannot read --state",
        ),
        (
            vec![
                "scan",
                "s3://test-bucket/site/",
                "--state",
                garbage.to_str().unwrap(),
                "--resume",
            ],
            "is not an s3mend state file",
        ),
        (
            vec![
                "scan",
                "s3://test-bucket/site/",
                "--state",
                "/nonexistent-dir/state.json",
            ],
            "cannot write --state /nonexistent-dir/state.json",
        ),
        (
            vec!["scan", "s3://test-bucket/site/", "--resume"],
            "--state",
        ),
    ];
    env.lab.reset_stats();
    for (args, needle) in cases {
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert_eq!(env.lab.stats().total(), 0, "no request for bad state");
}

/// A SIGTERM stops a fix gracefully: objects it had not started are reported as skipped
/// (`interrupted`) and are not done, so `--resume` repairs every one of them.
#[tokio::test(flavor = "multi_thread")]
async fn a_fix_stopped_by_sigterm_then_resumed_repairs_every_finding() {
    let (env, _) = seeded(false).await;
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state.json");
    let args = |resume: bool| {
        let mut args = vec![
            "fix".to_owned(),
            "s3://test-bucket/site/".into(),
            "--yes".into(),
            "--concurrency".into(),
            "4".into(),
            "--state".into(),
            state_path.to_str().unwrap().into(),
            "--format".into(),
            "json".into(),
        ];
        if resume {
            args.push("--resume".into());
        } else {
            args.extend([
                "--journal".into(),
                dir.path().join("j.jsonl").to_str().unwrap().into(),
            ]);
        }
        args
    };
    let first: Vec<String> = args(false);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let child = env.spawn(&first, &[]);
    wait_for("some repairs", || env.lab.stats().count("CopyObject") >= 50).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(143));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["summary"]["skipped"].as_u64().unwrap() > 0,
        "{}",
        report["summary"]
    );

    let second: Vec<String> = args(true);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let run = env.s3mend(&second).await;
    assert_eq!(run.code, 0, "{run:?}");
    let left: Vec<String> = (0..OBJECTS)
        .map(key)
        .filter(|k| {
            env.lab
                .object(BUCKET, k)
                .unwrap()
                .content_encoding
                .is_some()
        })
        .collect();
    assert!(left.is_empty(), "still bad after the resume: {left:?}");
}
