//! Prometheus metrics of one server: what an operator watches and alerts
//! on (docs/operations.md lists every series, with a Grafana dashboard and
//! alert rules).
//!
//! Built on `prometheus-client`: each [`AppState`] owns its own
//! [`Metrics`] (a registry and the metric handles), so tests that start
//! many servers in one process never mix their figures, and nothing is
//! global.
//!
//! Cardinality is bounded by construction: every label value is a fixed
//! word of this code (a DRM endpoint, a refusal reason of
//! [`keys::token::Reason`], an origin variant, a resource kind, a status
//! code the server emits, a route *template* such as
//! `/s/{locator}/{variant}/{*path}`). No asset name, key ID, locator,
//! token, client address or request path is ever a label: a scraper must
//! not be able to grow the series set, and a metrics endpoint must not
//! disclose who watches what.
//!
//! Exposure: on a separate listener ([`router`])
//! (`castguard serve --metrics-listen`), unauthenticated, meant for a
//! private network; and/or on the public port at `GET /metrics` with a
//! bearer token (`--metrics-token-file`), compared in constant time and
//! with the same per-address failure limit as the admin token. Without a
//! token, `/metrics` on the public port answers 404, as if it did not
//! exist: metrics reveal traffic and refusal patterns, so they are never
//! open on the port players reach by default.
//!
//! Format: OpenMetrics 1.0 text when the scraper asks for it in `Accept`
//! (Prometheus does), else the Prometheus text format 0.0.4 (`curl`, older
//! scrapers).

mod store;

pub use self::store::MeteredStore;

