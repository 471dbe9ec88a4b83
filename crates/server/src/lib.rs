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
pub mod openapi;
pub mod routes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_http::trace::TraceLayer;

pub use auth::AdminToken;
pub use error::{ApiError, ApiResult};

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

struct Inner {
    store: Arc<dyn store::Store>,
    data_dir: PathBuf,
    admin_token: AdminToken,
    /// Serialises the publishing of asset uploads and deletes.
    ingest_lock: tokio::sync::Mutex<()>,
    /// Origin, key delivery, STS (`delivery` module).
    delivery: delivery::Delivery,
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
        let data_dir = data_dir.into();
        let media = store::MediaStore::local(&data_dir);
        Self::with_media(store, data_dir, admin_token, config, media)
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
        let data_dir = data_dir.into();
        let delivery = delivery::Delivery::with_media(config, &data_dir, media);
        AppState {
            inner: Arc::new(Inner {
                store,
                data_dir,
                admin_token,
                ingest_lock: tokio::sync::Mutex::new(()),
                delivery,
            }),
        }
    }

    /// Origin, key delivery and STS state.
    pub fn delivery(&self) -> &delivery::Delivery {
        &self.inner.delivery
    }

    pub fn store(&self) -> &dyn store::Store {
        self.inner.store.as_ref()
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// Where asset media live.
    pub fn media(&self) -> &store::MediaStore {
        self.inner.delivery.media()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

/// The whole HTTP application. Later parts (origin, key delivery, STS,
/// player, health) merge their routers here.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", routes::api_router())
        .merge(delivery::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
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
        path = req.uri().path(),
        version = ?req.version(),
    )
}

/// Serves [`app`] on `listener` until `shutdown` completes, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// As [`serve`], with the player routes (`/player...`) merged in.
pub async fn serve_with_player(
    listener: tokio::net::TcpListener,
    state: AppState,
    player: routes::player::PlayerState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state).merge(routes::player::router(player))).with_graceful_shutdown(shutdown).await
}
