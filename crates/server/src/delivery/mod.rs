//! What players reach: the origin (`/s/...`), key and license delivery
//! (`/keys/v1/...`), the token service (`/sts/...`) and health probes
//! (DESIGN.md, "URLs"; issues 4 and 5).
//!
//! Apart from the management API because its rules differ: no admin token
//! (players carry viewer tokens or nothing), CORS open to any origin, CDN
//! caching on the origin and `no-store` on keys, and a hot path that must
//! not hit the store on every request. [`Delivery`] holds what the handlers
//! share: the public base URL written into manifests, the token verifier
//! cache, short-lived caches of locators, keys and policies, opened assets,
//! the STS and the HTTP client of the DRM license proxy.
//!
//! Cache lifetimes: resolved locators, content keys and policies live for
//! [`DeliveryConfig::cache_ttl`] (default 2 s), and are dropped at once when
//! the store announces a change (`Store::subscribe`: this node's writes,
//! and with Postgres every other node's), see [`Delivery::apply_change`]:
//! an edit through the management API takes effect at once on every node,
//! and within the TTL even if an announcement is lost. Opened assets are
//! keyed by their `index.json` identity: inode, size and mtime on local
//! files (checked on every request, so a re-upload is seen at once), ETag
//! and last-modified on object storage (checked with a HEAD once per
//! `cache_ttl`).

pub mod error;
pub mod guard;
pub mod health;
pub mod keys;
pub mod legacy;
pub mod origin;
pub mod resolve;
pub mod rotation;
pub mod segment_cache;
pub mod sts;

use crate::AppState;
use ::keys::token::{ReqwestFetcher, VerifierCache, VerifierConfig};
use axum::Router;
use axum::http::{HeaderName, Method, header};
use std::collections::HashMap;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Settings of the player-facing routes.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Absolute base of the URLs written into manifests (license servers,
    /// AES-128 key URIs) and of the STS issuer, without a trailing `/`.
    /// Configured (`--public-url`), never taken from the request's `Host`
    /// header: manifests are cached by CDNs and must not carry a
    /// client-chosen host. Only a trusted proxy's `X-Forwarded-Host` may
    /// replace it per request, when the operator says so
    /// ([`crate::forwarded::ForwardedTrust::public_base`]).
    pub public_base_url: String,
    /// How long locators, keys and policies read from the store are reused.
    pub cache_ttl: Duration,
    /// Timeout of one upstream DRM license request.
    pub upstream_timeout: Duration,
    /// Token verification settings (clock skew...).
    pub verifier: VerifierConfig,
    /// HTTPS requirement, forwarding headers and rate limits of key
    /// delivery and `/sts/token` (default: none of them).
    pub guard: guard::GuardConfig,
    /// Where OpenID Connect discovery documents and key sets may be
    /// fetched from (default: https only, no link-local or metadata
    /// address, key sets on the discovery document's host).
    pub fetch: ::keys::http::FetchPolicy,
    /// Bytes of encrypted media segments the origin keeps in memory
    /// (`--origin-cache-mb`; 0: none, every request encrypts).
    pub segment_cache_bytes: u64,
}

/// Checks a `--public-url`: `http` or `https`, a host, an optional port
/// and path prefix; no user info, query or fragment. The trailing `/` is
/// dropped (URLs are written as `{base}/keys/...`).
pub fn parse_public_url(s: &str) -> Result<String, String> {
    let uri: axum::http::Uri = s.parse().map_err(|e| format!("'{s}' is not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("'{s}': the public URL must start with http:// or https://")),
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("'{s}': no host"));
    };
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(format!("'{s}': a public URL has a host and no user name or password"));
    }
    if uri.query().is_some() || s.contains('#') {
        return Err(format!("'{s}': a public URL has no query or fragment"));
    }
    Ok(s.trim_end_matches('/').to_owned())
}

