//! The lab: an in-process S3 server used by the demo, the tests and the benchmarks.
//!
//! It serves the S3 protocol (via the `s3s` crate, SigV4 checked against a fixed key) from an
//! in-memory store on 127.0.0.1, and reproduces the S3 behaviour s3mend depends on (see
//! `S3-SEMANTICS.md`): CopyObject directives, the illegal self-copy, conditions, versions, ACLs,
//! tags, SSE-C, multipart uploads and listing pagination. It also counts requests per operation
//! and accepted connections, and can add latency to every request.
//!
//! Layout: `mod.rs` (the running server), `stats.rs` (counters), `store.rs` (buckets and versions),
//! `model.rs` (object values), `s3.rs` (the s3s trait impl), `headers.rs` (request/response header
//! mapping and conditions), `copy.rs` (CopyObject rules), `acl.rs`, `listing.rs`, `multipart.rs`.

mod acl;
mod copy;
mod delay;
mod headers;
mod listing;
mod model;
mod multipart;
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
pub use model::{Grant, Grantee, ObjectSeed, StoredObject};
pub use stats::LabStats;

use stats::{Counters, CountingAccess};
use store::{Store, Versioning};

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

/// State shared by the handle and the server tasks.
struct Shared {
    store: Arc<Store>,
    counters: Arc<Counters>,
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
        let shared = Arc::new(Shared {
            store: Arc::new(Store::default()),
            counters: Arc::new(Counters::default()),
            latency_nanos: AtomicU64::new(duration_nanos(config.latency)),
            delays: delay::Delays::start(),
        });
        let mut builder = S3ServiceBuilder::new(s3::LabS3 {
            store: shared.store.clone(),
        });
        builder.set_auth(SimpleAuth::from_single(LAB_ACCESS_KEY, LAB_SECRET_KEY));
        builder.set_access(CountingAccess {
            counters: shared.counters.clone(),
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

    /// A snapshot of the counters.
    pub fn stats(&self) -> LabStats {
        self.shared.counters.snapshot()
    }

    pub fn reset_stats(&self) {
        self.shared.counters.reset();
    }

    /// Creates a bucket (no-op if it exists).
    pub fn create_bucket(&self, bucket: &str) {
        self.shared.store.create_bucket(bucket);
    }

    /// Enables versioning, or suspends it (a never-versioned bucket stays unversioned).
    pub fn set_versioning(&self, bucket: &str, enabled: bool) {
        self.shared.store.create_bucket(bucket);
        let _ = self.shared.store.write(bucket, |b| {
            b.versioning = match (enabled, b.versioning) {
                (true, _) => Versioning::Enabled,
                (false, Versioning::Unversioned) => Versioning::Unversioned,
                (false, _) => Versioning::Suspended,
            };
            Ok(())
        });
    }

    /// Stores an object directly (creating the bucket if needed), as a PUT would.
    pub fn put_object(&self, bucket: &str, key: &str, seed: ObjectSeed) -> StoredObject {
        self.shared.store.create_bucket(bucket);
        let grants = if !seed.grants.is_empty() {
            seed.grants
        } else {
            seed.acl
                .as_deref()
                .and_then(|a| acl::canned(a).ok())
                .unwrap_or_else(acl::private)
        };
        let attrs = headers::RequestAttrs {
            content_type: seed.content_type,
            content_encoding: seed.content_encoding,
            cache_control: seed.cache_control,
            content_disposition: seed.content_disposition,
            content_language: seed.content_language,
            expires: seed.expires,
            metadata: seed.metadata,
            storage_class: seed.storage_class,
            website_redirect_location: seed.website_redirect_location,
            server_side_encryption: seed.server_side_encryption,
            ssekms_key_id: seed.ssekms_key_id,
            bucket_key_enabled: seed.bucket_key_enabled,
            sse_customer_algorithm: seed.sse_customer_algorithm,
            sse_customer_key_md5: seed.sse_customer_key_md5,
            object_lock_mode: seed.object_lock_mode,
            object_lock_retain_until: seed.object_lock_retain_until,
            object_lock_legal_hold: seed.object_lock_legal_hold,
            tags: Some(seed.tags),
            grants: Some(grants),
        };
        let obj = attrs.into_object(seed.body);
        self.shared
            .store
            .write(bucket, |b| Ok(b.insert(key, obj.clone())))
            .unwrap_or(obj)
    }

    /// The current version (`None` if absent or a delete marker).
    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        self.shared
            .store
            .read(bucket, |b| Ok(b.live(key).cloned()))
            .ok()
            .flatten()
    }

    /// Every version and delete marker of a key, newest first.
    pub fn versions(&self, bucket: &str, key: &str) -> Vec<StoredObject> {
        self.shared
            .store
            .read(bucket, |b| {
                Ok(b.objects
                    .get(key)
                    .map(|v| v.iter().rev().cloned().collect())
                    .unwrap_or_default())
            })
            .unwrap_or_default()
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_multipart_uploads(&self, bucket: &str) -> usize {
        self.shared
            .store
            .read(bucket, |b| Ok(b.uploads.len()))
            .unwrap_or(0)
    }

    /// Number of keys whose current version is a live object.
    pub fn object_count(&self, bucket: &str) -> usize {
        self.shared
            .store
            .read(bucket, |b| {
                Ok(b.objects
                    .values()
                    .filter(|v| v.last().is_some_and(|o| !o.delete_marker))
                    .count())
            })
            .unwrap_or(0)
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
                shared.counters.connection();
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
