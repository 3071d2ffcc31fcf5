//! The lab against the real aws-sdk-s3 client: it must behave like S3 where s3mend relies on it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, EncodingType, MetadataDirective, StorageClass,
    TaggingDirective,
};
use s3mend_lab::{self as lab, AclMode, Grant, Grantee, Lab, LabConfig, LabHandle, ObjectSeed};

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

/// ListObjects v1, as s3cmd and rclone (for "Other" providers) page through it: by the last key
/// without a delimiter, by NextMarker (which may be a common prefix) with one.
#[tokio::test]
async fn list_objects_v1_pages_by_marker() {
    let (lab, s3) = start().await;
    for i in 0..1500 {
        lab.put_object("bkt", &format!("k{i:05}"), ObjectSeed::with_body("x"));
    }
    for dir in ["d1/", "d2/"] {
        for i in 0..3 {
            lab.put_object("bkt", &format!("{dir}{i}"), ObjectSeed::with_body("x"));
        }
    }
    let mut keys = Vec::new();
    let mut marker = None;
    loop {
        let page = s3
            .list_objects()
            .bucket("bkt")
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(page.next_marker(), None, "no delimiter, no NextMarker");
        keys.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
        if page.is_truncated() != Some(true) {
            break;
        }
        marker = keys.last().cloned();
    }
    assert_eq!(keys.len(), 1506);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));

    let first = s3
        .list_objects()
        .bucket("bkt")
        .delimiter("/")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert_eq!(first.is_truncated(), Some(true));
    assert_eq!(first.next_marker(), Some("d1/"));
    let second = s3
        .list_objects()
        .bucket("bkt")
        .delimiter("/")
        .max_keys(1)
        .marker("d1/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = second
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["d2/"], "the marker skips everything under d1/");
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
    // Exactly the grants sent, as s3mend re-sends them from GetObjectAcl.
    assert_eq!(lab.object("bkt", "k").unwrap().grants, public_site_grants());
    let acl = s3
        .get_object_acl()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 2);
    assert_eq!(
        acl.grants()[1].grantee().and_then(|g| g.uri()),
        Some(ALL_USERS)
    );
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// Owner FULL_CONTROL plus public READ, in the order the grant headers list them.
fn public_site_grants() -> Vec<Grant> {
    vec![
        Grant {
            grantee: Grantee::CanonicalUser {
                id: lab::LAB_OWNER_ID.into(),
                display_name: Some(lab::LAB_OWNER_NAME.into()),
            },
            permission: "FULL_CONTROL".into(),
        },
        Grant {
            grantee: Grantee::Group {
                uri: ALL_USERS.into(),
            },
            permission: "READ".into(),
        },
    ]
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
async fn a_conditional_delete_needs_the_current_etag() {
    let (lab, s3) = start().await;
    lab.set_versioning("bkt", true);
    let first = lab.put_object("bkt", "k", full_seed());
    let delete = |etag: &str| {
        s3.delete_object()
            .bucket("bkt")
            .key("k")
            .if_match(etag)
            .send()
    };
    let err = delete("\"0123\"").await.unwrap_err();
    assert_eq!(status(&err), 412);
    assert_eq!(lab.versions("bkt", "k").len(), 1, "nothing deleted");
    delete(first.etag.as_str()).await.unwrap();
    assert!(lab.object("bkt", "k").is_none());
    // Evaluated on the current version: a delete marker is no object.
    let err = delete(first.etag.as_str()).await.unwrap_err();
    assert_eq!(status(&err), 404);
    assert_eq!(lab.versions("bkt", "k").len(), 2);
}

#[tokio::test]
async fn multipart_copy_reproduces_the_bytes() {
    let (lab, s3) = start().await;
    // Parts of S3's 5 MiB minimum but the last, which the lab enforces as S3 does.
    let body: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
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
        (1, "bytes=0-5242879"),
        (2, "bytes=5242880-10485759"),
        (3, "bytes=10485760-12582911"),
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
        // Not GLACIER: an archived object's GET is refused (ranged_gets_answer_as_s3_does).
        .storage_class(StorageClass::StandardIa)
        .website_redirect_location("/x")
        .tagging("a=1&b=2")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let obj = lab.object("bkt", "k").unwrap();
    assert_eq!(obj.metadata.get("color").map(String::as_str), Some("blue"));
    assert_eq!(obj.storage_class.as_deref(), Some("STANDARD_IA"));
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
        latency: Duration::from_millis(150),
        ..LabConfig::default()
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

/// A client that reports the first 500 instead of retrying it, so injected faults are visible.
fn no_retry_client(lab: &Lab) -> aws_sdk_s3::Client {
    let config = lab::client(lab)
        .config()
        .to_builder()
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn code<E: ProvideErrorMetadata>(err: SdkError<E, HttpResponse>) -> String {
    err.code().unwrap_or_default().to_owned()
}

/// What a concurrent writer leaves: a different body and type.
fn writer_seed() -> ObjectSeed {
    ObjectSeed {
        content_type: Some("text/plain".into()),
        ..ObjectSeed::with_body("the writer's version")
    }
}

#[tokio::test]
async fn race_hook_makes_the_conditional_copy_fail_and_keeps_the_writer() {
    let (lab, s3) = start().await;
    lab.put_object("bkt", "k", full_seed());
    let etag = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    lab.before_next_copy("bkt", "k", move |h: &LabHandle| {
        counted.fetch_add(1, Ordering::SeqCst);
        h.put_object("bkt", "k", writer_seed());
    });
    // A copy to another destination does not trigger it.
    s3.copy_object()
        .bucket("bkt")
        .key("other")
        .copy_source("bkt/k")
        .send()
        .await
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    let err = s3
        .copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/html")
        .copy_source_if_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 412);
    assert_eq!(code(err), "PreconditionFailed");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let now = lab.object("bkt", "k").unwrap();
    assert_eq!(&now.body[..], b"the writer's version");
    assert_eq!(now.content_type.as_deref(), Some("text/plain"));

    // Once only: the re-planned copy with the new etag succeeds and the hook stays quiet.
    s3.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/html")
        .copy_source_if_match(&now.etag)
        .send()
        .await
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        lab.object("bkt", "k").unwrap().content_type.as_deref(),
        Some("text/html")
    );

    // The destination If-Match alone catches the writer too. (It must write other bytes: the
    // etag is their MD5, so rewriting the same bytes would rightly go unnoticed.)
    let etag = lab.object("bkt", "k").unwrap().etag;
    lab.handle().before_next_copy("bkt", "k", |h| {
        h.put_object(
            "bkt",
            "k",
            ObjectSeed {
                body: "a second writer".into(),
                ..writer_seed()
            },
        );
    });
    let err = s3
        .copy_object()
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
        .unwrap_err();
    assert_eq!(status(&err), 412);
    assert_eq!(
        lab.object("bkt", "k").unwrap().content_type.as_deref(),
        Some("text/plain")
    );
}

#[tokio::test]
async fn race_hook_before_a_multipart_copy() {
    let (lab, s3) = start().await;
    let before = lab.put_object("bkt", "big", ObjectSeed::with_body(vec![7u8; 4000]));
    let handle = lab.handle();
    lab.before_next_copy("bkt", "big", |h| {
        h.put_object("bkt", "big", writer_seed());
    });
    let up = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("big")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let err = s3
        .upload_part_copy()
        .bucket("bkt")
        .key("big")
        .upload_id(id)
        .part_number(1)
        .copy_source("bkt/big")
        .copy_source_range("bytes=0-1999")
        .copy_source_if_match(&before.etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 412);
    s3.abort_multipart_upload()
        .bucket("bkt")
        .key("big")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(handle.open_multipart_uploads("bkt"), 0);
    assert_eq!(
        &handle.object("bkt", "big").unwrap().body[..],
        b"the writer's version"
    );
}

#[tokio::test]
async fn fail_next_fails_exactly_count_times() {
    let (lab, _) = start().await;
    let s3 = no_retry_client(&lab);
    let before = lab.put_object("bkt", "k", full_seed());
    lab.put_object("bkt", "other", ObjectSeed::with_body("x"));
    lab.reset_stats();
    lab.fail_next("HeadObject", "k", 2);
    for _ in 0..2 {
        let err = s3
            .head_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .unwrap_err();
        assert_eq!(status(&err), 500);
        // Other keys and other operations are unaffected meanwhile.
        s3.head_object()
            .bucket("bkt")
            .key("other")
            .send()
            .await
            .unwrap();
        s3.get_object_acl()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .unwrap();
    }
    s3.head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    let stats = lab.stats();
    assert_eq!(stats.count("HeadObject"), 5, "faulted requests are counted");
    assert_eq!(stats.count("GetObjectAcl"), 2);

    lab.fail_next("CopyObject", "k", 1);
    let copy = || {
        s3.copy_object()
            .bucket("bkt")
            .key("k")
            .copy_source("bkt/k")
            .metadata_directive(MetadataDirective::Replace)
            .copy_source_if_match(&before.etag)
            .send()
    };
    let err = copy().await.unwrap_err();
    assert_eq!(status(&err), 500);
    assert_eq!(code(err), "InternalError");
    assert_eq!(lab.object("bkt", "k").unwrap(), before, "nothing was done");
    copy().await.unwrap();

    lab.fail_next("GetObjectAcl", "k", 1);
    let err = s3
        .get_object_acl()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 500);

    let up = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("dst")
        .send()
        .await
        .unwrap();
    lab.fail_next("UploadPartCopy", "dst", 1);
    let part = || {
        s3.upload_part_copy()
            .bucket("bkt")
            .key("dst")
            .upload_id(up.upload_id().unwrap())
            .part_number(1)
            .copy_source("bkt/k")
            .send()
    };
    assert_eq!(status(&part().await.unwrap_err()), 500);
    part().await.unwrap();

    // The default client retries a 500: one call, two requests.
    lab.fail_next("HeadObject", "k", 1);
    lab.reset_stats();
    lab::client(&lab)
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(lab.stats().count("HeadObject"), 2);
}

