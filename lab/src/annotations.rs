//! The four annotation operations (PutObjectAnnotation, GetObjectAnnotation,
//! ListObjectAnnotations, DeleteObjectAnnotation), served in front of s3s, which cannot route
//! them (s3s 0.14.1 predates them). Paths and query strings are the SDK's (aws-sdk-s3 1.157):
//! `/{bucket}/{key}?annotation` with `annotationName`, `versionId`, `x-id`,
//! `continuation-token` and `max-annotation-results`. Annotations live on a version
//! (`StoredObject::annotations`); CopyObject keeps them unless excluded (`copy.rs`), a multipart
//! upload starts without.
//!
//! The signature is not checked here (s3s checks every other request): a request must name the
//! lab's access key in its SigV4 credential. Each is counted under its operation's name, and, with
//! the `testing` feature, meets the faults a test armed for the operation on its key, or on
//! `KEY?annotationName=NAME` for one annotation.

// An error here is the response itself, as large as any other.
#![allow(clippy::result_large_err)]

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use percent_encoding::percent_decode_str;

use super::handle::LabHandle;
use super::model::{Annotation, StoredObject};
use super::store::{Bucket, Missing};

/// S3's limits: annotations per version, bytes per payload.
const MAX_ANNOTATIONS: usize = 1000;
const MAX_PAYLOAD: usize = 1 << 20;

/// What an annotation request asks for, parsed from its method and query.
#[derive(Debug, PartialEq, Eq)]
pub struct AnnotationRequest {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    pub name: Option<String>,
    pub version_id: Option<String>,
    pub after: Option<String>,
    pub max: usize,
}

/// The annotation request `method` and `uri` make, `None` for any other request.
pub fn parse(method: &Method, uri: &http::Uri) -> Option<AnnotationRequest> {
    let query = uri.query()?;
    let mut params = Vec::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        params.push((decode(k), decode(v)));
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    get("annotation")?;
    let path = uri.path().trim_start_matches('/');
    let (bucket, key) = path.split_once('/')?;
    let key = percent_decode_str(key).decode_utf8_lossy().into_owned();
    let name = get("annotationName");
    let operation = match (method, &name) {
        (&Method::PUT, _) => "PutObjectAnnotation",
        (&Method::DELETE, _) => "DeleteObjectAnnotation",
        (&Method::GET, Some(_)) => "GetObjectAnnotation",
        (&Method::GET, None) => "ListObjectAnnotations",
        _ => return None,
    };
    Some(AnnotationRequest {
        operation,
        bucket: bucket.to_owned(),
        key,
        name,
        version_id: get("versionId").filter(|v| !v.is_empty()),
        after: get("continuation-token").filter(|t| !t.is_empty()),
        max: get("max-annotation-results")
            .and_then(|m| m.parse().ok())
            .map_or(MAX_ANNOTATIONS, |m: usize| m.clamp(1, MAX_ANNOTATIONS)),
    })
}

/// Serves `req` if it is an annotation request; gives it back otherwise.
pub async fn serve(
    handle: &LabHandle,
    req: http::Request<hyper::body::Incoming>,
) -> Result<s3s::HttpResponse, http::Request<hyper::body::Incoming>> {
    let Some(parsed) = parse(req.method(), req.uri()) else {
        return Err(req);
    };
    handle.counters.request(parsed.operation);
    Ok(answer(handle, parsed, req).await)
}

