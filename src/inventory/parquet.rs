//! One S3 Inventory Parquet data file (`docs/s3-behaviour.md` §15), feature `parquet`: fields
//! named in lower_snake_case (`bucket`, `key`, `version_id`, `is_latest`, `is_delete_marker`,
//! `size`, `last_modified_date` in milliseconds, `e_tag`), keys as they are (not URL-encoded, as
//! in CSV). A Parquet file's index is its footer, so the file is read from a local copy
//! (`pipeline/inventory.rs`); rows are read one at a time, a row group's pages in memory.

use std::fs::File;

use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::reader::RowIter;
use ::parquet::record::{Field, Row};

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

fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
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
    if let Some(listed) = text(f_bucket, "bucket")?.filter(|b| *b != bucket) {
        return Err(format!("lists bucket {listed:?}, not {bucket:?}"));
    }
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
    let etag = text(f_etag, "e_tag")?.map(|tag| {
        if tag.starts_with('"') {
            tag.to_owned()
        } else {
            format!("\"{tag}\"")
        }
    });
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
    use super::*;

    #[test]
    fn times_are_written_as_in_csv() {
        assert_eq!(
            millis(1_478_122_071_000).as_deref(),
            Ok("2016-11-02T21:27:51.000Z")
        );
        assert_eq!(millis(7).as_deref(), Ok("1970-01-01T00:00:00.007Z"));
    }
}
