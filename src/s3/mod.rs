//! Everything that talks to S3: client construction and its pacing, listing, HEAD (through the
//! SDK and around it), the requests of a repair, and the classification of S3 errors. SDK types
//! stop at this module's edge: what comes out is the model's plain data (`crate::model`).

mod annotations;
mod client;
mod conventions;
mod error;
mod fast_head;
mod head;
mod list;
mod metrics;
mod pace;
mod profile;
mod read;
mod retry;
mod store;
mod tls;
mod write;

pub use client::{
    check_region, connect, connect_until, Addressing, BucketUnreachable, ConnectOptions,
    Connection, DEFAULT_ATTEMPT_TIMEOUT,
};
pub use conventions::RequestConventions;
pub use fast_head::Heads;
pub use head::head_object;
pub use list::{Page, Pages};
pub use metrics::RequestStats;
pub use pace::{Aimd, Pace, CUT_WINDOW};
pub use read::Body;
pub use retry::{RetryMode, DEFAULT_MAX_ATTEMPTS};
pub use store::{Parts, S3Store, Store};
pub use tls::TlsOptions;
