//! Files replaced atomically: the new content goes to a temp file in the same directory, is
//! fsynced, then renamed over the old file, so a crash at any instant leaves either the old file
//! or the new one, never a part of either. `--state` checkpoints and `--metrics-file` are written
//! this way.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where `path`'s new content is written before the rename: `.NAME.tmp-PID` beside it. The
/// leading dot and the suffix keep it out of globs such as node_exporter's `*.prom`.
pub fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    Ok(path.with_file_name(temp_name))
}

/// Replaces the file at `path` with `contents`; a new file gets `mode` (unix permissions).
pub fn replace(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let temp = temp_path(path)?;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let result = options.open(&temp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
