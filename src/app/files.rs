//! The files a run writes must be different files: the report, the journal and the `--state`
//! checkpoint each replace or append to theirs, so one path given twice (also as `./x` and `x`,
//! or through a symlink) would have one destroy the other.

use std::fs;
use std::path::{Path, PathBuf};

/// What makes two paths one file.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    /// An existing file: its device and inode.
    Inode(u64, u64),
    /// A file to be created: where it would be.
    Place(PathBuf),
}

fn identity(path: &Path) -> Identity {
    #[cfg(unix)]
    if let Ok(meta) = fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Identity::Inode(meta.dev(), meta.ino());
    }
    // Not there yet (or a link to nothing yet): the place it would be created, links followed.
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        match fs::read_link(&target) {
            Ok(next) if next.is_absolute() => target = next,
            Ok(next) => target = target.parent().unwrap_or(Path::new("")).join(next),
            Err(_) => break,
        }
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let parent = fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
    Identity::Place(parent.join(target.file_name().unwrap_or_default()))
}

/// Refuses two of `files` (flag, path) naming one file, with a one-line error naming both flags.
pub(super) fn distinct<'p>(
    files: impl IntoIterator<Item = (&'static str, Option<&'p Path>)>,
) -> anyhow::Result<()> {
    let named: Vec<(&str, &Path, Identity)> = files
        .into_iter()
        .filter_map(|(flag, path)| path.map(|p| (flag, p, identity(p))))
        .collect();
    for (i, (flag, path, id)) in named.iter().enumerate() {
        if let Some((other, other_path, _)) = named[..i].iter().find(|(_, _, o)| o == id) {
            anyhow::bail!(
                "{other} {} and {flag} {} are the same file: each needs its own",
                other_path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_under_two_names_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let journal = d.join("j.jsonl");
        let check = |a: &Path, b: &Path| distinct([("--journal", Some(a)), ("--state", Some(b))]);
        assert!(check(&journal, &d.join("state.json")).is_ok());
        // The same path, not yet created, and spelt differently.
        let err = check(&journal, &d.join(".").join("j.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("are the same file"), "{err}");
        assert!(
            err.starts_with("--journal ") && err.contains(" and --state "),
            "{err}"
        );
        // Through a symlink, before and after the file exists.
        let link = d.join("link");
        std::os::unix::fs::symlink(&journal, &link).unwrap();
        assert!(
            check(&journal, &link).is_err(),
            "a link to a file to be created"
        );
        std::fs::write(&journal, "").unwrap();
        assert!(
            check(&link, &journal).is_err(),
            "a link to an existing file"
        );
        assert!(distinct([("--journal", Some(journal.as_path())), ("--state", None)]).is_ok());
    }
}
