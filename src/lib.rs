//! s3mend: find and losslessly repair bad S3 object metadata in place.
pub mod lab;
