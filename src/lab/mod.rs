//! TEMPORARY compile stub; replaced by the real lab from the `lab` branch.
#![allow(dead_code, unused_variables)]
use std::collections::BTreeMap;
pub const LAB_ACCESS_KEY: &str = "x";
pub const LAB_SECRET_KEY: &str = "x";
pub const LAB_REGION: &str = "us-east-1";
#[derive(Clone, Debug, Default)]
pub struct LabConfig {
    pub port: u16,
    pub latency: std::time::Duration,
}
pub struct Lab;
#[derive(Clone, Debug, Default)]
pub struct ObjectSeed {
    pub body: bytes::Bytes,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub storage_class: Option<String>,
    pub website_redirect_location: Option<String>,
    pub acl: Option<String>,
    pub sse_customer_algorithm: Option<String>,
    pub sse_customer_key_md5: Option<String>,
}
impl Lab {
    pub async fn start(c: LabConfig) -> std::io::Result<Lab> {
        todo!()
    }
    pub fn endpoint(&self) -> String {
        todo!()
    }
    pub fn create_bucket(&self, b: &str) {
        todo!()
    }
    pub fn put_object(&self, b: &str, k: &str, s: ObjectSeed) {
        todo!()
    }
    pub async fn shutdown(self) {}
    pub fn stats(&self) -> LabStats {
        todo!()
    }
    pub fn reset_stats(&self) {}
}
#[derive(Default)]
pub struct LabStats {
    pub connections: u64,
}
impl LabStats {
    pub fn count(&self, op: &str) -> u64 {
        0
    }
    pub fn total(&self) -> u64 {
        0
    }
}
