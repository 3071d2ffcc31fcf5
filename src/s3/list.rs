//! ListObjectsV2, page by page, into the model's [`ListedObject`]s. The walker
//! (`pipeline::walk`) decides what the keys mean; this file only makes the requests.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::list_objects_v2::{ListObjectsV2Error, ListObjectsV2Output};
use aws_sdk_s3::types::EncodingType;
use aws_sdk_s3::Client;
use aws_smithy_async::future::pagination_stream::PaginationStream;

use crate::model::{ListedObject, S3Failure};

/// One page as the server sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Keys exactly as listed: URL-encoded if `url_encoded` (when the server honours it).
    pub objects: Vec<ListedObject>,
    /// The server says it URL-encoded the keys (`EncodingType=url` in the answer).
    pub url_encoded: bool,
}

/// The pages of one listing, fetched one at a time as they are asked for.
pub struct Pages(
    PaginationStream<Result<ListObjectsV2Output, SdkError<ListObjectsV2Error, HttpResponse>>>,
);

impl Pages {
    /// Lists `bucket` under `prefix`, after `start_after`, `page_size` keys a page, asking for
    /// `encoding-type=url`: it lets S3 return keys that XML 1.0 cannot carry (control
    /// characters).
    pub fn new(
        client: &Client,
        bucket: &str,
        prefix: &str,
        start_after: Option<String>,
        page_size: i32,
    ) -> Pages {
        Pages(
            client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_start_after(start_after)
                .encoding_type(EncodingType::Url)
                .into_paginator()
                .page_size(page_size)
                .send(),
        )
    }

    /// The next page, `None` at the end; a failure ends the listing.
    pub async fn next(&mut self) -> Option<Result<Page, S3Failure>> {
        let page = match self.0.next().await? {
            Ok(page) => page,
            Err(err) => return Some(Err(S3Failure::from_sdk(&err))),
        };
        let objects = page
            .contents()
            .iter()
            .filter_map(|object| {
                Some(ListedObject {
                    key: object.key()?.to_owned(),
                    size: object.size().unwrap_or(0),
                    etag: object.e_tag().map(str::to_owned),
                })
            })
            .collect();
        Some(Ok(Page {
            objects,
            url_encoded: page.encoding_type() == Some(&EncodingType::Url),
        }))
    }
}
