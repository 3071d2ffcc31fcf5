//! Writing the next catalog as the run goes: entries arrive in completion order and are written
//! in key order once every key before them is done (the run's watermark says when), so memory
//! holds only the objects in flight. The file replaces the old catalog only at the end of a
//! complete run: temp file, fsync, rename, fsync of the directory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::{Entry, Header, Scope};

/// The catalog being written.
pub struct Writer {
    path: PathBuf,
    temp: PathBuf,
    out: Option<GzEncoder<BufWriter<File>>>,
    /// Keys done out of order, with their entry (`None`: nothing to keep, e.g. a failed HEAD).
    pending: BTreeMap<String, Option<Entry>>,
    /// The first write that failed: the catalog is then not replaced.
    failed: Option<io::Error>,
    written: u64,
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
        Ok(Writer {
            path: path.to_owned(),
            temp,
            out: Some(out),
            pending: BTreeMap::new(),
            failed: None,
            written: 0,
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
        while let Some(first) = self.pending.first_entry() {
            if first.key().as_str() > done_through {
                break;
            }
            if let Some(entry) = first.remove() {
                self.write(&entry);
            }
        }
    }

    /// Writes `entry` now: it comes before every key still to be recorded.
    pub fn write(&mut self, entry: &Entry) {
        if self.failed.is_some() {
            return;
        }
        let Some(out) = &mut self.out else { return };
        let line = serde_json::to_string(entry).map_err(io::Error::other);
        if let Err(e) = line.and_then(|line| writeln!(out, "{line}")) {
            self.failed = Some(e);
        } else {
            self.written += 1;
        }
    }

    /// Ends the run's catalog: if `complete`, the rest is written and the file replaces the
    /// old catalog (`Ok(Some(entries))`); otherwise it is removed and the old one stays
    /// (`Ok(None)`).
    pub fn finish(mut self, complete: bool) -> io::Result<Option<u64>> {
        if !complete {
            drop(self.out.take());
            let _ = std::fs::remove_file(&self.temp);
            return Ok(None);
        }
        let rest: Vec<Entry> = std::mem::take(&mut self.pending)
            .into_values()
            .flatten()
            .collect();
        for entry in &rest {
            self.write(entry);
        }
        let result = self.commit();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result.map(|()| Some(self.written))
    }

    fn commit(&mut self) -> io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let out = self.out.take().expect("finished once");
        let file = out.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
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
        if self.out.is_some() {
            drop(self.out.take());
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
