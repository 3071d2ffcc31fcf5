//! Connection-level faults: what only the HTTP connection can do to a request that met an
//! injected fault (`inject.rs`) or damage (`damage.rs`), namely reset the connection, send the
//! error with a 200, or cut, frame and pace a body.
//!
//! s3s decides the operation inside its service, and its access hook can only answer with an
//! S3 error. So the hook records a connection-level fault in a [`FaultSlot`] carried by the
//! request's extensions, and this layer acts on it once s3s returns: for a reset it fails the
//! service call, which makes hyper drop the connection without writing a response, and the
//! socket is closed with a zero linger so the client gets a real TCP RST (not a tidy FIN). A
//! damaged body replaces the one s3s serialized (see [`reshape`]).

use std::collections::VecDeque;
use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::task::AtomicWaker;
use hyper::body::{Frame, Incoming};
use hyper::service::Service;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::damage::Framing;
use super::faults::Fault;

/// How many bytes a trickled body sends at a time.
const TRICKLE_CHUNK: usize = 16;

/// Carries a fault decided in the s3s access hook (which knows the operation) out to the HTTP
/// connection (which alone can reset it, rewrite the status or reshape the body).
/// [`FaultingService`] puts one in each request's extensions; the hook fills it.
#[derive(Clone, Debug, Default)]
pub struct FaultSlot(Arc<Mutex<Decided>>);

#[derive(Debug, Default)]
struct Decided {
    fault: Option<Fault>,
    body: BodyFault,
}

/// What the connection does to a response's body (a listing's, see `damage.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BodyFault {
    /// Cut after this many bytes, and framed so.
    cut: Option<(usize, Framing)>,
    /// Sent [`TRICKLE_CHUNK`] bytes at a time with this pause between them.
    trickle: Option<Duration>,
}

impl FaultSlot {
    pub fn set(&self, fault: Fault) {
        self.0.lock().fault = Some(fault);
    }

    pub fn take(&self) -> Option<Fault> {
        self.0.lock().fault.take()
    }

    /// Cuts the response body after `at` bytes, framed as `framing` says.
    pub fn cut_body(&self, at: usize, framing: Framing) {
        self.0.lock().body.cut = Some((at, framing));
    }

    /// Sends the response body a few bytes at a time, `pause` apart.
    pub fn trickle_body(&self, pause: Duration) {
        self.0.lock().body.trickle = Some(pause);
    }

    fn take_body(&self) -> BodyFault {
        std::mem::take(&mut self.0.lock().body)
    }
}

/// A connection's socket and request service, wrapped so that its requests' connection-level
/// faults take effect.
pub fn wrap<S>(stream: TcpStream, service: S) -> (ResettableIo, FaultingService<S>) {
    let wire = Arc::new(Wire::default());
    let io = ResettableIo {
        stream,
        wire: wire.clone(),
    };
    (io, FaultingService { service, wire })
}

/// What a connection's request service tells its socket, and the socket tells bodies.
#[derive(Debug, Default)]
struct Wire {
    /// Close with a zero linger (an RST) when dropped.
    reset: AtomicBool,
    /// Write the status line of the next response hyper sends as HTTP/1.0 as HTTP/1.1 (see
    /// [`reshape`]).
    http11: AtomicBool,
    /// Flushes of the socket so far. hyper flushes only once it has written everything it
    /// buffered, so a flush after a body handed over its last bytes means they are sent.
    flushes: AtomicU64,
    /// The body waiting for the next flush.
    flushed: AtomicWaker,
}

/// A request service that gives each request a [`FaultSlot`] and carries out what the access
/// hook put in it.
pub struct FaultingService<S> {
    service: S,
    /// Shared with the connection's [`ResettableIo`].
    wire: Arc<Wire>,
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
        let wire = self.wire.clone();
        Box::pin(async move {
            let mut res = answer.await?;
            match slot.take() {
                Some(Fault::Reset | Fault::ResetAfter) => {
                    wire.reset.store(true, Ordering::Relaxed);
                    return Err(s3s::HttpError::new("lab: injected connection reset".into()));
                }
                // The body is already the <Error> document; S3 sends it with 200.
                Some(Fault::CopyErrorBody) => *res.status_mut() = http::StatusCode::OK,
                _ => {}
            }
            let body = slot.take_body();
            if body != BodyFault::default() {
                reshape(&mut res, body, &wire);
            }
            Ok(res)
        })
    }
}

