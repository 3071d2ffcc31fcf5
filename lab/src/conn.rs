//! The accept loop and the per-connection HTTP service around s3s: latency, the answer to a
//! request signed for another region (`region.rs`), and the faults that only the connection can
//! produce (a reset, a 200 status on an error body).
//!
//! s3s decides the operation inside its service, and its access hook can only answer with an
//! S3 error. So the hook records a connection-level fault in a [`FaultSlot`] carried by the
//! request's extensions, and this layer acts on it once s3s returns: for a reset it fails the
//! service call, which makes hyper drop the connection without writing a response, and the
//! socket is closed with a zero linger so the client gets a real TCP RST (not a tidy FIN).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::delay::Delays;
use super::faults::{Fault, FaultSlot};
use super::handle::LabHandle;
use super::latency::Latency;

/// State shared by the `Lab` and the server tasks.
pub(super) struct Shared {
    pub handle: LabHandle,
    pub latency: Latency,
    pub delays: Delays,
}

/// The accept loop: one task per connection (HTTP/1.1 keep-alive), all aborted on stop.
pub(super) async fn serve(
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
                let io = LabIo { stream, reset: Arc::new(AtomicBool::new(false)) };
                let reset = io.reset.clone();
                let service = service.clone();
                let shared = shared.clone();
                let handler = hyper::service::service_fn(move |req| {
                    handle(service.clone(), shared.clone(), reset.clone(), req)
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), handler)
                        .await;
                });
            }
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// One request: the latency, the region check, s3s, then any connection-level fault the access
/// hook decided.
async fn handle(
    service: s3s::service::S3Service,
    shared: Arc<Shared>,
    reset: Arc<AtomicBool>,
    mut req: http::Request<hyper::body::Incoming>,
) -> Result<s3s::HttpResponse, s3s::HttpError> {
    let arrived = std::time::Instant::now();
    let _in_flight = shared.handle.counters.in_flight();
    let slot = FaultSlot::default();
    req.extensions_mut().insert(slot.clone());
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
    let mut res = hyper::service::Service::call(&service, req).await?;
    let counters = &shared.handle.counters;
    counters.served(arrived.elapsed().saturating_sub(latency));
    match slot.take() {
        Some(Fault::Reset | Fault::ResetAfter) => {
            reset.store(true, Ordering::Relaxed);
            Err(s3s::HttpError::new("lab: injected connection reset".into()))
        }
        // The body is already the <Error> document; S3 sends it with 200.
        Some(Fault::CopyErrorBody) => {
            *res.status_mut() = http::StatusCode::OK;
            Ok(res)
        }
        _ => Ok(res),
    }
}

/// The connection's socket; closed with a zero linger (an RST) when a reset was injected.
struct LabIo {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for LabIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for LabIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LabIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
