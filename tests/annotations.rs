//! Annotations and additional checksums through a repair (`docs/s3-behaviour.md` §16): a single
//! CopyObject keeps both by itself; the multipart path re-creates the checksum and puts every
//! annotation back; a run killed before the last put finishes them on `--resume`; a store
//! without annotations is learnt once and noted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use s3mend_lab::{ObjectSeed, StoredObject};

use crate::harness::{fix, row, TestEnv, BUCKET};

/// A bad object (Content-Encoding `UTF-8`) of `size` bytes, uploaded with `checksum`, with
/// these annotations.
fn seed(
    env: &TestEnv,
    key: &str,
    size: usize,
    checksum: &str,
    annotations: &[&str],
) -> StoredObject {
    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    env.lab.put_object(
        BUCKET,
        key,
        ObjectSeed {
            body: Bytes::from(body),
            content_type: Some("application/octet-stream".into()),
            content_encoding: Some("UTF-8".into()),
            checksum_algorithm: Some(checksum.into()),
            annotations: annotations
                .iter()
                .map(|name| {
                    (
                        name.to_string(),
                        Bytes::from(format!("{{\"note\":\"{name} of {key}\"}}")),
                    )
                })
                .collect(),
            ..ObjectSeed::default()
        },
    )
}

/// Names and payloads.
fn annotations(object: &StoredObject) -> BTreeMap<String, Bytes> {
    object
        .annotations
        .iter()
        .map(|(name, a)| (name.clone(), a.payload.clone()))
        .collect()
}

const BIG: usize = 6 << 20;

#[tokio::test(flavor = "multi_thread")]
async fn both_paths_keep_every_annotation_and_the_checksum_algorithm() {
    let env = TestEnv::new().await;
    let objects = [
        ("copy/sha.bin", 1000, "SHA256"),
        ("copy/crc.bin", 1000, "CRC64NVME"),
        ("parts/sha.bin", BIG, "SHA256"),
        ("parts/crc.bin", BIG, "CRC64NVME"),
    ];
    let names = ["review", "source", "z-last"];
    let before: Vec<StoredObject> = objects
        .iter()
        .map(|(key, size, checksum)| seed(&env, key, *size, checksum, &names))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let run = fix(
        &env,
        &dir.path().join("j.jsonl"),
        &["--multipart-threshold", "1MiB"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    for ((key, size, _), old) in objects.iter().zip(&before) {
        assert_eq!(row(&report, key)["status"], "fixed", "{report}");
        let new = env.lab.object(BUCKET, key).unwrap();
        assert_eq!(new.content_encoding, None, "{key}");
        assert_eq!(
            new.parts_count.is_some(),
            *size == BIG,
            "{key}: the path taken"
        );
        assert_eq!(
            annotations(&new),
            annotations(old),
            "{key}: every annotation, as it was"
        );
        let (was, is) = (
            old.checksum.as_ref().unwrap(),
            new.checksum.as_ref().unwrap(),
        );
        assert_eq!(is.algorithm, was.algorithm, "{key}");
        if was.algorithm == "CRC64NVME" {
            assert_eq!(is, was, "{key}: a FULL_OBJECT value is the bytes'");
        }
    }
    let stats = env.lab.stats();
    // Only the multipart path lists, reads and puts annotations: 2 objects × 3.
    assert_eq!(
        stats.count("ListObjectAnnotations"),
        4,
        "one before, one after each"
    );
    assert_eq!(stats.count("GetObjectAnnotation"), 6);
    assert_eq!(stats.count("PutObjectAnnotation"), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_between_completing_and_the_last_annotation_put_then_resume_loses_none() {
    let env = TestEnv::new().await;
    env.lab.set_versioning(BUCKET, true);
    let names = ["a-first", "b-second", "c-last"];
    let old = seed(&env, "big.bin", BIG, "SHA256", &names);
    // The last put hangs until the run is killed.
    env.lab.handle().stall_next(
        "PutObjectAnnotation",
        "big.bin?annotationName=c-last",
        1,
        Duration::from_secs(300),
    );
    let dir = tempfile::tempdir().unwrap();
    let (journal, state) = (dir.path().join("j.jsonl"), dir.path().join("state.json"));
    let args = |resume: bool| {
        let mut args = vec![
            "fix",
            "s3://test-bucket/",
            "--yes",
            "--format",
            "json",
            "--state",
            state.to_str().unwrap(),
            "--multipart-threshold",
            "1MiB",
        ];
        if resume {
            args.push("--resume");
        } else {
            args.extend(["--journal", journal.to_str().unwrap()]);
        }
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let first = args(false);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let mut child = env.spawn(&first, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.lab.stats().count("PutObjectAnnotation") < 3 {
        assert!(Instant::now() < deadline, "the last put never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let rewritten = env.lab.object(BUCKET, "big.bin").unwrap();
    assert!(rewritten.parts_count.is_some(), "completed before the kill");
    assert_eq!(rewritten.annotations.len(), 2, "the last put never landed");
    let open = s3mend::journal::read(&journal).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].status, None,
        "killed between the copy and its record"
    );
    assert_eq!(
        open[0].annotations.len(),
        3,
        "the journal has the whole set"
    );

    let second = args(true);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let run = env.s3mend(&second).await;
    assert_eq!(run.code, 0, "{run:?}");
    let now = env.lab.object(BUCKET, "big.bin").unwrap();
    assert_eq!(annotations(&now), annotations(&old), "none lost");
    assert_eq!(now.version_id, rewritten.version_id, "no second rewrite");
    assert_eq!(now.checksum.as_ref().unwrap().algorithm, "SHA256");
    let entries = s3mend::journal::read(&journal).unwrap();
    assert_eq!(
        entries[0].status,
        Some(s3mend::journal::Status::Fixed),
        "{entries:?}"
    );
    let notes = run.json()["summary"]["notes"].to_string();
    assert!(notes.contains("1 applied"), "{notes}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_without_annotations_is_learnt_once_and_noted() {
    let env = TestEnv::new().await;
    env.lab.set_annotations_supported(BUCKET, false);
    for key in ["copy/1.bin", "copy/2.bin"] {
        seed(&env, key, 1000, "CRC32", &[]);
    }
    for key in ["parts/1.bin", "parts/2.bin"] {
        seed(&env, key, BIG, "CRC32", &[]);
    }
    let dir = tempfile::tempdir().unwrap();
    let run = fix(
        &env,
        &dir.path().join("j.jsonl"),
        &["--multipart-threshold", "1MiB", "--concurrency", "1"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    for key in ["copy/1.bin", "copy/2.bin", "parts/1.bin", "parts/2.bin"] {
        assert_eq!(row(&report, key)["status"], "fixed", "{report}");
        let checksum = env.lab.object(BUCKET, key).unwrap().checksum.unwrap();
        assert_eq!(checksum.algorithm, "CRC32", "{key}");
    }
    let stats = env.lab.stats();
    assert_eq!(stats.count("ListObjectAnnotations"), 1, "learnt once");
    assert_eq!(
        stats.count("CopyObject"),
        1 + 3,
        "the probe, one refused, then one each"
    );
    let notes = report["summary"]["notes"].to_string();
    assert!(notes.contains("EXCLUDE"), "{notes}");
    assert!(notes.contains("ListObjectAnnotations"), "{notes}");
    assert!(
        !notes.contains("If-Match"),
        "the destination If-Match was kept: {notes}"
    );
}