#[tokio::test]
async fn owner_enforced_bucket_rejects_acls_but_reads_them() {
    let (lab, s3) = start().await;
    let before = lab.put_object(
        "bkt",
        "k",
        ObjectSeed {
            acl: Some("public-read".into()),
            owner_id: Some("f".repeat(64)),
            ..full_seed()
        },
    );
    lab.set_acl_mode("bkt", AclMode::OwnerEnforced);

    let acl = s3
        .get_object_acl()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(lab::LAB_OWNER_ID));
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(
        acl.grants()[0].grantee().and_then(|g| g.id()),
        Some(lab::LAB_OWNER_ID)
    );
    assert_eq!(
        acl.grants()[0].permission().map(|p| p.as_str()),
        Some("FULL_CONTROL")
    );

    let not_supported = |err: SdkError<_, HttpResponse>| {
        assert_eq!(status(&err), 400);
        assert_eq!(code(err), "AccessControlListNotSupported");
    };
    not_supported(
        s3.put_object_acl()
            .bucket("bkt")
            .key("k")
            .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
            .send()
            .await
            .unwrap_err(),
    );
    let copy = || {
        s3.copy_object()
            .bucket("bkt")
            .key("k")
            .copy_source("bkt/k")
            .metadata_directive(MetadataDirective::Replace)
    };
    let err = copy()
        .grant_read(format!("uri=\"{ALL_USERS}\""))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 400);
    assert_eq!(code(err), "AccessControlListNotSupported");
    let err = copy()
        .acl(aws_sdk_s3::types::ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "AccessControlListNotSupported");
    let err = s3
        .put_object()
        .bucket("bkt")
        .key("new")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "AccessControlListNotSupported");
    let err = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("new")
        .grant_full_control(format!("id=\"{}\"", lab::LAB_OWNER_ID))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "AccessControlListNotSupported");
    assert_eq!(lab.open_multipart_uploads("bkt"), 0);
    assert_eq!(lab.object("bkt", "k").unwrap(), before);

    // No ACL, or bucket-owner-full-control, is accepted.
    copy().send().await.unwrap();
    copy()
        .acl(aws_sdk_s3::types::ObjectCannedAcl::BucketOwnerFullControl)
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("new")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::BucketOwnerFullControl)
        .send()
        .await
        .unwrap();
    assert_eq!(lab.object("bkt", "k").unwrap().grants.len(), 1);
}

#[tokio::test]
async fn acl_not_implemented_bucket_answers_501_and_ignores_grants() {
    let (lab, s3) = start().await;
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    lab.set_acl_mode("bkt", AclMode::NotImplemented);
    let err = s3
        .get_object_acl()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 501);
    assert_eq!(code(err), "NotImplemented");
    let err = s3
        .put_object_acl()
        .bucket("bkt")
        .key("k")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 501);

    s3.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .metadata_directive(MetadataDirective::Replace)
        .grant_read(format!("uri=\"{ALL_USERS}\""))
        .grant_full_control(format!("id=\"{}\"", lab::LAB_OWNER_ID))
        .send()
        .await
        .unwrap();
    let obj = lab.object("bkt", "k").unwrap();
    assert_eq!(obj.grants.len(), 1, "grant headers are ignored");
    assert_eq!(obj.grants[0].permission, "FULL_CONTROL");

    // Switching back shows what the bucket kept: ACLs enabled again, as on S3.
    lab.set_acl_mode("bkt", AclMode::Enabled);
    s3.get_object_acl()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn foreign_owner_shows_in_the_acl_and_a_copy_takes_it_over() {
    let (lab, s3) = start().await;
    let foreign = "0123456789abcdef".repeat(4);
    lab.put_object(
        "bkt",
        "k",
        ObjectSeed {
            owner_id: Some(foreign.clone()),
            acl: Some("bucket-owner-full-control".into()),
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
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(foreign.as_str()));
    let ids: Vec<_> = acl
        .grants()
        .iter()
        .filter_map(|g| g.grantee().and_then(|g| g.id()))
        .collect();
    assert_eq!(ids, [foreign.as_str(), lab::LAB_OWNER_ID]);

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
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(lab::LAB_OWNER_ID));
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(
        acl.grants()[0].grantee().and_then(|g| g.id()),
        Some(lab::LAB_OWNER_ID)
    );
    assert_eq!(lab.object("bkt", "k").unwrap().owner_id, lab::LAB_OWNER_ID);
}

/// `full_seed` plus non-ASCII metadata and the public-site ACL: everything a repair must keep.
fn repair_seed() -> ObjectSeed {
    let mut seed = full_seed();
    seed.metadata
        .insert("name".into(), "caf\u{e9} \u{1f600}".into());
    seed.grants = public_site_grants();
    seed
}

