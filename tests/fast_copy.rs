//! The repair's requests around the SDK's request pipeline (`docs/fast-copy.md`): a copy, an ACL
//! read and a verifying HEAD answered there are the SDK's answers, a failed condition is the
//! SDK's failure, and a fix through that path leaves every object as a fix through the SDK does.

use std::collections::BTreeMap;

use s3mend::plan::{self, Plan};
use s3mend::rules::{RuleSet, SNIFF_BYTES};
use s3mend::s3::{Connection, S3Store, Store};
use s3mend_lab::{AclMode, FaultRates, Faults, Grant, Grantee, ObjectSeed};

use crate::fix::{comparable, everything};
use crate::harness::{awkward_keys, fix, gzipped, TestEnv, BUCKET};
use crate::heads::connect_with;

async fn connect(env: &TestEnv) -> Connection {
    connect_with(env, 3, true).await
}

/// The plan a fix makes for `key` as HEAD shows it now: the real rules and planner, and the
/// grants of its ACL.
async fn plan(store: &impl Store, key: &str) -> Plan {
    let head = store.head(key).await.expect("HEAD");
    let version = head.version_id.clone();
    let findings = RuleSet::all()
        .check_reading(&head, || {
            store.body_start(key, version.as_deref(), SNIFF_BYTES)
        })
        .await
        .expect("the rules read the object");
    assert!(!findings.is_empty(), "{key} needs a repair");
    let mut plan = plan::plan(BUCKET, &head, &findings).expect("a plan");
    let acl = store.acl(key, version.as_deref()).await.expect("the ACL");
    plan.grants = plan::grant_headers(&acl);
    plan
}

fn seed_pair(env: &TestEnv, key: &str, seed: ObjectSeed) -> (String, String) {
    let (a, b) = (format!("fast/{key}"), format!("sdk/{key}"));
    env.lab.put_object(BUCKET, &a, seed.clone());
    env.lab.put_object(BUCKET, &b, seed);
    (a, b)
}

