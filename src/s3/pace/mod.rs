//! s3mend's own pacing, underneath the SDK's retries: an adaptive cap on requests in flight and
//! an optional rate limit, both applied to every HTTP attempt.
//!
//! The SDK's retries back off per request, but 64 requests backing off independently still send
//! 64 requests into an overloaded prefix. So the run also adapts how many attempts it keeps in
//! flight (AIMD, as TCP does): a 503 SlowDown or a 429 cuts the limit by 30 %, at most once per
//! [`CUT_WINDOW`] so that one overload answering a burst of requests counts once; then it grows
//! back by one per limit's worth of successes, about one per round trip, never above the run's
//! `--concurrency`. `--max-rps N` adds a token bucket over all requests, retries included.
//!
//! Both wrap the HTTP client, not the operations: every attempt (first try and retries) waits
//! for a slot and then a token, and gives its slot back when the response headers arrive or the
//! attempt fails. The SDK's backoff sleeps happen between attempts and so hold no slot. Each
//! attempt runs as a task of its own, so a slot never waits for a caller that is not polling
//! (see `connector.rs`). The arithmetic is [`Aimd`] (`aimd.rs`), pure and tested on its own;
//! [`Pace`] is the thin async part around it, with the token bucket in `rate.rs`.

mod aimd;
mod connector;
mod rate;

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use aimd::{Aimd, CUT_WINDOW};

use super::metrics::RequestStats;
use connector::PacedClient;
use rate::Rate;

/// Whether an answer tells the client to slow down (503 SlowDown, 429), was otherwise answered
/// (success as far as pacing goes, including 404 and 412), or neither (other 5xx).
fn is_throttle(status: u16) -> bool {
    matches!(status, 503 | 429)
}

/// The in-flight limit as enforced: the semaphore has `limit` permits in all. A cut takes back
/// what is free at once and the rest as attempts finish (`debt`).
#[derive(Debug)]
struct Limiter {
    aimd: Aimd,
    debt: usize,
}

/// The pacing shared by every attempt of a run.
pub struct Pace {
    slots: Arc<Semaphore>,
    limiter: Mutex<Limiter>,
    rate: Option<Rate>,
    stats: Arc<RequestStats>,
    /// The paced connector for the run's connector settings (see [`Pace::wrap`]), once the SDK
    /// has built it: the scan's HEADs (`fast_head`) send through it too, sharing the pool and
    /// the pacing.
    run_connector: OnceLock<SharedHttpConnector>,
}

impl fmt::Debug for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pace")
            .field("limiter", &*self.limiter.lock())
            .field("max_rps", &self.rate.is_some())
            .finish_non_exhaustive()
    }
}

impl Pace {
    /// At most `max_in_flight` attempts at once (at least 1), and at most `max_rps` a second if
    /// given. Cuts are recorded in `stats`.
    pub fn new(
        max_in_flight: usize,
        max_rps: Option<NonZeroU32>,
        stats: Arc<RequestStats>,
    ) -> Arc<Self> {
        let aimd = Aimd::new(max_in_flight.min(Semaphore::MAX_PERMITS));
        stats.record_concurrency(aimd.lowest(), aimd.cuts());
        Arc::new(Pace {
            slots: Arc::new(Semaphore::new(aimd.limit())),
            limiter: Mutex::new(Limiter { aimd, debt: 0 }),
            rate: max_rps.map(Rate::new),
            stats,
            run_connector: OnceLock::new(),
        })
    }

    /// The paced connector the SDK built for the run's connector settings, once it has.
    pub(super) fn run_connector(&self) -> Option<&SharedHttpConnector> {
        self.run_connector.get()
    }

    /// The current in-flight limit.
    pub fn limit(&self) -> usize {
        self.limiter.lock().aimd.limit()
    }

