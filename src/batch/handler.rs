//! The handler: one invocation's tasks, each through the same stages as `s3mend fix` (a HEAD,
//! the rules with the sniff, then the repairer: plan, ACL, journal, conditional copy, verify),
//! answered as Batch Operations wants it. A Lambda instance serves many invocations, so each
//! bucket's connection (and what was learnt about it: the caller's id, the copy-source probe,
//! the ACL mode) is made once and kept.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::answer::{self, Answer};
use super::arguments::{Arguments, Mode};
use super::event::{decode_key, Invocation, Response, ResultCode, Task, TaskResult, SCHEMA};
use crate::journal::Journal;
use crate::model::ListedObject;
use crate::pipeline::{detect, Source};
use crate::repair::{Capabilities, RepairSettings, Repairer};
use crate::s3::{self, BucketUnreachable, ConnectOptions, Connection, Store};

/// How the function reaches S3 and rewrites objects, fixed for its lifetime (from its
/// environment: see [`super::settings`]).
#[derive(Clone, Debug)]
pub struct Settings {
    pub connect: ConnectOptions,
    pub repair: RepairSettings,
}

/// One bucket's connection and what was learnt about it.
struct Bucket {
    connection: Connection,
    capabilities: Arc<Capabilities>,
}

/// Answers invocations; shared by every invocation of one function instance.
pub struct Handler {
    settings: Settings,
    /// Where fix mode journals each repair before its copy.
    journal: Arc<Journal>,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
}

impl Handler {
    pub fn new(settings: Settings, journal: Arc<Journal>) -> Handler {
        Handler {
            settings,
            journal,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Every task's answer, in task order. Never fails: whatever goes wrong is a task's
    /// result, which the completion report shows.
    pub async fn handle(&self, invocation: Invocation) -> Response {
        let arguments = if invocation.invocation_schema_version == SCHEMA {
            Arguments::parse(invocation.job.user_arguments.as_ref())
        } else {
            Err(format!(
                "invocationSchemaVersion {} is not supported: create the job with InvocationSchemaVersion 2.0",
                invocation.invocation_schema_version
            ))
        };
        let mut results = Vec::with_capacity(invocation.tasks.len());
        for task in &invocation.tasks {
            let answer = match &arguments {
                Ok(arguments) => self.task(arguments, task).await,
                Err(why) => Answer::refused(why),
            };
            tracing::info!(
                task = task.task_id,
                key = task.s3_key,
                code = ?answer.code,
                result = answer.text,
                "task"
            );
            results.push(TaskResult {
                task_id: task.task_id.clone(),
                result_code: answer.code,
                result_string: answer.text,
            });
        }
        Response {
            invocation_schema_version: invocation.invocation_schema_version,
            treat_missing_keys_as: ResultCode::PermanentFailure,
            invocation_id: invocation.invocation_id,
            results,
        }
    }

    async fn task(&self, arguments: &Arguments, task: &Task) -> Answer {
        let Some(bucket_name) = task.s3_bucket.as_deref().filter(|b| !b.is_empty()) else {
            return Answer::refused("the task has no s3Bucket (invocation schema 2.0 names it)");
        };
        let key = match decode_key(&task.s3_key) {
            Ok(key) => key,
            Err(why) => return Answer::refused(&why),
        };
        let bucket = match self.bucket(bucket_name).await {
            Ok(bucket) => bucket,
            Err(err) => {
                let code = err
                    .downcast_ref::<BucketUnreachable>()
                    .map_or(ResultCode::PermanentFailure, |e| {
                        answer::code_for(&e.failure)
                    });
                return Answer::new(code, format!("error: {err:#}"));
            }
        };
        let store = bucket.connection.store(bucket_name);
        let listed = ListedObject {
            key: key.clone(),
            size: 0,
            etag: None,
            last_modified: None,
        };
        let head = store.head(&key).await;
        let inspected = detect((listed, head), Source::Head, &arguments.rules, &store).await;
        if let (Some(wanted), Ok(head)) = (task.s3_version_id.as_deref(), &inspected.outcome) {
            // A copy rewrites the current version: a manifest's older version cannot be
            // repaired in place. A clean current version needs nothing, whichever it is.
            let current = head.version_id.as_deref().unwrap_or("null");
            if current != wanted && !inspected.findings.is_empty() {
                return Answer::new(
                    ResultCode::PermanentFailure,
                    format!("skipped: version {wanted} is not the current version ({current})"),
                );
            }
        }
        if arguments.mode == Mode::Scan
            && inspected.outcome.is_ok()
            && !inspected.findings.is_empty()
        {
            return answer::found(&inspected.findings);
        }
        let settings = RepairSettings {
            dry_run: arguments.mode != Mode::Fix,
            ..self.settings.repair.clone()
        };
        let repairer = Repairer::new(
            store,
            arguments.rules.clone(),
            settings,
            bucket.capabilities.clone(),
        )
        .journalling(Some(self.journal.clone()));
        // A scan reaches here only for an object without findings or that could not be read:
        // the repairer then only says what that means, without a request.
        let repaired = repairer.repair(inspected).await;
        answer::of_outcome(&repaired.outcome)
    }

    /// The connection to `name`, made (and the bucket checked) by the first task that needs it.
    /// A failed connection is not kept: the next task tries again.
    async fn bucket(&self, name: &str) -> anyhow::Result<Arc<Bucket>> {
        let mut buckets = self.buckets.lock().await;
        if let Some(bucket) = buckets.get(name) {
            return Ok(bucket.clone());
        }
        let connection = s3::connect(&self.settings.connect, name).await?;
        self.journal
            .set_origin(crate::app::origin(&self.settings.connect, &connection));
        let caller = connection.store(name).caller_id().await;
        let bucket = Arc::new(Bucket {
            connection,
            capabilities: Arc::new(Capabilities::new(caller)),
        });
        buckets.insert(name.to_owned(), bucket.clone());
        Ok(bucket)
    }
}
