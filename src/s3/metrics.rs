//! Request accounting: how many S3 calls a run made, how many attempts they took, and how many
//! attempts were throttled. An SDK interceptor sees every attempt, including the retries the SDK
//! makes on its own, which s3mend's code never sees. The pacing (`pace`) records here how far
//! throttling cut the requests in flight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_s3::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;

use crate::model::RequestCounts;

/// Counts shared by every request of a run.
#[derive(Debug, Default)]
pub struct RequestStats {
    calls: AtomicU64,
    attempts: AtomicU64,
    throttled: AtomicU64,
    failed_attempts: AtomicU64,
    concurrency_cuts: AtomicU64,
    min_concurrency: AtomicU64,
}

impl RequestStats {
    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            calls: self.calls.load(Ordering::Relaxed),
            attempts: self.attempts.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            concurrency_cuts: self.concurrency_cuts.load(Ordering::Relaxed),
            min_concurrency: self.min_concurrency.load(Ordering::Relaxed),
        }
    }

    /// The in-flight limit's lowest value so far and the number of cuts that got it there.
    pub(super) fn record_concurrency(&self, lowest: usize, cuts: u64) {
        let lowest = u64::try_from(lowest).unwrap_or(u64::MAX);
        self.min_concurrency.store(lowest, Ordering::Relaxed);
        self.concurrency_cuts.store(cuts, Ordering::Relaxed);
    }

    /// One S3 operation asked for.
    pub(super) fn record_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// One HTTP attempt and its status (`None`: no response).
    pub(super) fn record_attempt(&self, status: Option<u16>) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        match status {
            Some(503 | 429) => {
                self.throttled.fetch_add(1, Ordering::Relaxed);
            }
            Some(status) if status >= 500 => {
                self.failed_attempts.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {}
            None => {
                self.failed_attempts.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

/// The interceptor that fills [`RequestStats`].
#[derive(Debug)]
pub struct CountRequests(pub Arc<RequestStats>);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "s3mend::CountRequests"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.record_call();
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let status = context.response().map(|r| r.status().as_u16());
        // A success status whose body then timed out or could not be read is a failed attempt,
        // as much as one without an answer.
        let unread = matches!(context.output_or_error(), Some(Err(_)));
        let status = status.filter(|s| !(unread && *s < 300));
        self.0.record_attempt(status);
        Ok(())
    }
}