    /// Waits for a slot, then for a token. In this order, a token is spent only at the moment
    /// the request goes out, so the bucket bounds the real sending rate.
    pub async fn turn(self: &Arc<Self>) -> Turn {
        // The semaphore is never closed; without a permit the attempt simply goes unpaced.
        let permit = self.slots.clone().acquire_owned().await.ok();
        if let Some(rate) = &self.rate {
            rate.until_ready().await;
        }
        Turn {
            pace: self.clone(),
            permit,
        }
    }

    fn throttled(&self) {
        let mut limiter = self.limiter.lock();
        let before = limiter.aimd.limit();
        if !limiter
            .aimd
            .on_throttle(tokio::time::Instant::now().into_std())
        {
            return;
        }
        let shrink = before - limiter.aimd.limit();
        let taken = self.slots.forget_permits(shrink);
        limiter.debt += shrink - taken;
        self.stats
            .record_concurrency(limiter.aimd.lowest(), limiter.aimd.cuts());
        tracing::debug!(
            limit = limiter.aimd.limit(),
            "throttled: fewer requests in flight"
        );
    }

    fn succeeded(&self) {
        let mut limiter = self.limiter.lock();
        if limiter.aimd.on_success() {
            if limiter.debt > 0 {
                limiter.debt -= 1;
            } else {
                self.slots.add_permits(1);
            }
        }
    }

    fn release(&self, permit: OwnedSemaphorePermit) {
        let mut limiter = self.limiter.lock();
        if limiter.debt > 0 {
            limiter.debt -= 1;
            permit.forget();
        } else {
            drop(permit);
        }
    }

    /// A client that paces every attempt through `inner`. `run_settings` are the connector
    /// settings of every request of the run but the preflight's: the connector the SDK builds
    /// for them is kept for [`Pace::run_connector`].
    pub fn wrap(
        self: &Arc<Self>,
        inner: SharedHttpClient,
        run_settings: HttpConnectorSettings,
    ) -> SharedHttpClient {
        SharedHttpClient::new(PacedClient {
            inner,
            pace: self.clone(),
            run_settings,
        })
    }
}

/// The longest an attempt can expect to queue for a token behind the others: `2 × max_in_flight`
/// requests (a fix's two stages) at `max_rps`. Attempt timeouts must allow for it, or a low
/// `--max-rps` would time out requests that never left.
pub fn longest_rate_wait(max_in_flight: usize, max_rps: Option<NonZeroU32>) -> Duration {
    match max_rps {
        Some(rps) => {
            let queued = u64::try_from(max_in_flight.saturating_mul(2)).unwrap_or(u64::MAX);
            Duration::from_secs(queued.div_ceil(u64::from(rps.get())))
        }
        None => Duration::ZERO,
    }
}

