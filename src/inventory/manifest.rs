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

/// A checked manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub source_bucket: String,
    /// When S3 took the inventory (RFC 3339), if the manifest says.
    pub taken: Option<String>,
    pub columns: Columns,
    pub files: Vec<DataFileEntry>,
}

/// The manifest at `location` (for messages), which must list `bucket`'s objects.
pub fn parse(json: &[u8], bucket: &str, location: &str) -> Result<Manifest, String> {
    let raw: RawManifest = serde_json::from_slice(json)
        .map_err(|e| format!("--inventory {location} is not an S3 Inventory manifest.json: {e}"))?;
    match raw.file_format.to_ascii_uppercase().as_str() {
        "CSV" => {}
        "ORC" | "PARQUET" => {
            return Err(format!(
                "--inventory {location} is in {} format: not supported, use CSV (configure the inventory with Output format CSV)",
                raw.file_format
            ))
        }
        other => {
            return Err(format!(
                "--inventory {location} has fileFormat {other:?}: s3mend reads CSV inventories"
            ))
        }
    }
    if raw.source_bucket != bucket {
        return Err(format!(
            "--inventory {location} lists bucket {:?}, not {bucket:?}: give the inventory of the bucket scanned",
            raw.source_bucket
        ));
    }
    let columns = columns(&raw.file_schema)
        .map_err(|why| format!("--inventory {location}: fileSchema {why}"))?;
    Ok(Manifest {
        source_bucket: raw.source_bucket,
        taken: raw
            .creation_timestamp
            .as_deref()
            .and_then(rfc3339_of_millis),
        columns,
        files: raw.files,
    })
}

/// The columns of a CSV `fileSchema` ("Bucket, Key, VersionId, …").
fn columns(schema: &str) -> Result<Columns, String> {
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
    let key = find("Key")?.ok_or_else(|| format!("{schema:?} has no Key column"))?;
    let versions = (find("IsLatest")?, find("IsDeleteMarker")?);
    if find("VersionId")?.is_some() && versions.0.is_none() {
        return Err(format!(
            "{schema:?} lists versions (VersionId) but has no IsLatest column"
        ));
    }
    Ok(Columns {
        count: names.len(),
        bucket: find("Bucket")?,
        key,
        version_id: find("VersionId")?,
        is_latest: versions.0,
        is_delete_marker: versions.1,
        size: find("Size")?,
        last_modified: find("LastModifiedDate")?,
        etag: find("ETag")?,
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
                "is in ORC format: not supported, use CSV",
            ),
            (
                with("fileFormat", "Parquet"),
                "is in Parquet format: not supported, use CSV",
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
