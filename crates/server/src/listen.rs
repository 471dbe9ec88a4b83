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
//! Shutdown: the listeners stop accepting, each open connection finishes
//! the request in flight and closes (hyper's `graceful_shutdown`), and
//! [`serve_listeners`] returns once all have.

use crate::limits::HttpLimits;
use crate::tls::Tls;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::STRICT_TRANSPORT_SECURITY;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
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
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a sender; all dropped = all connections done.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let mut loops = Vec::new();
    for l in listeners {
        loops.push(tokio::spawn(accept_loop(
            l,
            router.clone(),
            limits,
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
            drop(open);
        });
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
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if tls {
            req.extensions_mut().insert(Tls);
        }
        let router = router.clone();
        async move {
            let mut res = router.oneshot(req).await?;
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
