//! What an adversarial run found, each fixed and kept fixed: the user's own files, bad input that
//! reached the SDK, and more in the files this module names.

use crate::harness::{TestEnv, BUCKET};
use crate::scan_errors::one_line_error;

/// A region that cannot travel in a header is a usage error, not a panic inside the SDK; one
/// that looks like a path is refused as a region, not reported as something else.
#[tokio::test(flavor = "multi_thread")]
async fn a_region_that_is_not_a_region_name_is_one_line() {
    let env = TestEnv::new().await;
    let run = env
        .s3mend_with(
            &["scan", "s3://test-bucket/"],
            &[("AWS_REGION", "us\u{1}east")],
        )
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(&run.stderr, "region 'us\\u{1}east' is not a region name");
    let run = env
        .s3mend(&["scan", "s3://test-bucket/", "--region", "x/../y z"])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("region 'x/../y z' is not a region name"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("SSE-C"), "{run:?}");
    assert_eq!(env.lab.stats().total(), 0);
}

/// The same file for two of --journal, --state and --output (or undo's journal), under any name,
/// is refused before anything is written or sent.
#[tokio::test(flavor = "multi_thread")]
async fn one_file_given_for_two_jobs_is_refused() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |name: &str| d.join(name).to_str().unwrap().to_owned();
    std::fs::write(d.join("keep.txt"), "precious\n").unwrap();
    std::os::unix::fs::symlink(d.join("keep.txt"), d.join("link")).unwrap();
    let keep = path("keep.txt");
    let dotted = format!("{}/./keep.txt", d.display());
    let link = path("link");
    let cases: Vec<Vec<String>> = vec![
        vec![
            "scan".into(),
            "s3://test-bucket/".into(),
            "--state".into(),
            keep.clone(),
            "--output".into(),
            dotted.clone(),
        ],
        vec![
            "fix".into(),
            "s3://test-bucket/".into(),
            "--yes".into(),
            "--journal".into(),
            keep.clone(),
            "--output".into(),
            link.clone(),
        ],
        vec![
            "fix".into(),
            "s3://test-bucket/".into(),
            "--yes".into(),
            "--journal".into(),
            link.clone(),
            "--state".into(),
            keep.clone(),
        ],
        vec![
            "undo".into(),
            keep.clone(),
            "--yes".into(),
            "--output".into(),
            dotted.clone(),
        ],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        one_line_error(&run.stderr, "are the same file");
        assert_eq!(
            std::fs::read_to_string(d.join("keep.txt")).unwrap(),
            "precious\n"
        );
    }
    assert_eq!(env.lab.stats().total(), 0, "nothing was sent");
}

/// A state for a stopped fix, naming `journal` (not a journal here) as the one to continue.
fn stopped_state(journal: &std::path::Path) -> String {
    serde_json::json!({
        "version": 1, "command": "fix", "bucket": BUCKET, "prefix": "",
        "include": [], "exclude": [], "rules": ["content-encoding", "content-type"],
        "done_through": null, "journal": journal, "complete": false,
        "updated": "2026-12-02T00:00:00Z"
    })
    .to_string()
}

/// `--resume` checks that the file its state names is a journal before it cuts a torn last line
/// from it: any other file keeps every byte.
#[tokio::test(flavor = "multi_thread")]
async fn resume_never_cuts_a_line_from_a_file_that_is_not_a_journal() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "line one\nline two without a newline").unwrap();
    let state = dir.path().join("s.json");
    std::fs::write(&state, stopped_state(&notes)).unwrap();
    let run = env
        .s3mend(&[
            "fix",
            "s3://test-bucket/",
            "--yes",
            "--state",
            state.to_str().unwrap(),
            "--resume",
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(&run.stderr, "line 1 is not an s3mend journal entry");
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "line one\nline two without a newline"
    );
    assert_eq!(env.lab.stats().total(), 0);
}