/// A REPLACE copy built from HEAD and GetObjectAcl the way `s3mend fix` builds it.
#[tokio::test]
async fn replace_copy_resending_head_and_acl_is_lossless() {
    let (lab, s3) = start().await;
    let before = lab.put_object("bkt", "k", repair_seed());
    let h = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(h.metadata().unwrap()["name"].starts_with("=?UTF-8?B?"));
    let expires = aws_smithy_types::DateTime::from_str(
        h.expires_string().unwrap(),
        aws_smithy_types::date_time::Format::HttpDate,
    )
    .unwrap();
    s3.copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source("bkt/k")
        .copy_source_if_match(h.e_tag().unwrap())
        .metadata_directive(MetadataDirective::Replace)
        .set_content_type(h.content_type().map(str::to_owned))
        .set_content_encoding(h.content_encoding().map(str::to_owned))
        .set_cache_control(h.cache_control().map(str::to_owned))
        .set_content_disposition(h.content_disposition().map(str::to_owned))
        .set_content_language(h.content_language().map(str::to_owned))
        .expires(expires)
        .set_metadata(h.metadata().cloned())
        .storage_class(h.storage_class().cloned().unwrap_or(StorageClass::Standard))
        .set_website_redirect_location(h.website_redirect_location().map(str::to_owned))
        .set_server_side_encryption(h.server_side_encryption().cloned())
        .set_ssekms_key_id(h.ssekms_key_id().map(str::to_owned))
        .set_bucket_key_enabled(h.bucket_key_enabled())
        .set_object_lock_mode(h.object_lock_mode().cloned())
        .set_object_lock_retain_until_date(h.object_lock_retain_until_date().cloned())
        .set_object_lock_legal_hold_status(h.object_lock_legal_hold_status().cloned())
        .grant_read(format!("uri=\"{ALL_USERS}\""))
        .grant_full_control(format!("id=\"{}\"", lab::LAB_OWNER_ID))
        .send()
        .await
        .unwrap();
    let after = lab.object("bkt", "k").unwrap();
    assert_eq!(after.metadata["name"], "caf\u{e9} \u{1f600}");
    assert_eq!(after.grants, public_site_grants());
    assert_eq!(after.tags, before.tags, "default tagging directive: COPY");
    assert_eq!(
        after.object_lock_retain_until.as_deref(),
        Some("2037-01-01T00:00:00.000Z")
    );
    // Only the modification time changes.
    let expected = lab::StoredObject {
        last_modified: after.last_modified,
        ..before
    };
    assert_eq!(after, expected);
}

/// The >5 GiB path: CreateMultipartUpload with everything, UploadPartCopy with source
/// conditions, CompleteMultipartUpload with a destination If-Match.
#[tokio::test]
async fn multipart_in_place_copy_keeps_everything_and_checks_the_destination() {
    let (lab, s3) = start().await;
    let body: Vec<u8> = (0..6u32 << 20).map(|i| (i % 253) as u8).collect();
    let before = lab.put_object(
        "bkt",
        "k",
        ObjectSeed {
            body: body.into(),
            ..repair_seed()
        },
    );
    let h = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    let etag = h.e_tag().unwrap().to_owned();
    let up = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("k")
        .set_content_type(h.content_type().map(str::to_owned))
        .set_content_encoding(h.content_encoding().map(str::to_owned))
        .set_cache_control(h.cache_control().map(str::to_owned))
        .set_content_disposition(h.content_disposition().map(str::to_owned))
        .set_content_language(h.content_language().map(str::to_owned))
        .expires(
            aws_smithy_types::DateTime::from_str(
                h.expires_string().unwrap(),
                aws_smithy_types::date_time::Format::HttpDate,
            )
            .unwrap(),
        )
        .set_metadata(h.metadata().cloned())
        .set_storage_class(h.storage_class().cloned())
        .set_website_redirect_location(h.website_redirect_location().map(str::to_owned))
        .set_server_side_encryption(h.server_side_encryption().cloned())
        .set_ssekms_key_id(h.ssekms_key_id().map(str::to_owned))
        .set_bucket_key_enabled(h.bucket_key_enabled())
        .set_object_lock_mode(h.object_lock_mode().cloned())
        .set_object_lock_retain_until_date(h.object_lock_retain_until_date().cloned())
        .set_object_lock_legal_hold_status(h.object_lock_legal_hold_status().cloned())
        .tagging("k=v&team=a")
        .grant_read(format!("uri=\"{ALL_USERS}\""))
        .grant_full_control(format!("id=\"{}\"", lab::LAB_OWNER_ID))
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, range) in [(1, "bytes=0-5242879"), (2, "bytes=5242880-6291455")] {
        let out = s3
            .upload_part_copy()
            .bucket("bkt")
            .key("k")
            .upload_id(id)
            .part_number(n)
            .copy_source("bkt/k")
            .copy_source_range(range)
            .copy_source_if_match(&etag)
            .send()
            .await
            .unwrap();
        let part_etag = out.copy_part_result().unwrap().e_tag().unwrap().to_owned();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(part_etag)
                .build(),
        );
    }
    let complete = |if_match: &str| {
        s3.complete_multipart_upload()
            .bucket("bkt")
            .key("k")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts.clone()))
                    .build(),
            )
            .if_match(if_match)
            .send()
    };
    let err = complete("\"0123456789abcdef0123456789abcdef\"")
        .await
        .unwrap_err();
    assert_eq!(status(&err), 412);
    assert_eq!(lab.object("bkt", "k").unwrap(), before);
    assert_eq!(lab.open_multipart_uploads("bkt"), 1, "S3 keeps the upload");
    complete(&etag).await.unwrap();
    assert_eq!(lab.open_multipart_uploads("bkt"), 0);

    let after = lab.object("bkt", "k").unwrap();
    assert!(after.etag.ends_with("-2\""), "{}", after.etag);
    // Created without a checksum algorithm, the upload gets S3's default.
    let checksum = after.checksum.clone().unwrap();
    assert_eq!(
        (checksum.algorithm.as_str(), checksum.kind.as_str()),
        ("CRC64NVME", "FULL_OBJECT")
    );
    let expected = lab::StoredObject {
        last_modified: after.last_modified,
        etag: after.etag.clone(),
        parts_count: Some(2),
        checksum: Some(checksum),
        ..before
    };
    assert_eq!(after, expected);

    // A failed run aborts: no upload is left open (and so no storage is billed).
    let up = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    let err = s3
        .complete_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(CompletedMultipartUpload::builder().build())
        .if_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 400);
    s3.abort_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(up.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(lab.open_multipart_uploads("bkt"), 0);
}

// ---- Seeded random faults and latency distributions ----

use s3mend_lab::{FaultRates, Faults, LatencyDist};

/// What one raw (unretried) request met, comparable with [`Faults::preview`].
fn outcome<E: ProvideErrorMetadata + std::fmt::Debug>(
    result: &Result<impl Sized, SdkError<E, HttpResponse>>,
) -> Option<&'static str> {
    match result {
        Ok(_) => None,
        Err(SdkError::DispatchFailure(_)) => Some("Reset"),
        Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
            Some(503) => Some("SlowDown"),
            Some(500) => Some("InternalError"),
            _ => panic!("unexpected error: {e:?}"),
        },
    }
}

/// A standard-retry client (3 attempts) with a short backoff, so hundreds of retries stay fast.
fn quick_retry_client(lab: &Lab) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::retry::RetryConfig;
    let config = lab::client(lab)
        .config()
        .to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(2)),
        )
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn only(op: &str, rates: FaultRates) -> Faults {
    Faults::seeded(7).on(op, rates)
}

