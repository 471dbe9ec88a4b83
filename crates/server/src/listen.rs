//! Accepting connections: plain HTTP and HTTPS listeners in front of one
//! [`axum::Router`], with request-head limits and graceful shutdown.
//!
//! Our own accept loop (on hyper's HTTP/1.1 and HTTP/2 connection
//! builders) instead of `axum::serve`, because the latter cannot terminate
//! TLS nor set the head limits: at most [`HttpLimits::max_header_bytes`]
//! of request line and headers and [`HttpLimits::max_headers`] fields
//! (431, RFC 6585 §5), a deadline for the head (slow clients) and for the
//! TLS handshake. Every request gets the peer address as [`ConnectInfo`]
//! and, over TLS, the [`Tls`] marker; a failed handshake or a broken
//! connection is logged at debug level without any content and ends only
//! that connection.
//!
//! HTTP/2 (RFC 9113), for CDNs and reverse proxies that speak it: over TLS
//! when ALPN (RFC 7301) picks `h2`, on plain HTTP with prior knowledge
//! (§3.3: the connection starts with the preface; anything else is
//! HTTP/1.1, read on from the bytes already seen). The same limits hold:
//! the header list is capped at `max_header_bytes` (`SETTINGS_MAX_HEADER_LIST_SIZE`,
//! 431 beyond) and at `max_headers` fields (431), request bodies have the
//! same deadlines, and a connection counts once against the caps however
//! many streams it carries, at most [`HttpLimits::h2_max_concurrent_streams`]
//! at a time. HTTP/1.1 closes a connection that sends no request head for
//! `header_read_timeout`; HTTP/2 closes one with no stream open for as
//! long (GOAWAY), and pings every [`HttpLimits::h2_keep_alive`] to drop
//! peers that went away. hyper's defaults bound reset floods (RFC 9113
//! §10.5, "rapid reset": 20 pending resets, 1024 locally caused).
//!
//! Request bodies ([`TimedBody`]): once a handler reads a body, the next
//! bytes must come within [`HttpLimits::body_timeout`], and after that
//! grace period the average rate must stay above
//! [`HttpLimits::body_min_rate`]; else the request answers 408 (and an
//! HTTP/1.1 connection closes). A client declaring `Content-Length: 1000`
//! and sending nothing, or trickling a byte a second, no longer holds a
//! connection and a handler open. Open connections are capped per client
//! address and in all ([`crate::limits::ConnectionLimiter`]): one beyond a
//! cap is answered at once with an HTTP/1.1 `503` and `Retry-After`, over
//! TLS after the handshake, then closed; a client is never left guessing
//! why its connection died (a flood beyond the answers in flight is still
//! closed unanswered).
//!
//! Shutdown: the listeners stop accepting, each open connection finishes
//! the request in flight and closes (hyper's `graceful_shutdown`: GOAWAY on
//! HTTP/2), and [`serve_listeners`] returns once all have.

use crate::limits::{ConnectionLimiter, ConnectionRefusal, HttpLimits};
use crate::metrics::{Limit, Metrics};
use crate::tls::Tls;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::STRICT_TRANSPORT_SECURITY;
use axum::http::{HeaderValue, StatusCode, header};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// One listening socket, plain or TLS.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptors>,
}

/// The acceptor of a TLS listener, and the one that answers connections
/// over a cap: the same certificate, ALPN `http/1.1` only, since the
/// refusal is an HTTP/1.1 response.
#[derive(Clone)]
struct TlsAcceptors {
    serve: tokio_rustls::TlsAcceptor,
    refuse: tokio_rustls::TlsAcceptor,
}

impl Listener {
    pub fn plain(tcp: TcpListener) -> Self {
        Listener { tcp, tls: None }
    }

