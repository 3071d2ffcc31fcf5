//! The AWS CLI's conventions: `--request-payer` and `--expected-bucket-owner` on every request
//! that takes them (as the lab received them, signed), and retry settings from the flag, the
//! environment or the profile.

use std::collections::BTreeSet;

use s3mend_lab::{Arrival, LAB_ACCOUNT_ID};

use crate::fix::everything;
use crate::harness::{expected_fixture_proposals, fix, proposals, row, TestEnv, BUCKET};
use crate::scan_errors::one_line_error;

/// Operations that take x-amz-request-payer (the S3 API reference); all but ListBuckets take
/// x-amz-expected-bucket-owner.
const TAKE_PAYER: &[&str] = &[
    "AbortMultipartUpload",
    "CompleteMultipartUpload",
    "CopyObject",
    "CreateMultipartUpload",
    "DeleteObject",
    "GetObject",
    "GetObjectAcl",
    "GetObjectTagging",
    "HeadObject",
    "ListObjectVersions",
    "ListObjectsV2",
    "PutObjectAcl",
    "UploadPartCopy",
];

const CONVENTIONS: [&str; 4] = [
    "--request-payer",
    "requester",
    "--expected-bucket-owner",
    LAB_ACCOUNT_ID,
];

/// Every request carried, and signed, the headers its operation takes; the operations seen.
fn every_request_carried_the_conventions(arrivals: &[Arrival]) -> BTreeSet<String> {
    assert!(!arrivals.is_empty());
    for a in arrivals {
        let op = a.operation.as_str();
        if op == "ListBuckets" {
            assert!(!a.amz_headers.contains_key("x-amz-expected-bucket-owner"));
            continue;
        }
        let what = format!("{op} {:?}: {:?}", a.key, a.amz_headers);
        assert_eq!(
            a.signed("x-amz-expected-bucket-owner"),
            Some(LAB_ACCOUNT_ID),
            "{what}"
        );
        let payer = TAKE_PAYER.contains(&op).then_some("requester");
        assert_eq!(a.signed("x-amz-request-payer"), payer, "{what}");
        let copy = matches!(op, "CopyObject" | "UploadPartCopy").then_some(LAB_ACCOUNT_ID);
        assert_eq!(
            a.signed("x-amz-source-expected-bucket-owner"),
            copy,
            "{what}"
        );
    }
    arrivals.iter().map(|a| a.operation.clone()).collect()
}

