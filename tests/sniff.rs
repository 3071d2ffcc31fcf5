//! The sniff: a Content-Encoding is set, kept or removed only as the body's first bytes allow,
//! read with one ranged GET that never fetches the object; and the repaired object decodes in a
//! real HTTP client.

use std::process::Command;

use s3mend_lab::{ObjectSeed, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};

use crate::harness::{gzipped, row, TestEnv, BUCKET};

/// SHA-256 of an empty payload.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0x00, 0x00];
const ZLIB: &[u8] = &[
    0x78, 0x9c, 0x4b, 0x4c, 0x4a, 0x06, 0x00, 0x02, 0x4d, 0x01, 0x27,
];

fn put(env: &TestEnv, key: &str, body: impl Into<bytes::Bytes>, encoding: Option<&str>) {
    put_seed(env, key, ObjectSeed::with_body(body), encoding);
}

fn put_seed(env: &TestEnv, key: &str, seed: ObjectSeed, encoding: Option<&str>) {
    let content_type = if key.ends_with(".css") {
        "text/css"
    } else if key.ends_with(".js") {
        "application/javascript"
    } else {
        "text/html"
    };
    env.lab.put_object(
        BUCKET,
        key,
        ObjectSeed {
            content_type: Some(content_type.into()),
            content_encoding: encoding.map(str::to_owned),
            ..seed
        },
    );
}

