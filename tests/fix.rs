//! `s3mend fix` and `undo` against the lab: lossless, conditional, journalled.

use std::collections::BTreeMap;

use s3mend_lab::{AclMode, Grant, Grantee, ObjectSeed, StoredObject, LAB_OWNER_ID};

use crate::harness::{fix, gzipped, row, TestEnv, BUCKET};

/// An object carrying every attribute a repair must keep.
pub(crate) fn everything(body: impl Into<bytes::Bytes>) -> ObjectSeed {
    ObjectSeed {
        body: body.into(),
        content_type: Some("text/html".into()),
        content_encoding: Some("gzip, UTF-8".into()),
        cache_control: Some("public, max-age=3600".into()),
        content_disposition: Some("inline; filename=\"page.html\"".into()),
        content_language: Some("de-CH".into()),
        expires: Some("Wed, 21 Oct 2037 07:28:00 GMT".into()),
        metadata: BTreeMap::from([
            (
                "s3cmd-attrs".into(),
                "uid:1000/gname:deploy/mode:33188".into(),
            ),
            ("author".into(), "Zoë Ångström – naïve".into()),
        ]),
        storage_class: Some("STANDARD_IA".into()),
        website_redirect_location: Some("/new/page.html".into()),
        server_side_encryption: Some("aws:kms".into()),
        ssekms_key_id: Some("arn:aws:kms:us-east-1:111122223333:key/1234abcd".into()),
        bucket_key_enabled: Some(true),
        object_lock_mode: Some("GOVERNANCE".into()),
        object_lock_retain_until: Some("2030-01-02T03:04:05.000Z".into()),
        object_lock_legal_hold: Some("ON".into()),
        tags: vec![("team".into(), "web".into()), ("env".into(), "prod".into())],
        acl: Some("public-read".into()),
        grants: Vec::new(),
        ..ObjectSeed::default()
    }
}

/// The object as a repair must leave it: only the time of writing may differ, and display names
/// (which grant headers do not carry).
pub(crate) fn comparable(mut object: StoredObject) -> StoredObject {
    object.last_modified = time::OffsetDateTime::UNIX_EPOCH;
    for grant in &mut object.grants {
        if let Grantee::CanonicalUser { display_name, .. } = &mut grant.grantee {
            *display_name = None;
        }
    }
    object.grants.sort_by_key(|g| format!("{:?}", g));
    object
}

fn object(env: &TestEnv, key: &str) -> StoredObject {
    env.lab.object(BUCKET, key).expect("object exists")
}

