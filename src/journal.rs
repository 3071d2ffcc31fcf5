//! The journal: a write-ahead record of every repair, one JSON object per line.
//!
//! Before each copy s3mend appends the object's full old state (HEAD and ACL) and the state it is
//! about to write, and forces it to disk; after the copy it appends the outcome. An unversioned
//! bucket keeps no old metadata, so the journal is the only way back: `s3mend undo` reads it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tokio::sync::oneshot;

use serde::{Deserialize, Serialize};

use crate::model::{Annotation, ObjectAcl, ObjectHead};
use crate::plan::{GrantHeaders, HeaderSet};

/// An open journal, shared by the repair tasks.
///
/// One writer thread owns the file. A plan waits until its line is on disk, but lines that arrive
/// while an fsync is running are written and synced together (group commit): one fsync per batch
/// instead of one per line, which measured ~30 % of a fix's time when every task waited for its
/// own. An outcome waits only until its line is written: it is synced with the next plan's batch
/// (or when the journal closes). Lost in a crash, it is the case `--resume` and `undo` already
/// settle, a plan without an outcome, by looking at the object; an fsync per outcome measured a
/// third of a fix's journal CPU (README "Performance").
pub struct Journal {
    path: PathBuf,
    /// False for a journal to a log stream ([`Journal::to_log`]): there is no file beside which
    /// to keep anything.
    is_file: bool,
    lines: mpsc::Sender<Pending>,
    /// Where the run wrote, recorded in every plan so that undo finds the same server.
    origin: std::sync::OnceLock<Origin>,
}

/// Where a run wrote: what undo needs to reach the same objects without being told again. Never
/// credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The endpoint URL; `None` for AWS's own.
    pub endpoint: Option<String>,
    /// The region the run signed for.
    pub region: Option<String>,
    /// `auto`, `path` or `virtual`.
    pub addressing: String,
    /// The named profile, if one was given.
    pub profile: Option<String>,
}

struct Pending {
    line: Vec<u8>,
    /// Whether the line must be on disk before `done` is answered (a plan), or only written (an
    /// outcome).
    durable: bool,
    done: oneshot::Sender<io::Result<()>>,
}

/// Written before a copy.
#[derive(Serialize)]
pub struct Planned<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
    pub etag: Option<&'a str>,
    /// Everything HEAD returned before the repair.
    pub old: &'a ObjectHead,
    /// The ACL before the repair, when the bucket uses ACLs.
    pub old_acl: Option<&'a ObjectAcl>,
    /// What HEAD must return after the repair.
    pub new: &'a ObjectHead,
    /// The exact headers the copy sends.
    pub request: &'a HeaderSet,
    pub grants: Option<&'a GrantHeaders>,
    /// The annotations a multipart rewrite puts back after completing, each with the file that
    /// keeps its payload (in [`crate::payloads::dir_for`] this journal); empty otherwise.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub annotations: &'a [SavedAnnotation],
}

/// An annotation a multipart rewrite keeps, and where its payload is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAnnotation {
    #[serde(flatten)]
    pub annotation: Annotation,
    /// The payload's file in the journal's payload directory; `None` without a journal (the
    /// payload was then kept in memory only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// How a journalled copy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Applied (and, for a run's own copy, verified).
    Fixed,
    /// The object changed after it was inspected: the copy was refused, or (settling a resumed
    /// run) someone else changed the object since.
    Conflict,
    /// The copy or its verification failed.
    Error,
    /// Left alone for a reason found only at copy time.
    Skipped,
    /// A resumed run found that a copy in flight at the stop never happened.
    NotApplied,
}

/// Written after a copy.
#[derive(Serialize)]
pub struct Outcome<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub status: Status,
    pub new_version_id: Option<&'a str>,
    pub new_etag: Option<&'a str>,
    pub error: Option<String>,
}

/// A plan as written: with where the run wrote.
#[derive(Serialize)]
struct PlannedLine<'a> {
    #[serde(flatten)]
    entry: &'a Planned<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<&'a Origin>,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
enum Line<'a> {
    Planned(&'a PlannedLine<'a>),
    Outcome(&'a Outcome<'a>),
}

