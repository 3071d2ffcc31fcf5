//! What a run learns about the server and the bucket, once, and every repair then relies on:
//! whose objects may be copied, whether the bucket has ACLs, whether copies may carry the
//! destination `If-Match`, and whether the server enforces the copy-source condition at all.
//!
//! The app makes it (with the caller's id, the one fact learnt before the first object), hands it
//! to the repairer, and reads what was learnt for the report's notes when the run is over.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::model::{ObjectAcl, S3Failure};

/// What the run has learned about the bucket's ACL support.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AclSupport {
    /// Read ACLs and carry them in each copy.
    Used = 0,
    /// The server answers 501 to ACL calls (Garage, s3s-fs): go on without ACLs.
    NotImplemented = 1,
    /// The bucket refuses ACLs (Object Ownership = BucketOwnerEnforced): send none.
    Disabled = 2,
}

/// Shared by every repair of a run; each fact changes at most once, from the default.
#[derive(Debug)]
pub struct Capabilities {
    /// The caller's canonical id: a copy makes the caller the owner, so objects of other
    /// accounts are skipped. `None` when it cannot be learned.
    caller_id: Option<String>,
    acl: AtomicU8,
    /// Whether to send the destination If-Match (dropped once if the server refuses it).
    destination_if_match: AtomicBool,
    /// Whether the server enforces copy-source-if-match, probed once before the first copy.
    source_condition: tokio::sync::OnceCell<Result<bool, S3Failure>>,
    /// Why the versions under a versioned repair could not be checked, the first time it
    /// happened (`landing.rs`).
    versions_unchecked: std::sync::OnceLock<String>,
}

impl Capabilities {
    /// Nothing learnt yet but the caller's id.
    pub fn new(caller_id: Option<String>) -> Self {
        Capabilities {
            caller_id,
            acl: AtomicU8::new(AclSupport::Used as u8),
            destination_if_match: AtomicBool::new(true),
            source_condition: tokio::sync::OnceCell::new(),
            versions_unchecked: std::sync::OnceLock::new(),
        }
    }

    /// The bucket's ownership controls say BucketOwnerEnforced (`write::acls_disabled`): no
    /// object's ACL is read, and no copy carries grants.
    pub fn acls_disabled(self, disabled: bool) -> Self {
        if disabled {
            self.acl
                .store(AclSupport::Disabled as u8, Ordering::Relaxed);
        }
        self
    }

    pub fn acl_support(&self) -> AclSupport {
        match self.acl.load(Ordering::Relaxed) {
            1 => AclSupport::NotImplemented,
            2 => AclSupport::Disabled,
            _ => AclSupport::Used,
        }
    }

    /// Learns from an ACL request's failure whether the bucket has no ACLs; `false` when the
    /// failure says nothing of the kind (it is then the object's error).
    pub fn learn_from_acl_failure(&self, failure: &S3Failure) -> bool {
        let support = if failure.code == "NotImplemented" || failure.http_status == Some(501) {
            AclSupport::NotImplemented
        } else if failure.code == "AccessControlListNotSupported" {
            AclSupport::Disabled
        } else {
            return false;
        };
        self.acl.store(support as u8, Ordering::Relaxed);
        true
    }

    /// Whether the caller may not copy an object with this ACL: another account owns it.
    pub fn is_foreign(&self, acl: &ObjectAcl) -> bool {
        matches!((&self.caller_id, &acl.owner_id), (Some(caller), Some(owner)) if caller != owner)
    }

    /// Whether copies may also be conditional on the destination's ETag.
    pub fn destination_conditions(&self) -> bool {
        self.destination_if_match.load(Ordering::Relaxed)
    }

    /// The server refused the destination `If-Match` (501): copies go without it from now on.
    pub fn refuse_destination_conditions(&self) {
        self.destination_if_match.store(false, Ordering::Relaxed);
    }

    /// The versions under a repair's copy could not be checked, for `why`: noted once.
    pub fn versions_unchecked(&self, why: &str) {
        let _ = self.versions_unchecked.set(why.to_owned());
    }

