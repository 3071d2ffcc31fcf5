//! Writing the next catalog as the run goes: entries arrive in completion order and are handed,
//! in key order, to a thread of its own (which serialises and compresses them, off the run's
//! thread) once every key before them is done (the run's watermark says when), so memory holds
//! only the objects in flight. The file replaces the old catalog only at the end of a complete
//! run: temp file, fsync, rename, fsync of the directory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::{Entry, Header, Scope};

/// Batches queued for the writing thread: a batch at a time keeps the threads from waking each
/// other for every entry.
const QUEUE: usize = 8;
const BATCH: usize = 512;

/// The catalog being written.
pub struct Writer {
    path: PathBuf,
    temp: PathBuf,
    /// Keys done out of order, with their entry (`None`: nothing to keep, e.g. a failed HEAD).
    pending: BTreeMap<String, Option<Entry>>,
    queue: Option<SyncSender<Vec<Entry>>>,
    /// Entries not yet handed to the thread.
    outgoing: Vec<Entry>,
    /// The writing thread: the file once every entry is in it, and how many there are.
    thread: Option<JoinHandle<io::Result<(File, u64)>>>,
}

impl Writer {
    /// Starts the catalog that will replace `path`, in a temporary file beside it (so an
    /// unwritable directory fails before the first request).
    pub fn create(path: &Path, scope: &Scope) -> io::Result<Writer> {
        let name = path
            .file_name()
            .map_or_else(|| "catalog".into(), |n| n.to_string_lossy().into_owned());
        let temp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        // Fast compression: a million entries compress in seconds, at a few times the size of
        // the default level's output.
        let mut out = GzEncoder::new(BufWriter::new(file), Compression::fast());
        let header = serde_json::to_string(&Header::new(scope)).map_err(io::Error::other)?;
        writeln!(out, "{header}")?;
        let (queue, batches) = sync_channel::<Vec<Entry>>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("s3mend-catalog-write".into())
            .spawn(move || {
                let mut written = 0;
                let mut failed = None;
                // Every entry is taken, also after a failure, so the run never blocks on it.
                for entry in batches.into_iter().flatten() {
                    if failed.is_some() {
                        continue;
                    }
                    let line = serde_json::to_string(&entry).map_err(io::Error::other);
                    match line.and_then(|line| writeln!(out, "{line}")) {
                        Ok(()) => written += 1,
                        Err(e) => failed = Some(e),
                    }
                }
                if let Some(e) = failed {
                    return Err(e);
                }
                let file = out.finish()?.into_inner().map_err(|e| e.into_error())?;
                Ok((file, written))
            })?;
        Ok(Writer {
            path: path.to_owned(),
            temp,
            pending: BTreeMap::new(),
            queue: Some(queue),
            outgoing: Vec::new(),
            thread: Some(thread),
        })
    }

    /// The catalog this one replaces.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `key` is done, with this entry (or none to keep).
    pub fn record(&mut self, key: &str, entry: Option<Entry>) {
        self.pending.insert(key.to_owned(), entry);
    }

    /// Writes, in order, every pending entry up to and including `done_through`: every key up to
    /// there is done.
    pub fn flush_through(&mut self, done_through: &str) {
        let mut ready = Vec::new();
        while let Some(first) = self.pending.first_entry() {
            if first.key().as_str() > done_through {
                break;
            }
            ready.extend(first.remove());
        }
        self.send(ready);
    }

    /// Writes `entry` now: it comes before every key still to be recorded.
    pub fn write(&mut self, entry: Entry) {
        self.send(vec![entry]);
    }

    /// Queues `entries` for the thread, a batch at a time.
    fn send(&mut self, entries: Vec<Entry>) {
        self.outgoing.extend(entries);
        if self.outgoing.len() >= BATCH {
            self.send_batch();
        }
    }

    fn send_batch(&mut self) {
        let batch = std::mem::take(&mut self.outgoing);
        if let (Some(queue), false) = (&self.queue, batch.is_empty()) {
            // The thread takes every batch until the queue closes.
            let _ = queue.send(batch);
        }
    }

    /// Ends the run's catalog: if `complete`, the rest is written and the file replaces the
    /// old catalog (`Ok(Some(entries))`); otherwise it is removed and the old one stays
    /// (`Ok(None)`).
    pub fn finish(mut self, complete: bool) -> io::Result<Option<u64>> {
        if complete {
            let rest: Vec<Entry> = std::mem::take(&mut self.pending)
                .into_values()
                .flatten()
                .collect();
            self.send(rest);
            self.send_batch();
        }
        let written = self.stop();
        if !complete {
            let _ = std::fs::remove_file(&self.temp);
            return Ok(None);
        }
        let result = written.and_then(|(file, count)| self.commit(file).map(|()| count));
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result.map(Some)
    }

    /// Closes the queue and waits for the thread: the file with every entry, or why not.
    fn stop(&mut self) -> io::Result<(File, u64)> {
        drop(self.queue.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the catalog writer stopped")),
            None => Err(io::Error::other("the catalog was finished already")),
        }
    }

    fn commit(&self, file: File) -> io::Result<()> {
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.path)?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
}

impl Drop for Writer {
    /// A run that ends without finishing (an error) leaves no temporary file behind.
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