impl DeliveryConfig {
    /// Defaults with `public_base_url` = `http://{listen}`.
    pub fn for_listen_addr(listen: impl std::fmt::Display) -> Self {
        DeliveryConfig {
            public_base_url: format!("http://{listen}"),
            cache_ttl: Duration::from_secs(2),
            upstream_timeout: Duration::from_secs(10),
            verifier: VerifierConfig::default(),
            guard: guard::GuardConfig::default(),
            fetch: ::keys::http::FetchPolicy::default(),
            segment_cache_bytes: segment_cache::DEFAULT_CACHE_MB << 20,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig::for_listen_addr("127.0.0.1:8080")
    }
}

/// Shared state of the delivery routes (inside [`AppState`]).
pub struct Delivery {
    pub(crate) config: DeliveryConfig,
    pub(crate) verifiers: VerifierCache,
    pub(crate) locators: TtlCache<(uuid::Uuid, String), Arc<resolve::ResolvedLocator>>,
    pub(crate) keys: TtlCache<uuid::Uuid, Arc<resolve::DeliveryKey>>,
    pub(crate) policies: TtlCache<(String, keys::Endpoint), Arc<::keys::policy::PreparedPolicy>>,
    pub(crate) assets: origin::AssetCache,
    /// Where asset media live (`--media-url`).
    pub(crate) media: store::MediaStore,
    pub(crate) sts: tokio::sync::OnceCell<Arc<sts::Sts>>,
    /// Where earlier versions kept the STS key ring (imported once).
    pub(crate) sts_dir: PathBuf,
    store: Arc<dyn store::Store>,
    pub(crate) http: reqwest::Client,
    pub(crate) guard: guard::Guard,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// `data_dir` is the server's data folder (an STS key ring of an
    /// earlier version in `data_dir/sts/` is imported into `store`).
    pub fn new(
        config: DeliveryConfig,
        data_dir: &std::path::Path,
        store: Arc<dyn store::Store>,
    ) -> Self {
        Self::with_fetcher(config, data_dir, store, None, store::MediaStore::local(data_dir))
    }

    /// As [`Delivery::new`]; `fetcher` fetches OpenID Connect documents
    /// (default: [`ReqwestFetcher`] within [`DeliveryConfig::fetch`],
    /// straight to the identity provider) and
    /// the origin reads asset media from `media` (local files or object
    /// storage).
    pub fn with_fetcher(
        config: DeliveryConfig,
        data_dir: &std::path::Path,
        store: Arc<dyn store::Store>,
        fetcher: Option<Arc<dyn ::keys::token::HttpFetch>>,
        media: store::MediaStore,
    ) -> Self {
        let fetcher: Arc<dyn ::keys::token::HttpFetch> = match fetcher {
            Some(f) => f,
            None => match ReqwestFetcher::with_policy(config.fetch.clone()) {
                Ok(f) => Arc::new(f),
                Err(e) => {
                    tracing::error!(error = %e, "OpenID Connect fetcher unavailable; discovery-based policies will answer 503");
                    Arc::new(NoFetch)
                }
            },
        };
        let http = reqwest::Client::builder()
            .timeout(config.upstream_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Delivery {
            verifiers: VerifierCache::new(config.verifier, fetcher),
            locators: TtlCache::new(config.cache_ttl, 4096),
            keys: TtlCache::new(config.cache_ttl, 16384),
            policies: TtlCache::new(config.cache_ttl, 4096),
            assets: origin::AssetCache::new(64, config.cache_ttl, config.segment_cache_bytes),
            media,
            sts: tokio::sync::OnceCell::new(),
            sts_dir: data_dir.join(sts::STS_DIR),
            store,
            http,
            guard: guard::Guard::new(config.guard.clone()),
            config,
        }
    }

    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// Where asset media live.
    pub fn media(&self) -> &store::MediaStore {
        &self.media
    }

    /// The token service, its key ring loaded from (or first created in)
    /// the store.
    pub async fn sts(&self) -> Result<Arc<sts::Sts>, sts::StsSetupError> {
        self.sts
            .get_or_try_init(|| async {
                let issuer = format!("{}/sts", self.config.public_base_url);
                sts::Sts::load_or_create(self.store.as_ref(), &self.sts_dir, issuer)
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Forgets what `change` may have made stale: any entity change drops
    /// the resolved locators, keys, policies and token verifiers (they
    /// depend on each other, and writes are rare); a change of the STS key
    /// ring reloads it.
    pub async fn apply_change(&self, change: &store::Change) {
        use store::{Change, EntityKind};
        let (entities, sts) = match change {
            Change::Entity {
                kind: EntityKind::Secret,
                name,
            } => (false, name == sts::STS_SECRET),
            Change::Entity { .. } => (true, false),
            Change::Everything => (true, true),
        };
        if entities {
            self.locators.clear();
            self.keys.clear();
            self.policies.clear();
            self.verifiers.clear();
        }
        if sts
            && let Some(s) = self.sts.get()
            && let Err(e) = s.reload(self.store.as_ref()).await
        {
            tracing::warn!(error = %e, "cannot reload the STS key ring");
        }
    }
}

/// Applies the store's change events to `state`'s delivery caches until
/// the state is dropped or the store stops announcing. A lagging receiver
/// (events lost) counts as "everything changed".
pub(crate) async fn follow_changes(
    state: std::sync::Weak<crate::Inner>,
    mut rx: tokio::sync::broadcast::Receiver<store::Change>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let change = match rx.recv().await {
            Ok(c) => c,
            Err(RecvError::Lagged(_)) => store::Change::Everything,
            Err(RecvError::Closed) => return,
        };
        let Some(inner) = state.upgrade() else { return };
        inner.delivery.apply_change(&change).await;
    }
}

/// A fetcher that always fails (when no HTTP client could be built).
struct NoFetch;

#[async_trait::async_trait]
impl ::keys::token::HttpFetch for NoFetch {
    async fn get(&self, _url: &str) -> Result<Vec<u8>, ::keys::token::FetchError> {
        Err(::keys::token::FetchError::Transport(
            "no HTTP client".into(),
        ))
    }
}

/// The routes of this module, merged into [`crate::app`]; key delivery
/// and `/sts/token` behind [`guard`].
pub fn router(state: &AppState) -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::RANGE,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
        ])
        .expose_headers([
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ETAG,
            header::LAST_MODIFIED,
            HeaderName::from_static("accept-ranges"),
        ])
        .max_age(Duration::from_secs(3600));
    let guarded = Router::new()
        .merge(keys::router())
        .merge(sts::token_router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ));
    Router::new()
        .merge(origin::router())
        .merge(legacy::router())
        .merge(guarded)
        .merge(sts::router())
        .merge(health::router())
        .merge(crate::live::time_router())
        .layer(cors)
}