    /// What the probe before the first copy found: `None` if no copy was attempted.
    pub fn source_condition(&self) -> Option<&Result<bool, S3Failure>> {
        self.source_condition.get()
    }

    /// The probe's answer, running `probe` only the first time it is asked for.
    pub async fn source_condition_or<F>(&self, probe: F) -> &Result<bool, S3Failure>
    where
        F: std::future::Future<Output = Result<bool, S3Failure>>,
    {
        self.source_condition.get_or_init(|| probe).await
    }

    /// What the report notes about what was learnt. `stopped` is true when the run stopped on a
    /// failure of its own (an unconditional copy refused, say), which says the rest.
    pub fn notes(&self, stopped: bool) -> Vec<String> {
        let mut notes = Vec::new();
        match self.source_condition() {
            Some(Ok(false)) if !stopped => notes.push(
                "the server ignores x-amz-copy-source-if-match: copies were made without it (--allow-unconditional-copies)".into(),
            ),
            Some(Err(f)) => notes.push(format!(
                "could not check that the server enforces x-amz-copy-source-if-match ({f}): copies relied on it"
            )),
            _ => {}
        }
        if !self.destination_conditions() {
            notes.push(
                "the server does not support If-Match on CopyObject: copies were conditional on the source ETag only".into(),
            );
        }
        if let Some(why) = self.versions_unchecked.get() {
            notes.push(format!(
                "could not check every versioned repair for a version written between its inspection and its copy ({why}); such a version would be noncurrent now"
            ));
        }
        match self.acl_support() {
            AclSupport::Used => {}
            AclSupport::NotImplemented => notes.push(
                "the server does not implement object ACLs (501): objects were rewritten without ACL grants".into(),
            ),
            AclSupport::Disabled => notes.push(
                "the bucket does not use ACLs (Object Ownership = BucketOwnerEnforced): no grants were sent".into(),
            ),
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_failures_teach_the_bucket_mode_once() {
        let caps = Capabilities::new(None);
        assert_eq!(caps.acl_support(), AclSupport::Used);
        assert!(!caps.learn_from_acl_failure(&S3Failure::answered("AccessDenied", 403)));
        assert_eq!(caps.acl_support(), AclSupport::Used);
        assert!(caps.learn_from_acl_failure(&S3Failure::answered("NotImplemented", 501)));
        assert_eq!(caps.acl_support(), AclSupport::NotImplemented);
        let caps = Capabilities::new(None);
        assert!(
            caps.learn_from_acl_failure(&S3Failure::answered("AccessControlListNotSupported", 400))
        );
        assert_eq!(caps.acl_support(), AclSupport::Disabled);
        assert!(caps.notes(false)[0].contains("BucketOwnerEnforced"));
    }

    #[test]
    fn foreign_owners_are_known_only_with_a_caller_id() {
        let acl = |owner: &str| ObjectAcl {
            owner_id: Some(owner.into()),
            grants: Vec::new(),
        };
        let caps = Capabilities::new(Some("me".into()));
        assert!(!caps.is_foreign(&acl("me")));
        assert!(caps.is_foreign(&acl("them")));
        assert!(!caps.is_foreign(&ObjectAcl::default()));
        assert!(!Capabilities::new(None).is_foreign(&acl("them")));
    }

    #[tokio::test]
    async fn the_probe_runs_once_and_its_answer_is_noted() {
        let caps = Capabilities::new(None);
        assert!(caps.notes(false).is_empty());
        assert_eq!(caps.source_condition(), None);
        assert_eq!(
            caps.source_condition_or(async { Ok(false) }).await,
            &Ok(false)
        );
        assert_eq!(
            caps.source_condition_or(async { unreachable!("probed twice") })
                .await,
            &Ok(false)
        );
        assert!(caps.notes(false)[0].contains("ignores x-amz-copy-source-if-match"));
        assert!(caps.notes(true).is_empty(), "a stopped run says it itself");
        caps.refuse_destination_conditions();
        assert!(!caps.destination_conditions());
        assert!(caps.notes(true)[0].contains("If-Match on CopyObject"));
    }
}
