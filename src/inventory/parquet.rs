//! One S3 Inventory Parquet data file (`docs/s3-behaviour.md` §15), feature `parquet`: fields
//! named in lower_snake_case (`bucket`, `key`, `version_id`, `is_latest`, `is_delete_marker`,
//! `size`, `last_modified_date` in milliseconds, `e_tag`), keys as they are (not URL-encoded, as
//! in CSV). A Parquet file's index is its footer, so the file is read from a local copy
//! (`pipeline/inventory.rs`); rows are read one at a time, a row group's pages in memory.

use std::fs::File;

use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::reader::RowIter;
use ::parquet::record::{Field, Row};

use super::data::{one_line, quoted_etag, same_bucket};
use super::manifest::PARQUET_NAMES;
use super::InventoryObject;

/// The rows of one data file.
pub struct ParquetFile {
    rows: RowIter<'static>,
    bucket: String,
    name: String,
    row: u64,
}

impl ParquetFile {
    /// Opens the data file `name` (for messages) of `bucket`'s inventory: it must be Parquet and
    /// have a `key` field.
    pub fn open(file: File, bucket: &str, name: &str) -> Result<Self, String> {
        let reader = SerializedFileReader::new(file).map_err(|e| {
            format!(
                "inventory data file {name} is not a Parquet file: {}",
                one_line(&e)
            )
        })?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        if !schema.columns().iter().any(|c| c.name() == "key") {
            return Err(format!(
                "inventory data file {name} has no key field (its fields: {})",
                schema
                    .columns()
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(ParquetFile {
            rows: RowIter::from_file_into(Box::new(reader)),
            bucket: bucket.to_owned(),
            name: name.to_owned(),
            row: 0,
        })
    }

    /// The next object of the file, `None` at its end; an error ends the file.
    pub fn next_object(&mut self) -> Option<Result<InventoryObject, String>> {
        loop {
            let row = match self.rows.next()? {
                Ok(row) => row,
                Err(e) => {
                    return Some(Err(format!(
                        "inventory data file {} cannot be read after row {}: {}",
                        self.name,
                        self.row,
                        one_line(&e)
                    )))
                }
            };
            self.row += 1;
            match object(&row, &self.bucket) {
                Ok(Some(object)) => return Some(Ok(object)),
                Ok(None) => continue,
                Err(why) => {
                    return Some(Err(format!(
                        "inventory data file {} row {}: {why}",
                        self.name, self.row
                    )))
                }
            }
        }
    }
}

/// The values of one row that s3mend reads, by their place in `PARQUET_NAMES`.
fn fields(row: &Row) -> [Option<&Field>; 8] {
    let mut fields = [None; 8];
    for (name, field) in row.get_column_iter() {
        if let Some(i) = PARQUET_NAMES.iter().position(|n| n == name) {
            fields[i] = Some(field).filter(|f| !matches!(f, Field::Null));
        }
    }
    fields
}

fn text<'a>(field: Option<&'a Field>, name: &str) -> Result<Option<&'a str>, String> {
    match field {
        None => Ok(None),
        Some(Field::Str(text)) => Ok(Some(text.as_str()).filter(|t| !t.is_empty())),
        Some(Field::Bytes(bytes)) => std::str::from_utf8(bytes.data())
            .map(|t| Some(t).filter(|t| !t.is_empty()))
            .map_err(|_| format!("{name} is not UTF-8")),
        Some(other) => Err(format!("{name} is {other}, not text")),
    }
}

fn flag(field: Option<&Field>, name: &str) -> Result<Option<bool>, String> {
    match field {
        None => Ok(None),
        Some(Field::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(format!("{name} is {other}, not true or false")),
    }
}

/// One row: the object it lists, `None` for a delete marker or a noncurrent version; the same
/// rules as a CSV row (`data.rs`), the key taken as it is.
fn object(row: &Row, bucket: &str) -> Result<Option<InventoryObject>, String> {
    let [f_bucket, f_key, f_version, f_latest, f_marker, f_size, f_modified, f_etag] = fields(row);
    same_bucket(text(f_bucket, "bucket")?, bucket)?;
    if flag(f_marker, "is_delete_marker")? == Some(true)
        || flag(f_latest, "is_latest")? == Some(false)
    {
        return Ok(None);
    }
    let key = text(f_key, "key")?.ok_or("has an empty key")?;
    let size = match f_size {
        None => None,
        Some(Field::Long(n)) => Some(*n),
        Some(Field::Int(n)) => Some(i64::from(*n)),
        Some(other) => return Err(format!("size is {other}, not a number")),
    };
    let last_modified = match f_modified {
        None => None,
        Some(Field::TimestampMillis(ms)) | Some(Field::Long(ms)) => Some(millis(*ms)?),
        Some(Field::TimestampMicros(us)) => Some(millis(us.div_euclid(1000))?),
        Some(other) => return Err(format!("last_modified_date is {other}, not a time")),
    };
    let etag = text(f_etag, "e_tag")?.map(quoted_etag);
    Ok(Some(InventoryObject {
        key: key.to_owned(),
        version_id: text(f_version, "version_id")?.map(str::to_owned),
        size,
        etag,
        last_modified,
    }))
}

/// Milliseconds since the epoch as a CSV inventory writes the time: `2016-11-02T21:47:51.000Z`.
fn millis(ms: i64) -> Result<String, String> {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| format!("last_modified_date {ms} is out of range"))?;
    at.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .map_err(|e| format!("last_modified_date {ms}: {e}"))
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};
    use std::sync::Arc;

