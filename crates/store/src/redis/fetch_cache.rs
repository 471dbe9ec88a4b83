//! OpenID Connect discovery documents and key sets cached in Redis, so N
//! nodes fetch them from the identity provider about once per
//! [`DEFAULT_DOCUMENT_TTL`] instead of N times.
//!
//! A decorator of [`HttpFetch`]: `get` answers from Redis when it holds the
//! URL's body, else fetches through the wrapped client and stores the body
//! (2xx bodies only; failures are never cached) with the time to live.
//! `get_fresh`, which `keys::token::OidcKeySource` uses after a token
//! names an unknown `kid` (the provider rolled its keys over), skips the
//! cached copy, fetches from the provider and replaces the cached copy, so
//! the other nodes see the new key set too.
//!
//! The cache is an optimisation, not a source of truth: when Redis fails,
//! documents are fetched directly (a warning is logged) and tokens are
//! still checked.

use super::Redis;
use async_trait::async_trait;
use keys::token::{FetchError, HttpFetch};
use std::sync::Arc;
use std::time::Duration;

/// How long a fetched document is shared.
pub const DEFAULT_DOCUMENT_TTL: Duration = Duration::from_secs(300);

const KEY_PREFIX: &str = "castguard:http-cache:";

/// [`HttpFetch`] with bodies shared through Redis.
pub struct RedisFetchCache {
    redis: Redis,
    inner: Arc<dyn HttpFetch>,
    ttl: Duration,
}

impl RedisFetchCache {
    pub fn new(redis: Redis, inner: Arc<dyn HttpFetch>, ttl: Duration) -> Self {
        RedisFetchCache {
            redis,
            inner,
            ttl: ttl.max(Duration::from_millis(1)),
        }
    }

    /// The Redis key of a URL's cached body.
    pub fn key(url: &str) -> String {
        format!("{KEY_PREFIX}{url}")
    }

    async fn cached(&self, url: &str) -> Option<Vec<u8>> {
        let mut conn = match self.redis.conn().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "OpenID Connect cache unavailable; fetching directly");
                return None;
            }
        };
        let got: Result<Option<Vec<u8>>, _> = ::redis::cmd("GET")
            .arg(Self::key(url))
            .query_async(&mut conn)
            .await;
        got.unwrap_or_else(|e| {
            tracing::warn!(error = %self.redis.error(&e), "OpenID Connect cache read failed; fetching directly");
            None
        })
    }

    async fn remember(&self, url: &str, body: &[u8]) {
        let Ok(mut conn) = self.redis.conn().await else {
            return;
        };
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let set: Result<(), _> = ::redis::cmd("SET")
            .arg(Self::key(url))
            .arg(body)
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await;
        if let Err(e) = set {
            tracing::warn!(error = %self.redis.error(&e), "OpenID Connect cache write failed");
        }
    }
}

#[async_trait]
impl HttpFetch for RedisFetchCache {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        if let Some(body) = self.cached(url).await {
            return Ok(body);
        }
        let body = self.inner.get(url).await?;
        self.remember(url, &body).await;
        Ok(body)
    }

    async fn get_fresh(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let body = self.inner.get_fresh(url).await?;
        self.remember(url, &body).await;
        Ok(body)
    }

    fn allows_jwks_host(&self, host: &str) -> bool {
        self.inner.allows_jwks_host(host)
    }
}
