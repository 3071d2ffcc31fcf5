//! The repair stage: for each object with findings, plan the complete request, carry the ACL in
//! it, record it in the journal, rewrite the object conditionally, and verify the result.
//!
//! A conflict (the object changed after HEAD) is never retried with the old plan: the object is
//! HEADed again, the rules run again, and only a new version that still has a finding is repaired,
//! conditionally again.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use aws_sdk_s3::Client;

use tokio_util::sync::CancellationToken;

use super::{Inspected, Unread};
use crate::journal::{self, Journal, Recorded};
use crate::plan::{self, Plan, SkipReason};
use crate::rules::{Finding, RuleSet};
use crate::s3::{self, ListedObject, ObjectHead, Rewritten, S3Failure};
use crate::verify;

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
}

impl Default for RepairSettings {
    fn default() -> Self {
        RepairSettings {
            dry_run: false,
            multipart_threshold: 5 << 30,
            part_size: 256 << 20,
            allow_unconditional: false,
        }
    }
}

/// How one object ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// No finding: nothing to do.
    Clean,
    /// Deleted between LIST and HEAD: nothing left to repair. Says how it was found gone.
    Gone(String),
    /// HEAD failed.
    InspectFailed(S3Failure),
    /// Dry run: this is what would be sent.
    WouldFix(Box<Plan>),
    Fixed {
        plan: Box<Plan>,
        new: Rewritten,
        /// The object changed after the first HEAD and its new version was repaired.
        after_conflict: bool,
        /// A versioned bucket keeps the old version (with the old header) as noncurrent.
        left_noncurrent: bool,
    },
    Skipped(SkipReason),
    /// The object changed under us and was left alone; says why.
    Conflict(String),
    /// The copy or its verification failed.
    Failed(S3Failure),
}

/// One object after the repair stage.
#[derive(Clone, Debug)]
pub struct Repaired {
    pub listed: ListedObject,
    pub head: Option<ObjectHead>,
    pub findings: Vec<Finding>,
    pub outcome: Outcome,
}

impl Repaired {
    /// An inspected object left alone for `reason`, before any request about it was made.
    pub fn skipped(inspected: Inspected, reason: SkipReason) -> Repaired {
        Repaired {
            listed: inspected.listed,
            head: inspected.outcome.ok(),
            findings: inspected.findings,
            outcome: Outcome::Skipped(reason),
        }
    }
}

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

/// Shared by every repair of a run.
pub struct Repairer {
    client: Client,
    bucket: String,
    rules: RuleSet,
    settings: RepairSettings,
    journal: Option<Arc<Journal>>,
    /// The caller's canonical id: a copy makes the caller the owner, so objects of other
    /// accounts are skipped. `None` when it cannot be learned.
    caller_id: Option<String>,
    acl: AtomicU8,
    /// Whether to send the destination If-Match (dropped once if the server refuses it).
    destination_if_match: AtomicBool,
    /// Once the run is stopped, no new copy starts; copies in flight finish.
    stop: CancellationToken,
    /// Whether the server enforces copy-source-if-match, probed once before the first copy.
    source_condition: tokio::sync::OnceCell<Result<bool, S3Failure>>,
}

/// Why an attempt did not fix the object.
pub(super) enum Stop {
    Skip(SkipReason),
    Conflict,
    Fail(S3Failure),
}

const CONFLICT_CODES: [&str; 3] = [
    "PreconditionFailed",
    "ConditionalRequestConflict",
    "Conflict",
];

impl Repairer {
    pub async fn new(
        client: Client,
        bucket: String,
        rules: RuleSet,
        settings: RepairSettings,
        journal: Option<Arc<Journal>>,
    ) -> Self {
        let caller_id = s3::caller_id(&client, &bucket).await;
        Repairer {
            client,
            bucket,
            rules,
            settings,
            journal,
            caller_id,
            acl: AtomicU8::new(AclSupport::Used as u8),
            destination_if_match: AtomicBool::new(true),
            stop: CancellationToken::new(),
            source_condition: tokio::sync::OnceCell::new(),
        }
    }

