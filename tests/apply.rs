//! A reviewed plan: `fix --dry-run --plan` writes it, `apply` performs exactly it, with no
//! listing; anything changed since is a conflict; a plan applies only where it was made; and an
//! apply is undone like a fix.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fix::{comparable, everything};
use crate::harness::{gzipped, row, Run, TestEnv, BUCKET};

/// Three objects to repair (one with every attribute a repair must keep) and a clean one.
fn seed(env: &TestEnv) {
    env.lab.put_object(
        BUCKET,
        "every.html",
        everything(gzipped(b"<html>every attribute</html>")),
    );
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("b.css", "binary/octet-stream", None);
    env.put("clean.html", "text/html", None);
}

async fn plan(env: &TestEnv, dir: &Path) -> (PathBuf, Run) {
    let plan = dir.join("plan.jsonl");
    let run = env
        .s3mend(&[
            "fix",
            "s3://test-bucket/",
            "--dry-run",
            "--format",
            "json",
            "--plan",
            plan.to_str().unwrap(),
        ])
        .await;
    (plan, run)
}

async fn apply(env: &TestEnv, plan: &Path, dir: &Path, extra: &[&str]) -> Run {
    apply_journalling(env, plan, &dir.join("apply-journal.jsonl"), extra).await
}

async fn apply_journalling(env: &TestEnv, plan: &Path, journal: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "apply",
        plan.to_str().unwrap(),
        "--yes",
        "--format",
        "json",
        "--journal",
        journal.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    env.s3mend(&args).await
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_performs_exactly_the_reviewed_plan_without_listing() {
    let env = TestEnv::new().await;
    seed(&env);
    let dir = tempfile::tempdir().unwrap();
    let (plan, dry) = plan(&env, dir.path()).await;
    assert_eq!(dry.code, 1, "{dry:?}");
    let text = std::fs::read_to_string(&plan).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["format"], "s3mend-plan");
    assert_eq!(lines[0]["bucket"], BUCKET);
    assert_eq!(lines[0]["origin"]["endpoint"], env.lab.endpoint());
    assert_eq!(lines.last().unwrap()["end"]["objects"], 3);
    let every = lines
        .iter()
        .find(|l| l["key"] == "every.html")
        .expect("planned");
    // The snapshot it was made on, every change, and everything the copy sends.
    assert_eq!(every["snapshot"]["cache_control"], "public, max-age=3600");
    assert_eq!(every["plan"]["changes"][0]["header"], "Content-Encoding");
    assert_eq!(every["plan"]["headers"]["content_language"], "de-CH");
    assert!(every["plan"]["if_match"].as_str().unwrap().starts_with('"'));
    assert!(!every["plan"]["grants"].is_null(), "the ACL's grants");
    assert!(dry.json()["objects"].as_array().unwrap().len() == 3);
    // Nothing was written by the dry run.
    assert_eq!(
        env.lab
            .object(BUCKET, "a.html")
            .unwrap()
            .content_encoding
            .as_deref(),
        Some("UTF-8")
    );

    // A new bad object after the review is not in the plan, and apply does not list.
    env.put("new.html", "text/html", Some("UTF-8"));
    let before = comparable(env.lab.object(BUCKET, "every.html").unwrap());
    env.lab.reset_stats();
    let run = apply(&env, &plan, dir.path(), &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        statuses(&run.json()),
        [
            ("a.html".to_owned(), "fixed".to_owned()),
            ("b.css".to_owned(), "fixed".to_owned()),
            ("every.html".to_owned(), "fixed".to_owned())
        ]
    );
    assert_eq!(env.lab.stats().count("ListObjectsV2"), 0, "no listing");
    assert_eq!(
        env.lab
            .object(BUCKET, "new.html")
            .unwrap()
            .content_encoding
            .as_deref(),
        Some("UTF-8")
    );
    // Lossless: only the planned header changed.
    let after = comparable(env.lab.object(BUCKET, "every.html").unwrap());
    assert_eq!(after.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(
        StoredWithout::encoding(after.clone()),
        StoredWithout::encoding(before.clone())
    );

    // Applying it again: every object changed since the plan (the repair itself).
    let again = apply_journalling(&env, &plan, &dir.path().join("j2.jsonl"), &[]).await;
    assert_eq!(again.code, 1, "{again:?}");
    for (_, status) in statuses(&again.json()) {
        assert_eq!(status, "conflict");
    }

    // Undo of the apply's journal restores everything.
    let undo = env
        .s3mend(&[
            "undo",
            dir.path().join("apply-journal.jsonl").to_str().unwrap(),
            "--yes",
            "--format",
            "json",
            "--journal",
            dir.path().join("undo.jsonl").to_str().unwrap(),
        ])
        .await;
    assert_eq!(undo.code, 0, "{undo:?}");
    let restored = comparable(env.lab.object(BUCKET, "every.html").unwrap());
    assert_eq!(restored.content_encoding.as_deref(), Some("gzip, UTF-8"));
    assert_eq!(
        StoredWithout::etag(restored),
        StoredWithout::etag(before),
        "every attribute as before the apply"
    );
    assert_eq!(
        env.lab
            .object(BUCKET, "a.html")
            .unwrap()
            .content_encoding
            .as_deref(),
        Some("UTF-8")
    );
}

/// A stored object compared without the fields a repair (or its undo) is meant to change.
struct StoredWithout;

impl StoredWithout {
    fn encoding(mut o: s3mend_lab::StoredObject) -> s3mend_lab::StoredObject {
        o.content_encoding = None;
        o.etag = String::new();
        o.version_id = None;
        o
    }

    fn etag(mut o: s3mend_lab::StoredObject) -> s3mend_lab::StoredObject {
        o.etag = String::new();
        o.version_id = None;
        o
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_changed_since_the_plan_is_a_conflict_never_a_new_plan() {
    let env = TestEnv::new().await;
    seed(&env);
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = plan(&env, dir.path()).await;
    // Rewritten by someone else, still with a finding: not re-planned.
    env.put("a.html", "text/html", Some("ANSI_X3.4-1968"));
    // Its ACL changed: the copy would carry other grants than reviewed.
    env.lab.put_object_acl(BUCKET, "b.css", "public-read");
    let run = apply(&env, &plan, dir.path(), &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(
        statuses(&report),
        [
            ("a.html".to_owned(), "conflict".to_owned()),
            ("b.css".to_owned(), "conflict".to_owned()),
            ("every.html".to_owned(), "fixed".to_owned())
        ]
    );
    let a = row(&report, "a.html")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(a.starts_with("changed since the plan was made"), "{a}");
    let b = row(&report, "b.css")["reason"].as_str().unwrap().to_owned();
    assert!(b.contains("differs from the reviewed one (grants)"), "{b}");
    assert_eq!(
        env.lab
            .object(BUCKET, "a.html")
            .unwrap()
            .content_encoding
            .as_deref(),
        Some("ANSI_X3.4-1968"),
        "the writer's version is left as it is"
    );
    assert_eq!(
        env.lab
            .object(BUCKET, "b.css")
            .unwrap()
            .content_type
            .as_deref(),
        Some("binary/octet-stream")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_applies_only_where_it_was_made() {
    let env = TestEnv::new().await;
    seed(&env);
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = plan(&env, dir.path()).await;
    let other = apply(&env, &plan, dir.path(), &["s3://other-bucket/"]).await;
    assert_eq!(other.code, 2, "{other:?}");
    assert!(
        other.stderr.contains("is for s3://test-bucket/, not s3://other-bucket/: a plan applies only where it was made"),
        "{}",
        other.stderr
    );
    let same = apply(&env, &plan, dir.path(), &["--dry-run", "s3://test-bucket/"]).await;
    assert_eq!(same.code, 1, "a dry run of the plan: {same:?}");
    for (_, status) in statuses(&same.json()) {
        assert_eq!(status, "would-fix");
    }
    let elsewhere = TestEnv::new().await;
    let run = elsewhere
        .s3mend(&["apply", plan.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("is not what the plan records")
            && run.stderr.contains("a plan applies only where it was made"),
        "{}",
        run.stderr
    );
    assert_eq!(elsewhere.lab.stats().total(), 0, "nothing sent");
    // --plan is a dry run's.
    let no_dry = env
        .s3mend(&["fix", "s3://test-bucket/", "--yes", "--plan", "p.jsonl"])
        .await;
    assert_eq!(no_dry.code, 2, "{no_dry:?}");
    assert!(no_dry.stderr.contains("--dry-run"), "{}", no_dry.stderr);
    // A damaged plan is refused before anything is sent.
    let text = std::fs::read_to_string(&plan).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    std::fs::write(&plan, cut[..cut.len() - 1].join("\n")).unwrap();
    env.lab.reset_stats();
    let damaged = apply(&env, &plan, dir.path(), &[]).await;
    assert_eq!(damaged.code, 2);
    assert!(
        damaged.stderr.contains("has no end line"),
        "{}",
        damaged.stderr
    );
    assert_eq!(env.lab.stats().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_runs_table_lists_every_object_when_asked_and_says_so_when_not() {
    let env = TestEnv::new().await;
    for i in 0..12 {
        env.put(&format!("k{i:02}.html"), "text/html", Some("UTF-8"));
    }
    let dry = ["fix", "s3://test-bucket/", "--dry-run"];
    let first_ten = env.s3mend(&dry).await;
    assert!(
        first_ten
            .stdout
            .contains("… and 2 more (--all-rows lists every one)"),
        "{}",
        first_ten.stdout
    );
    assert!(!first_ten.stdout.contains("k11.html"));
    let all = env.s3mend(&[&dry[..], &["--all-rows"]].concat()).await;
    for i in 0..12 {
        assert!(
            all.stdout.contains(&format!("k{i:02}.html")),
            "{}",
            all.stdout
        );
    }
    assert!(!all.stdout.contains("… and"), "{}", all.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_that_does_not_finish_leaves_no_plan_and_says_so() {
    let env = TestEnv::new().await;
    seed(&env);
    // Every listing's KeyCount is wrong: the walker refuses it, and the dry run is incomplete.
    env.lab
        .damage_listings(s3mend_lab::ListingDamage::WrongKeyCount, 10);
    let dir = tempfile::tempdir().unwrap();
    let (plan, run) = plan(&env, dir.path()).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!plan.exists(), "an incomplete plan is never put in place");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temp file left"
    );
    let notes = run.json()["summary"]["notes"].to_string();
    assert!(
        notes.contains("no plan written: the dry run did not finish"),
        "{notes}"
    );
}
