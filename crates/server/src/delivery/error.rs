//! Errors of the player-facing routes and their responses.
//!
//! Key delivery answers a refusal as 401 `{"error":{"code":"<reason>"}}`
//! with one of issue 4's reason codes and nothing else: no message, no
//! hint of which key or claim failed, since "a license server must never
//! send error text that leaks why a secret did not match" (STYLE.md). Every
//! key-delivery response, errors included, carries `Cache-Control:
//! no-store`. Internal failures (store down, policy unusable, OIDC keys or
//! the Redis replay counters unavailable) answer 500/503 with a generic
//! code, and a failing upstream license server 502 with our own code and
//! at most its status number; the detail goes to the
//! log only, and never holds key material (store and keys errors name
//! fields and ids, not values).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keys::token::Reason;
use serde_json::json;

/// A failed origin, key delivery or STS request.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Token refused: 401 with the reason code.
    #[error("refused: {0}")]
    Refused(Reason),
    /// Unknown locator, key, track or segment, or a path that names
    /// nothing (traversal attempts included).
    #[error("not found")]
    NotFound,
    /// A URL the origin understands but does not serve (a retired
    /// service's Smooth, HDS or TS format; a variant the locator's policy
    /// lacks): 404 with a stable `code` and a `reason` for the person
    /// reading it. The reason names formats and variants, never keys.
    #[error("not served: {code}: {reason}")]
    NotServed { code: &'static str, reason: String },
    /// A request the endpoint cannot parse; `code` is stable, `field` names
    /// the offending part.
    #[error("bad request: {field}: {code}")]
    BadRequest {
        code: &'static str,
        field: &'static str,
    },
    /// Byte range outside the resource: 416 with `Content-Range: bytes */len`.
    #[error("range not satisfiable (length {len})")]
    RangeNotSatisfiable { len: u64 },
    /// The upstream DRM license server failed, timed out or answered too
    /// much: 502 `upstream_failed` (detail logged).
    #[error("upstream license server: {0}")]
    Upstream(String),
    /// The upstream answered a status other than 2xx: 502 with
    /// `upstream_refused` (4xx) or `upstream_failed` (anything else) and
    /// the status as a number, never the upstream's body, headers or
    /// `Location`.
    #[error("upstream license server answered {status}")]
    UpstreamStatus { status: u16 },
    /// A token could not be checked now (OIDC keys unavailable): 503.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Key delivery over plain HTTP while HTTPS is required: 403.
    #[error("HTTPS required")]
    HttpsRequired,
    /// Too many requests from this client or with this token: 429 with
    /// `Retry-After` in seconds.
    #[error("rate limited (retry after {retry_after} s)")]
    RateLimited { retry_after: u64 },
    /// The request body exceeds the endpoint's limit: 413.
    #[error("request body too large")]
    BodyTooLarge,
    /// Anything else: 500, detail logged.
    #[error("internal: {0}")]
    Internal(String),
}

impl DeliveryError {
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        DeliveryError::Internal(detail.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            DeliveryError::Refused(_) => StatusCode::UNAUTHORIZED,
            DeliveryError::NotFound | DeliveryError::NotServed { .. } => StatusCode::NOT_FOUND,
            DeliveryError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            DeliveryError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            DeliveryError::Upstream(_) | DeliveryError::UpstreamStatus { .. } => {
                StatusCode::BAD_GATEWAY
            }
            DeliveryError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            DeliveryError::HttpsRequired => StatusCode::FORBIDDEN,
            DeliveryError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            DeliveryError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            DeliveryError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error.code` of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            DeliveryError::Refused(r) => r.as_str(),
            DeliveryError::NotFound => "not_found",
            DeliveryError::BadRequest { code, .. } | DeliveryError::NotServed { code, .. } => code,
            DeliveryError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            DeliveryError::Upstream(_) => "upstream_failed",
            DeliveryError::UpstreamStatus { status } if (400..500).contains(status) => {
                "upstream_refused"
            }
            DeliveryError::UpstreamStatus { .. } => "upstream_failed",
            DeliveryError::Unavailable(_) => "temporarily_unavailable",
            DeliveryError::HttpsRequired => "https_required",
            DeliveryError::RateLimited { .. } => "rate_limited",
            DeliveryError::BodyTooLarge => "body_too_large",
            DeliveryError::Internal(_) => "internal_error",
        }
    }
}

impl From<store::StoreError> for DeliveryError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound { .. } => DeliveryError::NotFound,
            e @ store::StoreError::Unavailable { .. } => DeliveryError::Unavailable(e.to_string()),
            other => DeliveryError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for DeliveryError {
    fn into_response(self) -> Response {
        match &self {
            DeliveryError::Upstream(d) | DeliveryError::Unavailable(d) => {
                tracing::warn!(detail = %d, "delivery request failed")
            }
            DeliveryError::Internal(d) => tracing::error!(detail = %d, "delivery request failed"),
            _ => {}
        }
        let body = match &self {
            DeliveryError::BadRequest { code, field } => {
                json!({"error": {"code": code, "field": field}})
            }
            DeliveryError::NotServed { code, reason } => {
                json!({"error": {"code": code, "reason": reason}})
            }
            DeliveryError::UpstreamStatus { status } => {
                json!({"error": {"code": self.code(), "upstreamStatus": status}})
            }
            other => json!({"error": {"code": other.code()}}),
        };
        let mut res = (self.status(), Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let DeliveryError::RangeNotSatisfiable { len } = self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}"))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
        if let DeliveryError::RateLimited { retry_after } = self {
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_body_is_only_the_code() {
        let res = DeliveryError::Refused(Reason::SignatureInvalid).into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let res =
            DeliveryError::Internal("store: key 1234 sealed blob corrupt".into()).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            DeliveryError::RangeNotSatisfiable { len: 9 }
                .into_response()
                .headers()[header::CONTENT_RANGE],
            "bytes */9"
        );
        let res = DeliveryError::RateLimited { retry_after: 2 }.into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            DeliveryError::HttpsRequired.into_response().status(),
            StatusCode::FORBIDDEN
        );
    }
}
