//! Very large buckets: `--inventory` reads an S3 Inventory instead of listing, `--shard I/N`
//! splits a run over processes (with and without an inventory), `merge` adds their reports up,
//! and `undo` takes the journals of a sharded fix. The inventories are written by the lab as S3
//! writes them (gzip CSV, URL-encoded keys, a manifest; or Parquet, with the feature `parquet`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use s3mend_lab::{InventorySpec, ObjectSeed};
use serde_json::Value;

use crate::harness::{proposals, Run, TestEnv, BUCKET};

const OBJECTS: usize = 10_000;
const DEST: &str = "inventory-dest";

/// Keys of every shape a shard unit can have (a key at the top, a key one level down, deep
/// keys under a few or many prefixes), with spaces, `+`, `%` and unicode.
fn key(i: usize) -> String {
    match i % 10 {
        0 => format!("top {i}.html"),
        1 => format!("dir{:02}/plus+{i}.html", i % 13),
        2 => format!("unicodé/日本語/{i} ü.html"),
        3 => format!("pct%25/{:02}/100%{i}.css", i % 7),
        _ => format!("site/{:03}/page-{i:05}.html", i % 97),
    }
}

/// Nine objects in ten with the s3cmd charset bug, one in ten clean.
fn put(env: &TestEnv, key: &str, bad: bool) {
    let content_type = if key.ends_with(".css") {
        "text/css"
    } else {
        "text/html"
    };
    env.lab.put_object(
        BUCKET,
        key,
        ObjectSeed {
            body: bytes::Bytes::from(format!("body of {key}")),
            content_type: Some(content_type.into()),
            content_encoding: bad.then(|| "UTF-8".to_owned()),
            ..ObjectSeed::default()
        },
    );
}

fn publish(env: &TestEnv, name: &str, files: usize, versions: bool) -> String {
    let manifest = env.lab.handle().publish_inventory(
        BUCKET,
        &InventorySpec {
            destination: DEST.into(),
            prefix: format!("inventory/{BUCKET}/{name}/2026-11-27T01-00Z"),
            files,
            versions,
        },
    );
    format!("s3://{DEST}/{manifest}")
}

/// What a JSON report says: its rows by key (none twice), and its summary.
struct Report {
    rows: BTreeMap<String, Value>,
    summary: Value,
}

impl Report {
    fn of(run: &Run) -> Report {
        assert_eq!(run.code, 1, "findings: {}", run.stderr);
        Self::from_json(run.json())
    }

    fn read(path: &Path) -> Report {
        let text = std::fs::read_to_string(path).unwrap();
        Self::from_json(serde_json::from_str(&text).unwrap())
    }

    fn from_json(json: Value) -> Report {
        let mut rows = BTreeMap::new();
        for row in json["objects"].as_array().unwrap() {
            let key = row["key"].as_str().unwrap().to_owned();
            assert!(
                rows.insert(key.clone(), row.clone()).is_none(),
                "{key} twice"
            );
        }
        Report {
            rows,
            summary: json["summary"].clone(),
        }
    }

    /// The summary's counts, without what differs between equal runs (requests, notes).
    fn counts(&self) -> Vec<(&'static str, Value)> {
        [
            "listed",
            "inspected",
            "clean",
            "with_findings",
            "errors",
            "gone",
            "unreadable",
            "complete",
        ]
        .into_iter()
        .map(|field| (field, self.summary[field].clone()))
        .collect()
    }
}

/// Runs `scan --shard i/4` for each i at once, each with its own report; checks no key is in two.
async fn four_shards(env: &TestEnv, dir: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let paths: Vec<String> = (1..=4)
        .map(|i| dir.join(format!("{name}-{i}.json")).display().to_string())
        .collect();
    let runs = (1..=4).map(|i| {
        let shard = format!("{i}/4");
        let path = paths[i - 1].clone();
        let mut args: Vec<String> = ["scan", "s3://test-bucket/", "--format", "json"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        args.extend(["--shard".into(), shard, "--output".into(), path]);
        args.extend(extra.iter().map(|a| a.to_string()));
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            env.s3mend(&args).await
        }
    });
    for run in futures::future::join_all(runs).await {
        assert_eq!(run.code, 1, "{}", run.stderr);
    }
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let mut listed = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let report = Report::read(Path::new(path));
        assert_eq!(report.summary["shard"], format!("{}/4", i + 1));
        for key in report.rows.keys() {
            if let Some(other) = owner.insert(key.clone(), i + 1) {
                panic!("{name}: {key} is in shards {other} and {}", i + 1);
            }
        }
        listed.push(report.summary["listed"].as_u64().unwrap());
    }
    eprintln!("{name}: listed per shard {listed:?}");
    paths
}