    use ::parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
    use ::parquet::file::properties::WriterProperties;
    use ::parquet::file::writer::SerializedFileWriter;

    use super::*;

    const SCHEMA: &str = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8);}";

    /// A row: bucket, key, version, latest, marker, size, modified (ms), etag.
    type Written<'a> = (
        &'a str,
        &'a str,
        &'a str,
        bool,
        bool,
        Option<i64>,
        i64,
        Option<&'a str>,
    );

    fn file(schema: &str, rows: &[Written]) -> File {
        let schema = Arc::new(::parquet::schema::parser::parse_message_type(schema).unwrap());
        let props = Arc::new(WriterProperties::builder().build());
        let mut writer = SerializedFileWriter::new(Vec::new(), schema, props).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let text = |f: &dyn Fn(&Written) -> Option<String>| -> (Vec<ByteArray>, Vec<i16>) {
            let values: Vec<Option<String>> = rows.iter().map(f).collect();
            let defs = values.iter().map(|v| i16::from(v.is_some())).collect();
            let values = values
                .into_iter()
                .flatten()
                .map(|v| v.into_bytes().into())
                .collect();
            (values, defs)
        };
        let mut at = 0;
        while let Some(mut column) = group.next_column().unwrap() {
            match at {
                0 | 1 => {
                    let (values, _) = text(&|r| Some(if at == 0 { r.0 } else { r.1 }.to_owned()));
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&values, None, None)
                        .unwrap();
                }
                2 | 7 => {
                    let (values, defs) =
                        text(&|r| if at == 2 { Some(r.2) } else { r.7 }.map(str::to_owned));
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&values, Some(&defs), None)
                        .unwrap();
                }
                3 | 4 => {
                    let values: Vec<bool> = rows
                        .iter()
                        .map(|r| if at == 3 { r.3 } else { r.4 })
                        .collect();
                    let defs = vec![1; rows.len()];
                    column
                        .typed::<BoolType>()
                        .write_batch(&values, Some(&defs), None)
                        .unwrap();
                }
                _ => {
                    let values: Vec<Option<i64>> = rows
                        .iter()
                        .map(|r| if at == 5 { r.5 } else { Some(r.6) })
                        .collect();
                    let defs: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
                    let values: Vec<i64> = values.into_iter().flatten().collect();
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&defs), None)
                        .unwrap();
                }
            }
            column.close().unwrap();
            at += 1;
        }
        group.close().unwrap();
        let bytes = writer.into_inner().unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        file.rewind().unwrap();
        file
    }

    fn objects(file: File) -> Result<Vec<InventoryObject>, String> {
        let mut rows = ParquetFile::open(file, "b", "data/1.parquet")?;
        std::iter::from_fn(|| rows.next_object()).collect()
    }

    #[test]
    fn rows_become_current_objects_with_keys_as_they_are() {
        let rows: [Written; 4] = [
            (
                "b",
                "a+b %2B/ü.html",
                "v1",
                true,
                false,
                Some(12),
                1_478_122_071_000,
                Some("9b2cf535f27731c974343645a3985328"),
            ),
            (
                "b",
                "a+b %2B/ü.html",
                "v0",
                false,
                false,
                Some(3),
                1_478_000_000_000,
                Some("d41d8cd98f00b204e9800998ecf8427e"),
            ),
            (
                "b",
                "gone.html",
                "v3",
                true,
                true,
                None,
                1_478_122_071_000,
                None,
            ),
            (
                "b",
                "multi.bin",
                "v4",
                true,
                false,
                Some(0),
                1_478_122_071_007,
                Some("c4ca4238a0b923820dcc509a6f75849b-2"),
            ),
        ];
        assert_eq!(
            objects(file(SCHEMA, &rows)).unwrap(),
            [
                InventoryObject {
                    key: "a+b %2B/ü.html".into(),
                    version_id: Some("v1".into()),
                    size: Some(12),
                    etag: Some("\"9b2cf535f27731c974343645a3985328\"".into()),
                    last_modified: Some("2016-11-02T21:27:51.000Z".into()),
                },
                InventoryObject {
                    key: "multi.bin".into(),
                    version_id: Some("v4".into()),
                    size: Some(0),
                    etag: Some("\"c4ca4238a0b923820dcc509a6f75849b-2\"".into()),
                    last_modified: Some("2016-11-02T21:27:51.007Z".into()),
                },
            ]
        );
    }

    #[test]
    fn a_wrong_file_is_one_line_naming_it() {
        let other: [Written; 1] = [("other", "k", "v", true, false, Some(1), 0, Some("e"))];
        let err = objects(file(SCHEMA, &other)).unwrap_err();
        assert!(
            err.starts_with(
                "inventory data file data/1.parquet row 1: lists bucket \"other\", not \"b\""
            ),
            "{err}"
        );
        let mut plain = tempfile::tempfile().unwrap();
        plain.write_all(b"\"b\",\"k\"\n").unwrap();
        plain.rewind().unwrap();
        let err = objects(plain).unwrap_err();
        assert!(
            err.starts_with("inventory data file data/1.parquet is not a Parquet file"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn times_are_written_as_in_csv() {
        assert_eq!(
            millis(1_478_122_071_000).as_deref(),
            Ok("2016-11-02T21:27:51.000Z")
        );
        assert_eq!(millis(7).as_deref(), Ok("1970-01-01T00:00:00.007Z"));
    }
}
