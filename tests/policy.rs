//! `--policy` on the fixture site: exactly the header differences, with the right proposals, in
//! every format; a fix applies them in one copy per object and loses nothing; a second scan is
//! clean and a second fix writes nothing.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fix::comparable;
use crate::harness::TestEnv;

const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/s3mend.toml");

/// key → ("rule header") → proposed value, as the reports give them.
type ByHeader = BTreeMap<String, BTreeMap<String, Option<String>>>;

/// One object's ("rule header", proposed value) pairs, written out.
type Findings = Vec<(&'static str, Option<&'static str>)>;

/// What a scan with the fixture policy and the default rules must report: the built-in rules'
/// Content-Encoding repairs (decided by each body's first bytes), the policy's headers, and the
/// built-in content-type proposals where the policy declares no Content-Type.
fn expected() -> ByHeader {
    let html = || {
        vec![
            ("content-encoding Content-Encoding", None),
            ("policy Content-Type", Some("text/html; charset=utf-8")),
            ("policy Cache-Control", Some("public, max-age=300")),
        ]
    };
    let immutable = Some("public, max-age=31536000, immutable");
    let plain_asset = vec![
        ("content-encoding Content-Encoding", None),
        ("policy Cache-Control", immutable),
    ];
    let cases: Vec<(&str, Findings)> = vec![
        ("index.html", html()),
        ("about.html", html()),
        ("old-about.html", html()),
        ("blog/index.html", html()),
        ("blog/2013/07/hello-world.html", html()),
        (
            "archive/2012.html",
            vec![
                ("content-encoding Content-Encoding", None),
                ("policy Cache-Control", Some("public, max-age=31536000")),
                ("policy Expires", Some("Tue, 01 Jan 2030 00:00:00 GMT")),
            ],
        ),
        ("css/site.css", plain_asset.clone()),
        ("js/app.js", plain_asset.clone()),
        (
            "js/analytics.js",
            vec![
                ("content-encoding Content-Encoding", Some("gzip")),
                ("policy Cache-Control", immutable),
            ],
        ),
        (
            "js/vendor.min.js",
            vec![("policy Cache-Control", immutable)],
        ),
        ("img/logo.svg", plain_asset.clone()),
        (
            "data/posts.json",
            vec![
                ("content-encoding Content-Encoding", None),
                ("policy Cache-Control", Some("no-cache")),
                ("policy Content-Disposition", Some("attachment")),
                ("policy x-amz-meta-team", Some("web")),
            ],
        ),
        (
            "robots.txt",
            vec![("content-encoding Content-Encoding", None)],
        ),
        ("img/photo.png", vec![("policy Cache-Control", immutable)]),
        (
            "js/legacy.js",
            vec![
                ("content-encoding Content-Encoding", Some("gzip")),
                ("policy Cache-Control", immutable),
            ],
        ),
        ("css/print.css", vec![("policy Content-Encoding", None)]),
        (
            "js/module.mjs",
            vec![
                (
                    "content-type Content-Type",
                    Some("application/javascript; charset=utf-8"),
                ),
                ("policy Cache-Control", immutable),
            ],
        ),
        (
            "js/app.wasm",
            vec![
                ("content-type Content-Type", Some("application/wasm")),
                ("policy Cache-Control", immutable),
            ],
        ),
    ];
    cases
        .into_iter()
        .map(|(key, findings)| {
            let findings = findings
                .into_iter()
                .map(|(what, proposed)| (what.to_owned(), proposed.map(str::to_owned)))
                .collect();
            (key.to_owned(), findings)
        })
        .collect()
}

fn by_header<'a>(rows: impl IntoIterator<Item = &'a Value>) -> ByHeader {
    let mut map = ByHeader::new();
    for row in rows {
        let key = row["key"].as_str().unwrap().to_owned();
        for finding in row["findings"].as_array().unwrap() {
            let what = format!(
                "{} {}",
                finding["rule"].as_str().unwrap(),
                finding["header"].as_str().unwrap()
            );
            let proposed = finding["proposed"].as_str().map(str::to_owned);
            map.entry(key.clone()).or_default().insert(what, proposed);
        }
    }
    map
}

