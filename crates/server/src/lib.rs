//! castguard HTTP server: the management API under `/api/v1` (DESIGN.md,
//! "URLs"; issue 3 items 3–6). The origin (`/s/...`), key delivery
//! (`/keys/v1/...`), STS and player mount on the same [`Router`] later: see
//! [`app`].
//!
//! Thin by design: each handler checks the admin token ([`auth::Admin`]),
//! parses and validates the request with the `keys::model` types, calls the
//! [`store::Store`], and writes the v3-shaped JSON. [`app`] is apart from any
//! socket so tests drive it with `tower::ServiceExt::oneshot`.

#![forbid(unsafe_code)]

pub mod auth;
pub mod delivery;
pub mod error;
pub mod extract;
pub mod forwarded;
pub mod json;
pub mod limits;
pub mod listen;
mod live;
pub mod live_rtmp;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod tls;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::header::STRICT_TRANSPORT_SECURITY;
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_http::trace::TraceLayer;

pub use auth::AdminToken;
pub use error::{ApiError, ApiResult};
pub use limits::HttpLimits;
pub use listen::{Listener, serve_listeners, serve_listeners_metered};

/// Largest JSON request body (entities are small; a policy with 32 options
/// and RSA keys stays far below).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Largest media upload (`PUT /api/v1/assets/{name}/content`).
pub const UPLOAD_BODY_LIMIT: u64 = 10 * 1024 * 1024 * 1024;

/// Shared state of every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    store: Arc<dyn store::Store>,
    data_dir: PathBuf,
    admin_token: AdminToken,
    /// Serialises the publishing of asset uploads and deletes.
    ingest_lock: tokio::sync::Mutex<()>,
    /// Origin, key delivery, STS (`delivery` module).
    delivery: delivery::Delivery,
    /// Open recordings of running live events.
    live: live::Registry,
    /// Set when shutdown begins: `/readyz` answers 503 so load balancers
    /// stop sending new requests while the ones in flight finish.
    draining: std::sync::atomic::AtomicBool,
    /// Where `maxuses` replay counters live.
    token_uses: Arc<dyn store::TokenUses>,
    /// The demo runs (set by [`app_with_player`]): `/readyz` says
    /// `demo: on`, for a production health check to catch.
    demo: std::sync::atomic::AtomicBool,
    /// This server's Prometheus registry.
    metrics: Arc<metrics::Metrics>,
    /// Bearer token of `GET /metrics` on the public port; unset, that
    /// route answers 404.
    metrics_token: std::sync::OnceLock<AdminToken>,
    /// The SPEKE v2 key provider's settings; unset, `/speke/v2` answers 404.
    speke: std::sync::OnceLock<routes::speke::SpekeConfig>,
    /// Serialises the making of SPEKE keys on this node.
    speke_lock: tokio::sync::Mutex<()>,
}

/// Services a node shares with the other nodes besides the store (issue 7).
/// The defaults suit one node: replay counters in the store, OpenID Connect
/// documents fetched directly from the identity provider.
#[derive(Clone, Default)]
pub struct Backends {
    /// Replay counters of `maxuses` tokens (e.g. `store::redis::RedisTokenUses`).
    pub token_uses: Option<Arc<dyn store::TokenUses>>,
    /// How OpenID Connect discovery documents and key sets are fetched
    /// (e.g. `store::redis::RedisFetchCache` over `keys::token::ReqwestFetcher`).
    pub oidc_fetcher: Option<Arc<dyn keys::token::HttpFetch>>,
    /// Where asset media live (`store::MediaStore::from_url`: S3-compatible
    /// object storage shared by the nodes); default local files in
    /// `data_dir/assets/`.
    pub media: Option<store::MediaStore>,
    /// The Redis behind `token_uses` and `oidc_fetcher`, if any: its
    /// error count is a metric.
    pub redis: Option<store::redis::Redis>,
}

impl AppState {
    /// `data_dir` holds uploads in progress (`tmp/`) and ingested assets
    /// (`assets/<name>/`).
    pub fn new(
        store: Arc<dyn store::Store>,
        data_dir: impl Into<PathBuf>,
        admin_token: AdminToken,
    ) -> Self {
        Self::with_delivery(
            store,
            data_dir,
            admin_token,
            delivery::DeliveryConfig::default(),
        )
    }

    /// As [`AppState::new`], with the settings of the player-facing routes
    /// (public base URL written into manifests, cache lifetimes...).
    pub fn with_delivery(
        store: Arc<dyn store::Store>,
        data_dir: impl Into<PathBuf>,
        admin_token: AdminToken,
        config: delivery::DeliveryConfig,
    ) -> Self {
        Self::with_backends(store, data_dir, admin_token, config, Backends::default())
    }