impl Journal {
    /// Creates the journal (mode 0600: it holds metadata of private objects), failing if it
    /// cannot be written, before any request.
    pub fn create(path: &Path) -> io::Result<Journal> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        Journal::start(path, file, true)
    }

    /// A journal whose lines go to a log stream instead of a file (the Batch Operations handler's
    /// stdout, which Lambda sends to CloudWatch Logs): each append returns once its line is
    /// flushed to `out`, as whole lines, before the copy it records. `name` stands for the path
    /// in messages.
    pub fn to_log(name: &str, out: impl Write + Send + 'static) -> io::Result<Journal> {
        Journal::start(Path::new(name), Log(out), false)
    }

    fn start(path: &Path, sink: impl Durable, is_file: bool) -> io::Result<Journal> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("s3mend-journal".into())
            .spawn(move || write_batches(sink, rx))?;
        Ok(Journal {
            path: path.to_owned(),
            is_file,
            lines: tx,
            origin: std::sync::OnceLock::new(),
        })
    }

    /// Records `origin` in every plan from now on (set once, when the run has connected and
    /// knows the region it signs for).
    pub fn set_origin(&self, origin: Origin) {
        let _ = self.origin.set(origin);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where payloads kept for this journal's repairs go (`payloads.rs`), if it is a file: a
    /// journal to a log keeps them in memory.
    pub fn payload_dir(&self) -> Option<PathBuf> {
        self.is_file.then(|| crate::payloads::dir_for(&self.path))
    }

    pub async fn planned(&self, entry: &Planned<'_>) -> io::Result<()> {
        let line = PlannedLine {
            entry,
            at: self.origin.get(),
        };
        self.append(&Line::Planned(&line), true).await
    }

    /// Returns once the line is written (not yet synced: see [`Journal`]).
    pub async fn outcome(&self, entry: &Outcome<'_>) -> io::Result<()> {
        self.append(&Line::Outcome(entry), false).await
    }

    /// One line, written whole; returns once it is written, and on disk if `durable`.
    async fn append(&self, line: &Line<'_>, durable: bool) -> io::Result<()> {
        let mut text = serde_json::to_vec(line)?;
        text.push(b'\n');
        let (done, written) = oneshot::channel();
        let pending = Pending {
            line: text,
            durable,
            done,
        };
        if self.lines.send(pending).is_err() {
            return Err(io::Error::other("the journal writer stopped"));
        }
        written
            .await
            .unwrap_or_else(|_| Err(io::Error::other("the journal writer stopped")))
    }
}

/// Where journal lines go, and how they are made to stay: a file is synced to disk, a log
/// stream flushed to its reader.
trait Durable: Write + Send + 'static {
    /// Makes every line written so far stay (a plan, before its copy).
    fn make_durable(&mut self) -> io::Result<()>;

    /// Makes the lines written so far reach the reader, without their staying yet (an outcome).
    fn make_visible(&mut self) -> io::Result<()>;
}

