//! S3 Inventory reports of a lab bucket, written as S3 writes a CSV inventory
//! (`docs/s3-behaviour.md` §15 in s3mend), or a Parquet one (`publish_parquet_inventory`, keys as
//! they are): gzip-compressed data files without a header row, every
//! value quoted, keys URL-encoded as an HTML form encodes them (a space is `+`, a `+` is `%2B`,
//! `/` is `%2F`), ETags bare; a `manifest.json` naming them with their size and MD5, and a
//! `manifest.checksum`. Rows go to the files in turn, so each file is in key order and the files
//! together are not.

use std::fmt::Write as _;
use std::io::Write as _;

use md5::{Digest, Md5};

use super::model::{ObjectSeed, StoredObject};
use super::LabHandle;

/// What to write, and where.
#[derive(Clone, Debug)]
pub struct InventorySpec {
    /// The bucket the report goes to.
    pub destination: String,
    /// Where in it, e.g. `inventory/site/daily/2026-11-27T01-00Z`: the data files go under
    /// `PREFIX/data/`, the manifest is `PREFIX/manifest.json`.
    pub prefix: String,
    /// How many data files the rows are spread over (at least one).
    pub files: usize,
    /// List every version (the VersionId, IsLatest and IsDeleteMarker columns), as an inventory
    /// configured with "Include all versions"; otherwise current versions only.
    pub versions: bool,
}

const SCHEMA_CURRENT: &str = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass";
const SCHEMA_VERSIONS: &str =
    "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass";

impl LabHandle {
    /// Writes an inventory of `bucket` as it is now into `spec.destination`; returns the key of
    /// its `manifest.json`.
    pub fn publish_inventory(&self, bucket: &str, spec: &InventorySpec) -> String {
        let files = spec.files.max(1);
        let mut writers: Vec<_> = (0..files)
            .map(|_| flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()))
            .collect();
        let mut rows = 0usize;
        let mut line = String::new();
        let _ = self.store.read(bucket, |b| {
            for (key, versions) in &b.objects {
                let newest = versions.len().saturating_sub(1);
                for (i, version) in versions.iter().enumerate().rev() {
                    let latest = i == newest;
                    if !spec.versions && (!latest || version.delete_marker) {
                        continue;
                    }
                    line.clear();
                    row(
                        &mut line,
                        bucket,
                        key,
                        version,
                        spec.versions.then_some(latest),
                    );
                    let _ = writers[rows % files].write_all(line.as_bytes());
                    rows += 1;
                }
            }
            Ok(())
        });
        let bodies = writers
            .into_iter()
            .map(|writer| writer.finish().unwrap_or_default())
            .collect();
        let schema = if spec.versions {
            SCHEMA_VERSIONS
        } else {
            SCHEMA_CURRENT
        };
        self.write_report(bucket, spec, "CSV", schema, "csv.gz", bodies)
    }

    /// Writes the data files `bodies` and a manifest naming them; returns the manifest's key.
    fn write_report(
        &self,
        bucket: &str,
        spec: &InventorySpec,
        format: &str,
        schema: &str,
        extension: &str,
        bodies: Vec<Vec<u8>>,
    ) -> String {
        let mut entries = Vec::new();
        for (i, body) in bodies.into_iter().enumerate() {
            let key = format!(
                "{}/data/{i:04}-{}.{extension}",
                spec.prefix,
                &hex::encode(Md5::digest(format!("{bucket}{i}")))[..12]
            );
            entries.push(format!(
                "{{\"key\": \"{key}\", \"size\": {}, \"MD5checksum\": \"{}\"}}",
                body.len(),
                hex::encode(Md5::digest(&body))
            ));
            self.put_object(&spec.destination, &key, seed(body));
        }
        let created = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let manifest = format!(
            "{{\n  \"sourceBucket\": \"{bucket}\",\n  \"destinationBucket\": \"arn:aws:s3:::{}\",\n  \"version\": \"2016-11-30\",\n  \"creationTimestamp\": \"{created}\",\n  \"fileFormat\": \"{format}\",\n  \"fileSchema\": \"{schema}\",\n  \"files\": [\n    {}\n  ]\n}}\n",
            spec.destination,
            entries.join(",\n    ")
        );
        let checksum = hex::encode(Md5::digest(manifest.as_bytes()));
        let manifest_key = format!("{}/manifest.json", spec.prefix);
        self.put_object(
            &spec.destination,
            &manifest_key,
            seed(manifest.into_bytes()),
        );
        self.put_object(
            &spec.destination,
            &format!("{}/manifest.checksum", spec.prefix),
            seed(checksum.into_bytes()),
        );
        manifest_key
    }
}

