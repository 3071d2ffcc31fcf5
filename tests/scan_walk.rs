//! Walking: pagination, prefixes and globs, awkward keys, connection reuse, progress, Ctrl-C.

use std::collections::BTreeSet;

use s3mend_lab::LabConfig;

use crate::harness::{awkward_keys, proposals, TestEnv, BUCKET};

#[tokio::test(flavor = "multi_thread")]
async fn more_than_one_page_of_keys_is_walked_completely() {
    let env = TestEnv::new().await;
    let mut bad = BTreeSet::new();
    for i in 0..2500 {
        let key = format!("page/{i:05}.html");
        if i % 7 == 0 {
            env.put(&key, "text/html", Some("UTF-8"));
            bad.insert(key);
        } else {
            env.put(&key, "text/html", None);
        }
    }
    let run = env
        .s3mend(&["scan", &format!("s3://{BUCKET}/"), "--format", "json"])
        .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["summary"]["listed"], 2500);
    assert_eq!(report["summary"]["clean"], 2500 - bad.len());
    let found: BTreeSet<String> = proposals(report["objects"].as_array().unwrap())
        .into_keys()
        .collect();
    assert_eq!(found, bad);
    assert!(
        env.lab.stats().count("ListObjectsV2") >= 3,
        "three pages of 1000"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prefix_include_and_exclude_select_keys() {
    let env = TestEnv::new().await;
    for key in [
        "site/index.html",
        "site/about.html",
        "site/css/a.css",
        "site/drafts/wip.html",
        "other/index.html",
    ] {
        env.put(key, "text/html", Some("UTF-8"));
    }
    let target = format!("s3://{BUCKET}/site/");
    let scan_keys = |filters: &'static [&'static str]| {
        let env = &env;
        let target = target.clone();
        async move {
            let mut args = vec!["scan", target.as_str(), "--format", "json"];
            args.extend_from_slice(filters);
            let report = env.s3mend(&args).await.json();
            let keys: Vec<String> = proposals(report["objects"].as_array().unwrap())
                .into_keys()
                .collect();
            (keys, report["summary"]["listed"].as_u64().unwrap())
        }
    };
    assert_eq!(
        scan_keys(&[]).await,
        (
            vec![
                "site/about.html".to_owned(),
                "site/css/a.css".to_owned(),
                "site/drafts/wip.html".to_owned(),
                "site/index.html".to_owned()
            ],
            4
        )
    );
    assert_eq!(
        scan_keys(&["--include", "*.html", "--exclude", "*/drafts/*"]).await,
        (
            vec!["site/about.html".to_owned(), "site/index.html".to_owned()],
            2
        )
    );
    let two = scan_keys(&["--include", "*.css", "--include", "*/index.*"]).await;
    assert_eq!(two.0, ["site/css/a.css", "site/index.html"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn awkward_keys_are_listed_and_inspected_exactly() {
    let env = TestEnv::new().await;
    let keys = awkward_keys();
    for key in &keys {
        env.put(key, "text/html", Some("UTF-8"));
    }
    let run = env
        .s3mend(&["scan", &format!("s3://{BUCKET}"), "--format", "json"])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["errors"], 0, "{report}");
    let found: BTreeSet<String> = proposals(report["objects"].as_array().unwrap())
        .into_keys()
        .collect();
    assert_eq!(found, keys.into_iter().collect());
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_are_reused_across_requests() {
    let env = TestEnv::new().await;
    for i in 0..600 {
        env.put(&format!("k{i:04}.html"), "text/html", None);
    }
    env.lab.reset_stats();
    let run = env
        .s3mend(&["scan", &format!("s3://{BUCKET}/"), "--concurrency", "8"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let stats = env.lab.stats();
    assert_eq!(stats.count("HeadObject"), 600);
    assert!(
        stats.connections <= 8 + 4,
        "{} connections for {} requests",
        stats.connections,
        stats.total()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_is_hidden_when_stderr_is_not_a_terminal() {
    let env = TestEnv::new().await;
    for i in 0..50 {
        env.put(&format!("k{i}.html"), "text/html", Some("UTF-8"));
    }
    let run = env.s3mend(&["scan", &format!("s3://{BUCKET}/")]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.is_empty(),
        "nothing on a piped stderr: {:?}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_writes_a_partial_report_and_exits_130() {
    interrupted_by("INT", 130).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_writes_a_partial_report_and_exits_143() {
    interrupted_by("TERM", 143).await;
}

async fn interrupted_by(signal: &str, code: i32) {
    let env = TestEnv::with_config(LabConfig {
        latency: std::time::Duration::from_millis(20),
        ..LabConfig::default()
    })
    .await;
    for i in 0..3000 {
        env.put(&format!("k{i:05}.html"), "text/html", Some("UTF-8"));
    }
    let child = env.spawn(
        &[
            "scan",
            &format!("s3://{BUCKET}/"),
            "--format",
            "json",
            "--concurrency",
            "4",
        ],
        &[],
    );
    // Let it get going: a few hundred HEADs, far from the 3000 it would need.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while env.lab.stats().count("HeadObject") < 40 {
        assert!(std::time::Instant::now() < deadline, "scan never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(code));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = &report["summary"];
    assert_eq!(summary["complete"], false);
    assert_eq!(summary["stopped"], "interrupted");
    let listed = summary["listed"].as_u64().unwrap();
    assert!(listed > 0 && listed < 3000, "{summary}");
    assert_eq!(
        listed,
        summary["clean"].as_u64().unwrap()
            + summary["with_findings"].as_u64().unwrap()
            + summary["errors"].as_u64().unwrap()
    );
    assert_eq!(report["objects"].as_array().unwrap().len() as u64, listed);
}
