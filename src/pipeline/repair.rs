//! The repair stage: each inspected object through the repairer (`crate::repair`), up to
//! `concurrency` at a time, results in completion order; a listing failure passes through.

use std::sync::Arc;

use futures::{Stream, StreamExt};

use super::{ListingFailed, ScanItem};
use crate::outcome::Repaired;
use crate::repair::Repairer;
use crate::s3::Store;

pub fn repair<'a, S: Store + 'a>(
    source: impl Stream<Item = ScanItem> + 'a,
    repairer: Arc<Repairer<S>>,
    concurrency: usize,
) -> impl Stream<Item = Result<Repaired, ListingFailed>> + 'a {
    source
        .map(move |item| {
            let repairer = repairer.clone();
            async move {
                match item {
                    Ok(inspected) => Ok(repairer.repair(inspected).await),
                    Err(failed) => Err(failed),
                }
            }
        })
        .buffer_unordered(concurrency)
}
