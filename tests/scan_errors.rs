//! Failures: each a one-line message and exit 2; a failed HEAD is a row, not the end of the walk.

use s3mend::lab::ObjectSeed;

use crate::harness::{row, TestEnv, BUCKET};

fn one_line_error(stderr: &str, needle: &str) {
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

#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_output_fails_before_any_request() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let run = env
        .s3mend(&[
            "scan",
            &format!("s3://{BUCKET}/"),
            "--output",
            "/nonexistent/dir/report.json",
        ])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(
        &run.stderr,
        "cannot write --output /nonexistent/dir/report.json",
    );
    assert_eq!(env.lab.stats().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_head_is_an_error_row_and_the_walk_goes_on() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("z.html", "text/html", None);
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
    let run = env
        .s3mend(&["scan", &format!("s3://{BUCKET}/"), "--format", "json"])
        .await;
    assert_eq!(
        run.code, 2,
        "an object that could not be inspected: {run:?}"
    );
    let report = run.json();
    assert_eq!(
        report["summary"],
        serde_json::json!({"listed": 3, "inspected": 2, "clean": 1, "with_findings": 1,
                           "errors": 1, "complete": true, "stopped": null,
                           "requests": {"calls": 5, "attempts": 5, "throttled": 0,
                                        "failed_attempts": 0, "concurrency_cuts": 0,
                                        "min_concurrency": 64}})
    );
    let error_row = row(&report, "m-secret.bin");
    assert_eq!(error_row["status"], "error");
    assert_eq!(error_row["error"]["code"], "BadRequest");
    assert_eq!(error_row["error"]["http_status"], 400);
    assert_eq!(error_row["findings"], serde_json::json!([]));

    let table = env.s3mend(&["scan", &format!("s3://{BUCKET}/")]).await;
    assert_eq!(table.code, 2);
    assert!(
        table.stdout.contains("errors — 1 object"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("m-secret.bin"), "{}", table.stdout);
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
    for secret in [s3mend::lab::LAB_SECRET_KEY, token, "Signature="] {
        assert!(
            !run.stderr.contains(secret),
            "{secret} leaked into the logs"
        );
        assert!(
            !run.stdout.contains(secret),
            "{secret} leaked into the report"
        );
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
    env.put("a.html", "text/html", Some("UTF-8"));
    let run = env
        .s3mend(&[
            "fix",
            "s3://test-bucket/",
            "--yes",
            "--journal",
            "/nonexistent/dir/j.jsonl",
        ])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(
        &run.stderr,
        "cannot write --journal /nonexistent/dir/j.jsonl",
    );

    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.jsonl");
    std::fs::write(&corrupt, "this is not json\n").unwrap();
    let run = env
        .s3mend(&["undo", corrupt.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(&run.stderr, "line 1 is not an s3mend journal entry");

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let run = env
        .s3mend(&["undo", empty.to_str().unwrap(), "--yes"])
        .await;
    assert_eq!(run.code, 2);
    one_line_error(&run.stderr, "records no repair");
    assert_eq!(env.lab.stats().total(), 0);
}
