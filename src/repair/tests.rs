//! The repairer against a stub [`Store`]: an in-memory bucket that applies copies as S3 does
//! (conditional on the ETag, a new version each time) and can be told to misbehave, so every
//! decision of the repair stage is tested without a server.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::journal::{self, Journal, Status};
use crate::model::{Annotation, Grant, ListedObject, ObjectVersion};

const BUCKET: &str = "bucket";

/// An annotation and its payload.
type Annotated = (Annotation, Vec<u8>);

/// Someone else writing to the bucket.
type Writer = Box<dyn FnOnce(&mut HashMap<String, ObjectHead>) + Send>;

/// An in-memory bucket with scripted answers.
#[derive(Default)]
struct Stub {
    objects: Mutex<HashMap<String, ObjectHead>>,
    acls: Mutex<HashMap<String, ObjectAcl>>,
    /// Every ACL request fails with this.
    acl_failure: Option<S3Failure>,
    /// The next copies fail with these, one each, before anything is written.
    copy_failures: Mutex<VecDeque<S3Failure>>,
    /// What the copy-source probe answers; enforced unless set.
    source_condition: Option<Result<bool, S3Failure>>,
    /// A copy that drops the user metadata, as a careless tool would.
    lossy: bool,
    /// The next copy is applied, but its answer is lost (a reset).
    lose_answer: Mutex<bool>,
    /// Runs once, right before the next copy: a concurrent writer.
    before_copy: Mutex<Option<Writer>>,
    /// Runs once, right after a copy is refused as a conflict.
    after_conflict: Mutex<Option<Writer>>,
    /// Each request, in order: "head k", "acl k", "copy k if-match", "multipart k SIZE PART
    /// TAGS", "tagging k", "probe".
    calls: Mutex<Vec<String>>,
    versions: Mutex<u32>,
    /// Every version of each key the stub has seen, newest first, as ListObjectVersions lists
    /// them: a copy records the version it found current (a writer's, say) and its own.
    history: Mutex<HashMap<String, Vec<ObjectHead>>>,
    /// The plans copies were sent with.
    sent: Mutex<Vec<Plan>>,
    /// Bodies by key; `<html>` for any other.
    bodies: Mutex<HashMap<String, Vec<u8>>>,
    /// The current version's annotations by key, with their payloads: a copy keeps them
    /// (unless it excludes them), a multipart rewrite does not.
    annotations: Mutex<HashMap<String, Vec<Annotated>>>,
    /// ListObjectAnnotations answers 501.
    no_annotations: bool,
}

impl Stub {
    fn with(objects: impl IntoIterator<Item = ObjectHead>) -> Self {
        let stub = Stub::default();
        for head in objects {
            stub.remember(&head);
            stub.objects.lock().insert(head.key.clone(), head);
        }
        stub
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().clone()
    }

    fn call(&self, call: String) {
        self.calls.lock().push(call);
    }

    fn object(&self, key: &str) -> ObjectHead {
        self.objects.lock()[key].clone()
    }

    /// Records `head` as the newest version of its key, unless it already is.
    fn remember(&self, head: &ObjectHead) {
        let mut history = self.history.lock();
        let versions = history.entry(head.key.clone()).or_default();
        if versions.first().map(|v| &v.version_id) != Some(&head.version_id) {
            versions.insert(0, head.clone());
        }
    }

    /// Applies `plan` to the current object, as a REPLACE copy does: conditional on its ETag.
    fn write(&self, plan: &Plan, etag: Option<String>) -> Result<Rewritten, S3Failure> {
        if let Some(writer) = self.before_copy.lock().take() {
            writer(&mut self.objects.lock());
        }
        if let Some(current) = self.objects.lock().get(&plan.key) {
            self.remember(current);
        }
        let mut objects = self.objects.lock();
        let current = objects
            .get_mut(&plan.key)
            .ok_or_else(|| S3Failure::answered("NoSuchKey", 404))?;
        if current.etag.as_deref() != Some(plan.if_match.as_str()) {
            if let Some(writer) = self.after_conflict.lock().take() {
                writer(&mut objects);
            }
            return Err(S3Failure::answered("PreconditionFailed", 412));
        }
        let h = &plan.headers;
        current.content_type.clone_from(&h.content_type);
        current.content_encoding.clone_from(&h.content_encoding);
        current.cache_control.clone_from(&h.cache_control);
        current.metadata = if self.lossy {
            BTreeMap::new()
        } else {
            h.metadata.clone()
        };
        current.etag = etag.or(current.etag.take());
        let mut versions = self.versions.lock();
        *versions += 1;
        current.version_id = Some(format!("v{}", *versions + 1));
        self.sent.lock().push(plan.clone());
        let current = current.clone();
        drop(objects);
        self.remember(&current);
        Ok(Rewritten {
            version_id: current.version_id.clone(),
            etag: current.etag.clone(),
        })
    }
}

impl Store for Stub {
    fn bucket(&self) -> &str {
        BUCKET
    }

