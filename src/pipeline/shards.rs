//! The listing of one shard (`--shard I/N`) without an inventory: its units (`src/shard.rs`)
//! found with delimiter listings of the first two levels below the prefix, and only its own
//! units listed in full. Every shard makes the same delimiter listings; each key is listed in
//! full by the one shard whose unit holds it. A unit is a key range, and the units come in key
//! order, so the pages reach the walker in key order, as a listing's do (`--state` and
//! `--resume` work as without shards).

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc::Sender;

use super::ranges::RangedPage;
use super::walk::{decode_key, looks_unencoded, PAGE_SIZE};
use crate::model::{ListedObject, ListingFailure};
use crate::s3::{Connection, Page};
use crate::shard::{unit_of, Shard, DEPTH};

/// The pages of `shard`'s part of `bucket`/`prefix`, after `start_after`.
pub fn pages(
    connection: &Connection,
    bucket: &str,
    prefix: &str,
    start_after: Option<String>,
    shard: Shard,
) -> BoxStream<'static, Result<RangedPage, ListingFailure>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let walk = Walk {
        connection: connection.clone(),
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        start_after,
        shard,
        tx,
    };
    tokio::spawn(async move {
        if let Err(Stop::Failed(failure)) = walk.level(walk.prefix.clone(), 1).await {
            let _ = walk.tx.send(Err(failure)).await;
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}

struct Walk {
    connection: Connection,
    bucket: String,
    prefix: String,
    start_after: Option<String>,
    shard: Shard,
    tx: Sender<Result<RangedPage, ListingFailure>>,
}

enum Stop {
    Failed(ListingFailure),
    /// The walker stopped taking pages.
    Closed,
}

/// How much of a unit (every key under a common prefix) a resumed run still has to do.
enum Left {
    All,
    /// The keys after this one.
    After(String),
    Nothing,
}

impl Walk {
    /// One level under `prefix`: its keys this shard owns, and what is under each common
    /// prefix (the next level, or a unit listed in full if this shard owns it).
    fn level(&self, prefix: String, depth: usize) -> BoxFuture<'_, Result<(), Stop>> {
        async move {
            let mut pages = self.connection.list_level(&self.bucket, &prefix, None);
            while let Some(page) = pages.next().await {
                let page = page.map_err(Stop::Failed)?;
                let mut batch = Vec::new();
                for entry in entries(page) {
                    match entry {
                        Entry::Key(listed) => {
                            let after = self.start_after.as_ref().is_none_or(|s| listed.key > *s);
                            if after && self.shard.owns(unit_of(&self.prefix, &listed.key)) {
                                batch.push(listed);
                            }
                        }
                        Entry::Prefix(common) => {
                            let left = self.left(&common);
                            if matches!(left, Left::Nothing) {
                                continue;
                            }
                            self.send(std::mem::take(&mut batch)).await?;
                            if depth < DEPTH {
                                self.level(common, depth + 1).await?;
                            } else if self.shard.owns(unit_of(&self.prefix, &common)) {
                                self.unit(common, left).await?;
                            }
                        }
                    }
                }
                self.send(batch).await?;
            }
            Ok(())
        }
        .boxed()
    }

    /// Every key under `common`, page by page, as listed (the walker decodes them).
    async fn unit(&self, common: String, left: Left) -> Result<(), Stop> {
        let start = match left {
            Left::After(key) => Some(key),
            Left::All | Left::Nothing => None,
        };
        let mut pages = self
            .connection
            .list(&self.bucket, &common, start, PAGE_SIZE);
        while let Some(page) = pages.next().await {
            let page = page.map_err(Stop::Failed)?;
            self.tx
                .send(Ok((page, None)))
                .await
                .map_err(|_| Stop::Closed)?;
        }
        Ok(())
    }

    fn left(&self, common: &str) -> Left {
        match &self.start_after {
            None => Left::All,
            Some(after) if after.starts_with(common) => Left::After(after.clone()),
            // Every key under `common` sorts before `after`.
            Some(after) if after.as_str() > common => Left::Nothing,
            Some(_) => Left::All,
        }
    }

    /// Keys of a delimiter listing, already decoded.
    async fn send(&self, objects: Vec<ListedObject>) -> Result<(), Stop> {
        if objects.is_empty() {
            return Ok(());
        }
        let page = Page {
            objects,
            url_encoded: false,
            prefixes: Vec::new(),
        };
        self.tx
            .send(Ok((page, None)))
            .await
            .map_err(|_| Stop::Closed)
    }
}

enum Entry {
    Key(ListedObject),
    Prefix(String),
}

/// A delimiter listing's keys and common prefixes, decoded, merged in key order (S3 lists each
/// in order; together they are the level's entries in order).
fn entries(page: Page) -> Vec<Entry> {
    let decode = page.url_encoded
        && !page.objects.iter().any(|o| looks_unencoded(&o.key))
        && !page.prefixes.iter().any(|p| looks_unencoded(p));
    let name = |raw: &str| {
        if decode {
            decode_key(raw)
        } else {
            raw.to_owned()
        }
    };
    let mut keys = page
        .objects
        .into_iter()
        .map(|mut o| {
            o.key = name(&o.key);
            o
        })
        .peekable();
    let mut prefixes = page.prefixes.iter().map(|p| name(p)).peekable();
    let mut merged = Vec::new();
    loop {
        let key_first = match (keys.peek(), prefixes.peek()) {
            (Some(key), Some(prefix)) => key.key < *prefix,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        let entry = if key_first {
            keys.next().map(Entry::Key)
        } else {
            prefixes.next().map(Entry::Prefix)
        };
        merged.extend(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(key: &str) -> ListedObject {
        ListedObject {
            key: key.to_owned(),
            size: 1,
            etag: None,
            last_modified: None,
        }
    }

    #[test]
    fn keys_and_common_prefixes_merge_in_key_order_decoded() {
        let page = Page {
            objects: vec![listed("a+b"), listed("a%2F0"), listed("c")],
            url_encoded: true,
            prefixes: vec!["a%2F".into(), "b+x%2F".into()],
        };
        let names: Vec<String> = entries(page)
            .into_iter()
            .map(|e| match e {
                Entry::Key(k) => format!("key {}", k.key),
                Entry::Prefix(p) => format!("prefix {p}"),
            })
            .collect();
        assert_eq!(
            names,
            ["key a b", "prefix a/", "key a/0", "prefix b x/", "key c"]
        );
        // A server that sends raw keys although it says it encoded them: taken as they come.
        let raw = Page {
            objects: vec![listed("a b")],
            url_encoded: true,
            prefixes: vec!["a+b/".into()],
        };
        let names: Vec<String> = entries(raw)
            .into_iter()
            .map(|e| match e {
                Entry::Key(k) => k.key,
                Entry::Prefix(p) => p,
            })
            .collect();
        assert_eq!(names, ["a b", "a+b/"]);
    }
}
