//! Two nodes over one Postgres (issue 7): two `AppState`s on two stores
//! (two pools, as two processes would have) of the same database. Both
//! publish the same STS keys, a token issued by one is accepted by the
//! other, and an edit or a key rotation through one node takes effect on
//! the other at once, not after its cache TTL. Needs the Postgres of
//! scripts/start-services.sh (fails in CI without it).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use keys::model::{
    ContentKey, ContentKeyPolicy, ContentKeyType, ContentKeyValue, ContentKeyWithValue,
};
use serde_json::{Value, json};
use server::delivery::DeliveryConfig;
use server::{AdminToken, AppState, app};
use std::time::{Duration, Instant};
use tower::ServiceExt as _;
use uuid::Uuid;

const ADMIN: &str = "cluster-admin-token-0123456789";
const KID: Uuid = Uuid::from_u128(0x2000_0000_1000_4000_8000_0000_0000_00a1);

struct Node {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start(url: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let store = store::open(url, dir.path(), store::Kek::from_bytes([5; 32]))
            .await
            .unwrap();
        // A long TTL: only the change events can make an edit visible.
        let config = DeliveryConfig {
            cache_ttl: Duration::from_secs(600),
            ..DeliveryConfig::for_listen_addr("cdn.example:443")
        };
        let state = AppState::with_delivery(
            store,
            dir.path(),
            AdminToken::new(ADMIN.into()).unwrap(),
            config,
        );
        Node { state, _dir: dir }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        (
            status,
            res.into_body().collect().await.unwrap().to_bytes().to_vec(),
        )
    }

    async fn jwks(&self) -> Value {
        let (s, body) = self
            .send(Request::get("/sts/jwks.json").body(Body::empty()).unwrap())
            .await;
        assert_eq!(s, StatusCode::OK);
        serde_json::from_slice(&body).unwrap()
    }

    async fn token(&self, claims: Value) -> String {
        let (s, body) = self
            .send(
                Request::post("/sts/token")
                    .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json!({"claims": claims}).to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        serde_json::from_slice::<Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn aes(&self, token: &str) -> (StatusCode, Vec<u8>) {
        self.send(
            Request::get(format!("/keys/v1/aes/{KID}"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

/// A policy trusting the STS key `key`, requiring `groups` = `group`.
fn sts_policy(issuer: &str, key: Value, group: &str) -> ContentKeyPolicy {
    keys::model::from_json(
        &json!({"name": "sts", "options": [{
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
                "issuer": issuer, "audience": "viewers", "restrictionTokenType": "Jwt",
                "primaryVerificationKey": key,
                "requiredClaims": [{"claimType": "groups", "claimValue": group}]}}]})
        .to_string(),
    )
    .unwrap()
}

/// Polls `check` until it holds, for at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while !check().await {
        assert!(t.elapsed() < limit, "not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_sts_keys_and_see_each_others_edits() {
    let Some(url) = store::testing::postgres_database().await else {
        return;
    };
    let (a, b) = (Node::start(&url).await, Node::start(&url).await);

    // First use on both at once: one key ring is created, both publish it.
    let (ja, jb) = tokio::join!(a.jwks(), b.jwks());
    assert_eq!(ja, jb);
    assert_eq!(ja["keys"].as_array().unwrap().len(), 1);

    // A token issued by a, a policy written through a, a key through b,
    // delivered by b.
    let sts_b = b.state.delivery().sts().await.unwrap();
    let key = serde_json::to_value(sts_b.rsa_token_key().unwrap()).unwrap();
    let issuer = sts_b.issuer();
    a.state
        .store()
        .put_content_key_policy(sts_policy(&issuer, key.clone(), "gold"))
        .await
        .unwrap();
    b.state
        .store()
        .put_content_key(ContentKeyWithValue {
            key: ContentKey {
                name: "k".into(),
                key_id: KID,
                key_type: ContentKeyType::EnvelopeEncryption,
                label: None,
                policy_name: Some("sts".into()),
                created: None,
                last_modified: None,
            },
            value: ContentKeyValue::new([7; 16]),
        })
        .await
        .unwrap();
    let gold = a.token(json!({"aud": "viewers", "groups": ["gold"]})).await;
    let silver = a
        .token(json!({"aud": "viewers", "groups": ["silver"]}))
        .await;
    assert_eq!(b.aes(&gold).await, (StatusCode::OK, vec![7; 16]));
    assert_eq!(b.aes(&silver).await.0, StatusCode::UNAUTHORIZED);

    // An edit through a reaches b's caches at once (the TTL is 10 minutes).
    a.state
        .store()
        .put_content_key_policy(sts_policy(&issuer, key, "silver"))
        .await
        .unwrap();
    let took = within(Duration::from_secs(1), || async {
        b.aes(&silver).await.0 == StatusCode::OK
    })
    .await;
    assert_eq!(b.aes(&gold).await.0, StatusCode::UNAUTHORIZED);
    eprintln!("policy edit on a seen by b after {took:?}");

    // A rotation on a: b publishes the new ring, and tokens signed with the
    // old key stay valid on both (the old key is still published).
    let sts_a = a.state.delivery().sts().await.unwrap();
    sts_a.rotate(a.state.store()).await.unwrap();
    let rotated = a.jwks().await;
    assert_eq!(rotated["keys"].as_array().unwrap().len(), 2);
    let took = within(Duration::from_secs(1), || async {
        b.jwks().await == rotated
    })
    .await;
    eprintln!("STS rotation on a seen by b after {took:?}");
    let new_token = b.token(json!({"aud": "viewers"})).await;
    let kid_of = |t: &str| {
        use base64::Engine as _;
        let header = t.split('.').next().unwrap();
        let h: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .unwrap(),
        )
        .unwrap();
        h["kid"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        kid_of(&new_token),
        rotated["keys"][0]["kid"].as_str().unwrap()
    );
    assert_eq!(
        b.aes(&silver).await.0,
        StatusCode::OK,
        "a token signed before the rotation is still accepted"
    );
    a.state.store().close().await;
    b.state.store().close().await;
}

/// `/readyz` says 503 while the database refuses the node (its
/// connections killed, new ones refused), and 200 again once it is back;
/// `/healthz` stays 200 (the process is alive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database() {
    let Some(url) = store::testing::postgres_database().await else {
        return;
    };
    let node = Node::start(&url).await;
    let probe = |path: &'static str| {
        let node = &node;
        async move {
            node.send(Request::get(path).body(Body::empty()).unwrap())
                .await
                .0
        }
    };
    assert_eq!(probe("/readyz").await, StatusCode::OK);
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    store::testing::postgres_admin(&format!(
        "ALTER DATABASE {db} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ))
    .await;
    let t = Instant::now();
    assert_eq!(probe("/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert_eq!(probe("/healthz").await, StatusCode::OK);
    store::testing::postgres_admin(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await;
    within(Duration::from_secs(5), || async {
        probe("/readyz").await == StatusCode::OK
    })
    .await;
}
