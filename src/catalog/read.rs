//! Reading a catalog alongside the listing: one pass, in key order, never more than one entry in
//! memory.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::{Entry, Header, Scope, FORMAT, VERSION};
use crate::model::ListedObject;

/// The previous run's catalog, read forward as the listing advances.
pub struct Reader {
    path: PathBuf,
    lines: std::io::Lines<BufReader<GzDecoder<File>>>,
    /// The next entry not yet passed by the listing.
    next: Option<Entry>,
    line: u64,
}

impl Reader {
    /// Opens the catalog at `path` for `scope`, checked whole first: `Ok(None)` if there is none
    /// yet; an error (one line) if it is for another scope, not a catalog, damaged (its gzip
    /// checksum, a line that does not parse) or out of key order. Never silently ignored: a run
    /// that wants to start over says `--catalog-reset`.
    pub fn open(path: &Path, scope: &Scope) -> anyhow::Result<Option<Reader>> {
        let bad = |what: String| {
            anyhow::anyhow!(
                "catalog {} {what} (--catalog-reset starts a new one)",
                path.display()
            )
        };
        let mut reader = match Reader::start(path) {
            Ok(Some(reader)) => reader,
            Ok(None) => return Ok(None),
            Err(e) => return Err(bad(e)),
        };
        match reader.header() {
            Ok(header) if header.format == FORMAT && header.version == VERSION => {
                if let Some(why) = header.mismatch(scope) {
                    return Err(bad(format!("cannot be used: {why}")));
                }
            }
            Ok(header) => {
                return Err(bad(format!(
                    "is {} version {}, not an s3mend catalog this s3mend reads",
                    header.format, header.version
                )))
            }
            Err(e) => return Err(bad(e)),
        }
        // The whole file, once, before the run relies on it: a damaged catalog is an error
        // before the first request, not halfway through.
        let mut previous: Option<String> = None;
        while let Some(entry) = reader.read_entry().map_err(&bad)? {
            if previous.as_deref().is_some_and(|p| p >= entry.key.as_str()) {
                return Err(bad(format!(
                    "line {} is out of key order ({:?})",
                    reader.line, entry.key
                )));
            }
            previous = Some(entry.key);
        }
        let mut reader = Reader::start(path)
            .map_err(&bad)?
            .ok_or_else(|| bad("vanished while being read".to_owned()))?;
        reader.header().map_err(&bad)?;
        reader.next = reader.read_entry().map_err(&bad)?;
        Ok(Some(reader))
    }

    fn start(path: &Path) -> Result<Option<Reader>, String> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot be read: {e}")),
        };
        Ok(Some(Reader {
            path: path.to_owned(),
            lines: BufReader::new(GzDecoder::new(file)).lines(),
            next: None,
            line: 0,
        }))
    }

    fn header(&mut self) -> Result<Header, String> {
        let Some(line) = self.next_line()? else {
            return Err("is empty".to_owned());
        };
        serde_json::from_str(&line).map_err(|e| format!("line 1 is not a catalog header: {e}"))
    }

    fn next_line(&mut self) -> Result<Option<String>, String> {
        match self.lines.next() {
            None => Ok(None),
            Some(Ok(line)) => {
                self.line += 1;
                Ok(Some(line))
            }
            Some(Err(e)) => Err(format!("is damaged after line {}: {e}", self.line)),
        }
    }

    fn read_entry(&mut self) -> Result<Option<Entry>, String> {
        let Some(line) = self.next_line()? else {
            return Ok(None);
        };
        let entry: Entry = serde_json::from_str(&line)
            .map_err(|e| format!("line {} is not a catalog entry: {e}", self.line))?;
        entry
            .head()
            .map_err(|e| format!("line {} has a bad snapshot: {e}", self.line))?;
        Ok(Some(entry))
    }

    /// The entry for `listed` if the catalog has one and the listing shows the object unchanged.
    /// Called in listing order: entries for keys before it (deleted since, or filtered out) are
    /// passed over. The file was checked whole when opened, so a read failing now (the disk) ends
    /// the catalog's use with a warning: every later object is HEADed.
    pub fn unchanged(&mut self, listed: &ListedObject) -> Option<Entry> {
        loop {
            let entry = self.next.as_ref()?;
            if entry.key.as_str() > listed.key.as_str() {
                return None;
            }
            let found = (entry.key == listed.key)
                .then(|| self.next.take())
                .flatten();
            self.next = match self.read_entry() {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(catalog = %self.path.display(), "the catalog {e}: the rest of the run HEADs every object");
                    None
                }
            };
            if let Some(entry) = found {
                return entry.unchanged(listed).then_some(entry);
            }
        }
    }

    /// Hands the entries up to and including `key` to `keep`, in order, for a resumed run whose
    /// listing starts after `key`: they go into the new catalog as they are.
    pub fn through(&mut self, key: &str, mut keep: impl FnMut(Entry)) {
        while self.next.as_ref().is_some_and(|e| e.key.as_str() <= key) {
            keep(self.next.take().expect("checked just now"));
            self.next = self.read_entry().unwrap_or_default();
        }
    }
}
