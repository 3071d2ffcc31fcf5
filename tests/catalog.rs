//! `--catalog`: a nightly run over an unchanged bucket sends only LISTs; what changed is HEADed,
//! exactly; the catalog is replaced only by a complete run, and never used for another bucket.

use std::path::Path;

use s3mend_lab::ObjectSeed;

use crate::harness::{TestEnv, BUCKET};

fn key(i: usize) -> String {
    format!("site/page-{i:05}.html")
}

fn seed(env: &TestEnv, i: usize, encoding: Option<&str>) {
    env.lab.put_object(
        BUCKET,
        &key(i),
        ObjectSeed {
            body: bytes::Bytes::from(format!("<p>{i}</p>")),
            content_type: Some("text/html".into()),
            content_encoding: encoding.map(str::to_owned),
            ..ObjectSeed::default()
        },
    );
}

async fn scan(env: &TestEnv, catalog: &Path, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec![
        "scan",
        "s3://test-bucket/",
        "--format",
        "json",
        "--catalog",
        catalog.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    env.s3mend(&args).await
}

/// The findings of a report, as (key, rule, proposed) sorted.
fn findings(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| {
            o["findings"].as_array().unwrap().iter().map(move |f| {
                (
                    o["key"].as_str().unwrap().to_owned(),
                    f["rule"].as_str().unwrap().to_owned(),
                    f["proposed"].to_string(),
                )
            })
        })
        .collect();
    all.sort();
    all
}

/// 2,500 objects (three listing pages); the second run changes, inserts and deletes objects on
/// both sides of both page boundaries, and HEADs exactly those it changed or inserted.
#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_bucket_costs_only_lists_and_changes_are_headed_exactly() {
    let env = TestEnv::new().await;
    for i in 0..2500 {
        seed(&env, i, (i % 7 == 0).then_some("UTF-8"));
    }
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("site.catalog.jsonl.gz");
    let first = scan(&env, &catalog, &[]).await;
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert_eq!(env.lab.stats().count("HeadObject"), 2500);
    let first = first.json();
    assert_eq!(first["summary"]["from_catalog"], 0);

    env.lab.reset_stats();
    let second = scan(&env, &catalog, &[]).await;
    assert_eq!(second.code, 1, "{}", second.stderr);
    let stats = env.lab.stats();
    assert_eq!(stats.count("HeadObject"), 0, "{stats:?}");
    assert_eq!(stats.count("ListObjectsV2"), 3);
    assert_eq!(stats.total(), 3 + 1, "three pages and the bucket check");
    let second = second.json();
    assert_eq!(second["summary"]["from_catalog"], 2500);
    assert_eq!(second["summary"]["inspected"], 2500);
    assert_eq!(findings(&second), findings(&first));

    // Around both page boundaries (keys 999/1000 and 1999/2000): changed, inserted, deleted.
    let changed = [998, 999, 1000, 1001, 1999, 2000];
    for &i in &changed {
        seed(&env, i, Some("ANSI_X3.4-1968"));
    }
    for i in [997, 2001] {
        env.lab.delete_object(BUCKET, &key(i));
    }
    let inserted = ["site/page-00999a.html", "site/page-01999a.html"];
    for k in inserted {
        env.lab.put_object(
            BUCKET,
            k,
            ObjectSeed {
                body: bytes::Bytes::from_static(b"<p>new</p>"),
                content_type: Some("text/html".into()),
                ..ObjectSeed::default()
            },
        );
    }
    env.lab.reset_stats();
    let third = scan(&env, &catalog, &[]).await;
    assert_eq!(third.code, 1, "{}", third.stderr);
    assert_eq!(env.lab.stats().count("HeadObject"), 6 + 2);
    let third = third.json();
    assert_eq!(third["summary"]["listed"], 2500 - 2 + 2);
    assert_eq!(third["summary"]["from_catalog"], 2500 - 2 - 6);
    for &i in &changed {
        let row = crate::harness::row(&third, &key(i));
        assert_eq!(row["findings"][0]["current"], "ANSI_X3.4-1968", "{row}");
    }
    // And the catalog now holds the new state: the next run HEADs nothing.
    env.lab.reset_stats();
    let fourth = scan(&env, &catalog, &[]).await;
    assert_eq!(env.lab.stats().count("HeadObject"), 0);
    assert_eq!(findings(&fourth.json()), findings(&third));
}

