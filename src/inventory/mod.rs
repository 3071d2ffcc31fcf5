//! `--inventory`: an S3 Inventory report read instead of listing the bucket
//! (`docs/s3-behaviour.md` §15). Pure: the manifest's JSON and the data files' bytes are handed
//! in; fetching them is `pipeline/inventory.rs`.
//!
//! - [`manifest`]: `manifest.json`, checked (format, source bucket, the columns of its
//!   `fileSchema`), and which data files a shard reads.
//! - [`data`]: one gzip-compressed CSV data file, streamed row by row into the listing entries
//!   a scan inspects: keys URL-decoded, delete markers and noncurrent versions left out.
//! - [`parquet`] (feature `parquet`): one Parquet data file, read row by row into the same
//!   entries; keys as they are.

pub mod data;
pub mod manifest;
#[cfg(feature = "parquet")]
pub mod parquet;

pub use data::{decode_key, DataFile, InventoryObject};
pub use manifest::{Columns, Format, Manifest, Split};
