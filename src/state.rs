//! `--state` checkpoints and `--resume`.
//!
//! Keys arrive from ListObjectsV2 in ascending order but finish in completion order. The
//! [`Watermark`] turns that into one key: every listed key up to and including it is done (its
//! row is in the report and, for a fix, its journal outcome is on disk). A resumed run lists with
//! `StartAfter` that key, so nothing done is read twice and nothing undone is missed.
//!
//! The checkpoint is rewritten at most once a second and at the end, atomically (a temp file in the
//! same directory, fsynced, then renamed over the old one), so a crash at any instant leaves either
//! the previous checkpoint or the new one. It may lag the work by a second: anything redone after
//! a crash is re-inspected first, and a repaired object no longer has a finding.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Keys listed and not yet done, in listing order, and the key below which all is done.
#[derive(Debug, Default)]
pub struct Watermark {
    /// (key, done) for each listed key after `done_through`.
    window: VecDeque<(String, bool)>,
    done_through: Option<String>,
}

impl Watermark {
    /// Starts after `done_through` (a resumed run's StartAfter).
    pub fn after(done_through: Option<String>) -> Self {
        Watermark {
            window: VecDeque::new(),
            done_through,
        }
    }

    /// A key was listed (called in listing order).
    pub fn listed(&mut self, key: &str) {
        self.window.push_back((key.to_owned(), false));
    }

    /// A listed key is done; the watermark moves over every leading done key.
    pub fn done(&mut self, key: &str) {
        // Listings are sorted, so a binary search finds it; a server that does not sort still
        // gets a correct (slower) answer.
        let found = self
            .window
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .filter(|&i| self.window[i].0 == key)
            .or_else(|| self.window.iter().position(|(k, _)| k == key));
        if let Some(i) = found {
            self.window[i].1 = true;
        }
        while self.window.front().is_some_and(|(_, done)| *done) {
            self.done_through = self.window.pop_front().map(|(k, _)| k);
        }
    }

    pub fn done_through(&self) -> Option<&str> {
        self.done_through.as_deref()
    }

    /// Keys listed and not done yet.
    pub fn in_flight(&self) -> usize {
        self.window.iter().filter(|(_, done)| !done).count()
    }
}

/// What a run was started on; a resume must match it exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// `scan` or `fix`.
    pub command: String,
    pub bucket: String,
    pub prefix: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub rules: Vec<String>,
    /// The `--policy` file, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// `--shard I/N`: each shard keeps a state of its own, which no other shard may resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

impl Scope {
    /// Why `self` (the state's) cannot be resumed by a run on `run`, if it cannot.
    pub fn mismatch(&self, run: &Scope) -> Option<String> {
        let target = |s: &Scope| format!("s3://{}/{}", s.bucket, s.prefix);
        if target(self) != target(run) {
            return Some(format!("it is for {}, not {}", target(self), target(run)));
        }
        if self.shard != run.shard {
            let shard = |s: &Scope| {
                s.shard
                    .as_ref()
                    .map_or("a run without --shard".to_owned(), |s| format!("shard {s}"))
            };
            return Some(format!("it is for {}, not {}", shard(self), shard(run)));
        }
        if self.command != run.command {
            return Some(format!(
                "it is for a {}, not a {}",
                self.command, run.command
            ));
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(",")
            }
        };
        for (flag, theirs, ours) in [
            ("--include", &self.include, &run.include),
            ("--exclude", &self.exclude, &run.exclude),
            ("--rules", &self.rules, &run.rules),
            (
                "--policy",
                &self.policy.iter().cloned().collect(),
                &run.policy.iter().cloned().collect(),
            ),
        ] {
            if theirs != ours {
                return Some(format!(
                    "it was run with {flag} {}, this run has {}",
                    list(theirs),
                    list(ours)
                ));
            }
        }
        None
    }
}

/// The checkpoint file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version of this file.
    pub version: u32,
    #[serde(flatten)]
    pub scope: Scope,
    /// Every listed key up to and including this one is done; `None`: nothing yet.
    pub done_through: Option<String>,
    /// The fix's journal, which a resumed fix continues.
    pub journal: Option<PathBuf>,
    /// The run reached the end of the listing.
    pub complete: bool,
    /// When this checkpoint was written (RFC 3339, UTC).
    pub updated: String,
}

