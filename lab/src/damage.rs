//! Damaged answers, as S3 itself or a broken proxy would produce them: ListObjectsV2 pages whose
//! pagination lies or whose body is cut or trickled, and a CopyObject whose response is lost
//! after the copy was made.
//!
//! A lister must not loop forever, skip keys or trust a short body, and a repair must not assume
//! a copy failed because its answer never came. Tests arm these here ([`Damages`]); the fault
//! injector (`inject.rs`) takes them at the access hook, which knows the operation and counts
//! them, and hands each to the layer that can produce it: a page's lies to the ListObjectsV2
//! handler ([`PageDamage`], in the request's extensions), a body's cut, framing and pace to the
//! connection (`conn_faults.rs`), a lost response to the connection's reset.

use std::time::Duration;

use parking_lot::Mutex;
use s3s::dto::ListObjectsV2Output;

use super::listing::MAX_CHAR;

/// How a cut listing body is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Content-Length states the cut length: a well-framed, short response whose XML ends
    /// mid-element.
    Honest,
    /// Content-Length states the full length; the cut bytes are sent, then the connection is
    /// closed.
    Close,
    /// Neither Content-Length nor chunked encoding, which HTTP/1.1 allows a response: the body
    /// ends where the connection does, and the lab closes it after the cut bytes.
    UntilClose,
}

/// What is wrong with a damaged ListObjectsV2 answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListingDamage {
    /// The XML body is cut after `at` bytes (sent whole if it is shorter), framed as `framing`
    /// says.
    Cut { at: usize, framing: Framing },
    /// IsTruncated is true and there is no NextContinuationToken.
    TruncatedWithoutToken,
    /// IsTruncated is true and NextContinuationToken is the token the request carried. A first
    /// page, which carries none, gets the token of the page after it (whether there is one or
    /// not), so two damaged answers from the first page on repeat a token.
    RepeatedToken,
    /// The tokens cycle A → B → A … and the pages' keys with them: the first page (or the page
    /// at A) says IsTruncated and B, its own next token (or, if it is the last page, one past
    /// the end); any other page says A, which starts the listing again. A client that follows
    /// tokens lists the first two pages for as long as the damage lasts (`u32::MAX`: forever).
    TokenCycle,
    /// As [`TokenCycle`](Self::TokenCycle), but A and B both point past the end of the
    /// listing, so the pages of the cycle have no keys: the first page says A instead of its
    /// own next token, A's page says B, B's says A. A client that only checks key order sees
    /// nothing wrong.
    EmptyTokenCycle,
    /// KeyCount is one more than the keys and common prefixes in the page.
    WrongKeyCount,
    /// The page repeats, as its first key (or common prefix), the last one of the page before:
    /// the server resumed at the continuation token's key instead of after it. Only pages that
    /// carry a token have a page before; a first page is answered as it is and leaves the
    /// damage armed.
    DuplicateKey,
}

impl ListingDamage {
    /// The kind counted in [`LabStats::faults`](super::LabStats::faults), after
    /// "ListObjectsV2/".
    pub fn name(self) -> &'static str {
        match self {
            ListingDamage::Cut { .. } => "Cut",
            ListingDamage::TruncatedWithoutToken => "TruncatedWithoutToken",
            ListingDamage::RepeatedToken => "RepeatedToken",
            ListingDamage::TokenCycle => "TokenCycle",
            ListingDamage::EmptyTokenCycle => "EmptyTokenCycle",
            ListingDamage::WrongKeyCount => "WrongKeyCount",
            ListingDamage::DuplicateKey => "DuplicateKey",
        }
    }
}

/// What the damages do to one request, for the injector to hand on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A ListObjectsV2 page or body damaged.
    Listing(ListingDamage),
    /// A ListObjectsV2 body sent a chunk at a time, with this pause between chunks.
    Trickle(Duration),
    /// The request is handled, then the connection is reset without an answer.
    LoseResponse,
}

