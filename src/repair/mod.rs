//! The repair stage: for one object with findings, plan the complete request, carry the ACL in
//! it, record it in the journal, rewrite the object conditionally, and verify the result.
//!
//! A conflict (the object changed after HEAD) is never retried with the old plan: the object is
//! HEADed again, the rules run again, and only a new version that still has a finding is repaired,
//! conditionally again.
//!
//! Layout: this file is the repairer (one object's repair, and [`Repairer::apply`], the
//! journalled, conditional, verified write that fix and undo share); `capabilities.rs` is what
//! the run learns about the server once; `annotations.rs` keeps and puts back the annotations a
//! multipart rewrite does not copy; `settle.rs` closes the journal entries a stopped run
//! left open; `undo.rs` puts journalled repairs back. Every request goes through a
//! [`Store`](crate::s3::Store), so the whole stage is tested here with a stub (`tests.rs`).

mod annotations;
mod capabilities;
mod landing;
mod reviewed;
mod settle;
mod undo;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use capabilities::{is_directory_bucket, AclSupport, Capabilities};

use annotations::Kept;
use capabilities::NotImplemented;
pub use settle::Settled;

use crate::journal::{self, Journal};
use crate::model::{ObjectAcl, ObjectHead, Rewritten, S3Failure};
use crate::outcome::{Failure, Inspected, Outcome, Repaired, Unread};
use crate::plan::{self, Plan, SkipReason};
use crate::rules::{Finding, RuleSet, SNIFF_BYTES};
use crate::s3::{Parts, Store};
use crate::verify;

/// S3's smallest part of a multipart upload but the last: 5 MiB (EntityTooSmall otherwise).
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// How a fix run writes.
#[derive(Clone, Debug)]
pub struct RepairSettings {
    pub dry_run: bool,
    /// Objects larger than this are rewritten by multipart copy (CopyObject stops at 5 GiB).
    pub multipart_threshold: u64,
    /// Part size of a multipart copy (raised where 10,000 parts would not suffice).
    pub part_size: u64,
    /// Repair even where the server ignores `x-amz-copy-source-if-match` (a concurrent write
    /// could then be overwritten).
    pub allow_unconditional: bool,
    /// A HEAD snapshot older than this is read again, and compared in full, before a copy is
    /// planned on it (`--recheck-after`).
    pub recheck_after: Duration,
}

impl Default for RepairSettings {
    fn default() -> Self {
        RepairSettings {
            dry_run: false,
            multipart_threshold: 5 << 30,
            part_size: 256 << 20,
            allow_unconditional: false,
            recheck_after: Duration::from_secs(1),
        }
    }
}

/// Repairs the objects of one bucket; shared by the concurrent repairs of a run.
pub struct Repairer<S> {
    store: S,
    rules: RuleSet,
    settings: RepairSettings,
    journal: Option<Arc<Journal>>,
    capabilities: Arc<Capabilities>,
    /// Once the run is stopped, no new copy starts; copies in flight finish.
    stop: CancellationToken,
}

/// Why an attempt did not fix the object.
enum Stop {
    Skip(SkipReason),
    Conflict,
    /// The copy was made, but on top of a version someone else wrote meanwhile (put back on
    /// top since, as the message says).
    Intruded(String),
    Fail(Failure),
}

impl From<S3Failure> for Stop {
    fn from(failure: S3Failure) -> Self {
        Stop::Fail(Failure::S3(failure))
    }
}

/// A failure without an answer from S3 (a reset, a timeout) or with a server error after every
/// retry: the request may have been carried out.
fn unanswered(failure: &S3Failure) -> bool {
    failure
        .http_status
        .is_none_or(|status| status >= 500 && status != 501)
}

