//! Probes for process supervisors and load balancers: `/healthz` says the
//! process answers (liveness), `/readyz` that the store answers too, and
//! Redis when the replay counters live there (readiness: take the node out
//! of rotation while they do not).

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
    if let Err(e) = s.store().ping().await {
        tracing::warn!(error = %e, "readiness: store ping failed");
        return plain(StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n");
    }
    let counters = s.token_uses();
    if counters.backend() != "database"
        && let Err(e) = counters.ping().await
    {
        tracing::warn!(error = %e, "readiness: replay counter ping failed");
        return plain(StatusCode::SERVICE_UNAVAILABLE, "redis unavailable\n");
    }
    plain(StatusCode::OK, "ready\n")
}
