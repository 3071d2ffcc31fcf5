//! The AWS CLI's request conventions s3mend follows: `--request-payer requester` and
//! `--expected-bucket-owner ACCOUNT`, sent as headers on every request whose operation takes
//! them (docs/s3-behaviour.md §14).
//!
//! Which operation takes which header is a pure table ([`RequestConventions::headers_for`]); one
//! interceptor on the run's client adds them before signing, so no call site can forget them,
//! and the scan's HEADs around the SDK (`fast_head`) sign the same headers from the same table.

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// The header that agrees to pay for a Requester Pays bucket's requests.
pub const REQUEST_PAYER: &str = "x-amz-request-payer";
/// The header that names the account that must own the bucket.
pub const EXPECTED_BUCKET_OWNER: &str = "x-amz-expected-bucket-owner";
/// The same, for the source bucket of a copy (s3mend copies within its one bucket).
pub const SOURCE_EXPECTED_BUCKET_OWNER: &str = "x-amz-source-expected-bucket-owner";

/// Operations s3mend sends that take `x-amz-request-payer` (per the S3 API reference: object
/// operations and listings; bucket-level ones such as HeadBucket do not).
const TAKE_REQUEST_PAYER: &[&str] = &[
    "AbortMultipartUpload",
    "CompleteMultipartUpload",
    "CopyObject",
    "CreateMultipartUpload",
    "DeleteObject",
    "GetObject",
    "GetObjectAcl",
    "GetObjectTagging",
    "HeadObject",
    "ListObjectVersions",
    "ListObjectsV2",
    "PutObjectAcl",
    "UploadPartCopy",
];

/// Operations s3mend sends that take `x-amz-expected-bucket-owner`: all that name a bucket.
/// ListBuckets names none and takes neither header.
const TAKE_EXPECTED_OWNER: &[&str] = &[
    "AbortMultipartUpload",
    "CompleteMultipartUpload",
    "CopyObject",
    "CreateMultipartUpload",
    "DeleteObject",
    "GetBucketAcl",
    "GetBucketOwnershipControls",
    "GetBucketVersioning",
    "GetObject",
    "GetObjectAcl",
    "GetObjectTagging",
    "HeadBucket",
    "HeadObject",
    "ListObjectVersions",
    "ListObjectsV2",
    "PutObjectAcl",
    "UploadPartCopy",
];

/// Operations with a copy source, which also take `x-amz-source-expected-bucket-owner`.
const TAKE_SOURCE_OWNER: &[&str] = &["CopyObject", "UploadPartCopy"];

/// `--request-payer` and `--expected-bucket-owner`, as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestConventions {
    /// `--request-payer requester`.
    pub request_payer: bool,
    /// `--expected-bucket-owner ACCOUNT`.
    pub expected_bucket_owner: Option<String>,
}

impl RequestConventions {
    /// Whether there is anything to send.
    pub fn is_empty(&self) -> bool {
        !self.request_payer && self.expected_bucket_owner.is_none()
    }

    /// The headers a request of `operation` (its S3 API name, e.g. `HeadObject`) carries.
    pub fn headers_for(&self, operation: &str) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if self.request_payer && TAKE_REQUEST_PAYER.contains(&operation) {
            headers.push((REQUEST_PAYER, "requester".to_owned()));
        }
        if let Some(owner) = &self.expected_bucket_owner {
            if TAKE_EXPECTED_OWNER.contains(&operation) {
                headers.push((EXPECTED_BUCKET_OWNER, owner.clone()));
            }
            if TAKE_SOURCE_OWNER.contains(&operation) {
                headers.push((SOURCE_EXPECTED_BUCKET_OWNER, owner.clone()));
            }
        }
        headers
    }
}

/// Adds the conventions' headers to every request of the client, before it is signed (S3
/// refuses `x-amz-*` headers that are not signed).
#[derive(Debug)]
pub(super) struct SendConventions(pub(super) RequestConventions);

impl Intercept for SendConventions {
    fn name(&self) -> &'static str {
        "s3mend::SendConventions"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(operation) = cfg.load::<Metadata>().map(|m| m.name().to_owned()) else {
            return Ok(());
        };
        let headers = context.request_mut().headers_mut();
        for (name, value) in self.0.headers_for(&operation) {
            headers.insert(name, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> RequestConventions {
        RequestConventions {
            request_payer: true,
            expected_bucket_owner: Some("111122223333".into()),
        }
    }

    #[test]
    fn each_operation_gets_the_headers_it_takes() {
        let names = |op: &str| -> Vec<&str> {
            both()
                .headers_for(op)
                .into_iter()
                .map(|(name, _)| name)
                .collect()
        };
        let payer_and_owner = vec![REQUEST_PAYER, EXPECTED_BUCKET_OWNER];
        for op in [
            "HeadObject",
            "GetObject",
            "ListObjectsV2",
            "ListObjectVersions",
            "GetObjectAcl",
            "PutObjectAcl",
            "GetObjectTagging",
            "CreateMultipartUpload",
            "CompleteMultipartUpload",
            "AbortMultipartUpload",
            "DeleteObject",
        ] {
            assert_eq!(names(op), payer_and_owner, "{op}");
        }
        for op in ["CopyObject", "UploadPartCopy"] {
            assert_eq!(
                names(op),
                vec![
                    REQUEST_PAYER,
                    EXPECTED_BUCKET_OWNER,
                    SOURCE_EXPECTED_BUCKET_OWNER
                ],
                "{op}"
            );
        }
        for op in ["HeadBucket", "GetBucketAcl", "GetBucketVersioning"] {
            assert_eq!(names(op), vec![EXPECTED_BUCKET_OWNER], "{op}");
        }
        assert!(names("ListBuckets").is_empty());
        assert!(names("SomethingNew").is_empty());
    }

    #[test]
    fn values_are_requester_and_the_account() {
        let headers = both().headers_for("CopyObject");
        assert_eq!(
            headers,
            vec![
                (REQUEST_PAYER, "requester".to_owned()),
                (EXPECTED_BUCKET_OWNER, "111122223333".to_owned()),
                (SOURCE_EXPECTED_BUCKET_OWNER, "111122223333".to_owned()),
            ]
        );
    }

    #[test]
    fn nothing_is_sent_unless_asked() {
        let none = RequestConventions::default();
        assert!(none.is_empty());
        assert!(none.headers_for("HeadObject").is_empty());
        let payer = RequestConventions {
            request_payer: true,
            ..RequestConventions::default()
        };
        assert_eq!(payer.headers_for("HeadBucket"), vec![]);
        assert_eq!(payer.headers_for("HeadObject").len(), 1);
    }
}
