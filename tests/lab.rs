//! The lab against the real aws-sdk-s3 client: it must behave like S3 where s3mend relies on it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, EncodingType, MetadataDirective, StorageClass,
    TaggingDirective,
};
use s3mend::lab::{self, Grantee, Lab, LabConfig, ObjectSeed};

async fn start() -> (Lab, aws_sdk_s3::Client) {
    let lab = Lab::start(LabConfig::default()).await.expect("lab starts");
    let client = lab::client(&lab);
    (lab, client)
}

fn status<E: std::fmt::Debug>(err: &SdkError<E, HttpResponse>) -> u16 {
    err.raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|| panic!("no response: {err:?}"))
}

fn full_seed() -> ObjectSeed {
    ObjectSeed {
        body: "hello world".into(),
        content_type: Some("text/html; charset=utf-8".into()),
        content_encoding: Some("utf-8".into()),
        cache_control: Some("max-age=300".into()),
        content_disposition: Some("inline".into()),
        content_language: Some("en".into()),
        expires: Some("Thu, 01 Jan 2037 00:00:00 GMT".into()),
        metadata: BTreeMap::from([("owner".into(), "team-a".into()), ("x".into(), "1".into())]),
        storage_class: Some("STANDARD_IA".into()),
        website_redirect_location: Some("/elsewhere".into()),
        server_side_encryption: Some("aws:kms".into()),
        ssekms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/abc".into()),
        bucket_key_enabled: Some(true),
        object_lock_mode: Some("GOVERNANCE".into()),
        object_lock_retain_until: Some("2037-01-01T00:00:00.000Z".into()),
        object_lock_legal_hold: Some("ON".into()),
        tags: vec![("k".into(), "v".into()), ("team".into(), "a".into())],
        ..ObjectSeed::default()
    }
}