const VERSION: u32 = 1;

/// How often a running job rewrites its checkpoint.
const EVERY: Duration = Duration::from_secs(1);

impl Checkpoint {
    pub fn new(scope: Scope, journal: Option<PathBuf>) -> Self {
        Checkpoint {
            version: VERSION,
            scope,
            done_through: None,
            journal,
            complete: false,
            updated: String::new(),
        }
    }

    /// Reads a checkpoint to resume, refusing one that is not for `run`.
    pub fn resume(path: &Path, run: &Scope) -> anyhow::Result<Checkpoint> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --state {}", path.display()))?;
        let state: Checkpoint = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "--state {} is not an s3mend state file: {e}",
                path.display()
            )
        })?;
        if state.version != VERSION {
            bail!(
                "--state {} has format version {}; this s3mend reads version {VERSION}",
                path.display(),
                state.version
            );
        }
        if let Some(why) = state.scope.mismatch(run) {
            bail!("cannot resume from --state {}: {why}", path.display());
        }
        Ok(state)
    }

    /// Replaces the file at `path` with this checkpoint, atomically: temp file (mode 0600) in the
    /// same directory, fsync, rename.
    pub fn write(&mut self, path: &Path) -> io::Result<()> {
        let now = time::OffsetDateTime::now_utc();
        self.updated = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        crate::atomic_file::replace(path, &text, 0o600)
    }
}

/// Keeps a run's checkpoint file current.
#[derive(Debug)]
pub struct Checkpointer {
    path: PathBuf,
    state: Checkpoint,
    last: Instant,
}

impl Checkpointer {
    /// Writes the first checkpoint now, so an unwritable path fails before the first request.
    pub fn start(path: PathBuf, state: Checkpoint) -> anyhow::Result<Self> {
        let mut checkpointer = Checkpointer {
            path,
            state,
            last: Instant::now(),
        };
        checkpointer
            .state
            .write(&checkpointer.path)
            .with_context(|| format!("cannot write --state {}", checkpointer.path.display()))?;
        Ok(checkpointer)
    }

    /// Records progress; rewrites the file if the last write is a second old.
    pub fn progress(&mut self, done_through: Option<&str>) -> anyhow::Result<()> {
        if self.last.elapsed() < EVERY {
            return Ok(());
        }
        self.save(done_through, false)
    }

    /// The final checkpoint of the run.
    pub fn finish(&mut self, done_through: Option<&str>, complete: bool) -> anyhow::Result<()> {
        self.save(done_through, complete)
    }

