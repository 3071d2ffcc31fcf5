//! An S3 Inventory `manifest.json` (`docs/s3-behaviour.md` §15): checked before the first
//! request to the scanned bucket, so that a wrong inventory is one line and exit 2, not a run.

use serde::Deserialize;

use crate::shard::Shard;

/// The manifest as S3 Inventory writes it (fields s3mend does not read are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    source_bucket: String,
    /// Milliseconds since the epoch, as a string.
    #[serde(default)]
    creation_timestamp: Option<String>,
    file_format: String,
    file_schema: String,
    files: Vec<DataFileEntry>,
}

/// One data file the manifest names, in the bucket the manifest is in.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DataFileEntry {
    pub key: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default, rename = "MD5checksum")]
    pub md5: Option<String>,
}

/// Where each column s3mend reads is in a row: the `fileSchema`'s order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// How many columns a row has.
    pub count: usize,
    pub bucket: Option<usize>,
    pub key: usize,
    pub version_id: Option<usize>,
    pub is_latest: Option<usize>,
    pub is_delete_marker: Option<usize>,
    pub size: Option<usize>,
    pub last_modified: Option<usize>,
    pub etag: Option<usize>,
}

/// How the shards of a run divide the inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Each shard reads its own data files: file `i` goes to shard `i mod N`.
    Files,
    /// Fewer files than shards: every shard reads every file and keeps the keys that hash to it.
    Rows,
}

/// How the data files are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Gzip-compressed CSV, keys URL-encoded (`data.rs`).
    Csv,
    /// Apache Parquet, keys as they are (`parquet.rs`, feature `parquet`).
    Parquet,
}

/// A checked manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub source_bucket: String,
    pub format: Format,
    /// When S3 took the inventory (RFC 3339), if the manifest says.
    pub taken: Option<String>,
    pub columns: Columns,
    pub files: Vec<DataFileEntry>,
}

/// The manifest at `location` (for messages), which must list `bucket`'s objects.
pub fn parse(json: &[u8], bucket: &str, location: &str) -> Result<Manifest, String> {
    let raw: RawManifest = serde_json::from_slice(json)
        .map_err(|e| format!("--inventory {location} is not an S3 Inventory manifest.json: {e}"))?;
    let format = match raw.file_format.to_ascii_uppercase().as_str() {
        "CSV" => Format::Csv,
        "PARQUET" if cfg!(feature = "parquet") => Format::Parquet,
        "PARQUET" => {
            return Err(format!(
                "--inventory {location} is in Parquet format: this s3mend was built without it (build with `cargo build --release --features parquet`), or configure the inventory with Output format CSV"
            ))
        }
        "ORC" => {
            return Err(format!(
                "--inventory {location} is in {} format: not supported, use CSV or Parquet (configure the inventory with Output format CSV)",
                raw.file_format
            ))
        }
        other => {
            return Err(format!(
                "--inventory {location} has fileFormat {other:?}: s3mend reads CSV and Parquet inventories"
            ))
        }
    };
    if raw.source_bucket != bucket {
        return Err(format!(
            "--inventory {location} lists bucket {:?}, not {bucket:?}: give the inventory of the bucket scanned",
            raw.source_bucket
        ));
    }
    let columns = match format {
        Format::Csv => columns(&raw.file_schema, &CSV_NAMES),
        Format::Parquet => parquet_names(&raw.file_schema)
            .and_then(|names| columns(&names.join(", "), &PARQUET_NAMES)),
    }
    .map_err(|why| format!("--inventory {location}: fileSchema {why}"))?;
    Ok(Manifest {
        source_bucket: raw.source_bucket,
        format,
        taken: raw
            .creation_timestamp
            .as_deref()
            .and_then(rfc3339_of_millis),
        columns,
        files: raw.files,
    })
}

