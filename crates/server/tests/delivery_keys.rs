//! Key delivery over HTTP (issue 4): every endpoint, each refusal reason,
//! replay counting under 200 parallel requests, tokens minted by PyJWT,
//! the DRM proxy against a stand-in upstream, the STS, and audit lines
//! that never carry a key. Driven by `app(state).oneshot(...)` on a real
//! SQLite store in a temporary data directory.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use keys::model::{
    ContentKeyPolicy, ContentKeyType,
};
use keys::sts::SigningKey;
use serde_json::{Map, Value, json};
use server::{AppState, app};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tower::ServiceExt as _;
use uuid::Uuid;

#[path = "support/app.rs"]
mod app;

const ADMIN: &str = "test-admin-token-0123456789";
const SECRET: &[u8] = b"delivery-test-hmac-secret-0123456789abcdef";
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "castguard-viewers";
const AES_KID: Uuid = Uuid::from_u128(0x1000_0000_1000_4000_8000_0000_0000_00a1);
const CK_KID: Uuid = Uuid::from_u128(0x1000_0000_1000_4000_8000_0000_0000_00c1);
const CK2_KID: Uuid = Uuid::from_u128(0x1000_0000_1000_4000_8000_0000_0000_00c2);
const DRM_KID: Uuid = Uuid::from_u128(0x1000_0000_1000_4000_8000_0000_0000_00d1);
const AES_KEY: [u8; 16] = *b"\x3a\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\x01";
const CK_KEY: [u8; 16] = *b"\x5c\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\x02";
const CK2_KEY: [u8; 16] = *b"\x6d\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\x03";
const DRM_KEY: [u8; 16] = *b"\x7e\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\x04";

/// Everything the server logs during these tests (audit lines included),
/// at DEBUG so debug paths are covered by the secrets check too.
fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = buf.clone();
        let make = move || Capture(w.clone());
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(make)
                .finish(),
        );
        buf
    })
}

/// The file under `$CASTGUARD_TEST_LOG_DIR` (set by scripts/test.sh) that
/// receives a copy of every captured line, for scripts/check-secrets.sh.
fn log_file() -> Option<&'static Mutex<std::fs::File>> {
    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir =
            PathBuf::from(std::env::var_os("CASTGUARD_TEST_LOG_DIR").filter(|d| !d.is_empty())?);
        std::fs::create_dir_all(&dir).expect("create the test log dir");
        let path = dir.join(format!("tracing-delivery_keys-{}.log", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        Some(Mutex::new(
            f.unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        ))
    })
    .as_ref()
}