fn grants() -> Vec<Grant> {
    vec![
        Grant {
            grantee: Grantee::CanonicalUser {
                id: s3mend_lab::LAB_OWNER_ID.into(),
                display_name: Some(s3mend_lab::LAB_OWNER_NAME.into()),
            },
            permission: "FULL_CONTROL".into(),
        },
        Grant {
            grantee: Grantee::Group {
                uri: "http://acs.amazonaws.com/groups/global/AllUsers".into(),
            },
            permission: "READ".into(),
        },
        Grant {
            grantee: Grantee::Email {
                address: "someone&else@example.com".into(),
            },
            permission: "READ_ACP".into(),
        },
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_and_acl_reads_answer_exactly_what_the_sdk_answers() {
    let env = TestEnv::new().await;
    let mut pairs = Vec::new();
    let mut with_grants = everything(gzipped(b"<html>all</html>"));
    with_grants.acl = None;
    with_grants.grants = grants();
    for (key, seed) in [
        (
            "page.html".to_owned(),
            everything(gzipped(b"<html>all</html>")),
        ),
        ("granted.html".to_owned(), with_grants),
    ]
    .into_iter()
    // Each key twice, under `fast/` and `sdk/`: the 1,024-byte key would be too long.
    .chain(
        awkward_keys()
            .into_iter()
            .filter(|k| k.len() < 1000)
            .map(|key| {
                let seed = ObjectSeed {
                    body: bytes::Bytes::from_static(b"body"),
                    content_type: Some("text/html".into()),
                    content_encoding: Some("UTF-8".into()),
                    ..ObjectSeed::default()
                };
                (key, seed)
            }),
    ) {
        pairs.push(seed_pair(&env, &key, seed));
    }
    env.put("learn.html", "text/html", None);
    let connection = connect(&env).await;
    let fast = connection.store(BUCKET);
    let sdk = S3Store::new(connection.client.clone(), BUCKET);
    // The scan's first HEAD teaches the path the URL and the signing scope.
    connection.heads.head(BUCKET, "learn.html").await.unwrap();
    assert!(connection.heads.is_active());

    for (a, b) in &pairs {
        let before = connection.heads.counts();
        let (acl_a, acl_b) = (fast.acl(a, None).await, sdk.acl(b, None).await);
        assert!(acl_a.is_ok(), "{a}: {acl_a:?}");
        assert_eq!(acl_a, acl_b, "{a}");
        let (plan_a, plan_b) = (plan(&fast, a).await, plan(&sdk, b).await);
        let new_a = fast
            .copy(&plan_a, true)
            .await
            .unwrap_or_else(|e| panic!("{a}: {e}"));
        let new_b = sdk.copy(&plan_b, true).await.unwrap();
        assert_eq!(new_a.etag, new_b.etag, "{a}");
        assert_eq!(
            new_a.version_id.is_some(),
            new_b.version_id.is_some(),
            "{a}"
        );
        let head_a = fast.head_to_settle(a).await.unwrap();
        let mut head_b = sdk.head_to_settle(b).await.unwrap();
        head_b.key.clone_from(&head_a.key);
        head_b.last_modified.clone_from(&head_a.last_modified);
        assert_eq!(head_a, head_b, "{a}");
        let (object_a, object_b) = (
            env.lab.object(BUCKET, a).unwrap(),
            env.lab.object(BUCKET, b).unwrap(),
        );
        assert_ne!(
            object_a.content_encoding.as_deref(),
            Some("UTF-8"),
            "{a} repaired"
        );
        assert_eq!(comparable(object_a), comparable(object_b), "{a}");
        // Two ACL reads, the plan's HEAD and sniff, the copy and the verifying HEAD: all here.
        let after = connection.heads.counts();
        assert_eq!((after.0 - before.0, after.1 - before.1), (6, 0), "{a}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_condition_and_an_error_in_a_200_are_the_sdks_failures() {
    let env = TestEnv::new().await;
    let (a, b) = seed_pair(
        &env,
        "page.html",
        ObjectSeed {
            body: bytes::Bytes::from_static(b"body"),
            content_type: Some("text/html".into()),
            content_encoding: Some("UTF-8".into()),
            ..ObjectSeed::default()
        },
    );
    let connection = connect(&env).await;
    let fast = connection.store(BUCKET);
    let sdk = S3Store::new(connection.client.clone(), BUCKET);
    connection.heads.head(BUCKET, &a).await.unwrap();

    let (mut plan_a, mut plan_b) = (plan(&fast, &a).await, plan(&sdk, &b).await);
    for plan in [&mut plan_a, &mut plan_b] {
        plan.if_match = "\"00000000000000000000000000000000\"".into();
    }
    let before = connection.heads.counts();
    let refused = fast.copy(&plan_a, true).await.unwrap_err();
    assert_eq!(refused.http_status, Some(412), "{refused:?}");
    assert_eq!(Err(refused), sdk.copy(&plan_b, true).await);
    let after = connection.heads.counts();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 0),
        "answered here"
    );

    // S3 may answer a copy 200 with an error in the body: the lab's is InternalError, which the
    // SDK's CopyObject retries; the attempt here is one of the three.
    env.lab.set_faults(Faults::seeded(3).on(
        "CopyObject",
        FaultRates {
            copy_error_body: 1.0,
            ..FaultRates::default()
        },
    ));
    let (plan_a, plan_b) = (plan(&fast, &a).await, plan(&sdk, &b).await);
    let copies = || env.lab.stats().count("CopyObject");
    let start = copies();
    let failed = fast.copy(&plan_a, true).await.unwrap_err();
    let by_fast = copies() - start;
    assert_eq!(failed.http_status, Some(200), "{failed:?}");
    assert_eq!(Err(failed), sdk.copy(&plan_b, true).await);
    let by_sdk = copies() - start - by_fast;
    assert_eq!((by_fast, by_sdk), (3, 3), "as many attempts either way");
}

/// `s3mend fix` with the path on and with `--no-fast-head` leave the same objects.
#[tokio::test(flavor = "multi_thread")]
async fn a_fix_around_the_sdk_leaves_every_object_as_a_fix_through_it() {
    let mut keys = vec!["page.html".to_owned(), "granted.html".to_owned()];
    keys.extend(awkward_keys());
    let seed = |env: &TestEnv| {
        for key in &keys {
            let mut object = everything(gzipped(format!("<html>{key}</html>").as_bytes()));
            if key == "granted.html" {
                object.acl = None;
                object.grants = grants();
            }
            env.lab.put_object(BUCKET, key, object);
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let mut objects: Vec<BTreeMap<String, _>> = Vec::new();
    for (i, extra) in [&[][..], &["--no-fast-head"][..]].into_iter().enumerate() {
        let env = TestEnv::new().await;
        seed(&env);
        let run = fix(&env, &dir.path().join(format!("{i}.jsonl")), extra).await;
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.json()["summary"]["fixed"], keys.len(), "{}", run.stdout);
        let stats = env.lab.stats();
        assert_eq!(stats.count("GetObjectAcl"), keys.len() as u64);
        objects.push(
            keys.iter()
                .map(|key| {
                    let object = env.lab.object(BUCKET, key).unwrap();
                    assert_ne!(
                        object.content_encoding.as_deref(),
                        Some("gzip, UTF-8"),
                        "{key}"
                    );
                    (key.clone(), comparable(object))
                })
                .collect(),
        );
    }
    assert_eq!(objects[0], objects[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_owner_enforced_bucket_is_repaired_without_reading_acls() {
    let env = TestEnv::new().await;
    env.lab.set_acl_mode(BUCKET, AclMode::OwnerEnforced);
    for i in 0..5 {
        env.put(&format!("p{i}.html"), "text/html", Some("UTF-8"));
    }
    let dir = tempfile::tempdir().unwrap();
    let run = fix(&env, &dir.path().join("j.jsonl"), &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["fixed"], 5, "{report}");
    assert!(
        report["summary"]["notes"]
            .to_string()
            .contains("BucketOwnerEnforced"),
        "{report}"
    );
    let stats = env.lab.stats();
    assert_eq!(stats.count("GetBucketOwnershipControls"), 1);
    assert_eq!(stats.count("GetObjectAcl"), 0);
    for i in 0..5 {
        let object = env.lab.object(BUCKET, &format!("p{i}.html")).unwrap();
        assert_eq!(object.content_encoding, None);
    }
}