/// The S3 answers that mean the object changed after it was inspected: a condition failed, or
/// the object (the destination If-Match needs one) or the pinned version is gone.
fn is_conflict(failure: &S3Failure) -> bool {
    matches!(
        failure.code.as_str(),
        "PreconditionFailed"
            | "ConditionalRequestConflict"
            | "Conflict"
            | "NoSuchKey"
            | "NoSuchVersion"
    ) || matches!(failure.http_status, Some(409 | 412))
}

impl<S: Store> Repairer<S> {
    /// A repairer writing through `store`, relying on what `capabilities` has learnt and
    /// learning into it; it keeps no journal and is never stopped until told otherwise.
    pub fn new(
        store: S,
        rules: RuleSet,
        settings: RepairSettings,
        capabilities: Arc<Capabilities>,
    ) -> Self {
        Repairer {
            store,
            rules,
            settings,
            journal: None,
            capabilities,
            stop: CancellationToken::new(),
        }
    }

    /// Records every write in `journal` first (none for a dry run, or the demo's throwaway lab).
    pub fn journalling(mut self, journal: Option<Arc<Journal>>) -> Self {
        self.journal = journal;
        self
    }

    /// Objects that reach the repairer after `stop` fires are skipped as `interrupted` instead
    /// of starting a copy.
    pub fn stopping_on(mut self, stop: CancellationToken) -> Self {
        self.stop = stop;
        self
    }

    pub async fn repair(&self, inspected: Inspected) -> Repaired {
        let Inspected {
            listed,
            outcome,
            findings,
            taken,
            body_start,
            from_catalog,
        } = inspected;
        let head = match outcome {
            Ok(head) => head,
            Err(failure) => {
                let outcome = match Unread::of(&failure) {
                    Unread::Gone => Outcome::Gone(Unread::gone_reason(&failure).into()),
                    Unread::SseC => Outcome::Skipped(SkipReason::SseC),
                    Unread::Failed => Outcome::InspectFailed(failure),
                };
                return Repaired {
                    listed,
                    head: None,
                    findings,
                    outcome,
                    body_start,
                    from_catalog,
                };
            }
        };
        let outcome = if findings.is_empty() {
            Outcome::Clean
        } else if self.stop.is_cancelled() {
            Outcome::Skipped(SkipReason::Interrupted)
        } else if self.is_stale(taken) {
            // The rarer paths are boxed: every repair's future is as large as its largest path,
            // and is moved and zeroed per object (`cargo bench --bench matrix -- --bad-every 1`).
            Box::pin(self.read_again(&head, &findings)).await
        } else {
            self.first_attempt(&head, &findings).await
        };
        Repaired {
            listed,
            head: Some(head),
            findings,
            outcome,
            body_start,
            from_catalog,
        }
    }

    /// Whether a snapshot taken then is too old to plan a copy on.
    fn is_stale(&self, taken: Option<Instant>) -> bool {
        taken.is_none_or(|at| at.elapsed() >= self.settings.recheck_after)
    }

    /// Repairs on a snapshot too old to trust: HEADs again, and goes on as planned only if
    /// nothing at all changed (headers, metadata, Last-Modified, tag count, ETag, version), as
    /// after a conflict otherwise. The ACL is read right before the copy in any case.
    async fn read_again(&self, head: &ObjectHead, findings: &[Finding]) -> Outcome {
        match self.store.head(&head.key).await {
            // The new snapshot, read in checksum mode, is the one to plan on.
            Ok(now) if verify::changed(head, &now).is_empty() => {
                self.first_attempt(&now, findings).await
            }
            Ok(now) => Box::pin(self.after_conflict(&head.key, Some(now))).await,
            Err(failure) => gone_or_failed(failure),
        }
    }

    async fn first_attempt(&self, head: &ObjectHead, findings: &[Finding]) -> Outcome {
        match self.attempt(head, findings).await {
            Ok(outcome) => outcome,
            Err(Stop::Skip(reason)) => Outcome::Skipped(reason),
            Err(Stop::Fail(failure)) => Outcome::Failed(failure),
            Err(Stop::Intruded(why)) => Outcome::Conflict(why),
            Err(Stop::Conflict) => Box::pin(self.after_conflict(&head.key, None)).await,
        }
    }

