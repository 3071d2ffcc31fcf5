//! The progress bar on stderr: the only file that imports indicatif. It reads the pipeline's
//! counters a few times a second; the pipeline never waits for it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::Counters;

pub struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Shows progress if `wanted` and stderr is a terminal.
    pub fn start(counters: Arc<Counters>, wanted: bool) -> Self {
        if !wanted || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                ticker: None,
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let ticker = tokio::spawn({
            let bar = bar.clone();
            async move {
                let start = Instant::now();
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    bar.set_message(message(&counters, start.elapsed()));
                    bar.tick();
                }
            }
        });
        Progress {
            bar: Some(bar),
            ticker: Some(ticker),
        }
    }

    /// The repair phase: repaired of to-repair, the rate and the time left. With `--yes` the
    /// objects to repair are still being found: the total is what the scan found so far, until
    /// the scan ends (`pipeline::counting_to_repair`).
    pub fn start_repairs(counters: Arc<Counters>, wanted: bool) -> Self {
        if !wanted || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                ticker: None,
            };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed} repaired {pos}/{len} {wide_bar} {rate} ETA {eta}  {msg}",
            )
            .map(|style| style.with_key("rate", rate))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let ticker = tokio::spawn({
            let bar = bar.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    let (total, done, message) = repairs(&counters);
                    bar.set_length(total);
                    bar.set_position(done);
                    bar.set_message(message);
                }
            }
        });
        Progress {
            bar: Some(bar),
            ticker: Some(ticker),
        }
    }

    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The repair rate in whole objects per second (indicatif's `{per_sec}` shows `83.9824/s`).
fn rate(state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write) {
    let _ = write!(out, "{:.0} objects/s", state.per_sec());
}

/// The repair phase's total, done, and (while the scan still runs) its counts.
fn repairs(c: &Counters) -> (u64, u64, String) {
    let asked = Counters::get(&c.to_repair);
    let done = Counters::get(&c.repaired);
    if asked > 0 {
        return (asked, done, String::new());
    }
    let found = Counters::get(&c.with_findings);
    let scanning = format!(
        "(found so far; listed {}, inspected {})",
        Counters::get(&c.listed),
        Counters::get(&c.inspected) + Counters::get(&c.errors)
    );
    (found.max(done), done, scanning)
}

fn message(c: &Counters, elapsed: Duration) -> String {
    let inspected = Counters::get(&c.inspected) + Counters::get(&c.errors);
    let rate = inspected as f64 / elapsed.as_secs_f64().max(0.001);
    format!(
        "listed {}  inspected {}  findings {}  errors {}  {rate:.0} objects/s",
        Counters::get(&c.listed),
        inspected,
        Counters::get(&c.with_findings),
        Counters::get(&c.errors),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn the_repair_total_is_the_answered_count_or_what_was_found_so_far() {
        let c = Counters::default();
        c.with_findings.store(40, Ordering::Relaxed);
        c.repaired.store(10, Ordering::Relaxed);
        c.listed.store(100, Ordering::Relaxed);
        let (total, done, message) = repairs(&c);
        assert_eq!((total, done), (40, 10));
        assert!(message.contains("found so far; listed 100"), "{message}");
        c.to_repair.store(35, Ordering::Relaxed);
        assert_eq!(repairs(&c), (35, 10, String::new()));
    }

    #[tokio::test]
    async fn with_yes_the_total_is_known_once_the_scan_has_ended() {
        use futures::StreamExt;
        let c = Arc::new(Counters::default());
        c.with_findings.store(3, Ordering::Relaxed);
        let (tx, rx) = futures::channel::mpsc::unbounded::<crate::pipeline::ScanItem>();
        let mut scan = Box::pin(crate::pipeline::counting_to_repair(rx, c.clone()));
        assert!(futures::poll!(scan.next()).is_pending(), "the scan runs");
        assert_eq!(Counters::get(&c.to_repair), 0, "no total yet");
        drop(tx);
        assert!(scan.next().await.is_none());
        assert_eq!(
            repairs(&c),
            (3, 0, String::new()),
            "the total, and no 'so far'"
        );
    }
}
