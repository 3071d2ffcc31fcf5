//! Test-driven interventions: race hooks that run just before a copy, and injected failures
//! (counted ones armed per key, and seeded random ones per operation, see `faults.rs`).
//!
//! A repair is only safe if it notices a concurrent writer and survives transient server errors.
//! Neither can be timed reliably from outside the server, so tests arm them here: the server
//! consults this state at fixed points (the access check for faults; for hooks the start of
//! CopyObject and CreateMultipartUpload, or of HeadObject), which makes the interleaving
//! deterministic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::faults::{Fault, FaultPlan, Faults};
use super::handle::LabHandle;

/// What an armed fault does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Armed {
    /// 500 InternalError before anything is done.
    Fail,
    /// Handled normally after this long.
    Stall(Duration),
}

/// A hook that runs once before a request on its object.
pub type Hook = Box<dyn FnOnce(&LabHandle) + Send + 'static>;

/// The request a hook waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint {
    /// CopyObject or CreateMultipartUpload into the object.
    Copy,
    /// HeadObject of the object.
    Head,
}

/// Armed hooks and faults.
#[derive(Default)]
pub struct Inject {
    /// (point, bucket, key, hook), in the order they were armed.
    hooks: Mutex<Vec<(HookPoint, String, String, Hook)>>,
    /// (operation, key) → what to do to the next requests, and how many are still to get it.
    faults: Mutex<HashMap<(String, String), (u32, Armed)>>,
    /// Lets every request skip the fault lock when nothing is armed (benchmarks run 1000s/s).
    any_fault: AtomicBool,
    /// Seeded random faults, if set.
    random: Mutex<Option<FaultPlan>>,
    /// As `any_fault`, for `random`.
    any_random: AtomicBool,
}

impl std::fmt::Debug for Inject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inject")
            .field("hooks", &self.hooks.lock().len())
            .field("faults", &*self.faults.lock())
            .field("random", &*self.random.lock())
            .finish()
    }
}

impl Inject {
    pub fn add_hook(&self, point: HookPoint, bucket: &str, key: &str, hook: Hook) {
        self.hooks
            .lock()
            .push((point, bucket.to_owned(), key.to_owned(), hook));
    }

    /// Removes and returns the oldest hook for this request. The caller runs it after the lock
    /// is released, since a hook writes to the store and may arm further hooks.
    pub fn take_hook(&self, point: HookPoint, bucket: &str, key: &str) -> Option<Hook> {
        let mut hooks = self.hooks.lock();
        let pos = hooks
            .iter()
            .position(|(p, b, k, _)| *p == point && b == bucket && k == key)?;
        Some(hooks.remove(pos).3)
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

    #[test]
    fn hooks_are_taken_once_in_order() {
        let inject = Inject::default();
        inject.add_hook(HookPoint::Copy, "b", "k", Box::new(|_| {}));
        inject.add_hook(HookPoint::Copy, "b", "other", Box::new(|_| {}));
        inject.add_hook(HookPoint::Head, "b", "k", Box::new(|_| {}));
        assert!(inject.take_hook(HookPoint::Copy, "b", "x").is_none());
        assert!(inject.take_hook(HookPoint::Copy, "b", "k").is_some());
        assert!(inject.take_hook(HookPoint::Copy, "b", "k").is_none());
        assert!(inject.take_hook(HookPoint::Copy, "b", "other").is_some());
        assert!(inject.take_hook(HookPoint::Head, "b", "k").is_some());
    }
}
