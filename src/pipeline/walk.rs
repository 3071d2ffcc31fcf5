//! The walker: a bucket's listing (its pages in key order, from `ranges.rs`), keys decoded and
//! filtered by include/exclude globs, into a bounded channel so listing runs at most a page (or,
//! by ranges, a few ranges) ahead of inspection.

use globset::{Glob, GlobSet, GlobSetBuilder};
use percent_encoding::percent_decode_str;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use futures::stream::BoxStream;
use futures::StreamExt;

use super::ranges::RangedPage;
use crate::model::{ListedObject, ListingFailure};

/// S3's maximum page size.
pub const PAGE_SIZE: i32 = 1000;

/// `--include` / `--exclude` globs over the whole key. `*` also matches `/`, as in the AWS CLI.
#[derive(Clone, Debug, Default)]
pub struct KeyFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl KeyFilter {
    pub fn new<S: AsRef<str>>(include: &[S], exclude: &[S]) -> Result<Self, String> {
        Ok(KeyFilter {
            include: build_set(include)?,
            exclude: build_set(exclude)?,
        })
    }

    /// A key passes if it matches some include (or none were given) and no exclude.
    pub fn accepts(&self, key: &str) -> bool {
        self.include.as_ref().is_none_or(|set| set.is_match(key))
            && !self.exclude.as_ref().is_some_and(|set| set.is_match(key))
    }
}

fn build_set<S: AsRef<str>>(patterns: &[S]) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let pattern = pattern.as_ref();
        let glob = Glob::new(pattern).map_err(|e| format!("bad glob '{pattern}': {}", e.kind()))?;
        builder.add(glob);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| format!("bad glob: {e}"))
}

/// Sends every object of `pages` that passes `filter` into `tx`, keys decoded, until the listing
/// ends, fails (the failure is sent as the last item) or `cancel` fires. Keys must come in
/// strictly ascending order, as S3 lists them: a key that does not (a duplicate, or a listing
/// that went back) ends the listing as damaged.
pub async fn list(
    mut pages: BoxStream<'static, Result<RangedPage, ListingFailure>>,
    start_after: Option<String>,
    filter: KeyFilter,
    tx: Sender<Result<ListedObject, ListingFailure>>,
    cancel: CancellationToken,
) {
    let mut order = KeyOrder::after(start_after);
    let mut raw_keys = false;
    loop {
        let page = tokio::select! {
            _ = cancel.cancelled() => return,
            page = pages.next() => page,
        };
        let (page, end) = match page {
            None => return,
            Some(Ok(page)) => page,
            Some(Err(failure)) => {
                let _ = tx.send(Err(failure)).await;
                return;
            }
        };
        // Some servers (s3s-fs) echo `EncodingType=url` but send raw keys: one key that gives
        // that away makes the rest of the run take keys as they come.
        if !raw_keys && page.url_encoded && page.objects.iter().any(|o| looks_unencoded(&o.key)) {
            tracing::info!("the server does not URL-encode listed keys although it says so");
            raw_keys = true;
        }
        let encoded = page.url_encoded && !raw_keys;
        for mut listed in page.objects {
            if encoded {
                listed.key = decode_key(&listed.key);
            }
            // Past its range's end: the next range lists it.
            if end
                .as_ref()
                .is_some_and(|end| listed.key.as_str() > end.as_str())
            {
                continue;
            }
            if let Err(why) = order.next(&listed.key) {
                let _ = tx.send(Err(ListingFailure::Damaged(why))).await;
                return;
            }
            if !filter.accepts(&listed.key) {
                continue;
            }
            // A closed channel means the consumer stopped (cancelled): stop listing.
            if tx.send(Ok(listed)).await.is_err() {
                return;
            }
        }
    }
}

/// The last key listed: every next one must sort after it (S3 lists in ascending UTF-8 byte
/// order).
#[derive(Debug, Default)]
pub struct KeyOrder {
    last: Option<String>,
}

impl KeyOrder {
    /// Starts after `start_after` (a resumed run's StartAfter).
    pub fn after(start_after: Option<String>) -> Self {
        KeyOrder { last: start_after }
    }

