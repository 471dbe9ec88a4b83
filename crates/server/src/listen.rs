//! Accepting connections: plain HTTP and HTTPS listeners in front of one
//! [`axum::Router`], with request-head limits and graceful shutdown.
//!
//! Our own accept loop (on hyper's HTTP/1.1 connection builder) instead of
//! `axum::serve`, because the latter cannot terminate TLS nor set the head
//! limits: at most [`HttpLimits::max_header_bytes`] of request line and
//! headers and [`HttpLimits::max_headers`] fields (hyper answers 431,
//! RFC 6585 §5, and closes), a deadline for the head (slow clients) and
//! for the TLS handshake. Every request gets the peer address as
//! [`ConnectInfo`] and, over TLS, the [`Tls`] marker; a failed handshake
//! or a broken connection is logged at debug level without any content
//! and ends only that connection.
//!
//! Request bodies ([`TimedBody`]): once a handler reads a body, the next
//! bytes must come within [`HttpLimits::body_timeout`], and after that
//! grace period the average rate must stay above
//! [`HttpLimits::body_min_rate`]; else the request answers 408 and the
//! connection closes. A client declaring `Content-Length: 1000` and
//! sending nothing, or trickling a byte a second, no longer holds a
//! connection and a handler open. Open connections are capped per client
//! address and in all ([`crate::limits::ConnectionLimiter`]): one beyond a
//! cap is answered `503` (plain HTTP) or closed (TLS) at once.
//!
//! Shutdown: the listeners stop accepting, each open connection finishes
//! the request in flight and closes (hyper's `graceful_shutdown`), and
//! [`serve_listeners`] returns once all have.

use crate::limits::{ConnectionLimiter, ConnectionRefusal, HttpLimits};
use crate::metrics::{Limit, Metrics};
use crate::tls::Tls;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::STRICT_TRANSPORT_SECURITY;
use axum::http::{HeaderValue, StatusCode, header};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt as _;

/// One listening socket, plain or TLS.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Listener {
    pub fn plain(tcp: TcpListener) -> Self {
        Listener { tcp, tls: None }
    }

    pub fn tls(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        Listener {
            tcp,
            tls: Some(tokio_rustls::TlsAcceptor::from(config)),
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
    let mut loops = Vec::new();
    for l in listeners {
        loops.push(tokio::spawn(accept_loop(
            l,
            router.clone(),
            limits,
            caps.clone(),
            metrics.clone(),
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
                refuse(tcp, listener.tls.is_none(), peer, why);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let tls = listener.tls.clone();
        let stop = stop.clone();
        let open = open.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(TokioIo::new(tcp), peer, false, router, limits, stop).await,
                Some(acceptor) => {
                    let Some(stream) = handshake(acceptor, tcp, peer, limits).await else {
                        return;
                    };
                    connection(TokioIo::new(stream), peer, true, router, limits, stop).await
                }
            }
            drop(permit);
            drop(open);
        });
    }
}

/// A connection over a cap: a short `503` on plain HTTP (written only if
/// the socket takes it at once, never waited for), then closed.
fn refuse(tcp: TcpStream, plain: bool, peer: SocketAddr, why: ConnectionRefusal) {
    tracing::debug!(client = %peer, cap = ?why, "connection refused: too many open connections");
    if plain {
        let _ = tcp.try_write(
            b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\nRetry-After: 1\r\n\r\n",
        );
    }
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

async fn connection<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    tls: bool,
    router: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let timed_out = Arc::new(AtomicBool::new(false));
        let mut req = req.map(|b| {
            axum::body::Body::new(TimedBody::new(b, &limits, timed_out.clone()))
        });
        req.extensions_mut().insert(ConnectInfo(peer));
        if tls {
            req.extensions_mut().insert(Tls);
        }
        let router = router.clone();
        async move {
            let mut res = router.oneshot(req).await?;
            if timed_out.load(Ordering::Acquire) {
                tracing::debug!(client = %peer, "request body too slow: 408, connection closed");
                res = body_timeout_response();
            }
            if tls {
                res.headers_mut()
                    .insert(STRICT_TRANSPORT_SECURITY, crate::tls::HSTS);
            }
            Ok::<_, std::convert::Infallible>(res)
        }
    });
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
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "connection ended with an error");
    }
}

/// 408 for a request whose body did not arrive in time; the connection
/// closes after it (RFC 9110 §15.5.9).
fn body_timeout_response() -> axum::response::Response {
    let body = r#"{"error":{"code":"request_timeout","message":"the request body did not arrive in time"}}"#;
    let mut res = axum::response::Response::new(axum::body::Body::from(body));
    *res.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
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