fn writes(env: &TestEnv) -> u64 {
    let stats = env.lab.stats();
    [
        "CopyObject",
        "PutObject",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "PutObjectAcl",
    ]
    .iter()
    .map(|op| stats.count(op))
    .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_with_every_attribute_loses_nothing() {
    let env = TestEnv::new().await;
    let mut seed = everything(gzipped(b"<html>every attribute</html>"));
    seed.grants = vec![Grant {
        grantee: Grantee::CanonicalUser {
            id: "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be".into(),
            display_name: None,
        },
        permission: "READ_ACP".into(),
    }];
    // Canned public-read plus one more grant: spell them all out.
    seed.grants.extend(
        env.lab
            .put_object(BUCKET, "tmp", everything(&b"x"[..]))
            .grants,
    );
    seed.acl = None;
    let before = env.lab.put_object(BUCKET, "page.html", seed);
    assert!(before.grants.len() >= 3, "{:?}", before.grants);

    let dir = tempfile::tempdir().unwrap();
    let run = fix(
        &env,
        &dir.path().join("j.jsonl"),
        &["--include", "page.html"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["fixed"], 1, "{report}");
    assert_eq!(report["objects"][0]["status"], "fixed");

    let after = object(&env, "page.html");
    assert_eq!(after.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(after.body, before.body);
    assert_eq!(after.etag, before.etag);
    let expected = StoredObject {
        content_encoding: Some("gzip".into()),
        ..before.clone()
    };
    assert_eq!(comparable(after), comparable(expected));
}

#[tokio::test(flavor = "multi_thread")]
async fn fixture_site_is_repaired_and_a_rescan_is_clean() {
    let env = TestEnv::new().await;
    let manifest = s3mend::demo::manifest().unwrap();
    s3mend::demo::seed(&env.lab, &manifest).unwrap();
    let before: Vec<_> = manifest
        .objects
        .iter()
        .map(|o| env.lab.object(&manifest.bucket, &o.key).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let target = format!("s3://{}/", manifest.bucket);
    let run = env
        .s3mend(&[
            "fix",
            &target,
            "--yes",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let summary = &run.json()["summary"];
    assert_eq!(summary["fixed"], summary["with_findings"]);
    let rescan = env.s3mend(&["scan", &target]).await;
    assert_eq!(rescan.code, 0, "{}", rescan.stdout);
    for (fixture, old) in manifest.objects.iter().zip(before) {
        let new = env.lab.object(&manifest.bucket, &fixture.key).unwrap();
        let mut expected = old.clone();
        for (rule, proposed) in &fixture.expect {
            match rule.as_str() {
                "content-encoding" => expected.content_encoding = proposed.clone(),
                "content-type" => expected.content_type = proposed.clone(),
                other => panic!("{other}"),
            }
        }
        assert_eq!(comparable(new), comparable(expected), "{}", fixture.key);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_and_no_terminal_write_nothing() {
    let env = TestEnv::new().await;
    env.lab
        .put_object(BUCKET, "a.html", everything(gzipped(b"a")));
    let before = object(&env, "a.html");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");

    let dry = env
        .s3mend(&[
            "fix",
            "s3://test-bucket/",
            "--dry-run",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
        ])
        .await;
    assert_eq!(dry.code, 1, "findings left: {dry:?}");
    let row = &dry.json()["objects"][0];
    assert_eq!(row["status"], "would-fix");
    assert_eq!(row["changes"][0]["before"], "gzip, UTF-8");
    assert_eq!(row["changes"][0]["after"], "gzip");
    assert_eq!(row["resend"]["storage_class"], "STANDARD_IA");
    assert_eq!(
        row["resend"]["encryption"]["kms_key_id"],
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd"
    );
    // Re-sent as HEAD returned it: RFC 2047 encoded words, which S3 decodes again (the
    // every-attribute test proves the round trip).
    assert!(
        row["resend"]["metadata"]["author"]
            .as_str()
            .unwrap()
            .starts_with("=?UTF-8?B?"),
        "{row}"
    );
    assert!(
        row["grants"]["read"].as_str().unwrap().contains("AllUsers"),
        "{row}"
    );
    assert!(!journal.exists(), "a dry run writes no journal");

    let refused = env.s3mend(&["fix", "s3://test-bucket/"]).await;
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);

    assert_eq!(writes(&env), 0);
    assert_eq!(comparable(object(&env, "a.html")), comparable(before));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrent_writer_is_never_clobbered() {
    let env = TestEnv::new().await;
    env.put("fixed-by-writer.html", "text/html", Some("UTF-8"));
    env.put("still-bad.html", "text/html", Some("UTF-8"));
    // Between s3mend's HEAD and its COPY another writer replaces each object.
    env.lab
        .before_next_copy(BUCKET, "fixed-by-writer.html", |lab| {
            lab.put_object(
                BUCKET,
                "fixed-by-writer.html",
                ObjectSeed {
                    body: bytes::Bytes::from_static(b"the writer's bytes"),
                    content_type: Some("text/plain".into()),
                    ..ObjectSeed::default()
                },
            );
        });
    env.lab.before_next_copy(BUCKET, "still-bad.html", |lab| {
        lab.put_object(
            BUCKET,
            "still-bad.html",
            ObjectSeed {
                body: bytes::Bytes::from_static(b"new bytes, same bug"),
                content_type: Some("text/html".into()),
                content_encoding: Some("ANSI_X3.4-1968".into()),
                cache_control: Some("no-cache".into()),
                ..ObjectSeed::default()
            },
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let run = fix(&env, &dir.path().join("j.jsonl"), &[]).await;
    assert_eq!(run.code, 1, "a conflict is a finding left: {run:?}");
    let report = run.json();
    assert_eq!(row(&report, "fixed-by-writer.html")["status"], "conflict");
    let writer = object(&env, "fixed-by-writer.html");
    assert_eq!(&writer.body[..], b"the writer's bytes");
    assert_eq!(writer.content_type.as_deref(), Some("text/plain"));

    assert_eq!(row(&report, "still-bad.html")["status"], "fixed");
    assert!(row(&report, "still-bad.html")["reason"]
        .as_str()
        .unwrap()
        .contains("new version"));
    let repaired = object(&env, "still-bad.html");
    assert_eq!(&repaired.body[..], b"new bytes, same bug");
    assert_eq!(repaired.content_encoding, None);
    assert_eq!(repaired.cache_control.as_deref(), Some("no-cache"));
    assert_eq!(report["summary"]["conflicts"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_objects_take_the_multipart_path_and_leave_no_upload_open() {
    let env = TestEnv::new().await;
    // Gzip's magic, then filler: the sniff reads it as gzip. 11 MiB: with a 1 KiB threshold the
    // parts are S3's 5 MiB minimum (the lab refuses smaller ones but the last), so three parts.
    const SIZE: usize = 11 << 20;
    let mut bytes = vec![0x1f, 0x8b];
    bytes.resize(SIZE, 7u8);
    let body: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let before = env.lab.put_object(BUCKET, "big.js", everything(body));
    env.lab.put_object(BUCKET, "fails.js", everything(body));
    let fails_before = object(&env, "fails.js");
    let plain = env.lab.put_object(
        BUCKET,
        "plain.css",
        ObjectSeed {
            body: bytes::Bytes::from(vec![7u8; SIZE]),
            content_type: Some("text/css".into()),
            content_encoding: Some("UTF-8".into()),
            ..ObjectSeed::default()
        },
    );
    // Every try of a part copy of fails.js fails, retries included.
    env.lab.fail_next("UploadPartCopy", "fails.js", 100);

    let dir = tempfile::tempdir().unwrap();
    let run = fix(
        &env,
        &dir.path().join("j.jsonl"),
        &["--multipart-threshold", "1KiB", "--max-attempts", "2"],
    )
    .await;
    assert_eq!(run.code, 2, "a failed repair is an error: {run:?}");
    let report = run.json();
    let status = |key: &str| row(&report, key)["status"].clone();
    assert_eq!(status("big.js"), "fixed", "{report}");
    assert_eq!(
        status("plain.css"),
        "fixed",
        "verified despite the new ETag: {report}"
    );
    assert_eq!(status("fails.js"), "error");
    let stats = env.lab.stats();
    assert!(stats.count("CreateMultipartUpload") >= 2);
    assert!(stats.count("AbortMultipartUpload") >= 1);
    assert_eq!(
        stats.count("CopyObject"),
        1,
        "only the source-condition probe"
    );
    assert_eq!(env.lab.open_multipart_uploads(BUCKET), 0);

    let after = object(&env, "big.js");
    assert_eq!(after.body, before.body);
    assert_eq!(after.parts_count, Some(3), "5 MiB parts, never smaller");
    // The source had no checksum: the upload gets S3's default (CRC64NVME).
    assert_eq!(after.checksum.as_ref().unwrap().algorithm, "CRC64NVME");
    let expected = StoredObject {
        content_encoding: Some("gzip".into()),
        etag: after.etag.clone(),
        parts_count: after.parts_count,
        checksum: after.checksum.clone(),
        ..before
    };
    assert_eq!(comparable(after), comparable(expected));
    assert_eq!(
        comparable(object(&env, "fails.js")),
        comparable(fails_before)
    );
    let plain_after = object(&env, "plain.css");
    assert!(plain_after.etag.ends_with("-3\""), "{}", plain_after.etag);
    assert_eq!(
        comparable(plain_after.clone()),
        comparable(StoredObject {
            content_encoding: None,
            etag: plain_after.etag.clone(),
            parts_count: Some(3),
            checksum: plain_after.checksum.clone(),
            ..plain
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_restores_the_exact_original_and_refuses_changed_objects() {
    let env = TestEnv::new().await;
    env.lab
        .put_object(BUCKET, "a.html", everything(gzipped(b"a")));
    env.lab
        .put_object(BUCKET, "b.html", everything(gzipped(b"b")));
    let (a0, b0) = (object(&env, "a.html"), object(&env, "b.html"));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("fix.jsonl");
    assert_eq!(fix(&env, &journal, &[]).await.code, 0);
    assert_eq!(
        object(&env, "a.html").content_encoding.as_deref(),
        Some("gzip")
    );

    // Someone changes b.html after the fix.
    env.lab.put_object(
        BUCKET,
        "b.html",
        ObjectSeed {
            content_type: Some("text/html".into()),
            ..everything(&b"someone else"[..])
        },
    );
    let b1 = object(&env, "b.html");

    let writes_before = writes(&env);
    let dry = env
        .s3mend(&[
            "undo",
            journal.to_str().unwrap(),
            "--dry-run",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(dry.code, 1, "{dry:?}");
    let planned = dry.json();
    assert_eq!(planned["summary"]["would_fix"], 1, "{planned}");
    assert_eq!(writes(&env), writes_before, "a dry run writes nothing");

    let undo_journal = dir.path().join("undo.jsonl");
    let run = env
        .s3mend(&[
            "undo",
            journal.to_str().unwrap(),
            "--yes",
            "--format",
            "json",
            "--journal",
            undo_journal.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 1, "a conflict is left: {run:?}");
    let report = run.json();
    let status = |key: &str| row(&report, key)["status"].clone();
    assert_eq!(status("a.html"), "restored");
    assert_eq!(status("b.html"), "conflict");
    assert_eq!(comparable(object(&env, "a.html")), comparable(a0));
    assert_eq!(comparable(object(&env, "b.html")), comparable(b1.clone()));
    assert_ne!(comparable(b1), comparable(b0));

    let run = env
        .s3mend(&["undo", "/nonexistent/journal.jsonl", "--yes"])
        .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read journal"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_modes_and_owners() {
    let env = TestEnv::new().await;
    env.lab.set_acl_mode(BUCKET, AclMode::OwnerEnforced);
    env.put("owned.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let run = fix(&env, &dir.path().join("1.jsonl"), &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(object(&env, "owned.html").content_encoding, None);

    env.lab.set_acl_mode(BUCKET, AclMode::NotImplemented);
    env.put("second.html", "text/html", Some("UTF-8"));
    let run = fix(&env, &dir.path().join("2.jsonl"), &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let notes = run.json()["summary"]["notes"].to_string();
    assert!(notes.contains("does not implement object ACLs"), "{notes}");

    env.lab.set_acl_mode(BUCKET, AclMode::Enabled);
    env.lab.put_object(
        BUCKET,
        "theirs.html",
        ObjectSeed {
            owner_id: Some("another-account-canonical-id".into()),
            ..everything(&b"theirs"[..])
        },
    );
    let theirs = object(&env, "theirs.html");
    let run = fix(&env, &dir.path().join("3.jsonl"), &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    let row = &run.json()["objects"][0];
    assert_eq!(row["status"], "skipped");
    assert_eq!(row["reason"], "foreign-owner");
    assert_eq!(comparable(object(&env, "theirs.html")), comparable(theirs));
    assert_eq!(object(&env, "owned.html").owner_id, LAB_OWNER_ID);
}

#[tokio::test(flavor = "multi_thread")]
async fn versioned_buckets_keep_the_old_version() {
    let env = TestEnv::new().await;
    env.lab.set_versioning(BUCKET, true);
    env.put("v.html", "text/html", Some("UTF-8"));
    let dir = tempfile::tempdir().unwrap();
    let run = fix(&env, &dir.path().join("j.jsonl"), &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["noncurrent_versions"], 1);
    let versions = env.lab.versions(BUCKET, "v.html");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].content_encoding, None);
    assert_eq!(versions[1].content_encoding.as_deref(), Some("UTF-8"));
    assert_eq!(
        report["objects"][0]["new_version_id"].as_str(),
        versions[0].version_id.as_deref()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_terminal_the_repairs_have_a_progress_bar_with_their_count() {
    let env = TestEnv::new().await;
    for i in 0..4 {
        env.put(&format!("p{i}.html"), "text/html", Some("UTF-8"));
    }
    // Slow enough that the repair phase is drawn at least once.
    env.lab.set_latency(std::time::Duration::from_millis(150));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let report = dir.path().join("report.json");
    let args = [
        "fix",
        "s3://test-bucket/",
        "--journal",
        journal.to_str().unwrap(),
        "--output",
        report.to_str().unwrap(),
        "--concurrency",
        "1",
    ];
    let (code, screen) = env.on_a_terminal(&args, "y\n", &[]).await;
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("repaired "), "{screen}");
    assert!(screen.contains("/4"), "of the 4 to repair: {screen}");
    assert!(screen.contains("ETA"), "{screen}");
    // The rate in whole objects per second, not indicatif's `{per_sec}` (`6.5473/s`).
    let (before, _) = screen
        .split_once(" objects/s ETA")
        .unwrap_or_else(|| panic!("a rate: {screen}"));
    let rate = before.rsplit(' ').next().unwrap_or_default();
    assert!(rate.parse::<u64>().is_ok(), "{rate:?}: {screen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_terminal_fix_asks_once_with_the_count() {
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("b.html", "text/html", Some("ANSI_X3.4-1968"));
    env.put("c.html", "text/html", None);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let report = dir.path().join("report.json");
    let args = [
        "fix",
        "s3://test-bucket/",
        "--journal",
        journal.to_str().unwrap(),
        "--format",
        "json",
        "--output",
        report.to_str().unwrap(),
    ];

    let (code, screen) = env.on_a_terminal(&args, "n\n", &[]).await;
    assert!(
        screen.contains("Repair 2 objects in s3://test-bucket/? [y/N]"),
        "{screen}"
    );
    // Before asking: how many objects each rule repairs, and each change with its count.
    let counts = screen
        .find("To repair in s3://test-bucket/:")
        .unwrap_or_else(|| panic!("{screen}"));
    let question = screen.find("Repair 2 objects").unwrap();
    let shown = &screen[counts..question];
    for line in [
        "content-encoding [error]: 2 objects",
        "Content-Encoding ANSI_X3.4-1968 → (remove)  × 1",
        "Content-Encoding UTF-8 → (remove)           × 1",
    ] {
        assert!(shown.contains(line), "{line}: {shown}");
    }
    assert!(screen.contains("nothing was written"), "{screen}");
    assert_eq!(code, 1);
    assert!(!journal.exists(), "no empty journal is left behind");
    assert_eq!(writes(&env), 0);
    let declined: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(declined["summary"]["skipped"], 2, "{declined}");
    assert_eq!(row(&declined, "b.html")["reason"], "declined");
    assert!(
        !declined["summary"]["notes"].to_string().contains("journal"),
        "no journal to undo with: {declined}"
    );

    let (code, screen) = env.on_a_terminal(&args, "y\n", &[]).await;
    assert_eq!(code, 0, "{screen}");
    assert_eq!(screen.matches("[y/N]").count(), 1, "asked once: {screen}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["summary"]["fixed"], 2);
    assert_eq!(object(&env, "b.html").content_encoding, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_destination_conditions_is_learnt_from_the_first_copy() {
    let env = TestEnv::new().await;
    env.lab.set_copy_if_match_supported(BUCKET, false);
    for key in ["a.html", "b.html", "c.html"] {
        env.put(key, "text/html", Some("UTF-8"));
    }
    let dir = tempfile::tempdir().unwrap();
    let run = fix(&env, &dir.path().join("j.jsonl"), &["--concurrency", "1"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["fixed"], 3);
    assert!(
        report["summary"]["notes"].to_string().contains("If-Match"),
        "{report}"
    );
    assert_eq!(
        env.lab.stats().count("CopyObject"),
        5,
        "the source-condition probe (412), one refused copy, then one per object"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_deleted_after_listing_is_gone_behind_a_delete_marker() {
    use s3mend::outcome::{Inspected, Outcome};
    use s3mend::repair::{Capabilities, RepairSettings, Repairer};
    use s3mend::s3::S3Store;
    let env = TestEnv::new().await;
    env.lab.set_versioning(BUCKET, true);
    env.put("gone.html", "text/html", Some("UTF-8"));
    let client = s3mend_lab::client(&env.lab);
    client
        .delete_object()
        .bucket(BUCKET)
        .key("gone.html")
        .send()
        .await
        .unwrap();

    let failure = s3mend::s3::head_object(&client, BUCKET, "gone.html")
        .await
        .unwrap_err();
    assert_eq!(failure.code, s3mend::model::DELETE_MARKER);
    let store = S3Store::new(client, BUCKET);
    let capabilities = Capabilities::new(store.caller_id().await);
    let repairer = Repairer::new(
        store,
        s3mend::rules::RuleSet::all(),
        RepairSettings::default(),
        std::sync::Arc::new(capabilities),
    );
    let repaired = repairer
        .repair(Inspected {
            listed: s3mend::model::ListedObject {
                key: "gone.html".into(),
                size: 10,
                etag: None,
                last_modified: None,
            },
            outcome: Err(failure),
            findings: Vec::new(),
            body_start: None,
            from_catalog: false,
            taken: Some(std::time::Instant::now()),
        })
        .await;
    assert!(
        matches!(&repaired.outcome, Outcome::Gone(why) if why.contains("delete marker")),
        "{:?}",
        repaired.outcome
    );
    let mut summary = s3mend::report::Summary::default();
    summary.record_repaired(&repaired);
    let counts = (summary.listed, summary.clean, summary.gone, summary.errors);
    assert_eq!(counts, (1, 1, 1, 0));
    assert_eq!(summary.fix.unwrap_or_default().skipped, 0);
    assert_eq!(env.lab.stats().count("CopyObject"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_the_question_writes_nothing_and_accounts_for_every_object() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = TestEnv::new().await;
    env.put("a.html", "text/html", Some("UTF-8"));
    env.put("b.html", "text/html", Some("ANSI_X3.4-1968"));
    env.put("c.html", "text/html", None);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let report = dir.path().join("report.json");
    let args = [
        "fix",
        "s3://test-bucket/",
        "--journal",
        journal.to_str().unwrap(),
        "--format",
        "json",
        "--output",
        report.to_str().unwrap(),
    ];
    let mut child = env.spawn_on_a_terminal(&args, &[]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut screen = Vec::new();
    let asked = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&screen).contains("[y/N]") {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "ended before asking: {}",
                String::from_utf8_lossy(&screen)
            );
            screen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(asked.is_ok(), "never asked");
    // Ctrl-C on the terminal: the line discipline sends SIGINT to s3mend.
    stdin.write_all(b"\x03").await.unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("stops promptly after Ctrl-C at the question")
        .unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(writes(&env), 0);
    assert!(!journal.exists(), "no empty journal is left behind");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let summary = &report["summary"];
    assert_eq!(summary["complete"], false, "{summary}");
    assert_eq!(summary["stopped"], "interrupted", "{summary}");
    assert_eq!(
        (
            &summary["listed"],
            &summary["clean"],
            &summary["with_findings"]
        ),
        (&3.into(), &1.into(), &2.into()),
        "{summary}"
    );
    assert_eq!(summary["skipped"], 2, "{summary}");
    for key in ["a.html", "b.html"] {
        assert_eq!(row(&report, key)["status"], "skipped");
        assert_eq!(row(&report, key)["reason"], "interrupted");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_ignores_copy_source_conditions_is_refused_unless_allowed() {
    let env = TestEnv::new().await;
    env.lab.set_copy_source_conditions_ignored(BUCKET, true);
    env.lab.set_copy_if_match_supported(BUCKET, false);
    for key in ["a.html", "b.html", "dir/c.html"] {
        env.put(key, "text/html", Some("UTF-8"));
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let run = fix(&env, &journal, &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    let lines: Vec<_> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("ignores x-amz-copy-source-if-match")
            && lines[0].contains("--allow-unconditional-copies"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["summary"]["fixed"], 0);
    for key in ["a.html", "b.html", "dir/c.html"] {
        assert_eq!(object(&env, key).content_encoding.as_deref(), Some("UTF-8"));
    }
    assert_eq!(
        env.lab.object_count(BUCKET),
        3,
        "the probe's copy was deleted"
    );
    assert_eq!(
        env.lab.stats().count("CopyObject"),
        1,
        "only the probe, which the server let through"
    );
    assert!(
        s3mend::journal::read(&journal).map_or(true, |entries| entries.is_empty()),
        "nothing planned"
    );

    let run = fix(&env, &journal, &["--allow-unconditional-copies"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["fixed"], 3);
    assert!(
        report["summary"]["notes"]
            .to_string()
            .contains("copies were made without it"),
        "{report}"
    );
    assert_eq!(env.lab.object_count(BUCKET), 3);
}
