//! The catalog's format and merge, on files in a temporary directory.

use std::io::Write;

use super::*;
use crate::rules::RuleSet;

fn scope() -> Scope {
    Scope {
        endpoint: Some("http://127.0.0.1:9000".into()),
        bucket: "site".into(),
        prefix: "blog/".into(),
    }
}

fn listed(key: &str, etag: &str) -> ListedObject {
    ListedObject {
        key: key.into(),
        size: 10,
        etag: Some(format!("\"{etag}\"")),
        last_modified: Some("2026-12-01T03:00:00.123Z".into()),
    }
}

fn head(key: &str) -> ObjectHead {
    ObjectHead {
        etag: Some("\"e\"".into()),
        content_length: Some(10),
        content_type: Some("text/html".into()),
        content_encoding: Some("UTF-8".into()),
        metadata: [("s3cmd-attrs".to_owned(), "uid:0".to_owned())].into(),
        ..ObjectHead::new(key)
    }
}

fn entry(key: &str, etag: &str) -> Entry {
    let head = head(key);
    let findings = RuleSet::all().check(&head, None);
    Entry::of(&listed(key, etag), &head, &findings, Some(b"<html>"))
}

/// Writes a catalog of `entries`, recorded in the order given and flushed through each key as
/// the watermark would, then finished.
fn write(path: &std::path::Path, entries: &[Entry]) {
    let mut writer = Writer::create(path, &scope()).unwrap();
    for e in entries {
        writer.record(&e.key, Some(e.clone()));
    }
    if let Some(last) = entries.iter().map(|e| e.key.clone()).max() {
        writer.flush_through(&last);
    }
    assert_eq!(writer.finish(true).unwrap(), Some(entries.len() as u64));
}

fn read_all(path: &std::path::Path) -> Vec<Entry> {
    let mut reader = Reader::open(path, &scope()).unwrap().unwrap();
    let mut all = Vec::new();
    reader.through("\u{10ffff}", |e| all.push(e));
    all
}

#[test]
fn entries_round_trip_with_their_snapshot_and_first_bytes() {
    let e = entry("blog/a.html", "1");
    assert_eq!(e.verdict, "findings");
    assert_eq!(e.rules, ["content-encoding"]);
    assert_eq!(e.head, head("blog/a.html"));
    assert_eq!(e.body_start(), Some(b"<html>".to_vec()));
    let line = serde_json::to_string(&e).unwrap();
    assert!(
        !line.contains("cache_control"),
        "absent fields are left out: {line}"
    );
    assert_eq!(serde_json::from_str::<Entry>(&line).unwrap(), e);
}

#[test]
fn only_the_same_etag_size_and_last_modified_is_unchanged() {
    let e = entry("a", "1");
    assert!(e.unchanged(&listed("a", "1")));
    let cases = [
        ListedObject {
            etag: Some("\"2\"".into()),
            ..listed("a", "1")
        },
        ListedObject {
            size: 11,
            ..listed("a", "1")
        },
        ListedObject {
            last_modified: Some("2026-12-01T03:00:00.124Z".into()),
            ..listed("a", "1")
        },
        ListedObject {
            last_modified: None,
            ..listed("a", "1")
        },
        listed("b", "1"),
    ];
    for listed in cases {
        assert!(!e.unchanged(&listed), "{listed:?}");
    }
    let without_date = Entry {
        last_modified: None,
        ..e
    };
    assert!(!without_date.unchanged(&ListedObject {
        last_modified: None,
        ..listed("a", "1")
    }));
}

#[test]
fn out_of_order_results_are_written_in_key_order_as_the_watermark_passes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl.gz");
    let mut writer = Writer::create(&path, &scope()).unwrap();
    writer.record("c", Some(entry("c", "3")));
    writer.record("a", Some(entry("a", "1")));
    writer.flush_through("a");
    writer.record("b", None);
    writer.record("d", Some(entry("d", "4")));
    writer.flush_through("c");
    assert_eq!(writer.finish(true).unwrap(), Some(3));
    let keys: Vec<String> = read_all(&path).into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["a", "c", "d"]);
}

