//! The walker over an S3 Inventory (`--inventory`, `docs/s3-behaviour.md` §15): the data files
//! this shard reads, one after the other, each fetched with one GetObject whose body is
//! gunzipped and parsed as it arrives, on a blocking thread (the run's thread is busy with the
//! HEADs). Keys outside the scan's prefix, its globs or (when shards split rows) its shard are
//! left out. Memory holds a few chunks of the body and the channel's entries, whatever the
//! inventory's size.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc::{self, Receiver, Sender};
use tokio_util::sync::CancellationToken;

use super::{Inventory, KeyFilter};
use crate::inventory::{DataFile, Split};
use crate::model::{ListedObject, ListingFailure};
use crate::s3::Connection;
use crate::shard::Shard;

/// Chunks of a body in flight between the download and the parser.
const CHUNKS: usize = 16;

/// What each data file is filtered by.
#[derive(Clone)]
struct Keep {
    prefix: String,
    filter: KeyFilter,
    /// When shards split rows rather than files: this shard's.
    rows_of: Option<Shard>,
}

impl Keep {
    fn accepts(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
            && self.filter.accepts(key)
            && self.rows_of.is_none_or(|shard| shard.owns(key))
    }
}

/// Sends every object of the inventory that this run takes into `tx`, until the last data file
/// ends, one fails (the failure is the last item) or `cancel` fires.
pub async fn list(
    connection: Connection,
    inventory: Arc<Inventory>,
    shard: Option<Shard>,
    prefix: String,
    filter: KeyFilter,
    tx: Sender<Result<ListedObject, ListingFailure>>,
    cancel: CancellationToken,
) {
    let manifest = &inventory.manifest;
    let keep = Keep {
        prefix,
        filter,
        rows_of: (manifest.split(shard) == Split::Rows)
            .then_some(shard)
            .flatten(),
    };
    for file in manifest.files_for(shard) {
        if cancel.is_cancelled() {
            return;
        }
        let mut body = match connection.object(&inventory.bucket, &file.key).await {
            Ok(body) => body,
            Err(failure) => {
                let why = format!(
                    "inventory data file s3://{}/{}: {failure}",
                    inventory.bucket, file.key
                );
                let _ = tx.send(Err(ListingFailure::Inventory(why))).await;
                return;
            }
        };
        let (chunks, arriving) = mpsc::channel(CHUNKS);
        let parse = {
            let (columns, bucket) = (manifest.columns.clone(), manifest.source_bucket.clone());
            let (name, keep, tx, cancel) =
                (file.key.clone(), keep.clone(), tx.clone(), cancel.clone());
            tokio::task::spawn_blocking(move || {
                let body = Chunks {
                    arriving,
                    chunk: Bytes::new(),
                };
                match DataFile::open(body, columns, &bucket, &name) {
                    Ok(rows) => parse(rows, &keep, &tx, &cancel),
                    Err(why) => fail(&tx, &cancel, why),
                }
            })
        };
        let mut read = 0u64;
        loop {
            let chunk = tokio::select! {
                _ = cancel.cancelled() => break,
                chunk = body.next() => chunk,
            };
            let chunk = match chunk {
                Some(Ok(chunk)) => {
                    read += chunk.len() as u64;
                    Ok(chunk)
                }
                Some(Err(failure)) => Err(failure.to_string()),
                None => match file.size {
                    Some(size) if size != read => {
                        Err(format!("it has {read} bytes, the manifest says {size}"))
                    }
                    _ => break,
                },
            };
            let failed = chunk.is_err();
            // The parser stopped (a damaged file, or the run was stopped).
            if chunks.send(chunk).await.is_err() || failed {
                break;
            }
        }
        drop(chunks);
        if !matches!(parse.await, Ok(true)) {
            return;
        }
    }
}

/// Sends the file's objects that `keep` accepts; false if the file (or the run) ended early.
fn parse(
    mut rows: DataFile<Chunks>,
    keep: &Keep,
    tx: &Sender<Result<ListedObject, ListingFailure>>,
    cancel: &CancellationToken,
) -> bool {
    while let Some(object) = rows.next_object() {
        match object {
            Ok(object) if keep.accepts(&object.key) => {
                // A closed channel means the run stopped taking objects.
                if tx.blocking_send(Ok(object.listed())).is_err() {
                    return false;
                }
            }
            Ok(_) => {}
            Err(why) => return fail(tx, cancel, why),
        }
    }
    true
}

/// Ends the listing with `why`, unless the run was stopped (then the file was cut on purpose).
fn fail(
    tx: &Sender<Result<ListedObject, ListingFailure>>,
    cancel: &CancellationToken,
    why: String,
) -> bool {
    if !cancel.is_cancelled() {
        let _ = tx.blocking_send(Err(ListingFailure::Inventory(why)));
    }
    false
}

/// A body's chunks as they arrive, read as one stream of bytes.
struct Chunks {
    arriving: Receiver<Result<Bytes, String>>,
    chunk: Bytes,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.arriving.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(why)) => return Err(io::Error::other(why)),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
