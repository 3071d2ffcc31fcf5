//! What a versioned repair checks once its copy has landed: that no version came in between
//! the one it copied and its own, and that the ACL it carried is still the copied version's.
//!
//! In a versioned bucket the copy reads a pinned version, so its source condition holds even when
//! a new version went on top meanwhile; a same-bytes rewrite also keeps the ETag the destination
//! condition checks. The copy would then bury that version as noncurrent. So after each such
//! copy the newest versions of the key are listed: the one under the repair's own must be the one
//! it copied. If another sits in between, it is put back on top as it was: a copy of it (or, for
//! a delete marker, a delete), conditional on the repair's copy still being current.
//!
//! An ACL change (PutObjectAcl) makes no new version and no new ETag. The copied version, now
//! noncurrent, still carries any change made between the repair's ACL read and its copy; if its
//! grants differ from those the copy carried, they are put on the repair's version, by version
//! id (`docs/s3-behaviour.md` §13).

use super::{Repairer, Stop};
use crate::model::{ObjectAcl, ObjectHead, ObjectVersion, Rewritten};
use crate::outcome::Failure;
use crate::plan;
use crate::s3::Store;
use crate::verify;

/// What the versions under a repair's copy say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Landed {
    /// These versions lie between the copy and the version it copied, newest first (none: the
    /// copy sits right on it). Each is the repair's own earlier attempt (a copy whose answer was
    /// lost and was sent again) or someone else's write. `ours_on_top` says whether the copy is
    /// still the current version (else someone wrote again since, and that write stays).
    Between {
        versions: Vec<ObjectVersion>,
        ours_on_top: bool,
    },
    /// The listing does not show the copy, or not the copied version under it (more versions
    /// than one page holds): nothing can be said.
    Unknown,
}

/// Where the repair's copy `ours` landed among `versions` (newest first) of a key whose version
/// `copied` it copied.
pub fn landed(versions: &[ObjectVersion], copied: &str, ours: &str) -> Landed {
    let Some(at) = versions.iter().position(|v| v.version_id == ours) else {
        return Landed::Unknown;
    };
    let under = &versions[at + 1..];
    match under.iter().position(|v| v.version_id == copied) {
        Some(end) => Landed::Between {
            versions: under[..end].to_vec(),
            ours_on_top: at == 0,
        },
        None => Landed::Unknown,
    }
}

impl<S: Store> Repairer<S> {
    /// After a versioned copy that should have left `expected`: `Err(Stop::Intruded)` if
    /// someone else's version came in between (put back on top if the copy is still current),
    /// else `Ok`. A listing that fails or says nothing is noted once and the repair stands.
    pub(super) async fn check_landing(
        &self,
        head: &ObjectHead,
        expected: &ObjectHead,
        new: &Rewritten,
    ) -> Result<(), Stop> {
        let (Some(copied), Some(ours)) = (&head.version_id, &new.version_id) else {
            return Ok(());
        };
        // Boxed: only versioned copies come here, and every repair's future is as large as its
        // largest path (`repair`).
        Box::pin(self.check_versions(head, expected, new, copied, ours)).await
    }

    /// [`Repairer::check_landing`] for a copy of version `copied` that made version `ours`.
    async fn check_versions(
        &self,
        head: &ObjectHead,
        expected: &ObjectHead,
        new: &Rewritten,
        copied: &str,
        ours: &str,
    ) -> Result<(), Stop> {
        let versions = match self.store.versions(&head.key).await {
            Ok(versions) => versions,
            // A server without versioning that still hands out version ids (Garage,
            // `docs/s3-behaviour.md` §5): nothing can have come in between.
            Err(failure) if failure.http_status == Some(501) => return Ok(()),
            Err(failure) => {
                self.capabilities.versions_unchecked(&failure.to_string());
                return Ok(());
            }
        };
        let (between, ours_on_top) = match landed(&versions, copied, ours) {
            Landed::Between {
                versions,
                ours_on_top,
            } => (versions, ours_on_top),
            Landed::Unknown => {
                self.capabilities.versions_unchecked(
                    "a listing did not show the repair's version over the one it copied",
                );
                return Ok(());
            }
        };
        let Some(theirs) = self.newest_not_ours(&head.key, &between, expected).await? else {
            return Ok(());
        };
        if !ours_on_top {
            return Err(Stop::Intruded(format!(
                "{} between the inspection and the copy, and the object was written again since: the repair's version is noncurrent, nothing was put back",
                theirs.what()
            )));
        }
        self.reinstate(&head.key, theirs, new).await
    }

    /// The newest of `between` that is not a copy of the repair's own (an attempt whose answer
    /// was lost): a delete marker, or a version that differs from `expected`.
    async fn newest_not_ours(
        &self,
        key: &str,
        between: &[ObjectVersion],
        expected: &ObjectHead,
    ) -> Result<Option<Theirs>, Stop> {
        for version in between {
            if version.delete_marker {
                return Ok(Some(Theirs::Deleted));
            }
            let head = self.store.head_version(key, &version.version_id).await?;
            let mut expected = expected.clone();
            // A multipart attempt has an ETag of its own.
            expected.etag.clone_from(&head.etag);
            if !verify::differences(&expected, &head).is_empty() {
                return Ok(Some(Theirs::Written(Box::new(head))));
            }
        }
        Ok(None)
    }

