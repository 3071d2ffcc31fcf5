//! The domain model: what s3mend knows about an object and a request, as plain data.
//!
//! Everything here is filled in by the S3 layer (`s3`) and read by the pure layers (rules, plan,
//! verify, journal, state, report), which can therefore be tested with values built by hand. No
//! SDK type and no I/O appear in this module; it depends on nothing else of s3mend.
//!
//! - [`ObjectHead`]: what HeadObject returned; [`Attr`] lists its single-valued attributes once,
//!   with the header that carries each and what a REPLACE copy does to it, for every layer that
//!   reads headers, re-sends them or compares them.
//! - [`Annotation`]: a named payload on an object version, as ListObjectAnnotations lists it.
//! - [`Header`]: a header a finding is about and a repair may rewrite.
//! - [`ListedObject`]: one entry of a listing.
//! - [`ObjectAcl`], [`Grant`]: an object's ACL as GetObjectAcl returns it.
//! - [`S3Failure`]: what went wrong with one request.
//! - [`Rewritten`]: what S3 said about an object s3mend rewrote.
//! - [`ObjectVersion`]: one version (or delete marker) of a key, as ListObjectVersions lists it.
//! - [`SkipReason`]: why an object with findings is left as it is.
//! - [`RequestCounts`]: what a run's requests cost.
//! - [`S3Uri`]: a `s3://BUCKET[/PREFIX]` target.
//! - [`date`]: the two date forms S3 headers use.

mod acl;
mod annotation;
mod attribute;
pub mod date;
mod failure;
mod head;
mod header;
mod skip;
mod uri;

pub use acl::{Grant, ObjectAcl};
pub use annotation::{missing as missing_annotations, Annotation};
pub use attribute::{Attr, OnCopy, Slot, CHECKSUMS};
pub use failure::{ListingFailure, RequestCounts, S3Failure, DELETE_MARKER};
pub use head::{ListedObject, ObjectHead, ObjectVersion, Rewritten};
pub use header::Header;
pub use skip::SkipReason;
pub use uri::{legacy_name, not_a_bucket_name, S3Uri};