/// The proposal the report makes for `key`'s Content-Encoding (`None`: remove it).
fn proposal(report: &serde_json::Value, key: &str) -> Option<String> {
    let findings = row(report, key)["findings"].as_array().unwrap().clone();
    let finding = findings
        .iter()
        .find(|f| f["header"] == "Content-Encoding")
        .unwrap_or_else(|| panic!("no Content-Encoding finding for {key}: {findings:?}"));
    finding["proposed"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_body_decides_its_proposal_with_one_small_get() {
    let env = TestEnv::new().await;
    put(
        &env,
        "gzip.html",
        gzipped(b"<html>hello</html>"),
        Some("UTF-8"),
    );
    put(&env, "gzip-list.html", gzipped(b"<p>"), Some("gzip, UTF-8"));
    put(&env, "zstd.css", ZSTD, Some("zstd, UTF-8"));
    put(&env, "deflate.js", ZLIB, Some("deflate, ANSI_X3.4-1968"));
    put(
        &env,
        "plain.html",
        &b"<html>plain</html>"[..],
        Some("gzip, UTF-8"),
    );
    put(&env, "empty.html", Vec::new(), Some("UTF-8"));
    put(&env, "one.html", vec![0x1f], Some("UTF-8"));
    // An empty gzip member: a whole object shorter than the 64 bytes asked for.
    put(&env, "short.html", gzipped(b""), Some("utf-8"));
    put_seed(
        &env,
        "cold.html",
        ObjectSeed {
            storage_class: Some("GLACIER".into()),
            ..ObjectSeed::with_body(&b"<html>cold</html>"[..])
        },
        Some("gzip, UTF-8"),
    );
    put_seed(
        &env,
        "secret.html",
        ObjectSeed {
            sse_customer_algorithm: Some("AES256".into()),
            sse_customer_key_md5: Some("bWQ1b2Z0aGVrZXk=".into()),
            ..ObjectSeed::with_body(&b"<html>secret</html>"[..])
        },
        Some("UTF-8"),
    );
    put(&env, "fine.html", gzipped(b"<p>"), Some("gzip"));

    let run = env
        .s3mend(&["scan", "s3://test-bucket/", "--format", "json"])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    for (key, expected) in [
        ("gzip.html", Some("gzip")),
        ("gzip-list.html", Some("gzip")),
        ("zstd.css", Some("zstd")),
        ("deflate.js", Some("deflate")),
        ("plain.html", None),
        ("empty.html", None),
        ("one.html", None),
        ("short.html", Some("gzip")),
        // Archived: not readable, so the proposal is the headers' own.
        ("cold.html", Some("gzip")),
    ] {
        assert_eq!(proposal(&report, key).as_deref(), expected, "{key}");
    }
    assert_eq!(row(&report, "secret.html")["reason"], "sse-c");
    // One ranged GET per readable object with a Content-Encoding finding: not the empty one
    // (its body is known), the archived one, the SSE-C one, nor the clean one.
    assert_eq!(env.lab.stats().count("GetObject"), 7);
    let summary = &report["summary"];
    assert_eq!(summary["with_findings"], 9, "{summary}");
    assert_eq!(summary["unreadable"], 1, "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_sniff_proposals_come_from_the_headers_and_say_so() {
    let env = TestEnv::new().await;
    put(
        &env,
        "gzip.html",
        gzipped(b"<html>hello</html>"),
        Some("UTF-8"),
    );
    put(
        &env,
        "plain.html",
        &b"<html>plain</html>"[..],
        Some("gzip, UTF-8"),
    );
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "--format",
            "json",
            "--no-sniff",
        ])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(proposal(&report, "gzip.html"), None);
    assert_eq!(proposal(&report, "plain.html").as_deref(), Some("gzip"));
    assert!(
        report["summary"]["notes"]
            .to_string()
            .contains("--no-sniff: no body was read"),
        "{}",
        report["summary"]
    );
    assert_eq!(env.lab.stats().count("GetObject"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn encoding_mismatch_finds_what_the_header_and_body_disagree_on() {
    let env = TestEnv::new().await;
    put(
        &env,
        "liar.html",
        &b"<html>not compressed</html>"[..],
        Some("gzip"),
    );
    put(&env, "bare.js", gzipped(b"app();"), None);
    put(&env, "honest.css", gzipped(b"a{}"), Some("gzip"));
    env.lab.put_object(
        BUCKET,
        "backup.tar.gz",
        ObjectSeed {
            content_type: Some("application/gzip".into()),
            ..ObjectSeed::with_body(gzipped(b"tar"))
        },
    );
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "--rules",
            "default,encoding-mismatch",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2, "{report}");
    for (key, expected) in [("liar.html", None), ("bare.js", Some("gzip"))] {
        assert_eq!(proposal(&report, key).as_deref(), expected, "{key}");
        assert_eq!(
            row(&report, key)["findings"][0]["rule"],
            "encoding-mismatch"
        );
    }
    // The rule reads every text object and every object with a coding; not the archive.
    assert_eq!(env.lab.stats().count("GetObject"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_that_would_make_a_body_undecodable_is_refused_per_object() {
    let env = TestEnv::new().await;
    put(&env, "plain.css", &b"a{}"[..], None);
    put(&env, "packed.css", gzipped(b"b{}"), None);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[[match]]\nkeys = [\"*.css\"]\ncontent-encoding = \"gzip\"\n",
    )
    .unwrap();
    let journal = dir.path().join("j.jsonl");
    let run = env
        .s3mend(&[
            "fix",
            "s3://test-bucket/",
            "--policy",
            policy.to_str().unwrap(),
            "--yes",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 1, "a skip is a finding left: {run:?}");
    let report = run.json();
    assert_eq!(row(&report, "plain.css")["status"], "skipped");
    assert_eq!(row(&report, "plain.css")["reason"], "body-not-gzip");
    assert_eq!(row(&report, "packed.css")["status"], "fixed");
    let plain = env.lab.object(BUCKET, "plain.css").unwrap();
    assert_eq!(plain.content_encoding, None, "left decodable");
    let packed = env.lab.object(BUCKET, "packed.css").unwrap();
    assert_eq!(packed.content_encoding.as_deref(), Some("gzip"));
}

/// The repair seen from a real HTTP client: curl refuses the `UTF-8` coding before, and with
/// `--compressed` decodes the body after.
#[tokio::test(flavor = "multi_thread")]
async fn a_gzip_body_labelled_utf_8_decodes_in_curl_after_the_fix() {
    let env = TestEnv::new().await;
    let text = "<html><body>Grüße from 2013</body></html>\n";
    put(&env, "page.html", gzipped(text.as_bytes()), Some("UTF-8"));
    let url = format!("{}/{BUCKET}/page.html", env.lab.endpoint());
    let curl = || {
        let output = Command::new("curl")
            .args(["--silent", "--show-error", "--fail", "--compressed"])
            .args(["--aws-sigv4", &format!("aws:amz:{LAB_REGION}:s3")])
            .args(["--user", &format!("{LAB_ACCESS_KEY}:{LAB_SECRET_KEY}")])
            // curl 7.x does not add the payload hash S3's SigV4 wants; it signs what is given.
            .args(["--header", &format!("x-amz-content-sha256: {EMPTY_SHA256}")])
            .arg(&url)
            .output()
            .expect("curl is installed (.ci/test needs it for this test)");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // curl's exit 61: "Unrecognized or bad HTTP Content or Transfer-Encoding".
    let (code, _, stderr) = curl();
    assert_eq!(code, Some(61), "curl refuses UTF-8 as a coding: {stderr}");

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let fix = env
        .s3mend(&[
            "fix",
            "s3://test-bucket/",
            "--yes",
            "--journal",
            journal.to_str().unwrap(),
        ])
        .await;
    assert_eq!(fix.code, 0, "{fix:?}");
    let (code, body, stderr) = curl();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(body, text);
}
