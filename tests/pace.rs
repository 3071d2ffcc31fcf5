//! s3mend's own pacing: throttling cuts the requests in flight, `--concurrency` caps them across
//! a fix's stages, and `--max-rps` holds the request rate down.

use std::time::{Duration, Instant};

use s3mend_lab::{FaultRates, Faults, LabConfig};

use crate::harness::{fix, TestEnv, BUCKET};

/// `count` objects, one in `bad_every` with a charset in Content-Encoding.
fn seed(env: &TestEnv, count: usize, bad_every: usize) {
    for i in 0..count {
        let encoding = (i % bad_every == 0).then_some("UTF-8");
        env.put(&format!("p/{i:04}.html"), "text/html", encoding);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slowdown_cuts_the_requests_in_flight_and_every_object_is_still_inspected() {
    let env = TestEnv::with_config(LabConfig::default()).await;
    seed(&env, 400, 4);
    env.lab.set_faults(Faults::seeded(11).on_each(
        &["HeadObject"],
        FaultRates {
            slow_down: 0.25,
            ..FaultRates::default()
        },
    ));

    let run = env
        .s3mend(&[
            "scan",
            &format!("s3://{BUCKET}/"),
            "--format",
            "json",
            "--concurrency",
            "32",
            "--max-attempts",
            "20",
        ])
        .await;
    assert_eq!(run.code, 1, "findings, no errors: {}", run.stderr);
    let summary = &run.json()["summary"];
    assert_eq!(summary["listed"], 400, "{summary}");
    assert_eq!(summary["inspected"], 400, "{summary}");
    assert_eq!(summary["errors"], 0, "{summary}");
    assert_eq!(summary["with_findings"], 100, "{summary}");
    let requests = &summary["requests"];
    let throttled = requests["throttled"].as_u64().unwrap();
    assert_eq!(
        throttled,
        env.lab.stats().fault_count("HeadObject", "SlowDown"),
        "{requests}"
    );
    let cuts = requests["concurrency_cuts"].as_u64().unwrap();
    let lowest = requests["min_concurrency"].as_u64().unwrap();
    assert!(cuts > 0, "{requests}");
    assert!(
        cuts <= throttled,
        "one cut per throttle at most: {requests}"
    );
    assert!((1..32).contains(&lowest), "{requests}");
}

#[tokio::test(flavor = "multi_thread")]
async fn max_rps_holds_the_request_rate_down() {
    let env = TestEnv::new().await;
    seed(&env, 100, 10);
    let rps = 200;
    let started = Instant::now();
    let run = env
        .s3mend(&[
            "scan",
            &format!("s3://{BUCKET}/"),
            "--format",
            "json",
            "--max-rps",
            &rps.to_string(),
        ])
        .await;
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let summary = &run.json()["summary"];
    assert_eq!(summary["inspected"], 100, "{summary}");
    // HeadBucket, one ListObjectsV2 page, a HEAD per object, and a ranged GET (the sniff) for
    // each of the 10 with a Content-Encoding finding: all seen by the lab.
    let attempts = summary["requests"]["attempts"].as_u64().unwrap();
    assert_eq!(attempts, 112, "{summary}");
    assert_eq!(env.lab.stats().total(), attempts);
    // The bucket lets a burst of a tenth of a second's worth through, then one per 1/rps: a
    // lower bound only, which a slow machine cannot break.
    let burst = rps / 10;
    let least = Duration::from_secs_f64((attempts - burst) as f64 / rps as f64);
    assert!(took >= least, "{took:?} < {least:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fix_keeps_at_most_concurrency_requests_in_flight_across_its_stages() {
    let env = TestEnv::with_config(LabConfig {
        latency: Duration::from_millis(5),
        ..LabConfig::default()
    })
    .await;
    seed(&env, 300, 1);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let run = fix(&env, &journal, &["--concurrency", "8"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = &run.json()["summary"];
    assert_eq!(summary["fixed"], 300, "{summary}");
    let stats = env.lab.stats();
    // The scan's HEADs and the repairs' ACL reads, copies and checks share the eight slots.
    assert!(stats.count("CopyObject") >= 300, "{stats:?}");
    assert!(
        (1..=8).contains(&stats.max_in_flight),
        "{} in flight at once",
        stats.max_in_flight
    );
    // Kept-alive connections: not one per request.
    assert!(stats.connections <= 8 + 4, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_fix_finishes_although_its_scan_stage_waits_for_the_repairs() {
    // The scan stage is polled only while the repair stage has room; if its answered HEADs kept
    // their slots, the repairs (waiting for slots) would never make room: a deadlock as soon
    // as throttling cut the limit below the scan stage's HEADs.
    let env = TestEnv::new().await;
    seed(&env, 200, 1);
    env.lab.set_faults(Faults::seeded(5).on_each(
        &["HeadObject"],
        FaultRates {
            slow_down: 0.2,
            ..FaultRates::default()
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let run = fix(
        &env,
        &journal,
        &["--concurrency", "16", "--max-attempts", "20"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = &run.json()["summary"];
    assert_eq!(summary["fixed"], 200, "{summary}");
    let requests = &summary["requests"];
    assert!(
        requests["concurrency_cuts"].as_u64().unwrap() > 0,
        "{requests}"
    );
    assert!(
        requests["min_concurrency"].as_u64().unwrap() < 16,
        "{requests}"
    );
}
