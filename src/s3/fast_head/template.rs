//! The template a run's HEADs are built from: the URL up to the key and the signing scope, as the
//! SDK's first HEAD showed them, and the interceptor that captures that HEAD.

use std::sync::Arc;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use parking_lot::Mutex;
use percent_encoding::utf8_percent_encode;

use super::KEY;

/// What the SDK's first HEAD showed: where a key's URL starts and how the request is signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    pub(super) bucket: String,
    /// The URL up to the encoded key, e.g. `https://b.s3.eu-west-1.amazonaws.com/`.
    pub(super) base: String,
    /// The `Host` header hyper sends for that URL (no port when it is the scheme's default).
    pub(super) host: String,
    pub(super) region: String,
    pub(super) service: String,
}

impl Template {
    /// The template from the SDK's request for `key`: its URL must be `BASE` followed by `key`
    /// encoded as this path encodes it, with no query, and it must be signed with SigV4 in the
    /// `Authorization` header.
    pub(crate) fn from_request(bucket: &str, key: &str, uri: &str, auth: &str) -> Option<Template> {
        let encoded = utf8_percent_encode(key, KEY).to_string();
        if uri.contains('?') || uri.contains('#') {
            return None;
        }
        let base = uri.strip_suffix(encoded.as_str())?;
        let parsed: http::Uri = uri.parse().ok()?;
        let default_port = match parsed.scheme_str()? {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let authority = parsed.authority()?;
        let host = match authority.port_u16() {
            Some(port) if port != default_port => format!("{}:{port}", authority.host()),
            _ => authority.host().to_owned(),
        };
        // AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=..
        let scope = auth
            .strip_prefix("AWS4-HMAC-SHA256 Credential=")?
            .split(',')
            .next()?;
        let mut parts = scope.rsplit('/');
        if parts.next()? != "aws4_request" {
            return None;
        }
        let service = parts.next()?.to_owned();
        let region = parts.next()?.to_owned();
        // Only plain S3 signing: S3 Express signs with session credentials of its own
        // (`s3express`), which the credentials provider does not give.
        if service != "s3" || region.is_empty() {
            return None;
        }
        Some(Template {
            bucket: bucket.to_owned(),
            base: base.to_owned(),
            host,
            region,
            service,
        })
    }
}

/// Keeps the URL and `Authorization` of the last request sent.
#[derive(Debug)]
pub(super) struct Capture(pub(super) Arc<Mutex<Option<(String, String)>>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "s3mend::fast_head::Capture"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let auth = request.headers().get("authorization").unwrap_or_default();
        *self.0.lock() = Some((request.uri().to_owned(), auth.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";

    #[test]
    fn the_template_is_the_url_before_the_key_and_the_signing_scope() {
        let t = Template::from_request(
            "b",
            "dir/a b+c.html",
            "https://b.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc.html",
            AUTH,
        )
        .unwrap();
        assert_eq!(t.base, "https://b.s3.eu-west-1.amazonaws.com/");
        assert_eq!(t.host, "b.s3.eu-west-1.amazonaws.com");
        assert_eq!((t.region.as_str(), t.service.as_str()), ("eu-west-1", "s3"));

        let lab = Template::from_request("b", "k", "http://127.0.0.1:9000/b/k", AUTH).unwrap();
        assert_eq!(
            (lab.base.as_str(), lab.host.as_str()),
            ("http://127.0.0.1:9000/b/", "127.0.0.1:9000")
        );
        // hyper leaves a default port out of Host, so the signature must too.
        let port = Template::from_request("b", "k", "https://h:443/b/k", AUTH).unwrap();
        assert_eq!(port.host, "h");
    }

    #[test]
    fn a_request_the_template_cannot_reproduce_is_refused() {
        let url = "https://h/b/k";
        // A key encoded otherwise, a query, another scheme, another signature.
        assert_eq!(
            Template::from_request("b", "a+b", "https://h/b/a+b", AUTH),
            None
        );
        assert_eq!(
            Template::from_request("b", "k", "https://h/b/k?x-id=HeadObject", AUTH),
            None
        );
        assert_eq!(Template::from_request("b", "k", "ftp://h/b/k", AUTH), None);
        for auth in [
            "",
            "AWS4-ECDSA-P256-SHA256 Credential=AKID/20261127/s3/aws4_request, Signature=x",
            "AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-1/s3/other, Signature=x",
            "AWS4-HMAC-SHA256 Credential=AKID/20261127//s3/aws4_request, Signature=x",
            "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/s3express/aws4_request, Signature=x",
        ] {
            assert_eq!(Template::from_request("b", "k", url, auth), None, "{auth}");
        }
    }
}
