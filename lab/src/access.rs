//! The s3s access hook, which every request passes after its signature is checked and before any
//! handler runs.
//!
//! It is the one place s3s names the operation (`HeadObject`, ...) of every request, implemented
//! or not, so requests are counted here. Then an anonymous request is refused as S3 does, and,
//! with the `testing` feature, the request is handed to the fault injector (`inject.rs`), which
//! may fail or stall it before it changes anything. Last, a request that expects another bucket
//! owner than the lab's account is refused, as S3 does.

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::{s3_error, S3Result};

use super::handle::LabHandle;
#[cfg(feature = "testing")]
use super::inject::Inject;
use super::stats::Counters;
use super::LAB_ACCOUNT_ID;

/// Counts and admits each request, then raises any fault a test injected for it (`testing`).
pub struct LabAccess {
    counters: Arc<Counters>,
    #[cfg(feature = "testing")]
    inject: Arc<Inject>,
}

impl LabAccess {
    /// The access hook of the lab whose state `handle` shares.
    pub fn new(handle: &LabHandle) -> Self {
        Self {
            counters: handle.counters.clone(),
            #[cfg(feature = "testing")]
            inject: handle.inject.clone(),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for LabAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        self.counters.request(cx.s3_op().name());
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        #[cfg(feature = "testing")]
        self.inject
            .raise(cx, |op, kind| self.counters.fault(op, kind))
            .await?;
        check_expected_owner(cx.headers())
    }
}

/// S3 refuses, with 403 AccessDenied, a request whose `x-amz-expected-bucket-owner` (or, for a
/// copy, `x-amz-source-expected-bucket-owner`) names another account than the bucket's owner;
/// every lab bucket is owned by [`LAB_ACCOUNT_ID`].
fn check_expected_owner(headers: &http::HeaderMap) -> S3Result<()> {
    for name in [
        "x-amz-expected-bucket-owner",
        "x-amz-source-expected-bucket-owner",
    ] {
        if headers
            .get(name)
            .is_some_and(|owner| owner.as_bytes() != LAB_ACCOUNT_ID.as_bytes())
        {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
    }
    Ok(())
}