/// The state records its journal by absolute path: a fix started with relative paths in one
/// directory resumes from another into the same journal.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_from_another_directory_continues_the_same_journal() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("b.html", "text/html", Some("UTF-8"));
    let first = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let run = env
        .s3mend_in(
            first.path(),
            &[
                "fix",
                "s3://test-bucket/",
                "--yes",
                "--journal",
                "j.jsonl",
                "--state",
                "s.json",
                "--include",
                "a.html",
            ],
        )
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let state_path = first.path().join("s.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    let journal = first.path().join("j.jsonl");
    assert_eq!(state["journal"], journal.to_str().unwrap(), "absolute");
    // As if the run had stopped before it was done.
    state["complete"] = false.into();
    state["done_through"] = serde_json::Value::Null;
    std::fs::write(&state_path, state.to_string()).unwrap();
    env.put("a.html", "text/html", Some("ANSI_X3.4-1968"));
    let lines_before = std::fs::read_to_string(&journal).unwrap().lines().count();
    let resumed = env
        .s3mend_in(
            other.path(),
            &[
                "fix",
                "s3://test-bucket/",
                "--yes",
                "--state",
                state_path.to_str().unwrap(),
                "--resume",
                "--include",
                "a.html",
            ],
        )
        .await;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let lines_after = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert_eq!(
        lines_after,
        lines_before + 2,
        "one more plan and its outcome"
    );
    assert!(
        std::fs::read_dir(other.path()).unwrap().next().is_none(),
        "no second journal"
    );
}

/// Keys and values are the bucket's data: the table shows their control and bidi characters
/// escaped, CSV neutralises cells a spreadsheet would evaluate, and JSON carries them exactly.
#[tokio::test(flavor = "multi_thread")]
async fn reports_never_let_a_key_drive_the_terminal_or_the_spreadsheet() {
    let env = TestEnv::new().await;
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nfake\u{202e}lmth.exe";
    env.put(hostile, "text/html", Some("UTF-8"));
    env.put("=HYPERLINK(\"http://evil\")", "text/html", Some("UTF-8"));
    env.put("+cmd", "text/html", Some("=1+1"));

    let table = env.s3mend(&["scan", "s3://test-bucket/"]).await;
    assert_eq!(table.code, 1, "{table:?}");
    for raw in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
        assert!(
            !table.stdout.contains(raw),
            "{raw:?} reached the terminal: {:?}",
            table.stdout
        );
    }
    assert!(
        table.stdout.contains("\\u{1b}]0;pwned\\u{7}"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("fake\\u{202e}lmth.exe"),
        "{}",
        table.stdout
    );

    let csv = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "csv"])
        .await;
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    let keys: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert!(
        keys.contains(&"'=HYPERLINK(\"http://evil\")".to_owned()),
        "{keys:?}"
    );
    assert!(keys.contains(&"'+cmd".to_owned()), "{keys:?}");
    assert!(
        !csv.stdout
            .lines()
            .any(|l| l.starts_with('=') || l.contains(",=")),
        "{}",
        csv.stdout
    );

    let json = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "json"])
        .await;
    let keys: Vec<String> = json.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        keys.contains(&hostile.to_owned()),
        "JSON is exact: {keys:?}"
    );
}

/// A FIFO nobody reads is refused at once instead of hanging the run before its first request.
#[tokio::test(flavor = "multi_thread")]
async fn an_output_fifo_without_a_reader_is_a_prompt_error() {
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "--output",
            fifo.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(&run.stderr, "it is a FIFO and nothing reads from it");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(env.lab.stats().total(), 0);
}

/// The first request is bounded as a whole, not per attempt: a bucket check that never
/// answers is an error after the attempt timeout (at most 10 s), not after two of them.
#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_check_that_never_answers_is_bounded_as_a_whole() {
    let env = TestEnv::with_config(s3mend_lab::LabConfig {
        latency: std::time::Duration::from_secs(30),
        ..s3mend_lab::LabConfig::default()
    })
    .await;
    let started = std::time::Instant::now();
    let run = env
        .s3mend(&["scan", "s3://test-bucket/", "--attempt-timeout", "1s"])
        .await;
    let took = started.elapsed();
    assert_eq!(run.code, 2, "{run:?}");
    one_line_error(&run.stderr, "cannot reach bucket 'test-bucket'");
    assert!(
        took < std::time::Duration::from_millis(1900),
        "{took:?}: {run:?}"
    );
}