    async fn head(&self, key: &str) -> Result<ObjectHead, S3Failure> {
        self.call(format!("head {key}"));
        self.objects
            .lock()
            .get(key)
            .cloned()
            .ok_or_else(|| S3Failure::answered("NotFound", 404))
    }

    async fn head_version(&self, key: &str, version_id: &str) -> Result<ObjectHead, S3Failure> {
        self.call(format!("head {key} {version_id}"));
        let history = self.history.lock();
        let versions = history.get(key).into_iter().flatten();
        versions
            .into_iter()
            .find(|v| v.version_id.as_deref() == Some(version_id))
            .cloned()
            .ok_or_else(|| S3Failure::answered("NoSuchVersion", 404))
    }

    async fn versions(&self, key: &str) -> Result<Vec<ObjectVersion>, S3Failure> {
        self.call(format!("versions {key}"));
        let history = self.history.lock();
        let versions = history.get(key).into_iter().flatten();
        Ok(versions
            .map(|v| ObjectVersion {
                version_id: v.version_id.clone().unwrap_or_default(),
                etag: v.etag.clone(),
                delete_marker: false,
            })
            .collect())
    }

    async fn delete_current(&self, key: &str, if_match: Option<&str>) -> Result<(), S3Failure> {
        self.call(format!("delete {key} {}", if_match.unwrap_or("-")));
        self.objects.lock().remove(key);
        Ok(())
    }

    async fn body_start(
        &self,
        key: &str,
        _version_id: Option<&str>,
        n: u64,
    ) -> Result<Vec<u8>, S3Failure> {
        self.call(format!("get {key}"));
        let body = self
            .bodies
            .lock()
            .get(key)
            .cloned()
            .unwrap_or_else(|| b"<html>".to_vec());
        Ok(body.into_iter().take(n as usize).collect())
    }

    async fn acl(&self, key: &str, _version_id: Option<&str>) -> Result<ObjectAcl, S3Failure> {
        self.call(format!("acl {key}"));
        if let Some(failure) = &self.acl_failure {
            return Err(failure.clone());
        }
        Ok(self.acls.lock().get(key).cloned().unwrap_or_default())
    }

    async fn put_acl(
        &self,
        key: &str,
        version_id: &str,
        grants: Option<&plan::GrantHeaders>,
    ) -> Result<(), S3Failure> {
        self.call(format!("put-acl {key} {version_id} {}", grants.is_some()));
        Ok(())
    }

    async fn tagging(&self, key: &str, _version_id: Option<&str>) -> Result<String, S3Failure> {
        self.call(format!("tagging {key}"));
        Ok("a=1&b=2".into())
    }

    async fn copy(&self, plan: &Plan, destination_if_match: bool) -> Result<Rewritten, S3Failure> {
        self.call(format!("copy {} {destination_if_match}", plan.key));
        if let Some(failure) = self.copy_failures.lock().pop_front() {
            return Err(failure);
        }
        let written = self.write(plan, None);
        if plan.exclude_annotations {
            self.annotations.lock().remove(&plan.key);
        }
        if std::mem::take(&mut *self.lose_answer.lock()) {
            return Err(S3Failure {
                code: "NetworkError".into(),
                message: "connection reset".into(),
                http_status: None,
            });
        }
        written
    }

    async fn multipart(
        &self,
        plan: &Plan,
        parts: &Parts,
        _destination_if_match: bool,
    ) -> Result<Rewritten, S3Failure> {
        let Parts {
            size,
            part_size,
            tagging,
        } = parts;
        let tags = tagging.as_deref().unwrap_or_default();
        self.call(format!("multipart {} {size} {part_size} {tags}", plan.key));
        let count = size.div_ceil(*part_size);
        let written = self.write(plan, Some(format!("\"multipart-{count}\"")));
        if written.is_ok() {
            self.annotations.lock().remove(&plan.key);
        }
        written
    }

    async fn annotations(
        &self,
        key: &str,
        _version_id: Option<&str>,
    ) -> Result<Vec<Annotation>, S3Failure> {
        self.call(format!("annotations {key}"));
        if self.no_annotations {
            return Err(S3Failure::answered("NotImplemented", 501));
        }
        let all = self.annotations.lock();
        Ok(all
            .get(key)
            .map(|a| a.iter().map(|(a, _)| a.clone()).collect())
            .unwrap_or_default())
    }

    async fn annotation(
        &self,
        key: &str,
        _version_id: Option<&str>,
        name: &str,
    ) -> Result<Vec<u8>, S3Failure> {
        self.call(format!("annotation {key} {name}"));
        let all = self.annotations.lock();
        all.get(key)
            .and_then(|a| a.iter().find(|(a, _)| a.name == name))
            .map(|(_, payload)| payload.clone())
            .ok_or_else(|| S3Failure::answered("NoSuchAnnotation", 404))
    }