#[tokio::test]
async fn slow_down_and_internal_error_look_like_s3() {
    let (lab, _) = start().await;
    let s3 = no_retry_client(&lab);
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    let always_slow = FaultRates {
        slow_down: 1.0,
        ..FaultRates::default()
    };
    lab.set_faults(Faults::seeded(1).on_each(&["HeadObject", "GetObject"], always_slow));
    let err = s3
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 503, "HEAD: the status alone, no body");
    let err = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 503);
    assert_eq!(err.message(), Some("Please reduce your request rate."));
    assert_eq!(
        code(err),
        "SlowDown",
        "the SDK's list of throttling codes has it"
    );
    // Other operations are untouched.
    s3.get_object_acl()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();

    lab.set_faults(only(
        "GetObject",
        FaultRates {
            internal_error: 1.0,
            ..FaultRates::default()
        },
    ));
    let err = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 500);
    assert_eq!(
        err.message(),
        Some("We encountered an internal error. Please try again.")
    );
    assert_eq!(code(err), "InternalError");

    lab.clear_faults();
    s3.get_object().bucket("bkt").key("k").send().await.unwrap();
    let stats = lab.stats();
    assert_eq!(stats.fault_count("HeadObject", "SlowDown"), 1);
    assert_eq!(stats.fault_count("GetObject", "SlowDown"), 1);
    assert_eq!(stats.fault_count("GetObject", "InternalError"), 1);
    assert_eq!(stats.total_faults(), 3);
}

#[tokio::test]
async fn a_reset_is_a_dispatch_failure_that_the_sdk_retries() {
    let (lab, _) = start().await;
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    lab.set_faults(only(
        "HeadObject",
        FaultRates {
            reset: 1.0,
            ..FaultRates::default()
        },
    ));
    let err = no_retry_client(&lab)
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    let SdkError::DispatchFailure(failure) = &err else {
        panic!("expected a dispatch failure: {err:?}");
    };
    assert!(
        failure.is_io(),
        "an I/O error, not a timeout or user error: {err:?}"
    );
    // A real TCP RST (ECONNRESET), not an orderly close.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut kinds = Vec::new();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            kinds.push(io.kind());
        }
        source = e.source();
    }
    assert!(
        kinds.contains(&std::io::ErrorKind::ConnectionReset),
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    );
    assert!(err.raw_response().is_none(), "no response at all");

    // The standard client retries it: 3 attempts, each on a fresh connection.
    lab.reset_stats();
    let err = quick_retry_client(&lab)
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    let stats = lab.stats();
    assert_eq!(stats.count("HeadObject"), 3);
    assert_eq!(stats.fault_count("HeadObject", "Reset"), 3);
    assert_eq!(stats.connections, 3, "a reset connection is not reused");

    // Half the HEADs reset: with retries every call but a rare one gets through.
    lab.set_faults(only(
        "HeadObject",
        FaultRates {
            reset: 0.5,
            ..FaultRates::default()
        },
    ));
    lab.reset_stats();
    let s3 = quick_retry_client(&lab);
    let mut failed = 0;
    for _ in 0..20 {
        failed += usize::from(
            s3.head_object()
                .bucket("bkt")
                .key("k")
                .send()
                .await
                .is_err(),
        );
    }
    let stats = lab.stats();
    assert!(stats.fault_count("HeadObject", "Reset") >= 5, "{stats:?}");
    assert!(failed <= 8, "{failed} of 20 failed");
}

#[tokio::test]
async fn rates_hold_and_a_seed_replays_the_same_faults() {
    let faults = Faults::seeded(42).on(
        "HeadObject",
        FaultRates {
            slow_down: 0.10,
            internal_error: 0.02,
            reset: 0.01,
            ..FaultRates::default()
        },
    );
    let n = 2_000;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (lab, _) = start().await;
        lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
        lab.set_faults(faults.clone());
        let s3 = no_retry_client(&lab);
        let mut seen = Vec::with_capacity(n);
        for _ in 0..n {
            seen.push(outcome(
                &s3.head_object().bucket("bkt").key("k").send().await,
            ));
        }
        let stats = lab.stats();
        for kind in ["SlowDown", "InternalError", "Reset"] {
            let observed = seen.iter().filter(|o| **o == Some(kind)).count() as u64;
            assert_eq!(stats.fault_count("HeadObject", kind), observed, "{kind}");
        }
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1], "same seed, same order: same faults");
    assert_eq!(runs[0], faults.preview("HeadObject", n), "and as previewed");
    let count = |kind| runs[0].iter().filter(|o| **o == Some(kind)).count();
    let (slow, internal, reset) = (count("SlowDown"), count("InternalError"), count("Reset"));
    eprintln!("2000 HEADs at 10/2/1 %: {slow} SlowDown, {internal} InternalError, {reset} Reset");
    assert!((140..=260).contains(&slow), "{slow}");
    assert!((15..=65).contains(&internal), "{internal}");
    assert!((5..=40).contains(&reset), "{reset}");
    assert_ne!(
        runs[0],
        Faults::seeded(43)
            .on("HeadObject", *faults.rates("HeadObject").unwrap())
            .preview("HeadObject", n)
    );
}

#[tokio::test]
async fn faulted_writes_change_nothing_but_a_reset_after_does() {
    let (lab, _) = start().await;
    let s3 = no_retry_client(&lab);
    lab.set_versioning("bkt", true);
    let before = lab.put_object("bkt", "k", full_seed());
    let put = || {
        s3.put_object()
            .bucket("bkt")
            .key("k")
            .body(ByteStream::from_static(b"new"))
            .send()
    };
    let copy = || {
        s3.copy_object()
            .bucket("bkt")
            .key("k")
            .copy_source("bkt/k")
            .metadata_directive(MetadataDirective::Replace)
            .content_type("text/plain")
            .send()
    };
    for rates in [
        FaultRates {
            slow_down: 1.0,
            ..FaultRates::default()
        },
        FaultRates {
            internal_error: 1.0,
            ..FaultRates::default()
        },
        FaultRates {
            reset: 1.0,
            ..FaultRates::default()
        },
    ] {
        lab.set_faults(Faults::seeded(1).on_each(&["PutObject", "CopyObject"], rates));
        put().await.unwrap_err();
        copy().await.unwrap_err();
        assert_eq!(lab.versions("bkt", "k"), vec![before.clone()], "{rates:?}");
    }

    // After the write, the reset hides that it happened.
    lab.set_faults(only(
        "CopyObject",
        FaultRates {
            reset_after: 1.0,
            ..FaultRates::default()
        },
    ));
    let err = copy().await.unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    let versions = lab.versions("bkt", "k");
    assert_eq!(versions.len(), 2, "the copy was made");
    assert_eq!(versions[0].content_type.as_deref(), Some("text/plain"));
    assert_eq!(lab.stats().fault_count("CopyObject", "ResetAfter"), 1);
}