    /// The object changed after HEAD: look again (unless `now` is that look), and repair the new
    /// version only if it still has a finding.
    async fn after_conflict(&self, key: &str, now: Option<ObjectHead>) -> Outcome {
        let head = match now {
            Some(head) => head,
            None => match self.store.head(key).await {
                Ok(head) => head,
                Err(failure) => return gone_or_failed(failure),
            },
        };
        let read = || {
            let version = head.version_id.as_deref();
            self.store.body_start(key, version, SNIFF_BYTES)
        };
        let findings = match self.rules.check_reading(&head, read).await {
            Ok(findings) => findings,
            Err(failure) => return Outcome::Failed(failure.into()),
        };
        if findings.is_empty() {
            return Outcome::Conflict(
                "changed after it was inspected; the new version needs no repair".into(),
            );
        }
        match self.attempt(&head, &findings).await {
            Ok(Outcome::Fixed {
                plan,
                new,
                left_noncurrent,
                ..
            }) => Outcome::Fixed {
                plan,
                new,
                after_conflict: true,
                left_noncurrent,
            },
            Ok(other) => other,
            Err(Stop::Skip(reason)) => Outcome::Skipped(reason),
            Err(Stop::Fail(failure)) => Outcome::Failed(failure),
            Err(Stop::Intruded(why)) => Outcome::Conflict(why),
            Err(Stop::Conflict) => Outcome::Conflict("changed again while being repaired".into()),
        }
    }

    async fn attempt(&self, head: &ObjectHead, findings: &[Finding]) -> Result<Outcome, Stop> {
        let fresh;
        let head = if self.is_multipart(head) && !head.checksum_mode {
            // A multipart rewrite must ask for the source's checksum, which only a HEAD in
            // checksum mode shows (the scan's does not).
            fresh = self
                .store
                .head(&head.key)
                .await
                .map_err(|f| match Unread::of(&f) {
                    Unread::Gone => Stop::Conflict,
                    _ => f.into(),
                })?;
            if !verify::changed(head, &fresh).is_empty() {
                return Err(Stop::Conflict);
            }
            &fresh
        } else {
            head
        };
        let (plan, acl) = self.prepare(head, findings).await?;
        self.write_prepared(head, plan, acl).await
    }

    /// The complete request that repairs `findings` on `head`, with the object's ACL read (as
    /// late as possible) and its grants in it.
    async fn prepare(
        &self,
        head: &ObjectHead,
        findings: &[Finding],
    ) -> Result<(Plan, Option<ObjectAcl>), Stop> {
        let mut plan = plan::plan(self.store.bucket(), head, findings).map_err(Stop::Skip)?;
        if !self.settings.dry_run {
            // The run's one probe, before the ACL read: the grants go into the copy with as
            // little time as possible between (README, "What s3mend guarantees").
            self.copies_are_conditional(&plan).await?;
        }
        let acl = self.object_acl(head).await?;
        plan.grants = acl.as_ref().and_then(plan::grant_headers);
        Ok((plan, acl))
    }

    /// Writes a prepared plan, and carries over an ACL changed meanwhile.
    async fn write_prepared(
        &self,
        head: &ObjectHead,
        plan: Plan,
        acl: Option<ObjectAcl>,
    ) -> Result<Outcome, Stop> {
        let expected = verify::expected_after(head, &plan);
        let outcome = self.apply(head, plan, acl.as_ref(), &expected).await?;
        if let (Outcome::Fixed { new, .. }, Some(sent)) = (&outcome, &acl) {
            self.keep_acl_changes(head, sent, new).await?;
        }
        Ok(outcome)
    }