/// One attempt's slot. Dropping it gives the slot back (also when the attempt is abandoned, say
/// by a timeout); [`Turn::finish`] first lets the answer adjust the limit.
pub struct Turn {
    pace: Arc<Pace>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Turn {
    /// The attempt's HTTP status, or `None` if it got no answer.
    pub fn finish(self, status: Option<u16>) {
        match status {
            Some(status) if is_throttle(status) => self.pace.throttled(),
            Some(status) if status < 500 => self.pace.succeeded(),
            _ => {}
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.pace.release(permit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_token_bucket_spaces_requests_at_the_rate() {
        let rps = NonZeroU32::new(50).unwrap();
        let pace = Pace::new(4, Some(rps), Arc::new(RequestStats::default()));
        let burst = 5; // a tenth of a second's worth
        let n = 105;
        let start = tokio::time::Instant::now();
        let mut sent = Vec::new();
        for _ in 0..n {
            let turn = pace.turn().await;
            sent.push(start.elapsed());
            turn.finish(Some(200));
        }
        // The burst goes at once, then one request every 20 ms.
        assert!(sent[..burst].iter().all(|t| t.is_zero()), "{sent:?}");
        assert!(sent[burst].as_millis() >= 20, "{sent:?}");
        let least = Duration::from_millis(20) * (n - burst) as u32;
        assert!(
            start.elapsed() >= least,
            "{:?} < {least:?}",
            start.elapsed()
        );
        // And no slower than the rate asks (virtual time: nothing else takes any).
        assert!(start.elapsed() <= least + Duration::from_millis(20));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_share_the_rate() {
        let rps = NonZeroU32::new(100).unwrap();
        let pace = Pace::new(16, Some(rps), Arc::new(RequestStats::default()));
        let start = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let pace = pace.clone();
                tokio::spawn(async move {
                    for _ in 0..20 {
                        pace.turn().await.finish(Some(200));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // 320 requests, a burst of 10, 10 ms apart.
        assert!(start.elapsed() >= Duration::from_millis(10 * 310));
    }

    #[tokio::test]
    async fn in_flight_attempts_stay_under_the_limit_as_it_is_cut() {
        let stats = Arc::new(RequestStats::default());
        let pace = Pace::new(10, None, stats.clone());
        let mut held: Vec<Turn> = Vec::new();
        for _ in 0..10 {
            held.push(pace.turn().await);
        }
        assert_eq!(pace.slots.available_permits(), 0);
        // A throttle while all ten are out: the limit drops to 7, paid back as attempts end.
        held.pop().unwrap().finish(Some(503));
        assert_eq!(pace.limit(), 7);
        assert_eq!(pace.limiter.lock().debt, 2);
        held.pop().unwrap().finish(Some(200));
        held.pop().unwrap().finish(Some(200));
        assert_eq!(pace.limiter.lock().debt, 0);
        assert_eq!(pace.slots.available_permits(), 0, "7 held, limit 7");
        let waiting = tokio::time::timeout(Duration::from_millis(20), pace.turn()).await;
        assert!(waiting.is_err(), "an eighth attempt waits");
        held.pop().unwrap().finish(None);
        let turn = tokio::time::timeout(Duration::from_secs(5), pace.turn())
            .await
            .expect("a freed slot is taken");
        drop(turn);
        let counts = stats.snapshot();
        assert_eq!((counts.concurrency_cuts, counts.min_concurrency), (1, 7));
        drop(held);
        assert_eq!(pace.slots.available_permits(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn growth_cancels_debt_before_it_adds_a_slot() {
        let pace = Pace::new(10, None, Arc::new(RequestStats::default()));
        let mut held = Vec::new();
        for _ in 0..10 {
            held.push(pace.turn().await);
        }
        // Two overloads, a window apart, while every slot is out: 10 → 7 → 4.
        held.pop().unwrap().finish(Some(503));
        tokio::time::advance(CUT_WINDOW).await;
        held.pop().unwrap().finish(Some(429));
        assert_eq!(pace.limit(), 4);
        assert_eq!(held.len(), 8);
        assert_eq!(pace.limiter.lock().debt, 4);
        // Four successes at limit 4: the first three pay off debt as they end, the fourth
        // raises the limit to 5, which cancels the last debt, and its own slot is returned.
        for _ in 0..4 {
            held.pop().unwrap().finish(Some(200));
        }
        assert_eq!(pace.limit(), 5);
        assert_eq!(pace.limiter.lock().debt, 0);
        assert_eq!(pace.slots.available_permits(), 1, "4 held, limit 5");
        // Answers that are neither throttles nor successes leave the limit alone.
        held.pop().unwrap().finish(Some(500));
        held.pop().unwrap().finish(None);
        assert_eq!(pace.limit(), 5);
        drop(held);
        assert_eq!(pace.slots.available_permits(), 5);
    }

    #[test]
    fn the_rate_wait_allowance_covers_both_stages() {
        assert_eq!(longest_rate_wait(64, None), Duration::ZERO);
        let rps = NonZeroU32::new(10);
        assert_eq!(longest_rate_wait(64, rps), Duration::from_secs(13));
    }
}
