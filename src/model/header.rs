//! The headers a repair may change: the ones a rule or a policy can set on an object.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ObjectHead;

/// One header a finding is about and a copy may rewrite.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Header {
    ContentType,
    ContentEncoding,
    CacheControl,
    ContentDisposition,
    ContentLanguage,
    Expires,
    /// One user metadata entry, by its name as S3 keeps it (lower case, without `x-amz-meta-`).
    Meta(String),
}

impl Header {
    /// The headers that are not user metadata, in report order.
    pub const STANDARD: [Header; 6] = [
        Header::ContentType,
        Header::ContentEncoding,
        Header::CacheControl,
        Header::ContentDisposition,
        Header::ContentLanguage,
        Header::Expires,
    ];

    /// The HTTP header's name, as reports show it: `Content-Type`, `x-amz-meta-team`.
    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Header::ContentType => "Content-Type".into(),
            Header::ContentEncoding => "Content-Encoding".into(),
            Header::CacheControl => "Cache-Control".into(),
            Header::ContentDisposition => "Content-Disposition".into(),
            Header::ContentLanguage => "Content-Language".into(),
            Header::Expires => "Expires".into(),
            Header::Meta(name) => format!("x-amz-meta-{name}").into(),
        }
    }

    /// Its value in `head`.
    pub fn value<'a>(&self, head: &'a ObjectHead) -> Option<&'a str> {
        match self {
            Header::Meta(name) => head.metadata.get(name).map(String::as_str),
            standard => standard.slot_ref(head).as_deref(),
        }
    }

    /// Sets (or, with `None`, removes) it in `head`.
    pub fn set(&self, head: &mut ObjectHead, value: Option<String>) {
        match self {
            Header::Meta(name) => match value {
                Some(value) => {
                    head.metadata.insert(name.clone(), value);
                }
                None => {
                    head.metadata.remove(name);
                }
            },
            Header::ContentType => head.content_type = value,
            Header::ContentEncoding => head.content_encoding = value,
            Header::CacheControl => head.cache_control = value,
            Header::ContentDisposition => head.content_disposition = value,
            Header::ContentLanguage => head.content_language = value,
            Header::Expires => head.expires = value,
        }
    }

    fn slot_ref<'a>(&self, head: &'a ObjectHead) -> &'a Option<String> {
        match self {
            Header::ContentType => &head.content_type,
            Header::ContentEncoding => &head.content_encoding,
            Header::CacheControl => &head.cache_control,
            Header::ContentDisposition => &head.content_disposition,
            Header::ContentLanguage => &head.content_language,
            Header::Expires => &head.expires,
            Header::Meta(_) => &None,
        }
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Header {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl Header {
    /// The header a report names: `Content-Type`, `x-amz-meta-team` (case as HTTP: any).
    pub fn from_name(name: &str) -> Option<Header> {
        let lower = name.to_ascii_lowercase();
        if let Some(meta) = lower.strip_prefix("x-amz-meta-") {
            return Some(Header::Meta(meta.to_owned()));
        }
        Header::STANDARD
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
    }
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Header::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!("{name:?} is not a header s3mend repairs"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_back_what_they_write() {
        let all = Header::STANDARD
            .into_iter()
            .chain([Header::Meta("team".into())]);
        for header in all {
            let json = serde_json::to_string(&header).unwrap();
            assert_eq!(serde_json::from_str::<Header>(&json).unwrap(), header);
        }
        assert!(serde_json::from_str::<Header>("\"X-Evil\"").is_err());
    }

    #[test]
    fn every_header_reads_and_writes_its_own_value() {
        let headers = Header::STANDARD
            .into_iter()
            .chain([Header::Meta("team".into())]);
        for header in headers {
            let mut head = ObjectHead::new("k");
            assert_eq!(header.value(&head), None);
            header.set(&mut head, Some("v".into()));
            assert_eq!(header.value(&head), Some("v"), "{header}");
            let set: Vec<_> = Header::STANDARD
                .into_iter()
                .filter(|other| other.value(&head).is_some())
                .collect();
            assert!(set.len() <= 1, "{header}: {set:?}");
            header.set(&mut head, None);
            assert_eq!(head, ObjectHead::new("k"), "{header}");
        }
        assert_eq!(Header::Meta("team".into()).name(), "x-amz-meta-team");
        assert_eq!(
            serde_json::to_value(Header::ContentEncoding).unwrap(),
            "Content-Encoding"
        );
        for header in Header::STANDARD
            .into_iter()
            .chain([Header::Meta("team".into())])
        {
            let json = serde_json::to_string(&header).unwrap();
            assert_eq!(serde_json::from_str::<Header>(&json).unwrap(), header);
        }
        assert!(serde_json::from_str::<Header>("\"Host\"").is_err());
    }
}