#[tokio::test]
async fn a_copy_answered_200_with_an_error_body_is_an_error_and_not_applied() {
    let (lab, _) = start().await;
    let before = lab.put_object("bkt", "k", full_seed());
    lab.set_faults(only(
        "CopyObject",
        FaultRates {
            copy_error_body: 1.0,
            ..FaultRates::default()
        },
    ));
    let copy = |s3: aws_sdk_s3::Client| async move {
        s3.copy_object()
            .bucket("bkt")
            .key("k")
            .copy_source("bkt/k")
            .metadata_directive(MetadataDirective::Replace)
            .content_type("text/plain")
            .send()
            .await
    };
    // aws-sdk-s3 (1.157) parses any CopyObject body that is an <Error> as an error, whatever
    // the status: a service error with the code, not a CopyObjectResult.
    let err = copy(no_retry_client(&lab)).await.unwrap_err();
    assert_eq!(status(&err), 200);
    assert!(matches!(err, SdkError::ServiceError(_)), "{err:?}");
    assert_eq!(code(err), "InternalError");
    assert_eq!(
        lab.object("bkt", "k").unwrap(),
        before,
        "the copy was not made"
    );

    // And S3's retry classifier lists InternalError as transient: the standard client retries.
    lab.reset_stats();
    let err = copy(quick_retry_client(&lab)).await.unwrap_err();
    assert_eq!(code(err), "InternalError");
    assert_eq!(lab.stats().count("CopyObject"), 3);
    assert_eq!(lab.stats().fault_count("CopyObject", "CopyErrorBody"), 3);
    assert_eq!(lab.object("bkt", "k").unwrap(), before);
}

#[tokio::test]
async fn a_stall_holds_the_answer_and_trips_attempt_timeouts() {
    let (lab, _) = start().await;
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    let stall_for = Duration::from_millis(400);
    lab.set_faults(only(
        "HeadObject",
        FaultRates {
            stall: 1.0,
            stall_for,
            ..FaultRates::default()
        },
    ));
    let started = Instant::now();
    no_retry_client(&lab)
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= stall_for, "{:?}", started.elapsed());

    let config = no_retry_client(&lab)
        .config()
        .to_builder()
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(100))
                .build(),
        )
        .build();
    let started = Instant::now();
    let err = aws_sdk_s3::Client::from_conf(config.clone())
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    assert!(started.elapsed() < stall_for);
    assert_eq!(lab.stats().fault_count("HeadObject", "Stall"), 2);

    // A write abandoned during its stall is never applied: the client closes the connection
    // and hyper drops the pending request with it.
    lab.set_faults(only(
        "PutObject",
        FaultRates {
            stall: 1.0,
            stall_for,
            ..FaultRates::default()
        },
    ));
    let err = aws_sdk_s3::Client::from_conf(config)
        .put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    tokio::time::sleep(stall_for + Duration::from_millis(200)).await;
    assert_eq!(&lab.object("bkt", "k").unwrap().body[..], b"x");
}

/// HEADs through a standard client under a 10 % SlowDown, sequentially: returns the failed
/// calls, after checking them against what the seed predicts.
async fn heads_through_slow_down(s3: &aws_sdk_s3::Client, lab: &Lab, n: usize) -> usize {
    let faults = Faults::seeded(5).on(
        "HeadObject",
        FaultRates {
            slow_down: 0.10,
            ..FaultRates::default()
        },
    );
    lab.set_faults(faults.clone());
    lab.reset_stats();
    let mut failed = 0;
    for _ in 0..n {
        failed += usize::from(
            s3.head_object()
                .bucket("bkt")
                .key("k")
                .send()
                .await
                .is_err(),
        );
    }
    // Predict: each call takes draws until one is clean or 3 attempts are spent.
    let draws = faults.preview("HeadObject", 3 * n);
    let (mut at, mut expect_failed) = (0, 0);
    for _ in 0..n {
        let tries = draws[at..]
            .iter()
            .take(3)
            .take_while(|d| d.is_some())
            .count();
        at += (tries + 1).min(3);
        expect_failed += usize::from(tries == 3);
    }
    assert_eq!(failed, expect_failed);
    assert_eq!(lab.stats().count("HeadObject"), at as u64);
    failed
}

#[tokio::test]
async fn standard_retries_get_through_ten_percent_slow_down() {
    let (lab, _) = start().await;
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    let started = Instant::now();
    let failed = heads_through_slow_down(&quick_retry_client(&lab), &lab, 500).await;
    let stats = lab.stats();
    eprintln!(
        "500 HEADs at 10 % SlowDown: {failed} failed, {} requests, {} SlowDown, {:?}",
        stats.count("HeadObject"),
        stats.fault_count("HeadObject", "SlowDown"),
        started.elapsed()
    );
    assert!(failed <= 3, "{failed}");
}

#[tokio::test]
async fn latency_is_drawn_from_the_distribution() {
    let (lab, s3) = start().await;
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    let (min, max) = (Duration::from_millis(30), Duration::from_millis(60));
    let dist = LatencyDist::Uniform { min, max };
    lab.set_latency_distribution_seeded(dist, 11);
    let expected = dist.samples(11, 10);
    for want in expected {
        let started = Instant::now();
        s3.head_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert!(took >= want && took >= min, "{took:?} < {want:?}");
        // Generous: a loaded 2-core machine adds scheduling noise, never a whole range.
        assert!(
            took < want + Duration::from_millis(25),
            "{took:?} vs {want:?}"
        );
    }
    lab.set_latency(Duration::ZERO);
    let started = Instant::now();
    s3.head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < min);
}

#[tokio::test]
async fn faults_and_latency_can_be_set_at_start() {
    let min = Duration::from_millis(20);
    let lab = Lab::start(LabConfig {
        latency_dist: Some(LatencyDist::Uniform {
            min,
            max: Duration::from_millis(30),
        }),
        faults: Some(only(
            "HeadObject",
            FaultRates {
                slow_down: 1.0,
                ..FaultRates::default()
            },
        )),
        ..LabConfig::default()
    })
    .await
    .unwrap();
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    let started = Instant::now();
    let err = no_retry_client(&lab)
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 503);
    assert!(started.elapsed() >= min);
}

/// A client of the lab signing for `region`, reporting the first error as it is.
fn client_in(lab: &Lab, region: &str) -> aws_sdk_s3::Client {
    let config = no_retry_client(lab)
        .config()
        .to_builder()
        .region(aws_sdk_s3::config::Region::new(region.to_owned()))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[tokio::test]
async fn a_lab_in_another_region_redirects_like_s3() {
    let lab = Lab::start(LabConfig {
        region: Some("eu-west-1".into()),
        ..LabConfig::default()
    })
    .await
    .unwrap();
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    let wrong = client_in(&lab, "us-west-2");

    let err = wrong.head_bucket().bucket("bkt").send().await.unwrap_err();
    assert_eq!(status(&err), 301);
    let raw = err.raw_response().unwrap();
    assert_eq!(raw.headers().get("x-amz-bucket-region"), Some("eu-west-1"));
    assert!(raw.body().bytes().unwrap_or_default().is_empty());

    let err = wrong
        .get_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 301);
    assert_eq!(
        err.raw_response()
            .unwrap()
            .headers()
            .get("x-amz-bucket-region"),
        Some("eu-west-1")
    );
    let message = err.message().unwrap_or_default().to_owned();
    assert_eq!(code(err), "PermanentRedirect");
    assert!(message.starts_with("The bucket you are attempting to access must be addressed"));

    let right = client_in(&lab, "eu-west-1");
    let head = right.head_bucket().bucket("bkt").send().await.unwrap();
    assert_eq!(head.bucket_region(), Some("eu-west-1"));
    let location = right
        .get_bucket_location()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        location.location_constraint().map(|c| c.as_str()),
        Some("eu-west-1")
    );
    right
        .get_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    let stats = lab.stats();
    assert_eq!(stats.fault_count("HEAD", "WrongRegion"), 1, "{stats:?}");
    assert_eq!(stats.fault_count("GET", "WrongRegion"), 1, "{stats:?}");
    assert_eq!(
        stats.count("GetObject"),
        1,
        "only the right one reached s3s"
    );
}

