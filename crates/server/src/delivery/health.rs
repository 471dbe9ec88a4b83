//! Probes for process supervisors and load balancers: `/healthz` says the
//! process answers (liveness), `/readyz` that the store answers too, and
//! Redis when the replay counters live there (readiness: take the node out
//! of rotation while they do not, and from the moment a graceful shutdown
//! begins, so a load balancer drains the node before its listener
//! closes). A server running the demo (anyone on loopback, or with
//! `--demo-public` anyone, can get demo tokens) answers `ready` then
//! `demo: on`, so a production health check can catch it. A database or Redis that does not answer within
//! [`READY_TIMEOUT`] counts as down: a load balancer's probe must not hang
//! on a stuck connection pool.

use crate::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut res = (status, text).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n")
}

/// How long `/readyz` waits for the database.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

async fn readyz(State(s): State<AppState>) -> Response {
    if s.is_draining() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "draining\n");
    }
    match tokio::time::timeout(READY_TIMEOUT, s.store().ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: store ping failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n");
        }
        Err(_) => {
            tracing::warn!("readiness: store ping timed out");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n");
        }
    }
    let counters = s.token_uses();
    if counters.backend() != "database" {
        match tokio::time::timeout(READY_TIMEOUT, counters.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: replay counter ping failed");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "redis unavailable\n");
            }
            Err(_) => {
                tracing::warn!("readiness: replay counter ping timed out");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "redis unavailable\n");
            }
        }
    }
    if s.demo_on() {
        return plain(StatusCode::OK, "ready\ndemo: on\n");
    }
    plain(StatusCode::OK, "ready\n")
}
