//! What the matrix prints: the header, one line per run, the table, the ratios s3mend ÷ peer,
//! the targets of README "Performance" met or missed, and the `--json` file.

use std::fmt::Write as _;
use std::process::Command;

use s3mend::report::thousands;

use super::{Job, Options, Row, Run, Setup};

pub(super) fn header(setup: &Setup, opts: &Options) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    let cpus = opts.cpus;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut s = String::new();
    let _ = writeln!(s, "# s3mend performance matrix, {date}");
    let _ = writeln!(s, "machine: {cpus} × {cpu}, Linux {}", kernel.trim());
    let _ = writeln!(
        s,
        "server: the s3mend lab (s3s, in-memory, HTTP/1.1 on 127.0.0.1), one worker thread{}; latency injected before each request",
        if setup.pin { ", pinned to CPU 0; each client pinned to CPU 1" } else { ", unpinned" }
    );
    let _ = writeln!(
        s,
        "objects: text/html, one in {} with Content-Encoding: UTF-8 (to fix), one in {} gzip (valid); s3mend --concurrency {}{}",
        opts.bad_every,
        opts.bad_every,
        setup.concurrency,
        if opts.owner_enforced { "; Object Ownership BucketOwnerEnforced" } else { "" }
    );
    let _ = writeln!(s, "tools: {}", setup.versions.join("; "));
    s
}

/// What s3mend's concurrency allows at this latency: concurrency ÷ (requests per object ×
/// latency), the requests as the lab counted them. A scan sends one per object (and a listing
/// page per 1,000); a fix also its repairs' (GetObjectAcl, CopyObject, the verifying HEAD), all
/// under the one `--concurrency`, so an all-bad fix's limit is about a quarter of a scan's.
fn latency_limit(row: &Row, concurrency: usize) -> Option<f64> {
    (row.latency_ms > 0 && !row.run.is_peer() && row.done > 0).then(|| {
        let per_object = row.requests as f64 / row.done as f64;
        concurrency as f64 * 1000.0 / (row.latency_ms as f64 * per_object)
    })
}

/// Whether every object of the run was repaired (`--bad-every 1`: the s3cmd case).
fn all_bad(row: &Row) -> bool {
    row.run == Run::S3mend(Job::Fix) && row.copies >= row.objects as u64
}

pub(super) fn line(row: &Row, concurrency: usize) -> String {
    format!(
        "{:<42} {:>9} obj {:>3} ms: {:>8.0} obj/s{}{}, {:.0} µs CPU/obj (lab {:.0}, +{:.0} µs/req), {:.1} MiB, {} conns / {} reqs, load {:.2}, others {:.2} CPUs",
        row.run.label(),
        row.objects,
        row.latency_ms,
        row.rate(),
        latency_limit(row, concurrency)
            .map(|l| format!(" ({:.0} % of c÷(req/obj×RTT))", 100.0 * row.rate() / l))
            .unwrap_or_default(),
        if row.capped { format!(" [stopped after {:.0} s: {} done]", row.wall.as_secs_f64(), row.done) } else { String::new() },
        row.per_object(row.client_cpu),
        row.per_object(row.lab_cpu),
        row.server_time.as_secs_f64() * 1e6,
        row.peak_rss_kib as f64 / 1024.0,
        row.connections,
        row.requests,
        row.load,
        row.others,
    )
}

pub(super) fn table(rows: &[Row], concurrency: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| command | objects | latency | objects/s | of c ÷ (requests/object × latency) | client CPU / object | lab CPU / object | lab time / request | peak RSS | connections / requests | HEAD / COPY | load before | others' CPU during |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in rows {
        let rate = if row.capped {
            format!(
                "{} ({} done in {:.0} s)",
                thousands(row.rate().round() as u64),
                thousands(row.done as u64),
                row.wall.as_secs_f64()
            )
        } else {
            thousands(row.rate().round() as u64)
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} ms | {} | {} | {:.0} µs | {:.0} µs | {:.0} µs | {:.1} MiB | {} / {} | {} / {} | {:.2} | {:.2} |",
            row.run.label(),
            thousands(row.objects as u64),
            row.latency_ms,
            rate,
            latency_limit(row, concurrency)
                .map(|l| format!("{:.0} %", 100.0 * row.rate() / l))
                .unwrap_or_else(|| "—".to_owned()),
            row.per_object(row.client_cpu),
            row.per_object(row.lab_cpu),
            row.server_time.as_secs_f64() * 1e6,
            row.peak_rss_kib as f64 / 1024.0,
            thousands(row.connections),
            thousands(row.requests),
            thousands(row.heads),
            thousands(row.copies),
            row.load,
            row.others,
        );
    }
    s
}

fn find(rows: &[Row], run: Run, objects: usize, latency_ms: u64) -> Option<&Row> {
    rows.iter()
        .find(|r| r.run == run && r.objects == objects && r.latency_ms == latency_ms)
}

/// s3mend ÷ peer for every (objects, latency) where both ran: (job, peer, objects, latency, ratio).
fn ratio_list(rows: &[Row]) -> Vec<(Job, Run, usize, u64, f64)> {
    let mut out = Vec::new();
    for peer in rows.iter().filter(|r| r.run.is_peer()) {
        let job = peer.run.job();
        if let Some(ours) = find(rows, Run::S3mend(job), peer.objects, peer.latency_ms) {
            out.push((
                job,
                peer.run,
                peer.objects,
                peer.latency_ms,
                ours.rate() / peer.rate(),
            ));
        }
    }
    out
}

