//! A lab in a region of its own, answering requests signed for another one as S3 does.
//!
//! aws-sdk-rust does not follow S3's redirect to a bucket's region, so s3mend has to discover the
//! region itself; this is what lets the tests see the answers it works from. The region a request
//! was signed for is the third field of its SigV4 credential scope
//! (`Credential=AKID/DATE/REGION/s3/aws4_request` in `Authorization`, or the `X-Amz-Credential`
//! query parameter of a presigned URL). The check runs on the raw request before s3s sees it,
//! like S3's routing, which answers before it looks at the signature.

use http::{HeaderValue, Method, StatusCode};
use percent_encoding::percent_decode_str;

/// The region the lab claims to be in unless [`LabConfig::region`](super::LabConfig::region)
/// names another.
pub const LAB_REGION: &str = "us-east-1";

/// How the lab answers a request signed for another region than its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WrongRegion {
    /// As AWS: `301 Moved Permanently` with `x-amz-bucket-region: <the lab's region>`, and for
    /// anything but HEAD (which has no body) an `<Error><Code>PermanentRedirect</Code>` document.
    #[default]
    Redirect,
    /// The same 301 without `x-amz-bucket-region`: the client learns that the region is wrong
    /// but not which one is right. Ceph RGW answers so for a bucket in another zonegroup (it
    /// names an endpoint in `Location`, not a region), and so does a proxy that drops the
    /// header.
    RedirectWithoutRegion,
}

/// The lab's region and how it answers a request signed for another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabRegion {
    pub name: String,
    pub answer: WrongRegion,
}

/// The region a SigV4 request was signed for; `None` when it is not signed with SigV4.
pub fn signed_region<B>(req: &http::Request<B>) -> Option<String> {
    let from_header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split_once("Credential=").map(|(_, rest)| rest))
        .map(|rest| rest.split([',', ' ']).next().unwrap_or_default().to_owned());
    let scope = from_header.or_else(|| {
        req.uri().query()?.split('&').find_map(|pair| {
            let value = pair.strip_prefix("X-Amz-Credential=")?;
            Some(percent_decode_str(value).decode_utf8_lossy().into_owned())
        })
    })?;
    scope.split('/').nth(2).map(str::to_owned)
}

/// S3's answer to `req` if it was signed for another region than the lab's, else `None`.
pub fn misdirected<B>(req: &http::Request<B>, region: &LabRegion) -> Option<s3s::HttpResponse> {
    let signed = signed_region(req)?;
    if signed == region.name {
        return None;
    }
    let mut res = http::Response::new(s3s::Body::empty());
    *res.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if region.answer == WrongRegion::Redirect {
        if let Ok(value) = HeaderValue::from_str(&region.name) {
            res.headers_mut().insert("x-amz-bucket-region", value);
        }
    }
    if req.method() != Method::HEAD {
        // Path style: the bucket is the first segment.
        let bucket = req.uri().path().trim_start_matches('/');
        let bucket = bucket.split('/').next().unwrap_or_default();
        let endpoint = req
            .headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code>\
             <Message>The bucket you are attempting to access must be addressed using the \
             specified endpoint. Please send all future requests to this endpoint.</Message>\
             <Endpoint>{}</Endpoint><Bucket>{}</Bucket><RequestId>lab</RequestId></Error>",
            escape(endpoint),
            escape(bucket)
        );
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        *res.body_mut() = s3s::Body::from(body);
    }
    Some(res)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str, auth: Option<&str>) -> http::Request<()> {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        builder.body(()).unwrap()
    }

    const SIGNED_WEST: &str = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-west-2/s3/aws4_request, SignedHeaders=host, Signature=abc";

    #[test]
    fn the_region_comes_from_the_credential_scope() {
        let req = request(Method::HEAD, "http://lab/b", Some(SIGNED_WEST));
        assert_eq!(signed_region(&req).as_deref(), Some("us-west-2"));
        let presigned = request(
            Method::GET,
            "http://lab/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Signature=x",
            None,
        );
        assert_eq!(signed_region(&presigned).as_deref(), Some("eu-west-1"));
        assert_eq!(
            signed_region(&request(Method::GET, "http://lab/b", None)),
            None
        );
    }

    #[test]
    fn another_region_is_redirected_with_or_without_the_header() {
        let lab = LabRegion {
            name: "eu-west-1".into(),
            answer: WrongRegion::Redirect,
        };
        let head = misdirected(
            &request(Method::HEAD, "http://lab/b", Some(SIGNED_WEST)),
            &lab,
        )
        .expect("redirected");
        assert_eq!(head.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(head.headers()["x-amz-bucket-region"], "eu-west-1");
        assert!(
            head.headers().get("content-type").is_none(),
            "HEAD has no body"
        );

        let get = misdirected(
            &request(Method::GET, "http://lab/b/k", Some(SIGNED_WEST)),
            &lab,
        )
        .expect("redirected");
        assert_eq!(get.headers()["content-type"], "application/xml");

        let bare = LabRegion {
            answer: WrongRegion::RedirectWithoutRegion,
            ..lab.clone()
        };
        let head = misdirected(
            &request(Method::HEAD, "http://lab/b", Some(SIGNED_WEST)),
            &bare,
        )
        .expect("redirected");
        assert!(head.headers().get("x-amz-bucket-region").is_none());

        let right = "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=abc";
        assert!(misdirected(&request(Method::HEAD, "http://lab/b", Some(right)), &lab).is_none());
        assert!(misdirected(&request(Method::HEAD, "http://lab/b", None), &lab).is_none());
    }
}
