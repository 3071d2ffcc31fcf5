//! The performance matrix: s3mend's scan and fix and the tools people use instead, run one after
//! another against the same lab with the same objects, under injected latency. Prints one table,
//! the ratios s3mend ÷ peer, and whether each target of README "Performance" is met.
//!
//! ```sh
//! cargo bench --bench matrix                 # the full run: 0, 5, 20 ms × 10k, 100k, 1M objects
//! cargo bench --bench matrix -- --quick      # 2,000 objects, peers capped at 30 s: a few minutes
//! cargo bench --bench matrix -- --latencies 5,20 --counts 10000 --tools s3mend,rclone
//! ```
//!
//! Options: `--latencies MS,..`, `--counts N,..`, `--peer-counts N,..` (the counts at which the
//! peers run too; default the smallest count), `--tools s3mend,rclone,boto3,s3cmd`,
//! `--peer-time-limit SECS` (a peer still running then is stopped and its rate taken from the
//! objects it got through), `--concurrency N`, `--bad-every N` (`1`: every object is bad, the
//! s3cmd case), `--owner-enforced` (the buckets' Object Ownership is BucketOwnerEnforced, so a
//! repair reads no ACL), `--no-pin`, `--json PATH`,
//! `--max-load L` and `--settle-timeout SECS` (before each run, wait up to SECS, default 60, for
//! the 1-minute load average to drop to L, default 1.2).
//!
//! Each row records the load average before the run and the CPU that neither the client nor the
//! lab used during it (`/proc/stat`: other processes, or the hypervisor's steal), so a number
//! taken on a busy machine shows as one.
//!
//! The peers, each skipped with a message when missing:
//! - `rclone lsjson -R -M` (Debian's rclone: `apt-get install rclone`): one HEAD per object;
//! - `s3cmd modify --remove-header=content-encoding --recursive` (`apt-get install s3cmd`);
//! - `benches/peers/boto3_fix.py`, 16 threads, with boto3 from
//!   `python3 -m venv ~/.cache/s3mend-bench/venv && ~/.cache/s3mend-bench/venv/bin/pip install
//!   boto3` (or `S3MEND_BENCH_PYTHON=/path/to/python`); as a scan it runs with `--dry-run`.
//!
//! The lab runs in this process on one worker thread. On a machine with two or more CPUs the lab
//! is pinned to CPU 0 and each measured client to CPU 1 (`--no-pin` to let the OS place them),
//! so the client and the server never take each other's CPU and every tool gets the same single
//! core. The lab's own CPU per object is reported too.

mod support;

/// The table, the ratios, the targets and the JSON a run prints (`matrix/report.rs`).
#[path = "matrix/report.rs"]
mod report;

use report::{header, json, line, ratios, table, targets};

use std::collections::BTreeMap;

use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use s3mend_lab::{AclMode, Lab, LabConfig, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use support::{machine_busy, own_cpu, run_measured, settle, Kind, Objects};

/// Where the boto3 peer's interpreter is looked for unless `S3MEND_BENCH_PYTHON` says otherwise.
const VENV_PYTHON: &str = ".cache/s3mend-bench/venv/bin/python";

#[derive(Clone, Debug)]
struct Options {
    latencies: Vec<u64>,
    counts: Vec<usize>,
    peer_counts: Option<Vec<usize>>,
    tools: Vec<String>,
    peer_time_limit: Duration,
    concurrency: usize,
    bad_every: usize,
    /// `--owner-enforced`: the buckets' Object Ownership is BucketOwnerEnforced (ACLs disabled).
    owner_enforced: bool,
    pin: bool,
    json: Option<PathBuf>,
    /// Before each run, wait (at most `settle_timeout`) for the 1-minute load average to drop to
    /// this: the previous run's own load, or another job on the machine.
    max_load: f64,
    settle_timeout: Duration,
    /// CPUs this process may run on, before it pins itself.
    cpus: usize,
}

/// The command line (see the header above; `--bench` is cargo's), resolved into [`Options`].
#[derive(Parser)]
struct Args {
    /// 2,000 objects, peers stopped after 30 s, 5 s to settle, unless given.
    #[arg(long)]
    quick: bool,
    #[arg(long, value_delimiter = ',', default_value = "0,5,20")]
    latencies: Vec<u64>,
    #[arg(long, value_delimiter = ',', value_parser = count)]
    counts: Option<Vec<usize>>,
    #[arg(long, value_delimiter = ',', value_parser = count)]
    peer_counts: Option<Vec<usize>>,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "s3mend,rclone,boto3,s3cmd"
    )]
    tools: Vec<String>,
    /// Seconds.
    #[arg(long)]
    peer_time_limit: Option<u64>,
    #[arg(long, default_value_t = usize::from(s3mend::cli::DEFAULT_CONCURRENCY))]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    bad_every: usize,
    #[arg(long)]
    owner_enforced: bool,
    #[arg(long)]
    no_pin: bool,
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long, default_value_t = 1.2)]
    max_load: f64,
    /// Seconds.
    #[arg(long)]
    settle_timeout: Option<u64>,
    #[arg(long, hide = true)]
    bench: bool,
}

