//! The lab: an in-process S3 server used by the demo and the tests.