/// A damaged listing ends the run as incomplete (exit 2, `complete: false`, the state not
/// finished) with a one-line reason, whatever the damage: XML cut off (with an honest length,
/// a connection closed early, or no length at all), truncated without a token, a token handed
/// back, a cycle of tokens (with keys, or empty pages), KeyCount disagreeing, a key listed
/// twice. None lists for ever.
#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_listing_is_never_reported_complete() {
    use s3mend_lab::{Framing, ListingDamage};
    let damages = [
        (
            ListingDamage::Cut {
                at: 600,
                framing: Framing::Honest,
            },
            5,
        ),
        (
            ListingDamage::Cut {
                at: 600,
                framing: Framing::Close,
            },
            5,
        ),
        (
            ListingDamage::Cut {
                at: 600,
                framing: Framing::UntilClose,
            },
            5,
        ),
        (ListingDamage::TruncatedWithoutToken, 5),
        (ListingDamage::RepeatedToken, 5),
        (ListingDamage::TokenCycle, 1001),
        (ListingDamage::EmptyTokenCycle, 5),
        (ListingDamage::WrongKeyCount, 5),
        (ListingDamage::DuplicateKey, 1001),
    ];
    for (damage, objects) in damages {
        let env = TestEnv::new().await;
        for i in 0..objects {
            env.put(&format!("k{i:05}.html"), "text/html", None);
        }
        env.lab.damage_listings(damage, 1000);
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let run = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            env.s3mend(&[
                "scan",
                "s3://test-bucket/",
                "--format",
                "json",
                "--state",
                state.to_str().unwrap(),
                "--attempt-timeout",
                "2s",
                // A cut connection is retried as any transient failure; every attempt is cut.
                "--max-attempts",
                "2",
            ]),
        )
        .await
        .unwrap_or_else(|_| panic!("{damage:?}: lists for ever"));
        assert_eq!(run.code, 2, "{damage:?}: {run:?}");
        let summary = &run.json()["summary"];
        assert_eq!(summary["complete"], false, "{damage:?}: {summary}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("s3mend: ") && l.contains("listing")),
            "{damage:?}: {}",
            run.stderr
        );
        assert!(
            env.lab.stats().fault_count("ListObjectsV2", damage.name()) > 0,
            "{damage:?}: the damage was served"
        );
        let saved = std::fs::read_to_string(&state).unwrap();
        assert!(!saved.contains("\"finished\":true"), "{damage:?}: {saved}");
    }
}

/// A copy that was made but whose answer was lost (the connection reset after the write) is
/// looked at, not reported and journalled as an error: fixed, in a bucket with or without
/// versions, and a retry that copied again is not taken for someone else's write.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_whose_answer_was_lost_is_reported_as_it_ended() {
    for versioned in [false, true] {
        let env = TestEnv::new().await;
        env.lab.set_versioning(BUCKET, versioned);
        env.put("a.html", "text/html", Some("UTF-8"));
        env.put("b.html", "text/html", Some("UTF-8"));
        env.lab.lose_next_copy_response(BUCKET, "a.html");
        // b.html's answer is lost on every attempt.
        for _ in 0..3 {
            env.lab.lose_next_copy_response(BUCKET, "b.html");
        }
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.jsonl");
        let run = crate::harness::fix(&env, &journal, &["--max-attempts", "3"]).await;
        assert_eq!(run.code, 0, "versioned {versioned}: {run:?}");
        only_s3mend_speaks(&run.stderr);
        let report = run.json();
        for key in ["a.html", "b.html"] {
            let row = crate::harness::row(&report, key);
            assert_eq!(row["status"], "fixed", "versioned {versioned}: {row}");
            let object = env.lab.object(BUCKET, key).unwrap();
            assert_eq!(object.content_encoding, None);
        }
        assert_eq!(
            env.lab.stats().fault_count("CopyObject", "LostResponse"),
            4,
            "versioned {versioned}"
        );
        let journal = std::fs::read_to_string(&journal).unwrap();
        assert_eq!(
            journal.matches("\"status\":\"fixed\"").count(),
            2,
            "{journal}"
        );
        assert!(!journal.contains("\"status\":\"error\""), "{journal}");
    }
}

