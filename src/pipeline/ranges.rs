//! The listing's pages, fetched several key ranges at a time when the catalog tells how the keys
//! are spread: a listing is sequential within a range (each page's token leads to the next), so
//! one range takes a round trip per page, and a nightly run served from the catalog would wait on
//! nothing but that. The ranges come back in key order, each with its end; memory holds at most
//! [`IN_FLIGHT`] ranges of at most [`MAX_RANGE_PAGES`] pages.

use futures::stream::{self, BoxStream};
use futures::StreamExt;

use super::walk::PAGE_SIZE;
use crate::catalog;
use crate::model::ListingFailure;
use crate::s3::{Connection, Page, Pages};

/// Ranges fetched at once.
pub const IN_FLIGHT: usize = 8;
/// The most pages a range spans (more ranges for a larger bucket, so memory stays flat).
pub const MAX_RANGE_PAGES: usize = 4;
/// About how many ranges a listing is cut into, below that size.
const RANGES: usize = 64;

/// A page of the listing, and the last key its range takes (keys after it belong to the next
/// range, which lists them again).
pub type RangedPage = (Page, Option<String>);

/// The pages of `bucket`/`prefix` after `start_after`: one range without a catalog, else ranges
/// cut at the catalog's keys.
pub fn pages(
    connection: &Connection,
    bucket: &str,
    prefix: &str,
    start_after: Option<String>,
    catalog: Option<&catalog::Reader>,
) -> BoxStream<'static, Result<RangedPage, ListingFailure>> {
    let cuts: Vec<String> = catalog
        .map(|c| c.split(c.pages().div_ceil(RANGES).clamp(1, MAX_RANGE_PAGES)))
        .unwrap_or_default()
        .into_iter()
        .filter(|cut| start_after.as_ref().is_none_or(|after| cut > after))
        .collect();
    let starts: Vec<Option<String>> = std::iter::once(start_after)
        .chain(cuts.iter().cloned().map(Some))
        .collect();
    let ends = cuts.into_iter().map(Some).chain(std::iter::once(None));
    let ranges: Vec<(Pages, Option<String>)> = starts
        .into_iter()
        .zip(ends)
        .map(|(start, end)| (connection.list(bucket, prefix, start, PAGE_SIZE), end))
        .collect();
    if ranges.len() == 1 {
        let (pages, _) = ranges.into_iter().next().expect("one range");
        return stream::unfold(pages, |mut pages| async move {
            let page = pages.next().await?;
            Some((page.map(|p| (p, None)), pages))
        })
        .boxed();
    }
    // The ranges are fetched, and their XML parsed, on a thread of their own: the run's thread
    // is busy with the objects the catalog serves.
    let (tx, rx) = tokio::sync::mpsc::channel(IN_FLIGHT * MAX_RANGE_PAGES);
    let fetching = move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let failure = ListingFailure::Damaged(format!("cannot start listing: {e}"));
                let _ = tx.blocking_send(Err(failure));
                return;
            }
        };
        runtime.block_on(async move {
            let mut pages = stream::iter(ranges)
                .map(|(pages, end)| fetch(pages, end))
                .buffered(IN_FLIGHT)
                .flat_map(|range| match range {
                    Ok(pages) => stream::iter(pages.into_iter().map(Ok)).left_stream(),
                    Err(failure) => stream::iter([Err(failure)]).right_stream(),
                });
            while let Some(page) = pages.next().await {
                // The walker stopped (a failure, or the run was stopped): so does the listing.
                if tx.send(page).await.is_err() {
                    break;
                }
            }
            // The end of the listing, for the walker.
            drop(tx);
            drop(pages);
            // The connections opened here went into the client's pool, which the run's thread
            // draws from too, and each is driven by a task of this runtime: it runs as long as
            // the process does.
            std::future::pending::<()>().await;
        });
    };
    if let Err(e) = std::thread::Builder::new()
        .name("s3mend-list".into())
        .spawn(fetching)
    {
        let failure = ListingFailure::Damaged(format!("cannot start listing: {e}"));
        return stream::iter([Err(failure)]).boxed();
    }
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}

/// Every page of one range: until the listing ends or a page reaches past `end`.
async fn fetch(mut pages: Pages, end: Option<String>) -> Result<Vec<RangedPage>, ListingFailure> {
    let mut fetched = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page?;
        let past_end = match (&end, page.objects.last()) {
            (Some(end), Some(last)) => last_key(&page, &last.key).as_str() >= end.as_str(),
            _ => false,
        };
        fetched.push((page, end.clone()));
        if past_end {
            break;
        }
    }
    Ok(fetched)
}

/// A listed key as the walker will read it (it alone decides for sure; this only tells when a
/// range may stop fetching).
fn last_key(page: &Page, raw: &str) -> String {
    if page.url_encoded && !super::walk::looks_unencoded(raw) {
        super::walk::decode_key(raw)
    } else {
        raw.to_owned()
    }
}