    pub fn tls(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        let mut refuse = (*config).clone();
        refuse.alpn_protocols = vec![b"http/1.1".to_vec()];
        Listener {
            tcp,
            tls: Some(TlsAcceptors {
                serve: tokio_rustls::TlsAcceptor::from(config),
                refuse: tokio_rustls::TlsAcceptor::from(Arc::new(refuse)),
            }),
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> std::io::Result<String> {
        let scheme = if self.is_tls() { "https" } else { "http" };
        Ok(format!("{scheme}://{}", self.local_addr()?))
    }
}

/// Serves `router` on every listener until `shutdown` completes, then
/// lets the requests in flight finish.
pub async fn serve_listeners(
    listeners: Vec<Listener>,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_listeners_metered(listeners, router, limits, None, shutdown).await
}

/// As [`serve_listeners`]; connections refused by a cap are counted in
/// `metrics` (`castguard_rate_limited_total`).
pub async fn serve_listeners_metered(
    listeners: Vec<Listener>,
    router: Router,
    limits: HttpLimits,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a sender; all dropped = all connections done.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let caps = ConnectionLimiter::new(&limits);
    let refusals = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    let mut loops = Vec::new();
    for l in listeners {
        loops.push(tokio::spawn(accept_loop(
            l,
            router.clone(),
            limits,
            caps.clone(),
            metrics.clone(),
            refusals.clone(),
            stop_rx.clone(),
            open_tx.clone(),
        )));
    }
    drop(open_tx);
    shutdown.await;
    let _ = stop_tx.send(true);
    for l in loops {
        let _ = l.await;
    }
    let _ = open_rx.recv().await;
    Ok(())
}

async fn accept_loop(
    listener: Listener,
    router: Router,
    limits: HttpLimits,
    caps: Arc<ConnectionLimiter>,
    metrics: Option<Arc<Metrics>>,
    refusals: Arc<tokio::sync::Semaphore>,
    mut stop: watch::Receiver<bool>,
    open: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.tcp.accept() => r,
            _ = stopped(&mut stop) => return,
        };
        let (tcp, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off, as
                // axum::serve does, rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let permit = match caps.acquire(peer.ip()) {
            Ok(p) => p,
            Err(why) => {
                if let Some(m) = &metrics {
                    m.rate_limited(match why {
                        ConnectionRefusal::PerAddress => Limit::ConnectionsPerAddress,
                        ConnectionRefusal::Total => Limit::ConnectionsTotal,
                    });
                }
                tracing::debug!(client = %peer, cap = ?why, "connection refused: too many open connections");
                // Past MAX_REFUSALS_IN_FLIGHT (a flood), closed unanswered.
                if let Ok(slot) = refusals.clone().try_acquire_owned() {
                    let tls = listener.tls.as_ref().map(|t| t.refuse.clone());
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(REFUSAL_TIMEOUT, refuse(tcp, tls)).await;
                        drop(slot);
                    });
                }
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let tls = listener.tls.as_ref().map(|t| t.serve.clone());
        let stop = stop.clone();
        let open = open.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    if let Some((protocol, io)) = sniff(tcp, peer, limits.header_read_timeout).await
                    {
                        connection(io, peer, false, protocol, router, limits, stop).await
                    }
                }
                Some(acceptor) => {
                    if let Some(stream) = handshake(acceptor, tcp, peer, limits).await {
                        let protocol = match stream.get_ref().1.alpn_protocol() {
                            Some(b"h2") => Protocol::Http2,
                            _ => Protocol::Http1,
                        };
                        connection(stream, peer, true, protocol, router, limits, stop).await
                    }
                }
            }
            drop(permit);
            drop(open);
        });
    }
}

/// Connections over a cap answered at the same time, at most; beyond (a
/// flood) they are closed unanswered rather than each costing a task and
/// a TLS handshake.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;
/// Time a refused connection gets, TLS handshake included.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);
/// The answer to a connection over a cap (RFC 9110 §15.6.4, §10.2.3).
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nRetry-After: 1\r\nContent-Length: 41\r\n\r\n{\"error\":{\"code\":\"too_many_connections\"}}";

/// A connection over a cap: `503` with `Retry-After` (after the TLS
/// handshake on a TLS listener), then closed. The client's request is
/// read and dropped until it closes too: closing with it unread would
/// reset the connection, and a reset can destroy the 503 before the client
/// reads it.
async fn refuse(tcp: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>) {
    match tls {
        None => answer_refusal(tcp).await,
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(tcp).await {
                answer_refusal(stream).await
            }
        }
    }
}