    /// As [`AppState::with_delivery`], with the services shared by many
    /// nodes ([`Backends`]).
    pub fn with_backends(
        store: Arc<dyn store::Store>,
        data_dir: impl Into<PathBuf>,
        admin_token: AdminToken,
        config: delivery::DeliveryConfig,
        backends: Backends,
    ) -> Self {
        let data_dir = data_dir.into();
        let metrics = Arc::new(metrics::Metrics::new(store.clone(), backends.redis));
        store.set_pool_observer(metrics.pool_observer());
        let store: Arc<dyn store::Store> =
            Arc::new(metrics::MeteredStore::new(store, metrics.clone()));
        let delivery = delivery::Delivery::with_fetcher(
            config,
            &data_dir,
            store.clone(),
            backends.oidc_fetcher,
            backends
                .media
                .unwrap_or_else(|| store::MediaStore::local(&data_dir)),
        );
        let token_uses = backends
            .token_uses
            .unwrap_or_else(|| Arc::new(store::StoreTokenUses(store.clone())));
        let changes = store.subscribe();
        let inner = Arc::new(Inner {
            store,
            data_dir,
            admin_token,
            ingest_lock: tokio::sync::Mutex::new(()),
            delivery,
            live: live::Registry::new(),
            token_uses,
            draining: std::sync::atomic::AtomicBool::new(false),
            demo: std::sync::atomic::AtomicBool::new(false),
            metrics,
            metrics_token: std::sync::OnceLock::new(),
            speke: std::sync::OnceLock::new(),
            speke_lock: tokio::sync::Mutex::new(()),
        });
        // The store's change events clear the delivery caches (issue 7):
        // needs a runtime, which every server has; without one (a sync
        // test) the caches still expire by their TTL.
        match (changes, tokio::runtime::Handle::try_current()) {
            (Some(rx), Ok(rt)) => {
                rt.spawn(delivery::follow_changes(Arc::downgrade(&inner), rx));
            }
            (Some(_), Err(_)) => {
                tracing::warn!("no async runtime: delivery caches follow the store by TTL only")
            }
            (None, _) => {}
        }
        AppState { inner }
    }

    /// As [`AppState::with_delivery`], with asset media in `media` (local
    /// files elsewhere, or S3-compatible object storage shared by many
    /// nodes) instead of `data_dir/assets/`.
    pub fn with_media(
        store: Arc<dyn store::Store>,
        data_dir: impl Into<PathBuf>,
        admin_token: AdminToken,
        config: delivery::DeliveryConfig,
        media: store::MediaStore,
    ) -> Self {
        let backends = Backends {
            media: Some(media),
            ..Backends::default()
        };
        Self::with_backends(store, data_dir, admin_token, config, backends)
    }

    /// Whether the demo runs (its tokens are handed out).
    pub fn demo_on(&self) -> bool {
        self.inner.demo.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This server's metrics.
    pub fn metrics(&self) -> &Arc<metrics::Metrics> {
        &self.inner.metrics
    }

    /// Opens `GET /metrics` on the public port to requests bearing
    /// `token` (compared in constant time). Only the first call counts.
    pub fn set_metrics_token(&self, token: AdminToken) {
        if self.inner.metrics_token.set(token).is_err() {
            tracing::warn!("the metrics token was already set; keeping the first");
        }
    }

    /// Turns on the SPEKE v2 key provider (`POST /speke/v2`). Only the
    /// first call counts.
    pub fn set_speke(&self, config: routes::speke::SpekeConfig) {
        if self.inner.speke.set(config).is_err() {
            tracing::warn!("the SPEKE key provider was already configured; keeping the first");
        }
    }

    pub(crate) fn speke(&self) -> Option<&routes::speke::SpekeConfig> {
        self.inner.speke.get()
    }

    pub(crate) fn speke_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.speke_lock
    }

    /// Origin, key delivery and STS state.
    pub fn delivery(&self) -> &delivery::Delivery {
        &self.inner.delivery
    }

