//! [`LabHandle`]: the lab's direct helpers (seeding, inspecting, arming hooks and faults) as a
//! cheap cloneable value.
//!
//! A race hook runs inside the server and a test may want to drive the lab from other tasks,
//! so the helpers cannot live only on [`Lab`](super::Lab), which owns the server and stops it
//! on drop. `Lab` delegates every helper here, so there is one implementation.

use std::sync::Arc;
use std::time::Duration;

use super::acl;
use super::faults::Faults;
use super::headers::RequestAttrs;
use super::hooks::{HookPoint, Hooks};
use super::inject::{Armed, Inject};
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
    pub(super) hooks: Arc<Hooks<LabHandle>>,
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
            hooks: Arc::new(Hooks::default()),
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

    /// Makes CopyObject and UploadPartCopy ignore `x-amz-copy-source-if-*`, as moto does.
    pub fn set_copy_source_conditions_ignored(&self, bucket: &str, ignored: bool) {
        self.store.create_bucket(bucket);
        let _ = self.store.write(bucket, |b| {
            b.copy_source_conditions_ignored = ignored;
            Ok(())
        });
    }

    /// Makes CopyObject refuse a destination `If-Match` with 501, as stores without that S3
    /// feature (added in 2025) do.
    pub fn set_copy_if_match_supported(&self, bucket: &str, supported: bool) {
        self.store.create_bucket(bucket);
        let _ = self.store.write(bucket, |b| {
            b.copy_if_match_unsupported = !supported;
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
        let obj = StoredObject {
            owner_id: owner,
            ..attrs.into_object(seed.body)
        };
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

    /// Runs `hook` once, right before the lab handles the next CopyObject or
    /// CreateMultipartUpload whose destination is `bucket`/`key`: after the injected latency,
    /// before any condition is checked. Hooks for the same destination run one per request, in
    /// the order they were armed.
    pub fn before_next_copy(
        &self,
        bucket: &str,
        key: &str,
        hook: impl FnOnce(&LabHandle) + Send + 'static,
    ) {
        self.hooks.add(HookPoint::Copy, bucket, key, Box::new(hook));
    }

    /// Runs `hook` once, right before the lab handles the next HeadObject of `bucket`/`key`
    /// (after the injected latency): e.g. to delete the object between LIST and HEAD.
    pub fn before_next_head(
        &self,
        bucket: &str,
        key: &str,
        hook: impl FnOnce(&LabHandle) + Send + 'static,
    ) {
        self.hooks.add(HookPoint::Head, bucket, key, Box::new(hook));
    }

    /// Makes the next `count` requests of `operation` (an S3 operation name as in
    /// [`LabStats`], e.g. "CopyObject") on `key`, in any bucket, fail with 500 InternalError
    /// before they do anything. They are still counted. Replaces any `fail_next` or `stall_next`
    /// still armed for the same operation and key; `count` 0 disarms.
    pub fn fail_next(&self, operation: &str, key: &str, count: u32) {
        self.inject.add_fault(operation, key, count, Armed::Fail);
    }

    /// Makes the next `count` requests of `operation` on `key`, in any bucket, wait `stall`
    /// before they are handled, then answers them normally (for attempt timeouts). A client that
    /// gives up meanwhile closes the connection and the request is never applied. Replaces any
    /// `fail_next` or `stall_next` still armed for the same operation and key; `count` 0 disarms.
    pub fn stall_next(&self, operation: &str, key: &str, count: u32, stall: Duration) {
        self.inject
            .add_fault(operation, key, count, Armed::Stall(stall));
    }

    /// Replaces the seeded random faults; each operation's stream restarts from the seed. See
    /// [`Faults`] for what each fault does. `fail_next` failures still come first.
    pub fn set_faults(&self, faults: Faults) {
        self.inject.set_random(Some(faults));
    }

    /// Removes the random faults (not the `fail_next` ones).
    pub fn clear_faults(&self) {
        self.inject.set_random(None);
    }

    /// Runs the oldest hook armed for this request, if any.
    pub(super) fn run_hook(&self, point: HookPoint, bucket: &str, key: &str) {
        if let Some(hook) = self.hooks.take(point, bucket, key) {
            hook(self);
        }
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

    #[test]
    fn a_hook_may_write_and_arm_another() {
        let h = LabHandle::new();
        h.before_next_copy("b", "k", |h| {
            h.put_object("b", "k", ObjectSeed::with_body("w"));
            h.before_next_copy("b", "k", |h| h.fail_next("CopyObject", "k", 1));
        });
        h.run_hook(HookPoint::Copy, "b", "k");
        assert_eq!(&h.object("b", "k").unwrap().body[..], b"w");
        h.run_hook(HookPoint::Copy, "b", "k");
        assert!(h.inject.take_fault("CopyObject", "k").is_some());
        h.run_hook(HookPoint::Copy, "b", "k");
    }
}
