//! Prometheus metrics through the router (`app(state).oneshot(...)` on a
//! real SQLite store): `/metrics` is closed on the public port without a
//! token (404) and needs it once set (401, then 200); key refusals count
//! under their reason, API writes and rate-limit refusals under theirs;
//! store failures and pool figures appear; the separate metrics listener
//! answers over TCP. Every exposition read here goes through the strict
//! parser of `support/prom.rs`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde_json::json;
use server::delivery::DeliveryConfig;
use server::delivery::guard::GuardConfig;
use server::limits::Rate;
use server::{AdminToken, AppState, app};
use tower::ServiceExt as _;
use uuid::Uuid;

#[path = "support/prom.rs"]
mod prom;
#[path = "support/app.rs"]
mod app;

const ADMIN: &str = "metrics-admin-token-0123456789";
const METRICS_TOKEN: &str = "metrics-scrape-token-0123456789";
const SECRET: &[u8] = b"metrics-test-hmac-secret-0123456789abcdef";
const AES_KID: Uuid = Uuid::from_u128(0x2000_0000_1000_4000_8000_0000_0000_00a1);

struct Env {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Env {
    /// An AES key under a token-restricted policy; `guard` sets the rate
    /// limits.
    async fn new(guard: GuardConfig) -> Env {
        let (state, dir) = app::state(ADMIN, DeliveryConfig { guard, ..app::config() }).await;
        let policy = json!({"name": "entitled", "options": [{
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
                "issuer": "https://issuer.test", "audience": "viewers", "restrictionTokenType": "Jwt",
                "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
                    "keyValue": base64::engine::general_purpose::STANDARD.encode(SECRET)}}}]});
        let s = state.store();
        s.put_content_key_policy(keys::model::from_json(&policy.to_string()).unwrap())
            .await
            .unwrap();
        s.put_content_key(keys::model::ContentKeyWithValue {
            key: keys::model::ContentKey {
                name: "aes".into(),
                key_id: AES_KID,
                key_type: keys::model::ContentKeyType::EnvelopeEncryption,
                label: None,
                policy_name: Some("entitled".into()),
                created: None,
                last_modified: None,
            },
            value: keys::model::ContentKeyValue::new([7u8; 16]),
        })
        .await
        .unwrap();
        Env { state, _dir: dir }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    async fn get(
        &self,
        uri: &str,
        bearer: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut b = Request::get(uri);
        if let Some(t) = bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    /// The exposition as a scraper reads it (through the registry, not
    /// the router, so that the scrape itself is not counted).
    fn scrape(&self) -> prom::Exposition {
        prom::parse(&self.state.metrics().encode(false))
    }
}

fn token(claims: serde_json::Value) -> String {
    let mut c = json!({"iss": "https://issuer.test", "aud": "viewers",
        "exp": time::OffsetDateTime::now_utc().unix_timestamp() + 600});
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    keys::sts::SigningKey::hs256("k", SECRET)
        .unwrap()
        .sign(c.as_object().unwrap())
        .unwrap()
}

#[tokio::test]
async fn metrics_route_is_closed_without_a_token_and_needs_it_once_set() {
    let env = Env::new(GuardConfig::default()).await;
    let (s, _, _) = env.get("/metrics", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no token configured: no metrics");
    let (s, _, _) = env.get("/metrics", Some(ADMIN)).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "the admin token opens nothing here"
    );

    env.state
        .set_metrics_token(AdminToken::new(METRICS_TOKEN.into()).unwrap());
    let (s, h, body) = env.get("/metrics", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer");
    assert!(!body.contains("castguard_"), "{body}");
    let (s, _, _) = env
        .get("/metrics", Some("metrics-scrape-token-012345678X"))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        env.scrape()
            .value("castguard_admin_auth_failures_total", &[]),
        1.0
    );

    let (s, h, body) = env.get("/metrics", Some(METRICS_TOKEN)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h[header::CONTENT_TYPE],
        server::metrics::PROMETHEUS_CONTENT_TYPE
    );
    let e = prom::parse(&body);
    assert_eq!(
        e.value(
            "castguard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(
        e.value("castguard_backend_up", &[("backend", "database")]),
        1.0
    );
    assert_eq!(
        e.value(
            "castguard_http_requests_total",
            &[("route", "/metrics"), ("method", "GET"), ("status", "401")]
        ),
        2.0
    );
    assert_eq!(
        e.value(
            "castguard_db_pool_max_connections",
            &[("database", "sqlite"), ("pool", "writer")]
        ),
        1.0
    );
    // No path, key ID or token ever becomes a label.
    assert!(!body.contains(METRICS_TOKEN) && !body.contains(&AES_KID.to_string()));

    // OpenMetrics when asked for, as Prometheus does.
    let req = Request::get("/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {METRICS_TOKEN}"))
        .header(
            header::ACCEPT,
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .body(Body::empty())
        .unwrap();
    let (s, h, body) = env.send(req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h[header::CONTENT_TYPE],
        server::metrics::OPENMETRICS_CONTENT_TYPE
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains("# TYPE castguard_http_requests counter"),
        "{body}"
    );
    assert!(body.contains("castguard_http_requests_total{"), "{body}");
}

#[tokio::test]
async fn key_decisions_count_by_drm_system_result_and_reason() {
    let env = Env::new(GuardConfig::default()).await;
    let uri = format!("/keys/v1/aes/{AES_KID}");
    assert_eq!(env.get(&uri, None).await.0, StatusCode::UNAUTHORIZED);
    let outsider = token(json!({"aud": "someone-else"}));
    assert_eq!(
        env.get(&uri, Some(&outsider)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let good = token(json!({}));
    assert_eq!(env.get(&uri, Some(&good)).await.0, StatusCode::OK);
    let unknown = format!("/keys/v1/aes/{}", Uuid::from_u128(9));
    assert_eq!(
        env.get(&unknown, Some(&good)).await.0,
        StatusCode::NOT_FOUND
    );

    let e = env.scrape();
    let key = |result, reason| {
        e.value(
            "castguard_key_deliveries_total",
            &[
                ("drm_system", "aes"),
                ("result", result),
                ("reason", reason),
            ],
        )
    };
    assert_eq!(key("denied", "token_missing"), 1.0);
    assert_eq!(key("denied", "audience_mismatch"), 1.0);
    assert_eq!(key("granted", "none"), 1.0);
    assert_eq!(key("not_found", "none"), 1.0);
    assert_eq!(
        e.value(
            "castguard_key_deliveries_total",
            &[("drm_system", "clearkey")]
        ),
        0.0
    );
    let verified = |result| {
        e.value(
            "castguard_token_verification_duration_seconds_count",
            &[("result", result)],
        )
    };
    assert_eq!((verified("denied"), verified("granted")), (2.0, 1.0));
    assert_eq!(
        e.value(
            "castguard_http_requests_total",
            &[("route", "/keys/v1/aes/{kid}"), ("status", "401")]
        ),
        2.0
    );
    // Reads of the store waited for reader connections.
    assert!(
        e.value(
            "castguard_db_pool_wait_duration_seconds_count",
            &[("access", "read")]
        ) >= 3.0
    );
    assert!(
        e.value(
            "castguard_store_operation_duration_seconds_count",
            &[("operation", "read")]
        ) >= 3.0
    );
}

#[tokio::test]
async fn api_writes_rate_limits_and_store_failures_are_counted() {
    let env = Env::new(GuardConfig {
        per_token: Some(Rate {
            per_second: 0.01,
            burst: 1,
        }),
        ..GuardConfig::default()
    })
    .await;
    let put = Request::put("/api/v1/content-key-policies/open")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"options": [{"configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
                "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]})
            .to_string(),
        ))
        .unwrap();
    assert_eq!(env.send(put).await.0, StatusCode::CREATED);
    let del = Request::delete("/api/v1/assets/none")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(env.send(del).await.0, StatusCode::NOT_FOUND);
    let (s, _, _) = env.get("/api/v1/assets", Some(ADMIN)).await;
    assert_eq!(s, StatusCode::OK);

    // The same viewer token twice: the second is over its rate.
    let good = token(json!({}));
    let uri = format!("/keys/v1/aes/{AES_KID}");
    assert_eq!(env.get(&uri, Some(&good)).await.0, StatusCode::OK);
    assert_eq!(
        env.get(&uri, Some(&good)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    let e = env.scrape();
    let writes = |route, method, status| {
        e.value(
            "castguard_api_writes_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(
        writes("/api/v1/content-key-policies/{name}", "PUT", "201"),
        1.0
    );
    assert_eq!(writes("/api/v1/assets/{name}", "DELETE", "404"), 1.0);
    assert_eq!(
        e.value("castguard_api_writes_total", &[("method", "GET")]),
        0.0,
        "reads are no writes"
    );
    assert_eq!(
        e.value("castguard_rate_limited_total", &[("limit", "token")]),
        1.0
    );
    assert_eq!(
        e.value("castguard_store_errors_total", &[]),
        0.0,
        "a missing entity is no store failure"
    );

    // A store that no longer answers: its failures count, and the
    // readiness gauge drops.
    env.state.store().close().await;
    let (s, _, _) = env.get("/api/v1/assets", Some(ADMIN)).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve_listeners(
        vec![server::Listener::plain(listener)],
        server::metrics::router(env.state.clone()),
        server::HttpLimits::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let e = prom::parse(&body);
    assert!(
        e.value(
            "castguard_store_errors_total",
            &[("database", "sqlite"), ("kind", "database")]
        ) >= 1.0,
        "{body}"
    );
    assert_eq!(
        e.value("castguard_backend_up", &[("backend", "database")]),
        0.0
    );
    assert_eq!(
        e.value(
            "castguard_http_requests_total",
            &[("route", "/api/v1/assets"), ("status", "500")]
        ),
        1.0
    );
    drop(stop);
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn separate_listener_serves_metrics_without_a_token_and_nothing_else() {
    let env = Env::new(GuardConfig::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve_listeners(
        vec![server::Listener::plain(listener)],
        server::metrics::router(env.state.clone()),
        server::HttpLimits::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    // A request on the main router first, to see it counted there.
    assert_eq!(env.get("/healthz", None).await.0, StatusCode::OK);
    let http = reqwest::Client::new();
    let res = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let e = prom::parse(&res.text().await.unwrap());
    assert_eq!(
        e.value(
            "castguard_http_requests_total",
            &[("route", "/healthz"), ("status", "200")]
        ),
        1.0
    );
    for other in ["/", "/api/v1/assets", "/keys/v1/clearkey", "/healthz"] {
        let res = http
            .get(format!("http://{addr}{other}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{other}");
    }
    drop(stop);
    serving.await.unwrap().unwrap();
}