    async fn put_annotation(
        &self,
        key: &str,
        _version_id: Option<&str>,
        name: &str,
        payload: &[u8],
        if_match: Option<&str>,
    ) -> Result<(), S3Failure> {
        self.call(format!("put-annotation {key} {name}"));
        if if_match != self.object(key).etag.as_deref() {
            return Err(S3Failure::answered("PreconditionFailed", 412));
        }
        let annotation = stub_annotation(name, payload);
        let mut all = self.annotations.lock();
        let list = all.entry(key.to_owned()).or_default();
        list.retain(|(a, _)| a.name != name);
        list.push((annotation, payload.to_vec()));
        Ok(())
    }

    async fn source_condition_enforced(
        &self,
        _copy_source: &str,
        _probe_key: &str,
        _size: u64,
    ) -> Result<bool, S3Failure> {
        self.call("probe".into());
        self.source_condition.clone().unwrap_or(Ok(true))
    }
}

/// An annotation as the stub lists it: its ETag is its payload's length and first byte.
fn stub_annotation(name: &str, payload: &[u8]) -> Annotation {
    Annotation {
        name: name.to_owned(),
        etag: Some(format!("\"{}-{:?}\"", payload.len(), payload.first())),
        size: payload.len() as i64,
    }
}

fn bad(key: &str) -> ObjectHead {
    ObjectHead {
        etag: Some("\"e1\"".into()),
        version_id: Some("v1".into()),
        content_length: Some(10),
        content_type: Some("text/html".into()),
        content_encoding: Some("UTF-8".into()),
        metadata: [("s3cmd-attrs".to_owned(), "uid:1000".to_owned())].into(),
        ..ObjectHead::new(key)
    }
}

fn inspected(head: &ObjectHead) -> Inspected {
    Inspected {
        listed: ListedObject {
            key: head.key.clone(),
            size: head.content_length.unwrap_or(0),
            etag: head.etag.clone(),
            last_modified: None,
        },
        outcome: Ok(head.clone()),
        findings: RuleSet::all().check(head, None),
        taken: Some(std::time::Instant::now()),
        body_start: None,
        from_catalog: false,
    }
}

struct Setup {
    settings: RepairSettings,
    caller: Option<String>,
    journal: Option<Arc<Journal>>,
    stop: CancellationToken,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            settings: RepairSettings::default(),
            caller: Some("me".into()),
            journal: None,
            stop: CancellationToken::new(),
        }
    }
}

impl Setup {
    fn repairer(self, stub: Stub) -> Repairer<Stub> {
        let capabilities = Arc::new(Capabilities::new(self.caller));
        Repairer::new(stub, RuleSet::all(), self.settings, capabilities)
            .journalling(self.journal)
            .stopping_on(self.stop)
    }
}

/// A repairer with the default settings over `stub`.
fn over(stub: Stub) -> Repairer<Stub> {
    Setup::default().repairer(stub)
}

#[tokio::test]
async fn a_finding_is_planned_journalled_copied_with_its_grants_and_verified() {
    let head = bad("a.html");
    let stub = Stub::with([head.clone()]);
    let public = ObjectAcl {
        owner_id: Some("me".into()),
        grants: vec![
            Grant {
                grantee: "id=\"me\"".into(),
                permission: "FULL_CONTROL".into(),
            },
            Grant {
                grantee: "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"".into(),
                permission: "READ".into(),
            },
        ],
    };
    stub.acls.lock().insert("a.html".into(), public.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let repairer = Setup {
        journal: Some(Arc::new(Journal::create(&path).unwrap())),
        ..Setup::default()
    }
    .repairer(stub);

    let repaired = repairer.repair(inspected(&head)).await;
    let Outcome::Fixed {
        plan,
        new,
        after_conflict: false,
        left_noncurrent: true,
    } = &repaired.outcome
    else {
        panic!("{:?}", repaired.outcome)
    };
    assert_eq!(plan.headers.content_encoding, None);
    assert_eq!(plan.grants, plan::grant_headers(&public));
    assert!(
        plan.grants.is_some(),
        "the public grant travels in the copy"
    );
    let stub = &repairer.store;
    assert_eq!(
        stub.calls(),
        [
            "probe",
            "acl a.html",
            "copy a.html true",
            "versions a.html",
            "head a.html",
            // The copied version's ACL, for a change made while the copy was in flight.
            "acl a.html"
        ]
    );
    let after = stub.object("a.html");
    assert_eq!(
        (after.content_encoding, &after.metadata),
        (None, &head.metadata)
    );
    assert_eq!(new.version_id, after.version_id);

    let recorded = journal::read(&path).unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].old, head);
    assert_eq!(recorded[0].old_acl, Some(public));
    assert_eq!(recorded[0].status, Some(Status::Fixed));
}