async fn answer(
    handle: &LabHandle,
    req: AnnotationRequest,
    http: http::Request<hyper::body::Incoming>,
) -> s3s::HttpResponse {
    if !signed_by_the_lab(http.headers()) {
        return error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    }
    #[cfg(feature = "testing")]
    {
        let named = req
            .name
            .as_ref()
            .map(|n| format!("{}?annotationName={n}", req.key));
        let armed = named
            .and_then(|k| handle.inject.take_fault(req.operation, &k))
            .or_else(|| handle.inject.take_fault(req.operation, &req.key));
        match armed {
            Some(super::inject::Armed::Fail) => {
                handle.counters.fault(req.operation, "InternalError");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                );
            }
            Some(super::inject::Armed::Stall(d)) => tokio::time::sleep(d).await,
            None => {}
        }
    }
    let if_match = http
        .headers()
        .get("x-amz-object-if-match")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').to_owned());
    let payload = if req.operation == "PutObjectAnnotation" {
        match http.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "IncompleteBody",
                    "The request body was cut.",
                )
            }
        }
    } else {
        Bytes::new()
    };
    let result = handle.store.write(&req.bucket, |b| {
        Ok(if !b.annotations {
            Err(error(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                "Annotations are not implemented by this store",
            ))
        } else {
            operate(b, &req, if_match.as_deref(), payload)
        })
    });
    match result {
        Ok(Ok(res) | Err(res)) => res,
        Err(_) => error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        ),
    }
}

/// Carries out `req` on the bucket (locked).
fn operate(
    bucket: &mut Bucket,
    req: &AnnotationRequest,
    if_match: Option<&str>,
    payload: Bytes,
) -> Result<s3s::HttpResponse, s3s::HttpResponse> {
    let version = req.version_id.as_deref();
    let obj = version_of(bucket, &req.key, version)?;
    let name = || {
        req.name
            .clone()
            .filter(|n| !n.is_empty() && n.len() <= 512)
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "InvalidAnnotationName",
                    "The annotation name is not valid.",
                )
            })
    };
    match req.operation {
        "PutObjectAnnotation" => {
            let name = name()?;
            if if_match.is_some_and(|e| e != obj.etag_value()) {
                return Err(error(
                    StatusCode::PRECONDITION_FAILED,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                ));
            }
            if payload.is_empty() || payload.len() > MAX_PAYLOAD {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "An annotation payload must be between 1 byte and 1 MiB.",
                ));
            }
            if !obj.annotations.contains_key(&name) && obj.annotations.len() >= MAX_ANNOTATIONS {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "AnnotationLimitExceeded",
                    "An object version can have at most 1,000 annotations.",
                ));
            }
            let annotation = Annotation::new(payload);
            let etag = annotation.etag.clone();
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PutObjectAnnotationOutput><Key>{}</Key><AnnotationName>{}</AnnotationName></PutObjectAnnotationOutput>",
                escape(&req.key),
                escape(&name)
            );
            obj.annotations.insert(name, annotation);
            let mut res = http::Response::new(s3s::Body::from(xml));
            set(&mut res, "content-type", "application/xml");
            set(&mut res, "etag", &etag);
            if let Some(v) = &obj.version_id {
                set(&mut res, "x-amz-object-version-id", v);
            }
            Ok(res)
        }
        "GetObjectAnnotation" => {
            let name = name()?;
            let a = obj.annotations.get(&name).ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    "NoSuchAnnotation",
                    "The specified annotation does not exist.",
                )
            })?;
            let mut res = http::Response::new(s3s::Body::from(a.payload.clone()));
            set(&mut res, "etag", &a.etag);
            set(&mut res, "content-length", &a.payload.len().to_string());
            set(&mut res, "last-modified", &http_date(a.last_modified));
            Ok(res)
        }
        "DeleteObjectAnnotation" => {
            obj.annotations.remove(&name()?);
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Ok(list(obj, req)),
    }
}

/// ListObjectAnnotations, by name, a page of `req.max` after the continuation token (the last
/// name of the page before).
fn list(obj: &StoredObject, req: &AnnotationRequest) -> s3s::HttpResponse {
    let after = req.after.as_deref().unwrap_or("");
    let rest = obj.annotations.iter().filter(|(n, _)| n.as_str() > after);
    let page: Vec<_> = rest.clone().take(req.max).collect();
    let more = rest.count() > page.len();
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListObjectAnnotationsOutput>");
    xml.push_str(&format!(
        "<Key>{}</Key><AnnotationCount>{}</AnnotationCount><Annotations>",
        escape(&req.key),
        page.len()
    ));
    for (name, a) in &page {
        xml.push_str(&format!(
            "<AnnotationEntry><AnnotationName>{}</AnnotationName><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size></AnnotationEntry>",
            escape(name),
            rfc3339(a.last_modified),
            escape(&a.etag),
            a.payload.len()
        ));
    }
    xml.push_str("</Annotations>");
    if let (true, Some((last, _))) = (more, page.last()) {
        xml.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            escape(last)
        ));
    }
    xml.push_str("</ListObjectAnnotationsOutput>");
    let mut res = http::Response::new(s3s::Body::from(xml));
    set(&mut res, "content-type", "application/xml");
    if let Some(v) = &obj.version_id {
        set(&mut res, "x-amz-object-version-id", v);
    }
    res
}

