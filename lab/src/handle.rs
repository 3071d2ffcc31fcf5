//! [`LabHandle`]: the lab's direct helpers (seeding, inspecting, settings) as a cheap cloneable
//! value. The ones that only tests use (arming hooks and faults, other stores' quirks) are in
//! `testing.rs`.
//!
//! A race hook runs inside the server and a test may want to drive the lab from other tasks,
//! so the helpers cannot live only on [`Lab`](super::Lab), which owns the server and stops it
//! on drop. `Lab` delegates every helper here, so there is one implementation.

use std::sync::Arc;

use super::acl;
use super::headers::RequestAttrs;
#[cfg(feature = "testing")]
use super::hooks::Hooks;
#[cfg(feature = "testing")]
use super::inject::Inject;
use super::model::{ObjectSeed, StoredObject};
use super::ownership::AclMode;
use super::region::{LabRegion, LAB_REGION};
use super::stats::{Counters, LabStats};
use super::store::{Store, Versioning};

/// A handle on a running lab's state; clones share it. It does not keep the server running.
#[derive(Clone)]
pub struct LabHandle {
    pub(super) store: Arc<Store>,
    pub(super) counters: Arc<Counters>,
    #[cfg(feature = "testing")]
    pub(super) hooks: Arc<Hooks<LabHandle>>,
    #[cfg(feature = "testing")]
    pub(super) inject: Arc<Inject>,
    /// Set when the lab was started in a region of its own.
    pub(super) region: Option<Arc<LabRegion>>,
}

impl std::fmt::Debug for LabHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabHandle").finish_non_exhaustive()
    }
}

impl LabHandle {
    pub(super) fn new() -> Self {
        Self {
            store: Arc::new(Store::default()),
            counters: Arc::new(Counters::default()),
            #[cfg(feature = "testing")]
            hooks: Arc::new(Hooks::default()),
            #[cfg(feature = "testing")]
            inject: Arc::new(Inject::default()),
            region: None,
        }
    }

