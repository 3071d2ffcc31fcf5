//! `--inventory`: the manifest, read and checked after the bucket check and before the first
//! HEAD, so that a wrong inventory is one line and exit 2 before any object is looked at.

use std::sync::Arc;

use crate::inventory::manifest;
use crate::model::S3Uri;
use crate::pipeline::Inventory;
use crate::s3::Connection;

/// A manifest lists data files, a few hundred bytes each: this is far beyond any real one.
const MAX_MANIFEST: usize = 64 << 20;

/// The inventory at `location` (if any), which must list `bucket`.
pub(crate) async fn open_inventory(
    connection: &Connection,
    location: Option<&S3Uri>,
    bucket: &str,
) -> anyhow::Result<Option<Arc<Inventory>>> {
    let Some(location) = location else {
        return Ok(None);
    };
    let json = connection
        .whole_object(&location.bucket, &location.prefix, MAX_MANIFEST)
        .await
        .map_err(|f| anyhow::anyhow!("cannot read --inventory {location}: {f}"))?;
    let manifest =
        manifest::parse(&json, bucket, &location.to_string()).map_err(anyhow::Error::msg)?;
    Ok(Some(Arc::new(Inventory {
        manifest,
        bucket: location.bucket.clone(),
    })))
}

/// What the report says about where its objects came from.
pub(crate) fn notes(inventory: Option<&Inventory>, location: Option<&S3Uri>) -> Vec<String> {
    let (Some(inventory), Some(location)) = (inventory, location) else {
        return Vec::new();
    };
    let taken = inventory
        .manifest
        .taken
        .as_deref()
        .map_or(String::new(), |t| format!(", taken {t}"));
    vec![format!(
        "inventory: {location} ({} data files{taken}); objects written since it was taken are not seen",
        inventory.manifest.files.len()
    )]
}
