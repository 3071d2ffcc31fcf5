//! The inspect stage: one HeadObject per listed object.

use aws_sdk_s3::Client;

use crate::s3::{self, ListedObject, ObjectHead, S3Failure};

/// The HEAD of one listed object, or why it could not be read.
pub type HeadResult = (ListedObject, Result<ObjectHead, S3Failure>);

pub async fn head(client: &Client, bucket: &str, listed: ListedObject) -> HeadResult {
    let head = s3::head_object(client, bucket, &listed.key).await;
    (listed, head)
}
