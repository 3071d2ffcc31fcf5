//! One S3 Inventory CSV data file (`docs/s3-behaviour.md` §15): gzip-compressed, no header row,
//! every value quoted, the columns in the manifest's `fileSchema` order, keys URL-encoded like an
//! HTML form. Streamed: memory holds one row, however large the file.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;
use percent_encoding::percent_decode_str;

use super::Columns;
use crate::model::ListedObject;

/// An object the inventory lists: a current version, not a delete marker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InventoryObject {
    pub key: String,
    pub version_id: Option<String>,
    pub size: Option<i64>,
    /// Quoted, as a listing gives it (the inventory writes the bare hex).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl InventoryObject {
    /// As a listing entry: what the inspect stage takes. Its HEAD reads the key's current
    /// version, which may be newer than the inventory's.
    pub fn listed(self) -> ListedObject {
        ListedObject {
            key: self.key,
            size: self.size.unwrap_or(0),
            etag: self.etag,
            last_modified: self.last_modified,
        }
    }
}

/// Decodes a key of an inventory CSV file: `+` is a space, `%XX` a byte (a literal `+` is
/// `%2B`), and the bytes must be UTF-8, as S3 keys are.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| format!("key {raw:?} does not decode to UTF-8"))
}

/// The rows of one data file.
pub struct DataFile<R: Read> {
    rows: csv::Reader<MultiGzDecoder<io::Chain<io::Cursor<Vec<u8>>, R>>>,
    record: csv::StringRecord,
    columns: Columns,
    bucket: String,
    name: String,
    row: u64,
}

impl<R: Read> DataFile<R> {
    /// Opens the data file `name` (for messages) of `bucket`'s inventory: it must be gzip.
    pub fn open(mut body: R, columns: Columns, bucket: &str, name: &str) -> Result<Self, String> {
        let mut magic = Vec::with_capacity(2);
        (&mut body)
            .take(2)
            .read_to_end(&mut magic)
            .map_err(|e| format!("inventory data file {name}: {e}"))?;
        if magic != [0x1f, 0x8b] {
            return Err(format!(
                "inventory data file {name} is not gzip-compressed CSV (S3 Inventory writes .csv.gz)"
            ));
        }
        let gunzip = MultiGzDecoder::new(io::Cursor::new(magic).chain(body));
        let rows = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(gunzip);
        Ok(DataFile {
            rows,
            record: csv::StringRecord::new(),
            columns,
            bucket: bucket.to_owned(),
            name: name.to_owned(),
            row: 0,
        })
    }

