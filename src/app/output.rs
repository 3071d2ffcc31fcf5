//! Where a run's reports go (`--output`, `--also-format`), opened before the first request: a
//! file (mode 0600), a FIFO that must have a reader, or stdout, held back under `-q` until there
//! is something in it.

use std::io::{self, BufWriter, Write};

use anyhow::Context;

use crate::config::OutputConfig;
use crate::report;

/// Where a run's report goes, opened before the first request.
pub struct Output {
    pub out: Box<dyn Write + Send>,
    /// Colours for a terminal.
    pub color: bool,
    /// Set when the report is held back until there is something in it (`-q` on stdout).
    pub release: Option<report::Release>,
    /// `--also-format`: more reports of the run, each with its format.
    pub also: Vec<(report::Format, Box<dyn Write + Send>)>,
}

/// The report's destination, and whether the table may use colour (`--color`, decided in
/// `color.rs`; never in a file).
pub fn open_output(cfg: &OutputConfig) -> anyhow::Result<Output> {
    let mut output = open_one(cfg.path.as_deref(), cfg.quiet, "--output")?;
    for (format, path) in &cfg.also {
        let also = open_one(path.as_deref(), cfg.quiet, "--also-format")?;
        // At most one report goes to stdout (config checks): its release is the run's.
        output.release = output.release.or(also.release);
        output.also.push((*format, also.out));
    }
    Ok(output)
}

/// One report's destination: `path`, or stdout.
fn open_one(path: Option<&std::path::Path>, quiet: bool, flag: &str) -> anyhow::Result<Output> {
    match path {
        Some(path) => {
            // Reports name private objects: readable by the owner only.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = if is_fifo(path) {
                open_fifo(path, &mut options)
            } else {
                options.open(path)
            }
            .with_context(|| format!("cannot write {flag} {}", path.display()))?;
            Ok(Output {
                out: Box::new(BufWriter::new(file)),
                color: false,
                release: None,
                also: Vec::new(),
            })
        }
        None => {
            // Decided once for the process from --color, the terminal and NO_COLOR (color.rs).
            let color = console::colors_enabled();
            let stdout: Box<dyn Write + Send> = Box::new(BufWriter::new(io::stdout()));
            if !quiet {
                return Ok(Output {
                    out: stdout,
                    color,
                    release: None,
                    also: Vec::new(),
                });
            }
            let (held, release) = report::Held::new(stdout);
            Ok(Output {
                out: Box::new(held),
                color,
                release: Some(release),
                also: Vec::new(),
            })
        }
    }
}

fn is_fifo(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo())
    }
    #[cfg(not(unix))]
    false
}

/// Opens a FIFO without waiting for a reader, which would hang the run before its first
/// request: with none, the open fails at once (ENXIO). Then writes block again, as on a pipe.
#[cfg(unix)]
fn open_fifo(
    path: &std::path::Path,
    options: &mut std::fs::OpenOptions,
) -> io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    options.truncate(false).custom_flags(libc::O_NONBLOCK);
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENXIO) {
            io::Error::other("it is a FIFO and nothing reads from it")
        } else {
            e
        }
    })?;
    // SAFETY: fcntl on a descriptor this function owns, with flags read from it.
    let cleared = unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) >= 0
    };
    if cleared {
        Ok(file)
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn open_fifo(
    path: &std::path::Path,
    options: &mut std::fs::OpenOptions,
) -> io::Result<std::fs::File> {
    options.open(path)
}