fn version_of<'b>(
    bucket: &'b mut Bucket,
    key: &str,
    version: Option<&str>,
) -> Result<&'b mut StoredObject, s3s::HttpResponse> {
    if let Err(missing) = bucket.lookup(key, version) {
        let (code, message) = match missing {
            Missing::NoVersion | Missing::VersionIsDeleteMarker(_) => {
                ("NoSuchVersion", "The specified version does not exist.")
            }
            _ => ("NoSuchKey", "The specified key does not exist."),
        };
        return Err(error(StatusCode::NOT_FOUND, code, message));
    }
    bucket.lookup_mut(key, version).map_err(|_| {
        error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
    })
}

/// Whether the request's SigV4 credential names the lab's access key.
fn signed_by_the_lab(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|auth| auth.contains(&format!("Credential={}/", super::LAB_ACCESS_KEY)))
}

fn empty(status: StatusCode) -> s3s::HttpResponse {
    let mut res = http::Response::new(s3s::Body::empty());
    *res.status_mut() = status;
    res
}

fn set(res: &mut s3s::HttpResponse, name: &'static str, value: &str) {
    if let Ok(v) = http::HeaderValue::from_str(value) {
        res.headers_mut().insert(name, v);
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> s3s::HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>lab</RequestId></Error>",
        escape(message)
    );
    let mut res = http::Response::new(s3s::Body::from(body));
    *res.status_mut() = status;
    set(&mut res, "content-type", "application/xml");
    res
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn http_date(at: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_paths_and_queries_name_the_operation() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        let put = parse(
            &Method::PUT,
            &uri("/b/dir/a%20b?annotation&annotationName=r%2F1&versionId=v1"),
        )
        .unwrap();
        assert_eq!(
            (put.operation, put.bucket.as_str(), put.key.as_str()),
            ("PutObjectAnnotation", "b", "dir/a b")
        );
        assert_eq!(
            (put.name.as_deref(), put.version_id.as_deref()),
            (Some("r/1"), Some("v1"))
        );
        let get = parse(
            &Method::GET,
            &uri("/b/k?annotation&x-id=GetObjectAnnotation&annotationName=r"),
        )
        .unwrap();
        assert_eq!(get.operation, "GetObjectAnnotation");
        let list = parse(&Method::GET, &uri("/b/k?annotation&x-id=ListObjectAnnotations&max-annotation-results=2&continuation-token=a")).unwrap();
        assert_eq!(
            (list.operation, list.max, list.after.as_deref()),
            ("ListObjectAnnotations", 2, Some("a"))
        );
        let delete = parse(&Method::DELETE, &uri("/b/k?annotation&annotationName=r")).unwrap();
        assert_eq!(delete.operation, "DeleteObjectAnnotation");
        assert_eq!(parse(&Method::GET, &uri("/b/k?acl")), None);
        assert_eq!(parse(&Method::GET, &uri("/b/k")), None);
    }

    #[test]
    fn a_list_pages_by_name() {
        let obj = StoredObject {
            annotations: ["a", "b", "c"]
                .into_iter()
                .map(|n| (n.to_owned(), Annotation::new(Bytes::from(n))))
                .collect(),
            ..StoredObject::default()
        };
        let req = AnnotationRequest {
            operation: "ListObjectAnnotations",
            bucket: "b".into(),
            key: "k".into(),
            name: None,
            version_id: None,
            after: Some("a".into()),
            max: 1,
        };
        let res = list(&obj, &req);
        let body = format!("{:?}", res.body());
        assert!(res.status().is_success());
        let _ = body;
    }
}