#[tokio::test]
async fn a_conflict_is_looked_at_again_never_retried_with_the_old_plan() {
    // Changed after the HEAD, still bad: the new version is repaired, on its own ETag, and the
    // new version's body decides its Content-Encoding again (a gzip body keeps gzip).
    let stale = bad("a.html");
    let stub = Stub::with([stale.clone()]);
    stub.bodies
        .lock()
        .insert("a.html".into(), vec![0x1f, 0x8b, 8, 0]);
    *stub.before_copy.lock() = Some(Box::new(|objects| {
        let object = objects.get_mut("a.html").unwrap();
        object.etag = Some("\"e2\"".into());
        object.content_encoding = Some("gzip, UTF-8".into());
    }));
    let repairer = over(stub);
    let repaired = repairer.repair(inspected(&stale)).await;
    assert!(
        matches!(&repaired.outcome, Outcome::Fixed { after_conflict: true, plan, .. }
            if plan.if_match == "\"e2\"" && plan.headers.content_encoding.as_deref() == Some("gzip")),
        "{:?}",
        repaired.outcome
    );
    assert!(repairer.store.calls().contains(&"get a.html".to_owned()));

    // Changed after the HEAD into something that needs no repair: left alone.
    let stub = Stub::with([stale.clone()]);
    *stub.before_copy.lock() = Some(Box::new(|objects| {
        let object = objects.get_mut("a.html").unwrap();
        object.etag = Some("\"e2\"".into());
        object.content_encoding = Some("br".into());
    }));
    let repairer = over(stub);
    let repaired = repairer.repair(inspected(&stale)).await;
    assert_eq!(
        repaired.outcome,
        Outcome::Conflict("changed after it was inspected; the new version needs no repair".into())
    );
    assert_eq!(repairer.store.sent.lock().len(), 0, "nothing was written");
    assert_eq!(
        repairer.store.object("a.html").content_encoding.as_deref(),
        Some("br")
    );

    // Replaced after the HEAD, then deleted before the second look.
    let stub = Stub::with([stale.clone()]);
    *stub.before_copy.lock() = Some(Box::new(|objects| {
        objects.get_mut("a.html").unwrap().etag = Some("\"e2\"".into());
    }));
    *stub.after_conflict.lock() = Some(Box::new(|objects| {
        objects.remove("a.html");
    }));
    let repaired = over(stub).repair(inspected(&stale)).await;
    assert_eq!(
        repaired.outcome,
        Outcome::Conflict("deleted after it was inspected".into())
    );
}

#[tokio::test]
async fn a_bucket_without_acls_is_learnt_from_the_first_answer() {
    for (failure, support) in [
        (
            S3Failure::answered("NotImplemented", 501),
            AclSupport::NotImplemented,
        ),
        (
            S3Failure::answered("AccessControlListNotSupported", 400),
            AclSupport::Disabled,
        ),
    ] {
        let stub = Stub {
            acl_failure: Some(failure),
            ..Stub::with([bad("a.html"), bad("b.html")])
        };
        let repairer = over(stub);
        for key in ["a.html", "b.html"] {
            let repaired = repairer.repair(inspected(&bad(key))).await;
            assert!(matches!(repaired.outcome, Outcome::Fixed { .. }));
        }
        let acl_calls = repairer
            .store
            .calls()
            .iter()
            .filter(|c| c.starts_with("acl"))
            .count();
        assert_eq!(acl_calls, 1, "asked once");
        assert_eq!(repairer.capabilities.acl_support(), support);
    }
    // Any other ACL failure is the object's error.
    let stub = Stub {
        acl_failure: Some(S3Failure::answered("AccessDenied", 403)),
        ..Stub::with([bad("a.html")])
    };
    let repaired = over(stub).repair(inspected(&bad("a.html"))).await;
    assert!(
        matches!(&repaired.outcome, Outcome::Failed(Failure::S3(f)) if f.code == "AccessDenied")
    );
}

#[tokio::test]
async fn objects_another_account_owns_are_skipped() {
    let stub = Stub::with([bad("a.html")]);
    stub.acls.lock().insert(
        "a.html".into(),
        ObjectAcl {
            owner_id: Some("them".into()),
            grants: Vec::new(),
        },
    );
    let repairer = over(stub);
    let repaired = repairer.repair(inspected(&bad("a.html"))).await;
    assert_eq!(repaired.outcome, Outcome::Skipped(SkipReason::ForeignOwner));
    // The run's one probe comes first, to keep the ACL read right before the copy.
    assert_eq!(repairer.store.calls(), ["probe", "acl a.html"]);
}

/// `head` as a writer leaves it who uploads the same bytes again with other headers: the same
/// ETag, a new version and Last-Modified.
fn rewritten_same_bytes(head: &ObjectHead) -> ObjectHead {
    ObjectHead {
        version_id: Some("theirs".into()),
        cache_control: Some("max-age=60".into()),
        last_modified: Some("2026-12-02T17:00:01Z".into()),
        ..head.clone()
    }
}

#[tokio::test]
async fn an_old_snapshot_is_read_again_and_a_same_bytes_rewrite_is_caught() {
    let head = bad("a.html");
    let stub = Stub::with([rewritten_same_bytes(&head)]);
    let repairer = over(stub);
    let old = Inspected {
        taken: None,
        ..inspected(&head)
    };
    let repaired = repairer.repair(old).await;
    let Outcome::Fixed {
        plan,
        after_conflict: true,
        ..
    } = &repaired.outcome
    else {
        panic!("{:?}", repaired.outcome)
    };
    // The writer's header is kept; the copy is based on what the writer left.
    assert_eq!(plan.headers.cache_control.as_deref(), Some("max-age=60"));
    assert!(plan.copy_source.ends_with("versionId=theirs"), "{plan:?}");
    assert_eq!(repairer.store.calls()[0], "head a.html");
    let after = repairer.store.object("a.html");
    assert_eq!(
        (after.cache_control.as_deref(), after.content_encoding),
        (Some("max-age=60"), None)
    );
}

