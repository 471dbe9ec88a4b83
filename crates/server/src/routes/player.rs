//! The test player (DESIGN.md "URLs": `/player`; issue 6, item 2).
//!
//! - `GET /player` — the page (`player/index.html`), and
//!   `GET /player/assets/{file}` — its script, style and the vendored
//!   shaka-player build with its licence. All are embedded in the binary
//!   (`crates/server/assets/`, copied by `scripts/vendor-player.sh`), so
//!   `castguard serve` needs no network and no node at run time.
//! - `GET /player/api/demo` — what the page lists: the demo streams (name,
//!   format, protection, manifest path under `/s/...`) and the license URLs of
//!   the key systems (W3C Clear Key always; Widevine/PlayReady/FairPlay when
//!   configured). Without a demo the list is empty.
//! - `POST /player/api/demo-token {"user":"entitled"|"outsider"|"expired"}` —
//!   only when the server runs the demo: a JWT signed with the server's STS
//!   key (RFC 7519), for one of three demo users. The tokens are ordinary
//!   tokens: key delivery validates them against the demo content key
//!   policy like any other, so "outsider" (no `EntitledUsers` in `groups`)
//!   and "expired" (`exp` an hour in the past, beyond any clock skew) are
//!   really refused. Without the demo the route answers 404, so a production
//!   server never hands out tokens to anonymous callers; with it, only
//!   loopback clients (peer on 127.0.0.0/8 or ::1, no forwarding header)
//!   get tokens unless [`PlayerState::demo_public`] (403
//!   `demo_loopback_only` otherwise): a server started without
//!   `--no-demo` on a public address does not hand `EntitledUsers` tokens
//!   to the world.
//!
//! The router carries its own state ([`PlayerState`]) so it merges into any
//! `Router<S>`.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use keys::sts::{Issuer, StsError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

// The page source lives once, in the repository's player/ folder.
const INDEX_HTML: &str = include_str!("../../../../player/index.html");
const PLAYER_JS: &str = include_str!("../../../../player/player.js");
const STYLE_CSS: &str = include_str!("../../../../player/style.css");
const SHAKA_JS: &[u8] = include_bytes!("../../assets/shaka-player.compiled.js");
const SHAKA_LICENSE: &str = include_str!("../../assets/shaka-player.LICENSE");
const SHAKA_VERSION: &str = include_str!("../../assets/shaka-player.VERSION");

/// The group claim the demo content key policy requires.
pub const DEMO_GROUP: &str = "EntitledUsers";
/// The claim that carries groups.
pub const GROUPS_CLAIM: &str = "groups";
/// Lifetime of the entitled and outsider demo tokens.
pub const DEMO_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// One of the demo users the page can ask a token for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoUser {
    /// In `EntitledUsers`: gets keys and licenses.
    Entitled,
    /// A valid token from the same issuer, in another group only.
    Outsider,
    /// Entitled, but the token expired an hour ago.
    Expired,
}

impl DemoUser {
    pub const ALL: [DemoUser; 3] = [DemoUser::Entitled, DemoUser::Outsider, DemoUser::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            DemoUser::Entitled => "entitled",
            DemoUser::Outsider => "outsider",
            DemoUser::Expired => "expired",
        }
    }

    fn description(self) -> &'static str {
        match self {
            DemoUser::Entitled => "groups: [EntitledUsers]",
            DemoUser::Outsider => "groups: [Guests], not entitled",
            DemoUser::Expired => "groups: [EntitledUsers], expired an hour ago",
        }
    }
}

/// A minted demo token.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoToken {
    pub user: DemoUser,
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub description: &'static str,
}

impl std::fmt::Debug for DemoToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoToken")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Mints demo tokens as the server's STS: same issuer URL, same signing key
/// (see `castguard::demo`), audience of the demo policy.
#[derive(Debug)]
pub struct DemoTokens {
    issuer: Issuer,
    audience: String,
}

