//! Under the faults S3 really produces, every object is accounted for and nothing is lost.

use std::collections::BTreeMap;

use s3mend_lab::{FaultRates, Faults, LabConfig, ObjectSeed, StoredObject};

use crate::harness::{fix, TestEnv, BUCKET};

const OBJECTS: usize = 5000;

fn fault_mix() -> Faults {
    Faults::seeded(7).on_each(
        &["HeadObject", "CopyObject"],
        FaultRates {
            slow_down: 0.10,
            internal_error: 0.02,
            reset: 0.01,
            ..FaultRates::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_and_fix_account_for_every_object_under_faults() {
    let env = TestEnv::with_config(LabConfig::default()).await;
    let mut before: BTreeMap<String, StoredObject> = BTreeMap::new();
    for i in 0..OBJECTS {
        let key = format!("site/{:02}/page-{i:05}.html", i % 50);
        let bad = i % 4 == 0;
        let object = env.lab.put_object(
            BUCKET,
            &key,
            ObjectSeed {
                body: bytes::Bytes::from(format!("<p>{i}</p>")),
                content_type: Some("text/html".into()),
                content_encoding: bad.then(|| "UTF-8".into()),
                cache_control: Some(format!("max-age={i}")),
                metadata: [("s3cmd-attrs".to_owned(), format!("md5:{i}"))].into(),
                storage_class: (i % 3 == 0).then(|| "STANDARD_IA".into()),
                acl: Some("public-read".into()),
                ..ObjectSeed::default()
            },
        );
        before.insert(key, object);
    }
    env.lab.set_faults(fault_mix());

    let scan = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "json"])
        .await;
    assert_eq!(
        scan.code, 1,
        "every HEAD got through its retries: {}",
        scan.stderr
    );
    let summary = &scan.json()["summary"];
    assert_eq!(summary["listed"], OBJECTS);
    assert_eq!(summary["errors"], 0, "{summary}");
    assert_eq!(summary["with_findings"], OBJECTS / 4);
    let scan_requests = summary["requests"].clone();

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let fix = fix(&env, &journal, &[]).await;
    let report = fix.json();
    let summary = &report["summary"];
    assert_eq!(fix.code, 0, "{summary}");
    assert_eq!(summary["listed"], OBJECTS);
    assert_eq!(summary["fixed"], OBJECTS / 4, "{summary}");
    assert_eq!(summary["failed"], 0);
    let stats = env.lab.stats();
    println!(
        "faults injected: {:?}; scan requests {scan_requests}; fix requests {}",
        stats.faults, summary["requests"]
    );
    assert!(stats.total_faults() > 500, "{:?}", stats.faults);
    assert!(summary["requests"]["throttled"].as_u64().unwrap() > 0);

    // Field by field: only Content-Encoding changed, and only where it was wrong.
    for (key, old) in before {
        let new = env.lab.object(BUCKET, &key).unwrap();
        let expected = StoredObject {
            content_encoding: None,
            last_modified: new.last_modified,
            ..old
        };
        assert_eq!(new, expected, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fix_interrupted_under_faults_accounts_for_every_object() {
    let env = TestEnv::with_config(LabConfig {
        latency: std::time::Duration::from_millis(10),
        ..LabConfig::default()
    })
    .await;
    let mut before: BTreeMap<String, StoredObject> = BTreeMap::new();
    for i in 0..2000 {
        let key = format!("k{i:05}.html");
        let object = env.lab.put_object(
            BUCKET,
            &key,
            ObjectSeed {
                body: bytes::Bytes::from(format!("<p>{i}</p>")),
                content_type: Some("text/html".into()),
                content_encoding: (i % 2 == 0).then(|| "UTF-8".into()),
                ..ObjectSeed::default()
            },
        );
        before.insert(key, object);
    }
    env.lab.set_faults(fault_mix());
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let child = env.spawn(
        &[
            "fix",
            "s3://test-bucket/",
            "--yes",
            "--concurrency",
            "8",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
        ],
        &[],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while env.lab.stats().count("CopyObject") < 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "fix never started copying"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let pid = child.id().unwrap().to_string();
    let signal = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    assert!(signal.unwrap().success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = &report["summary"];
    let n = |field: &str| summary[field].as_u64().unwrap();
    assert_eq!(summary["stopped"], "interrupted");
    assert!(n("listed") < 2000, "{summary}");
    assert_eq!(
        n("listed"),
        n("clean") + n("with_findings") + n("unreadable") + n("errors"),
        "{summary}"
    );
    assert_eq!(
        n("with_findings"),
        n("fixed") + n("skipped") + n("conflicts") + n("failed"),
        "{summary}"
    );
    assert_eq!(
        report["objects"].as_array().unwrap().len() as u64,
        n("with_findings") + n("errors")
    );

    // Nothing changed without being reported: the lab's repaired objects are exactly the fixed
    // rows, and each of them is in the journal.
    let fixed: std::collections::BTreeSet<String> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["status"] == "fixed")
        .map(|row| row["key"].as_str().unwrap().to_owned())
        .collect();
    let changed: std::collections::BTreeSet<String> = before
        .iter()
        .filter(|(key, old)| env.lab.object(BUCKET, key).unwrap() != **old)
        .map(|(key, _)| key.clone())
        .collect();
    assert_eq!(changed, fixed);
    let journalled: std::collections::BTreeSet<String> = s3mend::journal::read(&journal)
        .unwrap()
        .into_iter()
        .filter(|e| e.status == Some(s3mend::journal::Status::Fixed))
        .map(|e| e.key)
        .collect();
    assert_eq!(journalled, fixed);
    println!(
        "interrupted under faults: {summary}; faults injected {:?}",
        env.lab.stats().faults
    );
}
