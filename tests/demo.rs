//! `s3mend demo`: the first command of the README.

use crate::harness::{expected_fixture_proposals, proposals, s3mend_command};

#[tokio::test(flavor = "multi_thread")]
async fn demo_scans_the_fixture_site() {
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
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = expected_fixture_proposals();
    assert_eq!(proposals(report["objects"].as_array().unwrap()), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_prints_a_table_by_default() {
    let out = s3mend_command().arg("demo").output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("s3mend scan s3://fieldnotes-site/"),
        "{stdout}"
    );
    assert!(stdout.contains("content-encoding — "), "{stdout}");
    assert!(stdout.contains("ANSI_X3.4-1968  →  (remove)"), "{stdout}");
}
