//! Whether a run may write, and the question on the terminal when it must ask.

use std::io;

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

/// `on_a_terminal`: stdin and stderr both are one (the question is asked on stderr, and the
/// answer typed on stdin).
pub fn consent(write: &WriteConfig, on_a_terminal: bool) -> Consent {
    if write.dry_run || write.yes {
        Consent::Granted
    } else if on_a_terminal {
        Consent::Ask
    } else {
        Consent::Refused
    }
}

/// The one-line error of a run that may not write.
pub(super) const REFUSED: &str =
    "refusing to write without --yes: no terminal to confirm on, stdin and stderr must both be one (see the plan with --dry-run)";

/// Whether the question can be asked: see [`consent`].
pub fn on_a_terminal() -> bool {
    use std::io::IsTerminal;
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// Asks "QUESTION [y/N]" on the terminal (dialoguer: y or n, then Enter; Enter alone is no). A
/// Ctrl-C while waiting for the answer counts as no: the read runs on its own thread, so the
/// signal is not stuck behind it.
pub(super) async fn confirm(question: &str, cancel: &CancellationToken) -> bool {
    let terminal = Terminal::save();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let question = question.to_owned();
    // Detached: if the run is interrupted the thread stays blocked reading a key until the
    // process exits, which must not wait for it.
    std::thread::spawn(move || {
        let answer = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .wait_for_newline(true)
            .interact();
        let _ = tx.send(answer);
    });
    let answer = tokio::select! {
        answer = rx => answer,
        () = cancel.cancelled() => {
            terminal.restore();
            eprintln!();
            return false;
        }
    };
    match answer {
        Ok(Ok(yes)) => yes,
        // Ctrl-C read as a key: console has raised SIGINT, whose handler cancels the run; wait
        // for it, so the run ends as interrupted rather than declined.
        Ok(Err(dialoguer::Error::IO(e))) if e.kind() == io::ErrorKind::Interrupted => {
            terminal.restore();
            cancel.cancelled().await;
            eprintln!();
            false
        }
        Ok(Err(e)) => {
            terminal.restore();
            eprintln!("\ns3mend: cannot read the answer: {e}");
            false
        }
        Err(_) => false,
    }
}

/// The terminal's settings before the question: dialoguer reads keys in raw mode with the cursor
/// hidden and puts both back only when it returns, which it does not when Ctrl-C is the key or
/// SIGTERM stops the run meanwhile.
struct Terminal {
    #[cfg(unix)]
    termios: Option<libc::termios>,
}

impl Terminal {
    fn save() -> Self {
        #[cfg(unix)]
        {
            let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
            // SAFETY: tcgetattr writes a whole termios into the pointer when it returns 0.
            let termios = unsafe {
                (libc::tcgetattr(libc::STDIN_FILENO, termios.as_mut_ptr()) == 0)
                    .then(|| termios.assume_init())
            };
            Terminal { termios }
        }
        #[cfg(not(unix))]
        Terminal {}
    }

    fn restore(&self) {
        #[cfg(unix)]
        if let Some(termios) = &self.termios {
            // SAFETY: a termios read from the same descriptor by tcgetattr.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, termios) };
        }
        let _ = console::Term::stderr().show_cursor();
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
