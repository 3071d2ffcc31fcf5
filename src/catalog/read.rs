//! Reading a catalog alongside the listing: checked whole first, then read forward by a thread of
//! its own (decompressing and parsing off the run's thread), never more than a bounded queue of
//! entries in memory.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use flate2::read::GzDecoder;
use serde::Deserialize;

use super::{Entry, Header, Scope, FORMAT, VERSION};
use crate::model::ListedObject;

/// Batches of entries parsed ahead of the listing, and their size: a batch at a time keeps the
/// threads from waking each other for every entry.
const AHEAD: usize = 8;
const BATCH: usize = 512;

/// The previous run's catalog, read forward as the listing advances.
pub struct Reader {
    path: PathBuf,
    entries: Receiver<Vec<Result<Entry, String>>>,
    /// The rest of the batch being read, reversed (the next entry last).
    batch: Vec<Result<Entry, String>>,
    /// The next entry not yet passed by the listing.
    next: Option<Entry>,
    /// Every [`PAGE`]th key, for splitting the listing into ranges.
    every_page: Vec<String>,
}

/// Keys a listing page holds.
const PAGE: u64 = 1000;

/// Just the key of an entry line, for the check of the whole file.
#[derive(Deserialize)]
struct KeyOnly<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
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
        let Some(mut lines) = start(path).map_err(&bad)? else {
            return Ok(None);
        };
        match header(&mut lines) {
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
        let every_page = check(&mut lines).map_err(&bad)?;
        let mut lines = start(path)
            .map_err(&bad)?
            .ok_or_else(|| bad("vanished while being read".to_owned()))?;
        header(&mut lines).map_err(&bad)?;
        let (tx, entries) = sync_channel(AHEAD);
        std::thread::Builder::new()
            .name("s3mend-catalog-read".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(BATCH);
                // Line 1 is the header.
                for (line_number, line) in (2..).zip(lines) {
                    let entry = line
                        .map_err(|e| format!("is damaged after line {}: {e}", line_number - 1))
                        .and_then(|line| parse(&line, line_number));
                    let failed = entry.is_err();
                    batch.push(entry);
                    if failed || batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if tx.send(full).is_err() || failed {
                            return;
                        }
                    }
                }
                let _ = tx.send(batch);
            })
            .map_err(|e| bad(format!("cannot be read: {e}")))?;
        let mut reader = Reader {
            path: path.to_owned(),
            entries,
            batch: Vec::new(),
            next: None,
            every_page,
        };
        reader.advance();
        Ok(Some(reader))
    }

    /// Takes the next entry from the reading thread. The file was checked whole when opened, so
    /// a read failing now (the disk) ends the catalog's use with a warning: every later object
    /// is HEADed.
    fn advance(&mut self) {
        if self.batch.is_empty() {
            if let Ok(mut batch) = self.entries.recv() {
                batch.reverse();
                self.batch = batch;
            }
        }
        self.next = match self.batch.pop() {
            None => None,
            Some(Ok(entry)) => Some(entry),
            Some(Err(e)) => {
                tracing::warn!(catalog = %self.path.display(), "the catalog {e}: the rest of the run HEADs every object");
                None
            }
        };
    }

    /// The entry for `listed` if the catalog has one and the listing shows the object unchanged.
    /// Called in listing order: entries for keys before it (deleted since, or filtered out) are
    /// passed over.
    pub fn unchanged(&mut self, listed: &ListedObject) -> Option<Entry> {
        loop {
            let entry = self.next.as_ref()?;
            if entry.key.as_str() > listed.key.as_str() {
                return None;
            }
            let found = (entry.key == listed.key)
                .then(|| self.next.take())
                .flatten();
            self.advance();
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
            self.advance();
        }
    }

    /// Keys that cut the catalog's key space into ranges of `pages` listing pages each (the
    /// last one open-ended): the listing can fetch several ranges at once.
    pub fn split(&self, pages: usize) -> Vec<String> {
        self.every_page
            .iter()
            .skip(pages.max(1) - 1)
            .step_by(pages.max(1))
            .cloned()
            .collect()
    }

    /// Listing pages the catalog's keys fill.
    pub fn pages(&self) -> usize {
        self.every_page.len() + 1
    }
}

fn start(path: &Path) -> Result<Option<std::io::Lines<BufReader<GzDecoder<File>>>>, String> {
    match File::open(path) {
        Ok(file) => Ok(Some(BufReader::new(GzDecoder::new(file)).lines())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot be read: {e}")),
    }
}

fn header(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Result<Header, String> {
    match lines.next() {
        None => Err("is empty".to_owned()),
        Some(Err(e)) => Err(format!("is damaged: {e}")),
        Some(Ok(line)) => {
            serde_json::from_str(&line).map_err(|e| format!("line 1 is not a catalog header: {e}"))
        }
    }
}

/// Checks every line after the header (each an entry, keys strictly ascending, the gzip stream
/// whole); returns every [`PAGE`]th key.
fn check(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Result<Vec<String>, String> {
    let mut previous: Option<String> = None;
    let mut every_page = Vec::new();
    let mut count = 0u64;
    for (index, line) in lines.enumerate() {
        let number = index + 2;
        let line = line.map_err(|e| format!("is damaged after line {}: {e}", number - 1))?;
        let key = serde_json::from_str::<KeyOnly>(&line)
            .map_err(|e| format!("line {number} is not a catalog entry: {e}"))?
            .key;
        if previous.as_deref().is_some_and(|p| p >= key.as_ref()) {
            return Err(format!("line {number} is out of key order ({key:?})"));
        }
        count += 1;
        if count.is_multiple_of(PAGE) {
            every_page.push(key.to_string());
        }
        previous = Some(key.into_owned());
    }
    Ok(every_page)
}

fn parse(line: &str, number: usize) -> Result<Entry, String> {
    serde_json::from_str(line).map_err(|e| format!("line {number} is not a catalog entry: {e}"))
}
