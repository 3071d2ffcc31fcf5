//! Reading a policy file: TOML with the position of every value kept (`toml`'s spanned
//! document), so that each mistake is one line naming the file, line and column. Everything is
//! checked here, before the first request: what S3 would refuse to store (control or non-ASCII
//! characters in a header), what a browser could not use (a Content-Type that is not
//! `type/subtype`, an unregistered content coding), and what cannot mean anything (an unknown
//! field, an empty `keys`, a bad glob, two metadata names that S3 would make one).

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use globset::{Glob, GlobSetBuilder};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{Block, Policy, Want};
use crate::model::{date, Header};
use crate::rules::content_encoding::{is_registered, REGISTERED_CODINGS};
use crate::rules::Severity;

/// A policy that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for PolicyError {}

/// The fields a `[[match]]` block may have.
pub(super) const FIELDS: [&str; 9] = [
    "keys",
    "cache-control",
    "content-type",
    "content-disposition",
    "content-language",
    "content-encoding",
    "expires",
    "metadata",
    "severity",
];

/// Reads and checks the policy at `path`.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
        path: shown.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read the policy: {e}"),
    })?;
    parse(&shown, &text)
}

/// Checks the policy `text`, read from `path`.
pub fn parse(path: &str, text: &str) -> Result<Policy, PolicyError> {
    let reader = Reader { path, text };
    let document = DeTable::parse(text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        reader.error(
            e.span().unwrap_or(0..0),
            format!("not valid TOML: {message}"),
        )
    })?;
    let mut blocks = Vec::new();
    for (key, value) in document.get_ref() {
        if key.get_ref().as_ref() != "match" {
            return Err(reader.unknown(key, &["match"], "at the top level"));
        }
        let DeValue::Array(items) = value.get_ref() else {
            return Err(reader.error(value.span(), "`match` must be [[match]] blocks".into()));
        };
        for item in items {
            let DeValue::Table(table) = item.get_ref() else {
                return Err(reader.error(item.span(), "each [[match]] must be a table".into()));
            };
            blocks.push(reader.block(item.span(), table)?);
        }
    }
    if blocks.is_empty() {
        return Err(reader.error(0..0, "the policy has no [[match]] block".into()));
    }
    Ok(Policy {
        path: path.to_owned(),
        blocks,
    })
}

struct Reader<'a> {
    path: &'a str,
    text: &'a str,
}

type Value<'i> = Spanned<DeValue<'i>>;

