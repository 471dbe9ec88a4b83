//! Every `/api/v1` endpoint and each failure the issue lists (400 naming the
//! field, 401, 404, 409, 413), driven through `app(state).oneshot(...)` on a
//! real SQLite store in a temporary data directory.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use server::{AdminToken, AppState, app};
use std::sync::Arc;
use tower::ServiceExt as _;

const TOKEN: &str = "test-admin-token-0123456789";
const KID: &str = "10000000-1000-4000-8000-100000000001";
const KEY_B64: &str = "ABEiM0RVZneImaq7zN3u/w==";

struct Api {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kek = store::Kek::from_bytes([7u8; 32]);
        let store = store::SqliteStore::open(dir.path(), kek).await.unwrap();
        let state = AppState::new(
            Arc::new(store),
            dir.path(),
            AdminToken::new(TOKEN.into()).unwrap(),
        );
        Api { state, _dir: dir }
    }

    async fn raw(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        if !bytes.is_empty() {
            assert_eq!(ct.as_deref(), Some("application/json"), "{status} {body}");
        }
        (status, body)
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.raw(b.body(body).unwrap()).await
    }

    async fn put(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.call("PUT", uri, Some(body)).await
    }
    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call("GET", uri, None).await
    }
    async fn delete(&self, uri: &str) -> (StatusCode, Value) {
        self.call("DELETE", uri, None).await
    }
    async fn post(&self, uri: &str) -> (StatusCode, Value) {
        self.call("POST", uri, None).await
    }

    /// Asset, key, token policy, streaming policy and locator, all linked.
    async fn seed(&self) -> Value {
        assert_eq!(
            self.put("/api/v1/assets/movie", json!({"description": "a film"}))
                .await
                .0,
            StatusCode::CREATED
        );
        assert_eq!(
            self.put("/api/v1/content-key-policies/open", open_policy())
                .await
                .0,
            StatusCode::CREATED
        );
        let (s, _) = self
            .put("/api/v1/content-keys/k1", json!({"keyId": KID, "type": "CommonEncryption", "value": KEY_B64, "policyName": "open"}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, l) = self
            .put(
                "/api/v1/streaming-locators/loc",
                json!({"assetName": "movie", "streamingPolicyName": "Predefined_MultiDrmCencStreaming",
                       "defaultContentKeyPolicyName": "open", "contentKeys": [{"id": KID}]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}");
        l
    }
}

fn open_policy() -> Value {
    json!({"options": [{"name": "open", "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
        "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]})
}

fn token_policy(secret_b64: &str) -> Value {
    json!({"description": "JWT", "options": [{"configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
        "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
            "issuer": "https://sts.example", "audience": "urn:castguard", "restrictionTokenType": "Jwt",
            "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey", "keyValue": secret_b64},
            "requiredClaims": [{"claimType": "urn:microsoft:azure:mediaservices:contentkeyidentifier"}]}}]})
}

fn error_field(body: &Value) -> &str {
    body["error"]["field"].as_str().unwrap_or("")
}

#[tokio::test]
async fn auth_missing_wrong_and_other_scheme_are_401_json() {
    let api = Api::new().await;
    for auth in [
        None,
        Some(format!("Bearer {TOKEN}x")),
        Some("Bearer ".to_string()),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_string()),
    ] {
        let mut b = Request::get("/api/v1/assets");
        if let Some(a) = &auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        let (s, body) = api.raw(b.body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(!body.to_string().contains(TOKEN));
    }
    // 401 comes before the body is even looked at, and before a 404.
    let req = Request::put("/api/v1/content-keys/k")
        .body(Body::from("not json"))
        .unwrap();
    assert_eq!(api.raw(req).await.0, StatusCode::UNAUTHORIZED);
    let req = Request::get("/api/v1/openapi.json")
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.raw(req).await.0, StatusCode::UNAUTHORIZED);
    // Scheme name is case-insensitive (RFC 9110 §11.1).
    let req = Request::get("/api/v1/assets")
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.raw(req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn assets_crud_and_paging() {
    let api = Api::new().await;
    let (s, a) = api
        .put(
            "/api/v1/assets/a1",
            json!({"description": "first", "alternateId": "ext-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(a["name"], "a1");
    assert_eq!(a["storage"]["path"], "assets/a1");
    assert!(a["assetId"].is_string() && a["created"].is_string());
    // Replace: 200, same id, storage is read-only.
    let (s, b) = api
        .put(
            "/api/v1/assets/a1",
            json!({"description": "changed", "storage": {"path": "/etc"}, "name": "a1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["assetId"], a["assetId"]);
    assert_eq!(b["description"], "changed");
    assert_eq!(b["storage"]["path"], "assets/a1");
    assert_eq!(
        api.get("/api/v1/assets/a1").await.1["description"],
        "changed"
    );
    for n in ["a3", "a2", "a4"] {
        assert_eq!(
            api.put(&format!("/api/v1/assets/{n}"), json!({})).await.0,
            StatusCode::CREATED
        );
    }
    let (s, page) = api.get("/api/v1/assets?$top=3").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<_> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a1", "a2", "a3"]);
    let next = page["@odata.nextLink"].as_str().unwrap();
    assert_eq!(next, "/api/v1/assets?$top=3&$skiptoken=a3");
    let (_, page2) = api.get(next).await;
    assert_eq!(page2["value"].as_array().unwrap().len(), 1);
    assert_eq!(page2["value"][0]["name"], "a4");
    assert!(page2.get("@odata.nextLink").is_none());
    assert_eq!(
        api.delete("/api/v1/assets/a4").await.0,
        StatusCode::NO_CONTENT
    );
    let (s, e) = api.delete("/api/v1/assets/a4").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert_eq!(api.get("/api/v1/assets/a4").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let api = Api::new().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/api/v1/content-keys/k", json!({"type": "Rot13"}), "type"),
        (
            "/api/v1/content-keys/k",
            json!({"type": "CommonEncryption", "keyId": "not-a-uuid"}),
            "keyId",
        ),
        (
            "/api/v1/content-keys/k",
            json!({"type": "CommonEncryption", "value": "ABEiM0RVZneImaq7zN3u"}),
            "value",
        ),
        (
            "/api/v1/content-keys/k",
            json!({"type": "CommonEncryption", "keyId": "00000000-0000-0000-0000-000000000000"}),
            "keyId",
        ),
        (
            "/api/v1/content-keys/k",
            json!({"type": "CommonEncryption", "label": 5}),
            "label",
        ),
        (
            "/api/v1/content-keys/k",
            json!({"type": "CommonEncryption", "name": "other"}),
            "name",
        ),
        (
            "/api/v1/content-key-policies/p",
            json!({"options": []}),
            "options",
        ),
        (
            "/api/v1/content-key-policies/p",
            token_policy("c2hvcnQ="),
            "options[0].restriction.primaryVerificationKey.keyValue",
        ),
        (
            "/api/v1/content-key-policies/p",
            json!({"options": [{"configuration": {"@odata.type": "#Microsoft.Media.Nope"},
                "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]}),
            "options[0].configuration.@odata.type",
        ),
        (
            "/api/v1/streaming-policies/sp",
            json!({"noEncryption": {"enabledProtocols": {"dash": true, "smoothStreaming": true}}}),
            "noEncryption.enabledProtocols.smoothStreaming",
        ),
        (
            "/api/v1/streaming-locators/l",
            json!({"assetName": "bad name", "streamingPolicyName": "x"}),
            "assetName",
        ),
        (
            "/api/v1/streaming-locators/l",
            json!({"assetName": "a", "streamingPolicyName": "x", "contentKeys": [{"id": KID, "value": KEY_B64}]}),
            "contentKeys[0].value",
        ),
        (
            "/api/v1/assets/a",
            json!({"description": ""}),
            "description",
        ),
    ];
    for (uri, body, field) in cases {
        let (s, e) = api.put(uri, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri} {body}: {e}");
        assert_eq!(error_field(&e), field, "{uri} {body}: {e}");
        assert_eq!(e["error"]["code"], "invalid_request");
        assert!(
            !e.to_string().contains("c2hvcnQ") && !e.to_string().contains(KEY_B64),
            "{e}"
        );
    }
    // Not JSON / not an object / bad name in the path / bad paging.
    let req = Request::put("/api/v1/assets/x")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from("{oops"))
        .unwrap();
    assert_eq!(api.raw(req).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.put("/api/v1/assets/x", json!([1])).await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, e) = api.get("/api/v1/assets/bad%20name").await;
    assert_eq!((s, error_field(&e)), (StatusCode::BAD_REQUEST, "name"));
    let (s, e) = api.get("/api/v1/assets?$top=0").await;
    assert_eq!((s, error_field(&e)), (StatusCode::BAD_REQUEST, "$top"));
    let (s, e) = api.get("/api/v1/content-keys?$top=abc").await;
    assert_eq!((s, error_field(&e)), (StatusCode::BAD_REQUEST, "$top"));
    let (s, e) = api.get("/api/v1/content-keys?$skiptoken=a%2Fb").await;
    assert_eq!(
        (s, error_field(&e)),
        (StatusCode::BAD_REQUEST, "$skiptoken")
    );
    // Nothing was written.
    assert_eq!(api.get("/api/v1/content-keys").await.1["value"], json!([]));
    assert_eq!(
        api.get("/api/v1/content-key-policies").await.1["value"],
        json!([])
    );
}

#[tokio::test]
async fn oversized_json_body_is_413() {
    let api = Api::new().await;
    let big = json!({"description": "x".repeat(server::JSON_BODY_LIMIT + 10)});
    let (s, e) = api.put("/api/v1/assets/big", big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(e["error"]["code"], "payload_too_large");
    assert_eq!(api.get("/api/v1/assets/big").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn content_keys_generate_keep_and_never_show_values() {
    let api = Api::new().await;
    let (s, k) = api
        .put(
            "/api/v1/content-keys/gen",
            json!({"type": "EnvelopeEncryption", "label": "aes"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(k.get("value").is_none());
    let kid = k["keyId"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&kid).unwrap().get_version_num(), 4);
    // Replace without keyId/value keeps both (no silent key rotation).
    let before = api
        .state
        .store()
        .get_content_key_with_value("gen")
        .await
        .unwrap();
    let (s, k2) = api
        .put(
            "/api/v1/content-keys/gen",
            json!({"type": "EnvelopeEncryption", "label": "renamed"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(k2["keyId"], kid.as_str());
    let after = api
        .state
        .store()
        .get_content_key_with_value("gen")
        .await
        .unwrap();
    assert_eq!(before.value, after.value);
    // Explicit value is stored as given.
    api.put(
        "/api/v1/content-keys/given",
        json!({"type": "CommonEncryption", "keyId": KID, "value": KEY_B64}),
    )
    .await;
    let stored = api
        .state
        .store()
        .get_content_key_with_value("given")
        .await
        .unwrap();
    assert_eq!(
        stored.value.expose(),
        &hex_bytes("00112233445566778899aabbccddeeff")
    );
    for (uri, body) in [
        (
            "/api/v1/content-keys/given",
            api.get("/api/v1/content-keys/given").await.1,
        ),
        (
            "/api/v1/content-keys",
            api.get("/api/v1/content-keys").await.1,
        ),
    ] {
        assert!(!body.to_string().contains(KEY_B64), "{uri}: {body}");
    }
    // Duplicate KID under another name: 409.
    let (s, e) = api
        .put(
            "/api/v1/content-keys/dup",
            json!({"type": "CommonEncryption", "keyId": KID}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    // Policy reference to a missing policy: 404 naming the field.
    let (s, e) = api
        .put(
            "/api/v1/content-keys/p",
            json!({"type": "CommonEncryption", "policyName": "nope"}),
        )
        .await;
    assert_eq!(
        (s, error_field(&e)),
        (StatusCode::NOT_FOUND, "policyName"),
        "{e}"
    );
    assert_eq!(
        api.delete("/api/v1/content-keys/gen").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete("/api/v1/content-keys/gen").await.0,
        StatusCode::NOT_FOUND
    );
}

fn hex_bytes(s: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[tokio::test]
async fn content_key_policies_hide_secrets() {
    let api = Api::new().await;
    let secret = "c2VjcmV0LWhtYWMta2V5LTAxMjM0NTY3ODk=";
    let (s, p) = api
        .put("/api/v1/content-key-policies/jwt", token_policy(secret))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert!(p["policyId"].is_string());
    assert!(p["options"][0]["policyOptionId"].is_string());
    for body in [
        p,
        api.get("/api/v1/content-key-policies/jwt").await.1,
        api.get("/api/v1/content-key-policies").await.1,
    ] {
        assert!(!body.to_string().contains(secret), "{body}");
        assert!(body.to_string().contains("https://sts.example"));
    }
    // The store still has the secret, for key delivery.
    let stored = api
        .state
        .store()
        .get_content_key_policy("jwt")
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&stored).unwrap()["options"][0]["restriction"]["primaryVerificationKey"]
            ["keyValue"],
        secret
    );
    assert_eq!(
        api.put("/api/v1/content-key-policies/jwt", token_policy(secret))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        api.delete("/api/v1/content-key-policies/jwt").await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn streaming_policies_predefined_and_custom() {
    let api = Api::new().await;
    let (_, list) = api.get("/api/v1/streaming-policies").await;
    let names: Vec<_> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "Predefined_ClearKey"),
        "{names:?}"
    );
    let (s, p) = api
        .get("/api/v1/streaming-policies/Predefined_MultiDrmStreaming")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(p["commonEncryptionCbcs"].is_object());
    // Predefined ones are read-only.
    assert_eq!(
        api.put(
            "/api/v1/streaming-policies/Predefined_ClearKey",
            json!({"noEncryption": {}})
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        api.delete("/api/v1/streaming-policies/Predefined_ClearKey")
            .await
            .0,
        StatusCode::CONFLICT
    );
    let body = json!({"commonEncryptionCbcs": {"enabledProtocols": {"hls": true}, "drm": {"fairPlay": {"allowPersistentLicense": false}}}});
    assert_eq!(
        api.put("/api/v1/streaming-policies/cbcs-hls", body.clone())
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        api.put("/api/v1/streaming-policies/cbcs-hls", body).await.0,
        StatusCode::OK
    );
    let (s, e) = api
        .put(
            "/api/v1/streaming-policies/bad",
            json!({"defaultContentKeyPolicyName": "missing", "noEncryption": {}}),
        )
        .await;
    assert_eq!(
        (s, error_field(&e)),
        (StatusCode::NOT_FOUND, "defaultContentKeyPolicyName"),
        "{e}"
    );
    assert_eq!(
        api.delete("/api/v1/streaming-policies/cbcs-hls").await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn locators_paths_keys_and_references() {
    let api = Api::new().await;
    let l = api.seed().await;
    let id = l["streamingLocatorId"].as_str().unwrap().to_string();
    assert!(l["created"].is_string());
    assert_eq!(
        api.get("/api/v1/streaming-locators").await.1["value"][0]["name"],
        "loc"
    );

    let (s, paths) = api.post("/api/v1/streaming-locators/loc/list-paths").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        paths,
        json!({"streamingPaths": [
            {"streamingProtocol": "Dash", "encryptionScheme": "CommonEncryptionCenc", "paths": [format!("/s/{id}/cenc/manifest.mpd")]},
            {"streamingProtocol": "Hls", "encryptionScheme": "CommonEncryptionCenc", "paths": [format!("/s/{id}/cenc/master.m3u8")]}],
            "downloadPaths": []})
    );

    let (s, keys) = api
        .post("/api/v1/streaming-locators/loc/list-content-keys")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(keys["contentKeys"][0]["id"], KID);
    assert_eq!(keys["contentKeys"][0]["type"], "CommonEncryptionCenc");
    assert_eq!(keys["contentKeys"][0]["keyName"], "k1");
    assert_eq!(keys["contentKeys"][0]["policyName"], "open");
    assert!(keys["contentKeys"][0].get("value").is_none());
    let (_, keys) = api
        .post("/api/v1/streaming-locators/loc/list-content-keys?includeValues=true")
        .await;
    assert_eq!(keys["contentKeys"][0]["value"], KEY_B64);
    assert_eq!(
        api.post("/api/v1/streaming-locators/loc/list-content-keys?includeValues=yes")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.post("/api/v1/streaming-locators/none/list-paths")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post("/api/v1/streaming-locators/none/list-content-keys")
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Delete in use: 409 for key, policy, asset.
    for uri in [
        "/api/v1/content-keys/k1",
        "/api/v1/content-key-policies/open",
        "/api/v1/assets/movie",
    ] {
        let (s, e) = api.delete(uri).await;
        assert_eq!(s, StatusCode::CONFLICT, "{uri}: {e}");
        assert_eq!(e["error"]["code"], "conflict");
    }
    // Missing references: 404 naming the field; duplicate key references: 409.
    let (s, e) = api
        .put(
            "/api/v1/streaming-locators/l2",
            json!({"assetName": "nope", "streamingPolicyName": "Predefined_ClearKey"}),
        )
        .await;
    assert_eq!(
        (s, error_field(&e)),
        (StatusCode::NOT_FOUND, "assetName"),
        "{e}"
    );
    let (s, e) = api
        .put(
            "/api/v1/streaming-locators/l2",
            json!({"assetName": "movie", "streamingPolicyName": "Predefined_ClearKey",
        "contentKeys": [{"id": "20000000-0000-4000-8000-000000000000"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, e) = api
        .put(
            "/api/v1/streaming-locators/l2",
            json!({"assetName": "movie", "streamingPolicyName": "Predefined_ClearKey",
        "contentKeys": [{"id": KID}, {"id": KID}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(
        api.get("/api/v1/streaming-locators/l2").await.0,
        StatusCode::NOT_FOUND
    );
    // A second locator may not take the first one's id.
    let (s, e) = api
        .put(
            "/api/v1/streaming-locators/l3",
            json!({"assetName": "movie", "streamingPolicyName": "Predefined_ClearKey",
        "streamingLocatorId": id}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");

    assert_eq!(
        api.delete("/api/v1/streaming-locators/loc").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete("/api/v1/streaming-locators/loc").await.0,
        StatusCode::NOT_FOUND
    );
    for uri in [
        "/api/v1/content-keys/k1",
        "/api/v1/content-key-policies/open",
        "/api/v1/assets/movie",
    ] {
        assert_eq!(api.delete(uri).await.0, StatusCode::NO_CONTENT, "{uri}");
    }
}

#[tokio::test]
async fn openapi_document_is_served() {
    let api = Api::new().await;
    let (s, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/streaming-locators/{name}/list-paths"]["post"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["adminToken"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn unsupported_method_is_405_with_allow() {
    let api = Api::new().await;
    let req = Request::patch("/api/v1/assets/x")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let resp = app(api.state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(resp.headers().get(header::ALLOW).is_some());
}

/// Entries of `dir` (none when it does not exist).
fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One name rule for every entity and path: `.`, `..` and names starting
/// with a dot are refused (they name the folder itself, its parent or a
/// staging folder on disk). A failing ingest leaves no staging folder or
/// upload behind, and DELETE removes the asset's media and kept sources.
#[tokio::test]
async fn dot_names_refused_failed_ingest_and_delete_leave_nothing() {
    let api = Api::new().await;
    for kind in ["assets", "content-key-policies", "streaming-policies", "streaming-locators", "content-keys"] {
        for name in [".", "..", ".upload-x", ".hidden"] {
            let uri = format!("/api/v1/{kind}/{}", name.replace('.', "%2E"));
            let (s, body) = api.put(&uri, json!({"description": "x"})).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{kind}/{name}: {body}");
            assert_eq!(error_field(&body), "name", "{kind}/{name}: {body}");
        }
    }
    let (s, body) = api
        .put("/api/v1/streaming-locators/loc", json!({"assetName": ".."}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(api.put("/api/v1/assets/a.b-c_1", json!({})).await.0, StatusCode::CREATED);

    // A failing ingest (not an MP4): 400, nothing left in the data folder.
    let data = api.state.data_dir().to_path_buf();
    assert_eq!(api.put("/api/v1/assets/clip", json!({})).await.0, StatusCode::CREATED);
    let upload = |body: Vec<u8>| {
        Request::put("/api/v1/assets/clip/content")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "video/mp4")
            .body(Body::from(body))
            .unwrap()
    };
    let mut bad = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2".to_vec();
    bad.extend_from_slice(&[0xab; 4096]);
    let (s, body) = api.raw(upload(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_media", "{body}");
    assert_eq!(entries(&data.join("assets")), Vec::<String>::new(), "staging left behind");
    assert_eq!(entries(&data.join("tmp")), Vec::<String>::new(), "upload left behind");

    // A real ingest, then DELETE: media and kept sources are gone.
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../castguard/assets/demo.mp4");
    let (s, body) = api.raw(upload(std::fs::read(demo).unwrap())).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(entries(&data.join("assets")), vec!["clip".to_string()]);
    assert_eq!(entries(&data.join("sources")), vec!["clip".to_string()]);
    assert_eq!(api.delete("/api/v1/assets/clip").await.0, StatusCode::NO_CONTENT);
    assert_eq!(entries(&data.join("assets")), Vec::<String>::new(), "media left behind");
    assert_eq!(entries(&data.join("sources")), Vec::<String>::new(), "sources left behind");
    assert_eq!(entries(&data.join("tmp")), Vec::<String>::new());
}

/// Guessing the admin token: after ten wrong tokens from one address
/// (the default `10/m,burst=10`), that address gets 429 with `Retry-After`
/// before any comparison, even with the right token; other addresses are
/// unaffected, and a missing header is not counted as a guess.
#[tokio::test]
async fn failed_admin_authentications_are_rate_limited_per_client() {
    use axum::extract::ConnectInfo;
    let api = Api::new().await;
    let from = |ip: &str, auth: Option<String>| {
        let mut b = Request::get("/api/v1/assets")
            .extension(ConnectInfo(std::net::SocketAddr::new(ip.parse().unwrap(), 40000)));
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(Body::empty()).unwrap()
    };
    let wrong = |i: usize| Some(format!("Bearer wrong-admin-token-{i:04}"));
    for _ in 0..20 {
        assert_eq!(api.raw(from("192.0.2.1", None)).await.0, StatusCode::UNAUTHORIZED);
    }
    for i in 0..10 {
        assert_eq!(api.raw(from("192.0.2.1", wrong(i))).await.0, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let resp = app(api.state.clone()).oneshot(from("192.0.2.1", wrong(10))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (s, body) = api.raw(from("192.0.2.1", Some(format!("Bearer {TOKEN}")))).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(api.raw(from("192.0.2.2", Some(format!("Bearer {TOKEN}")))).await.0, StatusCode::OK);
    assert_eq!(api.raw(from("192.0.2.2", wrong(0))).await.0, StatusCode::UNAUTHORIZED);
}

/// A body with a key given twice is ambiguous (which `issuer` does a
/// policy trust?): 400 naming the key by its JSON path, at any depth,
/// never "the last one wins".
#[tokio::test]
async fn duplicate_json_keys_are_refused_naming_the_key() {
    let api = Api::new().await;
    let put = |uri: &str, body: &str| {
        Request::put(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (s, body) = api
        .raw(put("/api/v1/assets/a", r#"{"description":"one","description":"two"}"#))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(error_field(&body), "description", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("duplicate key"), "{body}");
    assert_eq!(api.get("/api/v1/assets/a").await.0, StatusCode::NOT_FOUND);

    let policy = r##"{"options":[{"configuration":{"@odata.type":"#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
        "restriction":{"@odata.type":"#Microsoft.Media.ContentKeyPolicyTokenRestriction","issuer":"https://a.example",
        "issuer":"https://b.example","audience":"x","restrictionTokenType":"Jwt",
        "primaryVerificationKey":{"@odata.type":"#Microsoft.Media.ContentKeyPolicySymmetricTokenKey","keyValue":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}]}"##;
    let (s, body) = api.raw(put("/api/v1/content-key-policies/p", policy)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_field(&body), "options[0].restriction.issuer", "{body}");
    // The same keys once each are fine.
    let (s, body) = api
        .raw(put("/api/v1/content-key-policies/p", &policy.replace(r#""issuer":"https://b.example","#, "")))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
}

/// The v3 resource envelope of `name` in `collection` (`contentKeyPolicies`),
/// as the cloud service returned it.
fn envelope(collection: &str, name: &str, properties: Value) -> Value {
    json!({"name": name,
        "id": format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/contosorg/providers/Microsoft.Media/mediaservices/contosomedia/{collection}/{name}"),
        "type": format!("Microsoft.Media/mediaservices/{collection}"),
        "properties": properties,
        "systemData": {"createdBy": "contoso@contoso.com", "createdByType": "User", "createdAt": "2018-08-08T18:29:29.98Z",
            "lastModifiedBy": "contoso@contoso.com", "lastModifiedByType": "User", "lastModifiedAt": "2018-08-08T18:29:29.98Z"}})
}

/// Each entity PUT as the service's examples (2023-01-01) show a resource:
/// the envelope, read-only properties included; GET then shows what
/// castguard keeps of it.
#[tokio::test]
async fn v3_resource_envelopes_are_accepted_for_every_entity() {
    let api = Api::new().await;
    let asset = json!({"assetId": "1b648c1a-2268-461d-a1da-742bde23db40", "created": "2013-02-01T00:00:00Z",
        "lastModified": "2017-11-01T00:00:00Z", "alternateId": "CLIMB00002",
        "description": "A documentary showing the ascent of Mount Adams",
        "container": "asset-1b648c1a-2268-461d-a1da-742bde23db40", "storageEncryptionFormat": "None"});
    let (s, b) = api
        .put(
            "/api/v1/assets/ClimbingMountAdams",
            envelope("assets", "ClimbingMountAdams", asset),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, got) = api.get("/api/v1/assets/ClimbingMountAdams").await;
    assert_eq!(got["alternateId"], "CLIMB00002");
    assert_eq!(
        got["description"],
        "A documentary showing the ascent of Mount Adams"
    );

    let policy = json!({"policyId": "07ad673b-dc14-4230-adab-716622f33992", "created": "2018-08-08T18:29:29.98Z",
        "lastModified": "2018-08-08T18:29:29.98Z", "description": "ArmPolicyDescription",
        "options": [{"policyOptionId": "8dac9510-770a-401f-8f2b-f72640977ed0", "name": "ClearKeyOption",
            "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
                "issuer": "urn:issuer", "audience": "urn:audience",
                "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
                    "keyValue": "AAAAAAAAAAAAAAAAAAAAAA=="},
                "alternateVerificationKeys": [], "requiredClaims": [], "restrictionTokenType": "Swt"}}]});
    let uri = "/api/v1/content-key-policies/PolicyWithMultipleOptions";
    let (s, b) = api
        .put(
            uri,
            envelope("contentKeyPolicies", "PolicyWithMultipleOptions", policy),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, got) = api.get(uri).await;
    // A new policy keeps the id it was exported with, and its options theirs.
    assert_eq!(got["policyId"], "07ad673b-dc14-4230-adab-716622f33992", "{got}");
    assert_eq!(
        got["options"][0]["policyOptionId"],
        "8dac9510-770a-401f-8f2b-f72640977ed0"
    );
    assert_eq!(got["description"], "ArmPolicyDescription");
    assert_eq!(got["options"][0]["name"], "ClearKeyOption");
    assert_eq!(got["options"][0]["restriction"]["issuer"], "urn:issuer");

    // Content keys are no v3 resource (the service kept them in locators);
    // castguard's own collection takes the same envelope.
    let key = json!({"keyId": "60000000-0000-0000-0000-000000000007", "type": "CommonEncryption",
        "value": "7UqLohAfWsEGkULYxHjYZg==", "label": "cbcsDefaultKey"});
    let (s, b) = api
        .put(
            "/api/v1/content-keys/cbcs",
            envelope("contentKeys", "cbcs", key),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, got) = api.get("/api/v1/content-keys/cbcs").await;
    assert_eq!(got["keyId"], "60000000-0000-0000-0000-000000000007");
    assert_eq!(got["label"], "cbcsDefaultKey");

    let streaming = json!({"created": "2018-08-08T18:29:31.6197199Z",
        "defaultContentKeyPolicyName": "PolicyWithMultipleOptions",
        "commonEncryptionCbcs": {"enabledProtocols": {"download": false, "dash": false, "hls": true, "smoothStreaming": false},
            "clearTracks": [], "contentKeys": {"defaultKey": {"label": "cbcsDefaultKey"}, "keyToTrackMappings": []},
            "drm": {"fairPlay": {"customLicenseAcquisitionUrlTemplate": "https://contoso.com/{AssetAlternativeId}/fairplay/{ContentKeyId}",
                "allowPersistentLicense": true}}}});
    let uri = "/api/v1/streaming-policies/cbcsOnly";
    let (s, b) = api
        .put(uri, envelope("streamingPolicies", "cbcsOnly", streaming))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, got) = api.get(uri).await;
    assert_eq!(
        got["defaultContentKeyPolicyName"],
        "PolicyWithMultipleOptions"
    );
    assert_eq!(got["commonEncryptionCbcs"]["enabledProtocols"]["hls"], true);

    let locator = json!({"assetName": "ClimbingMountAdams", "created": "2018-08-08T18:29:32.7859424Z",
        "endTime": "9999-12-31T23:59:59.9999999Z", "streamingLocatorId": "90000000-0000-0000-0000-00000000000a",
        "streamingPolicyName": "cbcsOnly",
        "contentKeys": [{"id": "60000000-0000-0000-0000-000000000007", "type": "CommonEncryptionCbcs",
            "labelReferenceInStreamingPolicy": "cbcsDefaultKey", "tracks": []}]});
    let uri = "/api/v1/streaming-locators/secureLocator";
    let (s, b) = api
        .put(uri, envelope("streamingLocators", "secureLocator", locator))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, got) = api.get(uri).await;
    // The locator keeps its id: the service's stream URLs carry it.
    assert_eq!(
        got["streamingLocatorId"],
        "90000000-0000-0000-0000-00000000000a"
    );
    assert_eq!(got["assetName"], "ClimbingMountAdams");
    assert_eq!(
        got["contentKeys"][0]["id"],
        "60000000-0000-0000-0000-000000000007"
    );

    // The envelope must be about this resource, and carry nothing unknown.
    let mut wrong = envelope("assets", "other", json!({}));
    let (s, b) = api
        .put("/api/v1/assets/ClimbingMountAdams", wrong.clone())
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("name")),
        "{b}"
    );
    wrong["name"] = json!("ClimbingMountAdams");
    wrong["type"] = json!("Microsoft.Media/mediaservices/streamingLocators");
    let (s, b) = api
        .put("/api/v1/assets/ClimbingMountAdams", wrong.clone())
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("type")),
        "{b}"
    );
    wrong["type"] = json!("microsoft.media/mediaServices/assets");
    wrong["tags"] = json!({"team": "a"});
    let (s, b) = api.put("/api/v1/assets/ClimbingMountAdams", wrong).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("tags")),
        "{b}"
    );
}

/// Unknown fields are refused by name at any depth (issue 17: nothing the
/// caller meant to set is dropped silently); v3 read-only facts are not.
#[tokio::test]
async fn unknown_fields_are_refused_by_path() {
    let api = Api::new().await;
    for (uri, body, field) in [
        ("/api/v1/assets/a", json!({"description": "d", "colour": "red"}), "colour"),
        (
            "/api/v1/content-key-policies/p",
            json!({"options": [{"configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
                "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction", "issuer": "x"}}]}),
            "options[0].restriction.issuer",
        ),
        (
            "/api/v1/streaming-policies/s",
            json!({"noEncryption": {"enabledProtocols": {"dash": true, "hls": true, "rtmp": true}}}),
            "noEncryption.enabledProtocols.rtmp",
        ),
        (
            "/api/v1/content-keys/k",
            json!({"type": "CommonEncryption", "vaule": KEY_B64}),
            "vaule",
        ),
    ] {
        let (s, b) = api.put(uri, body).await;
        assert_eq!((s, error_field(&b)), (StatusCode::BAD_REQUEST, field), "{uri}: {b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("unknown field"), "{b}");
        assert_eq!(api.get(uri).await.0, StatusCode::NOT_FOUND, "{uri} stored");
    }
    // What the service filled in is ignored.
    let (s, b) = api
        .put("/api/v1/assets/a", json!({"description": "d", "container": "asset-1", "storageAccountName": "sa",
            "created": "2013-02-01T00:00:00Z", "assetId": "1b648c1a-2268-461d-a1da-742bde23db40"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

/// `POST /api/v1/import`: one transaction (issue 17). A batch whose last
/// resource fails leaves nothing; the dry run writes nothing and says what
/// would be created; keys come from a locator's inline values.
#[tokio::test]
async fn import_is_all_or_nothing() {
    let api = Api::new().await;
    let kid = "60000000-0000-0000-0000-000000000004";
    let batch = |asset: &str| {
        json!({"resources": [
            {"collection": "streaming-locators", "source": "loc.json", "resource": {"name": "loc", "properties": {
                "assetName": asset, "streamingPolicyName": "Predefined_ClearKey",
                "streamingLocatorId": "90000000-0000-0000-0000-00000000000b",
                "contentKeys": [{"id": kid, "type": "EnvelopeEncryption", "value": KEY_B64, "policyName": "open"}]}}},
            {"collection": "content-key-policies", "source": "open.json", "resource": {"name": "open", "options": open_policy()["options"]}},
            {"collection": "assets", "source": "movie.json", "resource": {"name": "movie", "type": "Microsoft.Media/mediaservices/assets",
                "properties": {"description": "a film", "container": "asset-x"}}},
        ]})
    };
    let (s, b) = api.call("POST", "/api/v1/import", Some(batch("nothere"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(error_field(&b), "loc.json: assetName", "{b}");
    for uri in ["/api/v1/assets/movie", "/api/v1/content-key-policies/open", "/api/v1/streaming-locators/loc"] {
        assert_eq!(api.get(uri).await.0, StatusCode::NOT_FOUND, "{uri} left behind");
    }
    assert_eq!(api.get(&format!("/api/v1/content-keys/{kid}")).await.0, StatusCode::NOT_FOUND);

    let (s, b) = api.call("POST", "/api/v1/import?dryRun=true", Some(batch("movie"))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["dryRun"], true);
    let order: Vec<&str> = b["resources"].as_array().unwrap().iter().map(|r| r["collection"].as_str().unwrap()).collect();
    assert_eq!(order, ["assets", "content-key-policies", "content-keys", "streaming-locators"], "{b}");
    assert_eq!(b["resources"][0]["notKept"][0]["field"], "container", "{b}");
    assert_eq!(api.get("/api/v1/assets/movie").await.0, StatusCode::NOT_FOUND, "dry run wrote");

    let (s, b) = api.call("POST", "/api/v1/import", Some(batch("movie"))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["resources"].as_array().unwrap().iter().all(|r| r["action"] == "create"), "{b}");
    let (_, keys) = api.post("/api/v1/streaming-locators/loc/list-content-keys?includeValues=true").await;
    assert_eq!(keys["contentKeys"][0]["id"], kid, "{keys}");
    assert_eq!(keys["contentKeys"][0]["value"], KEY_B64, "{keys}");
    assert_eq!(keys["contentKeys"][0]["type"], "EnvelopeEncryption", "{keys}");
    assert_eq!(keys["contentKeys"][0]["policyName"], "open", "{keys}");
    let (_, loc) = api.get("/api/v1/streaming-locators/loc").await;
    assert_eq!(loc["streamingLocatorId"], "90000000-0000-0000-0000-00000000000b");

    // The same key id with another value is refused, naming both places.
    let mut other = batch("movie");
    other["resources"][0]["resource"]["properties"]["contentKeys"][0]["value"] = json!("AAECAwQFBgcICQoLDA0ODw==");
    let (s, b) = api.call("POST", "/api/v1/import", Some(other)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("cannot change"), "{b}");
}

#[tokio::test]
async fn live_events_tokens_states_and_outputs() {
    let api = Api::new().await;
    // A new event gets a generated token and its ingest URL; the state is
    // the server's.
    let (status, ev) = api
        .call(
            "PUT",
            "/api/v1/live-events/stage",
            Some(json!({"input": {"streamingProtocol": "FragmentedMP4"}, "resourceState": "Running"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ev}");
    let token = ev["input"]["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32, "{ev}");
    assert_eq!(ev["resourceState"], "Stopped");
    let url = ev["input"]["endpoints"][0]["url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/ingest/stage/{token}")), "{url}");
    // A replace without a token keeps it.
    let (status, again) = api
        .call(
            "PUT",
            "/api/v1/live-events/stage",
            Some(json!({"description": "main stage", "input": {"streamingProtocol": "FragmentedMP4"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["input"]["accessToken"], token.as_str());
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/live-events/rtmp",
            Some(json!({"input": {"streamingProtocol": "RTMP"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "input.streamingProtocol");

    // Outputs name an existing event and asset.
    let out = json!({"liveEventName": "stage", "assetName": "rec", "archiveWindowLength": "PT1H"});
    let (status, _) = api.call("PUT", "/api/v1/live-outputs/o", Some(out.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no asset yet");
    api.call("PUT", "/api/v1/assets/rec", Some(json!({}))).await;
    let (status, body) = api.call("PUT", "/api/v1/live-outputs/o", Some(out.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let bad = json!({"liveEventName": "stage", "assetName": "rec", "archiveWindowLength": "PT1H", "rewindWindowLength": "PT2H"});
    let (status, body) = api.call("PUT", "/api/v1/live-outputs/o2", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "rewindWindowLength");

    // Start and stop are idempotent; outputs are frozen while running.
    for _ in 0..2 {
        let (status, ev) = api.call("POST", "/api/v1/live-events/stage/start", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ev["resourceState"], "Running");
    }
    let (status, _) = api.call("PUT", "/api/v1/live-outputs/o", Some(out)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = api.call("DELETE", "/api/v1/live-outputs/o", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    for _ in 0..2 {
        let (status, ev) = api.call("POST", "/api/v1/live-events/stage/stop", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ev["resourceState"], "Stopped");
    }
    let (status, _) = api.call("POST", "/api/v1/live-events/nosuch/start", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The asset is recorded into: not deletable while the output exists.
    let (status, _) = api.call("DELETE", "/api/v1/assets/rec", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Delete takes the outputs along and is idempotent; the asset stays.
    for _ in 0..2 {
        let (status, _) = api.call("DELETE", "/api/v1/live-events/stage", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _) = api.call("GET", "/api/v1/live-outputs/o", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.call("GET", "/api/v1/assets/rec", None).await;
    assert_eq!(status, StatusCode::OK);
}
