//! `-q` on stdout: the report is held back until there is something to report, and a run with
//! nothing to report prints nothing at all (its exit code tells), as cron wants.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A writer that keeps what it is given until [`Release`] says to let it through; what is still
/// held when it is dropped is dropped with it.
pub struct Held {
    inner: Box<dyn Write + Send>,
    buffer: Vec<u8>,
    released: Arc<AtomicBool>,
}

/// Lets a [`Held`] writer's output through, from now on and what it held so far.
#[derive(Clone, Debug, Default)]
pub struct Release(Arc<AtomicBool>);

impl Release {
    pub fn release(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Held {
    /// Holds what is written to `inner`; the [`Release`] lets it through.
    pub fn new(inner: Box<dyn Write + Send>) -> (Held, Release) {
        let release = Release::default();
        let held = Held {
            inner,
            buffer: Vec::new(),
            released: release.0.clone(),
        };
        (held, release)
    }

    fn released(&mut self) -> io::Result<bool> {
        if !self.released.load(Ordering::Relaxed) {
            return Ok(false);
        }
        if !self.buffer.is_empty() {
            self.inner.write_all(&self.buffer)?;
            self.buffer = Vec::new();
        }
        Ok(true)
    }
}

impl Write for Held {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.released()? {
            self.inner.write(buf)
        } else {
            self.buffer.extend_from_slice(buf);
            Ok(buf.len())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.released()? {
            self.inner.flush()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A `Write` whose bytes a test can read afterwards.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn nothing_passes_until_released_then_everything_in_order() {
        let sink = Sink::default();
        let (mut held, release) = Held::new(Box::new(sink.clone()));
        write!(held, "head ").unwrap();
        held.flush().unwrap();
        assert!(sink.0.lock().unwrap().is_empty());
        release.release();
        write!(held, "row").unwrap();
        held.flush().unwrap();
        assert_eq!(&*sink.0.lock().unwrap(), b"head row");

        let sink = Sink::default();
        let (mut held, _never) = Held::new(Box::new(sink.clone()));
        write!(held, "a clean run's report").unwrap();
        held.flush().unwrap();
        drop(held);
        assert!(sink.0.lock().unwrap().is_empty());
    }
}
