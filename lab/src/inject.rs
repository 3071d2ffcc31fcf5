//! Injected failures: counted ones a test arms per operation and key, and seeded random ones per
//! operation (see `faults.rs`), raised at the access check (`access.rs`) before any handler runs;
//! then the damaged answers of `damage.rs`, handed to the handler or the connection.
//!
//! A repair is only safe if it survives transient server errors, and those cannot be timed
//! reliably from outside the server. So tests arm them here, and the server consults this state
//! at one fixed point for every request, which makes the outcome deterministic. Raising a fault
//! before the handler means a faulted request changes nothing; the one fault that lets it change
//! something (a reset after handling) is only recorded here and carried out by the connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use s3s::access::S3AccessContext;
use s3s::path::S3Path;
use s3s::{s3_error, S3Result};

use super::conn_faults::FaultSlot;
use super::damage::{Damages, Effect, ListingDamage, PageDamage};
use super::faults::{Fault, FaultPlan, Faults};

/// What an armed fault does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Armed {
    /// 500 InternalError before anything is done.
    Fail,
    /// Handled normally after this long.
    Stall(Duration),
}

/// Armed and seeded random faults.
#[derive(Default)]
pub struct Inject {
    /// (operation, key) → what to do to the next requests, and how many are still to get it.
    faults: Mutex<HashMap<(String, String), (u32, Armed)>>,
    /// Lets every request skip the fault lock when nothing is armed (benchmarks run 1000s/s).
    any_fault: AtomicBool,
    /// Seeded random faults, if set.
    random: Mutex<Option<FaultPlan>>,
    /// As `any_fault`, for `random`.
    any_random: AtomicBool,
    /// Damaged and lost answers, for requests that met none of the faults above.
    pub damages: Damages,
    /// Every request's arrival, while recorded (see [`Inject::record_arrivals`]).
    arrivals: Mutex<Option<Vec<Arrival>>>,
    /// As `any_fault`, for `arrivals`.
    recording: AtomicBool,
}

/// One request as it reached the lab's access check: the operation, its key (if about an
/// object), when, and the `x-amz-*` headers it carried. What a benchmark measures a client's
/// timing with, on the server's side, and what a test checks a client sent with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub operation: String,
    pub key: Option<String>,
    pub at: std::time::Instant,
    /// Its `x-amz-*` headers, names in lower case (the signature's own included).
    pub amz_headers: std::collections::BTreeMap<String, String>,
    /// The headers its signature covers (`SignedHeaders` of its `Authorization`), in lower case.
    pub signed_headers: Vec<String>,
}

impl Arrival {
    /// The value of header `name` (lower case) if the request carried it and signed it.
    pub fn signed(&self, name: &str) -> Option<&str> {
        self.signed_headers
            .iter()
            .any(|h| h == name)
            .then(|| self.amz_headers.get(name).map(String::as_str))
            .flatten()
    }
}

/// The `x-amz-*` headers of a request, and the names its SigV4 `Authorization` signs.
fn amz_headers(
    headers: &http::HeaderMap,
) -> (std::collections::BTreeMap<String, String>, Vec<String>) {
    let amz = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-amz-"))
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let signed = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("SignedHeaders=").nth(1))
        .and_then(|rest| rest.split(',').next())
        .map(|list| list.trim().split(';').map(str::to_owned).collect())
        .unwrap_or_default();
    (amz, signed)
}

impl std::fmt::Debug for Inject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inject")
            .field("faults", &*self.faults.lock())
            .field("random", &*self.random.lock())
            .field("damages", &self.damages)
            .field("recording", &self.recording)
            .finish()
    }
}

impl Inject {
    /// Starts (afresh) or stops recording every request's arrival.
    pub fn record_arrivals(&self, on: bool) {
        *self.arrivals.lock() = on.then(Vec::new);
        self.recording.store(on, Ordering::Relaxed);
    }

    /// The arrivals recorded so far, in order; recording goes on.
    pub fn take_arrivals(&self) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Arms `count` faults (replacing any still pending for the same operation and key).
    pub fn add_fault(&self, operation: &str, key: &str, count: u32, armed: Armed) {
        let mut faults = self.faults.lock();
        let id = (operation.to_owned(), key.to_owned());
        if count == 0 {
            faults.remove(&id);
        } else {
            faults.insert(id, (count, armed));
        }
        self.any_fault.store(!faults.is_empty(), Ordering::Release);
    }

    /// Replaces the random faults (restarting their streams), or removes them.
    pub fn set_random(&self, faults: Option<Faults>) {
        let mut random = self.random.lock();
        *random = faults.map(FaultPlan::new);
        self.any_random.store(random.is_some(), Ordering::Release);
    }

    /// The random fault this request of `operation` meets, if any.
    pub fn decide(&self, operation: &str) -> Option<Fault> {
        if !self.any_random.load(Ordering::Acquire) {
            return None;
        }
        self.random.lock().as_mut()?.decide(operation)
    }

    /// The armed fault this request meets, if any (and one of them used up).
    pub fn take_fault(&self, operation: &str, key: &str) -> Option<Armed> {
        if !self.any_fault.load(Ordering::Acquire) {
            return None;
        }
        let mut faults = self.faults.lock();
        let id = (operation.to_owned(), key.to_owned());
        let (left, armed) = faults.get_mut(&id)?;
        let armed = *armed;
        *left -= 1;
        if *left == 0 {
            faults.remove(&id);
            self.any_fault.store(!faults.is_empty(), Ordering::Release);
        }
        Some(armed)
    }