/// A policy changed between runs applies to the catalog's snapshots: the findings change, with
/// no HEAD; so do keys that need quoting, and keys of 1,024 bytes (S3's longest).
#[tokio::test(flavor = "multi_thread")]
async fn a_changed_policy_applies_without_heads() {
    let env = TestEnv::new().await;
    // S3's longest key: 1,024 bytes.
    let long = format!("{}x.html", "ü".repeat(509));
    assert_eq!(long.len(), 1024);
    let keys = ["a.html", "日本/ß \"q\".html", long.as_str()];
    for k in keys {
        env.put(k, "text/html", None);
    }
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("c.jsonl.gz");
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "[[match]]\nkeys = [\"**\"]\n").unwrap();
    let policy_arg = policy.to_str().unwrap();
    let first = scan(&env, &catalog, &["--policy", policy_arg]).await;
    assert_eq!(first.code, 0, "{first:?}");
    std::fs::write(
        &policy,
        "[[match]]\nkeys = [\"**\"]\ncache-control = \"max-age=60\"\n",
    )
    .unwrap();
    env.lab.reset_stats();
    let second = scan(&env, &catalog, &["--policy", policy_arg]).await;
    assert_eq!(second.code, 1, "{second:?}");
    assert_eq!(env.lab.stats().count("HeadObject"), 0);
    let report = second.json();
    assert_eq!(report["summary"]["from_catalog"], 3);
    let found: Vec<_> = findings(&report)
        .into_iter()
        .map(|(k, r, _)| (k, r))
        .collect();
    let mut expected: Vec<_> = keys
        .iter()
        .map(|k| (k.to_string(), "policy".to_owned()))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

/// The catalog is written only by a complete run: a failed listing leaves the old one as it
/// was; a catalog for another bucket is refused before any request; a damaged one is an error
/// until `--catalog-reset`.
#[tokio::test(flavor = "multi_thread")]
async fn only_a_complete_run_replaces_the_catalog_and_no_other_bucket_uses_it() {
    let env = TestEnv::new().await;
    for i in 0..20 {
        seed(&env, i, None);
    }
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("c.jsonl.gz");
    assert_eq!(scan(&env, &catalog, &[]).await.code, 0);
    let before = std::fs::read(&catalog).unwrap();

    seed(&env, 5, Some("UTF-8"));
    env.lab
        .damage_listings(s3mend_lab::ListingDamage::WrongKeyCount, 10);
    let failed = scan(&env, &catalog, &["--max-attempts", "1"]).await;
    assert_eq!(failed.code, 2, "{failed:?}");
    assert_eq!(std::fs::read(&catalog).unwrap(), before, "kept as it was");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
    env.lab
        .damage_listings(s3mend_lab::ListingDamage::WrongKeyCount, 0);

    env.lab.create_bucket("other-bucket");
    env.lab.reset_stats();
    let other = env
        .s3mend(&[
            "scan",
            "s3://other-bucket/",
            "--catalog",
            catalog.to_str().unwrap(),
        ])
        .await;
    assert_eq!(other.code, 2, "{other:?}");
    crate::scan_errors::one_line_error(
        &other.stderr,
        "cannot be used: it is for s3://test-bucket/ at",
    );
    assert_eq!(env.lab.stats().total(), 0);

    std::fs::write(&catalog, &before[..before.len() / 2]).unwrap();
    let damaged = scan(&env, &catalog, &[]).await;
    assert_eq!(damaged.code, 2, "{damaged:?}");
    assert!(damaged.stderr.contains("--catalog-reset"), "{damaged:?}");
    let reset = scan(&env, &catalog, &["--catalog-reset"]).await;
    assert_eq!(reset.code, 1, "{reset:?}");
    assert_eq!(reset.json()["summary"]["from_catalog"], 0);
    env.lab.reset_stats();
    scan(&env, &catalog, &[]).await;
    assert_eq!(env.lab.stats().count("HeadObject"), 0);
}