/// Replaces the body s3s serialized with one cut, framed and paced as `fault` says.
///
/// hyper 1 frames every HTTP/1.1 response body of unknown length as chunked, and writes one
/// delimited by the connection's close only in an HTTP/1.0 response. So a body framed
/// [`Framing::UntilClose`] goes out as an HTTP/1.0 response without Content-Length, whose
/// status line the socket writes as HTTP/1.1 (which allows such a body in a response too).
fn reshape(res: &mut s3s::HttpResponse, fault: BodyFault, wire: &Arc<Wire>) {
    // s3s serializes an XML answer (all a listing has) into one buffer.
    let Some(full) = res.body_mut().take_bytes() else {
        return;
    };
    let (at, framing) = fault.cut.unwrap_or((full.len(), Framing::Honest));
    let sent = full.slice(..at.min(full.len()));
    let headers = res.headers_mut();
    match framing {
        Framing::Honest => {
            headers.insert(http::header::CONTENT_LENGTH, sent.len().into());
        }
        Framing::Close => {
            headers.insert(http::header::CONTENT_LENGTH, full.len().into());
        }
        Framing::UntilClose => {
            headers.remove(http::header::CONTENT_LENGTH);
            *res.version_mut() = http::Version::HTTP_10;
            wire.http11.store(true, Ordering::Relaxed);
        }
    }
    let pieces = match fault.trickle {
        Some(_) => (0..sent.len())
            .step_by(TRICKLE_CHUNK)
            .map(|i| sent.slice(i..sent.len().min(i + TRICKLE_CHUNK)))
            .collect(),
        None => VecDeque::from([sent]),
    };
    *res.body_mut() = s3s::Body::http_body(PacedBody {
        pieces,
        pause: fault.trickle.unwrap_or_default(),
        sleep: None,
        close: (framing == Framing::Close).then(|| wire.clone()),
        flushes_seen: None,
    });
}

/// A body sent in pieces with a pause between them, then ended by closing the connection if it
/// was cut short of its Content-Length.
struct PacedBody {
    pieces: VecDeque<Bytes>,
    pause: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Set when the connection closes after the last piece: by an error from the body, which
    /// makes hyper drop the connection once the pieces are on the wire.
    close: Option<Arc<Wire>>,
    /// The flushes the connection had made when the last piece was handed over.
    flushes_seen: Option<u64>,
}

impl hyper::body::Body for PacedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(sleep) = &mut this.sleep {
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        if let Some(piece) = this.pieces.pop_front() {
            if !this.pieces.is_empty() && !this.pause.is_zero() {
                this.sleep = Some(Box::pin(tokio::time::sleep(this.pause)));
            }
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        let Some(wire) = &this.close else {
            return Poll::Ready(None);
        };
        // An error now would drop what hyper still buffers: wait until it has been flushed.
        let seen = *this
            .flushes_seen
            .get_or_insert_with(|| wire.flushes.load(Ordering::Acquire));
        wire.flushed.register(cx.waker());
        if wire.flushes.load(Ordering::Acquire) == seen {
            return Poll::Pending;
        }
        let closed = std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "lab: injected close after a cut body",
        );
        Poll::Ready(Some(Err(closed)))
    }
}

/// The connection's socket; closed with a zero linger (an RST) when a reset was injected.
pub struct ResettableIo {
    stream: TcpStream,
    wire: Arc<Wire>,
}

impl ResettableIo {
    /// The first bytes of a write with an HTTP/1.0 status line made HTTP/1.1, if the response
    /// it starts needs that (see [`reshape`]).
    fn http11_head(&self, first: &[u8]) -> Option<Vec<u8>> {
        if !self.wire.http11.load(Ordering::Relaxed) || !first.starts_with(b"HTTP/1.0 ") {
            return None;
        }
        let mut head = first.to_vec();
        head[7] = b'1';
        Some(head)
    }
}

impl Drop for ResettableIo {
    fn drop(&mut self) {
        if self.wire.reset.load(Ordering::Relaxed) {
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
        if self.wire.http11.load(Ordering::Relaxed) {
            return self.poll_write_vectored(cx, &[IoSlice::new(buf)]);
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let Some(head) = bufs.first().and_then(|first| self.http11_head(first)) else {
            return Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        };
        let mut patched = bufs.to_vec();
        patched[0] = IoSlice::new(&head);
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, &patched);
        // Done once the version is out (a socket takes far more than 8 bytes of a first write).
        if matches!(written, Poll::Ready(Ok(n)) if n >= 8) {
            self.wire.http11.store(false, Ordering::Relaxed);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let flushed = Pin::new(&mut self.stream).poll_flush(cx);
        if flushed.is_ready() {
            self.wire.flushes.fetch_add(1, Ordering::Release);
            self.wire.flushed.wake();
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