#[tokio::test]
async fn wrong_secret_is_403() {
    let (lab, _) = start().await;
    lab.create_bucket("bkt");
    let bad = lab::client_with_keys(&lab, lab::LAB_ACCESS_KEY, "wrong-secret");
    let err = bad
        .list_objects_v2()
        .bucket("bkt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 403);
}

#[tokio::test]
async fn list_paginates_2500_keys() {
    let (lab, s3) = start().await;
    for i in 0..2500 {
        lab.put_object("bkt", &format!("k{i:05}"), ObjectSeed::with_body("x"));
    }
    let mut keys = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("bkt")
            .max_keys(5000)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.contents().len() <= 1000);
        assert_eq!(page.key_count(), Some(page.contents().len() as i32));
        keys.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
        assert_eq!(
            page.contents()[0].storage_class().map(|c| c.as_str()),
            Some("STANDARD")
        );
        if page.is_truncated() == Some(true) {
            token = page.next_continuation_token().map(str::to_owned);
        } else {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 2500);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn url_encoding_type_encodes_keys() {
    let (lab, s3) = start().await;
    let keys = [
        "a b",
        "a+b",
        "100%",
        "why?",
        "#tag",
        "caf\u{e9}/\u{1f600}",
        "plain/key",
    ];
    for k in keys {
        lab.put_object("bkt", k, ObjectSeed::with_body("x"));
    }
    let page = s3
        .list_objects_v2()
        .bucket("bkt")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let listed: Vec<String> = page
        .contents()
        .iter()
        .map(|o| {
            let raw = o.key().unwrap().replace('+', " ");
            percent_encoding::percent_decode_str(&raw)
                .decode_utf8()
                .unwrap()
                .into_owned()
        })
        .collect();
    let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    let raw: Vec<&str> = page.contents().iter().map(|o| o.key().unwrap()).collect();
    assert!(
        raw.contains(&"a+b") && raw.contains(&"a%2Bb") && raw.contains(&"why%3F"),
        "{raw:?}"
    );
}

#[tokio::test]
async fn head_returns_every_seeded_header() {
    let (lab, s3) = start().await;
    let stored = lab.put_object("bkt", "k", full_seed());
    let h = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(h.content_encoding(), Some("utf-8"));
    assert_eq!(h.cache_control(), Some("max-age=300"));
    assert_eq!(h.content_disposition(), Some("inline"));
    assert_eq!(h.content_language(), Some("en"));
    assert_eq!(h.expires_string(), Some("Thu, 01 Jan 2037 00:00:00 GMT"));
    assert_eq!(
        h.metadata().unwrap().get("owner").map(String::as_str),
        Some("team-a")
    );
    assert_eq!(h.storage_class(), Some(&StorageClass::StandardIa));
    assert_eq!(h.website_redirect_location(), Some("/elsewhere"));
    assert_eq!(
        h.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert_eq!(
        h.ssekms_key_id(),
        Some("arn:aws:kms:us-east-1:123456789012:key/abc")
    );
    assert_eq!(h.bucket_key_enabled(), Some(true));
    assert_eq!(h.object_lock_mode().map(|m| m.as_str()), Some("GOVERNANCE"));
    assert!(h.object_lock_retain_until_date().is_some());
    assert_eq!(
        h.object_lock_legal_hold_status().map(|m| m.as_str()),
        Some("ON")
    );
    assert_eq!(h.tag_count(), Some(2));
    assert_eq!(h.e_tag(), Some(stored.etag.as_str()));
    assert_eq!(h.content_length(), Some(11));
    assert!(h.last_modified().is_some());

    // STANDARD is omitted on HEAD, as S3 does; a missing key is a 404.
    lab.put_object("bkt", "plain", ObjectSeed::with_body("x"));
    let h = s3
        .head_object()
        .bucket("bkt")
        .key("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(h.storage_class(), None);
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 404);
}

#[tokio::test]
async fn replace_copy_keeps_only_what_is_sent() {
    let (lab, s3) = start().await;
    let before = lab.put_object("bkt", "k", full_seed());
    s3.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/html")
        .metadata("owner", "team-a")
        .storage_class(StorageClass::StandardIa)
        .copy_source_if_match(&before.etag)
        .send()
        .await
        .unwrap();
    let after = lab.object("bkt", "k").unwrap();
    assert_eq!(after.content_type.as_deref(), Some("text/html"));
    assert_eq!(
        after.metadata,
        BTreeMap::from([("owner".to_owned(), "team-a".to_owned())])
    );
    assert_eq!(after.storage_class.as_deref(), Some("STANDARD_IA"));
    assert_eq!(after.content_encoding, None);
    assert_eq!(after.cache_control, None);
    assert_eq!(after.expires, None);
    assert_eq!(after.website_redirect_location, None);
    assert_eq!(after.server_side_encryption, None);
    assert_eq!(after.object_lock_mode, None);
    assert_eq!(
        after.tags, before.tags,
        "tags follow the default COPY tagging directive"
    );
    assert_eq!(after.etag, before.etag);
    assert_eq!(after.body, before.body);

    // Without content-type a REPLACE copy gets binary/octet-stream.
    s3.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .send()
        .await
        .unwrap();
    assert_eq!(
        lab.object("bkt", "k").unwrap().content_type.as_deref(),
        Some("binary/octet-stream")
    );
}

#[tokio::test]
async fn copy_to_itself_without_change_is_illegal() {
    let (lab, s3) = start().await;
    let before = lab.put_object("bkt", "k", full_seed());
    let err = s3
        .copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 400);
    let svc = err.into_service_error();
    assert_eq!(svc.code(), Some("InvalidRequest"));
    assert!(
        svc.message()
            .unwrap_or_default()
            .contains("copy an object to itself"),
        "{svc:?}"
    );
    assert_eq!(lab.object("bkt", "k").unwrap(), before);
}

#[tokio::test]
async fn copy_resets_acl_unless_grants_are_sent() {
    let (lab, s3) = start().await;
    lab.put_object(
        "bkt",
        "k",
        ObjectSeed {
            acl: Some("public-read".into()),
            ..ObjectSeed::with_body("x")
        },
    );
    let acl = s3
        .get_object_acl()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 2);

    s3.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .send()
        .await
        .unwrap();
    let acl = s3
        .get_object_acl()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 1, "a copy is private");
    assert_eq!(
        acl.grants()[0].permission().map(|p| p.as_str()),
        Some("FULL_CONTROL")
    );

    s3.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .grant_read("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"")
        .grant_full_control(format!("id=\"{}\"", lab::LAB_OWNER_ID))
        .send()
        .await
        .unwrap();
    let obj = lab.object("bkt", "k").unwrap();
    assert_eq!(obj.grants.len(), 2);
    let all_users = Grantee::Group {
        uri: "http://acs.amazonaws.com/groups/global/AllUsers".into(),
    };
    assert!(obj
        .grants
        .iter()
        .any(|g| g.permission == "READ" && g.grantee == all_users));
}

