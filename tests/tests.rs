//! Integration tests: one binary, each test starting its own in-process lab S3 server on
//! 127.0.0.1 and running the real `s3mend` executable against it.

mod harness;

mod ask;
mod catalog;
mod compat;
mod connect;
mod demo;
mod environment;
mod examples;
mod faults;
mod fix;
mod hardening;
mod heads;
mod metrics;
mod nightly;
mod pace;
mod policy;
mod races;
mod resume;
mod scan_errors;
mod scan_formats;
mod scan_walk;
mod shell;
mod sniff;
