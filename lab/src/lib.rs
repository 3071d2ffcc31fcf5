//! The lab: an in-process S3 server used by the demo, the tests and the benchmarks.
//!
//! It serves the S3 protocol (via the `s3s` crate, SigV4 checked against a fixed key) from an
//! in-memory store on 127.0.0.1, and reproduces the S3 behaviour s3mend depends on (see
//! `docs/s3-behaviour.md`): CopyObject directives, the illegal self-copy, conditions, versions,
//! ACLs (and S3's other ACL modes, per bucket), tags, SSE-C, multipart uploads and listing
//! pagination (ListObjects v1 and v2). It also counts requests per operation, accepted
//! connections, the most requests in flight at once and the time it took beyond the injected
//! latency, and can add latency to every request, fixed or from a seeded distribution.
//!
//! With the `testing` feature, tests can also stage a concurrent writer right before a copy or a
//! HEAD, fail or stall the next requests on a key, inject seeded random faults per operation
//! (SlowDown, InternalError, connection resets, stalls, CopyObject's 200-with-an-error), damage
//! or trickle the next listings (cut bodies, pagination that lies), lose a copy's response,
//! make a bucket behave like moto or a store older than CopyObject's `If-Match`, and get an SDK
//! client for the lab. Tests and benchmarks enable it; the demo, and so the product, builds
//! without it.
//!
//! # Layout
//!
//! The server:
//! - `lib.rs`: [`Lab`] (start, stop, the direct helpers) and [`LabConfig`].
//! - `conn.rs`: the accept loop and the per-request service: latency, the region check.
//! - `access.rs`: the s3s access hook: counts each request and refuses anonymous ones.
//! - `s3/`: the s3s trait impl, a module per operation group (buckets, objects, copies, listings,
//!   ACLs and tags, multipart uploads).
//! - `handle.rs`: [`LabHandle`], the direct helpers as a cloneable value ([`Lab`] delegates).
//! - `stats.rs` (counters), `latency.rs` and `delay.rs` (latency distributions, precise sleeps),
//!   `region.rs` (answers to a request signed for another region), `rng.rs` (seeded streams).
//!
//! The data and S3's rules:
//! - `store.rs` (buckets and versions), `model.rs` (object values), `headers.rs`
//!   (request/response header mapping and conditions), `copy.rs` (CopyObject rules), `acl.rs`
//!   (grants), `ownership.rs` (per-bucket ACL modes), `listing.rs` (listing pages),
//!   `multipart.rs` (parts and their assembly).
//!
//! Only with `testing`:
//! - `testing.rs`: the test-only methods of [`Lab`] and [`LabHandle`], and the SDK client.
//! - `hooks.rs` (race hooks), `inject.rs` (armed and random faults, raised from the access hook),
//!   `faults.rs` (seeded fault mixes), `damage.rs` (damaged listings and lost copy responses),
//!   `inventory.rs` (S3 Inventory reports of a bucket, as S3 writes them),
//!   `conn_faults.rs` (resets, 200-with-an-error and cut or trickled bodies, carried out by the
//!   connection), `quirks.rs` (other stores' departures from S3, per bucket).
//!
//! The server reaches these only at `#[cfg(feature = "testing")]` lines: a field each in the
//! handle, the access hook and a bucket, the call to the injector in the access hook, the wrapper
//! around each connection, the race hooks in HeadObject, CopyObject and CreateMultipartUpload,
//! the two quirk checks of the copies, and the two damage calls in ListObjectsV2.

mod access;
mod acl;
mod annotations;
mod checksum;
mod conn;
mod copy;
mod delay;
mod handle;
mod headers;
mod latency;
mod listing;
mod model;
mod multipart;
mod ownership;
mod region;
mod rng;
mod s3;
mod stats;
mod store;

// Only for staging failures and other stores in tests and benchmarks: the product (the demo)
// builds the lab without them.
#[cfg(feature = "testing")]
mod conn_faults;
#[cfg(feature = "testing")]
mod damage;
#[cfg(feature = "testing")]
mod faults;
#[cfg(feature = "testing")]
mod hooks;
#[cfg(feature = "testing")]
mod inject;
#[cfg(feature = "testing")]
mod inventory;
#[cfg(feature = "testing")]
mod quirks;
#[cfg(feature = "testing")]
mod testing;
#[cfg(feature = "testing")]
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use acl::{LAB_OWNER_ID, LAB_OWNER_NAME};
pub use handle::LabHandle;
pub use latency::LatencyDist;
pub use model::{Annotation, Checksum, Grant, Grantee, ObjectSeed, StoredObject};
pub use ownership::AclMode;
pub use region::{LabRegion, WrongRegion, LAB_REGION};
pub use stats::LabStats;

#[cfg(feature = "testing")]
pub use damage::{Framing, ListingDamage};
#[cfg(feature = "testing")]
pub use faults::{FaultRates, Faults};
#[cfg(feature = "testing")]
pub use inject::Arrival;
#[cfg(feature = "testing")]
pub use inventory::InventorySpec;
#[cfg(feature = "testing")]
pub use testing::{client, client_with_keys};
#[cfg(feature = "testing")]
pub use tls::LabTls;

use access::LabAccess;
use conn::Shared;

