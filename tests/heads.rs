//! The scan's HEADs around the SDK's request pipeline (`s3::Heads`) answer exactly what the SDK
//! answers, hand everything but a plain 200 to the SDK, and count their attempts.

use s3mend::s3::{self, Addressing, ConnectOptions, Connection};
use s3mend_lab::{FaultRates, Faults, LabConfig, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};

use crate::fix::everything;
use crate::harness::{awkward_keys, TestEnv, BUCKET};

async fn connect(env: &TestEnv, max_attempts: u32) -> Connection {
    connect_with(env, max_attempts, true).await
}

pub(crate) async fn connect_with(env: &TestEnv, max_attempts: u32, fast_head: bool) -> Connection {
    s3::connect(
        &ConnectOptions {
            endpoint_url: Some(env.lab.endpoint()),
            region: Some(LAB_REGION.to_owned()),
            profile: None,
            addressing: Addressing::Path,
            static_credentials: Some((LAB_ACCESS_KEY.to_owned(), LAB_SECRET_KEY.to_owned())),
            max_attempts: Some(max_attempts),
            retry_mode: None,
            attempt_timeout: s3::DEFAULT_ATTEMPT_TIMEOUT,
            max_in_flight: 16,
            max_rps: None,
            fast_head,
            conventions: Default::default(),
            tls: Default::default(),
        },
        BUCKET,
    )
    .await
    .expect("connect")
}