fn parse_args() -> Options {
    let args = Args::parse();
    let quick = args.quick;
    let mut counts = args.counts.unwrap_or_else(|| match quick {
        true => vec![2_000],
        false => vec![10_000, 100_000, 1_000_000],
    });
    counts.sort_unstable();
    let peer_time_limit = args.peer_time_limit.unwrap_or(if quick { 30 } else { 120 });
    let settle_timeout = args.settle_timeout.unwrap_or(if quick { 5 } else { 60 });
    Options {
        latencies: args.latencies,
        counts,
        peer_counts: args.peer_counts,
        tools: args.tools,
        peer_time_limit: Duration::from_secs(peer_time_limit),
        concurrency: args.concurrency,
        bad_every: args.bad_every,
        owner_enforced: args.owner_enforced,
        pin: !args.no_pin,
        json: args.json,
        max_load: args.max_load,
        settle_timeout: Duration::from_secs(settle_timeout),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// `10000`, `10k` or `1M`.
fn count(v: &str) -> Result<usize, String> {
    let (digits, unit) = match v.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1_000),
        None => match v.strip_suffix(['m', 'M']) {
            Some(d) => (d, 1_000_000),
            None => (v, 1),
        },
    };
    digits
        .parse::<usize>()
        .map(|n| n * unit)
        .map_err(|_| format!("{v}: a count is N, Nk or NM"))
}

/// What a run does to the bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Job {
    Scan,
    Fix,
}

impl Job {
    fn name(self) -> &'static str {
        match self {
            Job::Scan => "scan",
            Job::Fix => "fix",
        }
    }
}

/// One tool doing one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    S3mend(Job),
    Rclone,
    Boto3(Job),
    S3cmd,
}

