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
//! (see [`PacedConnector`]). The arithmetic is [`Aimd`], pure and tested on its own; [`Pace`] is
//! the thin async part around it.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::metrics::RequestStats;

/// After a cut, further throttling within this long is taken as the same overload: the
/// requests already in flight when S3 started refusing all come back with SlowDown.
pub const CUT_WINDOW: Duration = Duration::from_millis(100);

/// The in-flight limit, additive increase and multiplicative decrease. Pure arithmetic: the
/// caller says when a response was a throttle or a success, and what time it is.
#[derive(Clone, Debug)]
pub struct Aimd {
    max: usize,
    limit: usize,
    lowest: usize,
    cuts: u64,
    /// Successes since the limit last grew or was cut.
    successes: usize,
    /// When the last window of throttling began (a cut, or a throttle at the floor).
    window: Option<Instant>,
}

impl Aimd {
    /// Starts at `max` (at least 1): a run begins at full speed and backs off only when told to.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Aimd {
            max,
            limit: max,
            lowest: max,
            cuts: 0,
            successes: 0,
            window: None,
        }
    }

    /// Attempts that may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The lowest limit reached so far.
    pub fn lowest(&self) -> usize {
        self.lowest
    }

    /// How many times throttling lowered the limit.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// A 503 or 429 answer at `now`: the limit drops to 70 % (at least 1), unless the window
    /// of an earlier cut is still open. Returns whether the limit dropped.
    pub fn on_throttle(&mut self, now: Instant) -> bool {
        if self
            .window
            .is_some_and(|start| now.saturating_duration_since(start) < CUT_WINDOW)
        {
            return false;
        }
        self.window = Some(now);
        self.successes = 0;
        let cut = (self.limit.saturating_mul(7) / 10).max(1);
        if cut >= self.limit {
            return false;
        }
        self.limit = cut;
        self.lowest = self.lowest.min(cut);
        self.cuts += 1;
        true
    }

    /// A successful answer: every `limit` of them raise the limit by one, up to the maximum.
    /// Returns whether the limit grew.
    pub fn on_success(&mut self) -> bool {
        self.successes += 1;
        if self.successes < self.limit {
            return false;
        }
        self.successes = 0;
        if self.limit >= self.max {
            return false;
        }
        self.limit += 1;
        true
    }
}

/// Whether an answer tells the client to slow down (503 SlowDown, 429), was otherwise answered
/// (success as far as pacing goes, including 404 and 412), or neither (other 5xx).
fn is_throttle(status: u16) -> bool {
    matches!(status, 503 | 429)
}

/// The token bucket's clock: tokio's, so that it follows paused time in tests. Instants are
/// durations since the bucket was made.
#[derive(Clone, Copy, Debug)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// `--max-rps`: a token bucket, and a fair queue in front of it.
struct Rate {
    bucket: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
    clock: TokioClock,
    /// One waiter at a time polls the bucket; the others wait their turn in order (tokio's
    /// mutex is FIFO), so no request is overtaken for ever.
    queue: tokio::sync::Mutex<()>,
}

impl Rate {
    /// `rps` tokens a second (the interval rounded up, so never more), with a burst of a tenth
    /// of a second's worth.
    fn new(rps: NonZeroU32) -> Self {
        let clock = TokioClock {
            start: tokio::time::Instant::now(),
        };
        let interval = Duration::from_nanos(1_000_000_000u64.div_ceil(u64::from(rps.get())));
        let burst = NonZeroU32::new(rps.get() / 10).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(rps))
            .allow_burst(burst);
        Rate {
            bucket: RateLimiter::direct_with_clock(quota, clock),
            clock,
            queue: tokio::sync::Mutex::new(()),
        }
    }

    async fn until_ready(&self) {
        let _turn = self.queue.lock().await;
        while let Err(not_until) = self.bucket.check() {
            tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
        }
    }
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

/// The SDK's HTTP client with [`Pace`] around each connector call. Connection pooling, TLS and
/// timeouts stay the inner client's.
#[derive(Debug)]
struct PacedClient {
    inner: SharedHttpClient,
    pace: Arc<Pace>,
    run_settings: HttpConnectorSettings,
}

