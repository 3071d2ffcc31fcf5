//! The requests sent around the SDK are the SDK's requests: for a set of plans, and with and
//! without the AWS CLI's conventions, the CopyObject and GetObjectAcl this path signs carry
//! exactly the headers, with exactly the values, and the URL that the SDK's own request carries,
//! but for those the SDK adds to every request about itself (user agent, invocation id, retry
//! count) and the signature's own (`authorization`, `x-amz-date`). A header added to the SDK's
//! request (`write::copy_request`) and not to `write::copy_headers`, or the other way round,
//! fails here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Intercept, Region, RequestChecksumCalculation,
    ResponseChecksumValidation, RuntimeComponents,
};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::types::ChecksumMode;
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use parking_lot::Mutex;
use time::macros::datetime;

use super::{object_url, sign_request, Template};
use crate::model::ObjectHead;
use crate::plan::{copy_source, Encryption, GrantHeaders, HeaderSet, Plan};
use crate::s3::conventions::{RequestConventions, SendConventions};
use crate::s3::write::{copy_headers, copy_request, Header};

const BUCKET: &str = "b";
const ENDPOINT: &str = "http://127.0.0.1:9";

/// A request's URL and its headers by lower-case name.
type Parts = (String, BTreeMap<String, String>);

/// Keeps the request the SDK is about to send; the connector then refuses to send it.
#[derive(Debug, Default, Clone)]
struct Seen(Arc<Mutex<Option<Parts>>>);

impl Intercept for Seen {
    fn name(&self) -> &'static str {
        "differential::Seen"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        *self.0.lock() = Some(request_parts(context.request()));
        Ok(())
    }
}

#[derive(Debug)]
struct NeverSend;

impl HttpConnector for NeverSend {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::other("not sent".into(), None)))
    }
}

fn request_parts(request: &HttpRequest) -> Parts {
    let mut headers = BTreeMap::new();
    for (name, value) in request.headers() {
        let old = headers.insert(name.to_ascii_lowercase(), value.to_owned());
        assert!(old.is_none(), "{name} twice");
    }
    (request.uri().to_owned(), headers)
}

