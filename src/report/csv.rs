//! CSV: one row per finding, or one per object that could not be inspected. Every cell is
//! neutralised for spreadsheets (`escape.rs`).

use std::io::{self, Write};

use super::escape;
use super::{ObjectRow, ReportWriter, RunInfo, Summary};

pub struct CsvWriter {
    out: csv::Writer<Box<dyn Write + Send>>,
    header_written: bool,
}

const HEADER: [&str; 12] = [
    "key",
    "version_id",
    "etag",
    "status",
    "rule",
    "header",
    "current",
    "proposed",
    "error_code",
    "error_message",
    "reason",
    "severity",
];

impl CsvWriter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        CsvWriter {
            out: csv::Writer::from_writer(out),
            header_written: false,
        }
    }

    fn write(&mut self, record: Vec<String>) -> io::Result<()> {
        let cells = record.into_iter().map(escape::for_spreadsheet);
        self.out.write_record(cells.collect::<Vec<_>>())?;
        Ok(())
    }

    /// The header goes out with the first row, or at the end of an empty report.
    fn header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.out.write_record(HEADER)?;
            self.header_written = true;
        }
        Ok(())
    }
}

impl ReportWriter for CsvWriter {
    fn object(&mut self, row: &ObjectRow) -> io::Result<()> {
        self.header()?;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let base = [
            row.key.clone(),
            opt(&row.version_id),
            opt(&row.etag),
            row.status.as_str().to_owned(),
        ];
        if let Some(error) = &row.error {
            let mut record = base.to_vec();
            record.extend(["", "", "", ""].map(str::to_owned));
            record.extend([error.code.clone(), error.message.clone(), opt(&row.reason)]);
            record.push(String::new());
            self.write(record)?;
        }
        if row.error.is_none() && row.findings.is_empty() {
            // Gone, or skipped before any rule ran (SSE-C): the status and reason say it all.
            let mut record = base.to_vec();
            record.extend(["", "", "", "", "", ""].map(str::to_owned));
            record.extend([opt(&row.reason), String::new()]);
            self.write(record)?;
        }
        for finding in &row.findings {
            let mut record = base.to_vec();
            record.extend([
                finding.rule.as_str().to_owned(),
                finding.header.to_string(),
                opt(&finding.current),
                opt(&finding.proposed),
                String::new(),
                String::new(),
                opt(&row.reason),
                finding.severity.to_string(),
            ]);
            self.write(record)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, _summary: &Summary, _info: &RunInfo) -> io::Result<()> {
        self.header()?;
        self.out.flush()
    }
}
