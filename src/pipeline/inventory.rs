//! The walker over an S3 Inventory (`--inventory`, `docs/s3-behaviour.md` §15): the data files
//! this shard reads, one after the other, each fetched with one GetObject whose body is
//! gunzipped and parsed as it arrives, on a blocking thread (the run's thread is busy with the
//! HEADs). Keys outside the scan's prefix, its globs or (when shards split rows) its shard are
//! left out. Memory holds a few chunks of the body and the channel's entries, whatever the
//! inventory's size. A Parquet data file (feature `parquet`) is downloaded to a temporary file
//! first, then read the same way, row by row.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc::{self, Receiver, Sender};
use tokio_util::sync::CancellationToken;

use super::{Inventory, KeyFilter};
use crate::inventory::manifest::DataFileEntry;
use crate::inventory::{DataFile, Format, InventoryObject, Split};
use crate::model::{ListedObject, ListingFailure};
use crate::s3::{Body, Connection};
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
        let body = match connection.object(&inventory.bucket, &file.key).await {
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
        let read = match manifest.format {
            Format::Csv => csv_file(body, &file, &inventory, &keep, &tx, &cancel).await,
            #[cfg(feature = "parquet")]
            Format::Parquet => parquet_file(body, &file, &inventory, &keep, &tx, &cancel).await,
            #[cfg(not(feature = "parquet"))]
            Format::Parquet => unreachable!("a Parquet manifest is refused without the feature"),
        };
        if !read {
            return;
        }
    }
}

/// Streams one gzip CSV data file through the parser as its body arrives; false if the file (or
/// the run) ended early.
async fn csv_file(
    mut body: Body,
    file: &DataFileEntry,
    inventory: &Inventory,
    keep: &Keep,
    tx: &Sender<Result<ListedObject, ListingFailure>>,
    cancel: &CancellationToken,
) -> bool {
    let manifest = &inventory.manifest;
    let (chunks, arriving) = mpsc::channel(CHUNKS);
    let parse = {
        let (columns, bucket) = (manifest.columns.clone(), manifest.source_bucket.clone());
        let (name, keep, tx, cancel) = (file.key.clone(), keep.clone(), tx.clone(), cancel.clone());
        tokio::task::spawn_blocking(move || {
            let body = Chunks {
                arriving,
                chunk: Bytes::new(),
            };
            match DataFile::open(body, columns, &bucket, &name) {
                Ok(mut rows) => parse(|| rows.next_object(), &keep, &tx, &cancel),
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
    matches!(parse.await, Ok(true))
}

/// Downloads one Parquet data file to a temporary file (its index is at its end, so it cannot be
/// read as it arrives), then reads it row by row on a blocking thread; false if the file (or the
/// run) ended early. The temporary file is readable by its owner only and is unlinked as soon as
/// it is open, so nothing is left behind, even if the process is killed.
#[cfg(feature = "parquet")]
async fn parquet_file(
    mut body: Body,
    file: &DataFileEntry,
    inventory: &Inventory,
    keep: &Keep,
    tx: &Sender<Result<ListedObject, ListingFailure>>,
    cancel: &CancellationToken,
) -> bool {
    use tokio::io::AsyncWriteExt;

    let failed = |why: String| async move {
        if !cancel.is_cancelled() {
            let why = format!("inventory data file {}: {why}", file.key);
            let _ = tx.send(Err(ListingFailure::Inventory(why))).await;
        }
        false
    };
    let local = match temporary_file() {
        Ok(local) => local,
        Err(e) => return failed(format!("cannot make a temporary file: {e}")).await,
    };
    let mut writer = match local.try_clone() {
        Ok(clone) => tokio::fs::File::from_std(clone),
        Err(e) => return failed(format!("cannot write a temporary file: {e}")).await,
    };
    let mut read = 0u64;
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => return false,
            chunk = body.next() => chunk,
        };
        match chunk {
            Some(Ok(chunk)) => {
                read += chunk.len() as u64;
                if let Err(e) = writer.write_all(&chunk).await {
                    return failed(format!("cannot write a temporary file: {e}")).await;
                }
            }
            Some(Err(failure)) => return failed(failure.to_string()).await,
            None => break,
        }
    }
    if let Err(e) = writer.flush().await {
        return failed(format!("cannot write a temporary file: {e}")).await;
    }
    if let Some(size) = file.size.filter(|size| *size != read) {
        return failed(format!("it has {read} bytes, the manifest says {size}")).await;
    }
    let (bucket, name) = (inventory.manifest.source_bucket.clone(), file.key.clone());
    let (keep, tx, cancel) = (keep.clone(), tx.clone(), cancel.clone());
    let parse = tokio::task::spawn_blocking(move || {
        match crate::inventory::parquet::ParquetFile::open(local, &bucket, &name) {
            Ok(mut rows) => parse(|| rows.next_object(), &keep, &tx, &cancel),
            Err(why) => fail(&tx, &cancel, why),
        }
    });
    matches!(parse.await, Ok(true))
}

/// A new, empty file in the temporary directory, mode 0600, already unlinked.
#[cfg(feature = "parquet")]
fn temporary_file() -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};

    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "s3mend-inventory-{}-{}.parquet",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// Sends the objects of a file (`next` gives them in turn) that `keep` accepts; false if the
/// file (or the run) ended early.
fn parse(
    mut next: impl FnMut() -> Option<Result<InventoryObject, String>>,
    keep: &Keep,
    tx: &Sender<Result<ListedObject, ListingFailure>>,
    cancel: &CancellationToken,
) -> bool {
    while let Some(object) = next() {
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