    /// After a versioned copy that carried the grants of `sent`: any ACL change made to the
    /// copied version since it was read is carried over to the repair's version.
    pub(super) async fn keep_acl_changes(
        &self,
        head: &ObjectHead,
        sent: &ObjectAcl,
        new: &Rewritten,
    ) -> Result<(), Stop> {
        let (Some(copied), Some(ours)) = (&head.version_id, &new.version_id) else {
            return Ok(());
        };
        // Boxed, as `check_landing`'s versioned path.
        Box::pin(self.carry_acl_change(&head.key, sent, copied, ours)).await
    }

    /// [`Repairer::keep_acl_changes`] for a copy of version `copied` that made version `ours`.
    async fn carry_acl_change(
        &self,
        key: &str,
        sent: &ObjectAcl,
        copied: &str,
        ours: &str,
    ) -> Result<(), Stop> {
        let now = self.store.acl(key, Some(copied)).await?;
        let grants = plan::grant_headers(&now);
        if grants == plan::grant_headers(sent) {
            return Ok(());
        }
        self.store.put_acl(key, ours, grants.as_ref()).await?;
        tracing::warn!(key = %key, "the ACL changed while the copy was in flight: the change was carried over to the repaired version");
        Ok(())
    }

    /// Puts `theirs` back on top, conditional on the repair's copy still being current.
    async fn reinstate(&self, key: &str, theirs: Theirs, ours: &Rewritten) -> Result<(), Stop> {
        let failed = |failure| {
            Stop::Fail(Failure::Reinstate {
                version: theirs.what(),
                failure,
            })
        };
        let condition = self.capabilities.destination_conditions();
        let our_etag = ours.etag.clone().unwrap_or_default();
        let head = match &theirs {
            Theirs::Deleted => {
                let if_match = condition.then_some(our_etag.as_str());
                self.store
                    .delete_current(key, if_match)
                    .await
                    .map_err(failed)?;
                return Err(Stop::Intruded(
                    "deleted between the inspection and the copy: the copy brought it back, so it was deleted again".into(),
                ));
            }
            Theirs::Written(head) => head,
        };
        let mut plan = plan::reinstate(self.store.bucket(), head, &our_etag).map_err(|reason| {
            failed(crate::model::S3Failure {
                code: "CannotReinstate".into(),
                message: format!(
                    "the version cannot be copied as it is ({})",
                    reason.as_str()
                ),
                http_status: None,
            })
        })?;
        let acl = self.object_acl(head).await.map_err(|stop| match stop {
            Stop::Fail(Failure::S3(f)) => failed(f),
            other => other,
        })?;
        plan.grants = acl.as_ref().and_then(plan::grant_headers);
        self.send(head, &plan, condition).await.map_err(failed)?;
        Err(Stop::Intruded(format!(
            "{} between the inspection and the copy: it was put back on top, unrepaired (the next run repairs it)",
            theirs.what()
        )))
    }
}

/// Someone else's write found under a repair's copy.
enum Theirs {
    /// A delete marker: the object was deleted.
    Deleted,
    /// A version, as HEAD shows it.
    Written(Box<ObjectHead>),
}

impl Theirs {
    /// What happened, for messages: "version V was written", "a delete was made".
    fn what(&self) -> String {
        match self {
            Theirs::Deleted => "a delete was made".into(),
            Theirs::Written(head) => format!(
                "version {} was written",
                head.version_id.as_deref().unwrap_or("null")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str) -> ObjectVersion {
        ObjectVersion {
            version_id: id.into(),
            etag: Some(format!("\"{id}\"")),
            delete_marker: false,
        }
    }

    fn marker(id: &str) -> ObjectVersion {
        ObjectVersion {
            etag: None,
            delete_marker: true,
            ..v(id)
        }
    }

    #[test]
    fn the_versions_between_the_copy_and_the_copied_are_listed() {
        let between = |versions: &[ObjectVersion], on_top| Landed::Between {
            versions: versions.to_vec(),
            ours_on_top: on_top,
        };
        let cases = [
            (vec![v("ours"), v("old"), v("older")], between(&[], true)),
            (
                vec![v("ours"), v("theirs"), v("old")],
                between(&[v("theirs")], true),
            ),
            (
                vec![v("ours"), marker("gone"), v("old")],
                between(&[marker("gone")], true),
            ),
            (
                vec![v("ours"), v("retry"), v("theirs"), v("old")],
                between(&[v("retry"), v("theirs")], true),
            ),
            (
                vec![v("later"), v("ours"), v("theirs"), v("old")],
                between(&[v("theirs")], false),
            ),
            (vec![v("later"), v("ours"), v("old")], between(&[], false)),
            (vec![v("old")], Landed::Unknown),
            (vec![v("ours")], Landed::Unknown),
            (vec![v("ours"), v("theirs")], Landed::Unknown),
            (Vec::new(), Landed::Unknown),
        ];
        for (versions, expected) in cases {
            assert_eq!(landed(&versions, "old", "ours"), expected, "{versions:?}");
        }
    }
}
