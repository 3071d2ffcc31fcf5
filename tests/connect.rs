//! Reaching the bucket: its region when the request was signed for another, and attempts that
//! stall.

use std::time::Duration;

use s3mend_lab::{LabConfig, WrongRegion};

use crate::harness::{expected_fixture_proposals, proposals, row, TestEnv, BUCKET};
use crate::scan_errors::one_line_error;

async fn lab_in(region: &str, answer: WrongRegion) -> TestEnv {
    TestEnv::with_config(LabConfig {
        region: Some(region.to_owned()),
        wrong_region: answer,
        ..LabConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_in_another_region_is_followed_there_for_scan_and_fix() {
    let env = lab_in("eu-west-1", WrongRegion::Redirect).await;
    let manifest = s3mend::demo::manifest().unwrap();
    s3mend::demo::seed(&env.lab, &manifest).unwrap();
    let target = format!("s3://{}/", manifest.bucket);

    let scan = env
        .s3mend(&["scan", &target, "--region", "us-west-2", "--format", "json"])
        .await;
    assert_eq!(scan.code, 1, "{scan:?}");
    assert_eq!(scan.stderr, "", "the switch is logged at info only");
    let report = scan.json();
    assert_eq!(
        proposals(report["objects"].as_array().unwrap()),
        expected_fixture_proposals()
    );
    assert_eq!(report["summary"]["errors"], 0, "{report}");
    assert_eq!(
        env.lab.stats().fault_count("HEAD", "WrongRegion"),
        1,
        "only the first HeadBucket went to the wrong region"
    );

    // Copies are signed for the bucket's region too (the lab turns away any other).
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let fix = env
        .s3mend(&[
            "fix",
            &target,
            "--region",
            "us-west-2",
            "--yes",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
            "-v",
        ])
        .await;
    assert_eq!(fix.code, 0, "{fix:?}");
    let summary = &fix.json()["summary"];
    assert_eq!(summary["fixed"], summary["with_findings"], "{summary}");
    assert!(
        fix.stderr
            .contains("the bucket is in another region; switching region=eu-west-1"),
        "{}",
        fix.stderr
    );
    let stats = env.lab.stats();
    assert_eq!(stats.fault_count("HEAD", "WrongRegion"), 2, "{stats:?}");
    assert_eq!(
        stats.total_faults(),
        2,
        "nothing else was misdirected: {stats:?}"
    );

    let rescan = env
        .s3mend(&["scan", &target, "--region", "us-west-2"])
        .await;
    assert_eq!(rescan.code, 0, "{rescan:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_region_the_server_does_not_name_is_a_one_line_error() {
    let env = lab_in("eu-west-1", WrongRegion::RedirectWithoutRegion).await;
    env.put("a.html", "text/html", None);
    let run = env
        .s3mend(&["scan", &format!("s3://{BUCKET}/"), "--region", "us-west-2"])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    one_line_error(
        &run.stderr,
        &format!(
            "bucket '{BUCKET}' at {} is not in region us-west-2 (the server answered 301 PermanentRedirect): pass --region with the bucket's region",
            env.lab.endpoint()
        ),
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(env.lab.stats().total(), 0, "only the HeadBucket was sent");

    let right = env
        .s3mend(&["scan", &format!("s3://{BUCKET}/"), "--region", "eu-west-1"])
        .await;
    assert_eq!(right.code, 0, "{right:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_endpoint_that_answers_is_taken_at_its_word() {
    // The default lab accepts any region and names us-east-1 on success: no switch.
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", None);
    let run = env
        .s3mend(&[
            "scan",
            &format!("s3://{BUCKET}/"),
            "--region",
            "us-west-2",
            "-v",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("switching"), "{}", run.stderr);
}

/// Three clean objects; the first HeadObject of b.html stalls far longer than the attempt timeout.
async fn stalled_env() -> TestEnv {
    let env = TestEnv::new().await;
    for key in ["a.html", "b.html", "c.html"] {
        env.put(key, "text/html", None);
    }
    env.lab
        .stall_next("HeadObject", "b.html", 1, Duration::from_secs(60));
    env
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_attempt_times_out_and_is_retried() {
    let env = stalled_env().await;
    let run = env
        .s3mend(&[
            "scan",
            &format!("s3://{BUCKET}/"),
            "--attempt-timeout",
            "1s",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let summary = &run.json()["summary"];
    assert_eq!(summary["listed"], 3, "{summary}");
    assert_eq!(summary["clean"], 3, "{summary}");
    assert_eq!(summary["errors"], 0, "{summary}");
    assert!(
        summary["requests"]["failed_attempts"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    let stats = env.lab.stats();
    assert_eq!(stats.fault_count("HeadObject", "StallNext"), 1, "{stats:?}");
    assert_eq!(stats.count("HeadObject"), 4, "b.html twice: {stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_attempt_without_retries_is_an_error_row() {
    let env = stalled_env().await;
    let run = env
        .s3mend(&[
            "scan",
            &format!("s3://{BUCKET}/"),
            "--attempt-timeout",
            "1s",
            "--max-attempts",
            "1",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    let report = run.json();
    let summary = &report["summary"];
    assert_eq!(summary["listed"], 3, "{summary}");
    assert_eq!(summary["clean"], 2, "{summary}");
    assert_eq!(summary["errors"], 1, "{summary}");
    assert_eq!(summary["complete"], true, "{summary}");
    let stalled = row(&report, "b.html");
    assert_eq!(stalled["status"], "error");
    assert_eq!(stalled["error"]["code"], "Timeout", "{stalled}");
}

#[tokio::test(flavor = "multi_thread")]
async fn attempt_timeouts_out_of_range_are_usage_errors() {
    let env = TestEnv::new().await;
    for (value, needle) in [
        ("50ms", "out of range"),
        ("2h", "out of range"),
        ("soon", "not a duration"),
    ] {
        let run = env
            .s3mend(&[
                "scan",
                &format!("s3://{BUCKET}/"),
                "--attempt-timeout",
                value,
            ])
            .await;
        assert_eq!(run.code, 2, "{value}: {run:?}");
        assert!(run.stderr.contains("--attempt-timeout"), "{}", run.stderr);
        assert!(run.stderr.contains(needle), "{}", run.stderr);
    }
    assert_eq!(env.lab.stats().total(), 0);
}