    fn save(&mut self, done_through: Option<&str>, complete: bool) -> anyhow::Result<()> {
        self.state.done_through = done_through.map(str::to_owned);
        self.state.complete = complete;
        self.last = Instant::now();
        self.state
            .write(&self.path)
            .with_context(|| format!("cannot write --state {}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_moves_over_leading_done_keys_only() {
        let mut mark = Watermark::after(Some("a".into()));
        for key in ["b", "c", "d", "e"] {
            mark.listed(key);
        }
        mark.done("c");
        assert_eq!(mark.done_through(), Some("a"), "b is not done yet");
        mark.done("e");
        assert_eq!(mark.done_through(), Some("a"));
        mark.done("b");
        assert_eq!(mark.done_through(), Some("c"));
        assert_eq!(mark.in_flight(), 1);
        mark.done("d");
        assert_eq!(mark.done_through(), Some("e"));
        assert_eq!(mark.in_flight(), 0);
        mark.done("zzz-never-listed");
        assert_eq!(mark.done_through(), Some("e"));
    }

    #[test]
    fn unsorted_listings_still_mark_the_right_key() {
        let mut mark = Watermark::default();
        for key in ["b", "a", "c"] {
            mark.listed(key);
        }
        mark.done("a");
        assert_eq!(mark.done_through(), None);
        mark.done("b");
        assert_eq!(mark.done_through(), Some("a"));
    }

    #[test]
    fn every_completion_order_ends_at_the_last_key() {
        // All 120 orders of five keys.
        let keys = ["k1", "k2", "k3", "k4", "k5"];
        let mut orders = vec![vec![]];
        for _ in 0..keys.len() {
            orders = orders
                .into_iter()
                .flat_map(|order: Vec<usize>| {
                    (0..keys.len())
                        .filter(|i| !order.contains(i))
                        .map(|i| {
                            let mut next = order.clone();
                            next.push(i);
                            next
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
        }
        assert_eq!(orders.len(), 120);
        for order in orders {
            let mut mark = Watermark::default();
            keys.iter().for_each(|k| mark.listed(k));
            let mut done = [false; 5];
            for i in order {
                mark.done(keys[i]);
                done[i] = true;
                // The watermark is exactly the end of the leading run of done keys.
                let leading = done.iter().take_while(|d| **d).count();
                let expected = leading.checked_sub(1).map(|j| keys[j]);
                assert_eq!(mark.done_through(), expected);
            }
        }
    }

    fn scope() -> Scope {
        Scope {
            command: "fix".into(),
            bucket: "b".into(),
            prefix: "site/".into(),
            include: vec![],
            exclude: vec![],
            rules: vec!["content-encoding".into(), "content-type".into()],
            policy: None,
            shard: None,
        }
    }

    #[test]
    fn a_resume_must_match_the_scope() {
        let state = scope();
        assert_eq!(state.mismatch(&scope()), None);
        let cases = [
            (
                Scope {
                    bucket: "other".into(),
                    ..scope()
                },
                "it is for s3://b/site/, not s3://other/site/",
            ),
            (
                Scope {
                    prefix: "".into(),
                    ..scope()
                },
                "not s3://b/",
            ),
            (
                Scope {
                    command: "scan".into(),
                    ..scope()
                },
                "it is for a fix, not a scan",
            ),
            (
                Scope {
                    shard: Some("3/4".into()),
                    ..scope()
                },
                "it is for a run without --shard, not shard 3/4",
            ),
            (
                Scope {
                    include: vec!["*.html".into()],
                    ..scope()
                },
                "--include none, this run has *.html",
            ),
            (
                Scope {
                    rules: vec!["content-type".into()],
                    ..scope()
                },
                "--rules content-encoding,content-type",
            ),
            (
                Scope {
                    policy: Some("site.toml".into()),
                    ..scope()
                },
                "--policy none, this run has site.toml",
            ),
        ];
        let shard = |s: &str| Scope {
            shard: Some(s.into()),
            ..scope()
        };
        let why = shard("2/4").mismatch(&shard("3/4")).unwrap();
        assert_eq!(why, "it is for shard 2/4, not shard 3/4");
        assert_eq!(shard("3/4").mismatch(&shard("3/4")), None);
        for (run, needle) in cases {
            let why = state.mismatch(&run).expect("a mismatch");
            assert!(why.contains(needle), "{why}");
        }
    }

    #[test]
    fn checkpoints_are_replaced_atomically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut checkpointer =
            Checkpointer::start(path.clone(), Checkpoint::new(scope(), Some("j".into()))).unwrap();
        checkpointer.finish(Some("site/a.html"), false).unwrap();
        let read = Checkpoint::resume(&path, &scope()).unwrap();
        assert_eq!(read.done_through.as_deref(), Some("site/a.html"));
        assert_eq!(read.journal.as_deref(), Some(Path::new("j")));
        assert!(!read.complete);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [std::ffi::OsString::from("state.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn bad_state_files_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let err = Checkpoint::resume(&path, &scope()).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot read --state"),
            "{err:#}"
        );
        std::fs::write(&path, "{not json").unwrap();
        let err = Checkpoint::resume(&path, &scope()).unwrap_err();
        assert!(
            err.to_string().contains("is not an s3mend state file"),
            "{err}"
        );
        let err = Checkpointer::start(
            dir.path().join("missing-dir/state.json"),
            Checkpoint::new(scope(), None),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot write --state"),
            "{err:#}"
        );
    }
}