use crate::AppState;
use crate::delivery::keys::Endpoint;
use crate::delivery::resolve::Variant;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use media::origin::Resource;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `Content-Type` of the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// `Content-Type` of the Prometheus text format 0.0.4.
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Latency buckets in seconds: from half a millisecond (a cached key
/// request) to ten seconds (the upstream license timeout).
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Response size buckets in bytes: a playlist (a few hundred bytes) to a
/// long 4K segment (tens of MB), by factors of four.
const BYTES_BUCKETS: [f64; 10] = [
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0, 67108864.0,
];
/// Connection pool wait buckets in seconds: no wait at all is well below
/// the first bucket; the last is the pools' acquire timeout.
const WAIT_BUCKETS: [f64; 12] = [
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn bytes_histogram() -> Histogram {
    Histogram::new(BYTES_BUCKETS)
}

fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// A route template as a label: the matched route of the router, never the
/// request path; `unmatched` for paths that name no route.
#[derive(Clone, Debug)]
struct Route(Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: Route,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Route,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    drm_system: &'static str,
    result: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OriginLabels {
    variant: &'static str,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OriginStatusLabels {
    variant: &'static str,
    kind: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreErrorLabels {
    database: &'static str,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreOpLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccessLabels {
    access: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Which rate limit or connection cap refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Key delivery or `/sts/token` requests per client address (429).
    Address,
    /// The same per bearer token (429).
    Token,
    /// Wrong admin or metrics tokens per client address (429).
    AdminAuth,
    /// Open connections per client address (refused at accept).
    ConnectionsPerAddress,
    /// Open connections in all (refused at accept).
    ConnectionsTotal,
}

impl Limit {
    fn as_str(self) -> &'static str {
        match self {
            Limit::Address => "address",
            Limit::Token => "token",
            Limit::AdminAuth => "admin_auth",
            Limit::ConnectionsPerAddress => "connections_per_address",
            Limit::ConnectionsTotal => "connections_total",
        }
    }
}

/// What an origin response served, for its labels.
pub fn resource_kind(r: &Resource) -> &'static str {
    match r {
        Resource::Mpd
        | Resource::Master
        | Resource::MediaPlaylist { .. }
        | Resource::IframePlaylist { .. } => "manifest",
        Resource::Init { .. } | Resource::PeriodInit { .. } => "init",
        Resource::Segment { .. } => "segment",
        Resource::TextSegment { .. } | Resource::Sidecar { .. } => "subtitle",
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The registry of one server and the handles its code records into.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    api_writes: Family<HttpLabels, Counter>,
    key_deliveries: Family<KeyLabels, Counter>,
    token_verification: HistogramFamily<ResultLabels>,
    origin_requests: Family<OriginStatusLabels, Counter>,
    origin_bytes: HistogramFamily<OriginLabels>,
    origin_duration: HistogramFamily<OriginLabels>,
    segment_cache: Family<ResultLabels, Counter>,
    segment_cache_bytes: Gauge,
    rate_limited: Family<LimitLabels, Counter>,
    admin_auth_failures: Counter,
    store_errors: Family<StoreErrorLabels, Counter>,
    store_duration: HistogramFamily<StoreOpLabels>,
    pool_wait: HistogramFamily<AccessLabels>,
    backend_up: Family<BackendLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Every series of the server, registered; `store` and `redis` are
    /// read at each scrape (pool sizes, Redis error count).
    pub fn new(store: Arc<dyn ::store::Store>, redis: Option<::store::redis::Redis>) -> Self {
        let mut m = Metrics {
            registry: Registry::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            api_writes: Family::default(),
            key_deliveries: Family::default(),
            token_verification: Family::new_with_constructor(latency_histogram),
            origin_requests: Family::default(),
            origin_bytes: Family::new_with_constructor(bytes_histogram),
            origin_duration: Family::new_with_constructor(latency_histogram),
            segment_cache: Family::default(),
            segment_cache_bytes: Gauge::default(),
            rate_limited: Family::default(),
            admin_auth_failures: Counter::default(),
            store_errors: Family::default(),
            store_duration: Family::new_with_constructor(latency_histogram),
            pool_wait: Family::new_with_constructor(wait_histogram),
            backend_up: Family::default(),
        };
        let r = &mut m.registry;
        r.register(
            "castguard_build",
            "Version of the running castguard",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        r.register(
            "castguard_http_requests",
            "HTTP requests answered, by route template, method and status",
            m.http_requests.clone(),
        );
        r.register(
            "castguard_http_request_duration_seconds",
            "Time to the response head, by route template",
            m.http_duration.clone(),
        );
        r.register(
            "castguard_api_writes",
            "Management API writes (PUT and DELETE under /api/v1), by route template, method and status",
            m.api_writes.clone(),
        );
        r.register(
            "castguard_key_deliveries",
            "Key and license delivery decisions, one per key requested, by DRM system, result and reason",
            m.key_deliveries.clone(),
        );
        r.register(
            "castguard_token_verification_duration_seconds",
            "Time to evaluate a key's content key policy against the viewer token (signature, claims, OpenID Connect keys), by result",
            m.token_verification.clone(),
        );
        r.register(
            "castguard_origin_requests",
            "Origin requests for a known variant and resource, by variant, kind and status",
            m.origin_requests.clone(),
        );
        r.register(
            "castguard_origin_response_size_bytes",
            "Body bytes of origin responses (0 for HEAD and 304), by variant and kind",
            m.origin_bytes.clone(),
        );
        r.register(
            "castguard_origin_request_duration_seconds",
            "Time to build an origin response (resolve, read, encrypt), by variant and kind",
            m.origin_duration.clone(),
        );
        r.register(
            "castguard_origin_segment_cache_lookups",
            "Media segment GETs looked up in the origin's segment cache (--origin-cache-mb), by result: hit (sent as kept) or miss (encrypted)",
            m.segment_cache.clone(),
        );
        r.register(
            "castguard_origin_segment_cache_bytes",
            "Bytes of encrypted media segments the origin keeps in memory",
            m.segment_cache_bytes.clone(),
        );
        r.register(
            "castguard_rate_limited",
            "Requests refused with 429 and connections refused at accept, by limit",
            m.rate_limited.clone(),
        );
        r.register(
            "castguard_admin_auth_failures",
            "Wrong admin or metrics bearer tokens",
            m.admin_auth_failures.clone(),
        );
        r.register(
            "castguard_store_errors",
            "Store calls that failed for a reason other than the request (database unreachable, pool timeout, unreadable row...), by database and kind",
            m.store_errors.clone(),
        );
        r.register(
            "castguard_store_operation_duration_seconds",
            "Time of store calls, by operation class",
            m.store_duration.clone(),
        );
        r.register(
            "castguard_db_pool_wait_duration_seconds",
            "Time waited for a database connection, by access (write includes waiting for the single writer)",
            m.pool_wait.clone(),
        );
        r.register(
            "castguard_backend_up",
            "Whether the database and Redis answered a ping at the last scrape (1) or not (0)",
            m.backend_up.clone(),
        );
        r.register_collector(Box::new(store::PoolCollector::new(store, redis)));
        m
    }

    /// One HTTP request answered (called by [`track`]).
    fn http(&self, route: Route, method: &Method, status: StatusCode, elapsed: Duration) {
        let labels = HttpLabels {
            route: route.clone(),
            method: method_label(method),
            status: status.as_u16(),
        };
        if matches!(*method, Method::PUT | Method::DELETE)
            && labels.route.as_str().starts_with("/api/v1/")
        {
            self.api_writes.get_or_create(&labels).inc();
        }
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// One key delivery decision (one audit line). `reason` is a refusal
    /// reason code or one of the fixed words of the audit log; `-` (none)
    /// becomes `none`.
    pub fn key_decision(&self, endpoint: Endpoint, result: &'static str, reason: &'static str) {
        let reason = if reason == "-" { "none" } else { reason };
        self.key_deliveries
            .get_or_create(&KeyLabels {
                drm_system: endpoint.as_str(),
                result,
                reason,
            })
            .inc();
    }

    /// One policy evaluation: `granted`, `denied` or `error`.
    pub fn token_verification(&self, result: &'static str, elapsed: Duration) {
        self.token_verification
            .get_or_create(&ResultLabels { result })
            .observe(elapsed.as_secs_f64());
    }

    /// One origin response.
    pub fn origin(
        &self,
        variant: Variant,
        kind: &'static str,
        status: StatusCode,
        bytes: u64,
        elapsed: Duration,
    ) {
        let variant = variant.as_str();
        self.origin_requests
            .get_or_create(&OriginStatusLabels {
                variant,
                kind,
                status: status.as_u16(),
            })
            .inc();
        let labels = OriginLabels { variant, kind };
        self.origin_bytes
            .get_or_create(&labels)
            .observe(bytes as f64);
        self.origin_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// One media segment looked up in the origin's segment cache; after a
    /// miss, `kept` is the cache's size in bytes once the segment is in.
    pub fn segment_cache(&self, hit: bool, kept: Option<u64>) {
        let result = if hit { "hit" } else { "miss" };
        self.segment_cache
            .get_or_create(&ResultLabels { result })
            .inc();
        if let Some(bytes) = kept {
            self.segment_cache_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }

    /// One request or connection refused by `limit`.
    pub fn rate_limited(&self, limit: Limit) {
        self.rate_limited
            .get_or_create(&LimitLabels {
                limit: limit.as_str(),
            })
            .inc();
    }

    /// One wrong admin or metrics token.
    pub fn admin_auth_failure(&self) {
        self.admin_auth_failures.inc();
    }

    fn store_call(
        &self,
        database: &'static str,
        operation: &'static str,
        elapsed: Duration,
        error: Option<&::store::StoreError>,
    ) {
        self.store_duration
            .get_or_create(&StoreOpLabels { operation })
            .observe(elapsed.as_secs_f64());
        if let Some(kind) = error.and_then(::store::StoreError::backend_failure) {
            self.store_errors
                .get_or_create(&StoreErrorLabels { database, kind })
                .inc();
        }
    }

    fn backend_up(&self, backend: &'static str, up: bool) {
        self.backend_up
            .get_or_create(&BackendLabels { backend })
            .set(i64::from(up));
    }

    /// The registry as text: OpenMetrics 1.0 (`openmetrics`) or the
    /// Prometheus text format 0.0.4.
    pub fn encode(&self, openmetrics: bool) -> String {
        let mut out = String::new();
        let done = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        };
        // Writing to a String fails only if a Display impl does; ours are
        // fixed words and numbers.
        if let Err(e) = done {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }

    /// An observer of connection pool waits, for
    /// [`::store::Store::set_pool_observer`].
    pub fn pool_observer(self: &Arc<Self>) -> Arc<dyn ::store::PoolObserver> {
        Arc::new(store::WaitObserver(Arc::downgrade(self)))
    }
}

/// Middleware counting every request by route template, method and status
/// (`Router::layer`, so the matched route is known).
pub(crate) async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = Route(req.extensions().get::<MatchedPath>().cloned());
    let method = req.method().clone();
    let started = Instant::now();
    let res = next.run(req).await;
    m.http(route, &method, res.status(), started.elapsed());
    res
}

/// Wraps `router` in [`track`].
pub(crate) fn tracked(router: Router, metrics: Arc<Metrics>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(metrics, track))
}

/// Pings the database (and Redis when the replay counters live there)
/// for `castguard_backend_up`, then encodes.
async fn scrape(s: &AppState, accept: Option<&HeaderValue>) -> Response {
    let timeout = crate::delivery::health::READY_TIMEOUT;
    let db = tokio::time::timeout(timeout, s.store().ping()).await;
    s.metrics().backend_up("database", matches!(db, Ok(Ok(()))));
    let counters = s.token_uses();
    if counters.backend() == "redis" {
        let r = tokio::time::timeout(timeout, counters.ping()).await;
        s.metrics().backend_up("redis", matches!(r, Ok(Ok(()))));
    }
    let openmetrics = accept
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let body = s.metrics().encode(openmetrics);
    let content_type = if openmetrics {
        OPENMETRICS_CONTENT_TYPE
    } else {
        PROMETHEUS_CONTENT_TYPE
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// `GET /metrics` on the public port: 404 unless a metrics token is set,
/// then 401 without it (429 after too many wrong ones from one address).
pub(crate) async fn public_metrics(
    State(s): State<AppState>,
    req: axum::http::request::Parts,
) -> Response {
    let Some(token) = s.inner.metrics_token.get() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match crate::auth::check_bearer(&req, &s, token) {
        Ok(()) => scrape(&s, req.headers.get(header::ACCEPT)).await,
        Err(e) => crate::auth::bearer_refusal(e, "missing or invalid metrics token"),
    }
}

/// The metrics listener's whole router: `GET /metrics`, no token (keep
/// the listener on a private address), 404 elsewhere.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                |State(s): State<AppState>, headers: axum::http::HeaderMap| async move {
                    scrape(&s, headers.get(header::ACCEPT)).await
                },
            ),
        )
        .with_state(state)
}