async fn answer_refusal<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    use tokio::io::AsyncWriteExt as _;
    if s.write_all(REFUSAL).await.is_err() || s.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 1024];
    while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// Resolves once shutdown has begun (at once if it already has).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    limits: HttpLimits,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(client = %peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(client = %peer, "TLS handshake timed out");
            None
        }
    }
}

/// The HTTP version of a connection: from ALPN over TLS, from its first
/// bytes on plain TCP ([`sniff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A plain connection's protocol: HTTP/2 with prior knowledge when it
/// starts with the preface, else HTTP/1.1. Reads only up to the first byte
/// that differs from the preface (one byte for any HTTP/1.1 request); the
/// bytes read are replayed to the protocol. `None` when the client sends
/// nothing within `timeout` or goes away.
async fn sniff(
    mut tcp: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
) -> Option<(Protocol, Prefixed<TcpStream>)> {
    let mut seen = [0u8; H2_PREFACE.len()];
    let read = async {
        let mut n = 0;
        loop {
            let got = tcp.read(&mut seen[n..]).await?;
            if got == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            n += got;
            if seen[..n] != H2_PREFACE[..n] {
                return Ok(Some((Protocol::Http1, n)));
            }
            if n == H2_PREFACE.len() {
                return Ok(Some((Protocol::Http2, n)));
            }
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(Some((protocol, n)))) => Some((
            protocol,
            Prefixed {
                seen,
                len: n,
                pos: 0,
                inner: tcp,
            },
        )),
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            tracing::debug!(client = %peer, error = %e, "connection ended before a request");
            None
        }
        Err(_) => {
            tracing::debug!(client = %peer, "no request within the header timeout");
            None
        }
    }
}

