//! Connection-level faults: what only the HTTP connection can do to a request that met an
//! injected fault (`inject.rs`), namely reset the connection or send the error with a 200.
//!
//! s3s decides the operation inside its service, and its access hook can only answer with an
//! S3 error. So the hook records a connection-level fault in a [`FaultSlot`] carried by the
//! request's extensions, and this layer acts on it once s3s returns: for a reset it fails the
//! service call, which makes hyper drop the connection without writing a response, and the
//! socket is closed with a zero linger so the client gets a real TCP RST (not a tidy FIN).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::Incoming;
use hyper::service::Service;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::faults::Fault;

/// Carries a fault decided in the s3s access hook (which knows the operation) out to the HTTP
/// connection (which alone can reset it or rewrite the status). [`FaultingService`] puts one in
/// each request's extensions; the hook fills it.
#[derive(Clone, Debug, Default)]
pub struct FaultSlot(Arc<Mutex<Option<Fault>>>);

impl FaultSlot {
    pub fn set(&self, fault: Fault) {
        *self.0.lock() = Some(fault);
    }

    pub fn take(&self) -> Option<Fault> {
        self.0.lock().take()
    }
}

/// A connection's socket and request service, wrapped so that its requests' connection-level
/// faults take effect.
pub fn wrap<S>(stream: TcpStream, service: S) -> (ResettableIo, FaultingService<S>) {
    let reset = Arc::new(AtomicBool::new(false));
    let io = ResettableIo {
        stream,
        reset: reset.clone(),
    };
    (io, FaultingService { service, reset })
}

/// A request service that gives each request a [`FaultSlot`] and carries out what the access
/// hook put in it.
pub struct FaultingService<S> {
    service: S,
    /// Shared with the connection's [`ResettableIo`].
    reset: Arc<AtomicBool>,
}

type Answer = Result<s3s::HttpResponse, s3s::HttpError>;

impl<S> Service<http::Request<Incoming>> for FaultingService<S>
where
    S: Service<http::Request<Incoming>, Response = s3s::HttpResponse, Error = s3s::HttpError>,
    S::Future: Send + 'static,
{
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn call(&self, mut req: http::Request<Incoming>) -> Self::Future {
        let slot = FaultSlot::default();
        req.extensions_mut().insert(slot.clone());
        let answer = self.service.call(req);
        let reset = self.reset.clone();
        Box::pin(async move {
            let mut res = answer.await?;
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
        })
    }
}

/// The connection's socket; closed with a zero linger (an RST) when a reset was injected.
pub struct ResettableIo {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableIo {
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
