//! Writing a plan: every line into a temporary file beside the path (0600: a plan names private
//! objects), renamed into place by a complete dry run only; an incomplete one leaves no plan.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{End, Header, Line, Trailer};
use crate::atomic_file::temp_path;

pub struct Writer {
    path: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
    objects: u64,
}

impl Writer {
    /// Starts the plan that will be `path` (so an unwritable place fails before the first
    /// request); the header is written once the run knows where it connected.
    pub fn create(path: &Path) -> io::Result<Writer> {
        let temp = temp_path(path)?;
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&temp)?;
        Ok(Writer {
            path: path.to_owned(),
            temp,
            out: Some(BufWriter::new(file)),
            objects: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&mut self, header: &Header) -> io::Result<()> {
        self.json(header)
    }

    pub fn line(&mut self, line: &Line) -> io::Result<()> {
        self.json(line)?;
        self.objects += 1;
        Ok(())
    }

    fn json(&mut self, value: &impl serde::Serialize) -> io::Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("the plan was finished already"))?;
        serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
        out.write_all(b"\n")
    }

    /// Ends the plan: if `complete`, the trailer is written and the file put in place
    /// (`Ok(Some(objects))`); otherwise it is removed (`Ok(None)`).
    pub fn finish(mut self, complete: bool) -> io::Result<Option<u64>> {
        if !complete {
            self.out = None;
            let _ = std::fs::remove_file(&self.temp);
            return Ok(None);
        }
        let objects = self.objects;
        let result = self
            .json(&Trailer {
                end: End { objects },
            })
            .and_then(|()| self.commit());
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result.map(|()| Some(objects))
    }

    fn commit(&mut self) -> io::Result<()> {
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("the plan was finished already"))?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.path)
    }
}

impl Drop for Writer {
    /// A run that ends without finishing (an error) leaves no temporary file behind.
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