fn client(conventions: &RequestConventions, seen: &Seen) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .endpoint_url(ENDPOINT)
        .force_path_style(true)
        // As the run's client (`client::connect`): no checksum asked for or sent unless required.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .http_client(http_client_fn(|_, _| SharedHttpConnector::new(NeverSend)))
        .interceptor(seen.clone());
    if !conventions.is_empty() {
        config = config.interceptor(SendConventions(conventions.clone()));
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

fn template() -> Template {
    Template::from_request(
        BUCKET,
        "k",
        &format!("{ENDPOINT}/{BUCKET}/k"),
        "AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=x",
    )
    .expect("a path-style template")
}

fn identity() -> Identity {
    Identity::from(Credentials::new("AKID", "SECRET", None, None, "test"))
}

/// What the two requests may differ in: the SDK's own headers, and the signature's.
fn comparable(
    (uri, mut headers): (String, BTreeMap<String, String>),
) -> (String, BTreeMap<String, String>) {
    for name in [
        "authorization",
        "x-amz-date",
        "user-agent",
        "x-amz-user-agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
    ] {
        headers.remove(name);
    }
    (uri, headers)
}

/// What a copy re-sends for a plain object of this Content-Type.
fn headers(content_type: &str) -> HeaderSet {
    let mut head = ObjectHead::new("k");
    head.content_type = Some(content_type.to_owned());
    crate::plan::carry_over(&head).expect("a plain object's headers")
}

fn plan(
    key: &str,
    version: Option<&str>,
    headers: HeaderSet,
    grants: Option<GrantHeaders>,
) -> Plan {
    Plan {
        key: key.to_owned(),
        copy_source: copy_source(BUCKET, key, version),
        if_match: "\"9b2cf535f27731c974343645a3985328\"".into(),
        destination_etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
        size: 13,
        headers,
        changes: Vec::new(),
        grants,
        checksum: None,
        exclude_annotations: false,
    }
}

/// A plain object; one with every attribute a copy re-sends (non-ASCII metadata, quotes and
/// commas, dates with fractions of a second, SSE-KMS with a bucket key, Object Lock, all four
/// grants); SSE-S3 with the bucket key off; keys that need encoding.
fn plans() -> Vec<Plan> {
    let mut everything = headers("text/html; charset=utf-8");
    everything.content_encoding = Some("gzip".into());
    everything.cache_control = Some("public, max-age=3600".into());
    everything.content_disposition = Some("inline; filename=\"page.html\"".into());
    everything.content_language = Some("de-CH".into());
    everything.expires = Some(datetime!(2037-10-21 07:28:00.5 UTC));
    everything.metadata = BTreeMap::from([
        (
            "s3cmd-attrs".into(),
            "uid:1000/gname:deploy/mode:33188".into(),
        ),
        ("author".into(), "Zoë Ångström – naïve".into()),
        ("empty".into(), String::new()),
    ]);
    everything.website_redirect_location = Some("/new/page.html".into());
    everything.storage_class = "STANDARD_IA".into();
    everything.encryption = Some(Encryption {
        algorithm: "aws:kms".into(),
        kms_key_id: Some("arn:aws:kms:us-east-1:111122223333:key/1234abcd".into()),
        bucket_key_enabled: Some(true),
    });
    everything.object_lock_mode = Some("GOVERNANCE".into());
    everything.object_lock_retain_until_date = Some(datetime!(2030-01-02 03:04:05.123 UTC));
    everything.object_lock_legal_hold_status = Some("ON".into());
    let grants = GrantHeaders {
        full_control: Some("id=\"owner\"".into()),
        read: Some("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\", id=\"x\"".into()),
        read_acp: Some("emailAddress=\"a@example.com\"".into()),
        write_acp: Some("id=\"other\"".into()),
    };
    let mut sse_s3 = headers("text/plain");
    sse_s3.encryption = Some(Encryption {
        algorithm: "AES256".into(),
        kms_key_id: None,
        bucket_key_enabled: Some(false),
    });
    // Into a server that refused the default annotation directive.
    let mut excluding = plan("no-annotations.html", None, headers("text/html"), None);
    excluding.exclude_annotations = true;
    vec![
        excluding,
        plan("index.html", None, headers("text/html"), None),
        plan(
            "dir/page.html",
            Some("3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"),
            everything,
            Some(grants),
        ),
        plan("with space+plus/日本語?#%.html", None, sse_s3, None),
        plan(
            "./dot/../segments.html",
            Some("null"),
            headers("text/css"),
            Some(GrantHeaders {
                full_control: None,
                read: Some("id=\"r\"".into()),
                read_acp: None,
                write_acp: None,
            }),
        ),
    ]
}

fn conventions() -> [RequestConventions; 2] {
    [
        RequestConventions::default(),
        RequestConventions {
            request_payer: true,
            expected_bucket_owner: Some("111122223333".into()),
        },
    ]
}

/// This path's request for `operation` (`method` on `uri` with `headers`, and the conventions'
/// headers for the operation), signed, against the one the SDK built for `sdk` (which is not
/// sent): the same but for the headers [`comparable`] leaves out.
#[allow(clippy::too_many_arguments)]
async fn assert_same_request<T, E>(
    seen: &Seen,
    sdk: impl std::future::Future<Output = Result<T, E>>,
    conventions: &RequestConventions,
    operation: &str,
    method: &str,
    uri: &str,
    headers: &[Header<'_>],
    what: &dyn std::fmt::Debug,
) {
    assert!(sdk.await.is_err(), "nothing is sent");
    let sdk = seen.0.lock().take().expect("the SDK built its request");
    let fast = sign_request(
        &identity(),
        &template(),
        method,
        uri,
        &conventions.headers_for(operation),
        headers,
        SystemTime::now(),
    )
    .expect("signed");
    assert_eq!(
        comparable(request_parts(&fast)),
        comparable(sdk),
        "{operation} {what:?} {conventions:?}"
    );
}

#[tokio::test]
async fn the_fast_copy_sends_every_header_the_sdk_sends() {
    for conventions in conventions() {
        let seen = Seen::default();
        let client = client(&conventions, &seen);
        for plan in plans() {
            for destination_if_match in [false, true] {
                let sdk = copy_request(&client, BUCKET, &plan, destination_if_match).send();
                let headers = copy_headers(&plan, destination_if_match).expect("headers");
                let uri = format!("{}?x-id=CopyObject", object_url(&template(), &plan.key));
                let what = (&plan, destination_if_match);
                assert_same_request(
                    &seen,
                    sdk,
                    &conventions,
                    "CopyObject",
                    "PUT",
                    &uri,
                    &headers,
                    &what,
                )
                .await;
            }
        }
    }
}

#[tokio::test]
async fn the_fast_acl_read_sniff_and_checksum_head_are_the_sdks_requests() {
    for conventions in conventions() {
        let seen = Seen::default();
        let client = client(&conventions, &seen);
        for plan in plans() {
            let version = version_of(&plan);
            let request = client.get_object_acl().bucket(BUCKET).key(&plan.key);
            let sdk = request.set_version_id(version.clone()).send();
            let uri = super::acl::acl_url(&template(), &plan.key, version.as_deref());
            let (op, method) = ("GetObjectAcl", "GET");
            assert_same_request(&seen, sdk, &conventions, op, method, &uri, &[], &plan).await;

            let request = client.head_object().bucket(BUCKET).key(&plan.key);
            let sdk = request.checksum_mode(ChecksumMode::Enabled).send();
            let uri = object_url(&template(), &plan.key);
            let (op, method) = ("HeadObject", "HEAD");
            let headers = &super::CHECKSUM_MODE;
            assert_same_request(&seen, sdk, &conventions, op, method, &uri, headers, &plan).await;

            let range = super::get::range(64);
            let method = "GET";
            let request = client.get_object().bucket(BUCKET).key(&plan.key);
            let sdk = request
                .set_version_id(version.clone())
                .range(range.clone())
                .send();
            let uri = super::get::get_url(&template(), &plan.key, version.as_deref());
            let headers = [("range".into(), range.as_str().into())];
            let op = "GetObject";
            assert_same_request(&seen, sdk, &conventions, op, method, &uri, &headers, &plan).await;
        }
    }
}

/// The version a plan's copy source is pinned to, decoded.
fn version_of(plan: &Plan) -> Option<String> {
    let (_, version) = plan.copy_source.split_once("?versionId=")?;
    Some(
        percent_encoding::percent_decode_str(version)
            .decode_utf8()
            .expect("utf-8")
            .into_owned(),
    )
}