    /// The fault a request of `operation` (on `key`, for an object request) meets, with the
    /// kind it is counted under: one armed for the key first, else a random one, whose stream
    /// only moves on when nothing was armed.
    fn next_fault(&self, operation: &str, key: Option<&str>) -> Option<(&'static str, Fault)> {
        match key.and_then(|key| self.take_fault(operation, key)) {
            Some(Armed::Fail) => Some(("FailNext", Fault::InternalError)),
            Some(Armed::Stall(d)) => Some(("StallNext", Fault::Stall(d))),
            None => self.decide(operation).map(|fault| (fault.name(), fault)),
        }
    }

    /// Fails or stalls the request the access hook was given, if it meets a fault, or else hands
    /// on the damages it meets. `count` gets the operation and each fault's or damage's kind (as
    /// in [`LabStats::faults`](super::LabStats::faults)) before it takes effect, so a stalled
    /// request its client gives up on is counted too.
    pub async fn raise(
        &self,
        cx: &mut S3AccessContext<'_>,
        mut count: impl FnMut(&str, &'static str),
    ) -> S3Result<()> {
        let op = cx.s3_op().name();
        let (bucket, key) = match cx.s3_path() {
            S3Path::Object { bucket, key } => (&**bucket, Some(&**key)),
            S3Path::Bucket { bucket } => (&**bucket, None),
            S3Path::Root => ("", None),
        };
        if self.recording.load(Ordering::Relaxed) {
            let (amz_headers, signed_headers) = amz_headers(cx.headers());
            if let Some(log) = self.arrivals.lock().as_mut() {
                log.push(Arrival {
                    operation: op.to_owned(),
                    key: key.map(str::to_owned),
                    at: std::time::Instant::now(),
                    amz_headers,
                    signed_headers,
                });
            }
        }
        match self.next_fault(op, key) {
            Some((kind, fault)) => {
                count(op, kind);
                carry_out(fault, slot(cx)).await
            }
            None => {
                let continues = op == "ListObjectsV2" && carries_token(cx.uri());
                let effects = self.damages.take(op, bucket, key, continues);
                for effect in &effects {
                    count(op, effect.name());
                }
                hand_on(cx, effects);
                Ok(())
            }
        }
    }
}

/// The request's [`FaultSlot`]. Without one (not served by `conn.rs`) the connection-level
/// faults degrade to a 500.
fn slot(cx: &mut S3AccessContext<'_>) -> Option<FaultSlot> {
    cx.extensions_mut().get::<FaultSlot>().cloned()
}

async fn carry_out(fault: Fault, slot: Option<FaultSlot>) -> S3Result<()> {
    match fault {
        Fault::SlowDown => Err(s3_error!(SlowDown, "Please reduce your request rate.")),
        Fault::InternalError => Err(internal_error()),
        // A client that gives up meanwhile closes the connection: the request is never handled.
        Fault::Stall(d) => {
            tokio::time::sleep(d).await;
            Ok(())
        }
        Fault::Reset | Fault::CopyErrorBody => {
            if let Some(slot) = slot {
                slot.set(fault);
            }
            Err(internal_error())
        }
        Fault::ResetAfter => {
            if let Some(slot) = slot {
                slot.set(fault);
            }
            Ok(())
        }
    }
}

/// Gives each damage to the layer that produces it: a page's lies to the handler, the rest to
/// the connection.
fn hand_on(cx: &mut S3AccessContext<'_>, effects: Vec<Effect>) {
    // Without a slot (not served by `conn.rs`) what only the connection can do is not done.
    let slot = slot(cx).unwrap_or_default();
    for effect in effects {
        match effect {
            Effect::Listing(ListingDamage::Cut { at, framing }) => slot.cut_body(at, framing),
            Effect::Listing(damage) => {
                cx.extensions_mut().insert(PageDamage(damage));
            }
            Effect::Trickle(pause) => slot.trickle_body(pause),
            Effect::LoseResponse => slot.set(Fault::ResetAfter),
        }
    }
}

/// Whether a listing request carries a continuation token, that is continues a listing.
fn carries_token(uri: &http::Uri) -> bool {
    uri.query().unwrap_or_default().split('&').any(|pair| {
        pair.strip_prefix("continuation-token=")
            .is_some_and(|token| !token.is_empty())
    })
}

fn internal_error() -> s3s::S3Error {
    s3_error!(
        InternalError,
        "We encountered an internal error. Please try again."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_used_up_per_operation_and_key() {
        let inject = Inject::default();
        inject.add_fault("HeadObject", "k", 2, Armed::Fail);
        assert_eq!(inject.take_fault("HeadObject", "other"), None);
        assert_eq!(inject.take_fault("GetObject", "k"), None);
        assert_eq!(inject.take_fault("HeadObject", "k"), Some(Armed::Fail));
        assert_eq!(inject.take_fault("HeadObject", "k"), Some(Armed::Fail));
        assert_eq!(inject.take_fault("HeadObject", "k"), None);
        assert!(!inject.any_fault.load(Ordering::Acquire));
        let stall = Armed::Stall(Duration::from_secs(1));
        inject.add_fault("HeadObject", "k", 1, stall);
        assert_eq!(inject.take_fault("HeadObject", "k"), Some(stall));
        assert_eq!(inject.take_fault("HeadObject", "k"), None);
    }
}
