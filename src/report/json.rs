//! JSON and JSON Lines writers. Both stream: a row is written as soon as it arrives.

use std::io::{self, Write};

use serde::Serialize;

use super::{ObjectRow, ReportWriter, RunInfo, Summary};

/// `{"objects": [...], "summary": {...}}`, one object per line inside the array.
pub struct JsonWriter {
    out: Box<dyn Write + Send>,
    rows: u64,
}

impl JsonWriter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonWriter { out, rows: 0 }
    }
}

impl ReportWriter for JsonWriter {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()> {
        self.out.write_all(if self.rows == 0 {
            b"{\"objects\": [\n"
        } else {
            b",\n"
        })?;
        serde_json::to_writer(&mut self.out, row)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()> {
        if self.rows == 0 {
            self.out.write_all(b"{\"objects\": [")?;
        }
        self.out.write_all(b"\n],\n\"summary\": ")?;
        serde_json::to_writer(&mut self.out, &SummaryView::new(summary, info))?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}

/// One object per line, flushed per line so a consumer sees results as they arrive; the last line
/// is `{"summary": {...}}`.
pub struct JsonlWriter {
    out: Box<dyn Write + Send>,
}

impl JsonlWriter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonlWriter { out }
    }
}

impl ReportWriter for JsonlWriter {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, row)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn finish(mut self: Box<Self>, summary: &Summary, info: &RunInfo) -> io::Result<()> {
        #[derive(Serialize)]
        struct Line<'a> {
            summary: SummaryView<'a>,
        }
        serde_json::to_writer(
            &mut self.out,
            &Line {
                summary: SummaryView::new(summary, info),
            },
        )?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// The summary as the JSON contract shows it, extended with why the run stopped early and what
/// the run was (which `s3mend merge` checks before it adds reports up).
#[derive(Serialize)]
struct SummaryView<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    stopped: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
    command: &'a str,
    target: &'a str,
    rules: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<&'a str>,
}

impl<'a> SummaryView<'a> {
    fn new(summary: &'a Summary, info: &'a RunInfo) -> Self {
        SummaryView {
            summary,
            stopped: info.stopped.as_deref(),
            notes: &info.notes,
            command: info.command,
            target: &info.target,
            rules: info.rules.ids().iter().map(|r| r.as_str()).collect(),
            shard: info.shard.as_deref(),
        }
    }
}
