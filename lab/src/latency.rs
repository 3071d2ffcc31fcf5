//! The latency added before each request: fixed, or drawn from a seeded distribution.
//!
//! Real S3 latency is not a constant: most requests are fast and a few are many times slower,
//! and a tool's concurrency and timeouts behave differently under that tail. A fixed latency
//! keeps benchmarks comparable; [`LatencyDist`] gives tests the tail. Samples come from one
//! seeded stream in the order requests arrive, and are slept on the precise timer in `delay.rs`.

use std::time::Duration;

use parking_lot::Mutex;

use super::rng::Rng;

/// How long the lab waits before handling each request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencyDist {
    /// Always the same.
    Fixed(Duration),
    /// Uniform between `min` and `max` (inclusive of `min`).
    Uniform { min: Duration, max: Duration },
    /// Log-normal with this median and 99th percentile, as service latencies roughly are.
    /// Samples are capped at 10 × `p99`, so one draw cannot stall a test for minutes.
    LogNormal { median: Duration, p99: Duration },
}

impl Default for LatencyDist {
    fn default() -> Self {
        LatencyDist::Fixed(Duration::ZERO)
    }
}

/// z of the 99th percentile of the standard normal.
const Z99: f64 = 2.326_347_874;

impl LatencyDist {
    /// The smallest and largest latency this distribution can give.
    pub fn bounds(&self) -> (Duration, Duration) {
        match *self {
            LatencyDist::Fixed(d) => (d, d),
            LatencyDist::Uniform { min, max } => (min.min(max), min.max(max)),
            LatencyDist::LogNormal { median, p99 } => (Duration::ZERO, p99.max(median) * 10),
        }
    }

    /// `n` samples from a stream seeded with `seed`: what a lab would add to its first `n`
    /// requests after [`Lab::set_latency_distribution_seeded`](super::Lab::set_latency_distribution_seeded).
    pub fn samples(&self, seed: u64, n: usize) -> Vec<Duration> {
        let mut rng = Rng::derived(seed, "latency");
        (0..n).map(|_| self.sample(&mut rng)).collect()
    }

    fn sample(&self, rng: &mut Rng) -> Duration {
        match *self {
            LatencyDist::Fixed(d) => d,
            LatencyDist::Uniform { .. } => {
                let (min, max) = self.bounds();
                min + (max - min).mul_f64(rng.unit())
            }
            LatencyDist::LogNormal { median, p99 } => {
                let (_, cap) = self.bounds();
                let median_s = median.as_secs_f64();
                // p99 = median · e^(σ·z99); a p99 below the median degenerates to the median.
                let sigma = if median_s > 0.0 && p99 > median {
                    (p99.as_secs_f64() / median_s).ln() / Z99
                } else {
                    0.0
                };
                let secs = median_s * (sigma * rng.normal()).exp();
                Duration::try_from_secs_f64(secs).map_or(cap, |d| d.min(cap))
            }
        }
    }
}

/// The lab's current distribution and its stream.
#[derive(Debug)]
pub struct Latency {
    state: Mutex<(LatencyDist, Rng)>,
}

/// The seed when a test does not give one.
pub const DEFAULT_SEED: u64 = 0;

impl Latency {
    pub fn new(dist: LatencyDist, seed: u64) -> Self {
        Self {
            state: Mutex::new((dist, Rng::derived(seed, "latency"))),
        }
    }

    /// Replaces the distribution and restarts its stream from `seed`.
    pub fn set(&self, dist: LatencyDist, seed: u64) {
        *self.state.lock() = (dist, Rng::derived(seed, "latency"));
    }

    /// The latency for the next request.
    pub fn next(&self) -> Duration {
        let mut state = self.state.lock();
        let (dist, rng) = &mut *state;
        dist.sample(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn uniform_samples_stay_within_bounds_and_spread() {
        let dist = LatencyDist::Uniform {
            min: 5 * MS,
            max: 15 * MS,
        };
        let s = dist.samples(3, 5_000);
        assert!(s.iter().all(|d| (5 * MS..=15 * MS).contains(d)));
        assert!(s.iter().any(|d| *d < 6 * MS) && s.iter().any(|d| *d > 14 * MS));
        assert_eq!(s, dist.samples(3, 5_000));
    }

    #[test]
    fn log_normal_has_the_median_and_p99_asked_for() {
        let dist = LatencyDist::LogNormal {
            median: 10 * MS,
            p99: 80 * MS,
        };
        let mut s = dist.samples(9, 20_000);
        s.sort();
        let median = s[s.len() / 2];
        let p99 = s[s.len() * 99 / 100];
        assert!((9 * MS..11 * MS).contains(&median), "{median:?}");
        assert!((65 * MS..95 * MS).contains(&p99), "{p99:?}");
        assert!(*s.last().unwrap() <= 800 * MS);
    }

    #[test]
    fn degenerate_parameters_do_not_panic() {
        for dist in [
            LatencyDist::LogNormal {
                median: Duration::ZERO,
                p99: MS,
            },
            LatencyDist::LogNormal {
                median: 5 * MS,
                p99: MS,
            },
            LatencyDist::Uniform { min: MS, max: MS },
            LatencyDist::Uniform {
                min: 2 * MS,
                max: MS,
            },
        ] {
            let (lo, hi) = dist.bounds();
            assert!(dist.samples(1, 100).iter().all(|d| (lo..=hi).contains(d)));
        }
    }
}