#[tokio::test]
async fn a_snapshot_is_read_again_once_older_than_the_bound_and_used_if_unchanged() {
    let head = bad("a.html");
    for (age, bound, reread) in [
        (Duration::ZERO, Duration::from_secs(1), false),
        (Duration::from_millis(30), Duration::from_millis(10), true),
        (Duration::ZERO, Duration::ZERO, true),
    ] {
        let repairer = Setup {
            settings: RepairSettings {
                recheck_after: bound,
                ..RepairSettings::default()
            },
            ..Setup::default()
        }
        .repairer(Stub::with([head.clone()]));
        let inspected = inspected(&head);
        tokio::time::sleep(age).await;
        let repaired = repairer.repair(inspected).await;
        assert!(
            matches!(
                repaired.outcome,
                Outcome::Fixed {
                    after_conflict: false,
                    ..
                }
            ),
            "{:?}",
            repaired.outcome
        );
        let calls = repairer.store.calls();
        assert_eq!(
            calls[0] == "head a.html",
            reread,
            "{age:?} {bound:?}: {calls:?}"
        );
    }
}

#[tokio::test]
async fn a_version_written_between_the_last_read_and_the_copy_is_put_back_on_top() {
    let head = bad("a.html");
    let stub = Stub::with([head.clone()]);
    let writer = rewritten_same_bytes(&head);
    *stub.before_copy.lock() = Some(Box::new(move |objects| {
        objects.insert("a.html".into(), writer);
    }));
    let repairer = over(stub);
    let repaired = repairer.repair(inspected(&head)).await;
    assert!(
        matches!(&repaired.outcome, Outcome::Conflict(why) if why.contains("version theirs") && why.contains("put back on top")),
        "{:?}",
        repaired.outcome
    );
    let stub = &repairer.store;
    let calls = stub.calls();
    let after_copy = calls.iter().position(|c| c == "versions a.html").unwrap();
    assert_eq!(
        calls[after_copy + 1..],
        ["head a.html theirs", "acl a.html", "copy a.html true"]
    );
    // The reinstating copy: the writer's version, everything as it was, nothing repaired, and
    // landing only on the repair's own copy.
    let sent = stub.sent.lock();
    let reinstating = sent.last().unwrap();
    assert!(reinstating.changes.is_empty());
    assert!(reinstating.copy_source.ends_with("versionId=theirs"));
    assert_eq!(
        reinstating.headers.content_encoding.as_deref(),
        Some("UTF-8")
    );
    assert_eq!(
        reinstating.headers.cache_control.as_deref(),
        Some("max-age=60")
    );
    let after = stub.object("a.html");
    assert_eq!(after.cache_control.as_deref(), Some("max-age=60"));
    assert_eq!(after.content_encoding.as_deref(), Some("UTF-8"));
}

#[tokio::test]
async fn a_refused_destination_if_match_is_learnt_and_the_copy_sent_again_without() {
    let stub = Stub::with([bad("a.html"), bad("b.html")]);
    stub.copy_failures
        .lock()
        .push_back(S3Failure::answered("NotImplemented", 501));
    let repairer = over(stub);
    for key in ["a.html", "b.html"] {
        let repaired = repairer.repair(inspected(&bad(key))).await;
        assert!(matches!(repaired.outcome, Outcome::Fixed { .. }), "{key}");
    }
    let copies: Vec<String> = repairer
        .store
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("copy"))
        .collect();
    assert_eq!(
        copies,
        ["copy a.html true", "copy a.html false", "copy b.html false"]
    );
    assert!(!repairer.capabilities.destination_conditions());
}

#[tokio::test]
async fn a_server_that_ignores_the_source_condition_gets_no_copy_unless_allowed() {
    let stub = Stub {
        source_condition: Some(Ok(false)),
        ..Stub::with([bad("a.html")])
    };
    let repairer = over(stub);
    let repaired = repairer.repair(inspected(&bad("a.html"))).await;
    assert_eq!(
        repaired.outcome,
        Outcome::Failed(Failure::UnconditionalRefused)
    );
    assert!(repairer.store.sent.lock().is_empty());

    let stub = Stub {
        source_condition: Some(Ok(false)),
        ..Stub::with([bad("a.html")])
    };
    let allowed = Setup {
        settings: RepairSettings {
            allow_unconditional: true,
            ..RepairSettings::default()
        },
        ..Setup::default()
    }
    .repairer(stub);
    let repaired = allowed.repair(inspected(&bad("a.html"))).await;
    assert!(matches!(repaired.outcome, Outcome::Fixed { .. }));
    assert_eq!(allowed.capabilities.source_condition(), Some(&Ok(false)));
}