struct Capture(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        if let Some(f) = log_file() {
            std::io::Write::write_all(&mut *f.lock().unwrap(), b)?;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Env {
    state: AppState,
    _dir: tempfile::TempDir,
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(v)
}
fn b64url(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn token_restriction(claims: Value) -> Value {
    json!({
        "@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
        "issuer": ISSUER, "audience": AUDIENCE, "restrictionTokenType": "Jwt",
        "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey", "keyValue": b64(SECRET)},
        "requiredClaims": claims,
    })
}

fn policy(v: Value) -> ContentKeyPolicy {
    keys::model::from_json(&v.to_string()).unwrap()
}

impl Env {
    /// Policies: `entitled` (token with `groups` ∋ EntitledUsers, Clear Key
    /// configuration), `drm` (token, Widevine and PlayReady configurations
    /// proxied to `upstream`).
    async fn new(upstream: Option<&str>) -> Env {
        log_buffer();
        let (state, dir) = app::state(ADMIN, app::config()).await;
        let s = state.store();
        s.put_content_key_policy(policy(json!({"name": "entitled", "options": [{
            "name": "viewers",
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": token_restriction(json!([{"claimType": "groups", "claimValue": "EntitledUsers"}]))}]})))
            .await
            .unwrap();
        let up = upstream.unwrap_or("http://127.0.0.1:9/none");
        s.put_content_key_policy(policy(json!({"name": "drm", "options": [
            {"name": "wv", "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyWidevineConfiguration",
                "licenseServerUrl": format!("{up}/widevine"), "licenseServerHeaders": {"X-Api-Key": "vendor-secret-42"}},
             "restriction": token_restriction(json!([]))},
            {"name": "pr", "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyPlayReadyConfiguration",
                "licenseServerUrl": format!("{up}/playready"), "licenseServerHeaders": {"X-Api-Key": "vendor-secret-42"}},
             "restriction": token_restriction(json!([]))}]})))
        .await
        .unwrap();
        app::put_key(
            s,
            "aes",
            AES_KID,
            ContentKeyType::EnvelopeEncryption,
            AES_KEY,
            "entitled",
        )
        .await;
        app::put_key(
            s,
            "ck",
            CK_KID,
            ContentKeyType::CommonEncryption,
            CK_KEY,
            "entitled",
        )
        .await;
        app::put_key(
            s,
            "ck2",
            CK2_KID,
            ContentKeyType::CommonEncryption,
            CK2_KEY,
            "entitled",
        )
        .await;
        app::put_key(
            s,
            "drmkey",
            DRM_KID,
            ContentKeyType::CommonEncryption,
            DRM_KEY,
            "drm",
        )
        .await;
        Env { state, _dir: dir }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, headers, body)
    }

    async fn aes(&self, kid: Uuid, token: Option<&str>) -> (StatusCode, Vec<u8>) {
        let mut b = Request::get(format!("/keys/v1/aes/{kid}"));
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let (s, h, body) = self.send(b.body(Body::empty()).unwrap()).await;
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        (s, body)
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims(extra: Value) -> Map<String, Value> {
    let mut c =
        json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "groups": ["EntitledUsers"]});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c.as_object().unwrap().clone()
}

fn hs256(key: &[u8], extra: Value) -> String {
    SigningKey::hs256("k", key)
        .unwrap()
        .sign(&claims(extra))
        .unwrap()
}

fn reason(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    assert_eq!(
        v["error"].as_object().map(|o| o.len()),
        Some(1),
        "only a code: {v}"
    );
    v["error"]["code"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn aes_key_with_bearer_and_query_token() {
    let env = Env::new(None).await;
    let good = hs256(SECRET, json!({}));
    let (s, body) = env.aes(AES_KID, Some(&good)).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, AES_KEY.as_slice()));
    let (s, h, body) = env
        .send(
            Request::get(format!("/keys/v1/aes/{AES_KID}?token={good}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, AES_KEY.as_slice()));
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");
    // Unknown and malformed key ids, and a CommonEncryption key at the AES endpoint.
    assert_eq!(
        env.aes(Uuid::from_u128(5), Some(&good)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.send(
            Request::get("/keys/v1/aes/..%2F..%2Fetc")
                .body(Body::empty())
                .unwrap()
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(env.aes(CK_KID, Some(&good)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_reason_code() {
    let env = Env::new(None).await;
    let n = now();
    let long = "a".repeat(17 * 1024);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("token_missing", None),
        ("token_malformed", Some("not-a-jwt".into())),
        ("token_malformed", Some(format!("{long}.{long}.{long}"))),
        (
            "signature_invalid",
            Some(hs256(
                b"another-secret-another-secret-0123456789",
                json!({}),
            )),
        ),
        (
            "token_expired",
            Some(hs256(SECRET, json!({"exp": n - 3600}))),
        ),
        (
            "token_not_yet_valid",
            Some(hs256(SECRET, json!({"nbf": n + 3600}))),
        ),
        (
            "issuer_mismatch",
            Some(hs256(SECRET, json!({"iss": "https://issuer.test/"}))),
        ),
        (
            "audience_mismatch",
            Some(hs256(SECRET, json!({"aud": "someone-else"}))),
        ),
        (
            "claim_missing",
            Some(hs256(SECRET, json!({"groups": ["Outsiders"]}))),
        ),
        (
            "claim_missing",
            Some(hs256(SECRET, json!({"groups": null}))),
        ),
        (
            "key_not_granted",
            Some(hs256(
                SECRET,
                json!({"urn:microsoft:azure:mediaservices:contentkeyidentifier": CK_KID.to_string()}),
            )),
        ),
    ];
    for (want, token) in cases {
        let (s, body) = env.aes(AES_KID, token.as_deref()).await;
        assert_eq!(
            (s, reason(&body)),
            (StatusCode::UNAUTHORIZED, want.to_string()),
            "{want}"
        );
    }
    // A tampered payload: same signature, other claims.
    let good = hs256(SECRET, json!({}));
    let parts: Vec<&str> = good.split('.').collect();
    let evil = b64url(
        Value::Object(claims(json!({"groups": ["EntitledUsers", "Admins"]})))
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
    let (s, body) = env.aes(AES_KID, Some(&tampered)).await;
    assert_eq!(
        (s, reason(&body)),
        (StatusCode::UNAUTHORIZED, "signature_invalid".into())
    );
    // The contentkeyidentifier claim naming this key grants it.
    let scoped = hs256(
        SECRET,
        json!({"urn:microsoft:azure:mediaservices:contentkeyidentifier": AES_KID.to_string()}),
    );
    assert_eq!(env.aes(AES_KID, Some(&scoped)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn maxuses_is_exact_under_200_parallel_requests() {
    let env = Env::new(None).await;
    let token = hs256(
        SECRET,
        json!({"urn:microsoft:azure:mediaservices:maxuses": 5, "exp": now() + 1800}),
    );
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let state = env.state.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let req = Request::get(format!("/keys/v1/aes/{AES_KID}"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"));
            let res = app(state)
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = res.status();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (s, body) = t.await.unwrap();
        match s {
            StatusCode::OK => ok += 1,
            StatusCode::UNAUTHORIZED => assert_eq!(reason(&body), "replay_exceeded"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 5);
    // maxuses with exp more than an hour away is refused outright.
    let far = hs256(
        SECRET,
        json!({"urn:microsoft:azure:mediaservices:maxuses": 5, "exp": now() + 7200}),
    );
    let (s, body) = env.aes(AES_KID, Some(&far)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{}", reason(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxuses_parallel_on_many_threads() {
    maxuses_is_exact_under_200_parallel_requests_body().await;
}

async fn maxuses_is_exact_under_200_parallel_requests_body() {
    let env = Env::new(None).await;
    let token = hs256(
        SECRET,
        json!({"urn:microsoft:azure:mediaservices:maxuses": 5, "exp": now() + 1800}),
    );
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let state = env.state.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let req = Request::get(format!("/keys/v1/aes/{AES_KID}?token={token}"));
            app(state)
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
}

fn clearkey_request(kids: &[Uuid], token: Option<&str>, license_type: &str) -> Request<Body> {
    let body = json!({"kids": kids.iter().map(|k| b64url(k.as_bytes())).collect::<Vec<_>>(), "type": license_type});
    let mut b = Request::post("/keys/v1/clearkey").header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn clearkey_license_holds_only_granted_keys() {
    let env = Env::new(None).await;
    let good = hs256(SECRET, json!({}));
    let (s, h, body) = env
        .send(clearkey_request(
            &[CK_KID, CK2_KID],
            Some(&good),
            "temporary",
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["type"], "temporary");
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[0],
        json!({"kty": "oct", "kid": b64url(CK_KID.as_bytes()), "k": b64url(&CK_KEY)})
    );
    assert_eq!(keys[1]["k"], b64url(&CK2_KEY));
    // A token scoped to one key gets only that key.
    let scoped = hs256(
        SECRET,
        json!({"urn:microsoft:azure:mediaservices:contentkeyidentifier": CK2_KID.to_string()}),
    );
    let (_, _, body) = env
        .send(clearkey_request(
            &[CK_KID, CK2_KID],
            Some(&scoped),
            "temporary",
        ))
        .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
    assert_eq!(v["keys"][0]["kid"], b64url(CK2_KID.as_bytes()));
    // Refusals, unknown keys, bad requests.
    let (s, _, body) = env
        .send(clearkey_request(&[CK_KID], None, "temporary"))
        .await;
    assert_eq!(
        (s, reason(&body)),
        (StatusCode::UNAUTHORIZED, "token_missing".into())
    );
    assert_eq!(
        env.send(clearkey_request(
            &[Uuid::from_u128(77)],
            Some(&good),
            "temporary"
        ))
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.send(clearkey_request(
            &[CK_KID],
            Some(&good),
            "persistent-license"
        ))
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    // The AES key is EnvelopeEncryption: never in a Clear Key license.
    assert_eq!(
        env.send(clearkey_request(&[AES_KID], Some(&good), "temporary"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    for bad in [
        "{",
        "{\"kids\":[\"!!\"]}",
        "{\"kids\":[]}",
        "[1]",
        "{\"kids\":[\"AAAA\"]}",
    ] {
        let req = Request::post("/keys/v1/clearkey")
            .header(header::AUTHORIZATION, format!("Bearer {good}"))
            .body(Body::from(bad))
            .unwrap();
        assert_eq!(env.send(req).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn cors_preflight_allows_authorization() {
    let env = Env::new(None).await;
    let req = Request::options("/keys/v1/clearkey")
        .header(header::ORIGIN, "https://player.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .body(Body::empty())
        .unwrap();
    let (s, h, _) = env.send(req).await;
    assert!(s.is_success(), "{s}");
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(
        h[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let good = hs256(SECRET, json!({}));
    let req = Request::get(format!("/keys/v1/aes/{AES_KID}"))
        .header(header::ORIGIN, "https://player.example")
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        env.send(req).await.1[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "*"
    );
}

/// The python with PyJWT (`$CASTGUARD_PYTHON`, else `.venv/bin/python`).
fn python() -> PathBuf {
    std::env::var_os("CASTGUARD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"))
}

fn pyjwt_mint(request: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keys/tests/mint.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python with PyJWT (run scripts/install-test-tools.sh or set CASTGUARD_PYTHON)");
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        request.to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "mint.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn tokens_minted_by_pyjwt() {
    let env = Env::new(None).await;
    let n = now();
    let spec =
        |c: Value| json!({"kind": "jwt", "alg": "HS256", "secret_b64": b64(SECRET), "claims": c});
    let base = |extra: Value| Value::Object(claims(extra));
    let answer = pyjwt_mint(&json!({"keys": {"rsa1": "rsa"}, "tokens": {
        "good": spec(base(json!({}))),
        "hs512": {"kind": "jwt", "alg": "HS512", "secret_b64": b64(SECRET), "claims": base(json!({}))},
        "expired": spec(base(json!({"exp": n - 3600}))),
        "outsider": spec(base(json!({"groups": ["Other"]}))),
        "wrong_aud": spec(base(json!({"aud": "x"}))),
        "none": {"kind": "jwt", "alg": "none", "claims": base(json!({}))},
        "confused": {"kind": "hs256_with_public_key", "key": "rsa1", "form": "pem", "claims": base(json!({}))},
        "maxuses": spec(base(json!({"urn:microsoft:azure:mediaservices:maxuses": 1, "exp": n + 600}))),
    }}));
    let t = |name: &str| answer["tokens"][name].as_str().unwrap().to_owned();
    assert_eq!(
        env.aes(AES_KID, Some(&t("good"))).await,
        (StatusCode::OK, AES_KEY.to_vec())
    );
    assert_eq!(env.aes(AES_KID, Some(&t("hs512"))).await.0, StatusCode::OK);
    for (name, want) in [
        ("expired", "token_expired"),
        ("outsider", "claim_missing"),
        ("wrong_aud", "audience_mismatch"),
        ("none", "token_malformed"),
        ("confused", "signature_invalid"),
    ] {
        let (s, body) = env.aes(AES_KID, Some(&t(name))).await;
        let got = reason(&body);
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
        // alg:none may be refused as malformed or as an invalid signature.
        assert!(
            got == want || (name == "none" && got == "signature_invalid"),
            "{name}: {got}"
        );
    }
    assert_eq!(
        env.aes(AES_KID, Some(&t("maxuses"))).await.0,
        StatusCode::OK
    );
    let (s, body) = env.aes(AES_KID, Some(&t("maxuses"))).await;
    assert_eq!(
        (s, reason(&body)),
        (StatusCode::UNAUTHORIZED, "replay_exceeded".into())
    );
}

/// `MockVendorLicenseServer`: a stand-in for a vendor's DRM license server
/// (Widevine/PlayReady need credentials we do not have). It answers only a
/// request that carries the challenge bytes and the configured API key.
async fn mock_vendor_license_server() -> (String, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    use axum::routing::post;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let handler = move |path: &'static str| {
        let seen = seen2.clone();
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push((path.to_owned(), body.to_vec()));
                if headers.get("x-api-key").map(|v| v.as_bytes()) != Some(b"vendor-secret-42") {
                    return (StatusCode::FORBIDDEN, "no api key").into_response();
                }
                if headers.get(header::AUTHORIZATION).is_some() {
                    return (StatusCode::BAD_REQUEST, "viewer token leaked upstream")
                        .into_response();
                }
                let mut out = format!("LICENSE-{path}:").into_bytes();
                out.extend_from_slice(&body);
                (
                    [(header::CONTENT_TYPE, "application/x-vendor-license")],
                    out,
                )
                    .into_response()
            }
        }
    };
    use axum::response::IntoResponse;
    let app = axum::Router::new()
        .route("/widevine", post(handler("widevine")))
        .route("/playready", post(handler("playready")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn drm_license_proxy_to_mock_vendor_license_server() {
    let (url, seen) = mock_vendor_license_server().await;
    let env = Env::new(Some(&url)).await;
    let good = hs256(SECRET, json!({"groups": null}));
    let challenge: Vec<u8> = (0u8..=255).cycle().take(3000).collect();
    for system in ["widevine", "playready"] {
        let req = Request::post(format!("/keys/v1/{system}?kid={DRM_KID}"))
            .header(header::AUTHORIZATION, format!("Bearer {good}"))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(challenge.clone()))
            .unwrap();
        let (s, h, body) = env.send(req).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{system}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(h[header::CONTENT_TYPE], "application/x-vendor-license");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        let mut want = format!("LICENSE-{system}:").into_bytes();
        want.extend_from_slice(&challenge);
        assert_eq!(body, want);
    }
    assert_eq!(seen.lock().unwrap().len(), 2);
    // Refused before anything reaches the upstream.
    let req = Request::post(format!("/keys/v1/widevine?kid={DRM_KID}"))
        .body(Body::from(challenge.clone()))
        .unwrap();
    let (s, _, body) = env.send(req).await;
    assert_eq!(
        (s, reason(&body)),
        (StatusCode::UNAUTHORIZED, "token_missing".into())
    );
    // No FairPlay option in the policy: nothing to grant.
    let req = Request::post(format!("/keys/v1/fairplay?kid={DRM_KID}"))
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(Body::from(challenge.clone()))
        .unwrap();
    let (s, _, body) = env.send(req).await;
    assert_eq!(
        (s, reason(&body)),
        (StatusCode::UNAUTHORIZED, "key_not_granted".into())
    );
    let req = Request::post("/keys/v1/widevine")
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(Body::from("x"))
        .unwrap();
    assert_eq!(env.send(req).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn sts_issues_tokens_that_key_delivery_accepts() {
    let env = Env::new(None).await;
    let sts = env.state.delivery().sts().await.unwrap();
    let (s, _, body) = env
        .send(
            Request::get("/sts/.well-known/openid-configuration")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let d: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(d["issuer"], "http://127.0.0.1:9/sts");
    assert_eq!(d["jwks_uri"], "http://127.0.0.1:9/sts/jwks.json");
    let (_, _, body) = env
        .send(Request::get("/sts/jwks.json").body(Body::empty()).unwrap())
        .await;
    let jwks: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");

    // A policy that trusts the STS key.
    let key = serde_json::to_value(sts.rsa_token_key().unwrap()).unwrap();
    env.state
        .store()
        .put_content_key_policy(policy(json!({"name": "sts", "options": [{
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction", "issuer": sts.issuer(),
                "audience": "viewers", "restrictionTokenType": "Jwt", "primaryVerificationKey": key}}]})))
        .await
        .unwrap();
    let kid = Uuid::from_u128(0xabc);
    app::put_key(
        env.state.store(),
        "stskey",
        kid,
        ContentKeyType::EnvelopeEncryption,
        [1; 16],
        "sts",
    )
    .await;

    let token_req = |auth: Option<&str>, body: Value| {
        let mut b = Request::post("/sts/token").header(header::CONTENT_TYPE, "application/json");
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, format!("Bearer {a}"));
        }
        b.body(Body::from(body.to_string())).unwrap()
    };
    assert_eq!(
        env.send(token_req(None, json!({"claims": {"aud": "viewers"}})))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.send(token_req(Some("wrong-admin-token-xxxxxxxx"), json!({})))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.send(token_req(Some(ADMIN), json!({"claims": {"exp": 1}})))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        env.send(token_req(Some(ADMIN), json!({"lifetimeSeconds": 0})))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (s, _, body) = env
        .send(token_req(
            Some(ADMIN),
            json!({"claims": {"aud": "viewers", "sub": "u1"}, "lifetimeSeconds": 300}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    let token = serde_json::from_slice::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        env.aes(kid, Some(&token)).await,
        (StatusCode::OK, vec![1; 16])
    );
    let (s, _, body) = env
        .send(token_req(Some(ADMIN), json!({"claims": {"aud": "other"}})))
        .await;
    let other = serde_json::from_slice::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(env.aes(kid, Some(&other)).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn health_probes() {
    let env = Env::new(None).await;
    // With the demo, /readyz says so, for a production check to catch.
    let demo = server::app_with_player(
        env.state.clone(),
        server::routes::player::PlayerState::with_demo(
            Default::default(),
            server::routes::player::DemoTokens::new(
                keys::sts::Issuer::new("https://demo.test", SigningKey::generate_es256("d").unwrap()),
                "demo",
            ),
        ),
    );
    let res = demo
        .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ready\ndemo: on\n");
    let plain = server::app_with_player(
        env.state.clone(),
        server::routes::player::PlayerState::without_demo(Default::default()),
    );
    let res = plain
        .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(&res.into_body().collect().await.unwrap().to_bytes()[..], b"ready\n");
    assert_eq!(
        env.send(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        env.send(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::OK
    );
}

/// Runs after the others have logged (its own requests too): no audit or
/// other log line holds a key, in hex or base64, or a token.
#[tokio::test]
async fn audit_lines_never_hold_keys_or_tokens() {
    let env = Env::new(None).await;
    let good = hs256(SECRET, json!({}));
    assert_eq!(env.aes(AES_KID, Some(&good)).await.0, StatusCode::OK);
    assert_eq!(
        env.aes(AES_KID, Some("garbage.token.here")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.send(clearkey_request(&[CK_KID], Some(&good), "temporary"))
            .await
            .0,
        StatusCode::OK
    );
    let log = String::from_utf8(log_buffer().lock().unwrap().clone()).unwrap();
    let audit: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("castguard::audit"))
        .collect();
    assert!(
        audit
            .iter()
            .any(|l| l.contains("result=\"granted\"") || l.contains("result=granted")),
        "{log}"
    );
    assert!(
        audit.iter().any(|l| l.contains(&AES_KID.to_string())
            && l.contains("denied")
            && l.contains("token_malformed")),
        "{log}"
    );
    let hex = |k: &[u8]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    for key in [AES_KEY, CK_KEY, CK2_KEY, DRM_KEY] {
        for form in [hex(&key), hex(&key).to_uppercase(), b64(&key), b64url(&key)] {
            assert!(!log.contains(&form), "a key appears in the log");
        }
    }
    for secret in [
        good.as_str(),
        "garbage.token.here",
        "vendor-secret-42",
        ADMIN,
    ] {
        assert!(!log.contains(secret), "a secret appears in the log");
    }
    assert!(!log.contains(&b64(SECRET)));
}

/// A token in `?token=` never reaches the log, even at TRACE with every
/// span field shown: the request span records the path, not the query
/// (tower-http's default span logs the whole URI). The subscriber is scoped
/// to this test's thread (current-thread runtime), so the other tests keep
/// the INFO capture.
#[tokio::test]
async fn query_token_never_logged_at_trace() {
    let env = Env::new(None).await;
    let buf = Arc::new(Mutex::new(Vec::new()));
    let w = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || Capture(w.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let good = hs256(SECRET, json!({}));
    let secret = "SECRET0query0token0value";
    for (token, want) in [(good.as_str(), StatusCode::OK), (secret, StatusCode::UNAUTHORIZED)] {
        let (s, _, _) = env
            .send(
                Request::get(format!("/keys/v1/aes/{AES_KID}?token={token}&x=1"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(s, want);
    }
    let log = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    // The capture works: the request span and its path are there.
    assert!(log.contains(&format!("/keys/v1/aes/{AES_KID}")), "{log}");
    assert!(log.contains("castguard::audit"), "{log}");
    assert!(!log.contains(secret), "the query token is logged:\n{log}");
    assert!(!log.contains(&good), "the query token is logged:\n{log}");
    assert!(!log.contains("token="), "a query is logged:\n{log}");
}

/// What [`mock_huge_vendor_license_server`] saw: bytes of body written
/// before the proxy closed the connection, and whether it did.
#[derive(Default)]
struct HugeUpstreamSeen {
    written: std::sync::atomic::AtomicUsize,
    closed: std::sync::atomic::AtomicBool,
}

/// `MockHugeVendorLicenseServer`: a hostile upstream that answers every
/// request with `200 OK` and an endless chunked body (no Content-Length),
/// 64 KiB per chunk, until the peer closes the connection. A proxy that
/// buffers the whole response before checking its size grows without
/// bound here.
async fn mock_huge_vendor_license_server() -> (String, Arc<HugeUpstreamSeen>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // A small send buffer (inherited by accepted sockets) so that what the
    // mock counts as written is close to what the proxy really read.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(HugeUpstreamSeen::default());
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen2.clone();
            tokio::spawn(async move {
                // The request head and its (small) body: read what comes.
                let mut buf = vec![0u8; 16 * 1024];
                let _ = s.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    seen.closed.store(true, Ordering::SeqCst);
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                loop {
                    if s.write_all(&framed).await.is_err() {
                        seen.closed.store(true, Ordering::SeqCst);
                        return;
                    }
                    seen.written.fetch_add(chunk.len(), Ordering::SeqCst);
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// A hostile upstream streaming an endless body: the proxy stops reading
/// at [`server::delivery::keys::MAX_UPSTREAM_RESPONSE`], answers 502 at
/// once and closes the upstream connection. Bytes written past the limit
/// are only what the sockets' kernel buffers absorb (measured: 4 to 5
/// chunks of 64 KiB on a quiet machine, 1.2 MiB on a loaded one; bounded
/// by the autotuned buffer maxima); a proxy that reads to the end never
/// returns.
#[tokio::test]
async fn upstream_endless_body_is_cut_at_the_limit() {
    use std::sync::atomic::Ordering;
    let (url, seen) = mock_huge_vendor_license_server().await;
    let env = Env::new(Some(&url)).await;
    let good = hs256(SECRET, json!({"groups": null}));
    let req = Request::post(format!("/keys/v1/widevine?kid={DRM_KID}"))
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(Body::from(vec![1u8; 100]))
        .unwrap();
    let started = std::time::Instant::now();
    let (s, _, body) = tokio::time::timeout(Duration::from_secs(5), env.send(req))
        .await
        .expect("the proxy kept reading the endless upstream body");
    assert_eq!(
        (s, reason(&body)),
        (StatusCode::BAD_GATEWAY, "upstream_failed".into())
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !seen.closed.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen.closed.load(Ordering::SeqCst),
        "the upstream connection stays open"
    );
    let written = seen.written.load(Ordering::SeqCst);
    let limit = server::delivery::keys::MAX_UPSTREAM_RESPONSE;
    eprintln!("upstream wrote {written} bytes before the close (limit {limit})");
    // What the kernel may buffer between the two ends: the receive and
    // send buffers at their autotuned maximum (a loaded machine grows them).
    let buffers: usize = ["/proc/sys/net/ipv4/tcp_rmem", "/proc/sys/net/ipv4/tcp_wmem"]
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|s| s.split_whitespace().last().and_then(|v| v.parse().ok()))
                .unwrap_or(8 * 1024 * 1024)
        })
        .sum();
    assert!(
        written <= limit + buffers,
        "{written} bytes read from the upstream (limit {limit}, kernel buffers up to {buffers})"
    );
}

/// `MockFailingVendorLicenseServer`: answers every license request with
/// the status set in the returned cell, a body holding a secret, a
/// header of its own and (for 3xx) a `Location`.
async fn mock_failing_vendor_license_server() -> (String, Arc<Mutex<u16>>) {
    use axum::response::IntoResponse;
    let status = Arc::new(Mutex::new(500u16));
    let s2 = status.clone();
    let app = axum::Router::new().fallback(move || {
        let code = *s2.lock().unwrap();
        async move {
            (
                StatusCode::from_u16(code).unwrap(),
                [
                    (header::LOCATION, "http://169.254.169.254/latest/meta-data/"),
                    (header::CONTENT_TYPE, "text/plain"),
                    (header::HeaderName::from_static("x-upstream-internal"), "db-7"),
                ],
                "upstream failure: password=upstream-db-password-1",
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), status)
}

/// A non-2xx upstream answer never reaches the player as it was: 502 with
/// our own code (`upstream_refused` for 4xx, `upstream_failed` otherwise)
/// and the upstream status as a number; no upstream body, header or
/// `Location`. The body's first bytes are logged at debug level only.
#[tokio::test]
async fn upstream_errors_are_not_relayed() {
    let (url, status) = mock_failing_vendor_license_server().await;
    let env = Env::new(Some(&url)).await;
    let good = hs256(SECRET, json!({"groups": null}));
    for (code, want) in [
        (500u16, "upstream_failed"),
        (503, "upstream_failed"),
        (302, "upstream_failed"),
        (403, "upstream_refused"),
        (400, "upstream_refused"),
    ] {
        *status.lock().unwrap() = code;
        let req = Request::post(format!("/keys/v1/playready?kid={DRM_KID}"))
            .header(header::AUTHORIZATION, format!("Bearer {good}"))
            .body(Body::from(vec![1u8; 100]))
            .unwrap();
        let (s, h, body) = env.send(req).await;
        assert_eq!(s, StatusCode::BAD_GATEWAY, "{code}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"error": {"code": want, "upstreamStatus": code}}),
            "{code}"
        );
        assert!(h.get(header::LOCATION).is_none(), "{code}: Location relayed");
        assert!(h.get("x-upstream-internal").is_none(), "{code}: header relayed");
        assert_eq!(h[header::CONTENT_TYPE], "application/json");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
    }
    let log = String::from_utf8(log_buffer().lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("upstream-db-password-1"))
        .collect();
    assert!(!lines.is_empty(), "the upstream body is logged at debug");
    assert!(lines.iter().all(|l| l.contains("DEBUG")), "{lines:?}");
}