/// A listing whose body trickles in slower than --attempt-timeout allows fails each attempt on
/// time, and the report counts every one of them as a failed attempt.
#[tokio::test(flavor = "multi_thread")]
async fn timed_out_listing_attempts_are_counted() {
    let env = TestEnv::new().await;
    for i in 0..20 {
        env.put(&format!("k{i:02}.html"), "text/html", None);
    }
    env.lab
        .trickle_listings(std::time::Duration::from_millis(50), 100);
    let started = std::time::Instant::now();
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "--format",
            "json",
            "--attempt-timeout",
            "200ms",
            "--max-attempts",
            "3",
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    only_s3mend_speaks(&run.stderr);
    let summary = &run.json()["summary"];
    assert_eq!(summary["complete"], false, "{summary}");
    assert_eq!(summary["requests"]["failed_attempts"], 3, "{summary}");
    assert_eq!(env.lab.stats().fault_count("ListObjectsV2", "Trickle"), 3);
    // Three attempts of 200 ms and the backoffs between them: seconds, not minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// A report that cannot be written (a full disk) stops the run with a one-line error naming
/// the file; the summary, which the report would have ended with, goes to stderr instead, and
/// the state does not claim what was never reported.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_that_cannot_be_written_stops_the_run_and_keeps_the_summary() {
    let env = TestEnv::new().await;
    for i in 0..50 {
        env.put(&format!("k{i:02}.html"), "text/html", Some("UTF-8"));
    }
    let dir = tempfile::tempdir().unwrap();
    for (command, format) in [("scan", "json"), ("scan", "table"), ("fix", "csv")] {
        let state = dir.path().join(format!("{command}-{format}.state"));
        let journal = dir.path().join(format!("{command}-{format}.jsonl"));
        let mut args = vec![
            command,
            "s3://test-bucket/",
            "--format",
            format,
            "--output",
            "/dev/full",
            "--state",
            state.to_str().unwrap(),
        ];
        if command == "fix" {
            args.extend(["--yes", "--journal", journal.to_str().unwrap()]);
        }
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{run:?}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{run:?}");
        let summary = lines[0]
            .strip_prefix("s3mend: the report could not be written; its summary: ")
            .unwrap_or_else(|| panic!("{run:?}"));
        let summary: serde_json::Value = serde_json::from_str(summary).unwrap();
        assert_eq!(summary["complete"], false, "{summary}");
        assert!(summary["listed"].as_u64().unwrap() > 0, "{summary}");
        assert_eq!(
            lines[1],
            "s3mend: error: cannot write the report to /dev/full: No space left on device (os error 28)"
        );
        let saved = std::fs::read_to_string(&state).unwrap();
        assert!(!saved.contains("\"finished\":true"), "{saved}");
    }
}

/// Without `-v`, stderr carries s3mend's own lines only: its messages and its own warnings,
/// never the SDK's or hyper's (which retried attempts produce in numbers).
fn only_s3mend_speaks(stderr: &str) {
    for line in stderr.lines() {
        assert!(
            line.starts_with("s3mend: ") || line.contains(" s3mend::"),
            "a line that is not s3mend's: {line:?}"
        );
    }
}

/// A dead server holds a fix no longer than its attempts: a copy attempt waits
/// `--attempt-timeout` plus its size at 25 MiB/s (not 15 minutes), and one Ctrl-C forbids every
/// retry still to come, so a run whose copies keep failing stops at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_server_holds_a_fix_no_longer_than_its_attempts() {
    let env = TestEnv::new().await;
    env.put("stalled.html", "text/html", Some("UTF-8"));
    env.lab.stall_next(
        "CopyObject",
        "stalled.html",
        10,
        std::time::Duration::from_secs(600),
    );
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let run = crate::harness::fix(
        &env,
        &dir.path().join("j.jsonl"),
        &["--attempt-timeout", "1s", "--max-attempts", "2"],
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        crate::harness::row(&run.json(), "stalled.html")["status"],
        "error"
    );
    // Two attempts of about a second, a backoff, the probe and the settling HEAD.
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");

    // Every copy fails; ten attempts would back off for about a minute and a half.
    env.put("failing.html", "text/html", Some("UTF-8"));
    env.lab.fail_next("CopyObject", "failing.html", 1000);
    let child = env.spawn(
        &[
            "fix",
            "s3://test-bucket/failing.html",
            "--yes",
            "--format",
            "json",
            "--journal",
            dir.path().join("j2.jsonl").to_str().unwrap(),
        ],
        &[],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while env.lab.stats().fault_count("CopyObject", "FailNext") < 2 {
        assert!(std::time::Instant::now() < deadline, "never retried");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let interrupted = std::time::Instant::now();
    let pid = child.id().unwrap().to_string();
    let signal = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    assert!(signal.unwrap().success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("one Ctrl-C stops the retries")
        .unwrap();
    let stopped_in = interrupted.elapsed();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(
        stopped_in < std::time::Duration::from_secs(5),
        "{stopped_in:?}"
    );
    let attempts = env.lab.stats().fault_count("CopyObject", "FailNext");
    assert!(attempts < 10, "no retry after the Ctrl-C: {attempts}");
}