/// Whether two settings get the same connection pool: the SDK's HTTP client keeps one per
/// connect and read timeout.
fn same_pool(a: &HttpConnectorSettings, b: &HttpConnectorSettings) -> bool {
    a.connect_timeout() == b.connect_timeout() && a.read_timeout() == b.read_timeout()
}

impl HttpClient for PacedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let connector = SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pace: self.pace.clone(),
        });
        if same_pool(settings, &self.run_settings) {
            let _ = self.pace.run_connector.set(connector.clone());
        }
        connector
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pace: Arc<Pace>,
}

impl HttpConnector for PacedConnector {
    /// The attempt runs as a task of its own, so that its slot comes back as soon as the answer
    /// does, whether or not the caller is polling: a fix's scan stage is polled only while its
    /// repair stage has room, and answered HEADs waiting there must not hold the slots the
    /// repairs need (which would deadlock). Dropping the returned future aborts the task, which
    /// cancels the request as before.
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let pace = self.pace.clone();
        let attempt = async move {
            let turn = pace.turn().await;
            let result = inner.call(request).await;
            turn.finish(result.as_ref().ok().map(|r| r.status().as_u16()));
            result
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return HttpConnectorFuture::new(attempt);
        };
        let task = AbortOnDrop(runtime.spawn(attempt.instrument(tracing::Span::current())));
        HttpConnectorFuture::new(async move {
            match task.await {
                Ok(result) => result,
                Err(failed) => match failed.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(failed) => Err(ConnectorError::other(failed.into(), None)),
                },
            }
        })
    }
}

