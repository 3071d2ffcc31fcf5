//! The pipeline: walk → inspect → detect (a scan), then → repair (a fix), with bounded
//! concurrency and cancellation.
//!
//! The walker lists keys (all of them, one shard's part with `--shard`, or an inventory's rows
//! with `--inventory`) into a small bounded channel (one page of prefetch), the inspect stage
//! HEADs up to `concurrency` objects at once and runs the rules on each snapshot. Data flows one
//! way; one object's failure is an item in the stream, never the end of the run. Cancelling stops
//! listing and taking new keys, while HEADs already in flight finish.

mod detect;
mod inspect;
mod inventory;
mod ranges;
mod repair;
mod shards;
mod walk;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

pub use detect::{detect, Source};
pub use repair::repair;
pub use walk::KeyFilter;

use crate::catalog;
use crate::inventory::Manifest;
use crate::model::ListingFailure;
use crate::outcome::{Inspected, Unread};
use crate::rules::RuleSet;
use crate::s3::{Connection, Store};
use crate::shard::Shard;
use crate::state::Watermark;

/// What a scan needs to know, already validated.
#[derive(Clone, Debug)]
pub struct ScanJob {
    pub bucket: String,
    pub prefix: String,
    pub filter: KeyFilter,
    pub rules: RuleSet,
    pub concurrency: usize,
    /// A resumed run lists only keys after this one.
    pub start_after: Option<String>,
    /// `--shard I/N`: only this part of the keys.
    pub shard: Option<Shard>,
    /// `--inventory`: the objects come from this inventory instead of a listing.
    pub inventory: Option<Arc<Inventory>>,
}

/// An inventory to read: its checked manifest, and the bucket its data files are in (the
/// manifest's own).
#[derive(Clone, Debug)]
pub struct Inventory {
    pub manifest: Manifest,
    pub bucket: String,
}

/// Live counts, shared with whoever shows progress, and the run's watermark.
#[derive(Debug, Default)]
pub struct Counters {
    pub listed: AtomicU64,
    pub inspected: AtomicU64,
    pub with_findings: AtomicU64,
    pub errors: AtomicU64,
    /// Served from the catalog, without a HEAD.
    pub from_catalog: AtomicU64,
    /// A fix: objects to repair once the question is answered (0 while they are still being
    /// found, as with `--yes`), and objects whose repair has ended (fixed, skipped, conflict or
    /// failed).
    pub to_repair: AtomicU64,
    pub repaired: AtomicU64,
    /// Keys in listing order; the run marks each done once its result is recorded.
    pub watermark: Mutex<Watermark>,
}

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// `scan`, which once it has ended sets `to_repair` to the objects it found with findings: a
/// fix with `--yes` repairs them as they are found, and its progress bar has a total only then.
pub fn counting_to_repair<'a>(
    scan: impl Stream<Item = ScanItem> + Send + 'a,
    counters: Arc<Counters>,
) -> impl Stream<Item = ScanItem> + Send + 'a {
    let ended = futures::stream::once(async move {
        let found = Counters::get(&counters.with_findings);
        counters.to_repair.store(found, Ordering::Relaxed);
        None
    });
    scan.map(Some).chain(ended).filter_map(std::future::ready)
}

/// An item of the scan stream: an inspected object, or the listing failing (which ends the stream).
pub type ScanItem = Result<Inspected, ListingFailed>;

/// Listing the bucket failed: nothing after this point can be known.
#[derive(Debug, Clone)]
pub struct ListingFailed(pub ListingFailure);

/// Streams every listed object of the job through HEAD and the rules. Results arrive in completion
/// order. Ends when the listing ends, fails, or `cancel` fires. With a `catalog`, objects the
/// listing shows unchanged are not HEADed: their rules run on the catalog's snapshot.
pub fn scan(
    connection: &Connection,
    job: ScanJob,
    counters: Arc<Counters>,
    cancel: CancellationToken,
    mut catalog: Option<catalog::Reader>,
) -> impl Stream<Item = ScanItem> {
    // One page of prefetch: enough to keep HEADs busy while the next page is fetched, small
    // enough that memory does not depend on the bucket.
    *counters.watermark.lock() = Watermark::after(job.start_after.clone());
    let (tx, rx) = tokio::sync::mpsc::channel(walk::PAGE_SIZE as usize);
    if let Some(inventory) = &job.inventory {
        tokio::spawn(inventory::list(
            connection.clone(),
            inventory.clone(),
            job.shard,
            job.prefix.clone(),
            job.filter.clone(),
            tx,
            cancel.clone(),
        ));
    } else {
        let pages = match job.shard {
            Some(shard) => shards::pages(
                connection,
                &job.bucket,
                &job.prefix,
                job.start_after.clone(),
                shard,
            ),
            None => ranges::pages(
                connection,
                &job.bucket,
                &job.prefix,
                job.start_after.clone(),
                catalog.as_ref(),
            ),
        };
        tokio::spawn(walk::list(
            pages,
            job.start_after.clone(),
            job.filter.clone(),
            tx,
            cancel.clone(),
        ));
    }
    let heads = connection.heads.clone();
    let store = Arc::new(connection.store(&job.bucket));
    let rules = Arc::new(job.rules);
    ReceiverStream::new(rx)
        .take_until(cancel.cancelled_owned())
        .map(move |listed| {
            // Called in listing order, before the HEAD: the watermark and the catalog see keys
            // sorted.
            let mut cached = None;
            if let Ok(listed) = &listed {
                counters.watermark.lock().listed(&listed.key);
                cached = catalog.as_mut().and_then(|c| c.unchanged(listed));
            }
            let heads = heads.clone();
            let store = store.clone();
            let rules = rules.clone();
            let counters = counters.clone();
            async move {
                let listed = listed.map_err(ListingFailed)?;
                counters.listed.fetch_add(1, Ordering::Relaxed);
                let (result, source) = match cached {
                    Some(entry) => {
                        counters.from_catalog.fetch_add(1, Ordering::Relaxed);
                        let body_start = entry.body_start();
                        ((listed, Ok(entry.head)), Source::Catalog { body_start })
                    }
                    None => (
                        inspect::head(&heads, store.bucket(), listed).await,
                        Source::Head,
                    ),
                };
                let inspected = detect::detect(result, source, &rules, &*store).await;
                match inspected.unread() {
                    Some(Unread::Failed) => counters.errors.fetch_add(1, Ordering::Relaxed),
                    // Gone, or unreadable without a customer key: done with, not an error.
                    Some(_) => counters.inspected.fetch_add(1, Ordering::Relaxed),
                    None if inspected.findings.is_empty() => {
                        counters.inspected.fetch_add(1, Ordering::Relaxed)
                    }
                    None => {
                        counters.with_findings.fetch_add(1, Ordering::Relaxed);
                        counters.inspected.fetch_add(1, Ordering::Relaxed)
                    }
                };
                Ok(inspected)
            }
        })
        .buffer_unordered(job.concurrency)
}