pub(super) fn ratios(rows: &[Row]) -> String {
    let mut s = String::from("Ratios, s3mend ÷ peer (objects/s):\n");
    for (job, peer, objects, latency, ratio) in ratio_list(rows) {
        let _ = writeln!(
            s,
            "  {:<4} {:>9} objects {:>3} ms: s3mend {} ÷ {:<42} = {ratio:.1}×",
            job.name(),
            thousands(objects as u64),
            latency,
            job.name(),
            peer.label()
        );
    }
    s
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

pub(super) fn targets(rows: &[Row], concurrency: usize) -> String {
    let mut s = String::from("Targets:\n");
    let scans: Vec<&Row> = rows
        .iter()
        .filter(|r| r.run == Run::S3mend(Job::Scan))
        .collect();
    let mut target = |name: &str, checks: Vec<(String, bool)>| {
        if checks.is_empty() {
            let _ = writeln!(s, "  {name}: not measured in this run");
            return;
        }
        let all = checks.iter().all(|(_, ok)| *ok);
        let detail: Vec<String> = checks
            .iter()
            .map(|(d, ok)| format!("{d}{}", if *ok { "" } else { " ✗" }))
            .collect();
        let _ = writeln!(s, "  [{}] {name}: {}", verdict(all), detail.join("; "));
    };
    target(
        "scan ≥ 90 % of concurrency ÷ latency at 5 and 20 ms",
        scans
            .iter()
            .filter(|r| [5, 20].contains(&r.latency_ms))
            .filter_map(|r| {
                let pct = 100.0 * r.rate() / latency_limit(r, concurrency)?;
                Some((
                    format!(
                        "{} @{} ms {pct:.0} %",
                        thousands(r.objects as u64),
                        r.latency_ms
                    ),
                    pct >= 90.0,
                ))
            })
            .collect(),
    );
    let list = ratio_list(rows);
    for (job, peer, at_least) in [
        (Job::Scan, Run::Rclone, 5.0),
        (Job::Scan, Run::Boto3(Job::Scan), 3.0),
        (Job::Fix, Run::Boto3(Job::Fix), 3.0),
    ] {
        target(
            &format!("{} ≥ {at_least}× {}", job.name(), peer.label()),
            list.iter()
                .filter(|(j, p, ..)| *j == job && *p == peer)
                .map(|(_, _, objects, latency, ratio)| {
                    (
                        format!("{} @{latency} ms {ratio:.1}×", thousands(*objects as u64)),
                        *ratio >= at_least,
                    )
                })
                .collect(),
        );
    }
    target(
        &format!(
            "connections ≤ concurrency + 4 = {} for 10,000 requests",
            concurrency + 4
        ),
        rows.iter()
            .filter(|r| !r.run.is_peer() && r.requests >= 10_000 && r.requests < 20_000)
            .map(|r| {
                (
                    format!(
                        "{} {} @{} ms: {} for {}",
                        r.run.job().name(),
                        thousands(r.objects as u64),
                        r.latency_ms,
                        r.connections,
                        thousands(r.requests)
                    ),
                    r.connections <= (concurrency + 4) as u64,
                )
            })
            .collect(),
    );
    target(
        "≤ 50 µs client CPU per scanned object",
        scans
            .iter()
            .map(|r| {
                let us = r.per_object(r.client_cpu);
                (
                    format!(
                        "{} @{} ms {us:.0} µs",
                        thousands(r.objects as u64),
                        r.latency_ms
                    ),
                    us <= 50.0,
                )
            })
            .collect(),
    );
    let all_bad: Vec<&Row> = rows.iter().filter(|r| all_bad(r)).collect();
    target(
        "fix of an all-bad bucket at 20 ms ≥ 85 % of c ÷ (requests/object × latency), ≤ 50 µs client CPU per repaired object, peak RSS ≤ 64 MiB",
        all_bad
            .iter()
            .filter(|r| r.latency_ms == 20)
            .filter_map(|r| {
                let pct = 100.0 * r.rate() / latency_limit(r, concurrency)?;
                let us = r.client_cpu.as_secs_f64() * 1e6 / r.copies.max(1) as f64;
                let mib = r.peak_rss_kib as f64 / 1024.0;
                Some((
                    format!(
                        "{}: {pct:.0} % ({:.2} requests/object), {us:.0} µs, {mib:.1} MiB",
                        thousands(r.objects as u64),
                        r.requests as f64 / r.done as f64
                    ),
                    pct >= 85.0 && us <= 50.0 && mib <= 64.0,
                ))
            })
            .collect(),
    );
    target(
        "peak RSS ≤ 64 MiB scanning 1,000,000 objects (jsonl)",
        scans
            .iter()
            .filter(|r| r.objects >= 1_000_000)
            .map(|r| {
                let mib = r.peak_rss_kib as f64 / 1024.0;
                (format!("@{} ms {mib:.1} MiB", r.latency_ms), mib <= 64.0)
            })
            .collect(),
    );
    s
}

pub(super) fn json(header: &str, rows: &[Row], concurrency: usize) -> String {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "tool": r.run.tool(),
                "job": r.run.job().name(),
                "command": r.run.label(),
                "objects": r.objects,
                "latency_ms": r.latency_ms,
                "concurrency": concurrency,
                "load": r.load,
                "others_cpus": r.others,
                "wall_s": r.wall.as_secs_f64(),
                "done": r.done,
                "stopped_at_time_limit": r.capped,
                "exit_code": r.code,
                "objects_per_s": r.rate(),
                "client_cpu_us_per_object": r.per_object(r.client_cpu),
                "lab_cpu_us_per_object": r.per_object(r.lab_cpu),
                "lab_time_us_per_request": r.server_time.as_secs_f64() * 1e6,
                "peak_rss_mib": r.peak_rss_kib as f64 / 1024.0,
                "connections": r.connections,
                "requests": r.requests,
                "head_object": r.heads,
                "copy_object": r.copies,
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "header": header, "runs": rows })).unwrap()
}
