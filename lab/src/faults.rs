//! Seeded random faults: per-operation rates of the failures real S3 produces under load.
//!
//! s3mend must survive throttling (503 SlowDown), transient 500s, connections that die
//! mid-request, stalled responses and CopyObject's "200 OK whose body is an error". Tests
//! describe the mix with [`Faults`]; the lab draws each request's fate from a seeded stream per
//! operation, so the n-th HeadObject meets the same fault in every run with the same seed. That
//! holds for the order in which requests reach the lab: with concurrent clients the order (and
//! so which key meets which fault) varies between runs, while the rates still hold.
//!
//! Every fault except [`FaultRates::reset_after`] is decided before the request is handled and
//! leaves the store unchanged, as a client that saw it must be free to retry.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::rng::Rng;

/// The operations S3 may answer with a 200 whose body is an `<Error>`; only these take
/// [`FaultRates::copy_error_body`].
const ERROR_200_OPERATIONS: &[&str] = &["CopyObject", "UploadPartCopy", "CompleteMultipartUpload"];

/// How often each fault hits one operation: fractions of its requests, 0 to 1, summing to at
/// most 1 (one request meets at most one fault).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultRates {
    /// 503 SlowDown, "Please reduce your request rate." (the SDK treats it as throttling).
    pub slow_down: f64,
    /// 500 InternalError, "We encountered an internal error. Please try again."
    pub internal_error: f64,
    /// The connection is reset before any response: the request was not applied, but the
    /// client cannot tell.
    pub reset: f64,
    /// The request is applied, then the connection is reset instead of answering: the client
    /// sees the same failure as [`reset`](Self::reset), but the write happened.
    pub reset_after: f64,
    /// The lab waits [`stall_for`](Self::stall_for) before handling the request, then answers
    /// normally (for attempt timeouts). A client that gives up meanwhile closes the connection,
    /// hyper drops the pending request, and it is never applied.
    pub stall: f64,
    /// How long a stalled request waits.
    pub stall_for: Duration,
    /// CopyObject (or UploadPartCopy, CompleteMultipartUpload) answers 200 with an
    /// `<Error><Code>InternalError</Code>` body, and the copy is not made.
    pub copy_error_body: f64,
}

impl Default for FaultRates {
    fn default() -> Self {
        Self {
            slow_down: 0.0,
            internal_error: 0.0,
            reset: 0.0,
            reset_after: 0.0,
            stall: 0.0,
            stall_for: Duration::from_secs(30),
            copy_error_body: 0.0,
        }
    }
}

impl FaultRates {
    /// The rates in the order a draw is compared against them, with their faults.
    fn ladder(&self) -> [(f64, Fault); 6] {
        [
            (self.slow_down, Fault::SlowDown),
            (self.internal_error, Fault::InternalError),
            (self.reset, Fault::Reset),
            (self.reset_after, Fault::ResetAfter),
            (self.stall, Fault::Stall(self.stall_for)),
            (self.copy_error_body, Fault::CopyErrorBody),
        ]
    }

    /// The fault for a uniform draw in [0, 1): each rate owns a slice of the unit interval.
    fn pick(&self, draw: f64) -> Option<Fault> {
        let mut upper = 0.0;
        for (rate, fault) in self.ladder() {
            upper += rate;
            if draw < upper {
                return Some(fault);
            }
        }
        None
    }
}

/// A seeded fault mix, by S3 operation name as in [`LabStats`](super::LabStats):
///
/// ```ignore
/// lab.set_faults(Faults::seeded(42).on_each(&["HeadObject", "CopyObject"], FaultRates {
///     slow_down: 0.10, internal_error: 0.02, reset: 0.01, ..FaultRates::default()
/// }));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    seed: u64,
    per_op: BTreeMap<String, FaultRates>,
}

impl Faults {
    /// No faults yet; add them with [`Faults::on`].
    pub fn seeded(seed: u64) -> Self {
        Self {
            seed,
            per_op: BTreeMap::new(),
        }
    }

    /// Sets the rates of one operation (replacing earlier ones).
    ///
    /// # Panics
    /// On a rate outside 0..=1, rates summing above 1, or `copy_error_body` on an operation S3
    /// never answers that way: a mistake in the test, better reported at once.
    pub fn on(mut self, operation: &str, rates: FaultRates) -> Self {
        let ladder = rates.ladder();
        assert!(
            ladder.iter().all(|(r, _)| (0.0..=1.0).contains(r)),
            "fault rates are fractions 0..=1: {rates:?}"
        );
        let sum: f64 = ladder.iter().map(|(r, _)| r).sum();
        assert!(sum <= 1.0 + 1e-9, "fault rates sum to {sum} > 1: {rates:?}");
        assert!(
            rates.copy_error_body == 0.0 || ERROR_200_OPERATIONS.contains(&operation),
            "S3 answers 200-with-an-error only to {ERROR_200_OPERATIONS:?}, not {operation}"
        );
        self.per_op.insert(operation.to_owned(), rates);
        self
    }