/// The `fileSchema` of a Parquet report, as the S3 User Guide's example manifest writes it
/// ("Inventory manifest"): field names in lower_snake_case, `UTF8` text, times in milliseconds.
const PARQUET_CURRENT: &str = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8);}";
const PARQUET_VERSIONS: &str = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8);}";

/// The values of one Parquet column, `None` a null.
enum Column {
    Text(Vec<Option<String>>),
    Flag(Vec<Option<bool>>),
    Long(Vec<Option<i64>>),
}

impl LabHandle {
    /// Writes an inventory of `bucket` as it is now into `spec.destination` as S3 writes a
    /// Parquet report: Snappy-compressed Parquet data files, keys as they are (not URL-encoded),
    /// `last_modified_date` in milliseconds, ETags bare; the manifest's `fileFormat` is
    /// `Parquet` and its `fileSchema` the Parquet message type. Returns the manifest's key.
    pub fn publish_parquet_inventory(&self, bucket: &str, spec: &InventorySpec) -> String {
        let files = spec.files.max(1);
        // Each file's columns, in the schema's order.
        let mut columns: Vec<Vec<Column>> = (0..files)
            .map(|_| {
                let mut c = vec![Column::Text(Vec::new()), Column::Text(Vec::new())];
                if spec.versions {
                    c.extend([
                        Column::Text(Vec::new()),
                        Column::Flag(Vec::new()),
                        Column::Flag(Vec::new()),
                    ]);
                }
                c.extend([
                    Column::Long(Vec::new()),
                    Column::Long(Vec::new()),
                    Column::Text(Vec::new()),
                    Column::Text(Vec::new()),
                ]);
                c
            })
            .collect();
        let mut rows = 0usize;
        let _ = self.store.read(bucket, |b| {
            for (key, versions) in &b.objects {
                let newest = versions.len().saturating_sub(1);
                for (i, version) in versions.iter().enumerate().rev() {
                    let latest = i == newest;
                    let marker = version.delete_marker;
                    if !spec.versions && (!latest || marker) {
                        continue;
                    }
                    let millis = (version.last_modified.unix_timestamp_nanos() / 1_000_000) as i64;
                    let mut values = vec![
                        Value::Text(Some(bucket.to_owned())),
                        Value::Text(Some(key.clone())),
                    ];
                    if spec.versions {
                        values.extend([
                            Value::Text(version.version_id.clone()),
                            Value::Flag(Some(latest)),
                            Value::Flag(Some(marker)),
                        ]);
                    }
                    let (size, etag, class) = if marker {
                        (None, None, None)
                    } else {
                        (
                            Some(version.body.len() as i64),
                            Some(version.etag.trim_matches('"').to_owned()),
                            Some(
                                version
                                    .storage_class
                                    .clone()
                                    .unwrap_or_else(|| "STANDARD".to_owned()),
                            ),
                        )
                    };
                    values.extend([
                        Value::Long(size),
                        Value::Long(Some(millis)),
                        Value::Text(etag),
                        Value::Text(class),
                    ]);
                    for (column, value) in columns[rows % files].iter_mut().zip(values) {
                        column.push(value);
                    }
                    rows += 1;
                }
            }
            Ok(())
        });
        let schema = if spec.versions {
            PARQUET_VERSIONS
        } else {
            PARQUET_CURRENT
        };
        let bodies = columns
            .into_iter()
            .map(|columns| parquet_file(schema, columns))
            .collect();
        self.write_report(bucket, spec, "Parquet", schema, "parquet", bodies)
    }
}