#[tokio::test]
async fn a_lab_in_another_region_may_not_say_which() {
    let lab = Lab::start(LabConfig {
        region: Some("eu-west-1".into()),
        wrong_region: lab::WrongRegion::RedirectWithoutRegion,
        ..LabConfig::default()
    })
    .await
    .unwrap();
    lab.create_bucket("bkt");
    let wrong = client_in(&lab, "us-east-1");
    let err = wrong.head_bucket().bucket("bkt").send().await.unwrap_err();
    assert_eq!(status(&err), 301);
    assert!(err
        .raw_response()
        .unwrap()
        .headers()
        .get("x-amz-bucket-region")
        .is_none());
    let err = wrong
        .list_objects_v2()
        .bucket("bkt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "PermanentRedirect");
}

#[tokio::test]
async fn stall_next_stalls_exactly_count_requests_of_one_key() {
    let (lab, _) = start().await;
    lab.put_object("bkt", "k", ObjectSeed::with_body("x"));
    lab.put_object("bkt", "other", ObjectSeed::with_body("y"));
    let stall = Duration::from_secs(1);
    lab.stall_next("HeadObject", "k", 2, stall);
    let s3 = no_retry_client(&lab);
    let head = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            let started = Instant::now();
            s3.head_object()
                .bucket("bkt")
                .key(key)
                .send()
                .await
                .unwrap();
            started.elapsed()
        }
    };
    assert!(head("other").await < stall);
    assert!(head("k").await >= stall);
    assert!(head("k").await >= stall);
    assert!(head("k").await < stall);
    assert_eq!(lab.stats().fault_count("HeadObject", "StallNext"), 2);
}

/// Ranged GETs as S3 answers them, which the sniff relies on (`docs/s3-behaviour.md`): 206 with
/// `Content-Range`, a range past the end clamped, a range that starts past it (or any range on
/// an empty object) 416, and an archived object 403 InvalidObjectState.
#[tokio::test]
async fn ranged_gets_answer_as_s3_does() {
    let (lab, s3) = start().await;
    lab.create_bucket("ranges");
    let hundred: Vec<u8> = (0..100).collect();
    lab.put_object("ranges", "hundred", ObjectSeed::with_body(hundred.clone()));
    lab.put_object("ranges", "one", ObjectSeed::with_body(vec![0x1f]));
    lab.put_object("ranges", "empty", ObjectSeed::with_body(Vec::new()));
    lab.put_object(
        "ranges",
        "cold",
        ObjectSeed {
            storage_class: Some("GLACIER".into()),
            ..ObjectSeed::with_body(hundred.clone())
        },
    );
    let get = |key: &'static str, range: &'static str| {
        s3.get_object()
            .bucket("ranges")
            .key(key)
            .range(range)
            .send()
    };

    let out = get("hundred", "bytes=0-63").await.unwrap();
    assert_eq!(out.content_range(), Some("bytes 0-63/100"));
    assert_eq!(out.content_length(), Some(64));
    let body = out.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], &hundred[..64]);

    let out = get("one", "bytes=0-63").await.unwrap();
    assert_eq!(out.content_range(), Some("bytes 0-0/1"));
    assert_eq!(&out.body.collect().await.unwrap().into_bytes()[..], &[0x1f]);

    for (key, range) in [("hundred", "bytes=100-163"), ("empty", "bytes=0-63")] {
        let err = get(key, range).await.unwrap_err();
        assert_eq!(status(&err), 416, "{key} {range}");
        assert_eq!(
            err.as_service_error().and_then(|e| e.code()),
            Some("InvalidRange")
        );
    }
    let err = get("cold", "bytes=0-63").await.unwrap_err();
    assert_eq!(status(&err), 403);
    assert_eq!(
        err.as_service_error().and_then(|e| e.code()),
        Some("InvalidObjectState")
    );
}

/// GetBucketAcl names the lab's account as the owner, as S3 names the caller for its own bucket
/// (s3mend reads the caller's canonical id there); a store without ACLs answers 501.
#[tokio::test]
async fn the_bucket_acl_names_its_owner() {
    let (lab, s3) = start().await;
    lab.create_bucket("owned");
    let acl = s3.get_bucket_acl().bucket("owned").send().await.unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(lab::LAB_OWNER_ID));
    let grants: Vec<_> = acl
        .grants()
        .iter()
        .map(|g| {
            (
                g.grantee().and_then(|g| g.id()),
                g.permission().map(|p| p.as_str()),
            )
        })
        .collect();
    assert_eq!(grants, [(Some(lab::LAB_OWNER_ID), Some("FULL_CONTROL"))]);
    lab.set_acl_mode("owned", AclMode::NotImplemented);
    let err = s3
        .get_bucket_acl()
        .bucket("owned")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 501);
    let err = s3.get_bucket_acl().bucket("nope").send().await.unwrap_err();
    assert_eq!(status(&err), 404);
}

// ---- Damaged answers: listings that lie, cut or trickled bodies, lost copy responses ----

