//! Request and connection counters, fed by the s3s access hook (`access.rs`) and the accept
//! loop, and the requests in flight, fed by the per-request service.
//!
//! Counting is all this module does: what a request is counted under comes from its callers,
//! injected faults included, so it depends on nothing else in the lab.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// A snapshot of the lab's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabStats {
    /// Requests by S3 operation name, e.g. "HeadObject", "ListObjectsV2", "CopyObject".
    pub requests: BTreeMap<String, u64>,
    /// TCP connections accepted.
    pub connections: u64,
    /// The most requests being handled at once (from arrival to the response headers), so
    /// tests can check a client's cap on requests in flight.
    pub max_in_flight: u64,
    /// Injected faults by operation and kind, e.g. "HeadObject/SlowDown" (see `Faults`, with the
    /// `testing` feature); failures armed with `fail_next` count as ".../FailNext",
    /// stalls armed with `stall_next` as ".../StallNext", and requests turned away for their
    /// region (see [`LabConfig::region`](super::LabConfig::region)) as "HEAD/WrongRegion",
    /// "GET/WrongRegion" and so on, by HTTP method, since they never reach an operation.
    pub faults: BTreeMap<String, u64>,
    /// Requests answered by the lab's HTTP layer, and the time they spent there beyond the
    /// injected latency: the timer's overshoot, waiting for the lab's worker thread, and the
    /// handling itself. The benchmarks report the mean, the server's share of a round trip.
    pub served: u64,
    pub server_time: Duration,
}

impl LabStats {
    /// Mean time the lab added to a request beyond the injected latency.
    pub fn server_time_per_request(&self) -> Duration {
        u32::try_from(self.served)
            .ok()
            .filter(|&n| n > 0)
            .map_or(Duration::ZERO, |n| self.server_time / n)
    }

    /// Requests of one operation.
    pub fn count(&self, op: &str) -> u64 {
        self.requests.get(op).copied().unwrap_or(0)
    }

    /// Requests of all operations.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Injected faults of one operation and kind: `fault_count("HeadObject", "SlowDown")`.
    pub fn fault_count(&self, op: &str, kind: &str) -> u64 {
        self.faults
            .get(&format!("{op}/{kind}"))
            .copied()
            .unwrap_or(0)
    }

    /// Injected faults of every operation and kind.
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Counters {
    requests: Mutex<HashMap<String, u64>>,
    connections: AtomicU64,
    faults: Mutex<HashMap<String, u64>>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    served: AtomicU64,
    server_nanos: AtomicU64,
}

/// One request being handled; counted out when dropped, also if the connection goes away.
pub struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
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

    pub fn fault(&self, op: &str, kind: &str) {
        *self
            .faults
            .lock()
            .entry(format!("{op}/{kind}"))
            .or_default() += 1;
    }

    pub fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A request arrived; it is in flight until the guard drops.
    pub fn in_flight(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    /// A request was answered after `beyond` more than its injected latency.
    pub fn served(&self, beyond: Duration) {
        self.served.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(beyond.as_nanos()).unwrap_or(u64::MAX);
        self.server_nanos.fetch_add(nanos, Ordering::Relaxed);
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
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
            faults: self
                .faults
                .lock()
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            served: self.served.load(Ordering::Relaxed),
            server_time: Duration::from_nanos(self.server_nanos.load(Ordering::Relaxed)),
        }
    }

    pub fn reset(&self) {
        self.requests.lock().clear();
        self.faults.lock().clear();
        self.connections.store(0, Ordering::Relaxed);
        self.served.store(0, Ordering::Relaxed);
        self.server_nanos.store(0, Ordering::Relaxed);
        // The most in flight from now on: start from those still being handled.
        self.max_in_flight
            .store(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}
