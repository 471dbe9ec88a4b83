//! Probes for process supervisors and load balancers: `/healthz` says the
//! process answers (liveness), `/readyz` that the store answers too
//! (readiness: take the node out of rotation while it does not, and from
//! the moment a graceful shutdown begins, so a load balancer drains the
//! node before its listener closes).

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

async fn readyz(State(s): State<AppState>) -> Response {
    if s.is_draining() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "draining\n");
    }
    match s.store().ping().await {
        Ok(()) => plain(StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store ping failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
        }
    }
}