    /// The region the lab's buckets are in.
    pub fn region(&self) -> &str {
        self.region.as_deref().map_or(LAB_REGION, |r| &r.name)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LabStats {
        self.counters.snapshot()
    }

    pub fn reset_stats(&self) {
        self.counters.reset();
    }

    /// Creates a bucket (no-op if it exists).
    pub fn create_bucket(&self, bucket: &str) {
        self.store.create_bucket(bucket);
    }

    /// Enables versioning, or suspends it (a never-versioned bucket stays unversioned).
    pub fn set_versioning(&self, bucket: &str, enabled: bool) {
        self.store.create_bucket(bucket);
        let _ = self.store.write(bucket, |b| {
            b.versioning = match (enabled, b.versioning) {
                (true, _) => Versioning::Enabled,
                (false, Versioning::Unversioned) => Versioning::Unversioned,
                (false, _) => Versioning::Suspended,
            };
            Ok(())
        });
    }

    /// Sets how the bucket treats ACLs (creating it if needed). Stored grants are kept, as S3
    /// keeps them when ACLs are disabled, so switching back shows them again.
    pub fn set_acl_mode(&self, bucket: &str, mode: AclMode) {
        self.store.create_bucket(bucket);
        let _ = self.store.write(bucket, |b| {
            b.acl_mode = mode;
            Ok(())
        });
    }

    /// Makes the bucket a store with annotations (the default) or without: then every
    /// annotation request answers 501 NotImplemented, and so does a CopyObject with the default
    /// annotation directive (COPY), as on an S3 directory bucket; EXCLUDE copies.
    pub fn set_annotations_supported(&self, bucket: &str, supported: bool) {
        self.store.create_bucket(bucket);
        let _ = self.store.write(bucket, |b| {
            b.annotations = supported;
            Ok(())
        });
    }

    /// Stores an object directly (creating the bucket if needed), as a PUT would.
    pub fn put_object(&self, bucket: &str, key: &str, seed: ObjectSeed) -> StoredObject {
        self.store.create_bucket(bucket);
        let owner = seed
            .owner_id
            .unwrap_or_else(|| acl::LAB_OWNER_ID.to_owned());
        let grants = if !seed.grants.is_empty() {
            seed.grants
        } else {
            seed.acl
                .as_deref()
                .and_then(|a| acl::canned_for(a, &owner).ok())
                .unwrap_or_else(|| acl::private_for(&owner))
        };
        let attrs = RequestAttrs {
            content_type: seed.content_type,
            content_encoding: seed.content_encoding,
            cache_control: seed.cache_control,
            content_disposition: seed.content_disposition,
            content_language: seed.content_language,
            expires: seed.expires,
            metadata: seed.metadata,
            storage_class: seed.storage_class,
            website_redirect_location: seed.website_redirect_location,
            server_side_encryption: seed.server_side_encryption,
            ssekms_key_id: seed.ssekms_key_id,
            bucket_key_enabled: seed.bucket_key_enabled,
            sse_customer_algorithm: seed.sse_customer_algorithm,
            sse_customer_key_md5: seed.sse_customer_key_md5,
            object_lock_mode: seed.object_lock_mode,
            object_lock_retain_until: seed.object_lock_retain_until,
            object_lock_legal_hold: seed.object_lock_legal_hold,
            tags: Some(seed.tags),
            acl: acl::AclHeaders::default(),
            grants: Some(grants),
        };
        let mut obj = StoredObject {
            owner_id: owner,
            ..attrs.into_object(seed.body)
        };
        if let Some(algorithm) = &seed.checksum_algorithm {
            obj.checksum = super::checksum::full_object(algorithm, &obj.body);
        }
        obj.annotations = seed
            .annotations
            .into_iter()
            .map(|(name, payload)| (name, super::model::Annotation::new(payload)))
            .collect();
        self.store
            .write(bucket, |b| Ok(b.insert(key, obj.clone())))
            .unwrap_or(obj)
    }

    /// The current version (`None` if absent or a delete marker).
    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        self.store
            .read(bucket, |b| Ok(b.live(key).cloned()))
            .ok()
            .flatten()
    }

    /// Deletes the object as DeleteObject without a version id would: removed, or in a
    /// versioned bucket hidden behind a new delete marker.
    pub fn delete_object(&self, bucket: &str, key: &str) {
        let _ = self.store.write(bucket, |b| Ok(b.delete(key, None)));
    }

    /// Sets the canned ACL (`private`, `public-read`…) of the current version, as PutObjectAcl
    /// does: neither the ETag nor Last-Modified changes. Nothing happens to an absent object.
    pub fn put_object_acl(&self, bucket: &str, key: &str, canned: &str) {
        let _ = self.store.write(bucket, |b| {
            let obj = b.lookup_mut(key, None)?;
            obj.grants = acl::canned_for(canned, &obj.owner_id.clone())?;
            Ok(())
        });
    }

    /// Every version and delete marker of a key, newest first.
    pub fn versions(&self, bucket: &str, key: &str) -> Vec<StoredObject> {
        self.store
            .read(bucket, |b| {
                Ok(b.objects
                    .get(key)
                    .map(|v| v.iter().rev().cloned().collect())
                    .unwrap_or_default())
            })
            .unwrap_or_default()
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_multipart_uploads(&self, bucket: &str) -> usize {
        self.store
            .read(bucket, |b| Ok(b.uploads.len()))
            .unwrap_or(0)
    }

    /// Number of keys whose current version is a live object.
    pub fn object_count(&self, bucket: &str) -> usize {
        self.store
            .read(bucket, |b| {
                Ok(b.objects
                    .values()
                    .filter(|v| v.last().is_some_and(|o| !o.delete_marker))
                    .count())
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn handle_can_move_into_tasks_and_hooks() {
        shareable::<LabHandle>();
    }
}
