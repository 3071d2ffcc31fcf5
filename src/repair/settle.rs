//! Settling a stopped run's journal: every copy the journal shows planned but without an outcome
//! is looked at again, and the outcome the object shows is appended, so the journal ends
//! complete before a resumed run appends to it. A multipart rewrite that was applied but stopped
//! before every annotation was back gets the rest put back here, from the payloads the journal
//! names (`annotations.rs`).

use super::{Repairer, Stop};
use crate::journal::{Recorded, Status};
use crate::model::{Rewritten, S3Failure};
use crate::outcome::{Failure, Unread};
use crate::s3::Store;
use crate::{plan, verify};

/// What a copy that a stopped run left in flight turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The object is as the copy would leave it: the copy was applied.
    Applied,
    /// The object is still as it was before: the copy never happened.
    NotApplied,
    /// Neither: someone else changed (or deleted) it since.
    Changed,
    /// It could not be HEADed; the journal keeps the entry open.
    Unknown(S3Failure),
}

impl<S: Store> Repairer<S> {
    /// Settles a journal entry that has a plan and no outcome (the run was killed between the
    /// two): HEADs the object and appends the outcome the object shows. The object itself is
    /// left to the resumed run, which lists it again. `Err` when the journal cannot be written.
    pub async fn settle(&self, entry: &Recorded) -> Result<Settled, Failure> {
        let current = match self.store.head_to_settle(&entry.key).await {
            Ok(head) => head,
            Err(f) if Unread::of(&f) == Unread::Gone => {
                self.settled(&entry.key, Status::Conflict, None, Some("deleted since"))
                    .await?;
                return Ok(Settled::Changed);
            }
            Err(f) => return Ok(Settled::Unknown(f)),
        };
        let expected = if self.is_multipart(&entry.old) {
            // The new `…-N` ETag was in an answer the stopped run may never have read.
            let checksum = plan::multipart_checksum(&entry.old);
            verify::after_multipart(&entry.new, current.etag.as_deref(), checksum.as_ref())
        } else {
            entry.new.clone()
        };
        if verify::differences(&expected, &current).is_empty() {
            let new = Rewritten {
                version_id: current.version_id.clone(),
                etag: current.etag.clone(),
            };
            if let Err(failure) = self.finish_annotations(entry, &new).await {
                // Left open: the next resumed run tries again, from the same payloads.
                return Ok(Settled::Unknown(failure.reported()));
            }
            self.settled(&entry.key, Status::Fixed, Some(&new), None)
                .await?;
            Ok(Settled::Applied)
        } else if verify::differences(&entry.old, &current).is_empty() {
            self.settled(&entry.key, Status::NotApplied, None, None)
                .await?;
            Ok(Settled::NotApplied)
        } else {
            let why = Some("changed since it was planned");
            self.settled(&entry.key, Status::Conflict, None, why)
                .await?;
            Ok(Settled::Changed)
        }
    }

    /// Puts back the annotations of `entry` that the version its copy wrote lacks.
    async fn finish_annotations(&self, entry: &Recorded, new: &Rewritten) -> Result<(), Failure> {
        if entry.annotations.is_empty() {
            return Ok(());
        }
        let version = new.version_id.as_deref();
        let present = self
            .store
            .annotations(&entry.key, version)
            .await
            .map_err(Failure::S3)?;
        let no_memory = |_| None;
        let etag = new.etag.as_deref();
        self.put_missing(
            &entry.key,
            &entry.annotations,
            no_memory,
            version,
            etag,
            &present,
        )
        .await
    }

    async fn settled(
        &self,
        key: &str,
        status: Status,
        new: Option<&Rewritten>,
        why: Option<&str>,
    ) -> Result<(), Failure> {
        match self
            .record_outcome(key, status, new, why.map(str::to_owned))
            .await
        {
            Err(Stop::Fail(f)) => Err(f),
            _ => Ok(()),
        }
    }
}
