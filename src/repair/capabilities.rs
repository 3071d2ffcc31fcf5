//! What a run learns about the server and the bucket, once, and every repair then relies on:
//! whose objects may be copied, whether the bucket has ACLs, whether copies may carry the
//! destination `If-Match`, whether the server enforces the copy-source condition at all, and
//! whether it has annotations (`docs/s3-behaviour.md` §16).
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
    /// A copy with the default annotation directive (COPY) was answered 501: copies send
    /// EXCLUDE from then on (such a server has no annotations to keep).
    annotation_directive_refused: AtomicBool,
    /// ListObjectAnnotations was answered 501: multipart rewrites have no annotations to keep.
    annotations_unimplemented: AtomicBool,
    /// A copy into a directory bucket was sent with EXCLUDE (it has no annotations).
    directory_bucket: AtomicBool,
}

/// What to change in a copy the server answered 501 (Not Implemented) to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotImplemented {
    /// Send it without the destination `If-Match`.
    DestinationCondition,
    /// Send it with `x-amz-object-annotation-directive: EXCLUDE`.
    AnnotationDirective,
}

/// Which of the copy's newer features a 501 refused, or `None` if the answer is no 501 or
/// nothing is left to drop. A message that names annotations says so; otherwise the destination
/// `If-Match` goes first: a server that refuses the default annotation directive has no
/// annotations, but one that only lacks `If-Match` may have them, so EXCLUDE is sent only once
/// the `If-Match` is gone or was never sent. A multipart rewrite has no directive.
pub fn after_not_implemented(
    failure: &S3Failure,
    if_match: bool,
    annotations_excluded: bool,
    multipart: bool,
) -> Option<NotImplemented> {
    if failure.code != "NotImplemented" && failure.http_status != Some(501) {
        return None;
    }
    let names_annotations = failure.message.to_ascii_lowercase().contains("annotation");
    let may_exclude = !multipart && !annotations_excluded;
    if may_exclude && (names_annotations || !if_match) {
        Some(NotImplemented::AnnotationDirective)
    } else if if_match {
        Some(NotImplemented::DestinationCondition)
    } else {
        None
    }
}

/// Whether `bucket` is an S3 directory bucket (S3 Express One Zone: `NAME--ZONE--x-s3`), which
/// has no annotations and refuses the COPY annotation directive with a 501.
pub fn is_directory_bucket(bucket: &str) -> bool {
    bucket.ends_with("--x-s3")
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
            annotation_directive_refused: AtomicBool::new(false),
            annotations_unimplemented: AtomicBool::new(false),
            directory_bucket: AtomicBool::new(false),
        }
    }

    /// Whether a copy into `bucket` sends `x-amz-object-annotation-directive: EXCLUDE`: only in
    /// a directory bucket or once the server refused the default with a 501.
    pub fn excludes_annotations(&self, bucket: &str) -> bool {
        if is_directory_bucket(bucket) {
            self.directory_bucket.store(true, Ordering::Relaxed);
            return true;
        }
        self.annotation_directive_refused.load(Ordering::Relaxed)
    }

    /// The server answered 501 to a copy with the default annotation directive.
    pub fn refuse_annotation_directive(&self) {
        self.annotation_directive_refused
            .store(true, Ordering::Relaxed);
    }

    /// Whether to list an object's annotations before a multipart rewrite: not in a directory
    /// bucket, nor once ListObjectAnnotations was answered 501.
    pub fn lists_annotations(&self, bucket: &str) -> bool {
        !is_directory_bucket(bucket) && !self.annotations_unimplemented.load(Ordering::Relaxed)
    }

    /// Learns from a failed ListObjectAnnotations whether the server has no annotations; `false`
    /// when the failure is the object's own. A server that does not know the operation answers
    /// 501, or 405, or treats the request as another GET of the object and answers 200 with
    /// something that is not a list of annotations (moto, Garage and s3s-fs do).
    pub fn learn_from_annotation_failure(&self, failure: &S3Failure) -> bool {
        let unimplemented = failure.code == "NotImplemented"
            || matches!(failure.http_status, Some(501 | 405))
            || failure
                .http_status
                .is_some_and(|status| (200..300).contains(&status));
        if unimplemented {
            self.annotations_unimplemented
                .store(true, Ordering::Relaxed);
        }
        unimplemented
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
        if self.annotation_directive_refused.load(Ordering::Relaxed) {
            notes.push(
                "the server does not implement annotations (501 to the default x-amz-object-annotation-directive): copies were sent with EXCLUDE, as it has none to keep".into(),
            );
        }
        if self.annotations_unimplemented.load(Ordering::Relaxed) {
            notes.push(
                "the server does not implement ListObjectAnnotations (501): multipart rewrites had no annotations to keep".into(),
            );
        }
        if self.directory_bucket.load(Ordering::Relaxed) {
            notes.push(
                "a directory bucket has no annotations: copies were sent with x-amz-object-annotation-directive: EXCLUDE".into(),
            );
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

    #[test]
    fn a_501_drops_if_match_first_unless_it_names_annotations() {
        use NotImplemented::*;
        let generic = S3Failure::answered("NotImplemented", 501);
        let named = S3Failure {
            message: "x-amz-object-annotation-directive COPY is not implemented".into(),
            ..generic.clone()
        };
        assert_eq!(
            after_not_implemented(&generic, true, false, false),
            Some(DestinationCondition)
        );
        assert_eq!(
            after_not_implemented(&generic, false, false, false),
            Some(AnnotationDirective)
        );
        assert_eq!(
            after_not_implemented(&named, true, false, false),
            Some(AnnotationDirective)
        );
        assert_eq!(
            after_not_implemented(&named, true, true, false),
            Some(DestinationCondition)
        );
        assert_eq!(after_not_implemented(&generic, false, true, false), None);
        assert_eq!(after_not_implemented(&named, false, false, true), None);
        let other = S3Failure::answered("AccessDenied", 403);
        assert_eq!(after_not_implemented(&other, true, false, false), None);
    }

    #[test]
    fn annotation_support_is_learnt_once_and_noted() {
        let caps = Capabilities::new(None);
        assert!(!caps.excludes_annotations("b"));
        assert!(caps.lists_annotations("b"));
        assert!(caps.notes(false).is_empty());
        assert!(!caps.learn_from_annotation_failure(&S3Failure::answered("AccessDenied", 403)));
        assert!(caps.learn_from_annotation_failure(&S3Failure::answered("NotImplemented", 501)));
        // An answer that is not a list of annotations: the server took it for another request.
        assert!(caps.learn_from_annotation_failure(&S3Failure::answered("HttpError", 200)));
        assert!(caps.learn_from_annotation_failure(&S3Failure::answered("MethodNotAllowed", 405)));
        assert!(!caps.learn_from_annotation_failure(&S3Failure::answered("NoSuchKey", 404)));
        assert!(!caps.lists_annotations("b"));
        caps.refuse_annotation_directive();
        assert!(caps.excludes_annotations("b"));
        let notes = caps.notes(false);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("EXCLUDE"), "{notes:?}");

        let caps = Capabilities::new(None);
        assert!(caps.learn_from_annotation_failure(&S3Failure::answered("HttpError", 200)));
        assert!(
            !caps.lists_annotations("b"),
            "a 200 that is no list is learnt too"
        );

        let caps = Capabilities::new(None);
        assert!(caps.excludes_annotations("site--usw2-az1--x-s3"));
        assert!(!caps.lists_annotations("site--usw2-az1--x-s3"));
        assert!(caps.notes(false)[0].contains("directory bucket"));
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
