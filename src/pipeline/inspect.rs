//! The inspect stage: one HeadObject per listed object.

use crate::model::{ListedObject, ObjectHead, S3Failure};
use crate::s3::Heads;

/// The HEAD of one listed object, or why it could not be read.
pub type HeadResult = (ListedObject, Result<ObjectHead, S3Failure>);

pub async fn head(heads: &Heads, bucket: &str, listed: ListedObject) -> HeadResult {
    let head = heads.head(bucket, &listed.key).await;
    (listed, head)
}
