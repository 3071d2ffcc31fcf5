//! `--also-format`: one run's rows and summary to several writers. A writer that fails stops the
//! run (as the only writer's failure would); the others are still finished, so each file is
//! complete or the run says it is not.

use std::io;

use super::{ObjectRow, ReportWriter, RunInfo, Summary};

pub struct Tee {
    writers: Vec<Box<dyn ReportWriter>>,
}

impl Tee {
    pub fn new(writers: Vec<Box<dyn ReportWriter>>) -> Self {
        Tee { writers }
    }
}

impl ReportWriter for Tee {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()> {
        let mut first_error = None;
        for writer in &mut self.writers {
            if let Err(e) = writer.object(row) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn finish(self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()> {
        let mut first_error = None;
        for writer in self.writers {
            if let Err(e) = writer.finish(summary, info) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
