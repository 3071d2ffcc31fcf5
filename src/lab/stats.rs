//! Request and connection counters, fed by the s3s access hook and the accept loop.
//!
//! The access hook is the one place s3s tells us the operation name (`HeadObject`, ...) of every
//! authenticated request, so counting there covers every operation, implemented or not; for the
//! same reason injected faults are raised there.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;
use s3s::{s3_error, S3Result};

use super::inject::Inject;

/// A snapshot of the lab's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabStats {
    /// Requests by S3 operation name, e.g. "HeadObject", "ListObjectsV2", "CopyObject".
    pub requests: BTreeMap<String, u64>,
    /// TCP connections accepted.
    pub connections: u64,
}

impl LabStats {
    /// Requests of one operation.
    pub fn count(&self, op: &str) -> u64 {
        self.requests.get(op).copied().unwrap_or(0)
    }

    /// Requests of all operations.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Counters {
    requests: Mutex<HashMap<String, u64>>,
    connections: AtomicU64,
}

impl Counters {
    pub fn request(&self, op: &str) {
        let mut map = self.requests.lock();
        match map.get_mut(op) {
            Some(n) => *n += 1,
            None => {
                map.insert(op.to_owned(), 1);
            }
        }
    }

    pub fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LabStats {
        LabStats {
            requests: self
                .requests
                .lock()
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            connections: self.connections.load(Ordering::Relaxed),
        }
    }

    pub fn reset(&self) {
        self.requests.lock().clear();
        self.connections.store(0, Ordering::Relaxed);
    }
}

/// The s3s access hook: counts each request, refuses anonymous ones like S3, and fails the
/// ones a test armed with [`Inject::add_fault`] (here, before any handler runs, so a faulted
/// request changes nothing).
pub struct CountingAccess {
    pub counters: std::sync::Arc<Counters>,
    pub inject: std::sync::Arc<Inject>,
}

#[async_trait::async_trait]
impl S3Access for CountingAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name();
        self.counters.request(op);
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        if let S3Path::Object { key, .. } = cx.s3_path() {
            if self.inject.take_fault(op, key) {
                return Err(s3_error!(
                    InternalError,
                    "We encountered an internal error. Please try again."
                ));
            }
        }
        Ok(())
    }
}