    /// Journals, writes and verifies `plan` on the object `head` describes; `expected` is what
    /// HEAD must show afterwards. The building block of both fix and undo.
    async fn apply(
        &self,
        head: &ObjectHead,
        mut plan: Plan,
        acl: Option<&ObjectAcl>,
        expected: &ObjectHead,
    ) -> Result<Outcome, Stop> {
        if self.settings.dry_run {
            return Ok(Outcome::WouldFix(Box::new(plan)));
        }
        self.copies_are_conditional(&plan).await?;
        let kept = if self.is_multipart(head) {
            self.keep_annotations(head).await?
        } else {
            Kept::default()
        };
        self.record_plan(head, acl, expected, &plan, &kept.saved)
            .await?;
        // A copy whose verification failed was still written: its record keeps the new ETag.
        let verified = match self.rewrite(head, &mut plan).await {
            Ok(new) => match self
                .put_back(
                    &head.key,
                    &kept,
                    new.version_id.as_deref(),
                    new.etag.as_deref(),
                )
                .await
            {
                Err(f) => Err((Stop::Fail(f), Some(new))),
                Ok(()) => match self.check_landing(head, expected, &new).await {
                    Ok(()) => match self
                        .verify(&head.key, &self.expect_etag(head, &plan, expected, &new))
                        .await
                    {
                        Ok(()) => Ok(new),
                        Err(stop) => Err((stop, Some(new))),
                    },
                    Err(stop) => Err((stop, Some(new))),
                },
            },
            // No answer: the copy may have been applied all the same. The object says which.
            Err(Stop::Fail(Failure::S3(f))) if unanswered(&f) => {
                match Box::pin(self.look_again(head, &plan, expected, f)).await {
                    Ok(new) => match self
                        .put_back(
                            &head.key,
                            &kept,
                            new.version_id.as_deref(),
                            new.etag.as_deref(),
                        )
                        .await
                    {
                        Err(f) => Err((Stop::Fail(f), Some(new))),
                        Ok(()) => match self.check_landing(head, expected, &new).await {
                            Ok(()) => Ok(new),
                            Err(stop) => Err((stop, Some(new))),
                        },
                    },
                    Err(stop) => Err((stop, None)),
                }
            }
            Err(stop) => Err((stop, None)),
        };
        let (status, new, error) = match &verified {
            Ok(new) => (journal::Status::Fixed, Some(new), None),
            Err((Stop::Conflict, _)) => (journal::Status::Conflict, None, None),
            Err((Stop::Intruded(_), new)) => (journal::Status::Conflict, new.as_ref(), None),
            Err((Stop::Fail(f), new)) => {
                (journal::Status::Error, new.as_ref(), Some(f.to_string()))
            }
            Err((Stop::Skip(_), _)) => (journal::Status::Skipped, None, None),
        };
        self.record_outcome(&head.key, status, new, error).await?;
        let new = verified.map_err(|(stop, _)| stop)?;
        let left_noncurrent = head.version_id.is_some() && new.version_id.is_some();
        Ok(Outcome::Fixed {
            plan: Box::new(plan),
            new,
            after_conflict: false,
            left_noncurrent,
        })
    }

    /// Makes sure, once per run, that the server enforces the copy's source condition, so a
    /// concurrent write is never overwritten; refuses to write if it does not, unless allowed.
    async fn copies_are_conditional(&self, plan: &Plan) -> Result<(), Stop> {
        // Probed once per run; the probe's future (two SDK requests) is built only then, and
        // boxed, so that it does not make every repair's future larger.
        let enforced = match self.capabilities.source_condition() {
            Some(known) => known,
            None => {
                self.capabilities
                    .source_condition_or(Box::pin(self.store.source_condition_enforced(
                        &plan.copy_source,
                        &probe_key(&plan.key),
                        plan.size,
                    )))
                    .await
            }
        };
        match enforced {
            Ok(false) if !self.settings.allow_unconditional => {
                Err(Stop::Fail(Failure::UnconditionalRefused))
            }
            // A probe that could not run (say, no permission for its key) is noted; S3 itself
            // documents the condition.
            _ => Ok(()),
        }
    }