impl DemoTokens {
    pub fn new(issuer: Issuer, audience: impl Into<String>) -> Self {
        DemoTokens {
            issuer,
            audience: audience.into(),
        }
    }

    pub fn issuer_url(&self) -> &str {
        &self.issuer.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// A token for `user`, as of `now`.
    pub fn mint(&self, user: DemoUser, now: OffsetDateTime) -> Result<DemoToken, StsError> {
        let mut claims = Map::new();
        claims.insert(
            "sub".into(),
            Value::String(format!("demo-{}", user.as_str())),
        );
        claims.insert("aud".into(), Value::String(self.audience.clone()));
        let groups = match user {
            DemoUser::Entitled | DemoUser::Expired => json!([DEMO_GROUP, "DemoViewers"]),
            DemoUser::Outsider => json!(["Guests", "DemoViewers"]),
        };
        claims.insert(GROUPS_CLAIM.into(), groups);
        // Expired: issued two hours ago for one hour, far past the verifier's
        // clock skew (300 s by default).
        let issued = match user {
            DemoUser::Expired => now - time::Duration::hours(2),
            _ => now,
        };
        let token = self.issuer.issue_at(claims, DEMO_TOKEN_LIFETIME, issued)?;
        let expires_at = issued + time::Duration::seconds(DEMO_TOKEN_LIFETIME.as_secs() as i64);
        Ok(DemoToken {
            user,
            token,
            expires_at,
            description: user.description(),
        })
    }
}

/// A stream the page lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoLocator {
    /// Stable name the page and tests select by (`?stream=`).
    pub name: String,
    pub title: String,
    /// `dash` or `hls`.
    pub format: &'static str,
    /// `clear`, `cenc`, `cbcs` or `aes128` (the origin's variant).
    pub protection: &'static str,
    /// Manifest path on this server: `/s/{streamingLocatorId}/{variant}/...`.
    pub manifest: String,
}

/// What `GET /player/api/demo` answers.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoCatalog {
    pub locators: Vec<DemoLocator>,
    /// EME key system (`org.w3.clearkey`, `com.widevine.alpha`,
    /// `com.microsoft.playready`, `com.apple.fps`) → license URL.
    pub license_servers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fairplay_certificate: Option<String>,
}

/// State of the player routes: the catalog, and the token minter only when
/// the demo runs.
#[derive(Clone, Debug, Default)]
pub struct PlayerState {
    catalog: Arc<DemoCatalog>,
    tokens: Option<Arc<DemoTokens>>,
    /// Demo tokens for any client, not only loopback ones.
    public: bool,
}

impl PlayerState {
    /// No demo: the page with an empty list and no demo tokens.
    pub fn without_demo(license_servers: BTreeMap<String, String>) -> Self {
        PlayerState {
            catalog: Arc::new(DemoCatalog {
                license_servers,
                ..DemoCatalog::default()
            }),
            tokens: None,
            public: false,
        }
    }

    pub fn with_demo(catalog: DemoCatalog, tokens: DemoTokens) -> Self {
        PlayerState {
            catalog: Arc::new(catalog),
            tokens: Some(Arc::new(tokens)),
            public: false,
        }
    }

    /// Whether demo tokens go to any client (`castguard serve
    /// --demo-public`) rather than to loopback clients only.
    pub fn demo_public(mut self, on: bool) -> Self {
        self.public = on;
        self
    }

    pub fn is_demo_public(&self) -> bool {
        self.public
    }

    pub fn catalog(&self) -> &DemoCatalog {
        &self.catalog
    }

    pub fn tokens(&self) -> Option<&DemoTokens> {
        self.tokens.as_deref()
    }
}

/// `/player`, `/player/assets/{file}`, `/player/api/demo`,
/// `/player/api/demo-token`, for merging into any router.
pub fn router<S: Clone + Send + Sync + 'static>(state: PlayerState) -> Router<S> {
    Router::new()
        .route("/player", get(page))
        .route("/player/", get(page))
        .route("/player/assets/{file}", get(asset))
        .route("/player/api/demo", get(demo))
        .route("/player/api/demo-token", post(demo_token))
        .with_state(state)
}