#[tokio::test]
async fn copy_conditions_fail_with_412() {
    let (lab, s3) = start().await;
    let before = lab.put_object("bkt", "k", full_seed());
    let err = s3
        .copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .copy_source_if_match("\"00000000000000000000000000000000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 412);
    assert_eq!(lab.object("bkt", "k").unwrap(), before);

    // Destination If-Match (not modelled by this SDK's CopyObject): sent as a raw header.
    let err = s3
        .copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .customize()
        .mutate_request(|req| {
            req.headers_mut()
                .insert("if-match", "\"ffffffffffffffffffffffffffffffff\"");
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 412);
    assert_eq!(lab.object("bkt", "k").unwrap(), before);

    let etag = before.etag.clone();
    s3.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .customize()
        .mutate_request(move |req| {
            req.headers_mut().insert("if-match", etag.clone());
        })
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn versioned_copy_keeps_the_noncurrent_version() {
    let (lab, s3) = start().await;
    lab.set_versioning("bkt", true);
    let first = lab.put_object("bkt", "dir/a b+c", full_seed());
    let source = format!(
        "bkt/dir/a%20b%2Bc?versionId={}",
        first.version_id.as_deref().unwrap()
    );
    let out = s3
        .copy_object()
        .bucket("bkt")
        .key("dir/a b+c")
        .copy_source(source)
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(out.copy_source_version_id(), first.version_id.as_deref());
    let versions = lab.versions("bkt", "dir/a b+c");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].version_id.as_deref(), out.version_id());
    assert_eq!(versions[1], first);
    let h = s3
        .head_object()
        .bucket("bkt")
        .key("dir/a b+c")
        .version_id(first.version_id.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("text/html; charset=utf-8"));
    let listed = s3
        .list_object_versions()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.versions().len(), 2);

    s3.delete_object()
        .bucket("bkt")
        .key("dir/a b+c")
        .send()
        .await
        .unwrap();
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("dir/a b+c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 404);
    assert!(lab.object("bkt", "dir/a b+c").is_none());
    assert_eq!(lab.versions("bkt", "dir/a b+c").len(), 3);
}

#[tokio::test]
async fn multipart_copy_reproduces_the_bytes() {
    let (lab, s3) = start().await;
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let src = lab.put_object("bkt", "src", ObjectSeed::with_body(body.clone()));
    let up = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("dst")
        .content_type("application/octet-stream")
        .metadata("m", "1")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, range) in [
        (1, "bytes=0-3999"),
        (2, "bytes=4000-7999"),
        (3, "bytes=8000-9999"),
    ] {
        let out = s3
            .upload_part_copy()
            .bucket("bkt")
            .key("dst")
            .upload_id(id)
            .part_number(n)
            .copy_source("bkt/src")
            .copy_source_range(range)
            .copy_source_if_match(&src.etag)
            .send()
            .await
            .unwrap();
        let etag = out.copy_part_result().unwrap().e_tag().unwrap().to_owned();
        parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    let err = s3
        .upload_part_copy()
        .bucket("bkt")
        .key("dst")
        .upload_id(id)
        .part_number(4)
        .copy_source("bkt/src")
        .copy_source_if_match("\"bad\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 412);
    let done = s3
        .complete_multipart_upload()
        .bucket("bkt")
        .key("dst")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-3\""),
        "{:?}",
        done.e_tag()
    );
    let dst = lab.object("bkt", "dst").unwrap();
    assert_eq!(&dst.body[..], &body[..]);
    assert_eq!(dst.parts_count, Some(3));
    assert_eq!(dst.metadata.get("m").map(String::as_str), Some("1"));
    assert_eq!(lab.open_multipart_uploads("bkt"), 0);
    let h = s3
        .head_object()
        .bucket("bkt")
        .key("dst")
        .send()
        .await
        .unwrap();
    assert_eq!(h.parts_count(), Some(3));

    // Copying a multipart object makes it single-part with an MD5 etag.
    s3.copy_object()
        .bucket("bkt")
        .key("dst")
        .copy_source("bkt/dst")
        .metadata_directive(MetadataDirective::Replace)
        .send()
        .await
        .unwrap();
    assert_eq!(lab.object("bkt", "dst").unwrap().etag, src.etag);
}

#[tokio::test]
async fn abort_leaves_no_upload_open() {
    let (lab, s3) = start().await;
    lab.create_bucket("bkt");
    let up = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    s3.upload_part()
        .bucket("bkt")
        .key("k")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.open_multipart_uploads("bkt"), 1);
    let listed = s3
        .list_multipart_uploads()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.uploads().len(), 1);
    s3.abort_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(up.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(lab.open_multipart_uploads("bkt"), 0);
    assert!(lab.object("bkt", "k").is_none());
}