/// The lab's access key id.
pub const LAB_ACCESS_KEY: &str = "s3mendlabaccesskey";
/// The AWS account id that owns every lab bucket: a request whose
/// `x-amz-expected-bucket-owner` names another is refused (403), as S3 does.
pub const LAB_ACCOUNT_ID: &str = "111122223333";
/// The lab's secret key.
pub const LAB_SECRET_KEY: &str = "s3mendlabsecretkey0123456789abcdefghijkl";

/// How to start a lab.
#[derive(Clone, Debug, Default)]
pub struct LabConfig {
    /// 0 picks a free port.
    pub port: u16,
    /// Added before each request is handled.
    pub latency: Duration,
    /// Replaces `latency` with a distribution, sampled from the fixed default seed as by
    /// [`Lab::set_latency_distribution`].
    pub latency_dist: Option<LatencyDist>,
    /// Seeded random faults from the first request on; see [`Lab::set_faults`].
    #[cfg(feature = "testing")]
    pub faults: Option<Faults>,
    /// Puts the lab in this region: a request signed for any other is answered with S3's
    /// redirect, in the way [`LabConfig::wrong_region`] says. `None` (the default) is
    /// [`LAB_REGION`], and then no request is turned away for its region.
    pub region: Option<String>,
    /// How a request signed for another region than [`LabConfig::region`] is answered.
    pub wrong_region: WrongRegion,
    /// Serve HTTPS with this certificate; [`Lab::endpoint`] is then `https://127.0.0.1:PORT`.
    #[cfg(feature = "testing")]
    pub tls: Option<LabTls>,
}

/// A running lab server. Dropping it stops the server too; [`Lab::shutdown`] waits for that.
pub struct Lab {
    addr: SocketAddr,
    scheme: &'static str,
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

impl Lab {
    /// Binds 127.0.0.1 and starts serving.
    pub async fn start(config: LabConfig) -> std::io::Result<Lab> {
        #[cfg(feature = "testing")]
        let tls = config.tls.as_ref().map(LabTls::acceptor).transpose()?;
        #[cfg(not(feature = "testing"))]
        let tls = None;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let mut handle = LabHandle::new();
        handle.region = config.region.map(|name| {
            Arc::new(LabRegion {
                name,
                answer: config.wrong_region,
            })
        });
        #[cfg(feature = "testing")]
        handle.inject.set_random(config.faults);
        let dist = config
            .latency_dist
            .unwrap_or(LatencyDist::Fixed(config.latency));
        let shared = Arc::new(Shared {
            handle: handle.clone(),
            latency: latency::Latency::new(dist, latency::DEFAULT_SEED),
            delays: delay::Delays::start(),
        });
        let mut builder = S3ServiceBuilder::new(s3::LabS3 {
            store: handle.store.clone(),
            handle: handle.clone(),
        });
        builder.set_auth(SimpleAuth::from_single(LAB_ACCESS_KEY, LAB_SECRET_KEY));
        builder.set_access(LabAccess::new(&handle));
        let service = builder.build();
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(conn::serve(listener, service, shared.clone(), tls, stopped));
        Ok(Lab {
            addr,
            scheme,
            shared,
            stop,
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS).
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the latency added to every later request (replacing any distribution).
    pub fn set_latency(&self, d: Duration) {
        self.set_latency_distribution(LatencyDist::Fixed(d));
    }

    /// Draws the latency of every later request from `dist`, with a stream restarted from a
    /// fixed seed: requests arriving in the same order get the same latencies in every run.
    pub fn set_latency_distribution(&self, dist: LatencyDist) {
        self.set_latency_distribution_seeded(dist, latency::DEFAULT_SEED);
    }

    /// As [`Lab::set_latency_distribution`], with the stream seeded by `seed`;
    /// [`LatencyDist::samples`] with the same seed gives the same sequence.
    pub fn set_latency_distribution_seeded(&self, dist: LatencyDist, seed: u64) {
        self.shared.latency.set(dist, seed);
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
    pub fn set_acl_mode(&self, bucket: &str, mode: AclMode) {
        self.shared.handle.set_acl_mode(bucket, mode);
    }

    /// See [`LabHandle::set_annotations_supported`].
    pub fn set_annotations_supported(&self, bucket: &str, supported: bool) {
        self.shared
            .handle
            .set_annotations_supported(bucket, supported);
    }

    /// Stores an object directly (creating the bucket if needed), as a PUT would.
    pub fn put_object(&self, bucket: &str, key: &str, seed: ObjectSeed) -> StoredObject {
        self.shared.handle.put_object(bucket, key, seed)
    }

    /// The current version (`None` if absent or a delete marker).
    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        self.shared.handle.object(bucket, key)
    }

    /// See [`LabHandle::put_object_acl`]: a canned ACL on the current version, as PutObjectAcl
    /// sets it (no new ETag, no new Last-Modified).
    pub fn put_object_acl(&self, bucket: &str, key: &str, canned: &str) {
        self.shared.handle.put_object_acl(bucket, key, canned);
    }

    /// See [`LabHandle::delete_object`]: as DeleteObject without a version id.
    pub fn delete_object(&self, bucket: &str, key: &str) {
        self.shared.handle.delete_object(bucket, key);
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

/// Body bytes of a seed, for convenience in tests: `seed_body("abc")`.
pub fn seed_body(body: impl Into<Bytes>) -> ObjectSeed {
    ObjectSeed::with_body(body)
}