    /// What the probe before the first copy found: `None` if no copy was attempted.
    pub fn source_condition(&self) -> Option<&Result<bool, S3Failure>> {
        self.source_condition.get()
    }

    /// Objects that reach the repair stage after `stop` fires are skipped as `interrupted`
    /// instead of starting a copy.
    pub fn stopping_on(mut self, stop: CancellationToken) -> Self {
        self.stop = stop;
        self
    }

    /// Whether copies could also be conditional on the destination's ETag.
    pub fn destination_conditions(&self) -> bool {
        self.destination_if_match.load(Ordering::Relaxed)
    }

    pub fn acl_support(&self) -> AclSupport {
        match self.acl.load(Ordering::Relaxed) {
            1 => AclSupport::NotImplemented,
            2 => AclSupport::Disabled,
            _ => AclSupport::Used,
        }
    }

    pub async fn repair(&self, inspected: Inspected) -> Repaired {
        let Inspected {
            listed,
            outcome,
            findings,
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
                };
            }
        };
        if findings.is_empty() || self.stop.is_cancelled() {
            let outcome = if findings.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Skipped(SkipReason::Interrupted)
            };
            return Repaired {
                listed,
                head: Some(head),
                findings,
                outcome,
            };
        }
        let outcome = match self.attempt(&head, &findings).await {
            Ok(outcome) => outcome,
            Err(Stop::Skip(reason)) => Outcome::Skipped(reason),
            Err(Stop::Fail(failure)) => Outcome::Failed(failure),
            Err(Stop::Conflict) => self.after_conflict(&head.key).await,
        };
        Repaired {
            listed,
            head: Some(head),
            findings,
            outcome,
        }
    }

    /// The object changed after HEAD: look again, and repair the new version only if it still
    /// has a finding.
    async fn after_conflict(&self, key: &str) -> Outcome {
        let head = match s3::head_object(&self.client, &self.bucket, key).await {
            Ok(head) => head,
            Err(failure) if failure.is_not_found() => {
                return Outcome::Conflict("deleted after it was inspected".into())
            }
            Err(failure) => return Outcome::Failed(failure),
        };
        let findings = self.rules.check(&head);
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
            Err(Stop::Conflict) => Outcome::Conflict("changed again while being repaired".into()),
        }
    }

    async fn attempt(&self, head: &ObjectHead, findings: &[Finding]) -> Result<Outcome, Stop> {
        let mut plan = plan::plan(&self.bucket, head, findings).map_err(Stop::Skip)?;
        let acl = self.object_acl(head).await?;
        plan.grants = acl.as_ref().and_then(|acl| acl.grant_headers());
        let expected = verify::expected_after(head, &plan);
        self.apply(head, plan, acl.as_ref(), &expected).await
    }

    /// Journals, writes and verifies `plan` on the object `head` describes; `expected` is what
    /// HEAD must show afterwards. The building block of both fix and undo.
    pub(super) async fn apply(
        &self,
        head: &ObjectHead,
        mut plan: Plan,
        acl: Option<&plan::ObjectAcl>,
        expected: &ObjectHead,
    ) -> Result<Outcome, Stop> {
        if self.settings.dry_run {
            return Ok(Outcome::WouldFix(Box::new(plan)));
        }
        self.copies_are_conditional(&plan).await?;
        self.record_plan(head, acl, expected, &plan).await?;
        // A copy whose verification failed was still written: its record keeps the new ETag.
        let verified = match self.rewrite(head, &mut plan).await {
            Ok(new) => match self
                .verify(&head.key, &self.expect_etag(head, expected, &new))
                .await
            {
                Ok(()) => Ok(new),
                Err(stop) => Err((stop, Some(new))),
            },
            Err(stop) => Err((stop, None)),
        };
        let (status, new, error) = match &verified {
            Ok(new) => ("fixed", Some(new), None),
            Err((Stop::Conflict, _)) => ("conflict", None, None),
            Err((Stop::Fail(f), new)) => ("error", new.as_ref(), Some(f.to_string())),
            Err((Stop::Skip(_), _)) => ("skipped", None, None),
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
        let enforced = self
            .source_condition
            .get_or_init(|| async {
                let probe_key = probe_key(&plan.key);
                s3::copy_source_condition_enforced(
                    &self.client,
                    &self.bucket,
                    &plan.copy_source,
                    &probe_key,
                )
                .await
            })
            .await;
        match enforced {
            Ok(false) if !self.settings.allow_unconditional => Err(Stop::Fail(S3Failure {
                code: UNCONDITIONAL_REFUSED.into(),
                message: "the server ignores x-amz-copy-source-if-match, so a repair could overwrite a concurrent write: nothing was written (pass --allow-unconditional-copies to repair anyway)".into(),
                http_status: None,
            })),
            // A probe that could not run (say, no permission for its key) is noted; S3 itself
            // documents the condition.
            _ => Ok(()),
        }
    }

    /// The ACL to carry into the copy, learning once per run whether the server has ACLs.
    async fn object_acl(&self, head: &ObjectHead) -> Result<Option<plan::ObjectAcl>, Stop> {
        if self.acl_support() != AclSupport::Used {
            return Ok(None);
        }
        match s3::object_acl(
            &self.client,
            &self.bucket,
            &head.key,
            head.version_id.as_deref(),
        )
        .await
        {
            Ok(acl) => {
                if let (Some(caller), Some(owner)) = (&self.caller_id, &acl.owner_id) {
                    if caller != owner {
                        return Err(Stop::Skip(SkipReason::ForeignOwner));
                    }
                }
                Ok(Some(acl))
            }
            Err(f) if f.code == "NotImplemented" || f.http_status == Some(501) => {
                self.acl
                    .store(AclSupport::NotImplemented as u8, Ordering::Relaxed);
                Ok(None)
            }
            Err(f) if f.code == "AccessControlListNotSupported" => {
                self.acl
                    .store(AclSupport::Disabled as u8, Ordering::Relaxed);
                Ok(None)
            }
            Err(f) => Err(Stop::Fail(f)),
        }
    }

    /// One conditional rewrite; a bucket that refuses the grants gets the copy without them.
    async fn rewrite(&self, head: &ObjectHead, plan: &mut Plan) -> Result<Rewritten, Stop> {
        let if_match = self.destination_if_match.load(Ordering::Relaxed);
        let first = self.send(head, plan, if_match).await;
        match first {
            Err(f) if f.code == "AccessControlListNotSupported" && plan.grants.is_some() => {
                self.acl
                    .store(AclSupport::Disabled as u8, Ordering::Relaxed);
                plan.grants = None;
                self.send(
                    head,
                    plan,
                    self.destination_if_match.load(Ordering::Relaxed),
                )
                .await
            }
            // Learnt from the first real copy instead of a probe that would have to write: a
            // server without destination conditions refuses the header; the copy-source
            // condition still guards the ETag seen at HEAD. Every copy that was sent with the
            // header before the run learnt it is sent again without.
            Err(f) if f.code == "NotImplemented" && if_match => {
                self.destination_if_match.store(false, Ordering::Relaxed);
                self.send(head, plan, false).await
            }
            other => other,
        }
        .map_err(|f| {
            if CONFLICT_CODES.contains(&f.code.as_str()) || matches!(f.http_status, Some(409 | 412))
            {
                Stop::Conflict
            } else {
                Stop::Fail(f)
            }
        })
    }

    fn is_multipart(&self, head: &ObjectHead) -> bool {
        head.content_length.unwrap_or(0).max(0) as u64 > self.settings.multipart_threshold
    }

    /// A multipart rewrite gives every object a new `…-N` ETag: HEAD must then show the one
    /// CompleteMultipartUpload returned. (HEAD reports no part count on AWS without
    /// `partNumber`, so the ETag's shape cannot be told from the HEAD alone.)
    fn expect_etag(&self, head: &ObjectHead, expected: &ObjectHead, new: &Rewritten) -> ObjectHead {
        let mut expected = expected.clone();
        if self.is_multipart(head) {
            expected.etag.clone_from(&new.etag);
        }
        expected
    }

    async fn send(
        &self,
        head: &ObjectHead,
        plan: &Plan,
        if_match: bool,
    ) -> Result<Rewritten, S3Failure> {
        let size = head.content_length.unwrap_or(0).max(0) as u64;
        if !self.is_multipart(head) {
            return s3::copy_in_place(&self.client, &self.bucket, plan, if_match).await;
        }
        let tagging = if head.tag_count.unwrap_or(0) > 0 {
            let tags = s3::object_tagging(
                &self.client,
                &self.bucket,
                &head.key,
                head.version_id.as_deref(),
            )
            .await?;
            Some(tags)
        } else {
            None
        };
        let part_size = self.settings.part_size.max(size.div_ceil(10_000));
        s3::multipart_in_place(
            &self.client,
            &self.bucket,
            plan,
            size,
            part_size,
            tagging,
            if_match,
        )
        .await
    }

    async fn verify(&self, key: &str, expected: &ObjectHead) -> Result<(), Stop> {
        let actual = s3::head_object(&self.client, &self.bucket, key)
            .await
            .map_err(Stop::Fail)?;
        let differences = verify::differences(expected, &actual);
        if differences.is_empty() {
            Ok(())
        } else {
            Err(Stop::Fail(S3Failure {
                code: "VerifyMismatch".into(),
                message: format!("after the copy HEAD differs in {}", differences.join(", ")),
                http_status: None,
            }))
        }
    }

    async fn record_plan(
        &self,
        head: &ObjectHead,
        acl: Option<&plan::ObjectAcl>,
        expected: &ObjectHead,
        plan: &Plan,
    ) -> Result<(), Stop> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        journal
            .planned(&journal::Planned {
                bucket: &self.bucket,
                key: &head.key,
                version_id: head.version_id.as_deref(),
                etag: head.etag.as_deref(),
                old: head,
                old_acl: acl,
                new: expected,
                request: &plan.headers,
                grants: plan.grants.as_ref(),
            })
            .await
            .map_err(|e| Stop::Fail(journal_failure(journal, e)))
    }

    async fn record_outcome(
        &self,
        key: &str,
        status: &str,
        new: Option<&Rewritten>,
        error: Option<String>,
    ) -> Result<(), Stop> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        journal
            .outcome(&journal::Outcome {
                bucket: &self.bucket,
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

/// The code of a journal write failure; the run stops on it, since nothing may be changed
/// without a record.
pub const JOURNAL_FAILED: &str = "JournalWriteFailed";

/// The code of a refusal to copy without a condition the server enforces; the run stops on it.
pub const UNCONDITIONAL_REFUSED: &str = "UnconditionalCopyRefused";

/// The temporary key the source-condition probe may create (and then deletes), next to `key` so
/// that a policy limited to the repaired prefix allows it.
fn probe_key(key: &str) -> String {
    let dir = key.rfind('/').map_or("", |i| &key[..=i]);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{dir}.s3mend-probe-{}-{nanos:09}", std::process::id())
}

fn journal_failure(journal: &Journal, e: std::io::Error) -> S3Failure {
    S3Failure {
        code: JOURNAL_FAILED.into(),
        message: format!("cannot write journal {}: {e}", journal.path().display()),
        http_status: None,
    }
}

/// What a copy that a stopped run left in flight turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The object is as the copy would leave it: the copy was applied.
    Applied,
    /// The object is still as it was before: the copy never happened.
    NotApplied,
    /// Neither: someone else changed (or deleted) it since.
    Changed,
    /// It could not be HEADed; the journal keeps the entry open.
    Unknown(S3Failure),
}

impl Repairer {
    /// Settles a journal entry that has a plan and no outcome (the run was killed between the
    /// two): HEADs the object and appends the outcome the object shows, so the journal is
    /// complete. The object itself is left to the resumed run, which lists it again.
    pub async fn settle(&self, entry: &Recorded) -> Result<Settled, S3Failure> {
        let current = match s3::head_object(&self.client, &self.bucket, &entry.key).await {
            Ok(head) => head,
            Err(f) if Unread::of(&f) == Unread::Gone => {
                self.settled(&entry.key, "conflict", None, Some("deleted since".into()))
                    .await?;
                return Ok(Settled::Changed);
            }
            Err(f) => return Ok(Settled::Unknown(f)),
        };
        let settled = if verify::differences(&entry.new, &current).is_empty() {
            let new = Rewritten {
                version_id: current.version_id.clone(),
                etag: current.etag.clone(),
            };
            self.settled(&entry.key, "fixed", Some(&new), None).await?;
            Settled::Applied
        } else if verify::differences(&entry.old, &current).is_empty() {
            self.settled(&entry.key, "not-applied", None, None).await?;
            Settled::NotApplied
        } else {
            let why = "changed since it was planned".to_owned();
            self.settled(&entry.key, "conflict", None, Some(why))
                .await?;
            Settled::Changed
        };
        Ok(settled)
    }

    async fn settled(
        &self,
        key: &str,
        status: &str,
        new: Option<&Rewritten>,
        error: Option<String>,
    ) -> Result<(), S3Failure> {
        match self.record_outcome(key, status, new, error).await {
            Err(Stop::Fail(f)) => Err(f),
            _ => Ok(()),
        }
    }
}

impl Repairer {
    /// Undoes one journalled repair: only if the object is still exactly as the fix left it, and
    /// with the same lossless conditional copy.
    pub async fn undo(&self, entry: Recorded) -> Repaired {
        let listed = ListedObject {
            key: entry.key.clone(),
            size: entry.old.content_length.unwrap_or(0),
            etag: entry.new.etag.clone(),
        };
        let repaired = |head, findings, outcome| Repaired {
            listed: listed.clone(),
            head,
            findings,
            outcome,
        };
        let current = match s3::head_object(&self.client, &self.bucket, &entry.key).await {
            Ok(head) => head,
            Err(f) if f.is_not_found() => {
                let outcome = Outcome::Conflict("deleted since the fix".into());
                return repaired(None, Vec::new(), outcome);
            }
            Err(f) => return repaired(None, Vec::new(), Outcome::InspectFailed(f)),
        };
        let changed = verify::differences(&entry.new, &current);
        if !changed.is_empty() {
            let outcome = if verify::differences(&entry.old, &current).is_empty() {
                Outcome::Clean
            } else {
                Outcome::Conflict(format!("changed since the fix ({})", changed.join(", ")))
            };
            return repaired(Some(current), Vec::new(), outcome);
        }
        let mut plan = match plan::restore(&self.bucket, &current, &entry.old) {
            Ok(plan) => plan,
            Err(reason) => return repaired(Some(current), Vec::new(), Outcome::Skipped(reason)),
        };
        let findings: Vec<Finding> = plan
            .changes
            .iter()
            .map(|change| Finding {
                rule: change.rule,
                header: change.header,
                current: change.before.clone(),
                proposed: change.after.clone(),
            })
            .collect();
        plan.grants = entry.old_acl.as_ref().and_then(|acl| acl.grant_headers());
        let outcome = match self
            .apply(&current, plan, entry.old_acl.as_ref(), &entry.old)
            .await
        {
            Ok(outcome) => outcome,
            Err(Stop::Skip(reason)) => Outcome::Skipped(reason),
            Err(Stop::Fail(f)) => Outcome::Failed(f),
            Err(Stop::Conflict) => Outcome::Conflict("changed while being restored".into()),
        };
        repaired(Some(current), findings, outcome)
    }
}