/// What each format calls the columns s3mend reads: Bucket, Key, VersionId, IsLatest,
/// IsDeleteMarker, Size, LastModifiedDate, ETag (`docs/s3-behaviour.md` §15).
pub const CSV_NAMES: [&str; 8] = [
    "Bucket",
    "Key",
    "VersionId",
    "IsLatest",
    "IsDeleteMarker",
    "Size",
    "LastModifiedDate",
    "ETag",
];
pub const PARQUET_NAMES: [&str; 8] = [
    "bucket",
    "key",
    "version_id",
    "is_latest",
    "is_delete_marker",
    "size",
    "last_modified_date",
    "e_tag",
];

/// The field names of a Parquet `fileSchema`, in order: `message s3.inventory { required binary
/// bucket (UTF8); optional int64 size; … }` (a repetition, a type, the name, an optional
/// annotation; newer reports write `(STRING)` and `(TIMESTAMP(MILLIS,true))`).
fn parquet_names(schema: &str) -> Result<Vec<String>, String> {
    let body = schema
        .trim()
        .strip_prefix("message")
        .and_then(|rest| rest.split_once('{'))
        .and_then(|(_, body)| body.trim_end().strip_suffix('}'))
        .ok_or_else(|| format!("{schema:?} is not a Parquet message type"))?;
    body.split(';')
        .map(str::trim)
        .filter(|field| !field.is_empty())
        .map(|field| {
            let mut words = field.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("required" | "optional"), Some(_), Some(name)) => {
                    Ok(name.split('(').next().unwrap_or(name).to_owned())
                }
                _ => Err(format!(
                    "{schema:?} has a field {field:?} s3mend does not read"
                )),
            }
        })
        .collect()
}

/// The columns of a `fileSchema` given as its names, comma separated ("Bucket, Key, VersionId,
/// …" in CSV), which `names` (`CSV_NAMES` or `PARQUET_NAMES`) calls what they are.
fn columns(schema: &str, names_of: &[&str; 8]) -> Result<Columns, String> {
    let [bucket, key_name, version_id, is_latest, is_delete_marker, size, modified, etag] =
        *names_of;
    let names: Vec<&str> = schema.split(',').map(str::trim).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(format!("{schema:?} has an empty column name"));
    }
    let find = |name: &str| -> Result<Option<usize>, String> {
        let mut at = names.iter().enumerate().filter(|(_, n)| **n == name);
        match (at.next(), at.next()) {
            (Some(_), Some(_)) => Err(format!("{schema:?} names {name} twice")),
            (first, None) => Ok(first.map(|(i, _)| i)),
            (None, Some(_)) => unreachable!("a second match without a first"),
        }
    };
    let key = find(key_name)?.ok_or_else(|| format!("{schema:?} has no {key_name} column"))?;
    let versions = (find(is_latest)?, find(is_delete_marker)?);
    if find(version_id)?.is_some() && versions.0.is_none() {
        return Err(format!(
            "{schema:?} lists versions ({version_id}) but has no {is_latest} column"
        ));
    }
    Ok(Columns {
        count: names.len(),
        bucket: find(bucket)?,
        key,
        version_id: find(version_id)?,
        is_latest: versions.0,
        is_delete_marker: versions.1,
        size: find(size)?,
        last_modified: find(modified)?,
        etag: find(etag)?,
    })
}

