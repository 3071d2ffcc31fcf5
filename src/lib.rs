//! s3mend: find and losslessly repair bad S3 object metadata in place.
//!
//! # Layout
//! - [`cli`] parses arguments; [`config`] validates them into settings; [`app`] wires a run.
//! - [`s3`] is the only module that talks to S3: client construction, owned snapshots of
//!   listings and HEADs, error classification.
//! - [`pipeline`] streams a bucket: walk (ListObjectsV2) → inspect (HeadObject, bounded
//!   concurrency) → detect (rules).
//! - [`rules`] are pure checks over a HEAD snapshot, one per file.
//! - [`report`] writes results as table, JSON, JSON Lines or CSV.
//! - [`state`] keeps `--state` checkpoints for `--resume`.
//! - [`progress`] draws the progress bar; [`exit_codes`] documents how a run ends.
//! - [`lab`] is an in-process S3 server for the demo, the tests and the benchmarks; [`demo`]
//!   seeds it from `fixtures/`.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod exit_codes;
pub mod journal;
pub mod model;
pub mod outcome;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod repair;
pub mod report;
pub mod rules;
pub mod s3;
pub mod state;
pub mod verify;
