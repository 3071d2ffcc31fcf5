//! What `s3mend --version` says beyond the crate's version: the commit it was built from (when
//! built from a git checkout with git installed; a crate unpacked from a tarball has none), the
//! aws-sdk-s3 it links (from Cargo.lock), the target and the compiler. Each value is set for the
//! compiler as an environment variable that `src/cli.rs` reads with `env!`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = git_commit(&dir);
    let lock = dir.join("Cargo.lock");
    watch(&lock);
    // Without any watched file cargo would rerun this script after every change in the package.
    watch(&dir.join("build.rs"));
    let sdk = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|text| locked_version(&text, "aws-sdk-s3"));
    let details: Vec<String> = commit
        .into_iter()
        .chain(sdk.map(|v| format!("aws-sdk-s3 {v}")))
        .collect();
    let line = if details.is_empty() {
        version
    } else {
        format!("{version} ({})", details.join(", "))
    };
    println!("cargo:rustc-env=S3MEND_VERSION={line}");
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=S3MEND_TARGET={target}");
    let rustc = std::env::var_os("RUSTC")
        .and_then(|rustc| output(Command::new(rustc).arg("--version")))
        .unwrap_or_else(|| "rustc (version unknown)".to_owned());
    println!("cargo:rustc-env=S3MEND_RUSTC={rustc}");
}

/// `git rev-parse --short HEAD`, and the files to watch so that a new commit rebuilds: HEAD in
/// this checkout's git directory, the branch it points to and packed-refs in the common one (a
/// worktree has both). None without git or outside a repository.
fn git_commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| output(Command::new("git").arg("-C").arg(dir).args(args));
    let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    watch(&git_dir.join("HEAD"));
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        let common = dir.join(common);
        watch(&common.join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let branch = common.join(branch);
            // A branch only in packed-refs gets its own file with its next commit: watch the
            // folder it will appear in.
            match branch.exists() {
                true => watch(&branch),
                false => branch.parent().into_iter().for_each(watch),
            }
        }
    }
    git(&["rev-parse", "--short", "HEAD"])
}

/// Reruns this script when `path` changes. Only paths that exist: cargo reruns a build script
/// that watches a missing one on every build, which would rebuild s3mend every time.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// The trimmed stdout of a command that succeeded with some output.
fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// The version of `name` in a Cargo.lock: the `version` line after its `name` line.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.find(|line| line.trim() == wanted)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.strip_suffix('"')?.to_owned())
}
