//! Signing keys from an OpenID Connect provider: discovery document
//! (OpenID Connect Discovery 1.0 §4) → `jwks_uri` → JSON Web Key Set.
//!
//! Why our own: the `openidconnect` crate is a relying-party client that
//! pulls `rsa` 0.9 (RUSTSEC-2023-0071); we need only two GETs and a cache.
//!
//! Cache rules, so that a key rollover at the provider never breaks playback
//! and a flood of bad tokens never floods the provider:
//! - the key set is kept for [`OidcConfig::max_age`] (default 1 h), then
//!   fetched again on the next request (discovery document and key set, so a
//!   moved `jwks_uri` is followed);
//! - a token whose `kid` is not in the set (or, without `kid`, that no key
//!   verifies) triggers one refetch past any shared cache
//!   ([`HttpFetch::get_fresh`]), at most once per
//!   [`OidcConfig::min_refetch`] (default 10 s) whatever the number of
//!   requests (a flood of made-up `kid`s costs the provider one request
//!   per interval); such a token arriving inside the interval waits for the
//!   next allowed fetch instead of being refused, because a provider that
//!   rolls over publishes its new key and signs with it at once: a refusal
//!   there would break the first playbacks after every rollover. All
//!   requests waiting share that one fetch (single flight), so the wait is
//!   bounded by the rest of the interval plus one fetch (the fetcher's
//!   timeout);
//! - when a refresh fails the previous set stays in use (stale keys beat no
//!   keys: the provider's outage must not stop playback of valid tokens), and
//!   the failure is retried at most once per `min_refetch`;
//! - documents are limited to [`MAX_DOCUMENT_BYTES`]; `jwks_uri` must use
//!   https, or http only when the discovery document itself came over http
//!   (an operator's local test provider), never a downgrade, and must be
//!   on the discovery document's host unless the fetcher allows another
//!   ([`HttpFetch::allows_jwks_host`]): the fetch happens before any
//!   token signature is checked, so the document must not be able to
//!   point the server anywhere;
//! - [`ReqwestFetcher`] fetches within a [`FetchPolicy`]: https, or http
//!   to allowed hosts; never link-local or metadata addresses; no
//!   `Referer`.
//!
//! HTTP goes through [`HttpFetch`] so that tests and embedders can supply
//! their own client; [`ReqwestFetcher`] is the default (rustls, aws-lc-rs).

use super::jwks::{self, JwksError};
use super::key::VerificationKey;
use crate::http::{FetchPolicy, UrlRefusal};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Largest discovery document or key set read.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// One HTTP GET returning the body of a 2xx response.
#[async_trait::async_trait]
pub trait HttpFetch: Send + Sync {
    /// The body; a caching implementation may answer from its cache.
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError>;

    /// The body as the server has it now, past any cache: used after a
    /// token names an unknown `kid` (the provider rolled its keys over).
    async fn get_fresh(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.get(url).await
    }

    /// Whether a key set may be fetched from `host` when the discovery
    /// document that names it is on another host. Default: never.
    fn allows_jwks_host(&self, _host: &str) -> bool {
        false
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request failed: {0}")]
    Transport(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("response larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    /// The URL, a redirect or a resolved address is outside the
    /// [`FetchPolicy`]; nothing was sent there.
    #[error("not fetched: {0}")]
    NotAllowed(#[from] UrlRefusal),
}

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 3;

/// [`HttpFetch`] over `reqwest` with rustls: 3 s connect, 5 s total, at most
/// 3 redirects, bodies capped at [`MAX_DOCUMENT_BYTES`], every URL, hop and
/// resolved address within a [`FetchPolicy`], no `Referer`.
#[derive(Clone, Debug)]
pub struct ReqwestFetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl ReqwestFetcher {
    /// The strict policy: https only, no link-local or metadata address,
    /// key sets on the discovery document's host only.
    pub fn new() -> Result<Self, FetchError> {
        Self::with_policy(FetchPolicy::default())
    }

    pub fn with_policy(policy: FetchPolicy) -> Result<Self, FetchError> {
        let policy = Arc::new(policy);
        let client = policy
            .client_builder(MAX_REDIRECTS)
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("castguard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        Ok(ReqwestFetcher { client, policy })
    }
}

#[async_trait::async_trait]
impl HttpFetch for ReqwestFetcher {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| UrlRefusal::Invalid)?;
        self.policy.check_url(&parsed)?;
        let resp = self
            .client
            .get(parsed)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| match crate::http::refusal_in(&e) {
                Some(r) => FetchError::NotAllowed(r),
                None => FetchError::Transport(e.to_string()),
            })?;
        if !resp.status().is_success() {
            return Err(FetchError::Status(resp.status().as_u16()));
        }
        crate::http::read_limited(resp, MAX_DOCUMENT_BYTES).await.map_err(|e| match e {
            crate::http::BodyError::TooLarge { .. } => FetchError::TooLarge,
            crate::http::BodyError::Transport(t) => FetchError::Transport(t),
        })
    }

    fn allows_jwks_host(&self, host: &str) -> bool {
        self.policy.allows_jwks_host(host)
    }
}

/// Why no key set is available. Names the document, never a key.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("fetching the {what}: {source}")]
    Fetch { what: &'static str, source: FetchError },
    #[error("discovery document: {0}")]
    Discovery(&'static str),
    #[error(transparent)]
    Jwks(#[from] JwksError),
    #[error("key set unavailable; last fetch failed less than the refetch interval ago")]
    RecentlyFailed,
}

/// Cache timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidcConfig {
    /// Age after which a key set is fetched again.
    pub max_age: Duration,
    /// Shortest interval between two fetches caused by an unknown `kid` or a
    /// failed refresh.
    pub min_refetch: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig { max_age: Duration::from_secs(3600), min_refetch: Duration::from_secs(10) }
    }
}

/// One fetched key set.
#[derive(Debug)]
pub struct KeySet {
    pub keys: Vec<VerificationKey>,
    fetched_at: Instant,
    generation: u64,
}

/// The cached keys of one discovery document.
pub struct OidcKeySource {
    discovery_url: String,
    fetcher: Arc<dyn HttpFetch>,
    config: OidcConfig,
    current: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching (one fetch at a time); holds the last attempt.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OidcKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcKeySource").field("discovery_url", &self.discovery_url).finish_non_exhaustive()
    }
}

impl OidcKeySource {
    pub fn new(discovery_url: impl Into<String>, fetcher: Arc<dyn HttpFetch>, config: OidcConfig) -> Self {
        OidcKeySource {
            discovery_url: discovery_url.into(),
            fetcher,
            config,
            current: RwLock::new(None),
            last_attempt: tokio::sync::Mutex::new(None),
        }
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, keys: Vec<VerificationKey>) -> Arc<KeySet> {
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let generation = g.as_ref().map_or(0, |s| s.generation + 1);
        let set = Arc::new(KeySet { keys, fetched_at: Instant::now(), generation });
        *g = Some(set.clone());
        set
    }

