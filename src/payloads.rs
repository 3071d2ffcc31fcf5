//! The annotation payloads a multipart rewrite keeps on disk, next to the journal, from before
//! CompleteMultipartUpload until each is put back on the new object: a directory named after
//! the journal (`JOURNAL.annotations/`, mode 0700), one file per payload (0600, synced before
//! the journal names it). `--resume` reads them to finish a set of puts a stopped run left.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The directory that keeps the payloads of the journal at `journal`.
pub fn dir_for(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".annotations");
    PathBuf::from(name)
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Writes `payload` to a new file in `dir` (created if needed), synced; returns the file's name
/// in `dir`.
pub fn save(dir: &Path, payload: &[u8]) -> io::Result<String> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(dir.join(&name))?;
    file.write_all(payload)?;
    file.sync_all()?;
    Ok(name)
}

/// The payload saved as `name` in `dir`. A name is never a path: one that tries to leave `dir`
/// is refused.
pub fn load(dir: &Path, name: &str) -> io::Result<Vec<u8>> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a payload file name: {name:?}"),
        ));
    }
    fs::read(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_privately_next_to_the_journal() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = dir_for(&tmp.path().join("j.jsonl"));
        assert_eq!(dir, tmp.path().join("j.jsonl.annotations"));
        let a = save(&dir, b"first").unwrap();
        let b = save(&dir, b"second").unwrap();
        assert_ne!(a, b);
        assert_eq!(load(&dir, &a).unwrap(), b"first");
        assert_eq!(load(&dir, &b).unwrap(), b"second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.join(&a)), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
        assert!(load(&dir, "../j.jsonl").is_err());
    }
}