async fn fixture_site() -> (TestEnv, String) {
    let env = TestEnv::new().await;
    let manifest = s3mend::demo::manifest().unwrap();
    s3mend::demo::seed(&env.lab, &manifest).unwrap();
    (env, format!("s3://{}/", manifest.bucket))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_scan_reports_exactly_the_differences_in_every_format() {
    let (env, target) = fixture_site().await;
    let expected = expected();
    let scan = |format: &'static str| {
        let args = ["scan", &target, "--policy", POLICY, "--format", format];
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env = &env;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            env.s3mend(&args).await
        }
    };
    let json = scan("json").await;
    assert_eq!(json.code, 1, "{json:?}");
    let report = json.json();
    assert_eq!(by_header(report["objects"].as_array().unwrap()), expected);
    assert_eq!(report["summary"]["with_findings"], expected.len());
    assert!(
        report["summary"]["notes"].to_string().contains("policy: "),
        "{}",
        report["summary"]
    );
    // The policy's Content-Type replaced the built-in rule's for about.html, and says so.
    let about = crate::harness::row(&report, "about.html");
    let content_type = about["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["header"] == "Content-Type")
        .unwrap();
    assert_eq!(content_type["rule"], "policy");
    assert_eq!(
        content_type["overrides"],
        serde_json::json!(["content-type"])
    );

    let jsonl = scan("jsonl").await;
    let lines = jsonl.jsonl();
    let (summary, rows) = lines.split_last().unwrap();
    assert_eq!(by_header(rows), expected);
    assert_eq!(summary["summary"], report["summary"]);

    let csv = scan("csv").await;
    let mut from_csv = ByHeader::new();
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    for record in reader.deserialize::<BTreeMap<String, String>>() {
        let record = record.unwrap();
        let proposed = Some(record["proposed"].clone()).filter(|p| !p.is_empty());
        from_csv
            .entry(record["key"].clone())
            .or_default()
            .insert(format!("{} {}", record["rule"], record["header"]), proposed);
    }
    assert_eq!(from_csv, expected);

    let table = scan("table").await;
    let cache_control = expected
        .values()
        .filter(|f| f.contains_key("policy Cache-Control"))
        .count();
    assert!(
        table
            .stdout
            .contains(&format!("policy: Cache-Control — {cache_control} objects")),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("policy: x-amz-meta-team — 1 object"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_fix_applies_everything_in_one_copy_per_object_and_loses_nothing() {
    let (env, target) = fixture_site().await;
    let manifest = s3mend::demo::manifest().unwrap();
    let before: BTreeMap<String, _> = manifest
        .objects
        .iter()
        .map(|o| {
            (
                o.key.clone(),
                env.lab.object(&manifest.bucket, &o.key).unwrap(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let fix = env
        .s3mend(&[
            "fix",
            &target,
            "--policy",
            POLICY,
            "--yes",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
        ])
        .await;
    assert_eq!(fix.code, 0, "{fix:?}");
    let expected = expected();
    let summary = &fix.json()["summary"];
    assert_eq!(summary["fixed"], expected.len(), "{summary}");
    assert_eq!(
        env.lab.stats().count("CopyObject"),
        expected.len() as u64 + 1,
        "one copy per object, and the source-condition probe"
    );

    for (key, old) in &before {
        let new = env.lab.object(&manifest.bucket, key).unwrap();
        let mut wanted = old.clone();
        for (what, proposed) in expected.get(key).into_iter().flatten() {
            let header = what.split_once(' ').unwrap().1;
            let slot = match header {
                "Content-Encoding" => &mut wanted.content_encoding,
                "Content-Type" => &mut wanted.content_type,
                "Cache-Control" => &mut wanted.cache_control,
                "Content-Disposition" => &mut wanted.content_disposition,
                "Expires" => &mut wanted.expires,
                "x-amz-meta-team" => {
                    wanted
                        .metadata
                        .insert("team".into(), proposed.clone().unwrap());
                    continue;
                }
                other => panic!("{other}"),
            };
            slot.clone_from(proposed);
        }
        // Only the time of writing may differ: bytes, ETag, ACL, class, redirect, metadata kept.
        assert_eq!(comparable(new), comparable(wanted), "{key}");
    }

    let rescan = env
        .s3mend(&["scan", &target, "--policy", POLICY, "--format", "json"])
        .await;
    assert_eq!(rescan.code, 0, "{rescan:?}");
    env.lab.reset_stats();
    let again = env
        .s3mend(&[
            "fix", &target, "--policy", POLICY, "--yes", "--format", "json",
        ])
        .await;
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["summary"]["fixed"], 0);
    assert_eq!(
        env.lab.stats().count("CopyObject"),
        0,
        "a second fix writes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_policy_is_refused_before_the_first_request() {
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[match]]\nkeys = [\"*.html\"]\ncache_control = \"no-cache\"\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    for args in [
        vec!["scan", "s3://test-bucket/", "--policy", path],
        vec!["fix", "s3://test-bucket/", "--policy", path, "--yes"],
        vec!["policy", "check", path],
    ] {
        let run = env.s3mend(&args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        let line = format!(
            "s3mend: error: {path}:3:1: unknown field 'cache_control' in [[match]]; did you mean 'cache-control'?\n"
        );
        assert_eq!(run.stderr, line, "{args:?}");
    }
    let from_env = env
        .s3mend_with(&["scan", "s3://test-bucket/"], &[("S3MEND_POLICY", path)])
        .await;
    assert_eq!(from_env.code, 2, "{from_env:?}");
    assert!(from_env.stderr.contains(":3:1: unknown field"));
    assert_eq!(env.lab.stats().total(), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_check_and_explain_send_nothing() {
    let env = TestEnv::new().await;
    let check = env.s3mend(&["policy", "check", POLICY]).await;
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.ends_with(": ok, 5 [[match]] blocks\n"),
        "{check:?}"
    );
    let explain = env
        .s3mend(&[
            "policy",
            "explain",
            POLICY,
            "archive/2012.html",
            "favicon.ico",
        ])
        .await;
    assert_eq!(explain.code, 0, "{explain:?}");
    assert_eq!(
        explain.stdout,
        "archive/2012.html: [[match]] block 1 (line 5, keys = [\"archive/*\"])\n  cache-control = \"public, max-age=31536000\"\n  expires = \"Tue, 01 Jan 2030 00:00:00 GMT\"\n  severity = \"error\"\nfavicon.ico: no [[match]] block applies; the policy sets nothing\n"
    );
    assert_eq!(env.lab.stats().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_opt_in_rules_find_what_the_manifest_expects() {
    let (env, target) = fixture_site().await;
    let run = env
        .s3mend(&[
            "scan",
            &target,
            "--rules",
            "default,charset,encoding-mismatch",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let found = by_header(run.json()["objects"].as_array().unwrap());
    let manifest = s3mend::demo::manifest().unwrap();
    for object in &manifest.objects {
        for (rule, proposed) in object.expect.iter().chain(&object.expect_opt_in) {
            let findings = found.get(&object.key).cloned().unwrap_or_default();
            let got: Vec<_> = findings
                .iter()
                .filter(|(what, _)| what.split_once(' ').unwrap().0 == rule)
                .map(|(_, p)| p.clone())
                .collect();
            assert_eq!(got, vec![proposed.clone()], "{} {rule}", object.key);
        }
        let expected = object.expect.len() + object.expect_opt_in.len();
        let got = found.get(&object.key).map_or(0, BTreeMap::len);
        assert_eq!(
            got,
            expected,
            "{}: {:?}",
            object.key,
            found.get(&object.key)
        );
    }
}
