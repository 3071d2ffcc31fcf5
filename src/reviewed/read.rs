//! Reading a plan: the whole file is checked before apply sends anything (its header, every
//! line, and the trailer's count), then its lines are streamed, so a plan of millions of objects
//! is never held in memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines as TextLines};
use std::path::Path;

use anyhow::{bail, Context};

use super::{Header, Line, Trailer, FORMAT, VERSION};

/// Checks the plan at `path`; its header, how many objects it has, and its lines to stream.
pub fn open(path: &Path) -> anyhow::Result<(Header, u64, Lines)> {
    let shown = path.display();
    let mut lines = text_lines(path)?;
    let header = match lines.next() {
        Some(line) => line.with_context(|| format!("cannot read plan {shown}"))?,
        None => bail!("plan {shown} is empty: not a plan s3mend wrote"),
    };
    let header: Header = serde_json::from_str(&header)
        .ok()
        .filter(|h: &Header| h.format == FORMAT)
        .with_context(|| format!("plan {shown} line 1 is not an s3mend plan header"))?;
    if header.version != VERSION {
        bail!(
            "plan {shown} is version {} of the format; this s3mend reads version {VERSION}",
            header.version
        );
    }
    let mut objects = 0;
    let mut trailer = None;
    for (index, line) in lines.enumerate() {
        let number = index + 2;
        let line = line.with_context(|| format!("cannot read plan {shown}"))?;
        if trailer.is_some() {
            bail!("plan {shown} line {number} follows its end: not a plan s3mend wrote");
        }
        if let Ok(end) = serde_json::from_str::<Trailer>(&line) {
            trailer = Some(end);
            continue;
        }
        match serde_json::from_str::<Line>(&line) {
            Ok(object) if object.key == object.snapshot.key => objects += 1,
            Ok(_) => bail!("plan {shown} line {number}: its key and its snapshot's differ"),
            Err(e) => bail!("plan {shown} line {number} is not a planned object: {e}"),
        }
    }
    match trailer {
        Some(t) if t.end.objects == objects => {}
        Some(t) => bail!(
            "plan {shown} says it has {} objects but holds {objects}: it was changed since it was written",
            t.end.objects
        ),
        None => bail!("plan {shown} has no end line: it was cut short"),
    }
    let mut lines = text_lines(path)?;
    lines.next();
    Ok((header, objects, Lines(lines)))
}

fn text_lines(path: &Path) -> anyhow::Result<TextLines<BufReader<File>>> {
    let file = File::open(path).with_context(|| format!("cannot read plan {}", path.display()))?;
    Ok(BufReader::new(file).lines())
}

/// The planned objects of a plan [`open`] checked, in the file's order (after its header, up
/// to its trailer).
pub struct Lines(TextLines<BufReader<File>>);

impl Iterator for Lines {
    type Item = anyhow::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = match self.0.next()? {
            Ok(line) => line,
            Err(e) => return Some(Err(e.into())),
        };
        match serde_json::from_str::<Line>(&line) {
            Ok(object) => Some(Ok(object)),
            // The trailer: checked by `open`.
            Err(_) if serde_json::from_str::<Trailer>(&line).is_ok() => None,
            Err(e) => Some(Err(e.into())),
        }
    }
}
