//! The `--catalog` of a scan or a fix: the previous run's, to read alongside the listing, and the
//! next one, to write as results arrive. Both are opened before the first request, so a catalog
//! for another bucket, a damaged one or an unwritable directory stops the run before it starts.

use crate::catalog::{Reader, Writer};
use crate::config::CatalogConfig;

/// The catalog to read (none with `--catalog-reset`, or before the first run) and the one to
/// write. For a resumed run (`start_after`), the old entries up to its checkpoint go into the new
/// catalog at once: its listing starts after them.
pub(crate) fn open_catalog(
    cfg: Option<&CatalogConfig>,
    start_after: Option<&str>,
) -> anyhow::Result<(Option<Reader>, Option<Writer>)> {
    let Some(cfg) = cfg else {
        return Ok((None, None));
    };
    let mut reader = if cfg.reset {
        None
    } else {
        Reader::open(&cfg.path, &cfg.scope)?
    };
    let mut writer = Writer::create(&cfg.path, &cfg.scope)
        .map_err(|e| anyhow::anyhow!("cannot write --catalog {}: {e}", cfg.path.display()))?;
    if let (Some(reader), Some(after)) = (&mut reader, start_after) {
        reader.through(after, |entry| writer.write(entry));
    }
    Ok((reader, Some(writer)))
}
