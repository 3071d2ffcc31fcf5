//! Annotations across a multipart rewrite, which does not copy them (`docs/s3-behaviour.md`
//! §16): before the upload completes, every annotation of the source version is listed and read
//! and its payload kept (next to the journal, which names each file, or in memory without one);
//! after it completes, each is put back on the new version, conditional on the new ETag, and the
//! new version's annotations are listed again and compared by name, ETag and size. A run stopped
//! in between leaves the set in the journal, and settling it (`settle.rs`) finishes the puts.

use super::{is_conflict, Repairer, Stop};
use crate::journal::SavedAnnotation;
use crate::model::{missing_annotations, Annotation, ObjectHead, S3Failure};
use crate::outcome::Failure;
use crate::payloads;
use crate::s3::Store;

/// The annotations kept for one rewrite: as the journal records them, and the payloads that
/// only memory holds (without a journal), in the same order.
#[derive(Debug, Default)]
pub(super) struct Kept {
    pub saved: Vec<SavedAnnotation>,
    pub in_memory: Vec<Vec<u8>>,
}

impl<S: Store> Repairer<S> {
    /// Lists and reads every annotation of the version `head` describes and keeps its payload.
    /// Nothing when the bucket cannot have any (a directory bucket, a server that answered 501).
    pub(super) async fn keep_annotations(&self, head: &ObjectHead) -> Result<Kept, Stop> {
        let mut kept = Kept::default();
        if !self.capabilities.lists_annotations(self.store.bucket()) {
            return Ok(kept);
        }
        let version = head.version_id.as_deref();
        let listed = match self.store.annotations(&head.key, version).await {
            Ok(listed) => listed,
            Err(f) if self.capabilities.learn_from_annotation_failure(&f) => return Ok(kept),
            Err(f) => return Err(stop(f)),
        };
        let dir = self.journal.as_ref().and_then(|j| j.payload_dir());
        for annotation in listed {
            let name = &annotation.name;
            let payload = self
                .store
                .annotation(&head.key, version, name)
                .await
                .map_err(stop)?;
            let file = match &dir {
                Some(dir) => Some(save(dir, payload).await?),
                None => {
                    kept.in_memory.push(payload);
                    None
                }
            };
            kept.saved.push(SavedAnnotation { annotation, file });
        }
        Ok(kept)
    }

    /// Puts the kept annotations on the version a multipart rewrite wrote (`version_id`, whose
    /// ETag is `etag`), then checks that the version lists every one as it was.
    pub(super) async fn put_back(
        &self,
        key: &str,
        kept: &Kept,
        version_id: Option<&str>,
        etag: Option<&str>,
    ) -> Result<(), Failure> {
        if kept.saved.is_empty() {
            return Ok(());
        }
        let payload = |i: usize| kept.in_memory.get(i).cloned();
        self.put_missing(key, &kept.saved, payload, version_id, etag, &[])
            .await
    }

    /// Puts each of `saved` that `present` (the version's annotations now) lacks, reading its
    /// payload from the journal's payload directory or from `in_memory`; then lists the version
    /// and compares.
    pub(super) async fn put_missing(
        &self,
        key: &str,
        saved: &[SavedAnnotation],
        in_memory: impl Fn(usize) -> Option<Vec<u8>>,
        version_id: Option<&str>,
        etag: Option<&str>,
        present: &[Annotation],
    ) -> Result<(), Failure> {
        let names = |why: String| Failure::Annotations {
            names: saved.iter().map(|s| s.annotation.name.clone()).collect(),
            why,
        };
        let dir = self.journal.as_ref().and_then(|j| j.payload_dir());
        let mut memory_index = 0;
        for entry in saved {
            let name = &entry.annotation.name;
            let payload = match (&entry.file, &dir) {
                (Some(file), Some(dir)) => load(dir, file).await.map_err(|e| {
                    names(format!(
                        "cannot read the payload of {name:?} from {}: {e}",
                        dir.display()
                    ))
                })?,
                _ => {
                    memory_index += 1;
                    in_memory(memory_index - 1)
                        .ok_or_else(|| names(format!("the payload of {name:?} was not kept")))?
                }
            };
            if present.iter().any(|a| a.name == *name) {
                continue;
            }
            self.store
                .put_annotation(key, version_id, name, &payload, etag)
                .await
                .map_err(|f| names(format!("putting {name:?} back failed: {f}")))?;
        }
        let now = self
            .store
            .annotations(key, version_id)
            .await
            .map_err(|f| names(format!("listing them after the puts failed: {f}")))?;
        let before: Vec<Annotation> = saved.iter().map(|s| s.annotation.clone()).collect();
        let lost = missing_annotations(&before, &now);
        if lost.is_empty() {
            Ok(())
        } else {
            Err(Failure::Annotations {
                names: lost.into_iter().map(str::to_owned).collect(),
                why: "the new version does not list them as they were (name, ETag, size)".into(),
            })
        }
    }
}

/// A failed annotation read before the rewrite: the object changed (a conflict) or a failure.
fn stop(failure: S3Failure) -> Stop {
    if is_conflict(&failure) {
        Stop::Conflict
    } else {
        failure.into()
    }
}

async fn save(dir: &std::path::Path, payload: Vec<u8>) -> Result<String, Stop> {
    let dir = dir.to_owned();
    let shown = dir.display().to_string();
    tokio::task::spawn_blocking(move || payloads::save(&dir, &payload))
        .await
        .map_err(std::io::Error::other)
        .and_then(|saved| saved)
        .map_err(|e| {
            Stop::Fail(Failure::Journal(format!(
                "cannot keep an annotation payload in {shown}: {e}"
            )))
        })
}

async fn load(dir: &std::path::Path, file: &str) -> std::io::Result<Vec<u8>> {
    let (dir, file) = (dir.to_owned(), file.to_owned());
    tokio::task::spawn_blocking(move || payloads::load(&dir, &file))
        .await
        .map_err(std::io::Error::other)
        .and_then(|loaded| loaded)
}
