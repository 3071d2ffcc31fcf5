//! s3mend: find and losslessly repair bad S3 object metadata in place.
//!
//! # Layout
//! The folders show the pipeline; data flows down this list and never back up.
//! - [`cli`] defines the arguments and [`command`] completes that definition (environment
//!   variables, undo's words); [`config`] validates them into settings (no I/O); [`app`] wires a
//!   run of each command and keeps its books; [`exit_codes`] says how a run ends. [`color`]
//!   decides `--color`; [`shell`] prints completions and the manual page.
//! - [`model`] is the domain at the bottom: an object's HEAD and listing entry, its ACL, a failed
//!   request, and the attribute table every layer reads. Plain data, no SDK type.
//! - Pure layers over the model, tested without a server: [`rules`] (what is wrong, one per
//!   file), [`plan`] (the complete request a lossless copy sends), [`verify`] (HEAD after a copy
//!   against what it must be), [`outcome`] (what happened to one object), [`journal`] (the
//!   write-ahead record undo reads; [`payloads`] keeps the annotation payloads a multipart
//!   rewrite puts back, next to it), [`state`] (`--resume` checkpoints), [`report`] (every output
//!   format). [`catalog`] is the `--catalog` file format and its merge with a listing (its
//!   reader and writer touch only that local file); [`reviewed`] is the plan file a dry run
//!   writes (`--plan`) and `apply` performs.
//! - [`inventory`] reads an S3 Inventory's manifest and CSV data files (`--inventory`);
//!   [`shard`] says which part of the keys a `--shard I/N` process takes. Both pure.
//! - [`pipeline`] streams a bucket: walk → inspect → detect → repair, one file per stage.
//! - [`repair`] repairs one object (plan, ACL, journal, conditional copy, verify), settles a
//!   stopped run's copies and undoes repairs, over the [`s3::Store`] trait.
//! - [`s3`] is the only module that talks to S3 and the only one that sees SDK types: client
//!   construction and pacing, listing, HEAD (through the SDK and around it), the requests of a
//!   repair, error classification.
//! - [`batch`] is the S3 Batch Operations handler: one manifest object per task, through the
//!   same detect stage and repairer, answered with Batch Operations' result codes.
//! - [`atomic_file`] replaces a file so that a crash leaves the old one or the new one.
//! - [`progress`] draws the progress bar; [`demo`] seeds the lab (the `s3mend-lab` crate) from
//!   `fixtures/`.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod atomic_file;
pub mod batch;
pub mod catalog;
pub mod cli;
pub mod color;
pub mod command;
pub mod config;
pub mod demo;
pub mod exit_codes;
pub mod inventory;
pub mod journal;
pub mod model;
pub mod outcome;
pub mod payloads;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod repair;
pub mod report;
pub mod reviewed;
pub mod rules;
pub mod s3;
pub mod shard;
pub mod shell;
pub mod state;
pub mod verify;
