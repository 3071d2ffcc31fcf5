//! `--statsd` and `--metrics-file`: the run's metrics ([`crate::report::metrics`]) go out when the
//! run ends, however it ends. The file is checked before the first request and replaced
//! atomically; a statsd send that fails is one warning, never the run's failure.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use cadence::prelude::*;
use cadence::{Metric, MetricBuilder, StatsdClient, UdpMetricSink};

use crate::atomic_file;
use crate::config::{MetricsConfig, StatsdAddr};
use crate::exit_codes::ExitCode;
use crate::report::metrics::{last_success_in, Labels, LastSuccess, Metrics, StatsdSample};
use crate::report::metrics::{Tally, Value};
use crate::report::{ObjectRow, Summary};
use crate::rules::RuleSet;

/// How long the `--statsd` name may take to resolve: a resolver that does not answer must not
/// hold the end of the run (getaddrinfo cannot be cancelled; its thread is left behind).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a previous metrics file read back for its last success (s3mend writes ~5 KB).
const PREVIOUS_FILE_LIMIT: u64 = 1 << 20;

/// The metrics side of a run: its clock, and the counts the summary does not keep.
pub(crate) struct RunMetrics {
    statsd: Option<StatsdAddr>,
    /// The file, links followed: replacing a link would leave its target stale.
    file: Option<PathBuf>,
    labels: Labels,
    started: Instant,
    tally: Tally,
}

impl RunMetrics {
    /// Starts the run's clock and checks that the metrics file can be replaced, so that a bad
    /// path fails before the first request. `None` without `--statsd` and `--metrics-file`.
    pub(crate) fn start(
        config: &MetricsConfig,
        labels: Labels,
        rules: &RuleSet,
    ) -> anyhow::Result<Option<Self>> {
        if config.statsd.is_none() && config.file.is_none() {
            return Ok(None);
        }
        let file = match &config.file {
            Some(path) => Some(
                replaceable(path)
                    .with_context(|| format!("cannot write --metrics-file {}", path.display()))?,
            ),
            None => None,
        };
        Ok(Some(RunMetrics {
            statsd: config.statsd.clone(),
            file,
            labels,
            started: Instant::now(),
            tally: Tally::new(rules),
        }))
    }

    /// One row of the report.
    pub(crate) fn record(&mut self, row: &ObjectRow) {
        self.tally.record(row);
    }

    /// Writes the file and sends to statsd the metrics of a run that ended with `summary` and
    /// `outcome`, and returns the outcome: unchanged, unless the file could not be written after
    /// a run that had no error of its own (then that is the run's error).
    ///
    /// The run succeeded if it is complete and exits 0 or 1: that is when the last success is
    /// now. Otherwise the file keeps the last success its previous version recorded for the same
    /// bucket, prefix and command, so that an alert on its age counts from the last run that
    /// worked; statsd, which keeps its own last value, is sent none.
    pub(crate) fn finish(
        self,
        summary: &Summary,
        outcome: anyhow::Result<ExitCode>,
    ) -> anyhow::Result<ExitCode> {
        let succeeded =
            summary.complete && matches!(outcome, Ok(ExitCode::Clean | ExitCode::Findings));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as f64;
        let duration = self.started.elapsed();
        let metrics = |last_success| {
            Metrics::new(
                self.labels.clone(),
                summary,
                &self.tally,
                duration,
                last_success,
            )
        };
        let mut file_failed = None;
        if let Some(path) = &self.file {
            let last_success = if succeeded {
                LastSuccess::Now(now)
            } else {
                previous_last_success(path, &self.labels)
            };
            let text = metrics(last_success).prometheus();
            if let Err(e) = atomic_file::replace(path, text.as_bytes(), 0o644) {
                file_failed = Some(
                    anyhow::Error::new(e)
                        .context(format!("cannot write --metrics-file {}", path.display())),
                );
            }
        }
        if let Some(addr) = &self.statsd {
            let last_success = if succeeded && file_failed.is_none() {
                LastSuccess::Now(now)
            } else {
                LastSuccess::Unknown
            };
            if let Err(e) = send(addr, &metrics(last_success).statsd()) {
                tracing::warn!("the metrics could not be sent to --statsd {addr}: {e}");
            }
        }
        match (outcome, file_failed) {
            (Ok(_), Some(file)) => Err(file),
            (Err(run), Some(file)) => {
                tracing::warn!("{file:#}");
                Err(run)
            }
            (outcome, None) => outcome,
        }
    }
}

/// `path` with links followed, once it is known that a file there can be replaced: it is not a
/// directory or a device, and a temp file beside it can be created (and is removed again).
fn replaceable(path: &Path) -> io::Result<PathBuf> {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(meta) = fs::metadata(&path) {
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
    }
    let temp = atomic_file::temp_path(&path)?;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)?;
    fs::remove_file(&temp)?;
    Ok(path)
}

/// The last success the metrics file at `path` records for a run with these labels, if any.
fn previous_last_success(path: &Path, labels: &Labels) -> LastSuccess {
    let mut text = String::new();
    let read = File::open(path).and_then(|f| f.take(PREVIOUS_FILE_LIMIT).read_to_string(&mut text));
    match read.ok().and_then(|_| last_success_in(&text, labels)) {
        Some(at) => LastSuccess::Kept(at),
        None => LastSuccess::Unknown,
    }
}

/// Sends every sample in its own datagram; the first failure stops the sending.
fn send(addr: &StatsdAddr, samples: &[StatsdSample]) -> anyhow::Result<()> {
    let target = resolve(addr)?;
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    // Blocking: a send waits for room in the socket's buffer rather than drop a metric; the run
    // is over, and a datagram leaves at once.
    let socket = UdpSocket::bind(local)?;
    let client = StatsdClient::from_sink("", UdpMetricSink::from(target, socket)?);
    for sample in samples {
        match sample.value {
            Value::Counter(n) => {
                tagged(client.count_with_tags(sample.name, n), sample).try_send()?;
            }
            Value::Gauge(x) => {
                tagged(client.gauge_with_tags(sample.name, x), sample).try_send()?;
            }
        }
    }
    Ok(())
}

fn tagged<'m, 'c, T: Metric + From<String>>(
    mut builder: MetricBuilder<'m, 'c, T>,
    sample: &'m StatsdSample,
) -> MetricBuilder<'m, 'c, T> {
    for (key, value) in &sample.tags {
        builder = builder.with_tag(key, value);
    }
    builder
}

/// The address to send to: an IP address as it is, a name resolved within [`RESOLVE_TIMEOUT`].
fn resolve(addr: &StatsdAddr) -> io::Result<SocketAddr> {
    if let Ok(ip) = addr.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, addr.port));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let (host, port) = (addr.host.clone(), addr.port);
    std::thread::spawn(move || {
        let _ = tx.send(
            (host.as_str(), port)
                .to_socket_addrs()
                .map(|mut a| a.next()),
        );
    });
    match rx.recv_timeout(RESOLVE_TIMEOUT) {
        Ok(Ok(Some(target))) => Ok(target),
        Ok(Ok(None)) => Err(io::Error::other("the name has no address")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other(format!(
            "the name did not resolve within {}s",
            RESOLVE_TIMEOUT.as_secs()
        ))),
    }
}
