//! `--fail-on` and `--accept-skips`: each exit code, for a scan, a fix and a policy's severities.

use s3mend_lab::ObjectSeed;

use crate::harness::{fix, TestEnv, BUCKET};

/// Only warnings: Content-Types that say nothing.
fn warnings_only(env: &TestEnv) {
    env.put("style.css", "binary/octet-stream", None);
    env.put("app.js", "binary/octet-stream", None);
    env.put("clean.html", "text/html", None);
}

#[tokio::test(flavor = "multi_thread")]
async fn warnings_fail_by_default_and_pass_under_fail_on_error_or_never() {
    let env = TestEnv::new().await;
    warnings_only(&env);
    let scan = |extra: &'static [&'static str]| {
        let env = &env;
        async move {
            let args = [
                &["scan", "s3://test-bucket/", "--format", "json"][..],
                extra,
            ]
            .concat();
            env.s3mend(&args).await
        }
    };
    let default = scan(&[]).await;
    assert_eq!(default.code, 1, "{default:?}");
    let findings = default.json()["objects"].as_array().unwrap().clone();
    assert_eq!(findings.len(), 2);
    for object in &findings {
        assert_eq!(object["findings"][0]["severity"], "warning", "{object}");
    }
    assert_eq!(scan(&["--fail-on", "warning"]).await.code, 1);
    let error = scan(&["--fail-on", "error"]).await;
    assert_eq!(error.code, 0, "warnings pass: {error:?}");
    // Still reported, and the report says why the run passed.
    assert_eq!(error.json()["objects"].as_array().unwrap().len(), 2);
    assert_eq!(scan(&["--fail-on", "never"]).await.code, 0);
    // An error-level finding fails --fail-on error, but not never.
    env.put("index.html", "text/html", Some("UTF-8"));
    assert_eq!(scan(&["--fail-on", "error"]).await.code, 1);
    assert_eq!(scan(&["--fail-on", "never"]).await.code, 0);
    // An object that could not be inspected is exit 2 whatever the gate.
    env.lab.fail_next("HeadObject", "clean.html", 1);
    let broken = scan(&["--fail-on", "never", "--max-attempts", "1"]).await;
    assert_eq!(broken.code, 2, "{broken:?}");
    let table = env
        .s3mend(&["scan", "s3://test-bucket/", "--fail-on", "error"])
        .await;
    assert!(
        table
            .stdout
            .contains("note: gate: --fail-on error: 1 object fails it"),
        "{}",
        table.stdout
    );
    // The table shows each rule's severity.
    assert!(
        table.stdout.contains("\n  error · Content-Encoding holds"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("\n  warning · Content-Type is missing"),
        "{}",
        table.stdout
    );
    let bad = env
        .s3mend(&["scan", "s3://test-bucket/", "--fail-on", "sometimes"])
        .await;
    assert_eq!(bad.code, 2, "{bad:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_block_chooses_its_severity() {
    let env = TestEnv::new().await;
    env.put("index.html", "text/html", None);
    env.put("app.js", "application/javascript", None);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("s3mend.toml");
    std::fs::write(
        &policy,
        "[[match]]\nkeys = [\"*.html\"]\nseverity = \"warning\"\ncache-control = \"max-age=60\"\n\n[[match]]\nkeys = [\"*.js\"]\ncache-control = \"max-age=31536000\"\n",
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let args = |fail_on: &'static str| {
        vec![
            "scan",
            "s3://test-bucket/",
            "--policy",
            policy,
            "--format",
            "json",
            "--fail-on",
            fail_on,
        ]
    };
    let run = env.s3mend(&args("error")).await;
    assert_eq!(run.code, 1, "app.js's block is error by default: {run:?}");
    let report = run.json();
    let severity = |key: &str| {
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["key"] == key)
            .map(|o| o["findings"][0]["severity"].clone())
            .unwrap()
    };
    assert_eq!(severity("index.html"), "warning");
    assert_eq!(severity("app.js"), "error");
    env.lab.delete_object(BUCKET, "app.js");
    assert_eq!(env.s3mend(&args("error")).await.code, 0);
    assert_eq!(env.s3mend(&args("warning")).await.code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nightly_fix_passes_with_its_known_archived_objects_accepted() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
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
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let first = fix(&env, &journal, &[]).await;
    assert_eq!(first.code, 1, "the archived object is left: {first:?}");
    // Every night after: nothing repairable, one archived object, for ever.
    let again = fix(&env, &journal, &[]).await;
    assert_eq!(again.code, 1, "{again:?}");
    let accepted = fix(&env, &journal, &["--accept-skips", "archived"]).await;
    assert_eq!(accepted.code, 0, "{accepted:?}");
    // Another reason is not accepted by naming this one; an unknown one is a usage error.
    let other = fix(
        &env,
        &journal,
        &["--accept-skips", "foreign-owner,declined"],
    )
    .await;
    assert_eq!(other.code, 1, "{other:?}");
    let unknown = fix(&env, &journal, &["--accept-skips", "archive"]).await;
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.contains("unknown skip reason 'archive'"),
        "{}",
        unknown.stderr
    );
    // A dry run's plans are left to do: they fail unless --fail-on never.
    env.put("b.html", "text/html", Some("UTF-8"));
    let dry = fix(&env, &journal, &["--dry-run", "--accept-skips", "archived"]).await;
    assert_eq!(dry.code, 1, "{dry:?}");
    let never = fix(&env, &journal, &["--dry-run", "--fail-on", "never"]).await;
    assert_eq!(never.code, 0, "{never:?}");
}