/// A small map whose entries expire after `ttl`; at `capacity` the oldest
/// entry is dropped. Reads take a shared lock only.
///
/// Refresh ahead, single flight: once an entry is past half its `ttl`, the
/// first reader is told "miss" (and so reads the store and re-inserts)
/// while every other reader keeps getting the cached value until it
/// expires. Under steady load an entry is refreshed by one request before
/// it expires, so the key delivery hot path never sees all its requests
/// miss at the same instant and queue on the store's few connections (the
/// p99 of issue 4 item 8). An entry is never served past `ttl`: an edit
/// through the management API still takes effect within `ttl`.
pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    map: RwLock<HashMap<K, Entry<V>>>,
}

struct Entry<V> {
    at: Instant,
    value: V,
    /// Set by the reader that took the refresh.
    refreshing: AtomicBool,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache {
            ttl,
            capacity: capacity.max(1),
            map: RwLock::new(HashMap::new()),
        }
    }

    /// The cached value; `None` when absent, expired, or when this caller
    /// is the one chosen to refresh it.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let e = map.get(key)?;
        let age = e.at.elapsed();
        if age >= self.ttl {
            return None;
        }
        if age >= self.ttl / 2 && !e.refreshing.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(e.value.clone())
    }

    pub(crate) fn clear(&self) {
        self.map.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            let ttl = self.ttl;
            map.retain(|_, e| e.at.elapsed() < ttl);
            if map.len() >= self.capacity
                && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            key,
            Entry {
                at: Instant::now(),
                value,
                refreshing: AtomicBool::new(false),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn public_urls() {
        assert_eq!(super::parse_public_url("https://media.example.com/").unwrap(), "https://media.example.com");
        assert_eq!(super::parse_public_url("http://127.0.0.1:8081/castguard").unwrap(), "http://127.0.0.1:8081/castguard");
        for bad in ["media.example.com", "ftp://x", "https://u:p@x", "https://x/?a=1", "https://x/#f", "https://"] {
            assert!(super::parse_public_url(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn ttl_cache_expires_and_bounds() {
        let c: TtlCache<u32, u32> = TtlCache::new(Duration::from_millis(50), 2);
        c.insert(1, 10);
        c.insert(2, 20);
        c.insert(3, 30);
        assert_eq!(c.map.read().unwrap().len(), 2);
        assert_eq!(c.get(&3), Some(30));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(&3), None);
        c.insert(3, 31);
        c.insert(3, 32);
        assert_eq!(c.map.read().unwrap().len(), 2, "re-insert evicts nothing");
        let off: TtlCache<u32, u32> = TtlCache::new(Duration::ZERO, 2);
        off.insert(1, 1);
        assert_eq!(off.get(&1), None);
    }

    /// Past half its life an entry sends exactly one reader to the store
    /// (refresh ahead, single flight); the others keep the value until it
    /// expires; the refresh resets its age.
    #[test]
    fn ttl_cache_refreshes_ahead_once() {
        let c: TtlCache<u32, u32> = TtlCache::new(Duration::from_millis(1000), 8);
        c.insert(1, 10);
        assert_eq!(c.get(&1), Some(10));
        std::thread::sleep(Duration::from_millis(550));
        let got: Vec<Option<u32>> = (0..5).map(|_| c.get(&1)).collect();
        assert_eq!(got, [None, Some(10), Some(10), Some(10), Some(10)]);
        c.insert(1, 11);
        assert_eq!(c.get(&1), Some(11));
        std::thread::sleep(Duration::from_millis(550));
        assert_eq!(c.get(&1), None, "a refreshed entry can be refreshed again");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(c.get(&1), None, "never served past its ttl");
        assert_eq!(c.get(&1), None);
    }
}