/// A task handle that aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn after(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_throttle_cuts_the_limit_to_seventy_percent() {
        let mut aimd = Aimd::new(64);
        assert_eq!(aimd.limit(), 64);
        assert!(aimd.on_throttle(Instant::now()));
        assert_eq!(aimd.limit(), 44);
        assert_eq!((aimd.lowest(), aimd.cuts()), (44, 1));
    }

    #[test]
    fn a_burst_of_throttles_within_the_window_cuts_once() {
        let start = Instant::now();
        let mut aimd = Aimd::new(100);
        assert!(aimd.on_throttle(start));
        for ms in [0, 1, 50, 99] {
            assert!(!aimd.on_throttle(after(start, ms)), "{ms} ms");
        }
        assert_eq!((aimd.limit(), aimd.cuts()), (70, 1));
        // The window has passed: the next throttle is a new overload.
        assert!(aimd.on_throttle(after(start, 100)));
        assert_eq!((aimd.limit(), aimd.cuts()), (49, 2));
    }

    #[test]
    fn the_limit_never_drops_below_one() {
        let start = Instant::now();
        let mut aimd = Aimd::new(10);
        let mut limits = Vec::new();
        for i in 0..20 {
            aimd.on_throttle(after(start, i * 100));
            limits.push(aimd.limit());
        }
        assert_eq!(&limits[..7], &[7, 4, 2, 1, 1, 1, 1]);
        assert_eq!(aimd.limit(), 1);
        assert_eq!(aimd.lowest(), 1);
        // Throttles at the floor are not cuts.
        assert_eq!(aimd.cuts(), 4);
    }

    #[test]
    fn a_limit_of_zero_means_one() {
        let mut aimd = Aimd::new(0);
        assert_eq!(aimd.limit(), 1);
        assert!(!aimd.on_throttle(Instant::now()));
        assert!(!aimd.on_success());
        assert_eq!(aimd.limit(), 1);
    }

    #[test]
    fn growth_is_one_per_limit_of_successes() {
        let mut aimd = Aimd::new(64);
        aimd.on_throttle(Instant::now());
        assert_eq!(aimd.limit(), 44);
        for _ in 0..43 {
            assert!(!aimd.on_success());
        }
        assert!(aimd.on_success());
        assert_eq!(aimd.limit(), 45);
        // The next step takes 45 successes.
        for _ in 0..44 {
            aimd.on_success();
        }
        assert_eq!(aimd.limit(), 45);
        aimd.on_success();
        assert_eq!(aimd.limit(), 46);
    }

    #[test]
    fn growth_stops_at_the_configured_maximum() {
        let start = Instant::now();
        let mut aimd = Aimd::new(8);
        for i in 0..5 {
            aimd.on_throttle(after(start, i * 100));
        }
        assert_eq!(aimd.limit(), 1);
        for _ in 0..10_000 {
            aimd.on_success();
            assert!(aimd.limit() <= 8);
        }
        assert_eq!(aimd.limit(), 8);
        assert_eq!(aimd.lowest(), 1);
        // From 1 back to 8 takes 1 + 2 + ... + 7 successes.
        let mut aimd = Aimd::new(8);
        for i in 0..5 {
            aimd.on_throttle(after(start, i * 100));
        }
        let needed: usize = (1..8).sum();
        for _ in 0..needed - 1 {
            aimd.on_success();
        }
        assert_eq!(aimd.limit(), 7);
        aimd.on_success();
        assert_eq!(aimd.limit(), 8);
    }

    #[test]
    fn a_throttle_restarts_the_count_towards_growth() {
        let start = Instant::now();
        let mut aimd = Aimd::new(64);
        aimd.on_throttle(start);
        for _ in 0..40 {
            aimd.on_success();
        }
        aimd.on_throttle(after(start, 200));
        assert_eq!(aimd.limit(), 30);
        for _ in 0..29 {
            aimd.on_success();
        }
        assert_eq!(aimd.limit(), 30);
        aimd.on_success();
        assert_eq!(aimd.limit(), 31);
    }

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

    /// Answers every request with `status` after a few milliseconds.
    #[derive(Debug)]
    struct Answers(u16);

    impl HttpConnector for Answers {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let status = StatusCode::try_from(self.0).expect("a status code");
            HttpConnectorFuture::new(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(HttpResponse::new(status, SdkBody::empty()))
            })
        }
    }

    #[tokio::test]
    async fn a_caller_that_stops_polling_does_not_keep_its_slot() {
        // A fix's scan stage is polled only while its repair stage has room: an answered HEAD
        // there must not hold a slot that the repairs wait for.
        let pace = Pace::new(1, None, Arc::new(RequestStats::default()));
        let connector = PacedConnector {
            inner: SharedHttpConnector::new(Answers(200)),
            pace: pace.clone(),
        };
        let mut stalled = connector.call(HttpRequest::empty());
        assert!(futures::poll!(&mut stalled).is_pending());
        let next =
            tokio::time::timeout(Duration::from_secs(5), connector.call(HttpRequest::empty()))
                .await
                .expect("the slot came back without the first caller polling");
        assert_eq!(next.unwrap().status().as_u16(), 200);
        assert_eq!(stalled.await.unwrap().status().as_u16(), 200);
        assert_eq!(pace.slots.available_permits(), 1);
    }

    #[tokio::test]
    async fn an_abandoned_attempt_gives_its_slot_back() {
        #[derive(Debug)]
        struct Never;
        impl HttpConnector for Never {
            fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
                HttpConnectorFuture::new(std::future::pending())
            }
        }
        let pace = Pace::new(1, None, Arc::new(RequestStats::default()));
        let connector = PacedConnector {
            inner: SharedHttpConnector::new(Never),
            pace: pace.clone(),
        };
        let attempt = tokio::time::timeout(
            Duration::from_millis(10),
            connector.call(HttpRequest::empty()),
        );
        assert!(attempt.await.is_err(), "timed out");
        tokio::time::timeout(Duration::from_secs(10), async {
            while pace.slots.available_permits() == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the slot is free again");
    }

    #[test]
    fn the_rate_wait_allowance_covers_both_stages() {
        assert_eq!(longest_rate_wait(64, None), Duration::ZERO);
        let rps = NonZeroU32::new(10);
        assert_eq!(longest_rate_wait(64, rps), Duration::from_secs(13));
    }
}