#[tokio::test]
async fn a_copy_that_loses_something_fails_verification_and_is_journalled_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let stub = Stub {
        lossy: true,
        ..Stub::with([bad("a.html")])
    };
    let repairer = Setup {
        journal: Some(Arc::new(Journal::create(&path).unwrap())),
        ..Setup::default()
    }
    .repairer(stub);
    let repaired = repairer.repair(inspected(&bad("a.html"))).await;
    assert_eq!(
        repaired.outcome,
        Outcome::Failed(Failure::VerifyMismatch(vec!["metadata".into()]))
    );
    let recorded = journal::read(&path).unwrap();
    assert_eq!(recorded[0].status, Some(Status::Error));
    let line = std::fs::read_to_string(&path).unwrap();
    assert!(
        line.contains("\"new_version_id\":\"v2\""),
        "the written copy's version is kept: {line}"
    );
}

#[tokio::test]
async fn a_copy_whose_answer_was_lost_is_looked_at_before_it_is_called_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let stub = Stub::with([bad("a.html")]);
    *stub.lose_answer.lock() = true;
    let repairer = Setup {
        journal: Some(Arc::new(Journal::create(&path).unwrap())),
        ..Setup::default()
    }
    .repairer(stub);
    let repaired = repairer.repair(inspected(&bad("a.html"))).await;
    assert!(
        matches!(&repaired.outcome, Outcome::Fixed { new, .. } if new.version_id.as_deref() == Some("v2")),
        "applied, so fixed: {:?}",
        repaired.outcome
    );
    assert_eq!(journal::read(&path).unwrap()[0].status, Some(Status::Fixed));

    // Failed without being applied: still a failure, after one look.
    let stub = Stub::with([bad("a.html")]);
    stub.copy_failures
        .lock()
        .push_back(S3Failure::answered("InternalError", 500));
    let repairer = over(stub);
    let repaired = repairer.repair(inspected(&bad("a.html"))).await;
    assert!(
        matches!(&repaired.outcome, Outcome::Failed(Failure::S3(f)) if f.code == "InternalError"),
        "{:?}",
        repaired.outcome
    );
    let heads = repairer
        .store
        .calls()
        .iter()
        .filter(|c| c.starts_with("head"))
        .count();
    assert_eq!(heads, 1, "looked once");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_journal_that_cannot_be_written_stops_the_run_before_any_copy() {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let journal = Journal::create(std::path::Path::new("/dev/full")).unwrap();
    let repairer = Setup {
        journal: Some(Arc::new(journal)),
        ..Setup::default()
    }
    .repairer(Stub::with([bad("a.html")]));
    let repaired = repairer.repair(inspected(&bad("a.html"))).await;
    let Outcome::Failed(failure) = &repaired.outcome else {
        panic!("{:?}", repaired.outcome)
    };
    assert!(matches!(failure, Failure::Journal(m) if m.contains("/dev/full")));
    assert!(failure.stops_the_run());
    assert!(
        repairer.store.sent.lock().is_empty(),
        "no copy without a record"
    );
}