fn rfc3339_of_millis(millis: &str) -> Option<String> {
    let millis: i64 = millis.parse().ok()?;
    let at =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

impl Manifest {
    /// How `shard` divides the files.
    pub fn split(&self, shard: Option<Shard>) -> Split {
        match shard {
            Some(shard) if self.files.len() < shard.count as usize => Split::Rows,
            _ => Split::Files,
        }
    }

    /// The data files `shard` reads, in the manifest's order.
    pub fn files_for(&self, shard: Option<Shard>) -> Vec<DataFileEntry> {
        let split = self.split(shard);
        self.files
            .iter()
            .enumerate()
            .filter(|(i, _)| match (shard, split) {
                (Some(shard), Split::Files) => shard.owns_file(*i),
                _ => true,
            })
            .map(|(_, file)| file.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the S3 User Guide ("Inventory manifest"), with every optional field.
    pub(crate) const AWS_EXAMPLE: &str = r#"{
        "sourceBucket": "example-source-bucket",
        "destinationBucket": "arn:aws:s3:::example-inventory-destination-bucket",
        "version": "2016-11-30",
        "creationTimestamp" : "1514944800000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus, IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm, ObjectAccessControlList, ObjectOwner",
        "files": [
            {
                "key": "Inventory/example-source-bucket/2016-11-06T21-32Z/files/939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz",
                "size": 2147483647,
                "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"
            }
        ]
    }"#;

    const AT: &str = "s3://inv/m.json";

    fn with(field: &str, value: &str) -> String {
        let mut json: serde_json::Value = serde_json::from_str(AWS_EXAMPLE).unwrap();
        json[field] = serde_json::Value::String(value.to_owned());
        json.to_string()
    }

    #[test]
    fn reads_the_aws_example() {
        let manifest = parse(AWS_EXAMPLE.as_bytes(), "example-source-bucket", AT).unwrap();
        assert_eq!(manifest.taken.as_deref(), Some("2018-01-03T02:00:00Z"));
        assert_eq!(
            manifest.columns,
            Columns {
                count: 20,
                bucket: Some(0),
                key: 1,
                version_id: Some(2),
                is_latest: Some(3),
                is_delete_marker: Some(4),
                size: Some(5),
                last_modified: Some(6),
                etag: Some(7),
            }
        );
        assert_eq!(manifest.files.len(), 1);
        assert_eq!(manifest.files[0].size, Some(2147483647));
        assert_eq!(
            manifest.files[0].md5.as_deref(),
            Some("f11166069f1990abeb9c97ace9cdfabc")
        );
    }

    #[test]
    fn a_current_versions_inventory_needs_only_bucket_and_key() {
        let json = with("fileSchema", "Bucket, Key");
        let manifest = parse(json.as_bytes(), "example-source-bucket", AT).unwrap();
        assert_eq!(manifest.columns.count, 2);
        assert_eq!((manifest.columns.key, manifest.columns.size), (1, None));
    }

    #[test]
    fn refuses_what_it_cannot_read_in_one_line() {
        let cases = [
            (
                with("fileFormat", "ORC"),
                "is in ORC format: not supported, use CSV or Parquet",
            ),
            (with("fileFormat", "TSV"), "has fileFormat \"TSV\""),
            (
                with("sourceBucket", "other"),
                "lists bucket \"other\", not \"example-source-bucket\"",
            ),
            (with("fileSchema", "Bucket, Size"), "has no Key column"),
            (with("fileSchema", "Bucket, Key, Key"), "names Key twice"),
            (
                with("fileSchema", "Bucket,, Key"),
                "has an empty column name",
            ),
            (
                with("fileSchema", "Bucket, Key, VersionId"),
                "lists versions (VersionId) but has no IsLatest column",
            ),
            ("{}".to_owned(), "is not an S3 Inventory manifest.json"),
            ("<xml/>".to_owned(), "is not an S3 Inventory manifest.json"),
        ];
        for (json, says) in cases {
            let err = parse(json.as_bytes(), "example-source-bucket", AT).unwrap_err();
            assert!(err.contains(says), "{says}: {err}");
            assert!(err.starts_with("--inventory s3://inv/m.json"), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    /// The Parquet example of the S3 User Guide ("Inventory manifest"), as its `fileSchema` is
    /// written there and as newer reports write it (`STRING`, `TIMESTAMP(MILLIS,true)`).
    const PARQUET_SCHEMAS: [&str; 2] = [
        "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); optional boolean is_multipart_uploaded; optional binary replication_status (UTF8); optional binary encryption_status (UTF8); optional int64 object_lock_retain_until_date (TIMESTAMP_MILLIS); optional binary object_lock_mode (UTF8); optional binary object_lock_legal_hold_status (UTF8); optional binary intelligent_tiering_access_tier (UTF8); optional binary bucket_key_status (UTF8); optional binary checksum_algorithm (UTF8); optional binary object_access_control_list (UTF8); optional binary object_owner (UTF8);}",
        "message s3.inventory {  required binary bucket (STRING);  required binary key (STRING);  optional binary version_id (STRING);  optional boolean is_latest;  optional boolean is_delete_marker;  optional int64 size;  optional int64 last_modified_date (TIMESTAMP(MILLIS,true));  optional binary e_tag (STRING);  optional binary storage_class (STRING);  optional boolean is_multipart_uploaded;}",
    ];

    fn parquet(schema: &str) -> String {
        let mut json: serde_json::Value =
            serde_json::from_str(&with("fileFormat", "Parquet")).unwrap();
        json["fileSchema"] = serde_json::Value::String(schema.to_owned());
        json.to_string()
    }

    #[cfg(feature = "parquet")]
    #[test]
    fn reads_a_parquet_manifest_by_its_field_names() {
        for (schema, count) in PARQUET_SCHEMAS.into_iter().zip([20, 10]) {
            let manifest = parse(parquet(schema).as_bytes(), "example-source-bucket", AT).unwrap();
            assert_eq!(manifest.format, Format::Parquet);
            assert_eq!(
                manifest.columns,
                Columns {
                    count,
                    bucket: Some(0),
                    key: 1,
                    version_id: Some(2),
                    is_latest: Some(3),
                    is_delete_marker: Some(4),
                    size: Some(5),
                    last_modified: Some(6),
                    etag: Some(7),
                }
            );
        }
        for (schema, says) in [
            ("Bucket, Key", "is not a Parquet message type"),
            (
                "message s3.inventory { required binary bucket (UTF8); }",
                "has no key column",
            ),
            (
                "message s3.inventory { required binary key (UTF8); group x { }; }",
                "has a field",
            ),
            (
                "message s3.inventory { required binary key (UTF8); optional binary version_id (UTF8); }",
                "lists versions (version_id) but has no is_latest column",
            ),
        ] {
            let err = parse(parquet(schema).as_bytes(), "example-source-bucket", AT).unwrap_err();
            assert!(err.contains(says), "{says}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[cfg(not(feature = "parquet"))]
    #[test]
    fn a_parquet_manifest_says_to_build_with_the_feature() {
        let err = parse(
            parquet(PARQUET_SCHEMAS[0]).as_bytes(),
            "example-source-bucket",
            AT,
        )
        .unwrap_err();
        assert!(
            err.starts_with("--inventory s3://inv/m.json is in Parquet format: this s3mend was built without it (build with `cargo build --release --features parquet`)"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn shards_take_files_round_robin_or_all_files_when_too_few() {
        let mut manifest = parse(AWS_EXAMPLE.as_bytes(), "example-source-bucket", AT).unwrap();
        let file = manifest.files[0].clone();
        manifest.files = (0..6)
            .map(|i| DataFileEntry {
                key: format!("f{i}"),
                ..file.clone()
            })
            .collect();
        let shard = |i, n| Some(Shard { index: i, count: n });
        assert_eq!(manifest.split(None), Split::Files);
        assert_eq!(manifest.files_for(None).len(), 6);
        assert_eq!(manifest.split(shard(0, 4)), Split::Files);
        let keys =
            |s| -> Vec<String> { manifest.files_for(s).into_iter().map(|f| f.key).collect() };
        assert_eq!(keys(shard(0, 4)), ["f0", "f4"]);
        assert_eq!(keys(shard(1, 4)), ["f1", "f5"]);
        assert_eq!(keys(shard(3, 4)), ["f3"]);
        assert_eq!(manifest.split(shard(6, 7)), Split::Rows);
        assert_eq!(keys(shard(6, 7)).len(), 6);
    }
}