impl Durable for File {
    fn make_durable(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn make_visible(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Log<W>(W);

impl<W: Write> Write for Log<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write + Send + 'static> Durable for Log<W> {
    fn make_durable(&mut self) -> io::Result<()> {
        self.0.flush()
    }

    fn make_visible(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The writer thread: takes every line waiting and writes them; syncs once if one of them must be
/// on disk (which syncs the outcomes written before it too); answers each. Syncs what is left
/// when the journal closes.
fn write_batches(mut file: impl Durable, rx: mpsc::Receiver<Pending>) {
    let mut unsynced = false;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let mut text = Vec::new();
        for pending in &batch {
            text.extend_from_slice(&pending.line);
        }
        let durable = batch.iter().any(|pending| pending.durable);
        let result = file.write_all(&text).and_then(|()| {
            if durable {
                file.make_durable()
            } else {
                file.make_visible()
            }
        });
        unsynced = !durable;
        for pending in batch {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            let _ = pending.done.send(answer);
        }
    }
    if unsynced {
        let _ = file.make_durable();
    }
}

/// A repair as read back from a journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub bucket: String,
    pub key: String,
    pub old: ObjectHead,
    pub old_acl: Option<ObjectAcl>,
    pub new: ObjectHead,
    /// The outcome's status; `None` when the run stopped between the copy and its record.
    pub status: Option<Status>,
    /// Where the run wrote (journals before s3mend 0.2 do not say).
    pub at: Option<Origin>,
    /// The annotations a multipart rewrite was to put back.
    pub annotations: Vec<SavedAnnotation>,
}

#[derive(Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
enum ReadLine {
    Planned {
        bucket: String,
        key: String,
        old: Box<ObjectHead>,
        old_acl: Option<ObjectAcl>,
        new: Box<ObjectHead>,
        #[serde(default)]
        at: Option<Origin>,
        #[serde(default)]
        annotations: Vec<SavedAnnotation>,
    },
    Outcome {
        bucket: String,
        key: String,
        status: Status,
    },
}

/// Cuts a last line that has no newline: a run killed while appending left it, and it was never
/// acknowledged, so no copy was started on its account. Called before a resumed run appends.
pub fn drop_torn_tail(path: &Path) -> io::Result<()> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if text.is_empty() || text.ends_with(b"\n") {
        return Ok(());
    }
    let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(keep as u64)?;
    file.sync_all()
}

/// Reads a journal: every planned repair with its outcome, in journal order. A key repaired twice
/// (a conflict retried) appears twice. A malformed line is an error naming the line, except a last
/// line without its newline (see [`drop_torn_tail`]), which is ignored.
pub fn read(path: &Path) -> anyhow::Result<Vec<Recorded>> {
    use anyhow::Context;
    let text =
        std::fs::read(path).with_context(|| format!("cannot read journal {}", path.display()))?;
    let complete = text.ends_with(b"\n");
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let last = lines.len().saturating_sub(1);
    let mut recorded: Vec<Recorded> = Vec::new();
    for (index, line) in lines.into_iter().enumerate() {
        let line = String::from_utf8_lossy(line);
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<ReadLine>(&line);
        if parsed.is_err() && index == last && !complete {
            break;
        }
        let parsed: ReadLine = parsed.map_err(|e| {
            anyhow::anyhow!(
                "journal {} line {} is not an s3mend journal entry: {e}",
                path.display(),
                index + 1
            )
        })?;
        match parsed {
            ReadLine::Planned {
                bucket,
                key,
                old,
                old_acl,
                new,
                at,
                annotations,
            } => recorded.push(Recorded {
                bucket,
                key,
                old: *old,
                old_acl,
                new: *new,
                status: None,
                at,
                annotations,
            }),
            ReadLine::Outcome {
                bucket,
                key,
                status,
            } => {
                let entry = recorded
                    .iter_mut()
                    .rev()
                    .find(|r| r.bucket == bucket && r.key == key && r.status.is_none());
                match entry {
                    Some(entry) => entry.status = Some(status),
                    None => anyhow::bail!(
                        "journal {} line {} records an outcome for {key} without a plan",
                        path.display(),
                        index + 1
                    ),
                }
            }
        }
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(key: &str, encoding: &str) -> ObjectHead {
        ObjectHead {
            etag: Some("\"e\"".into()),
            content_encoding: Some(encoding.into()),
            ..ObjectHead::new(key)
        }
    }

    #[tokio::test]
    async fn entries_read_back_with_their_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let journal = Journal::create(&path).unwrap();
        let headers = crate::plan::carry_over(&head("a", "gzip")).unwrap();
        let saved = [SavedAnnotation {
            annotation: Annotation {
                name: "review".into(),
                etag: Some("\"e1\"".into()),
                size: 2,
            },
            file: Some("1-2-3".into()),
        }];
        for key in ["a", "b"] {
            journal
                .planned(&Planned {
                    bucket: "bkt",
                    key,
                    version_id: None,
                    etag: Some("\"e\""),
                    old: &head(key, "UTF-8"),
                    old_acl: None,
                    new: &head(key, "gzip"),
                    request: &headers,
                    grants: None,
                    annotations: &saved,
                })
                .await
                .unwrap();
        }
        journal
            .outcome(&Outcome {
                bucket: "bkt",
                key: "a",
                status: Status::Fixed,
                new_version_id: None,
                new_etag: Some("\"e\""),
                error: None,
            })
            .await
            .unwrap();
        let recorded = read(&path).unwrap();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[0].old, head("a", "UTF-8"));
        assert_eq!(recorded[0].new, head("a", "gzip"));
        assert_eq!(recorded[0].status, Some(Status::Fixed));
        assert_eq!(
            recorded[0].annotations, saved,
            "the annotation set round-trips"
        );
        assert_eq!(recorded[1].key, "b");
        assert_eq!(recorded[1].status, None, "stopped between copy and record");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// A `Write` whose bytes a test can read while the journal still holds it.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What a plan line for object `a` borrows.
    struct Entry {
        old: ObjectHead,
        new: ObjectHead,
        request: HeaderSet,
    }

    impl Entry {
        fn new() -> Self {
            Entry {
                old: head("a", "UTF-8"),
                new: head("a", "gzip"),
                request: crate::plan::carry_over(&head("a", "gzip")).unwrap(),
            }
        }

        fn planned(&self) -> Planned<'_> {
            Planned {
                bucket: "bkt",
                key: "a",
                version_id: None,
                etag: Some("\"e\""),
                old: &self.old,
                old_acl: None,
                new: &self.new,
                request: &self.request,
                grants: None,
                annotations: &[],
            }
        }
    }

