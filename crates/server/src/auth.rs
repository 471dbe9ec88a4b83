//! Admin authentication for `/api/v1`: `Authorization: Bearer <token>`.
//!
//! The token is compared in constant time (`subtle`) so response timing does
//! not reveal how many leading bytes of a guess were right; a missing header,
//! another scheme and a wrong token all get the same 401 (issue 3, item 5).
//! The token itself lives in [`AdminToken`], zeroed on drop and redacted in
//! `Debug`.
//!
//! Guessing is rate limited per client address
//! (`GuardConfig::admin_auth_failures`, default ten wrong tokens, then one
//! every six seconds): each wrong bearer token takes a token from the
//! address's bucket, and an address with an empty bucket gets 429 with
//! `Retry-After` before its token is compared, right or wrong, so that
//! guesses cannot continue at full speed and be told apart by the answer.
//! A request without a bearer token is not a guess and is not counted.
//! The metrics token (`GET /metrics` on the public port) is checked the
//! same way, by [`check_bearer`], and shares the failure limit.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header::{self, AUTHORIZATION};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Shortest admin token accepted from configuration.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// The admin bearer token (and the metrics token, under the same rules).
#[derive(Clone)]
pub struct AdminToken(Zeroizing<String>);

impl AdminToken {
    /// A configured token; refused when shorter than [`MIN_ADMIN_TOKEN_LEN`]
    /// or not printable ASCII (it must fit in an HTTP header).
    pub fn new(token: String) -> Result<Self, &'static str> {
        let token = Zeroizing::new(token);
        if token.len() < MIN_ADMIN_TOKEN_LEN {
            return Err("the token must be at least 16 characters");
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the token must be printable ASCII without spaces");
        }
        Ok(AdminToken(token))
    }

    /// A fresh random token: 32 bytes from the OS CSPRNG, base64url.
    pub fn generate() -> Result<Self, getrandom::Error> {
        use base64::Engine as _;
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut())?;
        Ok(AdminToken(Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()),
        )))
    }

    /// The token itself: to print it once at first start or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented token.
    pub fn matches(&self, presented: &[u8]) -> bool {
        // `ct_eq` on slices of different lengths returns false at once; the
        // length of the token is not a secret worth hiding.
        bool::from(self.0.as_bytes().ct_eq(presented))
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Proof that the request carried the admin token. Take it as the first
/// argument of every `/api/v1` handler.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match check_bearer(parts, state, &state.inner.admin_token) {
            Ok(()) => Ok(Admin),
            Err(BearerRefusal::Unauthorized) => Err(ApiError::Unauthorized),
            Err(BearerRefusal::RateLimited { retry_after }) => {
                Err(ApiError::RateLimited { retry_after })
            }
        }
    }
}

/// Why [`check_bearer`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BearerRefusal {
    /// No bearer token, or a wrong one.
    Unauthorized,
    /// Too many wrong tokens from this address.
    RateLimited { retry_after: u64 },
}

/// Checks that the request carries `expected` as its bearer token, within
/// the per-address limit on failed authentications (see the module docs);
/// a wrong token is counted there and in the metrics.
pub(crate) fn check_bearer(
    parts: &Parts,
    state: &AppState,
    expected: &AdminToken,
) -> Result<(), BearerRefusal> {
    let presented = parts
        .headers
        .get(AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            let (scheme, rest) = v.split_at_checked(7)?;
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
        })
        .ok_or(BearerRefusal::Unauthorized)?;
    check_secret(parts, state, expected, presented)
}

/// Checks a presented secret (a bearer token, or the `user:password` of
/// HTTP Basic) against `expected` in constant time, within the same
/// per-address failure limit as [`check_bearer`].
pub(crate) fn check_secret(
    parts: &Parts,
    state: &AppState,
    expected: &AdminToken,
    presented: &[u8],
) -> Result<(), BearerRefusal> {
    let failures = state.delivery().guard.admin_failures.as_ref();
    let client = parts
        .extensions
        .get::<crate::forwarded::RequestOrigin>()
        .and_then(|o| o.client)
        .map(crate::limits::address_key)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = std::time::Instant::now();
    if let Some(Err(wait)) = failures.map(|l| l.peek(&client, now)) {
        state
            .metrics()
            .rate_limited(crate::metrics::Limit::AdminAuth);
        return Err(BearerRefusal::RateLimited {
            retry_after: crate::limits::retry_after_secs(wait),
        });
    }
    if expected.matches(presented) {
        Ok(())
    } else {
        if let Some(l) = failures {
            let _ = l.check(&client, now);
        }
        state.metrics().admin_auth_failure();
        tracing::debug!(client = %client, "wrong bearer token");
        Err(BearerRefusal::Unauthorized)
    }
}

/// The response to a refused bearer token outside `/api/v1`: 401 with
/// `WWW-Authenticate: Bearer`, or 429 with `Retry-After`.
pub(crate) fn bearer_refusal(refusal: BearerRefusal, message: &'static str) -> Response {
    let (status, code) = match refusal {
        BearerRefusal::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
        BearerRefusal::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    let mut res = (status, axum::Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match refusal {
        BearerRefusal::Unauthorized => {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        BearerRefusal::RateLimited { retry_after } => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_refused_and_debug_redacted() {
        assert!(AdminToken::new("short".into()).is_err());
        assert!(AdminToken::new("has a space in it ok?".into()).is_err());
        let t = AdminToken::new("0123456789abcdef-token".into()).unwrap();
        assert!(t.matches(b"0123456789abcdef-token"));
        assert!(!t.matches(b"0123456789abcdef-tokeN"));
        assert!(!t.matches(b"0123456789abcdef-toke"));
        assert!(!format!("{t:?}").contains("0123"));
    }

    #[test]
    fn generated_tokens_differ() {
        let a = AdminToken::generate().unwrap();
        let b = AdminToken::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(AdminToken::new(a.expose().to_string()).is_ok());
    }
}