use s3mend_lab::{Framing, ListingDamage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the lab sent on one connection, and whether it closed it.
#[derive(Debug, Default)]
struct Wire {
    bytes: Vec<u8>,
    closed: bool,
}

/// A TCP relay in front of the lab that keeps what the lab sends on each connection: the
/// framing of an answer, which the SDK does not show. The SDK signs for the relay's address,
/// and the lab checks the signature against the Host header it receives, so nothing is altered.
struct Tap {
    endpoint: String,
    wires: Arc<std::sync::Mutex<Vec<Arc<std::sync::Mutex<Wire>>>>>,
}

impl Tap {
    async fn start(lab: &Lab) -> Tap {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let wires = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lab_addr = lab.addr();
        let relay_wires = wires.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = tokio::net::TcpStream::connect(lab_addr).await.unwrap();
                let wire = Arc::new(std::sync::Mutex::new(Wire::default()));
                relay_wires.lock().unwrap().push(wire.clone());
                let (mut client_in, mut client_out) = client.into_split();
                let (mut server_in, mut server_out) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_in, &mut server_out).await;
                    let _ = server_out.shutdown().await;
                });
                tokio::spawn(async move {
                    let mut buf = [0; 4096];
                    while let Ok(n @ 1..) = server_in.read(&mut buf).await {
                        wire.lock().unwrap().bytes.extend_from_slice(&buf[..n]);
                        if client_out.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    wire.lock().unwrap().closed = true;
                    let _ = client_out.shutdown().await;
                });
            }
        });
        Tap { endpoint, wires }
    }

    /// A client of the lab through the relay that reports the first failure.
    fn client(&self, lab: &Lab) -> aws_sdk_s3::Client {
        let config = no_retry_client(lab)
            .config()
            .to_builder()
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// The status line, headers and body of the one answer on the last connection, and
    /// whether the lab has closed it. Read after the client is done with the answer: the relay
    /// keeps each byte (and the close) before it passes it on.
    fn last_answer(&self) -> (String, BTreeMap<String, String>, Vec<u8>, bool) {
        let wire = self.wires.lock().unwrap().last().unwrap().clone();
        let wire = wire.lock().unwrap();
        let end = wire
            .bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a whole head");
        let head = String::from_utf8(wire.bytes[..end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
            .collect();
        (status, headers, wire.bytes[end + 4..].to_vec(), wire.closed)
    }
}

/// `n` keys "k0".."k{n-1}" in "bkt".
fn seed_keys(lab: &Lab, n: usize) {
    for i in 0..n {
        lab.put_object("bkt", &format!("k{i}"), ObjectSeed::with_body("x"));
    }
}

/// Keys of a listing page.
fn page_keys(page: &aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output) -> Vec<&str> {
    page.contents().iter().filter_map(|o| o.key()).collect()
}

#[tokio::test]
async fn a_cut_listing_is_framed_as_asked() {
    let lab = Lab::start(LabConfig::default()).await.unwrap();
    seed_keys(&lab, 3);
    let tap = Tap::start(&lab).await;
    tap.client(&lab)
        .list_objects_v2()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    let (_, _, whole, _) = tap.last_answer();
    let text = String::from_utf8(whole.clone()).unwrap();
    // Inside the second key's LastModified, inside its Key tag, and just after its element.
    let second = text.find("<Key>k1").unwrap();
    let mid = second + text[second..].find("<LastModified>").unwrap() + 20;
    let in_tag = second + "<Ke".len();
    let between = text.match_indices("</Contents>").nth(1).unwrap().0 + "</Contents>".len();

    let list = |tap: &Tap| tap.client(&lab).list_objects_v2().bucket("bkt").send();
    for framing in [Framing::Honest, Framing::Close, Framing::UntilClose] {
        let tap = Tap::start(&lab).await;
        lab.damage_listings(ListingDamage::Cut { at: mid, framing }, 1);
        let err = list(&tap).await.unwrap_err();
        let (status, headers, body, closed) = tap.last_answer();
        assert_eq!(status, "HTTP/1.1 200 OK", "{framing:?}");
        assert_eq!(body, whole[..mid], "{framing:?}");
        let length = headers.get("content-length").map(String::as_str);
        match framing {
            // The SDK reads the short body whole and fails to parse the timestamp.
            Framing::Honest => {
                assert_eq!(length, Some(mid.to_string().as_str()));
                assert!(matches!(err, SdkError::ServiceError(_)), "{err:?}");
            }
            // hyper reports the body ended before its length.
            Framing::Close => {
                assert_eq!(length, Some(whole.len().to_string().as_str()));
                assert!(closed);
                assert!(matches!(err, SdkError::ResponseError(_)), "{err:?}");
            }
            Framing::UntilClose => {
                assert_eq!(length, None);
                assert_eq!(headers.get("transfer-encoding"), None);
                assert!(closed);
                assert!(matches!(err, SdkError::ServiceError(_)), "{err:?}");
            }
        }
    }

    // aws-sdk-s3 (1.157) takes XML that just stops, without its closing tags, for a whole
    // page. Cut between two keys, the page silently lacks a key: only KeyCount tells. Cut in a
    // tag, it ends with an object without a key.
    for framing in [Framing::Honest, Framing::UntilClose] {
        let tap = Tap::start(&lab).await;
        lab.damage_listings(
            ListingDamage::Cut {
                at: between,
                framing,
            },
            1,
        );
        let page = list(&tap).await.unwrap();
        assert_eq!(page_keys(&page), ["k0", "k1"], "{framing:?}");
        assert_eq!(page.key_count(), Some(3));
        assert_eq!(page.is_truncated(), Some(false));
        lab.damage_listings(
            ListingDamage::Cut {
                at: in_tag,
                framing,
            },
            1,
        );
        let page = list(&tap).await.unwrap();
        let keys: Vec<_> = page.contents().iter().map(|o| o.key()).collect();
        assert_eq!(keys, [Some("k0"), None], "{framing:?}");
    }
    // Armed for one answer each time: the next is whole.
    let page = list(&tap).await.unwrap();
    assert_eq!(page_keys(&page), ["k0", "k1", "k2"]);
    assert_eq!(lab.stats().fault_count("ListObjectsV2", "Cut"), 7);
}

#[tokio::test]
async fn a_listing_may_claim_more_without_a_token_or_repeat_its_token() {
    let (lab, s3) = start().await;
    seed_keys(&lab, 3);
    let list = |token: Option<String>| {
        s3.list_objects_v2()
            .bucket("bkt")
            .max_keys(2)
            .set_continuation_token(token)
            .send()
    };

    lab.damage_listings(ListingDamage::TruncatedWithoutToken, 1);
    let page = list(None).await.unwrap();
    assert_eq!(page_keys(&page), ["k0", "k1"]);
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_continuation_token(), None);

    // From the first page: its own token, then that token again.
    lab.damage_listings(ListingDamage::RepeatedToken, 2);
    let first = list(None).await.unwrap();
    let token = first.next_continuation_token().unwrap().to_owned();
    let second = list(Some(token.clone())).await.unwrap();
    assert_eq!(page_keys(&second), ["k2"]);
    assert_eq!(second.is_truncated(), Some(true));
    assert_eq!(second.next_continuation_token(), Some(token.as_str()));
    let third = list(Some(token.clone())).await.unwrap();
    assert_eq!(third.is_truncated(), Some(false), "used up");

    // The SDK's paginator takes both for the end of the listing, without an error.
    let pages = |s3: &aws_sdk_s3::Client| {
        s3.list_objects_v2()
            .bucket("bkt")
            .max_keys(2)
            .into_paginator()
            .send()
            .collect::<Vec<_>>()
    };
    lab.damage_listings(ListingDamage::TruncatedWithoutToken, 1);
    let seen: Vec<_> = pages(&s3).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(seen.len(), 1);
    lab.damage_listings(ListingDamage::RepeatedToken, 2);
    let seen: Vec<_> = pages(&s3).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(seen.len(), 2, "stopped at the repeated token");

    let stats = lab.stats();
    assert_eq!(
        stats.fault_count("ListObjectsV2", "TruncatedWithoutToken"),
        2
    );
    assert_eq!(stats.fault_count("ListObjectsV2", "RepeatedToken"), 4);
}

#[tokio::test]
async fn token_cycles_repeat_pages_as_long_as_they_last() {
    let (lab, s3) = start().await;
    seed_keys(&lab, 5);
    let list = |token: Option<String>| {
        s3.list_objects_v2()
            .bucket("bkt")
            .max_keys(2)
            .set_continuation_token(token)
            .send()
    };
    /// Follows the tokens for `n` pages: each page's keys and token.
    async fn follow<F, Fut>(list: F, n: usize) -> Vec<(Vec<String>, String)>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: std::future::Future<
            Output = Result<
                aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output,
                SdkError<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error, HttpResponse>,
            >,
        >,
    {
        let mut token = None;
        let mut pages = Vec::new();
        for _ in 0..n {
            let page = list(token).await.unwrap();
            assert_eq!(page.is_truncated(), Some(true));
            let next = page.next_continuation_token().unwrap().to_owned();
            let keys = page_keys(&page).into_iter().map(str::to_owned).collect();
            pages.push((keys, next.clone()));
            token = Some(next);
        }
        pages
    }

    lab.damage_listings(ListingDamage::TokenCycle, u32::MAX);
    let pages = follow(list, 6).await;
    let (a, b) = (&pages[1].1, &pages[0].1);
    assert_ne!(a, b);
    for (i, (keys, token)) in pages.iter().enumerate() {
        let (want_keys, want_token) = match i % 2 {
            0 => (["k0", "k1"], b),
            _ => (["k2", "k3"], a),
        };
        assert_eq!(keys, &want_keys, "page {i}");
        assert_eq!(token, want_token, "page {i}");
    }
    // The SDK's paginator follows it for as long as it is asked to.
    let mut paginator = s3
        .list_objects_v2()
        .bucket("bkt")
        .max_keys(2)
        .into_paginator()
        .send();
    for _ in 0..8 {
        paginator.next().await.unwrap().unwrap();
    }

    // Empty pages between two tokens past the end: keys stay in order.
    lab.damage_listings(ListingDamage::EmptyTokenCycle, 5);
    let pages = follow(list, 5).await;
    assert_eq!(pages[0].0, ["k0", "k1"]);
    let (a, b) = (&pages[0].1, &pages[1].1);
    assert_ne!(a, b);
    for (i, (keys, token)) in pages.iter().enumerate().skip(1) {
        assert!(keys.is_empty(), "page {i}");
        assert_eq!(token, if i % 2 == 1 { b } else { a }, "page {i}");
    }
    // Used up: the token the last page gave ends the listing.
    let page = list(Some(pages[4].1.clone())).await.unwrap();
    assert_eq!(
        (page.key_count(), page.is_truncated()),
        (Some(0), Some(false))
    );

    lab.damage_listings(ListingDamage::TokenCycle, 0);
    let stats = lab.stats();
    assert_eq!(stats.fault_count("ListObjectsV2", "TokenCycle"), 6 + 8);
    assert_eq!(stats.fault_count("ListObjectsV2", "EmptyTokenCycle"), 5);
}

#[tokio::test]
async fn a_page_may_miscount_or_repeat_the_key_before_it() {
    let (lab, s3) = start().await;
    seed_keys(&lab, 5);
    let list = |token: Option<String>| {
        s3.list_objects_v2()
            .bucket("bkt")
            .max_keys(2)
            .set_continuation_token(token)
            .send()
    };

    lab.damage_listings(ListingDamage::WrongKeyCount, 1);
    let page = list(None).await.unwrap();
    assert_eq!(page_keys(&page), ["k0", "k1"]);
    assert_eq!(page.key_count(), Some(3));

    // A first page has no page before: it is whole and the damage waits for the next.
    lab.damage_listings(ListingDamage::DuplicateKey, 1);
    let first = list(None).await.unwrap();
    assert_eq!(page_keys(&first), ["k0", "k1"]);
    let token = first.next_continuation_token().map(str::to_owned);
    let second = list(token).await.unwrap();
    assert_eq!(page_keys(&second), ["k1", "k2"]);
    assert_eq!(second.key_count(), Some(2));
    let token = second.next_continuation_token().map(str::to_owned);
    let third = list(token).await.unwrap();
    assert_eq!(page_keys(&third), ["k3", "k4"]);
    assert_eq!(third.is_truncated(), Some(false));

    let stats = lab.stats();
    assert_eq!(stats.fault_count("ListObjectsV2", "WrongKeyCount"), 1);
    assert_eq!(stats.fault_count("ListObjectsV2", "DuplicateKey"), 1);
}

#[tokio::test]
async fn a_lost_copy_response_hides_a_copy_that_was_made() {
    let (lab, _) = start().await;
    let s3 = no_retry_client(&lab);
    let before = lab.put_object("bkt", "k", full_seed());
    lab.put_object("bkt", "other", full_seed());
    lab.lose_next_copy_response("bkt", "k");
    let copy = |key: &'static str| {
        s3.copy_object()
            .bucket("bkt")
            .key(key)
            .copy_source(format!("bkt/{key}"))
            .metadata_directive(MetadataDirective::Replace)
            .content_type("text/plain")
            .send()
    };
    copy("other").await.expect("another key is answered");
    let err = copy("k").await.unwrap_err();
    let SdkError::DispatchFailure(failure) = &err else {
        panic!("expected a dispatch failure: {err:?}");
    };
    assert!(failure.is_io(), "{err:?}");
    assert!(err.raw_response().is_none(), "no response at all");
    let after = lab.object("bkt", "k").unwrap();
    assert_eq!(after.content_type.as_deref(), Some("text/plain"));
    assert_eq!(after.body, before.body);
    assert_ne!(after, before, "the copy was made");
    copy("k").await.expect("only the next copy is lost");
    assert_eq!(lab.stats().fault_count("CopyObject", "LostResponse"), 1);
}

