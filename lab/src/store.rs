//! The in-memory backend: buckets of keys, each key a list of versions, plus open uploads.
//!
//! One `RwLock` per bucket (and one around the bucket map) keeps HEADs concurrent and makes a
//! read-check-write (a conditional copy, say) atomic within a bucket. Every operation is a
//! lookup or a `BTreeMap` range: nothing is O(number of objects) except listing pages.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use md5::{Digest, Md5};
use parking_lot::RwLock;
use s3s::{s3_error, S3Result};
use time::OffsetDateTime;

use super::model::StoredObject;
use super::multipart::Upload;
use super::ownership::AclMode;
#[cfg(feature = "testing")]
use super::quirks::Quirks;

/// Versioning state of a bucket, as GetBucketVersioning reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

/// One bucket: its settings, every key's versions (oldest first) and its open multipart uploads.
#[derive(Debug)]
pub struct Bucket {
    pub created: OffsetDateTime,
    pub versioning: Versioning,
    pub acl_mode: AclMode,
    /// `false`: a store without annotations (`annotations.rs` answers 501, and so does a copy
    /// with the default annotation directive, as on a directory bucket).
    pub annotations: bool,
    /// Where tests make the bucket behave like another store than S3.
    #[cfg(feature = "testing")]
    pub quirks: Quirks,
    pub objects: BTreeMap<String, Vec<StoredObject>>,
    pub uploads: BTreeMap<String, Upload>,
}

/// Why a read found no object.
#[derive(Debug)]
pub enum Missing {
    NoKey,
    /// The current version is a delete marker (with its version id).
    DeleteMarker(Option<String>),
    NoVersion,
    /// A version id that names a delete marker: S3 answers 405.
    VersionIsDeleteMarker(Option<String>),
}

impl Bucket {
    pub fn new() -> Self {
        Self {
            created: now(),
            versioning: Versioning::Unversioned,
            acl_mode: AclMode::Enabled,
            annotations: true,
            #[cfg(feature = "testing")]
            quirks: Quirks::default(),
            objects: BTreeMap::new(),
            uploads: BTreeMap::new(),
        }
    }

    /// The current version, which may be a delete marker.
    pub fn current(&self, key: &str) -> Option<&StoredObject> {
        self.objects.get(key).and_then(|v| v.last())
    }

    /// The current live object (not a delete marker).
    pub fn live(&self, key: &str) -> Option<&StoredObject> {
        self.current(key).filter(|o| !o.delete_marker)
    }

    /// A read as GET/HEAD/copy-source do it: the current version, or a pinned one.
    pub fn lookup(&self, key: &str, version_id: Option<&str>) -> Result<&StoredObject, Missing> {
        let versions = self.objects.get(key);
        match version_id {
            None => match versions.and_then(|v| v.last()) {
                None => Err(Missing::NoKey),
                Some(o) if o.delete_marker => Err(Missing::DeleteMarker(o.version_id.clone())),
                Some(o) => Ok(o),
            },
            Some(vid) => {
                let found = versions.and_then(|v| {
                    v.iter()
                        .find(|o| o.version_id.as_deref().unwrap_or("null") == vid)
                });
                match found {
                    None => Err(Missing::NoVersion),
                    Some(o) if o.delete_marker => {
                        Err(Missing::VersionIsDeleteMarker(o.version_id.clone()))
                    }
                    Some(o) => Ok(o),
                }
            }
        }
    }