    /// The ACL to carry into the copy, learning once per run whether the server has ACLs.
    async fn object_acl(&self, head: &ObjectHead) -> Result<Option<ObjectAcl>, Stop> {
        if self.capabilities.acl_support() != AclSupport::Used {
            return Ok(None);
        }
        match self.store.acl(&head.key, head.version_id.as_deref()).await {
            Ok(acl) if self.capabilities.is_foreign(&acl) => {
                Err(Stop::Skip(SkipReason::ForeignOwner))
            }
            Ok(acl) => Ok(Some(acl)),
            Err(f) if self.capabilities.learn_from_acl_failure(&f) => Ok(None),
            Err(f) => Err(f.into()),
        }
    }

    /// One conditional rewrite. A bucket that refuses the grants gets the copy without them; a
    /// server that answers 501 gets it without the destination `If-Match`, or with the
    /// annotation directive EXCLUDE (see [`capabilities::after_not_implemented`]), learnt once
    /// for the run. Every copy that was sent before the run learnt it is sent again.
    async fn rewrite(&self, head: &ObjectHead, plan: &mut Plan) -> Result<Rewritten, Stop> {
        let multipart = self.is_multipart(head);
        let mut if_match = self.capabilities.destination_conditions();
        plan.exclude_annotations =
            !multipart && self.capabilities.excludes_annotations(self.store.bucket());
        let mut result = self.send(head, plan, if_match).await;
        // Each fallback is taken at most once: three retries at most.
        for _ in 0..3 {
            let Err(f) = &result else { break };
            if f.code == "AccessControlListNotSupported" && plan.grants.is_some() {
                self.capabilities.learn_from_acl_failure(f);
                plan.grants = None;
                if_match &= self.capabilities.destination_conditions();
            } else {
                match capabilities::after_not_implemented(
                    f,
                    if_match,
                    plan.exclude_annotations,
                    multipart,
                ) {
                    // Learnt from the first real copy instead of a probe that would have to
                    // write; the copy-source condition still guards the ETag seen at HEAD.
                    Some(NotImplemented::DestinationCondition) => {
                        self.capabilities.refuse_destination_conditions();
                        if_match = false;
                    }
                    // A server that refuses the default directive has no annotations to keep.
                    Some(NotImplemented::AnnotationDirective) => {
                        self.capabilities.refuse_annotation_directive();
                        plan.exclude_annotations = true;
                    }
                    None => break,
                }
            }
            result = self.send(head, plan, if_match).await;
        }
        result.map_err(|f| {
            if is_conflict(&f) {
                Stop::Conflict
            } else {
                f.into()
            }
        })
    }

    /// After a copy that got no answer: applied if the object is now what it should be (the
    /// copy's result then comes from this HEAD), not applied if it is still as it was (the
    /// copy's failure stands), and a conflict if someone else changed it.
    async fn look_again(
        &self,
        head: &ObjectHead,
        plan: &Plan,
        expected: &ObjectHead,
        failure: S3Failure,
    ) -> Result<Rewritten, Stop> {
        let current = self.store.head_to_settle(&head.key).await?;
        // The new `…-N` ETag of a multipart rewrite was in the answer that never came.
        let new = Rewritten {
            version_id: current.version_id.clone(),
            etag: current.etag.clone(),
        };
        let expected = self.expect_etag(head, plan, expected, &new);
        if verify::differences(&expected, &current).is_empty() {
            Ok(Rewritten {
                version_id: current.version_id,
                etag: current.etag,
            })
        } else if verify::differences(head, &current).is_empty() {
            Err(failure.into())
        } else {
            Err(Stop::Conflict)
        }
    }

    fn is_multipart(&self, head: &ObjectHead) -> bool {
        head.content_length.unwrap_or(0).max(0) as u64 > self.settings.multipart_threshold
    }