#[test]
fn the_merge_serves_unchanged_objects_across_inserts_deletes_and_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl.gz");
    let long = format!("blog/{}", "é".repeat(509)); // 1,023 bytes
    assert_eq!(long.len(), 1023);
    // In UTF-8 byte order, as S3 lists keys: é (C3 A9) before 日 (E6 97 A5).
    let keys = [
        "blog/a",
        "blog/b",
        "blog/c",
        long.as_str(),
        "blog/日本/d",
        "blog/z",
    ];
    let old: Vec<Entry> = keys.iter().map(|k| entry(k, "1")).collect();
    write(&path, &old);

    // The new listing: b deleted, c changed, a new key between, the rest unchanged.
    let listing = [
        listed("blog/a", "1"),
        listed("blog/bb", "1"),
        listed("blog/c", "2"),
        listed(&long, "1"),
        listed("blog/日本/d", "1"),
        listed("blog/zz", "1"),
    ];
    let mut reader = Reader::open(&path, &scope()).unwrap().unwrap();
    let served: Vec<bool> = listing
        .iter()
        .map(|l| reader.unchanged(l).is_some_and(|e| e.key == l.key))
        .collect();
    assert_eq!(served, [true, false, false, true, true, false]);
}

#[test]
fn a_resumed_run_carries_the_entries_before_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl.gz");
    write(&path, &[entry("a", "1"), entry("b", "1"), entry("c", "1")]);
    let mut reader = Reader::open(&path, &scope()).unwrap().unwrap();
    let mut carried = Vec::new();
    reader.through("b", |e| carried.push(e.key));
    assert_eq!(carried, ["a", "b"]);
    assert!(reader.unchanged(&listed("c", "1")).is_some());
}

#[test]
fn a_catalog_for_another_scope_or_a_damaged_one_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl.gz");
    write(&path, &[entry("a", "1"), entry("b", "1")]);
    let other = Scope {
        bucket: "other".into(),
        ..scope()
    };
    let err = Reader::open(&path, &other).err().unwrap().to_string();
    assert!(err.contains("cannot be used: it is for s3://site/blog/ at http://127.0.0.1:9000, not s3://other/blog/"), "{err}");
    assert!(err.contains("--catalog-reset"), "{err}");

    let gz = |text: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let header = serde_json::to_string(&Header::new(&scope())).unwrap();
    let good = serde_json::to_string(&entry("a", "1")).unwrap();
    let whole = std::fs::read(&path).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not gzip at all".to_vec(), "is damaged"),
        (whole[..whole.len() - 9].to_vec(), "is damaged"),
        (gz(""), "is empty"),
        (gz("{\"format\":\"x\"}\n"), "line 1 is not a catalog header"),
        (
            gz(&format!("{header}\n{good}\n{{oops\n")),
            "line 3 is not a catalog entry",
        ),
        (
            gz(&format!("{header}\n{good}\n{good}\n")),
            "line 3 is out of key order",
        ),
        (
            gz(&format!(
                "{}\n",
                header.replace("\"version\":1", "\"version\":9")
            )),
            "version 9",
        ),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&path, bytes).unwrap();
        let err = Reader::open(&path, &scope()).err().unwrap().to_string();
        assert!(err.contains(expected), "{expected}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    assert!(Reader::open(&dir.path().join("none"), &scope())
        .unwrap()
        .is_none());
}

#[test]
fn an_unfinished_run_leaves_the_old_catalog_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl.gz");
    write(&path, &[entry("a", "1")]);
    let before = std::fs::read(&path).unwrap();
    let mut writer = Writer::create(&path, &scope()).unwrap();
    writer.record("b", Some(entry("b", "1")));
    assert_eq!(writer.finish(false).unwrap(), None);
    drop(Writer::create(&path, &scope()).unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "{files:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn the_catalog_cuts_the_key_space_every_so_many_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl.gz");
    let entries: Vec<Entry> = (0..3500).map(|i| entry(&format!("k{i:05}"), "1")).collect();
    write(&path, &entries);
    let reader = Reader::open(&path, &scope()).unwrap().unwrap();
    assert_eq!(reader.pages(), 4);
    assert_eq!(reader.split(1), ["k00999", "k01999", "k02999"]);
    assert_eq!(reader.split(2), ["k01999"]);
    assert_eq!(reader.split(4), Vec::<String>::new());
}
