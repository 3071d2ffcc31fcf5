//! S3 Inventory reports of a lab bucket, written as S3 writes a CSV inventory
//! (`docs/s3-behaviour.md` §15 in s3mend): gzip-compressed data files without a header row, every
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
        let mut entries = Vec::new();
        for (i, writer) in writers.into_iter().enumerate() {
            let body = writer.finish().unwrap_or_default();
            let key = format!(
                "{}/data/{i:04}-{}.csv.gz",
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
            "{{\n  \"sourceBucket\": \"{bucket}\",\n  \"destinationBucket\": \"arn:aws:s3:::{}\",\n  \"version\": \"2016-11-30\",\n  \"creationTimestamp\": \"{created}\",\n  \"fileFormat\": \"CSV\",\n  \"fileSchema\": \"{}\",\n  \"files\": [\n    {}\n  ]\n}}\n",
            spec.destination,
            if spec.versions { SCHEMA_VERSIONS } else { SCHEMA_CURRENT },
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
