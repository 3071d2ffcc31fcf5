//! The S3 Batch Operations handler: a Lambda function that S3 Batch Operations invokes once per
//! object of a manifest (an S3 Inventory report, say), which scans or repairs that one object
//! exactly as `s3mend fix` does and answers with a result code and string for the job's
//! completion report. The binary `s3mend-batch-lambda` (cargo feature `lambda`) runs it under the
//! Lambda runtime; everything here is plain library code, tested against the lab.
//!
//! - `event.rs`: the invocation (schema 2.0) and the response, and the task's URL-encoded key.
//! - `arguments.rs`: the job's `userArguments` (mode, rules, policy).
//! - `answer.rs`: what happened to an object → result code and string (pure).
//! - `handler.rs`: the tasks through the pipeline's detect stage and the repairer.
//! - `settings.rs`: the function's environment.

mod answer;
mod arguments;
mod event;
mod handler;
mod settings;

pub use answer::{code_for, of_outcome, Answer, MAX_RESULT};
pub use arguments::{Arguments, Mode, KEYS};
pub use event::{decode_key, Invocation, Job, Response, ResultCode, Task, TaskResult, SCHEMA};
pub use handler::{Handler, Settings};
pub use settings::{check_lambda_environment, from_env, DEFAULT_MAX_ATTEMPTS};