/// The rows of several reports, as one map.
fn union(paths: &[String]) -> BTreeMap<String, Value> {
    paths
        .iter()
        .flat_map(|p| Report::read(Path::new(p)).rows)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inventory_and_four_shards_find_exactly_what_one_listing_finds() {
    let env = TestEnv::new().await;
    env.lab.create_bucket(DEST);
    // Versioned: the inventory of every version lists noncurrent versions and delete markers,
    // which a listing does not show and s3mend must leave out.
    env.lab.set_versioning(BUCKET, true);
    for i in 0..OBJECTS {
        put(&env, &key(i), i % 10 != 9);
    }
    for i in (0..OBJECTS).step_by(200) {
        put(&env, &key(i), false);
    }
    for i in (5..OBJECTS).step_by(500) {
        env.lab.delete_object(BUCKET, &key(i));
    }
    let every_version = publish(&env, "all-versions", 3, true);
    let current = publish(&env, "current", 8, false);
    let dir = tempfile::tempdir().unwrap();

    let listing = Report::of(
        &env.s3mend(&["scan", "s3://test-bucket/", "--format", "json"])
            .await,
    );
    let live = OBJECTS - OBJECTS.div_ceil(500);
    assert_eq!(listing.summary["listed"], live as u64);
    // The inventory of current versions is compared through its shards, below.
    for inventory in [&every_version] {
        let run = env
            .s3mend(&[
                "scan",
                "s3://test-bucket/",
                "--format",
                "json",
                "--inventory",
                inventory,
            ])
            .await;
        let report = Report::of(&run);
        assert_eq!(report.counts(), listing.counts(), "{inventory}");
        assert_eq!(
            proposals(report.rows.values()),
            proposals(listing.rows.values()),
            "{inventory}"
        );
        let notes = report.summary["notes"].to_string();
        assert!(
            notes.contains("objects written since it was taken are not seen"),
            "{notes}"
        );
    }
    // The awkward keys came through the inventory's encoding.
    for awkward in [
        "top 10.html",
        "dir01/plus+1.html",
        "unicodé/日本語/12 ü.html",
        "pct%25/03/100%3.css",
    ] {
        assert!(listing.rows.contains_key(awkward), "{awkward}");
    }

    let listed_keys: BTreeSet<&String> = listing.rows.keys().collect();
    for (name, extra) in [
        ("listing", vec![]),
        (
            "inventory-rows",
            vec!["--inventory", every_version.as_str()],
        ),
        ("inventory-files", vec!["--inventory", current.as_str()]),
    ] {
        let paths = four_shards(&env, dir.path(), name, &extra).await;
        let rows = union(&paths);
        assert_eq!(rows.keys().collect::<BTreeSet<_>>(), listed_keys, "{name}");
        let merged = env
            .s3mend(
                &["merge", "--format", "json"]
                    .into_iter()
                    .chain(paths.iter().map(String::as_str))
                    .collect::<Vec<_>>(),
            )
            .await;
        let merged = Report::of(&merged);
        assert_eq!(merged.counts(), listing.counts(), "{name}");
        assert_eq!(merged.rows, rows, "{name}");
        assert!(
            merged.summary["notes"][0]
                .as_str()
                .unwrap()
                .starts_with("merged from 4 reports: shards 1/4, 2/4, 3/4, 4/4"),
            "{}",
            merged.summary
        );
        let requests = &merged.summary["requests"];
        assert!(
            requests["calls"].as_u64().unwrap() >= live as u64,
            "{requests}"
        );
    }
}

/// A manifest with `schema` and `format`, naming `files`, put into the destination bucket.
fn manifest(
    env: &TestEnv,
    name: &str,
    source: &str,
    format: &str,
    schema: &str,
    files: &[&str],
) -> String {
    let files: Vec<String> = files
        .iter()
        .map(|f| {
            format!(
                "{{\"key\": \"{f}\", \"size\": {}, \"MD5checksum\": \"00\"}}",
                object_size(env, f)
            )
        })
        .collect();
    let json = format!(
        "{{\"sourceBucket\": \"{source}\", \"destinationBucket\": \"arn:aws:s3:::{DEST}\", \"version\": \"2016-11-30\", \"creationTimestamp\": \"1764205200000\", \"fileFormat\": \"{format}\", \"fileSchema\": \"{schema}\", \"files\": [{}]}}",
        files.join(", ")
    );
    let key = format!("hand/{name}/manifest.json");
    env.lab.put_object(
        DEST,
        &key,
        ObjectSeed {
            body: bytes::Bytes::from(json),
            ..ObjectSeed::default()
        },
    );
    format!("s3://{DEST}/{key}")
}

fn object_size(env: &TestEnv, key: &str) -> usize {
    env.lab.object(DEST, key).map_or(0, |o| o.body.len())
}

fn publish_parquet(env: &TestEnv, name: &str, files: usize, versions: bool) -> String {
    let manifest = env.lab.handle().publish_parquet_inventory(
        BUCKET,
        &InventorySpec {
            destination: DEST.into(),
            prefix: format!("inventory/{BUCKET}/{name}/2026-11-27T01-00Z"),
            files,
            versions,
        },
    );
    format!("s3://{DEST}/{manifest}")
}

/// A Parquet inventory (feature `parquet`): keys as they are, typed fields. Of a versioned bucket
/// with noncurrent versions and delete markers, of every version and of current ones, it finds
/// exactly what a listing finds. Built without the feature, it is refused in one line.
#[tokio::test(flavor = "multi_thread")]
async fn a_parquet_inventory_finds_exactly_what_a_listing_finds() {
    const N: usize = 300;
    let env = TestEnv::new().await;
    env.lab.create_bucket(DEST);
    env.lab.set_versioning(BUCKET, true);
    for i in 0..N {
        put(&env, &key(i), i % 10 != 9);
    }
    // Noncurrent versions (the older one is bad, the current clean) and delete markers.
    for i in (0..N).step_by(20) {
        put(&env, &key(i), false);
    }
    for i in (5..N).step_by(50) {
        env.lab.delete_object(BUCKET, &key(i));
    }
    let every_version = publish_parquet(&env, "parquet-all", 2, true);
    let current = publish_parquet(&env, "parquet-current", 1, false);
    let written = env
        .lab
        .object(
            DEST,
            every_version.strip_prefix("s3://inventory-dest/").unwrap(),
        )
        .unwrap();
    let written: Value = serde_json::from_slice(&written.body).unwrap();
    assert_eq!(written["fileFormat"], "Parquet");
    assert!(
        written["fileSchema"]
            .as_str()
            .unwrap()
            .starts_with("message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8);"),
        "{written}"
    );

    let listing = Report::of(
        &env.s3mend(&["scan", "s3://test-bucket/", "--format", "json"])
            .await,
    );
    assert_eq!(listing.summary["listed"], (N - N.div_ceil(50)) as u64);
    for awkward in [
        "top 10.html",
        "dir01/plus+1.html",
        "unicodé/日本語/12 ü.html",
        "pct%25/03/100%3.css",
    ] {
        assert!(listing.rows.contains_key(awkward), "{awkward}");
    }
    for inventory in [&every_version, &current] {
        let run = env
            .s3mend(&[
                "scan",
                "s3://test-bucket/",
                "--format",
                "json",
                "--inventory",
                inventory,
            ])
            .await;
        if cfg!(feature = "parquet") {
            let report = Report::of(&run);
            assert_eq!(
                report.rows.keys().collect::<Vec<_>>(),
                listing.rows.keys().collect::<Vec<_>>(),
                "{inventory}"
            );
            assert_eq!(report.counts(), listing.counts(), "{inventory}");
            assert_eq!(
                proposals(report.rows.values()),
                proposals(listing.rows.values()),
                "{inventory}"
            );
        } else {
            assert_eq!(run.code, 2, "{}", run.stderr);
            let line = run.stderr.trim();
            assert!(
                line.contains("is in Parquet format: this s3mend was built without it (build with `cargo build --release --features parquet`)"),
                "{line}"
            );
            assert_eq!(line.lines().count(), 1, "one line: {line}");
        }
    }
    if cfg!(feature = "parquet") {
        // A data file that is not Parquet, and one of another size than the manifest says.
        env.lab.put_object(
            DEST,
            "hand/plain.csv",
            ObjectSeed {
                body: bytes::Bytes::from_static(b"\"test-bucket\",\"a.html\"\n"),
                ..ObjectSeed::default()
            },
        );
        let schema =
            "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); }";
        let plain = manifest(
            &env,
            "pq-plain",
            BUCKET,
            "Parquet",
            schema,
            &["hand/plain.csv"],
        );
        let data = written["files"][0]["key"].as_str().unwrap().to_owned();
        let mut json = env
            .lab
            .object(DEST, "hand/pq-plain/manifest.json")
            .unwrap()
            .body
            .to_vec();
        json = String::from_utf8(json)
            .unwrap()
            .replace("hand/plain.csv", &data)
            .replace(
                &format!("\"size\": {}", object_size(&env, "hand/plain.csv")),
                "\"size\": 7",
            )
            .into_bytes();
        env.lab.put_object(
            DEST,
            "hand/pq-size/manifest.json",
            ObjectSeed {
                body: bytes::Bytes::from(json),
                ..ObjectSeed::default()
            },
        );
        for (inventory, says) in [
            (
                plain,
                "inventory data file hand/plain.csv is not a Parquet file",
            ),
            (
                format!("s3://{DEST}/hand/pq-size/manifest.json"),
                "bytes, the manifest says 7",
            ),
        ] {
            let run = env
                .s3mend(&["scan", "s3://test-bucket/", "--inventory", &inventory])
                .await;
            assert_eq!(run.code, 2, "{inventory}: {}", run.stderr);
            assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_inventory_is_one_line_and_exit_2() {
    let env = TestEnv::new().await;
    env.lab.create_bucket(DEST);
    put(&env, "a.html", true);
    env.lab.put_object(
        DEST,
        "hand/plain.csv",
        ObjectSeed {
            body: bytes::Bytes::from_static(b"\"test-bucket\",\"a.html\"\n"),
            ..ObjectSeed::default()
        },
    );
    let good = publish(&env, "good", 1, false);
    let schema = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass";
    let cases = [
        (
            manifest(&env, "orc", BUCKET, "ORC", schema, &[]),
            "is in ORC format: not supported, use CSV or Parquet",
        ),
        (
            manifest(&env, "other", "other-bucket", "CSV", schema, &[]),
            "lists bucket \"other-bucket\", not \"test-bucket\"",
        ),
        (
            manifest(&env, "nokey", BUCKET, "CSV", "Bucket, Size, ETag", &[]),
            "has no Key column",
        ),
        (
            manifest(
                &env,
                "plain",
                BUCKET,
                "CSV",
                "Bucket, Key",
                &["hand/plain.csv"],
            ),
            "inventory data file hand/plain.csv is not gzip-compressed CSV",
        ),
        (
            manifest(
                &env,
                "absent",
                BUCKET,
                "CSV",
                "Bucket, Key",
                &["hand/none.csv.gz"],
            ),
            "inventory data file s3://inventory-dest/hand/none.csv.gz: NoSuchKey",
        ),
        (
            format!("s3://{DEST}/hand/missing/manifest.json"),
            "cannot read --inventory s3://inventory-dest/hand/missing/manifest.json",
        ),
    ];
    for (inventory, says) in cases {
        let run = env
            .s3mend(&[
                "scan",
                "s3://test-bucket/",
                "--format",
                "json",
                "--inventory",
                &inventory,
            ])
            .await;
        assert_eq!(run.code, 2, "{inventory}: {}", run.stderr);
        let line = run.stderr.trim();
        assert!(line.contains(says), "{says}: {line}");
        assert_eq!(line.lines().count(), 1, "one line: {line}");
    }
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("c.jsonl.gz");
    let state = dir.path().join("s.json");
    for (flag, path, says) in [
        (
            "--catalog",
            &catalog,
            "--catalog cannot go with --inventory",
        ),
        ("--state", &state, "--state cannot go with --inventory"),
    ] {
        let run = env
            .s3mend(&[
                "scan",
                "s3://test-bucket/",
                "--inventory",
                &good,
                flag,
                path.to_str().unwrap(),
            ])
            .await;
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    assert_eq!(
        env.lab.stats().count("HeadObject"),
        0,
        "nothing was inspected"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inventory_run_sees_objects_gone_since_and_not_those_written_since() {
    let env = TestEnv::new().await;
    env.lab.create_bucket(DEST);
    for name in [
        "a/one.html",
        "a/two.html",
        "a/three.css",
        "a/four.html",
        "b/five.html",
    ] {
        put(&env, name, true);
    }
    let inventory = publish(&env, "daily", 2, false);
    env.lab.delete_object(BUCKET, "a/two.html");
    put(&env, "a/new.html", true);
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/a/",
            "--format",
            "json",
            "--inventory",
            &inventory,
            "--exclude",
            "*.css",
        ])
        .await;
    let report = Report::of(&run);
    let statuses: Vec<(&str, &str)> = report
        .rows
        .iter()
        .map(|(k, r)| (k.as_str(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("a/four.html", "finding"),
            ("a/one.html", "finding"),
            ("a/two.html", "gone")
        ]
    );
    assert_eq!(report.summary["listed"], 3);
    assert_eq!(report.summary["gone"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sharded_fix_is_undone_from_all_its_journals_and_each_shard_keeps_its_own_state() {
    let env = TestEnv::new().await;
    let keys: Vec<String> = (0..60)
        .map(|i| format!("d{}/e{}/k{i}.html", i % 3, i % 4))
        .collect();
    for key in &keys {
        put(&env, key, true);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    // Kubernetes Indexed Job and AWS Batch array job: the index from the environment, from 0.
    for (i, env_vars) in [
        vec![("JOB_COMPLETION_INDEX", "0")],
        vec![
            ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
        ],
    ]
    .into_iter()
    .enumerate()
    {
        let (journal, state) = (path(&format!("j{i}.jsonl")), path(&format!("s{i}.json")));
        let mut args = vec![
            "fix",
            "s3://test-bucket/",
            "--yes",
            "--format",
            "json",
            "--shard",
            "auto",
            "--journal",
            &journal,
            "--state",
            &state,
        ];
        if i == 0 {
            args.extend(["--shard-count", "2"]);
        }
        let run = env.s3mend_with(&args, &env_vars).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json()["summary"]["shard"], format!("{}/2", i + 1));
    }
    for key in &keys {
        assert_eq!(
            env.lab.object(BUCKET, key).unwrap().content_encoding,
            None,
            "{key}"
        );
    }
    // Shard 2's state is refused by shard 1, and the other way round.
    let run = env
        .s3mend(&[
            "scan",
            "s3://test-bucket/",
            "--shard",
            "1/2",
            "--state",
            &path("s1.json"),
            "--resume",
        ])
        .await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("it is for shard 2/2, not shard 1/2"),
        "{}",
        run.stderr
    );

    let undo = env
        .s3mend(&[
            "undo",
            &path("j0.jsonl"),
            &path("j1.jsonl"),
            "--yes",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(undo.code, 0, "{}", undo.stderr);
    assert_eq!(undo.json()["summary"]["fixed"], keys.len() as u64);
    for key in &keys {
        let encoding = env.lab.object(BUCKET, key).unwrap().content_encoding;
        assert_eq!(encoding.as_deref(), Some("UTF-8"), "{key}");
    }
    let twice = env
        .s3mend(&["undo", &path("j0.jsonl"), &path("j0.jsonl"), "--yes"])
        .await;
    assert_eq!(twice.code, 2);
}
