//! ListObjectsV2, page by page, into the model's [`ListedObject`]s, with every page checked
//! before it is believed: a listing that is reported complete must be complete.
//!
//! S3 lists keys in order, and a page that is not the last carries a new continuation token
//! (`docs/s3-behaviour.md` §12). A page whose XML is cut off, that says it is truncated but gives
//! no token, that hands back the token it was asked with (or one seen before without a key in
//! between: a cycle), or whose KeyCount disagrees with its keys ends the listing as damaged,
//! never as finished. The walker (`pipeline::walk`) checks the keys' order.

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_s3::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::types::EncodingType;
use aws_sdk_s3::Client;
use parking_lot::Mutex;

use crate::model::{ListedObject, ListingFailure, S3Failure};

/// One page as the server sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Keys exactly as listed: URL-encoded if `url_encoded` (when the server honours it).
    pub objects: Vec<ListedObject>,
    /// The server says it URL-encoded the keys (`EncodingType=url` in the answer), and the
    /// common prefixes.
    pub url_encoded: bool,
    /// With a delimiter: the common prefixes, as listed (URL-encoded if `url_encoded`).
    pub prefixes: Vec<String>,
}

/// Where the listing goes next.
#[derive(Debug)]
enum Next {
    First(Option<String>),
    After(String),
    Done,
}

/// The pages of one listing, fetched one at a time as they are asked for.
pub struct Pages {
    client: Client,
    bucket: String,
    prefix: String,
    /// `/` for a listing of one level (keys and common prefixes).
    delimiter: Option<String>,
    page_size: i32,
    next: Next,
    /// Pages fetched so far, for messages.
    fetched: u64,
    /// Tokens handed out since the last page with a key: a cycle of empty pages repeats one.
    /// (A cycle through pages with keys repeats keys, which the walker refuses.)
    tokens: HashSet<String>,
}

impl Pages {
    /// Lists `bucket` under `prefix`, after `start_after`, `page_size` keys a page, asking for
    /// `encoding-type=url`: it lets S3 return keys that XML 1.0 cannot carry (control
    /// characters).
    pub fn new(
        client: &Client,
        bucket: &str,
        prefix: &str,
        start_after: Option<String>,
        page_size: i32,
    ) -> Pages {
        Pages {
            client: client.clone(),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            delimiter: None,
            page_size,
            next: Next::First(start_after),
            fetched: 0,
            tokens: HashSet::new(),
        }
    }

    /// Lists one level: keys up to the next `delimiter` come back as common prefixes.
    pub fn delimited(mut self, delimiter: &str) -> Pages {
        self.delimiter = Some(delimiter.to_owned());
        self
    }

    /// The next page, `None` at the end; a failure ends the listing.
    pub async fn next(&mut self) -> Option<Result<Page, ListingFailure>> {
        let (start_after, token) = match std::mem::replace(&mut self.next, Next::Done) {
            Next::Done => return None,
            Next::First(start_after) => (start_after, None),
            Next::After(token) => (None, Some(token)),
        };
        self.fetched += 1;
        let whole = Arc::new(Mutex::new(None));
        let answer = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .set_delimiter(self.delimiter.clone())
            .set_start_after(start_after)
            .set_continuation_token(token.clone())
            .encoding_type(EncodingType::Url)
            .max_keys(self.page_size)
            .customize()
            .interceptor(WholeBody(whole.clone()))
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(err) => return Some(Err(ListingFailure::Request(S3Failure::from_sdk(&err)))),
        };
        let page = self.fetched;
        let damaged =
            |why: String| Some(Err(ListingFailure::Damaged(format!("page {page} {why}"))));
        if *whole.lock() == Some(false) {
            return damaged("was cut off: its XML does not end".into());
        }
        let objects: Vec<ListedObject> = out
            .contents()
            .iter()
            .filter_map(|object| {
                Some(ListedObject {
                    key: object.key()?.to_owned(),
                    size: object.size().unwrap_or(0),
                    etag: object.e_tag().map(str::to_owned),
                    last_modified: object.last_modified().map(|d| d.to_string()),
                })
            })
            .collect();
        let prefixes: Vec<String> = out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix().map(str::to_owned))
            .collect();
        // KeyCount counts the common prefixes too.
        let carried = out.contents().len() + out.common_prefixes().len();
        if let Some(count) = out.key_count() {
            if usize::try_from(count).ok() != Some(carried) {
                return damaged(format!("says KeyCount {count} but carries {carried} keys"));
            }
        }
        if !objects.is_empty() || !prefixes.is_empty() {
            self.tokens.clear();
        }
        if out.is_truncated() == Some(true) {
            let next = out.next_continuation_token().filter(|t| !t.is_empty());
            let Some(next) = next else {
                return damaged("is truncated but gives no continuation token".into());
            };
            if token.as_deref() == Some(next) || !self.tokens.insert(next.to_owned()) {
                return damaged(format!(
                    "hands back continuation token {next:?} again: the listing would never end"
                ));
            }
            self.next = Next::After(next.to_owned());
        }
        Some(Ok(Page {
            objects,
            url_encoded: out.encoding_type() == Some(&EncodingType::Url),
            prefixes,
        }))
    }
}

/// Records whether the answer's body is a whole ListBucketResult document: a body cut short,
/// with a Content-Length that matches the cut or read until the connection closed, would
/// otherwise parse as a shorter page.
#[derive(Debug)]
struct WholeBody(Arc<Mutex<Option<bool>>>);

impl Intercept for WholeBody {
    fn name(&self) -> &'static str {
        "s3mend::list::WholeBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().is_success() {
            let whole = response.body().bytes().map(ends_whole);
            *self.0.lock() = whole;
        }
        Ok(())
    }
}

/// Whether an XML body ends with the document's closing tag.
fn ends_whole(body: &[u8]) -> bool {
    body.trim_ascii_end().ends_with(b"</ListBucketResult>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_body_that_closes_its_document_is_whole() {
        assert!(ends_whole(
            b"<ListBucketResult><Name>b</Name></ListBucketResult>\n"
        ));
        assert!(!ends_whole(
            b"<ListBucketResult><Name>b</Name><Contents><Key>a"
        ));
        assert!(!ends_whole(b""));
    }
}