    /// A mutable pinned or current version (for tagging and ACL updates, which do not create versions).
    pub fn lookup_mut(
        &mut self,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<&mut StoredObject> {
        let versions = self
            .objects
            .get_mut(key)
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        let found = match version_id {
            None => versions.last_mut().filter(|o| !o.delete_marker),
            Some(vid) => versions
                .iter_mut()
                .find(|o| o.version_id.as_deref().unwrap_or("null") == vid),
        };
        match found {
            Some(o) if o.delete_marker => Err(s3_error!(MethodNotAllowed)),
            Some(o) => Ok(o),
            None if version_id.is_some() => Err(s3_error!(NoSuchVersion)),
            None => Err(s3_error!(NoSuchKey)),
        }
    }

    /// Stores a new current version: a fresh version id when versioning is enabled, else the
    /// null version is replaced. Returns what was stored.
    pub fn insert(&mut self, key: &str, mut obj: StoredObject) -> StoredObject {
        let versions = self.objects.entry(key.to_owned()).or_default();
        if self.versioning == Versioning::Enabled {
            obj.version_id = Some(new_version_id());
        } else {
            obj.version_id = None;
            versions.retain(|o| o.version_id.is_some());
        }
        versions.push(obj.clone());
        obj
    }

    /// DeleteObject: a delete marker when versioned, removal otherwise, or removal of one version.
    pub fn delete(&mut self, key: &str, version_id: Option<&str>) -> StoredObject {
        if let Some(vid) = version_id {
            let mut removed = StoredObject {
                version_id: Some(vid.to_owned()),
                ..StoredObject::default()
            };
            if let Some(versions) = self.objects.get_mut(key) {
                if let Some(pos) = versions
                    .iter()
                    .position(|o| o.version_id.as_deref().unwrap_or("null") == vid)
                {
                    removed = versions.remove(pos);
                }
                if versions.is_empty() {
                    self.objects.remove(key);
                }
            }
            return removed;
        }
        match self.versioning {
            Versioning::Unversioned => {
                self.objects.remove(key);
                StoredObject::default()
            }
            _ => {
                let marker = StoredObject {
                    delete_marker: true,
                    last_modified: now(),
                    owner_id: super::acl::LAB_OWNER_ID.to_owned(),
                    ..StoredObject::default()
                };
                self.insert(key, marker)
            }
        }
    }
}

/// All buckets.
#[derive(Debug, Default)]
pub struct Store {
    buckets: RwLock<BTreeMap<String, Arc<RwLock<Bucket>>>>,
}

impl Store {
    /// Creates a bucket; `false` when it already existed (S3: BucketAlreadyOwnedByYou).
    pub fn create_bucket(&self, name: &str) -> bool {
        // Seeding calls this once per object: the shared read lock keeps that cheap.
        if self.buckets.read().contains_key(name) {
            return false;
        }
        let mut buckets = self.buckets.write();
        if buckets.contains_key(name) {
            return false;
        }
        buckets.insert(name.to_owned(), Arc::new(RwLock::new(Bucket::new())));
        true
    }

    pub fn delete_bucket(&self, name: &str) -> S3Result<()> {
        let mut buckets = self.buckets.write();
        let bucket = buckets.get(name).ok_or_else(|| s3_error!(NoSuchBucket))?;
        if !bucket.read().objects.is_empty() {
            return Err(s3_error!(BucketNotEmpty));
        }
        buckets.remove(name);
        Ok(())
    }

    /// Names and creation times, sorted by name.
    pub fn bucket_list(&self) -> Vec<(String, OffsetDateTime)> {
        let buckets = self.buckets.read();
        buckets
            .iter()
            .map(|(n, b)| (n.clone(), b.read().created))
            .collect()
    }

    fn bucket(&self, name: &str) -> S3Result<Arc<RwLock<Bucket>>> {
        self.buckets
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    /// Runs `f` with the bucket read-locked.
    pub fn read<R>(&self, name: &str, f: impl FnOnce(&Bucket) -> S3Result<R>) -> S3Result<R> {
        let bucket = self.bucket(name)?;
        let guard = bucket.read();
        f(&guard)
    }

    /// Runs `f` with the bucket write-locked, so its checks and its write are one atomic step.
    pub fn write<R>(&self, name: &str, f: impl FnOnce(&mut Bucket) -> S3Result<R>) -> S3Result<R> {
        let bucket = self.bucket(name)?;
        let mut guard = bucket.write();
        f(&mut guard)
    }
}

/// Now, truncated to milliseconds like S3 keeps it.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    let ms = t.millisecond();
    t.replace_millisecond(ms).unwrap_or(t)
}

/// `"<md5 hex>"`: the etag of a single-part object.
pub fn md5_etag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(body)))
}

static VERSION_COUNTER: AtomicU64 = AtomicU64::new(1);

/// A new opaque, unique, URL-safe version id.
pub fn new_version_id() -> String {
    let n = VERSION_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{:016x}{n:016x}", nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_insert_keeps_noncurrent_versions() {
        let mut b = Bucket::new();
        b.versioning = Versioning::Enabled;
        let first = b.insert("k", StoredObject::default());
        let second = b.insert("k", StoredObject::default());
        assert_ne!(first.version_id, second.version_id);
        assert_eq!(b.objects["k"].len(), 2);
        assert_eq!(b.current("k").unwrap().version_id, second.version_id);
        let vid = first.version_id.unwrap();
        assert!(b.lookup("k", Some(&vid)).is_ok());
    }

    #[test]
    fn unversioned_insert_replaces() {
        let mut b = Bucket::new();
        b.insert("k", StoredObject::default());
        b.insert("k", StoredObject::default());
        assert_eq!(b.objects["k"].len(), 1);
    }

    #[test]
    fn delete_marker_hides_the_object() {
        let mut b = Bucket::new();
        b.versioning = Versioning::Enabled;
        b.insert("k", StoredObject::default());
        b.delete("k", None);
        assert!(matches!(
            b.lookup("k", None),
            Err(Missing::DeleteMarker(Some(_)))
        ));
    }

    #[test]
    fn md5_etag_is_quoted_hex() {
        assert_eq!(md5_etag(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    }
}