fn with_type(body: impl IntoResponse, content_type: &'static str, cache: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn page() -> Response {
    with_type(INDEX_HTML, "text/html; charset=utf-8", "no-cache")
}

async fn asset(Path(file): Path<String>) -> Response {
    // The page's own files change with the binary: revalidate. The
    // vendored library is versioned by the binary too, so the same rule.
    match file.as_str() {
        "player.js" => with_type(PLAYER_JS, "text/javascript; charset=utf-8", "no-cache"),
        "style.css" => with_type(STYLE_CSS, "text/css; charset=utf-8", "no-cache"),
        "shaka-player.compiled.js" => with_type(
            SHAKA_JS,
            "text/javascript; charset=utf-8",
            "public, max-age=3600",
        ),
        "shaka-player.LICENSE" => with_type(
            SHAKA_LICENSE,
            "text/plain; charset=utf-8",
            "public, max-age=3600",
        ),
        "shaka-player.VERSION" => with_type(SHAKA_VERSION, "text/plain; charset=utf-8", "no-cache"),
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such player asset"),
    }
}

fn error(status: StatusCode, code: &'static str, message: &'static str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DemoResponse<'a> {
    /// Whether `POST /player/api/demo-token` works.
    demo: bool,
    users: Vec<&'static str>,
    #[serde(flatten)]
    catalog: &'a DemoCatalog,
}

async fn demo(State(s): State<PlayerState>) -> Response {
    let on = s.tokens.is_some();
    let users = if on {
        DemoUser::ALL.iter().map(|u| u.as_str()).collect()
    } else {
        Vec::new()
    };
    let mut r = Json(DemoResponse {
        demo: on,
        users,
        catalog: &s.catalog,
    })
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    user: DemoUser,
}

/// Largest demo token request (`{"user":"entitled"}` is 19 bytes).
const DEMO_TOKEN_BODY_LIMIT: usize = 4096;

/// Whether a demo token request comes from this machine: the socket peer
/// is a loopback address and no forwarding header says it relays someone
/// else (a reverse proxy on the same machine would otherwise make every
/// client look local).
fn from_loopback(req: &axum::extract::Request) -> bool {
    let peer_is_loopback = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| c.0.ip().to_canonical().is_loopback());
    let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| req.headers().contains_key(*h));
    peer_is_loopback && !forwarded
}