/// Keys whose URLs need every kind of encoding, and one object with every attribute S3 returns
/// on a HEAD (values with commas, quotes, non-ASCII metadata, lock dates).
fn seed(env: &TestEnv) -> Vec<String> {
    // The first is the one the SDK answers and the path learns from.
    let mut keys = vec!["index.html".to_owned()];
    keys.extend(awkward_keys());
    keys.push("./dot/../segments.html".to_owned());
    for key in &keys {
        env.put(key, "text/html", Some("UTF-8"));
    }
    env.lab
        .put_object(BUCKET, "page.html", everything(&b"<html>all</html>"[..]));
    keys.push("page.html".to_owned());
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn heads_answer_exactly_what_the_sdk_answers() {
    let env = TestEnv::new().await;
    let keys = seed(&env);
    let connection = connect(&env, 3).await;
    let heads = &connection.heads;
    assert!(!heads.is_active(), "nothing learnt before the first HEAD");
    for key in &keys {
        let fast = heads.head(BUCKET, key).await;
        let sdk = s3::head_object(&connection.client, BUCKET, key).await;
        assert!(fast.is_ok(), "{key}: {fast:?}");
        assert_eq!(fast, sdk, "{key}");
    }
    let every = s3::head_object(&connection.client, BUCKET, "page.html")
        .await
        .unwrap();
    assert_eq!(every.metadata.len(), 2, "{every:?}");
    assert!(every.object_lock_retain_until_date.is_some(), "{every:?}");
    assert!(heads.is_active());
    // The first HEAD went through the SDK and taught the URL; every other was answered here.
    let answered = keys.len() as u64 - 1;
    assert_eq!(heads.counts(), (answered, 0));

    // A key that is not there: the SDK judges the 404 (one more request), and the path stays on.
    let before = connection.requests.snapshot();
    let missing = heads.head(BUCKET, "missing.html").await.unwrap_err();
    assert!(missing.is_not_found(), "{missing:?}");
    assert_eq!(
        Err(missing),
        s3::head_object(&connection.client, BUCKET, "missing.html").await
    );
    assert_eq!(heads.counts(), (answered, 1));
    assert!(heads.is_active());
    let after = connection.requests.snapshot();
    assert_eq!(
        after.calls - before.calls,
        2,
        "the handed-over HEAD and the check"
    );
    assert_eq!(
        after.attempts - before.attempts,
        3,
        "one here, one each by the SDK"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_heads_are_retried_by_the_sdk_and_counted() {
    let env = TestEnv::with_config(LabConfig::default()).await;
    let keys: Vec<String> = (0..300).map(|i| format!("k{i:03}.html")).collect();
    for key in &keys {
        env.put(key, "text/html", Some("UTF-8"));
    }
    let connection = connect(&env, 10).await;
    // Learn on a quiet lab, then 20 % SlowDown and 5 % resets on every HEAD (with 10 attempts,
    // one of the 299 HEADs fails all of them about once in 3,000 runs).
    connection.heads.head(BUCKET, &keys[0]).await.unwrap();
    env.lab.set_faults(Faults::seeded(11).on(
        "HeadObject",
        FaultRates {
            slow_down: 0.20,
            reset: 0.05,
            ..FaultRates::default()
        },
    ));
    let before = connection.requests.snapshot();
    let results = futures::future::join_all(
        keys[1..]
            .iter()
            .map(|key| connection.heads.head(BUCKET, key)),
    )
    .await;
    for (key, result) in keys[1..].iter().zip(&results) {
        let head = result.as_ref().unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(head.content_encoding.as_deref(), Some("UTF-8"), "{key}");
    }
    let (answered, handed_over) = connection.heads.counts();
    assert_eq!(answered + handed_over, keys.len() as u64 - 1);
    assert!(handed_over > 40, "about 25 % of 299: {handed_over}");
    let after = connection.requests.snapshot();
    let throttled = after.throttled - before.throttled;
    assert!(throttled >= handed_over / 2, "{throttled} {handed_over}");
    // Every HEAD is one call, whichever path answered it; each retry is one more attempt.
    assert_eq!(after.calls - before.calls, keys.len() as u64 - 1);
    assert_eq!(
        after.attempts - before.attempts,
        after.calls - before.calls
            + (after.throttled - before.throttled)
            + (after.failed_attempts - before.failed_attempts),
        "{after:?}"
    );
    assert!(
        connection.heads.is_active(),
        "throttling does not turn the path off"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_one_attempt_every_head_stays_with_the_sdk() {
    let env = TestEnv::new().await;
    let keys = seed(&env);
    let connection = connect(&env, 1).await;
    for key in &keys {
        assert!(connection.heads.head(BUCKET, key).await.is_ok(), "{key}");
    }
    assert_eq!(connection.heads.counts(), (0, 0));
    assert!(!connection.heads.is_active());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_path_off_every_head_stays_with_the_sdk_and_answers_the_same() {
    let env = TestEnv::new().await;
    let keys = seed(&env);
    let on = connect(&env, 3).await;
    let off = connect_with(&env, 3, false).await;
    for key in &keys {
        let fast = on.heads.head(BUCKET, key).await.unwrap();
        let sdk = off.heads.head(BUCKET, key).await.unwrap();
        assert_eq!(fast, sdk, "{key}");
    }
    assert!(on.heads.is_active() && on.heads.counts().0 > 0);
    assert_eq!(off.heads.counts(), (0, 0));
    assert!(!off.heads.is_active());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_attempt_here_is_one_of_the_run_s_attempts() {
    let env = TestEnv::new().await;
    for key in ["a.html", "b.html", "c.html"] {
        env.put(key, "text/html", Some("UTF-8"));
    }
    let connection = connect(&env, 3).await;
    connection.heads.head(BUCKET, "a.html").await.unwrap();
    assert!(connection.heads.is_active());
    // Two 500s: this path's attempt and the SDK's first; the SDK's second gets the object.
    env.lab.fail_next("HeadObject", "b.html", 2);
    env.lab.reset_stats();
    let head = connection.heads.head(BUCKET, "b.html").await.unwrap();
    assert_eq!(head.content_encoding.as_deref(), Some("UTF-8"));
    assert_eq!(env.lab.stats().count("HeadObject"), 3);
    // Three 500s use up all three attempts: an error, not a fourth attempt.
    env.lab.fail_next("HeadObject", "c.html", 3);
    env.lab.reset_stats();
    let failed = connection.heads.head(BUCKET, "c.html").await.unwrap_err();
    assert_eq!(failed.http_status, Some(500), "{failed:?}");
    assert_eq!(env.lab.stats().count("HeadObject"), 3);
    assert_eq!(connection.heads.counts(), (0, 2));
    assert!(
        connection.heads.is_active(),
        "server errors do not turn the path off"
    );
}