#[tokio::test]
async fn a_trickled_listing_trips_attempt_timeouts_mid_body() {
    let (lab, _) = start().await;
    seed_keys(&lab, 3);
    let s3 = no_retry_client(&lab);
    // Three keys make a body of 788 bytes: 50 chunks of 16.
    let pause = Duration::from_millis(2);
    lab.trickle_listings(pause, 1);
    let started = Instant::now();
    let page = s3.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert_eq!(page_keys(&page), ["k0", "k1", "k2"]);
    assert!(started.elapsed() >= pause * 49, "{:?}", started.elapsed());

    let config = s3
        .config()
        .to_builder()
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(200))
                .build(),
        )
        .build();
    let tap = Tap::start(&lab).await;
    let config = config.to_builder().endpoint_url(&tap.endpoint).build();
    lab.trickle_listings(Duration::from_millis(50), 1);
    let started = Instant::now();
    let err = aws_sdk_s3::Client::from_conf(config)
        .list_objects_v2()
        .bucket("bkt")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // The head and the first chunks had come: the timeout fired mid-body.
    let (status, headers, body, _) = tap.last_answer();
    assert_eq!(status, "HTTP/1.1 200 OK");
    let length: usize = headers["content-length"].parse().unwrap();
    assert!(
        (16..length).contains(&body.len()),
        "{} of {length}",
        body.len()
    );
    assert_eq!(lab.stats().fault_count("ListObjectsV2", "Trickle"), 2);
}

#[tokio::test]
async fn annotations_are_served_per_version_and_copied_unless_excluded() {
    let (lab, client) = start().await;
    lab.put_object("bkt", "k", lab::seed_body("hello"));
    let put = client
        .put_object_annotation()
        .bucket("bkt")
        .key("k")
        .annotation_name("review")
        .annotation_payload(ByteStream::from_static(b"ok"))
        .send()
        .await;
    let put = put.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(put.e_tag().is_some());
    let listed = client
        .list_object_annotations()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.annotations().len(), 1);
    assert_eq!(listed.annotations()[0].annotation_name(), "review");
    assert_eq!(listed.annotations()[0].size(), 2);
    let got = client
        .get_object_annotation()
        .bucket("bkt")
        .key("k")
        .annotation_name("review")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.annotation_payload.collect().await.unwrap().to_vec(),
        b"ok"
    );
    let refused = client
        .put_object_annotation()
        .bucket("bkt")
        .key("k")
        .annotation_name("other")
        .annotation_payload(ByteStream::from_static(b"x"))
        .object_if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&refused), 412);
    for (key, exclude) in [("kept", false), ("excluded", true)] {
        let copy = client
            .copy_object()
            .bucket("bkt")
            .key(key)
            .copy_source("bkt/k");
        let copy = if exclude {
            copy.annotation_directive(aws_sdk_s3::types::AnnotationDirective::Exclude)
        } else {
            copy
        };
        copy.send().await.unwrap();
        let n = lab.object("bkt", key).unwrap().annotations.len();
        assert_eq!(n, usize::from(!exclude), "{key}");
    }
    lab.set_annotations_supported("bkt", false);
    let err = client
        .list_object_annotations()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 501);
    let err = client
        .copy_object()
        .bucket("bkt")
        .key("k2")
        .copy_source("bkt/k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 501);
}
