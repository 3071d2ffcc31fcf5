//! Wiring: each command's run from validated settings to an exit code. The pipeline, the
//! repairer and the report do the work; this module connects them, asks before writing, and
//! keeps the run's books ([`run`]).
//!
//! - `scan.rs`: walk → inspect → detect → report.
//! - `fix.rs`: the same, then (after asking, unless `--yes`) → repair, with the journal and
//!   `--resume`'s settling of the copies a stopped run left in flight.
//! - `undo.rs`: a journal's repairs, put back.
//! - `apply.rs`: a reviewed plan (`fix --dry-run --plan`), performed exactly.
//! - `ask.rs`: whether a run may write, and the question on the terminal.
//! - `files.rs`: the files a run writes are different files.
//! - `journal_file.rs`: a writing run's journal file.
//! - `metrics.rs`: `--statsd` and `--metrics-file`, sent when a run ends.
//! - `output.rs`: where the reports go, opened before the first request.
//! - `plan_file.rs`: the `--plan` a dry run writes.
//! - `run.rs`: one run's report, summary and exit code; `checkpoints.rs`: its `--state` and
//!   `--catalog` files, moved forward as results are recorded.
//! - `inventory_file.rs`: the `--inventory` manifest, read before the first HEAD.
//! - `merge.rs`: `s3mend merge`, the reports of a sharded run made one.
//! - `catalog_file.rs`: the `--catalog` to read and the one to write, opened before the first
//!   request.
//! - `policy.rs`: `policy check` and `policy explain`, which send nothing.

mod apply;
mod ask;
mod catalog_file;
mod checkpoints;
mod files;
mod fix;
mod inventory_file;
mod journal_file;
mod merge;
mod metrics;
mod output;
mod plan_file;
pub mod policy;
mod run;
mod scan;
mod undo;

pub use apply::apply;
pub use ask::{consent, Consent};
pub use fix::fix;
pub(crate) use journal_file::origin;
pub use merge::merge;
pub use output::open_output;
pub use run::exit_code;
pub use scan::scan;
pub use undo::undo;