#[tokio::test]
async fn tags_follow_the_tagging_directive() {
    let (lab, s3) = start().await;
    lab.put_object("bkt", "k", full_seed());
    s3.copy_object()
        .bucket("bkt")
        .key("k2")
        .copy_source("bkt/k")
        .send()
        .await
        .unwrap();
    let t = s3
        .get_object_tagging()
        .bucket("bkt")
        .key("k2")
        .send()
        .await
        .unwrap();
    assert_eq!(t.tag_set().len(), 2);
    s3.copy_object()
        .bucket("bkt")
        .key("k3")
        .copy_source("bkt/k")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("only=one")
        .send()
        .await
        .unwrap();
    assert_eq!(
        lab.object("bkt", "k3").unwrap().tags,
        vec![("only".to_owned(), "one".to_owned())]
    );
}

#[tokio::test]
async fn put_and_get_round_trip_headers() {
    let (lab, s3) = start().await;
    lab.create_bucket("bkt");
    s3.put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"data"))
        .content_type("text/css")
        .cache_control("no-cache")
        .metadata("Color", "blue")
        .storage_class(StorageClass::Glacier)
        .website_redirect_location("/x")
        .tagging("a=1&b=2")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let obj = lab.object("bkt", "k").unwrap();
    assert_eq!(obj.metadata.get("color").map(String::as_str), Some("blue"));
    assert_eq!(obj.storage_class.as_deref(), Some("GLACIER"));
    assert_eq!(obj.tags.len(), 2);
    assert_eq!(obj.grants.len(), 2);
    let got = s3.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(got.cache_control(), Some("no-cache"));
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"data");
}

#[tokio::test]
async fn sse_c_head_without_key_is_400() {
    let (lab, s3) = start().await;
    let key = aws_smithy_types::base64::encode([9u8; 32]);
    lab.create_bucket("bkt");
    s3.put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"secret"))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .send()
        .await
        .unwrap();
    let stored = lab.object("bkt", "k").unwrap();
    assert_eq!(stored.sse_customer_algorithm.as_deref(), Some("AES256"));
    assert!(stored.sse_customer_key_md5.is_some());
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 400);
    s3.head_object()
        .bucket("bkt")
        .key("k")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn stats_count_requests_and_reuse_connections() {
    let (lab, s3) = start().await;
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    lab.reset_stats();
    for _ in 0..50 {
        s3.head_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .unwrap();
    }
    let stats = lab.stats();
    assert_eq!(stats.count("HeadObject"), 50);
    assert_eq!(stats.total(), 50);
    assert!(
        stats.connections <= 2,
        "keep-alive: {} connections",
        stats.connections
    );
}

#[tokio::test]
async fn latency_is_injected() {
    let lab = Lab::start(LabConfig {
        port: 0,
        latency: Duration::from_millis(150),
    })
    .await
    .unwrap();
    let s3 = lab::client(&lab);
    lab.create_bucket("bkt");
    let t = Instant::now();
    s3.head_bucket().bucket("bkt").send().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    lab.set_latency(Duration::ZERO);
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_many_objects_and_serves_concurrent_heads() {
    let (lab, s3) = start().await;
    let t = Instant::now();
    for i in 0..100_000 {
        lab.put_object(
            "bkt",
            &format!("d{}/k{i:06}", i % 10),
            ObjectSeed::with_body("x"),
        );
    }
    let seeding = t.elapsed();
    assert_eq!(lab.object_count("bkt"), 100_000);
    let page = s3
        .list_objects_v2()
        .bucket("bkt")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(page.common_prefixes().len(), 10);
    lab.reset_stats();
    let t = Instant::now();
    let heads = (0..300).map(|i| {
        let s3 = s3.clone();
        tokio::spawn(async move {
            s3.head_object()
                .bucket("bkt")
                .key(format!("d{}/k{i:06}", i % 10))
                .send()
                .await
                .map(|_| ())
        })
    });
    for h in futures::future::join_all(heads).await {
        h.unwrap().unwrap();
    }
    assert_eq!(lab.stats().count("HeadObject"), 300);
    eprintln!(
        "seeded 100k in {seeding:?}; 300 concurrent HEADs in {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn non_ascii_metadata_comes_back_rfc2047_encoded() {
    let (lab, s3) = start().await;
    let mut seed = ObjectSeed::with_body("x");
    seed.metadata.insert("name".into(), "caf\u{e9}".into());
    lab.put_object("bkt", "k", seed);
    let h = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(h.metadata().unwrap()["name"], "=?UTF-8?B?Y2Fmw6k=?=");
}