impl Effect {
    /// The kind counted in [`LabStats::faults`](super::LabStats::faults).
    pub fn name(self) -> &'static str {
        match self {
            Effect::Listing(damage) => damage.name(),
            Effect::Trickle(_) => "Trickle",
            Effect::LoseResponse => "LostResponse",
        }
    }
}

/// The damages armed, each with the number of answers still to get it.
#[derive(Debug, Default)]
pub struct Damages {
    listings: Mutex<Option<(ListingDamage, u32)>>,
    trickles: Mutex<Option<(Duration, u32)>>,
    /// (bucket, key) of each CopyObject destination whose next answer is lost.
    lost_copies: Mutex<Vec<(String, String)>>,
}

impl Damages {
    /// Damages the next `count` ListObjectsV2 answers (replacing what is left of an earlier
    /// damage); `count` 0 disarms.
    pub fn damage_listings(&self, damage: ListingDamage, count: u32) {
        *self.listings.lock() = (count > 0).then_some((damage, count));
    }

    /// Trickles the next `count` ListObjectsV2 bodies; `count` 0 disarms.
    pub fn trickle_listings(&self, pause: Duration, count: u32) {
        *self.trickles.lock() = (count > 0).then_some((pause, count));
    }

    /// Loses the answer to the next CopyObject onto `bucket`/`key` (once per call).
    pub fn lose_next_copy_response(&self, bucket: &str, key: &str) {
        self.lost_copies
            .lock()
            .push((bucket.to_owned(), key.to_owned()));
    }

    /// What a request of `operation` on `bucket`/`key` meets, each armed damage used up once.
    /// `continues` says whether a listing carries a continuation token.
    pub fn take(
        &self,
        operation: &str,
        bucket: &str,
        key: Option<&str>,
        continues: bool,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        match operation {
            "ListObjectsV2" => {
                let applies = |d: &ListingDamage| continues || *d != ListingDamage::DuplicateKey;
                if let Some(damage) = use_one(&mut self.listings.lock(), applies) {
                    effects.push(Effect::Listing(damage));
                }
                if let Some(pause) = use_one(&mut self.trickles.lock(), |_| true) {
                    effects.push(Effect::Trickle(pause));
                }
            }
            "CopyObject" => {
                let mut lost = self.lost_copies.lock();
                let at = lost
                    .iter()
                    .position(|(b, k)| b == bucket && Some(k.as_str()) == key);
                if let Some(at) = at {
                    lost.remove(at);
                    effects.push(Effect::LoseResponse);
                }
            }
            _ => {}
        }
        effects
    }
}

/// Uses one of an armed damage's answers, if it applies.
fn use_one<T: Copy>(armed: &mut Option<(T, u32)>, applies: impl Fn(&T) -> bool) -> Option<T> {
    let (what, left) = armed.as_mut().filter(|(what, _)| applies(what))?;
    let what = *what;
    *left -= 1;
    if *left == 0 {
        *armed = None;
    }
    Some(what)
}

/// The damage the access hook gave a ListObjectsV2 page, carried in the request's extensions
/// to the handler, which calls [`resume_after`] and [`damage_page`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageDamage(pub ListingDamage);

/// Where a page resumes: for [`ListingDamage::DuplicateKey`], just before the key (or common
/// prefix) the token resumes after, so the page lists it again; else `after` itself.
pub fn resume_after(extensions: &http::Extensions, after: Option<String>) -> Option<String> {
    match extensions.get::<PageDamage>() {
        Some(PageDamage(ListingDamage::DuplicateKey)) => after.map(|marker| {
            // A marker past a common prefix is the prefix and MAX_CHAR (see `listing.rs`).
            just_before(marker.strip_suffix(MAX_CHAR).unwrap_or(&marker))
        }),
        _ => after,
    }
}

/// A marker that sorts just before `key`, so a page resumed after it starts with `key`: `key`
/// with its last char one lower and MAX_CHAR appended ("b" → "a\u{10FFFF}"), or `key` without
/// a last char of U+0000. Only keys that continue the marker with U+10FFFF lie between them,
/// which `listing.rs` ignores too.
fn just_before(key: &str) -> String {
    let mut chars = key.chars();
    let Some(last) = chars.next_back() else {
        return String::new();
    };
    let rest = chars.as_str();
    // The previous scalar value, skipping the surrogates below U+E000.
    match (0..u32::from(last)).rev().find_map(char::from_u32) {
        Some(lower) => format!("{rest}{lower}{MAX_CHAR}"),
        None => rest.to_owned(),
    }
}