impl Run {
    fn tool(self) -> &'static str {
        match self {
            Run::S3mend(_) => "s3mend",
            Run::Rclone => "rclone",
            Run::Boto3(_) => "boto3",
            Run::S3cmd => "s3cmd",
        }
    }

    fn job(self) -> Job {
        match self {
            Run::S3mend(job) | Run::Boto3(job) => job,
            Run::Rclone => Job::Scan,
            Run::S3cmd => Job::Fix,
        }
    }

    /// The command line, as the table shows it.
    fn label(self) -> &'static str {
        match self {
            Run::S3mend(Job::Scan) => "s3mend scan",
            Run::S3mend(Job::Fix) => "s3mend fix --yes",
            Run::Rclone => "rclone lsjson -R -M",
            Run::Boto3(Job::Scan) => "boto3 script, 16 threads, --dry-run",
            Run::Boto3(Job::Fix) => "boto3 script, 16 threads",
            Run::S3cmd => "s3cmd modify --remove-header --recursive",
        }
    }

    fn is_peer(self) -> bool {
        !matches!(self, Run::S3mend(_))
    }

    /// After this run, which seeded objects must be put back so the next run finds the same.
    fn changes(self) -> Option<Option<Kind>> {
        match self {
            Run::S3mend(Job::Scan) | Run::Boto3(Job::Scan) | Run::Rclone => None,
            Run::S3mend(Job::Fix) | Run::Boto3(Job::Fix) => Some(Some(Kind::Bad)),
            // Every object is copied (and valid gzip stripped).
            Run::S3cmd => Some(None),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
struct Row {
    run: Run,
    objects: usize,
    latency_ms: u64,
    /// 1-minute load average just before the run.
    load: f64,
    /// CPU (in CPUs) that neither the client nor the lab used during the run: other processes,
    /// or the hypervisor's steal.
    others: f64,
    wall: Duration,
    /// Objects the run got through: all of them, unless it was stopped at the time limit.
    done: usize,
    capped: bool,
    code: i32,
    client_cpu: Duration,
    lab_cpu: Duration,
    peak_rss_kib: u64,
    connections: u64,
    requests: u64,
    heads: u64,
    copies: u64,
    /// Mean time the lab added to a request beyond the injected latency (queueing, handling).
    server_time: Duration,
}

impl Row {
    fn rate(&self) -> f64 {
        self.done as f64 / self.wall.as_secs_f64()
    }

    fn per_object(&self, d: Duration) -> f64 {
        d.as_secs_f64() * 1e6 / self.done.max(1) as f64
    }
}

/// Where and how the tools find the lab.
struct Setup {
    endpoint: String,
    dir: PathBuf,
    concurrency: usize,
    pin: bool,
    max_load: f64,
    settle_timeout: Duration,
    python: Option<PathBuf>,
    have: BTreeMap<&'static str, bool>,
    versions: Vec<String>,
}

impl Setup {
    fn command(&self, run: Run, bucket: &str) -> Command {
        let mut cmd = match run {
            Run::S3mend(job) => {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3mend"));
                cmd.args([job.name(), &format!("s3://{bucket}/"), "--no-progress"])
                    .args(["--format", "jsonl", "--output"])
                    .arg(self.dir.join("s3mend.out"))
                    .args(["--concurrency", &self.concurrency.to_string()]);
                if job == Job::Fix {
                    let journal = self.dir.join("s3mend.journal");
                    let _ = std::fs::remove_file(&journal);
                    cmd.arg("--yes").arg("--journal").arg(journal);
                }
                cmd
            }
            Run::Rclone => {
                let mut cmd = Command::new("rclone");
                cmd.args(["lsjson", "-R", "-M", &format!("lab:{bucket}")]);
                cmd
            }
            Run::Boto3(job) => {
                let mut cmd = Command::new(self.python.as_ref().expect("checked"));
                cmd.arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/benches/peers/boto3_fix.py"
                ))
                .args(["--endpoint-url", &self.endpoint, "--bucket", bucket]);
                if job == Job::Scan {
                    cmd.arg("--dry-run");
                }
                cmd
            }
            Run::S3cmd => {
                let mut cmd = Command::new("s3cmd");
                cmd.arg("-c")
                    .arg(self.dir.join("s3cfg"))
                    .args(["modify", "--remove-header=content-encoding", "--recursive"])
                    .arg(format!("s3://{bucket}/"));
                cmd
            }
        };
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
            .env("AWS_REGION", LAB_REGION)
            .env("AWS_DEFAULT_REGION", LAB_REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            // A CA bundle is for HTTPS; rclone refuses to start with one and a plain endpoint.
            .env_remove("AWS_CA_BUNDLE")
            .env("RCLONE_CONFIG", self.dir.join("rclone.conf"))
            .env("RCLONE_CONFIG_LAB_TYPE", "s3")
            .env("RCLONE_CONFIG_LAB_PROVIDER", "Other")
            .env("RCLONE_CONFIG_LAB_ENDPOINT", &self.endpoint)
            .env("RCLONE_CONFIG_LAB_ACCESS_KEY_ID", LAB_ACCESS_KEY)
            .env("RCLONE_CONFIG_LAB_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
            .env("RCLONE_CONFIG_LAB_REGION", LAB_REGION)
            .env("RCLONE_CONFIG_LAB_FORCE_PATH_STYLE", "true")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(self.dir.join("stderr.txt"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            );
        if self.pin {
            pin_child(&mut cmd, 1);
        }
        cmd
    }
}

/// Runs the child on CPU `cpu` only.
fn pin_child(cmd: &mut Command, cpu: usize) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls async-signal-safe libc functions on a local value.
    unsafe {
        cmd.pre_exec(move || {
            set_cpu(0, cpu);
            Ok(())
        });
    }
}

/// Pins `pid` (0: the calling thread) to one CPU; threads it starts later inherit it.
fn set_cpu(pid: libc::pid_t, cpu: usize) {
    // SAFETY: an all-zero cpu_set_t is an empty set; CPU_SET stays within it for cpu < 1024.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn probe(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .ok()?;
    out.status.success().then(|| {
        let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        text.lines().next().unwrap_or("").trim().to_owned()
    })
}

fn find_python() -> Option<PathBuf> {
    let python = std::env::var_os("S3MEND_BENCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(VENV_PYTHON)))?;
    let ok = Command::new(&python)
        .args(["-c", "import boto3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
}

fn setup(lab: &Lab, opts: &Options) -> Setup {
    let dir = std::env::temp_dir().join(format!("s3mend-matrix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("rclone.conf"), "").expect("rclone.conf");
    let host = lab.endpoint().trim_start_matches("http://").to_owned();
    std::fs::write(
        dir.join("s3cfg"),
        format!(
            "[default]\naccess_key = {LAB_ACCESS_KEY}\nsecret_key = {LAB_SECRET_KEY}\n\
             host_base = {host}\nhost_bucket = {host}\nuse_https = False\n\
             signature_v2 = False\nbucket_location = {LAB_REGION}\nprogress_meter = False\n"
        ),
    )
    .expect("s3cfg");
    let wanted = |t: &str| opts.tools.iter().any(|x| x == t);
    let mut have = BTreeMap::new();
    let mut versions = vec![format!("s3mend {}", env!("CARGO_PKG_VERSION"))];
    have.insert("s3mend", wanted("s3mend"));
    let rclone = wanted("rclone")
        .then(|| probe("rclone", &["version"]))
        .flatten();
    if wanted("rclone") && rclone.is_none() {
        eprintln!("matrix: rclone not found, skipping it (apt-get install -y rclone)");
    }
    have.insert("rclone", rclone.is_some());
    versions.extend(rclone);
    let s3cmd = wanted("s3cmd")
        .then(|| probe("s3cmd", &["--version"]))
        .flatten();
    if wanted("s3cmd") && s3cmd.is_none() {
        eprintln!("matrix: s3cmd not found, skipping it (apt-get install -y s3cmd)");
    }
    have.insert("s3cmd", s3cmd.is_some());
    versions.extend(s3cmd);
    let python = wanted("boto3").then(find_python).flatten();
    if wanted("boto3") && python.is_none() {
        eprintln!(
            "matrix: no Python with boto3, skipping the boto3 script (python3 -m venv ~/.cache/s3mend-bench/venv && ~/.cache/s3mend-bench/venv/bin/pip install boto3, or set S3MEND_BENCH_PYTHON)"
        );
    }
    if let Some(python) = &python {
        versions.extend(probe(
            python.to_str().unwrap_or("python3"),
            &["-c", "import boto3, sys; print('boto3', boto3.__version__, 'on Python', sys.version.split()[0])"],
        ));
    }
    have.insert("boto3", python.is_some());
    Setup {
        endpoint: lab.endpoint(),
        dir,
        concurrency: opts.concurrency,
        pin: opts.pin,
        max_load: opts.max_load,
        settle_timeout: opts.settle_timeout,
        python,
        have,
        versions,
    }
}

fn measure(
    lab: &Lab,
    setup: &Setup,
    run: Run,
    objects: &Objects,
    bucket: &str,
    latency_ms: u64,
    limit: Option<Duration>,
) -> Row {
    let load = settle(setup.max_load, setup.settle_timeout);
    lab.reset_stats();
    let lab_before = own_cpu();
    let busy_before = machine_busy();
    let mut cmd = setup.command(run, bucket);
    let m = run_measured(&mut cmd, limit);
    let lab_cpu = own_cpu() - lab_before;
    let others = (machine_busy().saturating_sub(busy_before)).as_secs_f64()
        - m.cpu.as_secs_f64()
        - lab_cpu.as_secs_f64();
    let stats = lab.stats();
    let heads = stats.count("HeadObject");
    let copies = stats.count("CopyObject");
    // A stopped peer is measured by what it got through: HEADs for a scan or the boto3 script,
    // copies for s3cmd (one per object, after its HEAD).
    let done = if m.capped {
        usize::try_from(if run == Run::S3cmd { copies } else { heads }).unwrap_or(0)
    } else {
        objects.count
    };
    Row {
        run,
        objects: objects.count,
        latency_ms,
        load,
        others: (others / m.wall.as_secs_f64()).max(0.0),
        wall: m.wall,
        done,
        capped: m.capped,
        code: m.code,
        client_cpu: m.cpu,
        lab_cpu,
        peak_rss_kib: m.peak_rss_kib,
        connections: stats.connections,
        requests: stats.total(),
        heads,
        copies,
        server_time: stats.server_time_per_request(),
    }
}

/// Says what is wrong with a finished run, if anything: the exit code, or objects it did not touch.
fn check(row: &Row, objects: &Objects) -> Option<String> {
    if row.capped {
        return None;
    }
    let n = objects.count as u64;
    let expected_code = if row.run == Run::S3mend(Job::Scan) {
        1
    } else {
        0
    };
    if row.code != expected_code {
        return Some(format!("exit code {} (expected {expected_code})", row.code));
    }
    let bad = objects.bad() as u64;
    let (heads_ok, copies_ok) = match row.run {
        Run::S3mend(Job::Scan) | Run::Rclone | Run::Boto3(Job::Scan) => {
            (row.heads >= n, row.copies == 0)
        }
        // s3mend: the probe (a copy refused by its condition) and one verifying HEAD per repair.
        Run::S3mend(Job::Fix) => (row.heads >= n + bad, row.copies >= bad),
        Run::Boto3(Job::Fix) => (row.heads >= n, row.copies == bad),
        Run::S3cmd => (row.heads >= n, row.copies == n),
    };
    (!heads_ok || !copies_ok).then(|| {
        format!(
            "touched too few objects: {} HEAD, {} COPY for {n} objects ({bad} bad)",
            row.heads, row.copies
        )
    })
}

fn main() {
    let opts = parse_args();
    let pin = opts.pin && opts.cpus >= 2;
    if pin {
        // Before the runtime and the lab's threads exist, so that they all inherit it.
        set_cpu(0, 0);
    }
    let runtime = support::lab_runtime();
    let lab = runtime.block_on(Lab::start(LabConfig::default())).unwrap();
    let opts = Options { pin, ..opts };
    let setup = setup(&lab, &opts);
    let peer_counts = opts
        .peer_counts
        .clone()
        .unwrap_or_else(|| opts.counts.first().copied().into_iter().collect());
    let mut runs = Vec::new();
    if setup.have["s3mend"] {
        runs.extend([Run::S3mend(Job::Scan), Run::S3mend(Job::Fix)]);
    }
    if setup.have["rclone"] {
        runs.push(Run::Rclone);
    }
    if setup.have["boto3"] {
        runs.extend([Run::Boto3(Job::Scan), Run::Boto3(Job::Fix)]);
    }
    if setup.have["s3cmd"] {
        runs.push(Run::S3cmd);
    }

    let started = std::time::Instant::now();
    let header = header(&setup, &opts);
    println!("{header}");
    let mut rows: Vec<Row> = Vec::new();
    let mut problems = Vec::new();
    for &count in &opts.counts {
        let objects = Objects {
            count,
            bad_every: opts.bad_every,
        };
        let bucket = format!("bench-{count}");
        let seeding = std::time::Instant::now();
        objects.seed(&lab, &bucket, None);
        if opts.owner_enforced {
            lab.set_acl_mode(&bucket, AclMode::OwnerEnforced);
        }
        eprintln!(
            "matrix: seeded {count} objects in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        for &latency_ms in &opts.latencies {
            lab.set_latency(Duration::from_millis(latency_ms));
            for &run in &runs {
                if run.is_peer() && !peer_counts.contains(&count) {
                    continue;
                }
                let limit = run.is_peer().then_some(opts.peer_time_limit);
                let row = measure(&lab, &setup, run, &objects, &bucket, latency_ms, limit);
                eprintln!("matrix: {}", line(&row, setup.concurrency));
                if let Some(problem) = check(&row, &objects) {
                    let stderr =
                        std::fs::read_to_string(setup.dir.join("stderr.txt")).unwrap_or_default();
                    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
                    let problem = format!(
                        "{} at {count} objects, {latency_ms} ms: {problem}; its stderr ends: {}",
                        run.label(),
                        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                    );
                    eprintln!("matrix: {problem}");
                    problems.push(problem);
                }
                if let Some(only) = run.changes() {
                    objects.seed(&lab, &bucket, only);
                }
                rows.push(row);
            }
        }
    }
    lab.set_latency(Duration::ZERO);

    println!("{}", table(&rows, setup.concurrency));
    println!("{}", ratios(&rows));
    println!("{}", targets(&rows, setup.concurrency));
    for problem in &problems {
        println!("PROBLEM: {problem}");
    }
    println!(
        "The whole run took {:.1} min.",
        started.elapsed().as_secs_f64() / 60.0
    );
    if let Some(path) = &opts.json {
        std::fs::write(path, json(&header, &rows, setup.concurrency)).expect("--json PATH");
    }
    let _ = std::fs::remove_dir_all(&setup.dir);
    runtime.block_on(lab.shutdown());
}
