//! `--max-rps`: a token bucket over every attempt, on tokio's clock.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

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
pub(super) struct Rate {
    bucket: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
    clock: TokioClock,
    /// One waiter at a time polls the bucket; the others wait their turn in order (tokio's
    /// mutex is FIFO), so no request is overtaken for ever.
    queue: tokio::sync::Mutex<()>,
}

impl Rate {
    /// `rps` tokens a second (the interval rounded up, so never more), with a burst of a tenth
    /// of a second's worth.
    pub(super) fn new(rps: NonZeroU32) -> Self {
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

    pub(super) async fn until_ready(&self) {
        let _turn = self.queue.lock().await;
        while let Err(not_until) = self.bucket.check() {
            tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
        }
    }
}
