//! What a request must pass before key delivery (`/keys/v1/...`) or the
//! token service's `POST /sts/token` looks at it (issue 8, items 2–3):
//!
//! 1. HTTPS, when `require_https` is on: a key sent over plain HTTP can be
//!    read by anyone on the path, so such requests get 403
//!    `https_required` before any token is read. "HTTPS" is this server's
//!    own TLS, or a trusted proxy's `X-Forwarded-Proto` ([`crate::forwarded`]).
//! 2. The client address's rate limit, then the bearer token's (429
//!    `rate_limited` with `Retry-After`, [`crate::limits`]). The address
//!    limit comes first so that a flood of made-up tokens from one address
//!    is stopped without filling the token table.
//!
//! Refusals go through [`DeliveryError`]: JSON reason code,
//! `Cache-Control: no-store`, and the CORS headers of the delivery routes
//! (this layer sits inside them), so a browser player can read why.

use super::error::DeliveryError;
use super::keys::ViewerToken;
use crate::AppState;
use crate::forwarded::{ForwardedTrust, RequestOrigin};
use crate::limits::{self, Rate, RateLimiter};
use crate::metrics::Limit;
use axum::extract::{FromRequestParts as _, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use std::net::IpAddr;
use std::time::Instant;

/// Settings of the guard and of client address resolution.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Refuse key delivery and `/sts/token` over plain HTTP.
    pub require_https: bool,
    /// Which forwarding headers to believe.
    pub forwarded: ForwardedTrust,
    /// Per client address (IPv6: per /64); `None` = unlimited.
    pub per_ip: Option<Rate>,
    /// Per bearer token; `None` = unlimited.
    pub per_token: Option<Rate>,
    /// Most buckets of each limiter (0 = [`limits::DEFAULT_CAPACITY`]).
    pub capacity: usize,
    /// Failed admin authentications per client address (wrong bearer
    /// tokens on `/api/v1` and `/sts/token`); once spent, the address gets
    /// 429 before its token is even compared. `None` = unlimited.
    pub admin_auth_failures: Option<Rate>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            require_https: false,
            forwarded: ForwardedTrust::default(),
            per_ip: None,
            per_token: None,
            capacity: 0,
            admin_auth_failures: Some(limits::DEFAULT_ADMIN_AUTH_FAILURES),
        }
    }
}

/// The guard's state: the bucket tables.
pub(crate) struct Guard {
    pub(crate) config: GuardConfig,
    per_ip: Option<RateLimiter<IpAddr>>,
    per_token: Option<RateLimiter<[u8; 16]>>,
    /// Failed admin authentications by client address (unspecified when
    /// the request has none, e.g. `oneshot` tests).
    pub(crate) admin_failures: Option<RateLimiter<IpAddr>>,
}

impl Guard {
    pub(crate) fn new(config: GuardConfig) -> Self {
        let capacity = match config.capacity {
            0 => limits::DEFAULT_CAPACITY,
            n => n,
        };
        Guard {
            per_ip: config.per_ip.map(|r| RateLimiter::new(r, capacity)),
            per_token: config.per_token.map(|r| RateLimiter::new(r, capacity)),
            admin_failures: config
                .admin_auth_failures
                .map(|r| RateLimiter::new(r, capacity)),
            config,
        }
    }
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub(crate) async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let g = &s.delivery().guard;
    let origin = req.extensions().get::<RequestOrigin>().copied();
    if g.config.require_https && !origin.is_some_and(|o| o.https) {
        return DeliveryError::HttpsRequired.into_response();
    }
    let now = Instant::now();
    if let (Some(l), Some(ip)) = (&g.per_ip, origin.and_then(|o| o.client))
        && let Err(wait) = l.check(&limits::address_key(ip), now)
    {
        tracing::debug!(client = %ip, "rate limited (address)");
        s.metrics().rate_limited(Limit::Address);
        return DeliveryError::RateLimited {
            retry_after: limits::retry_after_secs(wait),
        }
        .into_response();
    }
    let (mut parts, body) = req.into_parts();
    if let Some(l) = &g.per_token {
        let Ok(ViewerToken(token)) = ViewerToken::from_request_parts(&mut parts, &()).await;
        if let Some(t) = token.filter(|t| !t.is_empty())
            && let Err(wait) = l.check(&limits::token_key(&t), now)
        {
            tracing::debug!("rate limited (token)");
            s.metrics().rate_limited(Limit::Token);
            return DeliveryError::RateLimited {
                retry_after: limits::retry_after_secs(wait),
            }
            .into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}