/// A fix never writes from the catalog: an object it serves with a finding is HEADed again
/// before its copy (which stays conditional on that HEAD's ETag); a repaired object is left out
/// of the catalog, HEADed once by the next run, and then served from it.
#[tokio::test(flavor = "multi_thread")]
async fn a_fix_heads_again_what_the_catalog_serves_before_writing() {
    let env = TestEnv::new().await;
    for i in 0..10 {
        seed(&env, i, None);
    }
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("c.jsonl.gz");
    assert_eq!(scan(&env, &catalog, &[]).await.code, 0);

    // A policy turns two objects bad without changing them: served from the catalog, HEADed
    // again before the copy.
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[[match]]\nkeys = [\"site/page-0000[12].html\"]\ncache-control = \"no-cache\"\n",
    )
    .unwrap();
    env.lab.reset_stats();
    let fix = |journal: &str| {
        let journal = dir.path().join(journal);
        let catalog = catalog.clone();
        let policy = policy.clone();
        let env = &env;
        async move {
            env.s3mend(&[
                "fix",
                "s3://test-bucket/",
                "--yes",
                "--format",
                "json",
                "--journal",
                journal.to_str().unwrap(),
                "--catalog",
                catalog.to_str().unwrap(),
                "--policy",
                policy.to_str().unwrap(),
            ])
            .await
        }
    };
    let run = fix("j1.jsonl").await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["from_catalog"], 10);
    assert_eq!(report["summary"]["fixed"], 2);
    // Two HEADs before the copies, two to verify them.
    assert_eq!(env.lab.stats().count("HeadObject"), 4);
    for i in [1, 2] {
        let object = env.lab.object(BUCKET, &key(i)).unwrap();
        assert_eq!(object.cache_control.as_deref(), Some("no-cache"));
    }

    env.lab.reset_stats();
    let run = fix("j2.jsonl").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["summary"]["from_catalog"], 8);
    assert_eq!(env.lab.stats().count("HeadObject"), 2, "the two repaired");
    assert_eq!(env.lab.stats().count("CopyObject"), 0);
    env.lab.reset_stats();
    let run = fix("j3.jsonl").await;
    assert_eq!(run.json()["summary"]["from_catalog"], 10);
    assert_eq!(env.lab.stats().count("HeadObject"), 0);
}

/// With a catalog the listing is fetched in key ranges cut at the catalog's keys, several at
/// once: every key is listed exactly once even when the cut keys themselves are deleted and new
/// keys appear on both sides of them.
#[tokio::test(flavor = "multi_thread")]
async fn ranges_cut_at_the_catalogs_keys_list_every_key_once() {
    let env = TestEnv::new().await;
    let mut expected = std::collections::BTreeSet::new();
    for i in 0..4500 {
        seed(&env, i, Some("UTF-8"));
        expected.insert(key(i));
    }
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("c.jsonl.gz");
    assert_eq!(scan(&env, &catalog, &[]).await.code, 1);
    // The catalog's every 1,000th key cuts the ranges: delete those, and their neighbours,
    // and add keys around them.
    for i in [998, 999, 1000, 1999, 2999, 3000, 3999] {
        env.lab.delete_object(BUCKET, &key(i));
        expected.remove(&key(i));
    }
    for i in [999, 1999, 2999, 3999, 4499] {
        for suffix in ["", "a", "~"] {
            let k = format!("site/page-{i:05}{suffix}.html{suffix}");
            env.put(&k, "text/html", Some("UTF-8"));
            expected.insert(k);
        }
    }
    let run = scan(&env, &catalog, &[]).await;
    assert_eq!(
        run.code,
        1,
        "{} {:?}",
        run.stderr,
        run.stdout
            .lines()
            .filter(|l| !l.contains("\"finding\""))
            .collect::<Vec<_>>()
    );
    let report = run.json();
    let listed: Vec<String> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_owned())
        .collect();
    let unique: std::collections::BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "no key listed twice");
    assert_eq!(unique, expected);
    assert_eq!(report["summary"]["listed"], expected.len());
    assert_eq!(report["summary"]["complete"], true);
}
