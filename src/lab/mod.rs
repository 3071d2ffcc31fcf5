//! The lab: an in-process S3 server used by the demo, the tests and the benchmarks.
//!
//! It serves the S3 protocol (via the `s3s` crate, SigV4 checked against a fixed key) from an
//! in-memory store on 127.0.0.1, and reproduces the S3 behaviour s3mend depends on (see
//! `S3-SEMANTICS.md`): CopyObject directives, the illegal self-copy, conditions, versions, ACLs,
//! tags, SSE-C, multipart uploads and listing pagination. It also counts requests per operation
//! and accepted connections, and can add latency to every request. Tests can also stage a
//! concurrent writer right before a copy, inject 500s, and give a bucket S3's other ACL modes.
//!
//! Layout: `mod.rs` (the running server), `handle.rs` (the direct helpers, shared by [`Lab`] and
//! [`LabHandle`]), `inject.rs` (race hooks and faults), `stats.rs` (counters), `store.rs` (buckets
//! and versions), `model.rs` (object values), `s3.rs` (the s3s trait impl), `headers.rs`
//! (request/response header mapping and conditions), `copy.rs` (CopyObject rules), `acl.rs`,
//! `ownership.rs` (per-bucket ACL modes), `listing.rs`, `multipart.rs`.

mod acl;
mod copy;
mod delay;
mod handle;
mod headers;
mod inject;
mod listing;
mod model;
mod multipart;
mod ownership;
mod s3;
mod stats;
mod store;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use acl::{LAB_OWNER_ID, LAB_OWNER_NAME};
pub use handle::LabHandle;
pub use model::{Grant, Grantee, ObjectSeed, StoredObject};
pub use ownership::AclMode;
pub use stats::LabStats;

use stats::CountingAccess;

/// The lab's access key id.
pub const LAB_ACCESS_KEY: &str = "s3mendlabaccesskey";
/// The lab's secret key.
pub const LAB_SECRET_KEY: &str = "s3mendlabsecretkey0123456789abcdefghijkl";
/// The region the lab claims to be in.
pub const LAB_REGION: &str = "us-east-1";

/// How to start a lab.
#[derive(Clone, Debug, Default)]
pub struct LabConfig {
    /// 0 picks a free port.
    pub port: u16,
    /// Added before each request is handled.
    pub latency: Duration,
}

/// State shared by the `Lab` and the server tasks.
struct Shared {
    handle: LabHandle,
    latency_nanos: AtomicU64,
    delays: delay::Delays,
}

/// A running lab server. Dropping it stops the server too; [`Lab::shutdown`] waits for that.
pub struct Lab {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Lab {
    /// Binds 127.0.0.1 and starts serving.
    pub async fn start(config: LabConfig) -> std::io::Result<Lab> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let handle = LabHandle::new();
        let shared = Arc::new(Shared {
            handle: handle.clone(),
            latency_nanos: AtomicU64::new(duration_nanos(config.latency)),
            delays: delay::Delays::start(),
        });
        let mut builder = S3ServiceBuilder::new(s3::LabS3 {
            store: handle.store.clone(),
            handle: handle.clone(),
        });
        builder.set_auth(SimpleAuth::from_single(LAB_ACCESS_KEY, LAB_SECRET_KEY));
        builder.set_access(CountingAccess {
            counters: handle.counters.clone(),
            inject: handle.inject.clone(),
        });
        let service = builder.build();
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(listener, service, shared.clone(), stopped));
        Ok(Lab {
            addr,
            shared,
            stop,
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the latency added to every later request.
    pub fn set_latency(&self, d: Duration) {
        self.shared
            .latency_nanos
            .store(duration_nanos(d), Ordering::Relaxed);
    }

    /// A cloneable handle on this lab's state, for hooks and other tasks.
    pub fn handle(&self) -> LabHandle {
        self.shared.handle.clone()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LabStats {
        self.shared.handle.stats()
    }

    pub fn reset_stats(&self) {
        self.shared.handle.reset_stats();
    }

    /// Creates a bucket (no-op if it exists).
    pub fn create_bucket(&self, bucket: &str) {
        self.shared.handle.create_bucket(bucket);
    }

    /// Enables versioning, or suspends it (a never-versioned bucket stays unversioned).
    pub fn set_versioning(&self, bucket: &str, enabled: bool) {
        self.shared.handle.set_versioning(bucket, enabled);
    }

    /// Sets how the bucket treats ACLs; see [`AclMode`].
    pub fn set_copy_if_match_supported(&self, bucket: &str, supported: bool) {
        self.shared
            .handle
            .set_copy_if_match_supported(bucket, supported);
    }

    pub fn set_acl_mode(&self, bucket: &str, mode: AclMode) {
        self.shared.handle.set_acl_mode(bucket, mode);
    }

    /// Stores an object directly (creating the bucket if needed), as a PUT would.
    pub fn put_object(&self, bucket: &str, key: &str, seed: ObjectSeed) -> StoredObject {
        self.shared.handle.put_object(bucket, key, seed)
    }

    /// The current version (`None` if absent or a delete marker).
    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        self.shared.handle.object(bucket, key)
    }

    /// Every version and delete marker of a key, newest first.
    pub fn versions(&self, bucket: &str, key: &str) -> Vec<StoredObject> {
        self.shared.handle.versions(bucket, key)
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_multipart_uploads(&self, bucket: &str) -> usize {
        self.shared.handle.open_multipart_uploads(bucket)
    }

    /// Number of keys whose current version is a live object.
    pub fn object_count(&self, bucket: &str) -> usize {
        self.shared.handle.object_count(bucket)
    }

    /// See [`LabHandle::before_next_copy`]: a concurrent writer between a HEAD and its COPY.
    pub fn before_next_copy(
        &self,
        bucket: &str,
        key: &str,
        hook: impl FnOnce(&LabHandle) + Send + 'static,
    ) {
        self.shared.handle.before_next_copy(bucket, key, hook);
    }

    /// See [`LabHandle::fail_next`]: the next `count` `operation` requests on `key` get a 500.
    pub fn fail_next(&self, operation: &str, key: &str, count: u32) {
        self.shared.handle.fail_next(operation, key, count);
    }

    /// Stops accepting, closes every connection and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The accept loop: one task per connection (HTTP/1.1 keep-alive), all aborted on stop.
async fn serve(
    listener: TcpListener,
    service: s3s::service::S3Service,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                shared.handle.counters.connection();
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                let shared = shared.clone();
                let handler = hyper::service::service_fn(move |req| {
                    let service = service.clone();
                    let latency = Duration::from_nanos(shared.latency_nanos.load(Ordering::Relaxed));
                    let delays = shared.delays.clone();
                    async move {
                        if !latency.is_zero() {
                            delays.sleep(latency).await;
                        }
                        hyper::service::Service::call(&service, req).await
                    }
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// An SDK client for the lab with its key: path style, checksums only when required.
pub fn client(lab: &Lab) -> aws_sdk_s3::Client {
    client_with_keys(lab, LAB_ACCESS_KEY, LAB_SECRET_KEY)
}

/// An SDK client for the lab with any key (to test authentication failures).
pub fn client_with_keys(lab: &Lab, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{
        BehaviorVersion, Credentials, Region, RequestChecksumCalculation,
        ResponseChecksumValidation,
    };
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(lab.endpoint())
        .region(Region::new(LAB_REGION))
        .credentials_provider(Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "s3mend-lab",
        ))
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Body bytes of a seed, for convenience in tests: `seed_body("abc")`.
pub fn seed_body(body: impl Into<Bytes>) -> ObjectSeed {
    ObjectSeed::with_body(body)
}
