//! Per-bucket ACL behaviour: S3 with ACLs, S3 with Object Ownership = BucketOwnerEnforced, or a
//! store that has no ACL support at all (Garage, s3s-fs).
//!
//! s3mend must re-send grants only where a bucket keeps them, and must not break on the other
//! two kinds, so the lab can play all three. The rules follow the S3 user guide ("Controlling
//! ownership of objects and disabling ACLs", "Troubleshooting"): with BucketOwnerEnforced, reads
//! of an ACL show the bucket owner's FULL_CONTROL, and any request that sets an ACL fails with
//! 400 AccessControlListNotSupported, except a write naming the `bucket-owner-full-control`
//! canned ACL (or none).

use s3s::{s3_error, S3Error, S3Result};

use super::acl::{self, AclHeaders};
use super::model::{Grant, StoredObject};

/// How a bucket treats ACLs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AclMode {
    /// ACLs are stored and enforced (S3 with ObjectWriter / BucketOwnerPreferred).
    #[default]
    Enabled,
    /// Object Ownership = BucketOwnerEnforced: ACLs are disabled and the bucket owner owns all.
    OwnerEnforced,
    /// No ACL support: ACL operations answer 501 and ACL headers on writes are ignored.
    NotImplemented,
}

fn not_supported() -> S3Error {
    s3_error!(
        AccessControlListNotSupported,
        "The bucket does not allow ACLs"
    )
}

fn not_implemented() -> S3Error {
    s3_error!(NotImplemented, "ACLs are not implemented by this server")
}

/// The grants a new object gets from its request's ACL headers (`None`: private to its owner).
pub fn request_grants(mode: AclMode, headers: &AclHeaders) -> S3Result<Option<Vec<Grant>>> {
    match mode {
        AclMode::Enabled => headers.grants(),
        AclMode::NotImplemented => Ok(None),
        AclMode::OwnerEnforced => {
            let canned_ok = headers
                .canned
                .as_deref()
                .is_none_or(|c| c == "bucket-owner-full-control");
            if headers.has_grants() || !canned_ok {
                return Err(not_supported());
            }
            Ok(None)
        }
    }
}

/// What GetObjectAcl shows: (owner id, grants).
pub fn visible_acl(mode: AclMode, obj: &StoredObject) -> S3Result<(String, Vec<Grant>)> {
    match mode {
        AclMode::Enabled => Ok((obj.owner_id.clone(), obj.grants.clone())),
        // The bucket owner owns every object and the ACL no longer matters.
        AclMode::OwnerEnforced => Ok((acl::LAB_OWNER_ID.to_owned(), acl::private())),
        AclMode::NotImplemented => Err(not_implemented()),
    }
}

/// Whether PutObjectAcl may proceed.
pub fn check_put_acl(mode: AclMode) -> S3Result<()> {
    match mode {
        AclMode::Enabled => Ok(()),
        AclMode::OwnerEnforced => Err(not_supported()),
        AclMode::NotImplemented => Err(not_implemented()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canned(name: &str) -> AclHeaders {
        AclHeaders {
            canned: Some(name.to_owned()),
            ..AclHeaders::default()
        }
    }

    #[test]
    fn owner_enforced_accepts_only_bucket_owner_full_control() {
        let mode = AclMode::OwnerEnforced;
        assert_eq!(request_grants(mode, &AclHeaders::default()).unwrap(), None);
        assert_eq!(
            request_grants(mode, &canned("bucket-owner-full-control")).unwrap(),
            None
        );
        assert!(request_grants(mode, &canned("public-read")).is_err());
        assert!(request_grants(mode, &canned("private")).is_err());
        let grant = AclHeaders {
            read: Some("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"".into()),
            ..AclHeaders::default()
        };
        assert!(request_grants(mode, &grant).is_err());
    }

    #[test]
    fn not_implemented_ignores_acl_headers() {
        let bad = AclHeaders {
            read: Some("nonsense".into()),
            ..canned("public-read")
        };
        assert_eq!(request_grants(AclMode::NotImplemented, &bad).unwrap(), None);
    }
}