    /// A multipart rewrite gives every object a new `…-N` ETag: HEAD must then show the one
    /// CompleteMultipartUpload returned, and the checksum type the upload asked for. (HEAD
    /// reports no part count on AWS without `partNumber`, so the ETag's shape cannot be told
    /// from the HEAD alone.)
    fn expect_etag(
        &self,
        head: &ObjectHead,
        plan: &Plan,
        expected: &ObjectHead,
        new: &Rewritten,
    ) -> ObjectHead {
        if self.is_multipart(head) {
            verify::after_multipart(expected, new.etag.as_deref(), plan.checksum.as_ref())
        } else {
            expected.clone()
        }
    }

    async fn send(
        &self,
        head: &ObjectHead,
        plan: &Plan,
        if_match: bool,
    ) -> Result<Rewritten, S3Failure> {
        if !self.is_multipart(head) {
            return self.store.copy(plan, if_match).await;
        }
        let size = head.content_length.unwrap_or(0).max(0) as u64;
        let tagging = if head.tag_count.unwrap_or(0) > 0 {
            let version = head.version_id.as_deref();
            Some(Box::pin(self.store.tagging(&head.key, version)).await?)
        } else {
            None
        };
        let parts = Parts {
            size,
            part_size: self
                .settings
                .part_size
                .max(MIN_PART_SIZE)
                .max(size.div_ceil(10_000)),
            tagging,
        };
        Box::pin(self.store.multipart(plan, &parts, if_match)).await
    }

    async fn verify(&self, key: &str, expected: &ObjectHead) -> Result<(), Stop> {
        let actual = self.store.head_to_settle(key).await?;
        let differences = verify::differences(expected, &actual);
        if differences.is_empty() {
            Ok(())
        } else {
            Err(Stop::Fail(Failure::VerifyMismatch(differences)))
        }
    }

    async fn record_plan(
        &self,
        head: &ObjectHead,
        acl: Option<&ObjectAcl>,
        expected: &ObjectHead,
        plan: &Plan,
        annotations: &[journal::SavedAnnotation],
    ) -> Result<(), Stop> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        journal
            .planned(&journal::Planned {
                bucket: self.store.bucket(),
                key: &head.key,
                version_id: head.version_id.as_deref(),
                etag: head.etag.as_deref(),
                old: head,
                old_acl: acl,
                new: expected,
                request: &plan.headers,
                grants: plan.grants.as_ref(),
                annotations,
            })
            .await
            .map_err(|e| Stop::Fail(journal_failure(journal, e)))
    }

    async fn record_outcome(
        &self,
        key: &str,
        status: journal::Status,
        new: Option<&Rewritten>,
        error: Option<String>,
    ) -> Result<(), Stop> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        journal
            .outcome(&journal::Outcome {
                bucket: self.store.bucket(),
                key,
                status,
                new_version_id: new.and_then(|n| n.version_id.as_deref()),
                new_etag: new.and_then(|n| n.etag.as_deref()),
                error,
            })
            .await
            .map_err(|e| Stop::Fail(journal_failure(journal, e)))
    }
}

/// A HEAD that found no object: gone is a conflict (someone deleted it), anything else a failure.
fn gone_or_failed(failure: S3Failure) -> Outcome {
    match Unread::of(&failure) {
        Unread::Gone => Outcome::Conflict("deleted after it was inspected".into()),
        _ => Outcome::Failed(failure.into()),
    }
}

/// The temporary key the source-condition probe may create (and then deletes), next to `key` so
/// that a policy limited to the repaired prefix allows it.
fn probe_key(key: &str) -> String {
    let dir = key.rfind('/').map_or("", |i| &key[..=i]);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{dir}.s3mend-probe-{}-{nanos:09}", std::process::id())
}

fn journal_failure(journal: &Journal, e: std::io::Error) -> Failure {
    Failure::Journal(format!(
        "cannot write journal {}: {e}",
        journal.path().display()
    ))
}