async fn demo_token(State(s): State<PlayerState>, req: axum::extract::Request) -> Response {
    let Some(tokens) = s.tokens.as_deref() else {
        return error(
            StatusCode::NOT_FOUND,
            "demo_disabled",
            "this server runs without the demo",
        );
    };
    if !s.public && !from_loopback(&req) {
        tracing::debug!("demo token refused: not a loopback client");
        return error(
            StatusCode::FORBIDDEN,
            "demo_loopback_only",
            "demo tokens are handed to clients on this machine only (castguard serve --demo-public opens them to all)",
        );
    }
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large",
        )
    };
    if crate::limits::refuse_before_continue(&headers, DEMO_TOKEN_BODY_LIMIT as u64) {
        return too_large();
    }
    let Ok(body) = axum::body::to_bytes(body, DEMO_TOKEN_BODY_LIMIT).await else {
        return too_large();
    };
    let Ok(req) = serde_json::from_slice::<TokenRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected {\"user\":\"entitled\"|\"outsider\"|\"expired\"}",
        );
    };
    match tokens.mint(req.user, OffsetDateTime::now_utc()) {
        Ok(t) => {
            let mut r = Json(t).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "demo token");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "could not mint a demo token",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use keys::model::TokenType;
    use keys::sts::SigningKey;
    use keys::token::{Reason, VerificationKey, Verifier, VerifierConfig};
    use tower::ServiceExt as _;

    const ISS: &str = "http://127.0.0.1:8080/sts";
    const AUD: &str = "castguard-demo";

    fn demo_state() -> (PlayerState, serde_json::Value) {
        let issuer = Issuer::new(ISS, SigningKey::generate_es256("demo").unwrap());
        let jwks = issuer.jwks(OffsetDateTime::now_utc());
        let catalog = DemoCatalog {
            locators: vec![DemoLocator {
                name: "demo-cenc".into(),
                title: "DASH cenc".into(),
                format: "dash",
                protection: "cenc",
                manifest: "/s/0b7c9d1e-0000-4000-8000-000000000000/cenc/manifest.mpd".into(),
            }],
            license_servers: BTreeMap::from([(
                "org.w3.clearkey".into(),
                "http://127.0.0.1:8080/keys/v1/clearkey".into(),
            )]),
            fairplay_certificate: None,
        };
        (
            PlayerState::with_demo(catalog, DemoTokens::new(issuer, AUD)),
            jwks,
        )
    }

    async fn call(app: Router, req: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
        let r = app.oneshot(req).await.unwrap();
        let ct = r
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        (
            r.status(),
            ct,
            r.into_body().collect().await.unwrap().to_bytes().to_vec(),
        )
    }

    /// A demo token request from `peer`.
    fn post_user_from(user: &str, peer: &str) -> Request<Body> {
        let mut req = Request::post("/player/api/demo-token")
            .body(Body::from(format!("{{\"user\":\"{user}\"}}")))
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer.parse::<std::net::SocketAddr>().unwrap()));
        req
    }

    fn post_user(user: &str) -> Request<Body> {
        post_user_from(user, "127.0.0.1:50000")
    }

    /// The demo hands tokens to loopback clients only: not to another
    /// address, not through a proxy (a forwarding header), not without a
    /// known peer; `--demo-public` (`PlayerState::demo_public`) opens it.
    #[tokio::test]
    async fn demo_tokens_for_loopback_clients_only() {
        let (state, _) = demo_state();
        let app: Router = router(state.clone());
        assert_eq!(call(app.clone(), post_user_from("entitled", "[::1]:9")).await.0, StatusCode::OK);
        for _ in 0..3 {
            let (st, _, body) = call(app.clone(), post_user_from("entitled", "192.0.2.7:40000")).await;
            assert_eq!(st, StatusCode::FORBIDDEN);
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"]["code"], "demo_loopback_only");
            assert!(v.get("token").is_none());
        }
        let mut proxied = post_user("entitled");
        proxied
            .headers_mut()
            .insert("x-forwarded-for", HeaderValue::from_static("198.51.100.1"));
        assert_eq!(call(app.clone(), proxied).await.0, StatusCode::FORBIDDEN);
        let no_peer = Request::post("/player/api/demo-token")
            .body(Body::from("{\"user\":\"entitled\"}"))
            .unwrap();
        assert_eq!(call(app.clone(), no_peer).await.0, StatusCode::FORBIDDEN);
        let public: Router = router(state.demo_public(true));
        assert_eq!(
            call(public, post_user_from("entitled", "192.0.2.7:40000")).await.0,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn page_and_assets_are_embedded() {
        let app: Router = router(PlayerState::default());
        let (st, ct, body) = call(
            app.clone(),
            Request::get("/player").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(ct.as_deref(), Some("text/html; charset=utf-8"));
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("/player/assets/shaka-player.compiled.js")
        );
        let (st, ct, body) = call(
            app.clone(),
            Request::get("/player/assets/shaka-player.compiled.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            (st, ct.as_deref()),
            (StatusCode::OK, Some("text/javascript; charset=utf-8"))
        );
        assert!(body.len() > 500_000 && body.starts_with(b"/*\n @license\n Shaka Player"));
        for f in [
            "player.js",
            "style.css",
            "shaka-player.LICENSE",
            "shaka-player.VERSION",
        ] {
            let (st, _, _) = call(
                app.clone(),
                Request::get(format!("/player/assets/{f}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(st, StatusCode::OK, "{f}");
        }
        for bad in [
            "/player/assets/index.html",
            "/player/assets/..%2FCargo.toml",
            "/player/assets/nope.js",
        ] {
            let (st, _, _) =
                call(app.clone(), Request::get(bad).body(Body::empty()).unwrap()).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{bad}");
        }
    }

    #[tokio::test]
    async fn without_demo_no_tokens_are_handed_out() {
        let app: Router = router(PlayerState::without_demo(BTreeMap::new()));
        let (st, _, body) = call(
            app.clone(),
            Request::get("/player/api/demo")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["demo"], false);
        assert_eq!(v["locators"], json!([]));
        let (st, _, body) = call(app, post_user("entitled")).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
            "demo_disabled"
        );
    }

    #[tokio::test]
    async fn demo_catalog_lists_locators_and_license_servers() {
        let (state, _) = demo_state();
        let (st, _, body) = call(
            router(state),
            Request::get("/player/api/demo")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["demo"], true);
        assert_eq!(v["users"], json!(["entitled", "outsider", "expired"]));
        assert_eq!(v["locators"][0]["protection"], "cenc");
        assert_eq!(v["locators"][0]["format"], "dash");
        assert_eq!(
            v["licenseServers"]["org.w3.clearkey"],
            "http://127.0.0.1:8080/keys/v1/clearkey"
        );
    }

    /// The demo tokens are judged by the real verifier with the policy's
    /// rule (groups contains EntitledUsers): entitled passes, outsider lacks
    /// the claim, expired is expired.
    #[tokio::test]
    async fn demo_tokens_verify_as_their_user_should() {
        let (state, jwks) = demo_state();
        let app: Router = router(state);
        let keys = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| VerificationKey::jwk(k).unwrap())
            .collect();
        let required = vec![(GROUPS_CLAIM.to_owned(), Some(DEMO_GROUP.to_owned()))];
        let verifier = Verifier::with_keys(
            TokenType::Jwt,
            ISS,
            AUD,
            keys,
            required,
            VerifierConfig::default(),
        )
        .unwrap();
        let now = OffsetDateTime::now_utc();
        let mut got = Vec::new();
        for user in ["entitled", "outsider", "expired"] {
            let (st, _, body) = call(app.clone(), post_user(user)).await;
            assert_eq!(st, StatusCode::OK, "{user}");
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["user"], user);
            let r = verifier
                .verify(v["token"].as_str().unwrap(), now)
                .await
                .map(|_| ())
                .map_err(|e| e.reason());
            got.push(r);
        }
        assert_eq!(
            got,
            vec![
                Ok(()),
                Err(Some(Reason::ClaimMissing)),
                Err(Some(Reason::TokenExpired))
            ]
        );
    }

    #[tokio::test]
    async fn bad_token_requests_are_refused() {
        let (state, _) = demo_state();
        let app: Router = router(state);
        for body in [
            "",
            "{}",
            "{\"user\":\"root\"}",
            "{\"user\":\"entitled\",\"groups\":[\"EntitledUsers\"]}",
            "[]",
        ] {
            let mut req = Request::post("/player/api/demo-token")
                .body(Body::from(body))
                .unwrap();
            req.extensions_mut().insert(axum::extract::ConnectInfo(
                "127.0.0.1:1".parse::<std::net::SocketAddr>().unwrap(),
            ));
            let (st, _, resp) = call(app.clone(), req).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(
                serde_json::from_slice::<Value>(&resp).unwrap()["error"]["code"],
                "invalid_request"
            );
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let (state, _) = demo_state();
        let t = state
            .tokens()
            .unwrap()
            .mint(DemoUser::Entitled, OffsetDateTime::now_utc())
            .unwrap();
        assert!(!format!("{t:?}").contains(&t.token[..20]));
    }
}
