//! Integration tests: one binary, each test starting its own in-process lab S3 server on
//! 127.0.0.1 and running the real `s3mend` executable against it.

mod harness;

mod annotations;
mod apply;
mod ask;
mod aws_flags;
mod batch;
#[cfg(feature = "lambda")]
mod batch_lambda;
mod catalog;
mod ci_formats;
mod compat;
mod connect;
mod demo;
mod environment;
mod examples;
mod fast_copy;
mod faults;
mod fix;
mod gate;
mod github_action;
mod hardening;
mod heads;
mod inventory;
mod messages;
mod metrics;
mod nightly;
mod pace;
mod policy;
mod races;
mod resume;
mod scale_examples;
mod scan_errors;
mod scan_formats;
mod scan_walk;
mod shell;
mod sniff;
mod tls;
