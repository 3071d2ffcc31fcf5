//! The S3 Batch Operations handler (`s3mend::batch`) on the example events in
//! examples/batch-operations/events/, against the lab: it repairs as `s3mend fix` does (lossless,
//! journalled before the copy, undoable), writes nothing in scan and dry-run modes, and answers
//! each case with the result code Batch Operations acts on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use s3mend::batch::{self, Handler, Invocation, ResultCode, Settings};
use s3mend::journal::Journal;
use s3mend_lab::{FaultRates, Faults, ObjectSeed, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use serde_json::Value;

use crate::fix::{comparable, everything};
use crate::harness::{gzipped, TestEnv};

/// The bucket and the key (`s3Key` decoded) the example events name.
pub const BUCKET: &str = "my-site-bucket";
pub const KEY: &str = "menus/café du marché.html";

pub fn events() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/batch-operations/events")
}

/// An example event (or response) as JSON.
pub fn example(name: &str) -> Value {
    let path = events().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An example event with its task's `s3Key` replaced by `encoded`.
fn with_key(name: &str, encoded: &str) -> Invocation {
    let mut event = example(name);
    event["tasks"][0]["s3Key"] = encoded.into();
    serde_json::from_value(event).unwrap()
}

fn event(name: &str) -> Invocation {
    serde_json::from_value(example(name)).unwrap()
}

/// The journal's log stream, readable while the handler writes to it.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The function as Lambda would configure it for the lab, with `attempts` per request.
pub(crate) fn lab_handler(env: &TestEnv, attempts: u32) -> (Handler, Log) {
    let endpoint = env.lab.endpoint();
    let mut settings: Settings = batch::from_env(|name| match name {
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        "S3MEND_MAX_ATTEMPTS" => Some(attempts.to_string()),
        _ => None,
    })
    .unwrap();
    // The role's credentials and AWS_REGION, as Lambda gives them.
    settings.connect.static_credentials = Some((LAB_ACCESS_KEY.into(), LAB_SECRET_KEY.into()));
    settings.connect.region = Some(LAB_REGION.into());
    let log = Log::default();
    let journal = Journal::to_log("stdout", log.clone()).unwrap();
    (Handler::new(settings, Arc::new(journal)), log)
}

async fn site() -> TestEnv {
    let env = TestEnv::new().await;
    env.lab.create_bucket(BUCKET);
    env
}

fn writes(env: &TestEnv) -> u64 {
    let stats = env.lab.stats();
    [
        "CopyObject",
        "PutObject",
        "PutObjectAcl",
        "CreateMultipartUpload",
    ]
    .iter()
    .map(|op| stats.count(op))
    .sum()
}

fn only(response: &batch::Response) -> (ResultCode, &str) {
    assert_eq!(response.results.len(), 1, "{response:?}");
    let result = &response.results[0];
    (result.result_code, result.result_string.as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fix_event_repairs_losslessly_journalling_before_the_copy_and_undo_reads_the_log() {
    let env = site().await;
    let before = env
        .lab
        .put_object(BUCKET, KEY, everything(gzipped(b"<p>menu</p>")));
    let (handler, log) = lab_handler(&env, 3);
    // At the copy, the plan is already in the log.
    let seen_at_copy = Arc::new(Mutex::new(None));
    let (seen, at_copy) = (seen_at_copy.clone(), log.clone());
    env.lab.before_next_copy(BUCKET, KEY, move |_| {
        *seen.lock().unwrap() = Some(at_copy.text());
    });

    let response = handler.handle(event("fix.json")).await;

    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        example("response-fixed.json"),
        "the documented response"
    );
    let after = env.lab.object(BUCKET, KEY).unwrap();
    let expected = s3mend_lab::StoredObject {
        content_encoding: Some("gzip".into()),
        ..before.clone()
    };
    assert_eq!(comparable(after), comparable(expected));

    let at_copy = seen_at_copy
        .lock()
        .unwrap()
        .clone()
        .expect("the copy was made");
    let planned: Value = serde_json::from_str(at_copy.lines().next().unwrap()).unwrap();
    assert_eq!(planned["event"], "planned");
    assert_eq!(planned["key"], KEY);
    assert_eq!(planned["old"]["content_encoding"], "gzip, UTF-8");
    assert_eq!(planned["at"]["endpoint"], env.lab.endpoint().as_str());
    let lines = log.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["event"], "outcome");
    assert_eq!(lines[1]["status"], "fixed");

    // The log's lines are a journal `s3mend undo` takes as it is.
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("from-cloudwatch.jsonl");
    std::fs::write(&journal, log.text()).unwrap();
    let undo = env
        .s3mend(&[
            "undo",
            journal.to_str().unwrap(),
            "--yes",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(undo.code, 0, "{undo:?}");
    let restored = env.lab.object(BUCKET, KEY).unwrap();
    assert_eq!(comparable(restored), comparable(before));
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_and_dry_run_events_write_and_journal_nothing() {
    let env = site().await;
    env.lab.put_object(
        BUCKET,
        KEY,
        ObjectSeed {
            body: bytes::Bytes::from_static(b"<p>menu</p>"),
            content_type: Some("text/html".into()),
            content_encoding: Some("UTF-8".into()),
            ..ObjectSeed::default()
        },
    );
    let (handler, log) = lab_handler(&env, 3);
    let scanned = handler.handle(event("scan.json")).await;
    assert_eq!(
        only(&scanned),
        (
            ResultCode::Succeeded,
            "findings: Content-Encoding UTF-8 → (remove)"
        )
    );
    let dry = handler.handle(event("dry-run.json")).await;
    assert_eq!(
        only(&dry),
        (
            ResultCode::Succeeded,
            "would fix: Content-Encoding UTF-8 → (remove)"
        )
    );
    assert_eq!(writes(&env), 0);
    assert_eq!(log.text(), "");
    let object = env.lab.object(BUCKET, KEY).unwrap();
    assert_eq!(object.content_encoding.as_deref(), Some("UTF-8"));

    // A clean object is a success in every mode.
    handler.handle(event("fix.json")).await;
    for name in ["scan.json", "dry-run.json", "fix.json"] {
        assert_eq!(
            only(&handler.handle(event(name)).await),
            (ResultCode::Succeeded, "clean"),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_a_temporary_failure_and_the_retry_repairs() {
    let env = site().await;
    env.lab
        .put_object(BUCKET, KEY, everything(gzipped(b"<p>menu</p>")));
    let (handler, log) = lab_handler(&env, 1);
    env.lab.set_faults(Faults::seeded(7).on(
        "HeadObject",
        FaultRates {
            slow_down: 1.0,
            ..FaultRates::default()
        },
    ));
    let throttled = handler.handle(event("fix.json")).await;
    let (code, text) = only(&throttled);
    assert_eq!(code, ResultCode::TemporaryFailure, "{text}");
    assert!(text.starts_with("error: SlowDown"), "{text}");
    assert!(env.lab.stats().fault_count("HeadObject", "SlowDown") >= 1);
    assert_eq!(writes(&env), 0);
    assert_eq!(log.text(), "");

    // Batch Operations invokes the task again later.
    env.lab.clear_faults();
    let retried = handler.handle(event("fix.json")).await;
    assert_eq!(only(&retried).0, ResultCode::Succeeded, "{retried:?}");
    assert!(only(&retried).1.starts_with("fixed: "));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_and_an_sse_c_object_fail_for_good() {
    let env = site().await;
    env.lab.put_object(
        BUCKET,
        "private/customer-key.html",
        ObjectSeed {
            body: bytes::Bytes::from_static(b"ciphertext"),
            content_type: Some("text/html".into()),
            content_encoding: Some("UTF-8".into()),
            sse_customer_algorithm: Some("AES256".into()),
            sse_customer_key_md5: Some("bWQ1b2Z0aGVrZXk=".into()),
            ..ObjectSeed::default()
        },
    );
    let (handler, log) = lab_handler(&env, 3);
    for mode in ["scan.json", "fix.json"] {
        let missing = handler.handle(with_key(mode, "menus/gone.html")).await;
        assert_eq!(
            only(&missing),
            (
                ResultCode::PermanentFailure,
                "gone: deleted after it was listed"
            ),
            "{mode}"
        );
        let sse_c = handler
            .handle(with_key(mode, "private/customer-key.html"))
            .await;
        assert_eq!(
            only(&sse_c),
            (ResultCode::PermanentFailure, "skipped: sse-c"),
            "{mode}"
        );
    }
    assert_eq!(writes(&env), 0);
    assert_eq!(log.text(), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_noncurrent_version_is_not_rewritten() {
    let env = site().await;
    env.lab.set_versioning(BUCKET, true);
    let old = env
        .lab
        .put_object(BUCKET, KEY, everything(gzipped(b"<p>v1</p>")));
    env.lab
        .put_object(BUCKET, KEY, everything(gzipped(b"<p>v2</p>")));
    let old_version = old.version_id.clone().expect("versioned");
    let mut event = example("fix.json");
    event["tasks"][0]["s3VersionId"] = old_version.clone().into();
    let (handler, _) = lab_handler(&env, 3);
    let response = handler.handle(serde_json::from_value(event).unwrap()).await;
    let (code, text) = only(&response);
    assert_eq!(code, ResultCode::PermanentFailure);
    assert!(
        text.starts_with(&format!(
            "skipped: version {old_version} is not the current version"
        )),
        "{text}"
    );
    assert_eq!(writes(&env), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_and_the_old_schema_fail_every_task_before_any_request() {
    let env = site().await;
    let (handler, _) = lab_handler(&env, 3);
    let mut bad = example("fix.json");
    bad["job"]["userArguments"]["mode"] = "repair".into();
    let response = handler.handle(serde_json::from_value(bad).unwrap()).await;
    assert_eq!(
        only(&response),
        (
            ResultCode::PermanentFailure,
            "userArguments: mode 'repair' is not scan, dry-run or fix"
        )
    );
    let mut old = example("fix.json");
    old["invocationSchemaVersion"] = "1.0".into();
    let response = handler.handle(serde_json::from_value(old).unwrap()).await;
    assert_eq!(response.invocation_schema_version, "1.0");
    let (code, text) = only(&response);
    assert_eq!(code, ResultCode::PermanentFailure);
    assert!(
        text.contains("create the job with InvocationSchemaVersion 2.0"),
        "{text}"
    );
    let undecodable = handler.handle(with_key("scan.json", "100%.html")).await;
    assert_eq!(only(&undecodable).0, ResultCode::PermanentFailure);
    assert_eq!(env.lab.stats().total(), 0, "not one request");
}