    /// Takes the next listed key, or says why the listing cannot be true.
    pub fn next(&mut self, key: &str) -> Result<(), String> {
        match self.last.as_deref() {
            Some(last) if key == last => return Err(format!("lists {key:?} twice")),
            Some(last) if key < last => return Err(format!("went back from {last:?} to {key:?}")),
            _ => {}
        }
        self.last = Some(key.to_owned());
        Ok(())
    }
}

/// Decodes a key from an `encoding-type=url` listing. S3 encodes like an HTML form (a space is
/// `+`, a literal `+` is `%2B`), as botocore's `unquote_plus` expects.
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// True for a listed key that cannot be URL-encoded: it has a character any encoder escapes (a
/// space, a control or non-ASCII character, a quote or bracket), a `%` that starts no escape, or
/// escapes that decode to no UTF-8 text (S3 keys are UTF-8). A key with only `+` is ambiguous and
/// taken as encoded, as S3 encodes a space as `+`.
pub fn looks_unencoded(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    percent_decode_str(raw).decode_utf8().is_err()
        || bytes.iter().enumerate().any(|(i, &b)| match b {
            b'%' => {
                !(bytes.len() > i + 2
                    && bytes[i + 1].is_ascii_hexdigit()
                    && bytes[i + 2].is_ascii_hexdigit())
            }
            b' ' | b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' => true,
            _ => !b.is_ascii() || b.is_ascii_control(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_strictly_increase() {
        let mut order = KeyOrder::after(Some("b".into()));
        assert!(order
            .next("a")
            .unwrap_err()
            .contains("went back from \"b\" to \"a\""));
        let mut order = KeyOrder::after(None);
        for key in ["a", "a/b", "b", "é"] {
            order.next(key).unwrap();
        }
        assert!(order.next("é").unwrap_err().contains("lists \"é\" twice"));
        assert!(order.next("c").is_err());
    }

    #[test]
    fn raw_keys_give_themselves_away() {
        let raw = [
            "with space.html",
            "per%cent.html",
            "100%",
            "100%2",
            "quote\"double",
            "ünïcødé/ページ.html",
            "control\u{1}char",
        ];
        for key in raw {
            assert!(looks_unencoded(key), "{key:?}");
        }
        let encoded = [
            "plain/key.html",
            "with+space.html",
            "per%25cent.html",
            "%C3%BCn%C3%AF.html",
            "control%01char",
            "a%2Bb",
        ];
        for key in encoded {
            assert!(!looks_unencoded(key), "{key:?}");
        }
    }

    #[test]
    fn url_encoded_keys_decode_like_a_form() {
        let cases = [
            ("plain/key.html", "plain/key.html"),
            ("a+b", "a b"),
            ("a%2Bb", "a+b"),
            ("100%25", "100%"),
            ("q%3Fx%23y", "q?x#y"),
            ("caf%C3%A9", "café"),
            ("tab%09key", "tab\tkey"),
        ];
        for (raw, key) in cases {
            assert_eq!(decode_key(raw), key, "{raw}");
        }
    }

    #[test]
    fn filter_includes_and_excludes_whole_keys() {
        let none: [&str; 0] = [];
        let all = KeyFilter::new(&none, &none).unwrap();
        assert!(all.accepts("anything/at/all"));

        let html = KeyFilter::new(&["*.html"], &none).unwrap();
        assert!(html.accepts("index.html"));
        assert!(
            html.accepts("deep/dir/page.html"),
            "* crosses '/' as in the AWS CLI"
        );
        assert!(!html.accepts("style.css"));

        let some = KeyFilter::new(&["*.html", "*.css"], &["drafts/*", "*/old.*"]).unwrap();
        assert!(some.accepts("site.css"));
        assert!(!some.accepts("drafts/page.html"));
        assert!(!some.accepts("a/old.html"));
        assert!(!some.accepts("app.js"));

        let only_exclude = KeyFilter::new(&none, &["*.png"]).unwrap();
        assert!(only_exclude.accepts("a.html"));
        assert!(!only_exclude.accepts("img/a.png"));
    }

    #[test]
    fn bad_globs_name_the_pattern() {
        let none: [&str; 0] = [];
        let err = KeyFilter::new(&["a[b"], &none).unwrap_err();
        assert!(err.contains("bad glob 'a[b'"), "{err}");
    }
}
