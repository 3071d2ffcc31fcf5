//! Failures: each a one-line message and exit 2; a failed HEAD is a row, not the end of the walk.

use std::path::{Path, PathBuf};

use s3mend_lab::ObjectSeed;

use crate::harness::{row, TestEnv, BUCKET};

pub(crate) fn one_line_error(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr:?}");
    assert!(lines[0].starts_with("s3mend: error: "), "{stderr:?}");
    assert!(lines[0].contains(needle), "{needle:?} in {stderr:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_is_a_one_line_error() {
    let env = TestEnv::new().await;
    let run = env.s3mend(&["scan", "s3://no-such-bucket/"]).await;
    assert_eq!(run.code, 2);
    one_line_error(&run.stderr, "bucket 'no-such-bucket' does not exist");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_access_denied() {
    let env = TestEnv::new().await;
    let run = env
        .s3mend_with(
            &["scan", &format!("s3://{BUCKET}/")],
            &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
        )
        .await;
    assert_eq!(run.code, 2);
    one_line_error(&run.stderr, "access denied");
    assert!(!run.stderr.contains("not-the-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() {
    let env = TestEnv::new().await;
    for (args, needle) in [
        (vec!["scan", "bucket/prefix"], "not an S3 URL"),
        (vec!["scan", "s3://"], "the name is empty"),
        (vec!["scan", "s3://b/", "--concurrency", "0"], "concurrency"),
        (
            vec!["scan", "s3://test-bucket/", "--include", "a[b"],
            "bad glob 'a[b'",
        ),
        (
            vec!["scan", "s3://test-bucket/", "--rules", "nope"],
            "unknown rule 'nope'",
        ),
    ] {
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    assert_eq!(env.lab.stats().total(), 0, "no request for bad usage");
}

/// A real journal of one repair (a.html), written by a fix; the lab's counters are reset after.
async fn journal_of_one_fix(env: &TestEnv, dir: &Path) -> PathBuf {
    env.put("a.html", "text/html", Some("UTF-8"));
    let journal = dir.join("fix.jsonl");
    let run = env
        .s3mend(&[
            "fix",
            &format!("s3://{BUCKET}/"),
            "--yes",
            "--journal",
            journal.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    env.lab.reset_stats();
    journal
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_output_fails_before_any_request() {
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_of_one_fix(&env, dir.path()).await;
    env.put("b.html", "text/html", Some("UTF-8"));
    let target = format!("s3://{BUCKET}/");
    let output = "/nonexistent/dir/report.json";
    for args in [
        vec!["scan", &target],
        vec!["fix", &target, "--yes"],
        vec!["undo", journal.to_str().unwrap(), "--yes"],
    ] {
        let mut args = args.clone();
        args.extend(["--output", output]);
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        one_line_error(&run.stderr, &format!("cannot write --output {output}"));
    }
    assert_eq!(env.lab.stats().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_head_is_an_error_row_and_the_walk_goes_on() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("m-broken.html", "text/html", None);
    env.put("z.html", "text/html", None);
    env.lab.fail_next("HeadObject", "m-broken.html", 1);
    let args = [
        "scan",
        "s3://test-bucket/",
        "--format",
        "json",
        "--max-attempts",
        "1",
    ];
    let run = env.s3mend(&args).await;
    assert_eq!(
        run.code, 2,
        "an object that could not be inspected: {run:?}"
    );
    let report = run.json();
    assert_eq!(
        report["summary"],
        serde_json::json!({"listed": 3, "inspected": 2, "clean": 1, "with_findings": 1,
                           "errors": 1, "gone": 0, "unreadable": 0,
                           "complete": true, "stopped": null,
                           // What the run was, for `s3mend merge`.
                           "command": "scan", "target": "s3://test-bucket/",
                           "rules": ["content-encoding", "content-type"],
                           // HeadBucket, ListObjectsV2, three HEADs, and the ranged GET of
                           // a.html's body, whose Content-Encoding is to change.
                           "requests": {"calls": 6, "attempts": 6, "throttled": 0,
                                        "failed_attempts": 1, "concurrency_cuts": 0,
                                        "min_concurrency": s3mend::cli::DEFAULT_CONCURRENCY}})
    );
    let error_row = row(&report, "m-broken.html");
    assert_eq!(error_row["status"], "error");
    assert_eq!(error_row["error"]["code"], "InternalError");
    assert_eq!(error_row["error"]["http_status"], 500);
    assert_eq!(error_row["findings"], serde_json::json!([]));

    env.lab.fail_next("HeadObject", "m-broken.html", 1);
    let table = env.s3mend(&[&args[..2], &args[4..]].concat()).await;
    assert_eq!(table.code, 2);
    assert!(
        table.stdout.contains("errors — 1 object"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("m-broken.html"), "{}", table.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sse_c_object_is_skipped_not_an_error() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", None);
    // S3 refuses to HEAD an SSE-C object without its key (400).
    env.lab.put_object(
        BUCKET,
        "m-secret.bin",
        ObjectSeed {
            body: bytes::Bytes::from_static(b"secret"),
            sse_customer_algorithm: Some("AES256".into()),
            sse_customer_key_md5: Some("bWQ1b2Z0aGVrZXk=".into()),
            ..ObjectSeed::default()
        },
    );
    for args in [
        &["scan", "s3://test-bucket/", "--format", "json"][..],
        &["fix", "s3://test-bucket/", "--format", "json", "--yes"],
    ] {
        let command = args[0];
        let run = env.s3mend(args).await;
        assert_eq!(run.code, 0, "nothing known to be wrong: {run:?}");
        let report = run.json();
        let summary = &report["summary"];
        assert_eq!(
            (
                &summary["listed"],
                &summary["clean"],
                &summary["unreadable"],
                &summary["errors"]
            ),
            (&2.into(), &1.into(), &1.into(), &0.into()),
            "{command}: {summary}"
        );
        let skipped = row(&report, "m-secret.bin");
        assert_eq!(skipped["status"], "skipped", "{command}");
        assert_eq!(skipped["reason"], "sse-c", "{command}");
        assert_eq!(skipped["error"], serde_json::Value::Null, "{command}");
    }
    assert_eq!(env.lab.stats().count("CopyObject"), 0);

    let csv = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "csv"])
        .await;
    assert!(
        csv.stdout.lines().any(|l| l.starts_with("m-secret.bin,")
            && l.contains(",skipped,")
            && l.ends_with(",sse-c,")),
        "{}",
        csv.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_deleted_between_list_and_head_is_gone_not_an_error() {
    for versioned in [false, true] {
        let env = TestEnv::new().await;
        env.lab.set_versioning(BUCKET, versioned);
        env.put("a.html", "text/html", None);
        env.put("b.html", "text/html", Some("UTF-8"));
        env.put("c.html", "text/html", Some("UTF-8"));
        for command in ["scan", "fix"] {
            env.lab
                .before_next_head(BUCKET, "b.html", |lab| lab.delete_object(BUCKET, "b.html"));
            if command == "fix" {
                // Put it back for the fix to find it gone again.
                env.put("b.html", "text/html", Some("UTF-8"));
            }
            let mut args = vec![command, "s3://test-bucket/", "--format", "json"];
            if command == "fix" {
                args.push("--yes");
            }
            let run = env.s3mend(&args).await;
            let report = run.json();
            let summary = &report["summary"];
            assert_eq!(
                (
                    &summary["listed"],
                    &summary["clean"],
                    &summary["gone"],
                    &summary["errors"]
                ),
                (&3.into(), &2.into(), &1.into(), &0.into()),
                "{command}, versioned {versioned}: {summary}"
            );
            let gone = row(&report, "b.html");
            assert_eq!(gone["status"], "gone");
            let reason = gone["reason"].as_str().unwrap();
            assert!(
                reason.starts_with("deleted after it was listed"),
                "{reason}"
            );
            assert_eq!(reason.contains("delete marker"), versioned, "{reason}");
            if command == "fix" {
                assert_eq!(run.code, 0, "{run:?}");
                assert_eq!(summary["fixed"], 1, "{summary}");
            } else {
                assert_eq!(run.code, 1, "c.html has a finding: {run:?}");
            }
        }
        let copies = env.lab.stats().count("CopyObject");
        assert_eq!(copies, 2, "the source-condition probe (412), then c.html");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_that_cannot_be_sent_are_a_one_line_error() {
    let env = TestEnv::new().await;
    for (var, value, needle) in [
        ("AWS_ACCESS_KEY_ID", "bad\nkey", "access key id"),
        ("AWS_ACCESS_KEY_ID", "", "credentials"),
        ("AWS_SESSION_TOKEN", "tok en\u{7f}", "session token"),
    ] {
        let run = env
            .s3mend_with(&["scan", &format!("s3://{BUCKET}/")], &[(var, value)])
            .await;
        assert_eq!(run.code, 2, "{var}={value:?}: {run:?}");
        one_line_error(&run.stderr, needle);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert_eq!(env.lab.stats().total(), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_refusing_connections_is_a_prompt_one_line_error() {
    let env = TestEnv::new().await;
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let run = env
        .s3mend(&["scan", "s3://test-bucket/", "--endpoint-url", &endpoint])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(
        &run.stderr,
        &format!("cannot reach bucket 'test-bucket' at {endpoint}"),
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_that_does_not_resolve_is_a_prompt_one_line_error() {
    let env = TestEnv::new().await;
    // .invalid never resolves (RFC 6761); without any DNS the lookup fails too.
    let endpoint = "http://s3mend-test.invalid:9000";
    let started = std::time::Instant::now();
    let run = env
        .s3mend(&["scan", "s3://test-bucket/", "--endpoint-url", endpoint])
        .await;
    let took = started.elapsed();
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    one_line_error(
        &run.stderr,
        &format!("cannot reach bucket 'test-bucket' at {endpoint}: "),
    );
    assert!(
        run.stderr.contains("dns error"),
        "the cause is named: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_logs_even_at_trace() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let token = "RecognisableSessionToken0123456789";
    let run = env
        .s3mend_with(
            &[
                "scan",
                &format!("s3://{BUCKET}/"),
                "-vvv",
                "--format",
                "json",
            ],
            &[("AWS_SESSION_TOKEN", token)],
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.lines().count() > 20, "trace logs were written");
    for secret in [s3mend_lab::LAB_SECRET_KEY, token, "Signature="] {
        assert!(
            !run.stderr.contains(secret),
            "{secret} leaked into the logs"
        );
        assert!(
            !run.stdout.contains(secret),
            "{secret} leaked into the report"
        );
    }

    // A fix at -vv writes a journal, a state file and a report file too.
    let dir = tempfile::tempdir().unwrap();
    let files = ["j.jsonl", "state.json", "report.json"].map(|f| dir.path().join(f));
    let [journal, state, report] = files.each_ref().map(|p| p.to_str().unwrap());
    let fix = env
        .s3mend_with(
            &[
                "fix",
                "s3://test-bucket/",
                "-vv",
                "--yes",
                "--journal",
                journal,
                "--state",
                state,
                "--output",
                report,
            ],
            &[("AWS_SESSION_TOKEN", token)],
        )
        .await;
    assert_eq!(fix.code, 0, "{fix:?}");
    let mut texts = vec![
        ("stderr", fix.stderr.clone()),
        ("stdout", fix.stdout.clone()),
    ];
    for path in &files {
        texts.push(("file", std::fs::read_to_string(path).unwrap()));
    }
    for (place, text) in texts {
        for secret in [s3mend_lab::LAB_SECRET_KEY, token, "Signature="] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {place}: {text}"
            );
        }
    }
    #[cfg(unix)]
    for path in &files {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_to_a_plain_http_endpoint_is_a_one_line_error() {
    let env = TestEnv::new().await;
    let endpoint = env.lab.endpoint().replace("http://", "https://");
    let run = env
        .s3mend(&["scan", "s3://test-bucket/", "--endpoint-url", &endpoint])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(&run.stderr, "cannot reach bucket 'test-bucket'");
}

#[tokio::test(flavor = "multi_thread")]
async fn unwritable_journals_and_corrupt_ones_fail_before_any_request() {
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_of_one_fix(&env, dir.path()).await;
    env.put("b.html", "text/html", Some("UTF-8"));
    let unwritable = "/nonexistent/dir/j.jsonl";
    for args in [
        vec!["fix", "s3://test-bucket/", "--yes"],
        vec!["undo", journal.to_str().unwrap(), "--yes"],
    ] {
        let mut args = args.clone();
        args.extend(["--journal", unwritable]);
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        one_line_error(&run.stderr, &format!("cannot write --journal {unwritable}"));
    }

    // A good first line, then garbage: the line is named.
    let first = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let corrupt = dir.path().join("corrupt.jsonl");
    std::fs::write(&corrupt, format!("{first}\nthis is not json\n")).unwrap();
    let run = env
        .s3mend(&["undo", corrupt.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(
        &run.stderr,
        &format!(
            "journal {} line 2 is not an s3mend journal entry",
            corrupt.display()
        ),
    );

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let run = env
        .s3mend(&["undo", empty.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(
        &run.stderr,
        &format!("journal {} records no repair", empty.display()),
    );

    let mixed = dir.path().join("mixed.jsonl");
    let elsewhere = first.replace("\"test-bucket\"", "\"other-bucket\"");
    assert_ne!(elsewhere, first, "{first}");
    std::fs::write(&mixed, format!("{first}\n{elsewhere}\n")).unwrap();
    let run = env
        .s3mend(&["undo", mixed.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(
        &run.stderr,
        &format!(
            "journal {} mixes buckets (test-bucket and other-bucket)",
            mixed.display()
        ),
    );
    assert_eq!(env.lab.stats().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_for_a_bucket_that_is_not_there_names_the_journal() {
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_of_one_fix(&env, dir.path()).await;
    let text = std::fs::read_to_string(&journal).unwrap();
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, text.replace("\"test-bucket\"", "\"other-bucket\"")).unwrap();
    let undo_journal = dir.path().join("undo.jsonl");
    let run = env
        .s3mend(&[
            "undo",
            other.to_str().unwrap(),
            "--yes",
            "--journal",
            undo_journal.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!undo_journal.exists(), "no empty journal is left behind");
    one_line_error(
        &run.stderr,
        &format!(
            "journal {} is for s3://other-bucket/: bucket 'other-bucket' does not exist at {}",
            other.display(),
            env.lab.endpoint()
        ),
    );
    let stats = env.lab.stats();
    assert_eq!(stats.total(), stats.count("HeadBucket"), "{stats:?}");
}