impl Reader<'_> {
    fn error(&self, span: Range<usize>, message: String) -> PolicyError {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        PolicyError {
            path: self.path.to_owned(),
            line,
            column,
            message,
        }
    }

    fn unknown(&self, key: &Spanned<Cow<'_, str>>, known: &[&str], place: &str) -> PolicyError {
        let name = key.get_ref();
        let hint = did_you_mean(name, known)
            .map(|k| format!("; did you mean '{k}'?"))
            .unwrap_or_else(|| format!(" (known: {})", known.join(", ")));
        self.error(key.span(), format!("unknown field '{name}' {place}{hint}"))
    }

    fn block(&self, span: Range<usize>, table: &DeTable<'_>) -> Result<Block, PolicyError> {
        let mut keys = None;
        let mut sets = Vec::new();
        let mut severity = Severity::Error;
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let header = match name {
                "keys" => {
                    keys = Some(self.globs(value)?);
                    continue;
                }
                "metadata" => {
                    sets.extend(self.metadata(value)?);
                    continue;
                }
                "severity" => {
                    severity = self.severity(value)?;
                    continue;
                }
                "cache-control" => Header::CacheControl,
                "content-type" => Header::ContentType,
                "content-disposition" => Header::ContentDisposition,
                "content-language" => Header::ContentLanguage,
                "content-encoding" => Header::ContentEncoding,
                "expires" => Header::Expires,
                _ => return Err(self.unknown(key, &FIELDS, "in [[match]]")),
            };
            sets.push((header.clone(), self.want(name, &header, value)?));
        }
        let Some((keys, matcher)) = keys else {
            return Err(self.error(span, "a [[match]] block needs `keys`".into()));
        };
        sets.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Block {
            line: self.error(span, String::new()).line,
            keys,
            matcher,
            sets,
            severity,
        })
    }

    /// `severity = "error" | "warning"`.
    fn severity(&self, value: &Value<'_>) -> Result<Severity, PolicyError> {
        match value.get_ref() {
            DeValue::String(text) => text
                .parse()
                .map_err(|e: String| self.error(value.span(), e)),
            _ => Err(self.error(
                value.span(),
                "severity must be \"error\" or \"warning\"".into(),
            )),
        }
    }

    /// `keys`: a non-empty list of globs, matched as `--include` matches.
    fn globs(&self, value: &Value<'_>) -> Result<(Vec<String>, globset::GlobSet), PolicyError> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.error(value.span(), "`keys` must be a list of globs".into()));
        };
        if items.is_empty() {
            return Err(self.error(
                value.span(),
                "`keys` is empty: it would match nothing".into(),
            ));
        }
        let mut keys = Vec::new();
        let mut builder = GlobSetBuilder::new();
        for item in items {
            let DeValue::String(glob) = item.get_ref() else {
                return Err(self.error(item.span(), "each of `keys` must be a string".into()));
            };
            let compiled = Glob::new(glob)
                .map_err(|e| self.error(item.span(), format!("bad glob '{glob}': {}", e.kind())))?;
            builder.add(compiled);
            keys.push(glob.to_string());
        }
        let matcher = builder
            .build()
            .map_err(|e| self.error(value.span(), format!("bad glob: {e}")))?;
        Ok((keys, matcher))
    }

    /// `metadata = { name = "value" | false }`: entries to set or remove; others are kept.
    fn metadata(&self, value: &Value<'_>) -> Result<Vec<(Header, Want)>, PolicyError> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.error(value.span(), "`metadata` must be a table of names".into()));
        };
        let mut seen: Vec<(String, &str)> = Vec::new();
        let mut sets = Vec::new();
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            if name.is_empty() || !name.bytes().all(is_token_char) {
                return Err(self.error(
                    key.span(),
                    format!("metadata name '{name}' is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"),
                ));
            }
            let lower = name.to_ascii_lowercase();
            if let Some((_, first)) = seen.iter().find(|(l, _)| *l == lower) {
                return Err(self.error(
                    key.span(),
                    format!("metadata names '{first}' and '{name}' differ only in case: S3 keeps one, in lower case"),
                ));
            }
            seen.push((lower.clone(), name));
            let header = Header::Meta(lower);
            let field = format!("metadata '{name}'");
            sets.push((header.clone(), self.want(&field, &header, value)?));
        }
        Ok(sets)
    }

    /// A header's value: a string to set (checked for what the header may hold), or `false`.
    fn want(&self, field: &str, header: &Header, value: &Value<'_>) -> Result<Want, PolicyError> {
        let at = |message: String| self.error(value.span(), message);
        let text: Cow<'_, str> = match value.get_ref() {
            DeValue::Boolean(false) => return Ok(Want::Absent),
            DeValue::Boolean(true) => {
                return Err(at(format!(
                    "{field} = true means nothing: give the value as a string, or false to require the header absent"
                )))
            }
            DeValue::String(text) => text.clone(),
            DeValue::Datetime(datetime) if *header == Header::Expires => datetime.to_string().into(),
            _ => return Err(at(format!("{field} must be a string, or false"))),
        };
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(at(format!("{field} contains the control character {c:?}")));
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii()) {
            return Err(at(format!(
                "{field} contains the non-ASCII character {c:?}: S3 header values are ASCII"
            )));
        }
        if text.trim().is_empty() {
            return Err(at(format!(
                "{field} is empty: use false to require the header absent"
            )));
        }
        let value = match header {
            Header::ContentType => content_type(&text).map_err(at)?,
            Header::ContentEncoding => content_encoding(&text).map_err(at)?,
            Header::Expires => expires(&text).map_err(at)?,
            _ => text.trim().to_owned(),
        };
        Ok(Want::Value(value))
    }
}

/// `type/subtype[; parameters]`.
fn content_type(text: &str) -> Result<String, String> {
    let essence = text.split(';').next().unwrap_or("").trim();
    let well_formed = essence
        .split_once('/')
        .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty() && !s.contains('/'))
        && text.trim().parse::<mime_guess::Mime>().is_ok();
    if well_formed {
        Ok(text.trim().to_owned())
    } else {
        Err(format!(
            "content-type \"{text}\" is not type/subtype[; parameters]"
        ))
    }
}

/// A list of registered content codings.
fn content_encoding(text: &str) -> Result<String, String> {
    let tokens: Vec<&str> = text.split(',').map(str::trim).collect();
    match tokens.iter().find(|t| !is_registered(t)) {
        None => Ok(tokens.join(", ")),
        Some(bad) => Err(format!(
            "content-encoding \"{bad}\" is not a registered content coding ({}); use false to require the header absent",
            REGISTERED_CODINGS.join(", ")
        )),
    }
}

/// RFC 3339 or an HTTP date, written back as the HTTP date S3 will store.
fn expires(text: &str) -> Result<String, String> {
    let at = date::parse_http_date(text).or_else(|| {
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()
    });
    at.and_then(date::http_date).ok_or_else(|| {
        format!(
            "expires \"{text}\" is not a date: use RFC 3339 (2030-01-01T00:00:00Z) or an HTTP date"
        )
    })
}

/// RFC 9110's `tchar`: what a header name may contain.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The known name closest to `name`, if one is close enough to be what was meant.
fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let normalized = name.to_ascii_lowercase().replace('_', "-");
    known
        .iter()
        .map(|k| (strsim::levenshtein(&normalized, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}