    /// The next object of the file, `None` at its end; an error ends the file.
    pub fn next_object(&mut self) -> Option<Result<InventoryObject, String>> {
        loop {
            match self.rows.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    return Some(Err(format!(
                        "inventory data file {} cannot be read after row {}: {}",
                        self.name,
                        self.row,
                        one_line(&e)
                    )))
                }
            }
            self.row += 1;
            match row(&self.record, &self.columns, &self.bucket) {
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

/// An error's text on one line, for the one-line error a bad data file gives.
pub(super) fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

/// A row (CSV or Parquet) must list the bucket scanned, when it names one.
pub(super) fn same_bucket(listed: Option<&str>, bucket: &str) -> Result<(), String> {
    match listed.filter(|b| *b != bucket) {
        Some(listed) => Err(format!("lists bucket {listed:?}, not {bucket:?}")),
        None => Ok(()),
    }
}

/// An inventory's ETag (bare hex) quoted as a listing gives it.
pub(super) fn quoted_etag(tag: &str) -> String {
    if tag.starts_with('"') {
        tag.to_owned()
    } else {
        format!("\"{tag}\"")
    }
}

/// One row: the object it lists, `None` for a delete marker or a noncurrent version.
pub fn row(
    record: &csv::StringRecord,
    columns: &Columns,
    bucket: &str,
) -> Result<Option<InventoryObject>, String> {
    if record.len() != columns.count {
        return Err(format!(
            "has {} values, the fileSchema names {} columns",
            record.len(),
            columns.count
        ));
    }
    let field = |at: Option<usize>| at.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
    let flag = |at: Option<usize>, name: &str| match field(at) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(format!("{name} is {other:?}, not true or false")),
    };
    same_bucket(field(columns.bucket), bucket)?;
    if flag(columns.is_delete_marker, "IsDeleteMarker")? == Some(true)
        || flag(columns.is_latest, "IsLatest")? == Some(false)
    {
        return Ok(None);
    }
    let raw = record.get(columns.key).unwrap_or_default();
    if raw.is_empty() {
        return Err("has an empty Key".to_owned());
    }
    let size = match field(columns.size) {
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| format!("Size {text:?} is not a number"))?,
        ),
        None => None,
    };
    let etag = field(columns.etag).map(quoted_etag);
    Ok(Some(InventoryObject {
        key: decode_key(raw)?,
        version_id: field(columns.version_id).map(str::to_owned),
        size,
        etag,
        last_modified: field(columns.last_modified).map(str::to_owned),
    }))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::inventory::manifest;

    /// The schema of a versioned inventory with the usual optional fields.
    fn columns() -> Columns {
        let json = r#"{"sourceBucket": "b", "fileFormat": "CSV", "files": [],
            "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass"}"#;
        manifest::parse(json.as_bytes(), "b", "s3://i/m.json")
            .unwrap()
            .columns
    }

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn objects(text: &str) -> Result<Vec<InventoryObject>, String> {
        let gz = gzip(text);
        let mut file = DataFile::open(gz.as_slice(), columns(), "b", "data/1.csv.gz")?;
        std::iter::from_fn(|| file.next_object()).collect()
    }

    #[test]
    fn keys_decode_like_a_form_as_s3_inventory_encodes_them() {
        for (raw, key) in [
            ("plain/key.html", "plain/key.html"),
            ("with+space.html", "with space.html"),
            ("plus%2Bsign.html", "plus+sign.html"),
            ("100%25.html", "100%.html"),
            (
                "unicod%C3%A9/%E6%97%A5%E6%9C%AC%E8%AA%9E.html",
                "unicodé/日本語.html",
            ),
            ("control%01char%7F", "control\u{1}char\u{7f}"),
            ("tab%09and%0Anewline", "tab\tand\nnewline"),
            ("q%3Fx%23y%26z%3D", "q?x#y&z="),
        ] {
            assert_eq!(decode_key(raw).as_deref(), Ok(key), "{raw}");
        }
        let err = decode_key("bad%FF").unwrap_err();
        assert!(err.contains("does not decode to UTF-8"), "{err}");
    }

    #[test]
    fn rows_become_current_objects() {
        let text = concat!(
            "\"b\",\"a+b.html\",\"v1\",\"true\",\"false\",\"12\",\"2026-11-02T21:47:51.000Z\",\"9b2cf535f27731c974343645a3985328\",\"STANDARD\"\n",
            "\"b\",\"a%2Bb.html\",\"v2\",\"false\",\"false\",\"12\",\"2026-11-01T00:00:00.000Z\",\"d41d8cd98f00b204e9800998ecf8427e\",\"STANDARD\"\n",
            "\"b\",\"gone.html\",\"v3\",\"true\",\"true\",\"\",\"2026-11-02T00:00:00.000Z\",\"\",\"\"\n",
            "\"b\",\"multi.bin\",\"\",\"true\",\"false\",\"0\",\"2026-11-02T00:00:00.000Z\",\"c4ca4238a0b923820dcc509a6f75849b-2\",\"GLACIER\"\n",
        );
        let objects = objects(text).unwrap();
        assert_eq!(
            objects,
            [
                InventoryObject {
                    key: "a b.html".into(),
                    version_id: Some("v1".into()),
                    size: Some(12),
                    etag: Some("\"9b2cf535f27731c974343645a3985328\"".into()),
                    last_modified: Some("2026-11-02T21:47:51.000Z".into()),
                },
                InventoryObject {
                    key: "multi.bin".into(),
                    version_id: None,
                    size: Some(0),
                    etag: Some("\"c4ca4238a0b923820dcc509a6f75849b-2\"".into()),
                    last_modified: Some("2026-11-02T00:00:00.000Z".into()),
                },
            ]
        );
        let listed = objects[0].clone().listed();
        assert_eq!((listed.key.as_str(), listed.size), ("a b.html", 12));
    }

    #[test]
    fn an_empty_file_has_no_rows() {
        assert_eq!(objects(""), Ok(Vec::new()));
    }

    #[test]
    fn a_damaged_file_is_one_line_naming_it() {
        let good = "\"b\",\"k\",\"\",\"true\",\"false\",\"1\",\"\",\"e\",\"STANDARD\"\n";
        for (text, says) in [
            (
                "\"b\",\"k\"\n",
                "row 2: has 2 values, the fileSchema names 9 columns",
            ),
            (
                "\"other\",\"k\",\"\",\"true\",\"false\",\"1\",\"\",\"e\",\"S\"\n",
                "lists bucket \"other\", not \"b\"",
            ),
            (
                "\"b\",\"k\",\"\",\"yes\",\"false\",\"1\",\"\",\"e\",\"S\"\n",
                "IsLatest is \"yes\"",
            ),
            (
                "\"b\",\"k\",\"\",\"true\",\"false\",\"big\",\"\",\"e\",\"S\"\n",
                "Size \"big\" is not a number",
            ),
            (
                "\"b\",\"\",\"\",\"true\",\"false\",\"1\",\"\",\"e\",\"S\"\n",
                "has an empty Key",
            ),
            (
                "\"b\",\"k%C3\",\"\",\"true\",\"false\",\"1\",\"\",\"e\",\"S\"\n",
                "does not decode to UTF-8",
            ),
        ] {
            let text = format!("{good}{text}");
            let err = objects(&text).unwrap_err();
            assert!(err.contains(says), "{says}: {err}");
            assert!(
                err.starts_with("inventory data file data/1.csv.gz"),
                "{err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn a_file_that_is_not_gzip_is_refused() {
        let plain = b"\"b\",\"k\"\n";
        let err = DataFile::open(&plain[..], columns(), "b", "data/1.csv")
            .err()
            .unwrap();
        assert!(
            err.contains("data/1.csv is not gzip-compressed CSV"),
            "{err}"
        );
        let err = DataFile::open(&b""[..], columns(), "b", "e.csv.gz")
            .err()
            .unwrap();
        assert!(err.contains("is not gzip"), "{err}");
        // Cut short: the gzip stream never ends.
        let gz = gzip(&"\"b\",\"k\",\"\",\"true\",\"false\",\"1\",\"\",\"e\",\"S\"\n".repeat(1000));
        let cut = &gz[..gz.len() / 2];
        let mut file = DataFile::open(cut, columns(), "b", "cut.csv.gz").unwrap();
        let err = std::iter::from_fn(|| file.next_object())
            .find_map(Result::err)
            .expect("a cut file fails");
        assert!(err.contains("cut.csv.gz cannot be read"), "{err}");
    }
}