    /// Marks the node as shutting down: from now on `/readyz` answers 503
    /// (`draining`); every other route keeps serving until the listener
    /// closes.
    pub fn start_draining(&self) {
        self.inner
            .draining
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.inner
            .draining
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn store(&self) -> &dyn store::Store {
        self.inner.store.as_ref()
    }

    /// The replay counters of `maxuses` tokens.
    pub fn token_uses(&self) -> &dyn store::TokenUses {
        self.inner.token_uses.as_ref()
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// Where asset media live.
    pub fn media(&self) -> &store::MediaStore {
        self.inner.delivery.media()
    }

    /// The RTMP listener is on: live events may take RTMP, and their
    /// endpoints name `base` (`rtmp://HOST:PORT/live`).
    pub fn set_rtmp_base(&self, base: String) {
        *self
            .inner
            .live
            .rtmp_base
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(base);
    }

    /// `rtmp://HOST:PORT/live` when the RTMP listener is on.
    pub fn rtmp_base(&self) -> Option<String> {
        self.inner
            .live
            .rtmp_base
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Largest live ingest header or fragment (`moof` + `mdat`) taken, bytes
    /// (`--live-max-fragment`); larger ones are refused with 413.
    pub fn set_live_max_fragment(&self, bytes: u64) {
        self.inner
            .live
            .max_fragment
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

/// The whole HTTP application: the management API, the delivery routes
/// (origin, key delivery, STS, health) and `GET /metrics` (404 unless a
/// metrics token is set), every request counted in [`metrics`].
pub fn app(state: AppState) -> Router {
    let m = state.metrics().clone();
    metrics::tracked(all_routes(state), m)
}

fn all_routes(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", routes::api_router())
        .merge(delivery::router(&state))
        .merge(live::ingest_router())
        .merge(routes::speke::router())
        .route("/metrics", axum::routing::get(metrics::public_metrics))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_origin,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Resolves the client address and transport of every request once
/// ([`forwarded::RequestOrigin`], read by the delivery guard). HTTPS
/// through a trusted proxy gets HSTS here; over our own TLS,
/// [`listen`] adds it to every response.
async fn request_origin(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let tls = req.extensions().get::<tls::Tls>().is_some();
    let origin = s
        .delivery()
        .config()
        .guard
        .forwarded
        .resolve(peer, tls, req.headers());
    req.extensions_mut().insert(origin);
    let mut res = next.run(req).await;
    if origin.https && !tls {
        res.headers_mut()
            .insert(STRICT_TRANSPORT_SECURITY, tls::HSTS);
    }
    res
}

/// The span of one request: method and path only. The default span of
/// `tower-http` records the whole URI, and key requests may carry the
/// viewer token in `?token=` (RFC 8216 players that cannot set headers):
/// logging the query would leak bearer credentials into the log. Nor are
/// headers recorded (`Authorization`).
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %req.method(),
        path = %redacted_path(req.uri().path()),
        version = ?req.version(),
    )
}

/// Serves [`app`] over plain HTTP on `listener` (default [`HttpLimits`])
/// until `shutdown` completes, then lets the requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_listeners(
        vec![Listener::plain(listener)],
        app(state),
        HttpLimits::default(),
        shutdown,
    )
    .await
}

/// [`app`] with the player routes (`/player...`) merged in; `/readyz`
/// then reports whether the demo runs.
pub fn app_with_player(state: AppState, player: routes::player::PlayerState) -> Router {
    state.inner.demo.store(
        player.tokens().is_some(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let m = state.metrics().clone();
    metrics::tracked(all_routes(state).merge(routes::player::router(player)), m)
}

/// As [`serve`], with the player routes (`/player...`) merged in.
pub async fn serve_with_player(
    listener: tokio::net::TcpListener,
    state: AppState,
    player: routes::player::PlayerState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_listeners(
        vec![Listener::plain(listener)],
        app_with_player(state, player),
        HttpLimits::default(),
        shutdown,
    )
    .await
}

/// The request path as logged: the access token of a live ingest URL
/// (`/ingest/{event}/{token}/...`) is replaced, since a token must never
/// reach a log line.
fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    let mut parts = path.splitn(4, '/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(""), Some("ingest"), Some(event), Some(rest)) => {
            let after = rest.split_once('/').map_or("", |(_, r)| r);
            std::borrow::Cow::Owned(format!("/ingest/{event}/***/{after}"))
        }
        _ => std::borrow::Cow::Borrowed(path),
    }
}

#[cfg(test)]
mod path_tests {
    #[test]
    fn ingest_tokens_are_redacted() {
        assert_eq!(
            super::redacted_path("/ingest/ev/SECRET123/Streams(video)"),
            "/ingest/ev/***/Streams(video)"
        );
        assert_eq!(
            super::redacted_path("/ingest/ev/SECRET123"),
            "/ingest/ev/***/"
        );
        assert_eq!(
            super::redacted_path("/s/x/cenc/manifest.mpd"),
            "/s/x/cenc/manifest.mpd"
        );
    }
}