fn ops(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_sends_the_payer_and_the_owner_on_every_request_the_fast_heads_included() {
    let env = TestEnv::new().await;
    let manifest = s3mend::demo::manifest().unwrap();
    s3mend::demo::seed(&env.lab, &manifest).unwrap();
    env.lab.record_arrivals(true);
    let target = format!("s3://{}/", manifest.bucket);
    // One HEAD at a time: the first goes through the SDK, the others around it.
    let mut args = vec!["scan", &target, "--format", "json", "--concurrency", "1"];
    args.extend(CONVENTIONS);
    args.push("-vv");
    let run = env.s3mend(&args).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        proposals(run.json()["objects"].as_array().unwrap()),
        expected_fixture_proposals()
    );
    assert!(
        run.stderr.contains("HEADs go around the SDK's pipeline"),
        "the fast path was used: {}",
        run.stderr
    );
    let arrivals = env.lab.take_arrivals();
    let seen = every_request_carried_the_conventions(&arrivals);
    assert!(
        seen.is_superset(&ops(&[
            "HeadBucket",
            "ListObjectsV2",
            "HeadObject",
            "GetObject"
        ])),
        "{seen:?}"
    );
    let heads = arrivals
        .iter()
        .filter(|a| a.operation == "HeadObject")
        .count();
    assert!(heads > 2, "{heads}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fix_sends_them_on_every_request_copies_and_multipart_uploads_included() {
    let env = TestEnv::new().await;
    env.lab.set_versioning(BUCKET, true);
    env.put("page.html", "text/html", Some("gzip, UTF-8"));
    // Over the 1 KiB threshold: a multipart copy (5 MiB and 1 MiB parts), tags read first.
    let mut big = vec![0x1f, 0x8b];
    big.resize(6 << 20, 7u8);
    let big: &'static [u8] = Box::leak(big.into_boxed_slice());
    env.lab.put_object(BUCKET, "big.js", everything(big));
    env.lab.put_object(BUCKET, "fails.js", everything(big));
    // Every part copy of fails.js fails: its upload is aborted.
    env.lab.fail_next("UploadPartCopy", "fails.js", 100);
    env.lab.record_arrivals(true);
    let dir = tempfile::tempdir().unwrap();
    let mut extra = vec!["--multipart-threshold", "1KiB", "--max-attempts", "2"];
    extra.extend(CONVENTIONS);
    let run = fix(&env, &dir.path().join("j.jsonl"), &extra).await;
    assert_eq!(run.code, 2, "fails.js could not be repaired: {run:?}");
    let report = run.json();
    assert_eq!(row(&report, "page.html")["status"], "fixed", "{report}");
    assert_eq!(row(&report, "big.js")["status"], "fixed", "{report}");
    assert_eq!(env.lab.open_multipart_uploads(BUCKET), 0);
    let seen = every_request_carried_the_conventions(&env.lab.take_arrivals());
    let expected = ops(&[
        "HeadBucket",
        "ListObjectsV2",
        "HeadObject",
        "GetObjectAcl",
        "GetObjectTagging",
        "CopyObject",
        "ListObjectVersions",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    ]);
    assert!(seen.is_superset(&expected), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_another_account_owns_is_a_one_line_error() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", None);
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "--expected-bucket-owner",
            "999988887777",
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    one_line_error(
        &run.stderr,
        &format!(
            "bucket 'test-bucket' at {} is not owned by account 999988887777 (--expected-bucket-owner)",
            env.lab.endpoint()
        ),
    );
    let stats = env.lab.stats();
    assert_eq!(stats.total(), stats.count("HeadBucket"), "{stats:?}");

    let malformed = env
        .s3mend(&["scan", "s3://test-bucket/", "--expected-bucket-owner", "me"])
        .await;
    assert_eq!(malformed.code, 2, "{malformed:?}");
    assert!(
        malformed
            .stderr
            .contains("'me' is not an AWS account id (12 digits"),
        "{}",
        malformed.stderr
    );
}

/// The retry settings the `-v` start line shows.
async fn resolved_retry(env: &TestEnv, flags: &[&str], vars: &[(&str, &str)]) -> String {
    let mut args = vec!["scan", "s3://test-bucket/", "-v"];
    args.extend_from_slice(flags);
    let run = env.s3mend_with(&args, vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    let start = run
        .stderr
        .lines()
        .find(|l| l.contains(" start "))
        .unwrap_or_else(|| panic!("no start line: {}", run.stderr));
    let field = |name: &str| {
        start
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {start}"))
            .trim_matches('"')
            .to_owned()
    };
    format!("{} {}", field("max_attempts"), field("retry_mode"))
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_settings_come_from_the_flag_else_the_environment_else_the_profile() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", None);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile patient]\nmax_attempts = 4\nretry_mode = adaptive\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let profile = ["--profile", "patient"];
    let with_file = [("AWS_CONFIG_FILE", config)];
    for (flags, vars, expected) in [
        (&[][..], &[][..], "10 standard"),
        (
            &[],
            &[("AWS_MAX_ATTEMPTS", "3"), ("AWS_RETRY_MODE", "adaptive")][..],
            "3 adaptive",
        ),
        (
            &["--max-attempts", "5", "--retry-mode", "standard"][..],
            &[("AWS_MAX_ATTEMPTS", "3"), ("AWS_RETRY_MODE", "adaptive")][..],
            "5 standard",
        ),
        (&profile[..], &with_file[..], "4 adaptive"),
        (
            &profile[..],
            &[("AWS_CONFIG_FILE", config), ("AWS_MAX_ATTEMPTS", "2")][..],
            "2 adaptive",
        ),
        (
            &["--profile", "patient", "--retry-mode", "standard"][..],
            &with_file[..],
            "4 standard",
        ),
        (
            &[][..],
            &[("AWS_CONFIG_FILE", config), ("AWS_PROFILE", "patient")][..],
            "4 adaptive",
        ),
    ] {
        let got = resolved_retry(&env, flags, vars).await;
        assert_eq!(got, expected, "{flags:?} {vars:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_max_attempts_is_what_a_failing_request_gets() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", None);
    env.lab.fail_next("HeadObject", "a.html", 1);
    let once = env
        .s3mend_with(
            &["scan", "s3://test-bucket/", "--format", "json"],
            &[("AWS_MAX_ATTEMPTS", "1")],
        )
        .await;
    assert_eq!(once.code, 2, "one attempt, and it failed: {once:?}");
    assert_eq!(row(&once.json(), "a.html")["status"], "error");

    env.lab.fail_next("HeadObject", "a.html", 1);
    let default = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "json"])
        .await;
    assert_eq!(default.code, 0, "retried: {default:?}");
    assert_eq!(env.lab.stats().count("HeadObject"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_retry_setting_in_the_environment_or_profile_is_a_one_line_error() {
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[default]\nretry_mode = eager\n").unwrap();
    for (vars, message) in [
        (
            vec![("AWS_MAX_ATTEMPTS", "0")],
            "AWS_MAX_ATTEMPTS is '0': it must be a number of attempts from 1 to 100",
        ),
        (
            vec![("AWS_CONFIG_FILE", config.to_str().unwrap())],
            "the profile's retry_mode is 'eager': it must be standard or adaptive",
        ),
    ] {
        let run = env.s3mend_with(&["scan", "s3://test-bucket/"], &vars).await;
        assert_eq!(run.code, 2, "{run:?}");
        one_line_error(&run.stderr, message);
    }
    assert_eq!(env.lab.stats().total(), 0);
}
