//! `s3mend demo`: the first command of the README.

use crate::harness::{expected_fixture_proposals, proposals, s3mend_command};

#[tokio::test(flavor = "multi_thread")]
async fn demo_scans_fixes_and_scans_again() {
    let out = s3mend_command()
        .args(["demo", "--format", "json"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        reports.len(),
        6,
        "scan, fix, scan; then the same with the policy"
    );
    let expected = expected_fixture_proposals();
    assert_eq!(
        proposals(reports[0]["objects"].as_array().unwrap()),
        expected
    );
    assert_eq!(reports[1]["summary"]["fixed"], expected.len());
    assert_eq!(reports[2]["summary"]["with_findings"], 0);
    assert_eq!(
        reports[2]["summary"]["clean"],
        reports[0]["summary"]["listed"]
    );
    // With fixtures/s3mend.toml (tests/policy.rs checks each of its findings).
    let with_policy = &reports[3]["summary"]["with_findings"];
    assert!(with_policy.as_u64().unwrap() > 0, "{}", reports[3]);
    assert_eq!(&reports[4]["summary"]["fixed"], with_policy);
    assert_eq!(reports[5]["summary"]["with_findings"], 0);
    for report in &reports[3..] {
        assert!(report["summary"]["notes"]
            .to_string()
            .contains("policy: fixtures/s3mend.toml"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_prints_tables_and_one_object_before_and_after() {
    let out = s3mend_command().arg("demo").output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("s3mend scan s3://fieldnotes-site/"),
        "{stdout}"
    );
    assert!(stdout.contains("content-encoding — "), "{stdout}");
    assert!(stdout.contains("ANSI_X3.4-1968  →  (remove)"), "{stdout}");
    assert!(stdout.contains("Every finding repaired"), "{stdout}");
    assert!(stdout.contains("No findings."), "{stdout}");
    assert!(stdout.contains("policy: Cache-Control — "), "{stdout}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("ERROR"),
        "the lab answers every request the demo sends"
    );
    let changed: Vec<&str> = stdout.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(changed.len(), 1, "only Content-Encoding changes: {stdout}");
    assert!(changed[0].contains("gzip, UTF-8") && changed[0].trim_end().ends_with("gzip"));
}