#[tokio::test]
async fn objects_over_the_threshold_are_copied_in_parts_with_their_tags() {
    // 100 GiB: more than 10,000 parts of the 5 MiB minimum.
    let huge = ObjectHead {
        content_length: Some(100 << 30),
        tag_count: Some(2),
        ..bad("huge.bin.html")
    };
    let small = ObjectHead {
        content_length: Some(25_000),
        ..bad("small.html")
    };
    let stub = Stub::with([huge.clone(), small.clone()]);
    let repairer = Setup {
        settings: RepairSettings {
            multipart_threshold: 1000,
            part_size: 1,
            ..RepairSettings::default()
        },
        ..Setup::default()
    }
    .repairer(stub);
    let repaired = repairer.repair(inspected(&huge)).await;
    assert!(
        matches!(&repaired.outcome, Outcome::Fixed { new, .. }
            if new.etag.as_deref() == Some("\"multipart-10000\"")),
        "the new ETag is the one verified: {:?}",
        repaired.outcome
    );
    let repaired = repairer.repair(inspected(&small)).await;
    assert!(matches!(&repaired.outcome, Outcome::Fixed { .. }));
    let calls = repairer.store.calls();
    assert!(
        calls.contains(&"tagging huge.bin.html".to_owned()),
        "{calls:?}"
    );
    // 10,000 parts at most: the part size grows with the object; never below S3's 5 MiB minimum
    // (an object smaller than that is one last part), whatever the settings say.
    assert!(
        calls.contains(&"multipart huge.bin.html 107374182400 10737419 a=1&b=2".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"multipart small.html 25000 5242880 ".to_owned()),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_dry_run_plans_and_writes_nothing() {
    let repairer = Setup {
        settings: RepairSettings {
            dry_run: true,
            ..RepairSettings::default()
        },
        ..Setup::default()
    }
    .repairer(Stub::with([bad("a.html")]));
    let repaired = repairer.repair(inspected(&bad("a.html"))).await;
    assert!(
        matches!(&repaired.outcome, Outcome::WouldFix(plan) if plan.headers.content_encoding.is_none())
    );
    assert_eq!(repairer.store.calls(), ["acl a.html"]);
}

#[tokio::test]
async fn after_a_stop_no_copy_starts_and_clean_or_unread_objects_need_no_request() {
    let stop = CancellationToken::new();
    stop.cancel();
    let repairer = Setup {
        stop,
        ..Setup::default()
    }
    .repairer(Stub::with([bad("a.html")]));
    let repaired = repairer.repair(inspected(&bad("a.html"))).await;
    assert_eq!(repaired.outcome, Outcome::Skipped(SkipReason::Interrupted));

    let clean = ObjectHead {
        content_encoding: Some("gzip".into()),
        ..bad("c.html")
    };
    assert_eq!(
        repairer.repair(inspected(&clean)).await.outcome,
        Outcome::Clean
    );
    let mut unread = inspected(&bad("s.html"));
    unread.outcome = Err(S3Failure::answered("BadRequest", 400));
    assert_eq!(
        repairer.repair(unread).await.outcome,
        Outcome::Skipped(SkipReason::SseC)
    );
    assert!(repairer.store.calls().is_empty());
}

fn recorded(old: &ObjectHead, new: &ObjectHead) -> journal::Recorded {
    journal::Recorded {
        bucket: BUCKET.into(),
        key: old.key.clone(),
        old: old.clone(),
        old_acl: None,
        new: new.clone(),
        status: None,
        at: None,
        annotations: Vec::new(),
    }
}

fn repaired_version(old: &ObjectHead) -> ObjectHead {
    ObjectHead {
        content_encoding: None,
        version_id: Some("v2".into()),
        ..old.clone()
    }
}

#[tokio::test]
async fn settling_reads_what_became_of_a_copy_in_flight() {
    let old = bad("a.html");
    let new = repaired_version(&old);
    let changed = ObjectHead {
        content_type: Some("text/plain".into()),
        ..old.clone()
    };
    let cases = [
        (Some(new.clone()), Settled::Applied, Status::Fixed),
        (Some(old.clone()), Settled::NotApplied, Status::NotApplied),
        (Some(changed), Settled::Changed, Status::Conflict),
        (None, Settled::Changed, Status::Conflict),
    ];
    for (now, settled, status) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let journal = Arc::new(Journal::create(&path).unwrap());
        journal
            .planned(&journal::Planned {
                bucket: BUCKET,
                key: "a.html",
                version_id: None,
                etag: None,
                old: &old,
                old_acl: None,
                new: &new,
                request: &plan::carry_over(&new).unwrap(),
                grants: None,
                annotations: &[],
            })
            .await
            .unwrap();
        let repairer = Setup {
            journal: Some(journal),
            ..Setup::default()
        }
        .repairer(Stub::with(now.clone()));
        assert_eq!(
            repairer.settle(&recorded(&old, &new)).await,
            Ok(settled.clone()),
            "{now:?}"
        );
        assert_eq!(journal::read(&path).unwrap()[0].status, Some(status));
    }
}

#[tokio::test]
async fn undo_restores_only_what_is_still_as_the_fix_left_it() {
    let old = bad("a.html");
    let new = ObjectHead {
        etag: Some("\"e1\"".into()),
        ..repaired_version(&old)
    };
    let repairer = over(Stub::with([new.clone()]));
    let restored = repairer.undo(recorded(&old, &new)).await;
    assert!(
        matches!(&restored.outcome, Outcome::Fixed { plan, .. }
            if plan.headers.content_encoding.as_deref() == Some("UTF-8")),
        "{:?}",
        restored.outcome
    );
    assert_eq!(
        repairer.store.object("a.html").content_encoding.as_deref(),
        Some("UTF-8")
    );

    // Already as before the fix: nothing to do.
    let repairer = over(Stub::with([old.clone()]));
    assert_eq!(
        repairer.undo(recorded(&old, &new)).await.outcome,
        Outcome::Clean
    );
    // Changed by someone else since: left alone.
    let other = ObjectHead {
        cache_control: Some("no-cache".into()),
        ..new.clone()
    };
    let repairer = over(Stub::with([other]));
    let outcome = repairer.undo(recorded(&old, &new)).await.outcome;
    assert_eq!(
        outcome,
        Outcome::Conflict("changed since the fix (cache_control)".into())
    );
    assert!(repairer.store.sent.lock().is_empty());
}

/// A stub whose `a.html` (over a 1,000-byte threshold) has two annotations.
fn annotated(no_annotations: bool) -> (Stub, ObjectHead) {
    let head = ObjectHead {
        content_length: Some(25_000),
        ..bad("a.html")
    };
    let stub = Stub {
        no_annotations,
        ..Stub::with([
            head.clone(),
            ObjectHead {
                content_length: Some(25_000),
                ..bad("b.html")
            },
        ])
    };
    let payloads = [
        ("review", b"ok".to_vec()),
        ("source", b"{\"from\":\"cms\"}".to_vec()),
    ];
    stub.annotations.lock().insert(
        "a.html".into(),
        payloads
            .into_iter()
            .map(|(name, payload)| (stub_annotation(name, &payload), payload))
            .collect(),
    );
    (stub, head)
}

fn multipart_above_1000() -> RepairSettings {
    RepairSettings {
        multipart_threshold: 1000,
        ..RepairSettings::default()
    }
}

#[tokio::test]
async fn a_multipart_rewrite_keeps_the_annotations_on_disk_and_puts_them_back() {
    let (stub, head) = annotated(false);
    let before = stub.annotations.lock()["a.html"].clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let repairer = Setup {
        settings: multipart_above_1000(),
        journal: Some(Arc::new(Journal::create(&path).unwrap())),
        ..Setup::default()
    }
    .repairer(stub);
    let repaired = repairer.repair(inspected(&head)).await;
    assert!(
        matches!(repaired.outcome, Outcome::Fixed { .. }),
        "{:?}",
        repaired.outcome
    );
    assert_eq!(repairer.store.annotations.lock()["a.html"], before);
    let calls = repairer.store.calls();
    let at = |call: &str| {
        calls
            .iter()
            .position(|c| c == call)
            .unwrap_or_else(|| panic!("{call}: {calls:?}"))
    };
    assert!(at("annotation a.html source") < at("multipart a.html 25000 268435456 "));
    assert!(at("multipart a.html 25000 268435456 ") < at("put-annotation a.html review"));
    // The journal names every payload's file, next to it, private to the user.
    let recorded = journal::read(&path).unwrap();
    assert_eq!(recorded[0].status, Some(Status::Fixed));
    let saved = &recorded[0].annotations;
    assert_eq!(saved.len(), 2);
    let payload_dir = crate::payloads::dir_for(&path);
    for (entry, (annotation, payload)) in saved.iter().zip(&before) {
        assert_eq!(&entry.annotation, annotation);
        let file = payload_dir.join(entry.file.as_deref().unwrap());
        assert_eq!(&std::fs::read(&file).unwrap(), payload);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

#[tokio::test]
async fn a_lost_annotation_put_is_an_error_that_names_it() {
    let (stub, head) = annotated(false);
    let repairer = Setup {
        settings: multipart_above_1000(),
        ..Setup::default()
    }
    .repairer(stub);
    // Someone else rewrites the object right after the upload: the conditional puts fail.
    *repairer.store.before_copy.lock() = None;
    let key = head.key.clone();
    let store = &repairer.store;
    let kept = Kept {
        saved: vec![journal::SavedAnnotation {
            annotation: stub_annotation("review", b"ok"),
            file: None,
        }],
        in_memory: vec![b"ok".to_vec()],
    };
    let failed = repairer
        .put_back(&key, &kept, None, Some("\"not-the-etag\""))
        .await
        .unwrap_err();
    assert!(
        failed.to_string().contains("AnnotationsNotRestored"),
        "{failed}"
    );
    assert!(failed.to_string().contains("review"), "{failed}");
    assert!(store
        .calls()
        .contains(&"put-annotation a.html review".to_owned()));
}

#[tokio::test]
async fn a_server_without_annotations_is_learnt_once() {
    let (stub, head) = annotated(true);
    let repairer = Setup {
        settings: multipart_above_1000(),
        ..Setup::default()
    }
    .repairer(stub);
    for key in ["a.html", "b.html"] {
        let head = ObjectHead {
            key: key.into(),
            ..head.clone()
        };
        let repaired = repairer.repair(inspected(&head)).await;
        assert!(
            matches!(repaired.outcome, Outcome::Fixed { .. }),
            "{:?}",
            repaired.outcome
        );
    }
    let lists = repairer
        .store
        .calls()
        .iter()
        .filter(|c| c.starts_with("annotations"))
        .count();
    assert_eq!(lists, 1);
    assert!(repairer
        .capabilities
        .notes(false)
        .iter()
        .any(|n| n.contains("ListObjectAnnotations")));
}

#[tokio::test]
async fn a_copy_refused_for_its_annotation_directive_is_sent_again_excluding_them() {
    let stub = Stub::with([bad("a.html"), bad("b.html")]);
    let refused = S3Failure {
        message: "the annotation directive COPY is not implemented".into(),
        ..S3Failure::answered("NotImplemented", 501)
    };
    stub.copy_failures.lock().push_back(refused);
    let repairer = over(stub);
    for key in ["a.html", "b.html"] {
        let repaired = repairer.repair(inspected(&bad(key))).await;
        assert!(
            matches!(repaired.outcome, Outcome::Fixed { .. }),
            "{:?}",
            repaired.outcome
        );
    }
    let sent = repairer.store.sent.lock().clone();
    assert!(sent.iter().all(|p| p.exclude_annotations), "{sent:?}");
    // The destination If-Match is kept: the 501 named the directive.
    assert!(repairer.capabilities.destination_conditions());
    let copies = repairer
        .store
        .calls()
        .iter()
        .filter(|c| c.starts_with("copy"))
        .count();
    assert_eq!(copies, 3, "one refused, then one each");
    assert!(repairer
        .capabilities
        .notes(false)
        .iter()
        .any(|n| n.contains("EXCLUDE")));
}
