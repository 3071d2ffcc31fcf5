//! The in-flight limit's arithmetic: additive increase, multiplicative decrease. Pure: the caller
//! says when a response was a throttle or a success, and what time it is.

use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
