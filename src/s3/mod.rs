//! Everything that talks to S3: client construction and its pacing, our own owned snapshot of a
//! HEAD, and the classification of S3 errors. Nothing outside this module touches SDK output
//! types.

mod client;
mod error;
mod fast_head;
mod head;
mod metrics;
mod pace;
mod uri;
mod write;

pub use client::{
    connect, Addressing, ConnectOptions, Connection, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_MAX_ATTEMPTS,
};
pub use error::{S3Failure, DELETE_MARKER};
pub use fast_head::Heads;
pub use head::{head_object, ListedObject, ObjectHead};
pub use metrics::{RequestCounts, RequestStats};
pub use pace::{Aimd, Pace, CUT_WINDOW};
pub use uri::S3Uri;
pub use write::{
    caller_id, copy_in_place, copy_source_condition_enforced, multipart_in_place, object_acl,
    object_tagging, Rewritten,
};
