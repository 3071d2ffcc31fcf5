//! What the benchmarks share: running a child and measuring it (wall time, user + sys CPU, peak
//! RSS), this process's own CPU (the lab's share of the machine), and the seeded objects.

#![allow(dead_code)] // each bench uses its own part

use std::process::Command;
use std::time::{Duration, Instant};

use s3mend_lab::{Lab, ObjectSeed};

/// How one child process ran.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// Exit code, or -1 if a signal ended it.
    pub code: i32,
    pub wall: Duration,
    /// User + sys CPU of the child (all its threads).
    pub cpu: Duration,
    /// Peak resident set in KiB.
    pub peak_rss_kib: u64,
    /// Stopped by the time limit.
    pub capped: bool,
}

/// Runs a child to completion (or kills it after `limit`). The peak is the child's own `VmHWM`
/// after exec, polled until it exits: `ru_maxrss` would count the pages of this (lab-holding)
/// process that the child shared before exec.
pub fn run_measured(cmd: &mut Command, limit: Option<Duration>) -> Measured {
    let start = Instant::now();
    let child = cmd.spawn().expect("the benchmarked command starts");
    let pid = child.id() as libc::pid_t;
    let status_path = format!("/proc/{pid}/status");
    let poller = std::thread::spawn(move || {
        let mut peak = 0;
        let mut killed = false;
        while let Ok(status) = std::fs::read_to_string(&status_path) {
            let Some(hwm) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) else {
                break; // a zombie has no memory left to report
            };
            peak = hwm
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(peak);
            if !killed && limit.is_some_and(|limit| start.elapsed() >= limit) {
                // SAFETY: pid is our own child, not yet reaped (its /proc entry still exists).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                killed = true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (peak, killed)
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet waited for; both pointers are valid for the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    std::mem::forget(child);
    let wall = start.elapsed();
    let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let (peak_rss_kib, capped) = poller.join().expect("poller");
    Measured {
        code,
        wall,
        cpu,
        peak_rss_kib,
        capped,
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000)
}

/// User + sys CPU of this process so far: the lab's share of the machine.
pub fn own_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is valid for the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

/// CPU time the whole machine spent busy so far (user, nice, system, irq, softirq) plus the time
/// the hypervisor gave its CPUs to someone else (steal), from `/proc/stat`. Across a run, this
/// minus the client's and the lab's CPU is what everything else took: other processes on the
/// machine, or on the host.
pub fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| ticks.get(i))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .unwrap_or(100)
        .max(1);
    Duration::from_nanos(busy.saturating_mul(1_000_000_000 / hz))
}

/// Waits (polling every second, at most `timeout`) until the 1-minute load average is at most
/// `max`; returns it.
pub fn settle(max: f64, timeout: Duration) -> f64 {
    let start = Instant::now();
    loop {
        let load = load_average();
        if load <= max || start.elapsed() >= timeout {
            return load;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The 1-minute load average, as `uptime` shows it.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The benchmark's objects: `site/NNN/page-IIIIIII.html` (997 "directories"), one in
/// `bad_every` with the s3cmd charset bug (`Content-Encoding: UTF-8`) and one in `bad_every`
/// (another one) validly gzip-encoded, which a tool that strips every Content-Encoding breaks.
#[derive(Clone, Copy, Debug)]
pub struct Objects {
    pub count: usize,
    pub bad_every: usize,
}

/// What one seeded object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Bad,
    Gzip,
}

impl Objects {
    pub fn key(i: usize) -> String {
        format!("site/{:03}/page-{i:07}.html", i % 997)
    }

    pub fn kind(&self, i: usize) -> Kind {
        let every = self.bad_every.max(1);
        match i % every {
            0 => Kind::Bad,
            r if every > 1 && r == every / 2 => Kind::Gzip,
            _ => Kind::Plain,
        }
    }

    pub fn bad(&self) -> usize {
        (0..self.count)
            .filter(|&i| self.kind(i) == Kind::Bad)
            .count()
    }

    /// Puts every object (`only` = `Some(kind)`: just those) into `bucket` as first seeded.
    pub fn seed(&self, lab: &Lab, bucket: &str, only: Option<Kind>) {
        lab.create_bucket(bucket);
        for i in 0..self.count {
            let kind = self.kind(i);
            if only.is_some_and(|only| only != kind) {
                continue;
            }
            lab.put_object(
                bucket,
                &Self::key(i),
                ObjectSeed {
                    body: bytes::Bytes::from_static(b"<html></html>"),
                    content_type: Some("text/html".into()),
                    content_encoding: match kind {
                        Kind::Plain => None,
                        Kind::Bad => Some("UTF-8".into()),
                        Kind::Gzip => Some("gzip".into()),
                    },
                    ..ObjectSeed::default()
                },
            );
        }
    }
}

/// The runtime the lab runs on: one worker, so that on a 2-core machine the client gets the other
/// core instead of fighting two lab workers for both.
pub fn lab_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the lab's runtime")
}