/// The lies of a damaged page, told in its output. `prefix` is the listing's (not encoded);
/// `token` makes a continuation token of a resume marker, as the handler's tokens are made.
pub fn damage_page(
    extensions: &http::Extensions,
    mut out: ListObjectsV2Output,
    prefix: &str,
    token: fn(&str) -> String,
) -> ListObjectsV2Output {
    let Some(PageDamage(damage)) = extensions.get::<PageDamage>() else {
        return out;
    };
    // Resuming after these lists nothing: they sort after every key under the prefix.
    let past_end = || token(&format!("{prefix}{MAX_CHAR}"));
    let past_end_again = || token(&format!("{prefix}{MAX_CHAR}{MAX_CHAR}"));
    let asked = out.continuation_token.clone();
    let own = out.next_continuation_token.clone();
    let next = match damage {
        ListingDamage::TruncatedWithoutToken => None,
        ListingDamage::RepeatedToken => asked.or(own).or_else(|| Some(past_end())),
        ListingDamage::TokenCycle => {
            // "\0" sorts before every key but "\0" itself: a page resumed after it starts the
            // listing.
            let start = token("\0");
            if asked.is_none() || asked.as_ref() == Some(&start) {
                own.or_else(|| Some(past_end()))
            } else {
                Some(start)
            }
        }
        ListingDamage::EmptyTokenCycle if asked == Some(past_end()) => Some(past_end_again()),
        ListingDamage::EmptyTokenCycle => Some(past_end()),
        ListingDamage::WrongKeyCount => {
            out.key_count = Some(out.key_count.unwrap_or(0).saturating_add(1));
            return out;
        }
        ListingDamage::DuplicateKey | ListingDamage::Cut { .. } => return out,
    };
    out.next_continuation_token = next;
    out.is_truncated = Some(true);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::list_objects;
    use crate::model::StoredObject;
    use crate::store::Bucket;

    fn keys(page: &crate::listing::Page) -> Vec<&str> {
        page.objects.iter().map(|o| o.key.as_str()).collect()
    }

    #[test]
    fn resuming_just_before_a_key_lists_it_again() {
        let mut b = Bucket::new();
        for k in ["a", "b", "b\0", "ba", "c", "\u{e000}", "\u{e000}x"] {
            b.insert(k, StoredObject::default());
        }
        for (key, next) in [("b", "b\0"), ("b\0", "ba"), ("\u{e000}", "\u{e000}x")] {
            let page = list_objects(&b, "", None, Some(&just_before(key)), 2);
            assert_eq!(keys(&page), vec![key, next], "{key:?}");
        }
        assert_eq!(just_before("\u{e000}"), "\u{d7ff}\u{10ffff}");
    }

    #[test]
    fn a_duplicate_after_a_common_prefix_repeats_the_prefix() {
        let mut b = Bucket::new();
        for k in ["a/1", "a/2", "b"] {
            b.insert(k, StoredObject::default());
        }
        let first = list_objects(&b, "", Some("/"), None, 1);
        let mut ext = http::Extensions::new();
        ext.insert(PageDamage(ListingDamage::DuplicateKey));
        let after = resume_after(&ext, first.next_marker);
        let page = list_objects(&b, "", Some("/"), after.as_deref(), 1000);
        assert_eq!(page.prefixes, vec!["a/"]);
        assert_eq!(keys(&page), vec!["b"]);
    }

    #[test]
    fn armed_damages_are_used_up_in_order() {
        let d = Damages::default();
        d.damage_listings(ListingDamage::DuplicateKey, 2);
        let list = |continues| d.take("ListObjectsV2", "b", None, continues);
        assert_eq!(list(false), vec![], "a first page has no page before");
        let dup = Effect::Listing(ListingDamage::DuplicateKey);
        assert_eq!(list(true), vec![dup]);
        assert_eq!(list(true), vec![dup]);
        assert_eq!(list(true), vec![]);
        d.trickle_listings(Duration::from_millis(1), 1);
        d.damage_listings(ListingDamage::WrongKeyCount, 1);
        let both = vec![
            Effect::Listing(ListingDamage::WrongKeyCount),
            Effect::Trickle(Duration::from_millis(1)),
        ];
        assert_eq!(list(false), both);
        assert_eq!(list(false), vec![]);

        d.lose_next_copy_response("b", "k");
        assert_eq!(d.take("CopyObject", "b", Some("j"), false), vec![]);
        assert_eq!(d.take("CopyObject", "c", Some("k"), false), vec![]);
        assert_eq!(d.take("PutObject", "b", Some("k"), false), vec![]);
        let lost = vec![Effect::LoseResponse];
        assert_eq!(d.take("CopyObject", "b", Some("k"), false), lost);
        assert_eq!(d.take("CopyObject", "b", Some("k"), false), vec![]);
    }

    /// The tokens a damaged page answers with, for the token the request carried and the page's
    /// own next token.
    fn answer(damage: ListingDamage, asked: Option<&str>, own: Option<&str>) -> Option<String> {
        let mut ext = http::Extensions::new();
        ext.insert(PageDamage(damage));
        let out = ListObjectsV2Output {
            continuation_token: asked.map(str::to_owned),
            next_continuation_token: own.map(str::to_owned),
            is_truncated: Some(own.is_some()),
            key_count: Some(2),
            ..ListObjectsV2Output::default()
        };
        let out = damage_page(&ext, out, "p/", |m| format!("<{m}>"));
        assert_eq!(out.is_truncated, Some(true), "{damage:?}");
        out.next_continuation_token
    }

    #[test]
    fn damaged_pages_lie_about_what_follows() {
        let t = |s: &str| Some(s.to_owned());
        let end = "<p/\u{10ffff}>";
        let end2 = "<p/\u{10ffff}\u{10ffff}>";
        assert_eq!(
            answer(ListingDamage::TruncatedWithoutToken, None, None),
            None
        );
        assert_eq!(
            answer(ListingDamage::RepeatedToken, t("<a>").as_deref(), None),
            t("<a>")
        );
        assert_eq!(
            answer(ListingDamage::RepeatedToken, None, Some("<b>")),
            t("<b>")
        );
        assert_eq!(answer(ListingDamage::RepeatedToken, None, None), t(end));
        // TokenCycle: first page → B, B's page → start, start's page → B again.
        assert_eq!(
            answer(ListingDamage::TokenCycle, None, Some("<b>")),
            t("<b>")
        );
        assert_eq!(
            answer(ListingDamage::TokenCycle, Some("<b>"), None),
            t("<\0>")
        );
        assert_eq!(
            answer(ListingDamage::TokenCycle, Some("<\0>"), Some("<b>")),
            t("<b>")
        );
        assert_eq!(answer(ListingDamage::TokenCycle, None, None), t(end));
        assert_eq!(
            answer(ListingDamage::EmptyTokenCycle, None, Some("<b>")),
            t(end)
        );
        assert_eq!(
            answer(ListingDamage::EmptyTokenCycle, Some(end), None),
            t(end2)
        );
        assert_eq!(
            answer(ListingDamage::EmptyTokenCycle, Some(end2), None),
            t(end)
        );

        let mut ext = http::Extensions::new();
        ext.insert(PageDamage(ListingDamage::WrongKeyCount));
        let out = ListObjectsV2Output {
            key_count: Some(2),
            is_truncated: Some(false),
            next_continuation_token: Some("n".to_owned()),
            ..ListObjectsV2Output::default()
        };
        let out = damage_page(&ext, out, "", |m| m.to_owned());
        assert_eq!((out.key_count, out.is_truncated), (Some(3), Some(false)));
        assert_eq!(out.next_continuation_token.as_deref(), Some("n"));
    }
}