    fn is_fresh(&self, set: &KeySet) -> bool {
        set.fetched_at.elapsed() < self.config.max_age
    }

    /// The current key set: cached while fresh, else fetched; a stale set
    /// is returned when the refresh fails.
    pub async fn keys(&self) -> Result<Arc<KeySet>, OidcError> {
        if let Some(s) = self.snapshot().filter(|s| self.is_fresh(s)) {
            return Ok(s);
        }
        let mut last = self.last_attempt.lock().await;
        let snap = self.snapshot();
        if let Some(s) = snap.as_ref().filter(|s| self.is_fresh(s)) {
            return Ok(s.clone());
        }
        if last.is_some_and(|t| t.elapsed() < self.config.min_refetch) {
            return snap.ok_or(OidcError::RecentlyFailed);
        }
        *last = Some(Instant::now());
        match self.fetch_now(false).await {
            Ok(keys) => Ok(self.store(keys)),
            Err(e) => match snap {
                Some(stale) => {
                    tracing::warn!(url = %self.discovery_url, error = %e, "OIDC key refresh failed; using the previous key set");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    /// After a miss in `seen` (unknown `kid`): a newer set if another task
    /// already fetched one, else one refetch. Inside `min_refetch` of the
    /// last fetch the refetch is not refused but deferred: the caller waits
    /// until the interval is over, and every caller waiting then shares the
    /// one fetch that follows (single flight). A provider that has just
    /// rolled over to a new key is thus asked once more, and a token signed
    /// with that key waits at most the rest of the interval plus one fetch
    /// instead of being refused. `None` when nothing newer is available
    /// (the fetch failed, or gave the same keys to another waiter).
    pub async fn refetch_after_miss(&self, seen: &KeySet) -> Option<Arc<KeySet>> {
        let newer = || self.snapshot().filter(|s| s.generation != seen.generation);
        let next_allowed = {
            let mut last = self.last_attempt.lock().await;
            if let Some(s) = newer() {
                return Some(s);
            }
            match *last {
                Some(t) if t.elapsed() < self.config.min_refetch => t + self.config.min_refetch,
                _ => {
                    *last = Some(Instant::now());
                    return self.refetch_fresh().await;
                }
            }
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(next_allowed)).await;
        let mut last = self.last_attempt.lock().await;
        if let Some(s) = newer() {
            return Some(s);
        }
        if last.is_some_and(|t| t.elapsed() < self.config.min_refetch) {
            // Another waiter fetched in the meantime and failed.
            return None;
        }
        *last = Some(Instant::now());
        self.refetch_fresh().await
    }

    /// One fetch past shared caches, stored; called with `last_attempt`
    /// held.
    async fn refetch_fresh(&self) -> Option<Arc<KeySet>> {
        match self.fetch_now(true).await {
            Ok(keys) => Some(self.store(keys)),
            Err(e) => {
                tracing::warn!(url = %self.discovery_url, error = %e, "OIDC key refetch after an unknown kid failed");
                None
            }
        }
    }

    /// Discovery document, then key set; `fresh` bypasses shared caches.
    async fn fetch_now(&self, fresh: bool) -> Result<Vec<VerificationKey>, OidcError> {
        let get = |url: &str| {
            let url = url.to_owned();
            async move {
                if fresh {
                    self.fetcher.get_fresh(&url).await
                } else {
                    self.fetcher.get(&url).await
                }
            }
        };
        let doc = get(&self.discovery_url)
            .await
            .map_err(|source| OidcError::Fetch { what: "discovery document", source })?;
        let doc: serde_json::Value = serde_json::from_slice(&doc).map_err(|_| OidcError::Discovery("not JSON"))?;
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(serde_json::Value::as_str)
            .ok_or(OidcError::Discovery("no jwks_uri"))?;
        let https = jwks_uri.starts_with("https://");
        let http_allowed = self.discovery_url.starts_with("http://") && jwks_uri.starts_with("http://");
        if !https && !http_allowed {
            return Err(OidcError::Discovery("jwks_uri must be https (http only for an http discovery document)"));
        }
        let host = |u: &str| reqwest::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        match (host(&self.discovery_url), host(jwks_uri)) {
            (Some(d), Some(j)) if d == j || self.fetcher.allows_jwks_host(&j) => {}
            _ => {
                return Err(OidcError::Discovery(
                    "jwks_uri must be on the discovery document's host (or a host allowed for key sets)",
                ));
            }
        }
        let body = get(jwks_uri).await.map_err(|source| OidcError::Fetch { what: "JWKS", source })?;
        Ok(jwks::parse(&body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An in-memory provider: counts requests, can fail.
    struct Fake {
        jwks: Mutex<String>,
        jwks_uri: String,
        hits: AtomicUsize,
        /// Requests that asked to bypass caches (`get_fresh`).
        fresh: AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl HttpFetch for Fake {
        async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(FetchError::Status(503));
            }
            if url.ends_with("/openid-configuration") {
                return Ok(serde_json::json!({"issuer": "x", "jwks_uri": self.jwks_uri}).to_string().into_bytes());
            }
            self.hits.fetch_add(1, Ordering::SeqCst);
            Ok(self.jwks.lock().unwrap().clone().into_bytes())
        }

        async fn get_fresh(&self, url: &str) -> Result<Vec<u8>, FetchError> {
            self.fresh.fetch_add(1, Ordering::SeqCst);
            self.get(url).await
        }
    }

    fn ec_jwks(kid: &str) -> String {
        use aws_lc_rs::signature::KeyPair as _;
        let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let p = ec.public_key().as_ref();
        let b = crate::token::jwt::tests::b64;
        serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": b(&p[1..33]), "y": b(&p[33..]), "kid": kid}]}).to_string()
    }

    fn fake(jwks_uri: &str) -> Arc<Fake> {
        Arc::new(Fake {
            jwks: Mutex::new(ec_jwks("a")),
            jwks_uri: jwks_uri.into(),
            hits: AtomicUsize::new(0),
            fresh: AtomicUsize::new(0),
            down: Default::default(),
        })
    }

    #[tokio::test]
    async fn cache_rate_limit_and_stale_keys() {
        let f = fake("https://idp.example/jwks");
        let cfg = OidcConfig { max_age: Duration::from_millis(1500), min_refetch: Duration::from_millis(700) };
        let src = OidcKeySource::new("https://idp.example/.well-known/openid-configuration", f.clone(), cfg);
        let s1 = src.keys().await.unwrap();
        assert_eq!(s1.keys[0].kid(), Some("a"));
        src.keys().await.unwrap();
        assert_eq!(f.hits.load(Ordering::SeqCst), 1, "cached");
        // A miss right after a fetch waits for the interval to end, then
        // fetches once.
        *f.jwks.lock().unwrap() = ec_jwks("b");
        let t = Instant::now();
        let s2 = src.refetch_after_miss(&s1).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(600), "{:?}", t.elapsed());
        assert_eq!(s2.keys[0].kid(), Some("b"));
        assert_eq!(f.hits.load(Ordering::SeqCst), 2);
        // Only the refetch after the unknown kid bypassed caches (discovery
        // document and key set).
        assert_eq!(f.fresh.load(Ordering::SeqCst), 2);
        // A second miss against the old set gets the new set without fetching.
        assert!(src.refetch_after_miss(&s1).await.is_some());
        assert_eq!(f.hits.load(Ordering::SeqCst), 2);
        // Provider down after max_age: the stale set is still served.
        f.down.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1550)).await;
        assert_eq!(src.keys().await.unwrap().keys[0].kid(), Some("b"));
    }

    #[tokio::test]
    async fn unavailable_without_cache_and_no_downgrade() {
        let f = fake("https://idp.example/jwks");
        f.down.store(true, Ordering::SeqCst);
        let src = OidcKeySource::new("https://idp.example/.well-known/openid-configuration", f.clone(), OidcConfig::default());
        assert!(matches!(src.keys().await, Err(OidcError::Fetch { .. })));
        assert!(matches!(src.keys().await, Err(OidcError::RecentlyFailed)));

        let f = fake("http://idp.example/jwks");
        let src = OidcKeySource::new("https://idp.example/.well-known/openid-configuration", f, OidcConfig::default());
        assert!(matches!(src.keys().await, Err(OidcError::Discovery(_))));
    }
}