/// One value of a row, for the column of its kind.
enum Value {
    Text(Option<String>),
    Flag(Option<bool>),
    Long(Option<i64>),
}

impl Column {
    fn push(&mut self, value: Value) {
        match (self, value) {
            (Column::Text(c), Value::Text(v)) => c.push(v),
            (Column::Flag(c), Value::Flag(v)) => c.push(v),
            (Column::Long(c), Value::Long(v)) => c.push(v),
            _ => unreachable!("a value of another kind than its column"),
        }
    }
}

/// One Parquet file of `columns` (in `schema`'s order), one row group, Snappy-compressed.
fn parquet_file(schema: &str, columns: Vec<Column>) -> Vec<u8> {
    use parquet::basic::Compression;
    use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;

    /// The values present and, for a nullable column, each row's definition level.
    fn levels<T>(values: Vec<Option<T>>, nullable: bool) -> (Vec<T>, Option<Vec<i16>>) {
        let defs = nullable.then(|| values.iter().map(|v| i16::from(v.is_some())).collect());
        (values.into_iter().flatten().collect(), defs)
    }

    let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).expect("schema"));
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props).expect("writer");
    let mut group = writer.next_row_group().expect("row group");
    let mut columns = columns.into_iter().enumerate();
    while let Some(mut out) = group.next_column().expect("column") {
        let (at, column) = columns.next().expect("a column for each field");
        // bucket and key are required, every other field optional.
        let nullable = at >= 2;
        match column {
            Column::Text(values) => {
                let (values, defs) = levels(values, nullable);
                let values: Vec<ByteArray> =
                    values.into_iter().map(|v| v.into_bytes().into()).collect();
                out.typed::<ByteArrayType>()
                    .write_batch(&values, defs.as_deref(), None)
                    .expect("text column");
            }
            Column::Flag(values) => {
                let (values, defs) = levels(values, nullable);
                out.typed::<BoolType>()
                    .write_batch(&values, defs.as_deref(), None)
                    .expect("flag column");
            }
            Column::Long(values) => {
                let (values, defs) = levels(values, nullable);
                out.typed::<Int64Type>()
                    .write_batch(&values, defs.as_deref(), None)
                    .expect("number column");
            }
        }
        out.close().expect("column");
    }
    group.close().expect("row group");
    writer.into_inner().expect("parquet file")
}

fn seed(body: Vec<u8>) -> ObjectSeed {
    ObjectSeed {
        body: bytes::Bytes::from(body),
        ..ObjectSeed::default()
    }
}

/// One CSV line: `latest` is `Some` in an inventory of every version.
fn row(out: &mut String, bucket: &str, key: &str, version: &StoredObject, latest: Option<bool>) {
    let marker = version.delete_marker;
    let etag = version.etag.trim_matches('"');
    let modified = version
        .last_modified
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    // S3 writes milliseconds: 2026-11-27T01:02:03.000Z.
    let modified = match modified.strip_suffix('Z') {
        Some(t) if !t.contains('.') => format!("{t}.000Z"),
        _ => modified,
    };
    let _ = write!(out, "\"{bucket}\",\"{}\"", encode(key));
    if let Some(latest) = latest {
        let id = version.version_id.as_deref().unwrap_or("");
        let _ = write!(out, ",\"{id}\",\"{latest}\",\"{marker}\"");
    }
    let (size, etag, class) = if marker {
        (String::new(), "", "")
    } else {
        (
            version.body.len().to_string(),
            etag,
            version.storage_class.as_deref().unwrap_or("STANDARD"),
        )
    };
    let _ = writeln!(out, ",\"{size}\",\"{modified}\",\"{etag}\",\"{class}\"");
}

/// As an HTML form (Java's URLEncoder) encodes: letters, digits and `.-*_` stay, a space is `+`,
/// every other byte of the UTF-8 is `%XX`.
fn encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for &b in key.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_a_form() {
        assert_eq!(encode("a b+c/ü%.html"), "a+b%2Bc%2F%C3%BC%25.html");
    }
}