    /// The same rates on several operations (each keeps its own stream).
    pub fn on_each(self, operations: &[&str], rates: FaultRates) -> Self {
        operations.iter().fold(self, |f, op| f.on(op, rates))
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The rates of one operation, if any were set.
    pub fn rates(&self, operation: &str) -> Option<&FaultRates> {
        self.per_op.get(operation)
    }

    /// The faults the first `n` requests of `operation` would meet (`None` = served normally),
    /// named as in [`LabStats::faults`](super::LabStats::faults): lets a test predict a run.
    pub fn preview(&self, operation: &str, n: usize) -> Vec<Option<&'static str>> {
        let mut plan = FaultPlan::new(self.clone());
        (0..n)
            .map(|_| plan.decide(operation).map(|f| f.name()))
            .collect()
    }
}

/// One request's injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    SlowDown,
    InternalError,
    Reset,
    ResetAfter,
    Stall(Duration),
    CopyErrorBody,
}

impl Fault {
    /// The name counted in [`LabStats::faults`](super::LabStats::faults) after the operation.
    pub fn name(self) -> &'static str {
        match self {
            Fault::SlowDown => "SlowDown",
            Fault::InternalError => "InternalError",
            Fault::Reset => "Reset",
            Fault::ResetAfter => "ResetAfter",
            Fault::Stall(_) => "Stall",
            Fault::CopyErrorBody => "CopyErrorBody",
        }
    }
}

/// The live decision state: one random stream per operation, so operations with no rates (or
/// other operations' traffic) do not shift an operation's sequence.
#[derive(Debug)]
pub struct FaultPlan {
    per_op: HashMap<String, (FaultRates, Rng)>,
}

impl FaultPlan {
    pub fn new(faults: Faults) -> Self {
        let seed = faults.seed;
        Self {
            per_op: faults
                .per_op
                .into_iter()
                .map(|(op, rates)| {
                    let rng = Rng::derived(seed, &op);
                    (op, (rates, rng))
                })
                .collect(),
        }
    }

    /// The fault for the next request of `operation`, if any.
    pub fn decide(&mut self, operation: &str) -> Option<Fault> {
        let (rates, rng) = self.per_op.get_mut(operation)?;
        let draw = rng.unit();
        rates.pick(draw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_map_onto_consecutive_slices() {
        let rates = FaultRates {
            slow_down: 0.1,
            internal_error: 0.2,
            stall: 0.1,
            stall_for: Duration::from_secs(1),
            ..FaultRates::default()
        };
        assert_eq!(rates.pick(0.05), Some(Fault::SlowDown));
        assert_eq!(rates.pick(0.25), Some(Fault::InternalError));
        assert_eq!(rates.pick(0.35), Some(Fault::Stall(Duration::from_secs(1))));
        assert_eq!(rates.pick(0.45), None);
    }

    #[test]
    fn operations_without_rates_are_never_faulted() {
        let mut plan = FaultPlan::new(Faults::seeded(1).on(
            "HeadObject",
            FaultRates {
                internal_error: 1.0,
                ..FaultRates::default()
            },
        ));
        assert_eq!(plan.decide("GetObject"), None);
        assert_eq!(plan.decide("HeadObject"), Some(Fault::InternalError));
    }

    #[test]
    #[should_panic(expected = "sum")]
    fn rates_above_one_are_refused() {
        let _ = Faults::seeded(1).on(
            "HeadObject",
            FaultRates {
                slow_down: 0.6,
                reset: 0.6,
                ..FaultRates::default()
            },
        );
    }

    #[test]
    #[should_panic(expected = "200-with-an-error")]
    fn error_bodies_only_where_s3_sends_them() {
        let _ = Faults::seeded(1).on(
            "HeadObject",
            FaultRates {
                copy_error_body: 0.1,
                ..FaultRates::default()
            },
        );
    }

    #[test]
    fn preview_is_reproducible_and_near_the_rates() {
        let faults = Faults::seeded(42).on(
            "HeadObject",
            FaultRates {
                slow_down: 0.10,
                internal_error: 0.02,
                ..FaultRates::default()
            },
        );
        let a = faults.preview("HeadObject", 10_000);
        assert_eq!(a, faults.preview("HeadObject", 10_000));
        let slow = a.iter().filter(|f| **f == Some("SlowDown")).count();
        let internal = a.iter().filter(|f| **f == Some("InternalError")).count();
        assert!((900..1100).contains(&slow), "{slow}");
        assert!((150..250).contains(&internal), "{internal}");
        assert_ne!(
            a,
            Faults { seed: 43, ..faults }.preview("HeadObject", 10_000)
        );
    }
}
