//! Race hooks: a test's code, run once inside the server right before a request on one object.
//!
//! A repair is only safe if it notices a concurrent writer, and a writer cannot be timed reliably
//! from outside the server. So a test arms a hook here, and the handlers run it at fixed points
//! (the start of CopyObject and CreateMultipartUpload, or of HeadObject), which makes the
//! interleaving deterministic.
//!
//! A hook is given the lab's handle, but this module stores hooks for any argument type `T`, so
//! it does not depend on the handle that owns it.

use parking_lot::Mutex;

/// A hook that runs once before a request on its object.
pub type Hook<T> = Box<dyn FnOnce(&T) + Send + 'static>;

/// The request a hook waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint {
    /// CopyObject or CreateMultipartUpload into the object.
    Copy,
    /// HeadObject of the object.
    Head,
}

/// A hook waiting for its request.
struct Armed<T> {
    point: HookPoint,
    bucket: String,
    key: String,
    hook: Hook<T>,
}

/// Armed hooks, in the order they were armed.
pub struct Hooks<T> {
    armed: Mutex<Vec<Armed<T>>>,
}

impl<T> Default for Hooks<T> {
    fn default() -> Self {
        Self {
            armed: Mutex::new(Vec::new()),
        }
    }
}

impl<T> std::fmt::Debug for Hooks<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("armed", &self.armed.lock().len())
            .finish()
    }
}

impl<T> Hooks<T> {
    pub fn add(&self, point: HookPoint, bucket: &str, key: &str, hook: Hook<T>) {
        self.armed.lock().push(Armed {
            point,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            hook,
        });
    }

    /// Removes and returns the oldest hook for this request. The caller runs it after the lock
    /// is released, since a hook writes to the store and may arm further hooks.
    pub fn take(&self, point: HookPoint, bucket: &str, key: &str) -> Option<Hook<T>> {
        let mut armed = self.armed.lock();
        let pos = armed
            .iter()
            .position(|a| a.point == point && a.bucket == bucket && a.key == key)?;
        Some(armed.remove(pos).hook)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_taken_once_in_order() {
        let hooks = Hooks::<()>::default();
        hooks.add(HookPoint::Copy, "b", "k", Box::new(|_| {}));
        hooks.add(HookPoint::Copy, "b", "other", Box::new(|_| {}));
        hooks.add(HookPoint::Head, "b", "k", Box::new(|_| {}));
        assert!(hooks.take(HookPoint::Copy, "b", "x").is_none());
        assert!(hooks.take(HookPoint::Copy, "b", "k").is_some());
        assert!(hooks.take(HookPoint::Copy, "b", "k").is_none());
        assert!(hooks.take(HookPoint::Copy, "b", "other").is_some());
        assert!(hooks.take(HookPoint::Head, "b", "k").is_some());
    }
}