    /// A sink that counts its syncs.
    #[derive(Clone, Default)]
    struct Counting(std::sync::Arc<std::sync::Mutex<(Vec<u8>, usize)>>);

    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().0.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Durable for Counting {
        fn make_durable(&mut self) -> io::Result<()> {
            self.0.lock().unwrap().1 += 1;
            Ok(())
        }

        fn make_visible(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_plan_is_synced_before_it_returns_an_outcome_only_written_and_synced_at_the_close() {
        let sink = Counting::default();
        let journal = Journal::start(Path::new("counting"), sink.clone(), true).unwrap();
        let entry = Entry::new();
        let planned = entry.planned();
        let state = || {
            let seen = sink.0.lock().unwrap();
            (String::from_utf8(seen.0.clone()).unwrap(), seen.1)
        };
        journal.planned(&planned).await.unwrap();
        assert_eq!(state().1, 1, "a plan is on disk before its copy");
        let outcome = Outcome {
            bucket: "bkt",
            key: "a",
            status: Status::Fixed,
            new_version_id: None,
            new_etag: Some("\"f\""),
            error: None,
        };
        journal.outcome(&outcome).await.unwrap();
        let (text, syncs) = state();
        assert_eq!(text.lines().count(), 2, "the outcome is written: {text}");
        assert_eq!(syncs, 1, "an outcome costs no fsync of its own");
        journal.planned(&planned).await.unwrap();
        assert_eq!(state().1, 2, "the next plan's sync takes the outcome along");
        journal.outcome(&outcome).await.unwrap();
        drop(journal);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while state().1 < 3 {
            assert!(std::time::Instant::now() < deadline, "synced at the close");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[tokio::test]
    async fn a_journal_to_a_log_writes_the_lines_a_file_gets_each_before_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let log = Shared::default();
        let to_file = Journal::create(&path).unwrap();
        let to_log = Journal::to_log("stdout", log.clone()).unwrap();
        assert_eq!(to_log.path(), Path::new("stdout"));
        // Payloads kept for a repair go beside a file journal; a log has no beside.
        assert_eq!(to_log.payload_dir(), None);
        assert_eq!(to_file.payload_dir(), Some(crate::payloads::dir_for(&path)));
        let entry = Entry::new();
        let planned = entry.planned();
        for journal in [&to_file, &to_log] {
            journal.set_origin(Origin {
                region: Some("eu-west-1".into()),
                addressing: "auto".into(),
                ..Origin::default()
            });
            journal.planned(&planned).await.unwrap();
        }
        // Written whole, with its newline, by the time `planned` returned.
        let written = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written, std::fs::read_to_string(&path).unwrap());
        assert!(written.ends_with('\n') && written.lines().count() == 1);
        let logged = dir.path().join("from-the-log.jsonl");
        std::fs::write(&logged, &written).unwrap();
        assert_eq!(read(&logged).unwrap(), read(&path).unwrap());
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let whole = "{\"event\":\"outcome\",\"bucket\":\"b\",\"key\":\"k\",\"status\":\"fixed\"}\n";
        std::fs::write(&path, "{\"event\":\"planned\",\"buck").unwrap();
        assert_eq!(read(&path).unwrap(), Vec::new());
        drop_torn_tail(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        std::fs::write(&path, format!("{whole}{{\"event\"")).unwrap();
        drop_torn_tail(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        drop_torn_tail(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            whole,
            "a whole file is kept"
        );
        drop_torn_tail(&dir.path().join("absent")).unwrap();
    }

    #[test]
    fn corrupt_journals_are_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"event\":\"planned\"}\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 1 is not an s3mend journal entry"),
            "{err}"
        );
        std::fs::write(
            &path,
            "{\"event\":\"outcome\",\"bucket\":\"b\",\"key\":\"k\",\"status\":\"fixed\"}\n",
        )
        .unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("without a plan"), "{err}");
    }
}
