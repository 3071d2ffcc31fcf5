//! Whether a run may write, and the question on the terminal when it must ask.

use std::io::{self, BufRead, Write};

use tokio_util::sync::CancellationToken;

use crate::config::WriteConfig;

/// Whether a run may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Granted,
    /// Ask on the terminal, with the count, once the scan is done.
    Ask,
    Refused,
}

pub fn consent(write: &WriteConfig, stdin_is_terminal: bool) -> Consent {
    if write.dry_run || write.yes {
        Consent::Granted
    } else if stdin_is_terminal {
        Consent::Ask
    } else {
        Consent::Refused
    }
}

/// The one-line error of a run that may not write.
pub(super) const REFUSED: &str =
    "refusing to write without --yes: stdin is not a terminal to confirm on (see the plan with --dry-run)";

/// Asks "QUESTION [y/N]" on the terminal. A Ctrl-C while waiting for the answer counts as no:
/// the read runs on its own thread, so the signal is not stuck behind it.
pub(super) async fn confirm(question: &str, cancel: &CancellationToken) -> bool {
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Detached: if the run is interrupted the thread stays blocked in read_line until the
    // process exits, which must not wait for it.
    std::thread::spawn(move || {
        let mut answer = String::new();
        let yes = io::stdin().lock().read_line(&mut answer).is_ok()
            && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
        let _ = tx.send(yes);
    });
    tokio::select! {
        answer = rx => answer.unwrap_or(false),
        () = cancel.cancelled() => {
            eprintln!();
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_needs_yes_without_a_terminal() {
        let write = |dry_run, yes| WriteConfig {
            dry_run,
            yes,
            journal: None,
            journal_given: false,
            allow_unconditional: false,
        };
        assert_eq!(consent(&write(false, false), false), Consent::Refused);
        assert_eq!(consent(&write(false, false), true), Consent::Ask);
        assert_eq!(consent(&write(false, true), false), Consent::Granted);
        assert_eq!(consent(&write(true, false), false), Consent::Granted);
    }
}
