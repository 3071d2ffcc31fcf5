//! The accept loop and the per-request HTTP service around s3s: the latency, and the answer to a
//! request signed for another region (`region.rs`), which S3 gives before it looks any further.
//!
//! With the `testing` feature each connection is also wrapped by `conn_faults.rs`, which carries
//! out the injected faults only a connection can produce (a reset, a 200 status on an error
//! body), and spoken over TLS when the lab was given a certificate (`tls.rs`).

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

#[cfg(feature = "testing")]
use super::conn_faults;
use super::delay::Delays;
use super::handle::LabHandle;
use super::latency::Latency;

/// State shared by the `Lab` and the server tasks.
pub(super) struct Shared {
    pub handle: LabHandle,
    pub latency: Latency,
    pub delays: Delays,
}

/// TLS for the connections (`testing` only; the demo serves plain HTTP).
#[cfg(feature = "testing")]
pub(super) type Tls = Option<tokio_rustls::TlsAcceptor>;
#[cfg(not(feature = "testing"))]
pub(super) type Tls = Option<std::convert::Infallible>;

/// The accept loop: one task per connection (HTTP/1.1 keep-alive), all aborted on stop.
pub(super) async fn serve(
    listener: TcpListener,
    service: s3s::service::S3Service,
    shared: Arc<Shared>,
    tls: Tls,
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
                    handle(service.clone(), shared.clone(), req)
                });
                #[cfg(feature = "testing")]
                let (stream, handler) = conn_faults::wrap(stream, handler);
                let tls = tls.clone();
                connections.spawn(async move {
                    let http = hyper::server::conn::http1::Builder::new();
                    #[cfg(feature = "testing")]
                    if let Some(tls) = tls {
                        // A client that refuses the certificate ends the handshake: no request.
                        if let Ok(stream) = tls.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(stream), handler).await;
                        }
                        return;
                    }
                    let _ = tls;
                    let _ = http.serve_connection(TokioIo::new(stream), handler).await;
                });
            }
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// One request: the latency, the region check, then the annotation operations
/// (`annotations.rs`) or s3s.
async fn handle(
    service: s3s::service::S3Service,
    shared: Arc<Shared>,
    req: http::Request<hyper::body::Incoming>,
) -> Result<s3s::HttpResponse, s3s::HttpError> {
    let arrived = std::time::Instant::now();
    let _in_flight = shared.handle.counters.in_flight();
    let latency = shared.latency.next();
    if !latency.is_zero() {
        shared.delays.sleep(latency).await;
    }
    // Routing comes first in S3 too: a request signed for another region gets no further. s3s
    // has not named the operation yet, so these are counted by HTTP method.
    if let Some(region) = &shared.handle.region {
        if let Some(res) = super::region::misdirected(&req, region) {
            let counters = &shared.handle.counters;
            counters.fault(req.method().as_str(), "WrongRegion");
            return Ok(res);
        }
    }
    // s3s cannot route the annotation operations: they are answered in front of it.
    let req = match super::annotations::serve(&shared.handle, req).await {
        Ok(res) => {
            shared
                .handle
                .counters
                .served(arrived.elapsed().saturating_sub(latency));
            return Ok(res);
        }
        Err(req) => req,
    };
    let res = hyper::service::Service::call(&service, req).await?;
    let counters = &shared.handle.counters;
    counters.served(arrived.elapsed().saturating_sub(latency));
    Ok(res)
}
