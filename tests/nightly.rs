//! What a job run every night needs besides the catalog: silence when all is well (`-q`), one
//! start and one end line in the logs (`-v`), no journal when nothing was written, and a journal
//! that remembers where it was written, so `undo JOURNAL` needs no flags.

use crate::harness::{row, TestEnv};

/// `-q`: a run with nothing to report prints nothing, on stdout or stderr; one with something
/// to report prints its report as usual; `--output -` is stdout.
#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_run_with_nothing_to_report_prints_nothing() {
    let env = TestEnv::new().await;
    env.put("ok.html", "text/html", None);
    let dir = tempfile::tempdir().unwrap();
    for format in ["table", "json", "jsonl", "csv"] {
        let run = env
            .s3mend_in(
                dir.path(),
                &["scan", "s3://test-bucket/", "-q", "--format", format],
            )
            .await;
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (0, "", ""),
            "{format}"
        );
        let run = env
            .s3mend_in(
                dir.path(),
                &[
                    "fix",
                    "s3://test-bucket/",
                    "-q",
                    "--yes",
                    "--format",
                    format,
                ],
            )
            .await;
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (0, "", ""),
            "{format}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "a fix with nothing to do leaves no journal: {left:?}"
    );

    env.put("bad.html", "text/html", Some("UTF-8"));
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "-q",
            "--format",
            "json",
            "--output",
            "-",
        ])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(row(&run.json(), "bad.html")["status"], "finding");
    assert_eq!(run.stderr, "");
}

/// A fix with nothing to repair creates no journal and offers no undo; one that repaired
/// something names its journal in the report.
#[tokio::test(flavor = "multi_thread")]
async fn a_fix_with_nothing_to_repair_leaves_no_journal_and_no_undo_hint() {
    let env = TestEnv::new().await;
    env.put("ok.html", "text/html", None);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let run = crate::harness::fix(&env, &journal, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!journal.exists());
    assert!(!run.stdout.contains("undo"), "{}", run.stdout);
    let table = env
        .s3mend_in(dir.path(), &["fix", "s3://test-bucket/", "--yes"])
        .await;
    assert!(!table.stdout.contains("undo"), "{}", table.stdout);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// `-v` logs one line as the run starts and one as it ends, in text or JSON.
#[tokio::test(flavor = "multi_thread")]
async fn verbose_logs_one_start_and_one_end_line() {
    let env = TestEnv::new().await;
    env.put("bad.html", "text/html", Some("UTF-8"));
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "-v",
            "--log-format",
            "json",
            "--concurrency",
            "7",
            "--output",
            "/dev/null",
        ])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let message =
        |line: &serde_json::Value| line["fields"]["message"].as_str().unwrap_or("").to_owned();
    let start = lines
        .iter()
        .find(|l| message(l) == "start")
        .expect("a start line");
    assert_eq!(start["fields"]["command"], "scan");
    assert_eq!(start["fields"]["target"], "s3://test-bucket/");
    assert_eq!(start["fields"]["concurrency"], 7);
    assert_eq!(start["fields"]["rules"], "content-encoding,content-type");
    assert_eq!(start["fields"]["endpoint"], env.lab.endpoint());
    let end = lines
        .iter()
        .find(|l| message(l) == "end")
        .expect("an end line");
    assert_eq!(end["fields"]["listed"], 1);
    assert_eq!(end["fields"]["with_findings"], 1);
    assert_eq!(end["fields"]["exit_code"], 1);
    assert!(end["fields"]["requests"].as_u64().unwrap() >= 3, "{end}");
    assert!(end["fields"]["seconds"].as_f64().unwrap() > 0.0);

    let run = env
        .s3mend(&["scan", "s3://test-bucket/", "-v", "--output", "/dev/null"])
        .await;
    let ours: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(" s3mend::"))
        .collect();
    assert!(ours.iter().any(|l| l.contains(" start ")), "{}", run.stderr);
    assert!(ours.iter().any(|l| l.contains(" end ")), "{}", run.stderr);
}

/// The journal remembers the endpoint, region, addressing style and profile (never
/// credentials): `undo JOURNAL` reaches the same server with no flag, and a flag that
/// contradicts the journal wins with a warning. The undo report uses undo's words.
#[tokio::test(flavor = "multi_thread")]
async fn undo_needs_no_flags_to_find_where_the_fix_wrote() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let run = crate::harness::fix(&env, &journal, &["--addressing-style", "path"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let text = std::fs::read_to_string(&journal).unwrap();
    let planned: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(planned["at"]["endpoint"], env.lab.endpoint());
    assert_eq!(planned["at"]["region"], s3mend_lab::LAB_REGION);
    assert_eq!(planned["at"]["addressing"], "path");
    assert!(!text.contains(s3mend_lab::LAB_SECRET_KEY));

    // No endpoint in the environment: the journal's is used.
    let no_endpoint = [("AWS_ENDPOINT_URL", "")];
    let undo = env
        .s3mend_with(
            &[
                "undo",
                journal.to_str().unwrap(),
                "--yes",
                "--format",
                "json",
                "--journal",
                dir.path().join("u.jsonl").to_str().unwrap(),
            ],
            &no_endpoint,
        )
        .await;
    assert_eq!(undo.code, 0, "{undo:?}");
    assert_eq!(row(&undo.json(), "a.html")["status"], "restored");
    let a = env.lab.object(crate::harness::BUCKET, "a.html").unwrap();
    assert_eq!(a.content_encoding.as_deref(), Some("UTF-8"));

    // A contradicting flag wins, with a warning.
    let run = crate::harness::fix(&env, &dir.path().join("j2.jsonl"), &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let undo = env
        .s3mend_with(
            &[
                "undo",
                dir.path().join("j2.jsonl").to_str().unwrap(),
                "--dry-run",
                "--addressing-style",
                "auto",
                "--region",
                "eu-west-3",
            ],
            &[],
        )
        .await;
    assert!(
        undo.stderr.contains("s3mend: warning: --region eu-west-3 is not what the journal records (us-east-1): using eu-west-3"),
        "{undo:?}"
    );
    assert!(undo.stdout.contains("would restore"), "{}", undo.stdout);
}
