//! The inspect stage: one HeadObject per listed object.

use aws_sdk_s3::Client;

use crate::s3::{ListedObject, ObjectHead, S3Failure};

/// The HEAD of one listed object, or why it could not be read.
pub type HeadResult = (ListedObject, Result<ObjectHead, S3Failure>);

pub async fn head(client: &Client, bucket: &str, listed: ListedObject) -> HeadResult {
    let result = client
        .head_object()
        .bucket(bucket)
        .key(&listed.key)
        .send()
        .await;
    let head = match result {
        Ok(out) => Ok(ObjectHead::from_sdk(&listed.key, &out)),
        Err(err) => Err(S3Failure::from_sdk(&err)),
    };
    (listed, head)
}