/// A TCP stream whose first bytes [`sniff`] already read: they are read
/// again first, then the stream.
struct Prefixed<I> {
    seen: [u8; H2_PREFACE.len()],
    len: usize,
    pos: usize,
    inner: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.len {
            let k = (this.len - this.pos).min(buf.remaining());
            buf.put_slice(&this.seen[this.pos..this.pos + k]);
            this.pos += k;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

async fn connection<I>(
    io: I,
    peer: SocketAddr,
    tls: bool,
    protocol: Protocol,
    router: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // HTTP/1.1 has hyper's header timer for idle connections; HTTP/2 has
    // none, so its open streams are counted here.
    let streams = (protocol == Protocol::Http2).then(|| Arc::new(Streams::default()));
    let counted = streams.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let open = counted.as_ref().map(Streams::open);
        let timed_out = Arc::new(AtomicBool::new(false));
        let too_many_headers = req.headers().len() > limits.max_headers;
        let mut req =
            req.map(|b| axum::body::Body::new(TimedBody::new(b, &limits, timed_out.clone())));
        req.extensions_mut().insert(ConnectInfo(peer));
        if tls {
            req.extensions_mut().insert(Tls);
        }
        let router = router.clone();
        async move {
            // HTTP/1.1 heads with more fields never get here (hyper
            // answers 431); HTTP/2 has no such count of its own.
            let mut res = if too_many_headers {
                status_only(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            } else {
                router.oneshot(req).await?
            };
            if timed_out.load(Ordering::Acquire) {
                tracing::debug!(client = %peer, "request body too slow: 408");
                res = body_timeout_response(protocol);
            }
            if tls {
                res.headers_mut()
                    .insert(STRICT_TRANSPORT_SECURITY, crate::tls::HSTS);
            }
            if let Some(open) = open {
                res = res.map(|body| {
                    axum::body::Body::new(StreamBody {
                        inner: body,
                        _open: open,
                    })
                });
            }
            Ok::<_, std::convert::Infallible>(res)
        }
    });
    let io = TokioIo::new(io);
    let result = match protocol {
        Protocol::Http1 => {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_header_size(limits.max_header_bytes);
            // hyper's own default is 100 on the stack; any other count costs a
            // heap allocation per request.
            if limits.max_headers != crate::limits::MAX_HEADERS {
                builder.max_headers(limits.max_headers);
            }
            let conn = builder.serve_connection(io, service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => r,
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            }
        }
        Protocol::Http2 => {
            let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            builder
                .timer(TokioTimer::new())
                .max_concurrent_streams(limits.h2_max_concurrent_streams)
                .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
                .keep_alive_interval(limits.h2_keep_alive)
                .keep_alive_timeout(limits.h2_keep_alive);
            let conn = builder.serve_connection(io, service);
            tokio::pin!(conn);
            let idle = async {
                match &streams {
                    Some(s) => s.idle_for(limits.header_read_timeout).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = conn.as_mut() => r,
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
                _ = idle => {
                    tracing::debug!(client = %peer, "HTTP/2 connection idle: closed");
                    // GOAWAY, then a ping that the client must answer
                    // before the connection ends; one that does not is cut.
                    conn.as_mut().graceful_shutdown();
                    tokio::time::timeout(limits.h2_keep_alive, conn).await.unwrap_or(Ok(()))
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "connection ended with an error");
    }
}

/// The streams open on one HTTP/2 connection, and since when none has
/// been: a request counts from its head until its response body is done or
/// dropped.
#[derive(Default)]
struct Streams {
    open: AtomicUsize,
    idle_since: Mutex<Option<Instant>>,
}

impl Streams {
    fn open(self: &Arc<Self>) -> OpenStream {
        self.open.fetch_add(1, Ordering::AcqRel);
        OpenStream(self.clone())
    }

    /// Resolves once no stream has been open for `timeout` (counted from
    /// the first call while none has been).
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let wait = {
                let mut since = self.idle_since.lock().unwrap_or_else(|p| p.into_inner());
                if self.open.load(Ordering::Acquire) > 0 {
                    timeout
                } else {
                    let deadline = *since.get_or_insert_with(Instant::now) + timeout;
                    match deadline.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => left,
                        _ => return,
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One open stream of [`Streams`].
struct OpenStream(Arc<Streams>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        let mut since = self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            *since = Some(Instant::now());
        }
    }
}

/// A response body that keeps its stream counted as open until it is done.
struct StreamBody {
    inner: axum::body::Body,
    _open: OpenStream,
}

impl hyper::body::Body for StreamBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn status_only(status: StatusCode) -> axum::response::Response {
    let mut res = axum::response::Response::new(axum::body::Body::empty());
    *res.status_mut() = status;
    res
}

/// 408 for a request whose body did not arrive in time; an HTTP/1.1
/// connection closes after it (RFC 9110 §15.5.9), an HTTP/2 stream ends
/// with it (connection-specific headers are not allowed there, RFC 9113
/// §8.2.2).
fn body_timeout_response(protocol: Protocol) -> axum::response::Response {
    let body = r#"{"error":{"code":"request_timeout","message":"the request body did not arrive in time"}}"#;
    let mut res = axum::response::Response::new(axum::body::Body::from(body));
    *res.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if protocol == Protocol::Http1 {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The body read too slowly (see [`TimedBody`]).
#[derive(Debug, thiserror::Error)]
#[error("request body timed out")]
pub struct BodyTimedOut;

/// A request body with a deadline: from the first read, the next bytes
/// must come within `body_timeout` of the last, and the bytes received
/// must stay ahead of `body_min_rate` once `body_timeout` has passed, i.e.
/// by `start + body_timeout + received / body_min_rate`. One timer holds
/// the earlier of the two deadlines and moves with every chunk. Sets
/// `timed_out` when it fires, so the connection can answer 408 whatever
/// the handler made of the error.
struct TimedBody {
    inner: Incoming,
    idle: Duration,
    min_rate: u64,
    started: Option<Instant>,
    received: u64,
    timer: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl TimedBody {
    fn new(inner: Incoming, limits: &HttpLimits, timed_out: Arc<AtomicBool>) -> Self {
        TimedBody {
            inner,
            idle: limits.body_timeout,
            min_rate: limits.body_min_rate,
            started: None,
            received: 0,
            timer: Box::pin(tokio::time::sleep(limits.body_timeout)),
            timed_out,
        }
    }

    fn deadline(&self, start: Instant, now: Instant) -> Instant {
        let idle = now + self.idle;
        if self.min_rate == 0 {
            return idle;
        }
        let ahead = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        idle.min(start + self.idle + ahead)
    }
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.timed_out.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        let start = match this.started {
            Some(s) => s,
            None => {
                let now = Instant::now();
                this.started = Some(now);
                let d = this.deadline(now, now);
                this.timer.as_mut().reset(d);
                now
            }
        };
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let d = this.deadline(start, Instant::now());
                    this.timer.as_mut().reset(d);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        match this.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.timed_out.store(true, Ordering::Release);
                Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    async fn start(limits: HttpLimits) -> SocketAddr {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let router = Router::new().route("/x", axum::routing::get(|| async { "ok" }));
        tokio::spawn(serve_listeners(
            vec![Listener::plain(tcp)],
            router,
            limits,
            std::future::pending(),
        ));
        addr
    }

    /// Everything until the server closes; panics after `within`.
    async fn read_to_close(s: &mut TcpStream, within: Duration) -> Vec<u8> {
        let mut all = Vec::new();
        tokio::time::timeout(within, s.read_to_end(&mut all))
            .await
            .expect("the server kept the connection open")
            .unwrap();
        all
    }

    #[test]
    fn refusal_is_well_formed() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{text}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }

    /// HTTP/1.1 still works on the plain port, even when the request's
    /// first byte comes alone (the sniffer replays what it read).
    #[tokio::test]
    async fn plain_http1_after_a_lone_first_byte() {
        let addr = start(HttpLimits::default()).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"G").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(b"ET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let reply = read_to_close(&mut s, Duration::from_secs(5)).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("ok"), "{reply}");
    }

    /// HTTP/2 with prior knowledge: the server's SETTINGS carry the stream
    /// and header-list caps; a connection that opens no stream is closed
    /// (GOAWAY) after the header timeout, as is one that sends nothing at
    /// all; neither holds its place forever.
    #[tokio::test]
    async fn h2_settings_and_idle_connections_closed() {
        let limits = HttpLimits {
            header_read_timeout: Duration::from_millis(800),
            h2_keep_alive: Duration::from_millis(500),
            ..HttpLimits::default()
        };
        let addr = start(limits).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(H2_PREFACE).await.unwrap();
        s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap(); // empty SETTINGS
        let started = std::time::Instant::now();
        let frames = read_to_close(&mut s, Duration::from_secs(5)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(700),
            "closed early"
        );
        let mut settings = std::collections::HashMap::new();
        let mut types = Vec::new();
        let mut rest = &frames[..];
        while rest.len() >= 9 {
            let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            let (kind, payload) = (rest[3], &rest[9..(9 + len).min(rest.len())]);
            types.push(kind);
            if kind == 4 {
                for e in payload.chunks_exact(6) {
                    settings.insert(
                        u16::from_be_bytes([e[0], e[1]]),
                        u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
                    );
                }
            }
            rest = &rest[(9 + len).min(rest.len())..];
        }
        assert_eq!(
            settings.get(&3),
            Some(&100),
            "SETTINGS_MAX_CONCURRENT_STREAMS: {settings:?}"
        );
        assert_eq!(
            settings.get(&6),
            Some(&(64 * 1024)),
            "SETTINGS_MAX_HEADER_LIST_SIZE: {settings:?}"
        );
        assert!(types.contains(&7), "no GOAWAY: frame types {types:?}");

        let mut silent = TcpStream::connect(addr).await.unwrap();
        assert!(
            read_to_close(&mut silent, Duration::from_secs(5))
                .await
                .is_empty()
        );
    }
}
