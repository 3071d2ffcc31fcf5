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

    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
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
