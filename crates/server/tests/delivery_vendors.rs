//! Vendor license services behind our policies (issue 20): for each adapter
//! (Axinom, DRMtoday, PallyCon, generic) a persistent and a non-persistent
//! template, proxied to `vendor_standin.py`, a StandIn for the vendors'
//! license servers that checks each message the way the vendor documents
//! it (PyJWT, cryptography: not our code) and the rights against what the
//! policy granted. A token our policy refuses never reaches it; a message
//! signed with another secret is refused by it; templates and vendor
//! settings that cannot work are a 400 naming the field, nothing stored;
//! secrets never come back from GET.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use keys::sts::SigningKey;
use serde_json::{Value, json};
use server::{AppState, app};
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tower::ServiceExt as _;
use uuid::Uuid;

#[path = "support/app.rs"]
mod app;

const ADMIN: &str = "vendor-test-admin-token-0123456789";
const SECRET: &[u8] = b"vendor-test-viewer-hmac-secret-0123456789";
const ISSUER: &str = "https://issuer.vendors.test";
const AUDIENCE: &str = "castguard-vendors";
const SUBJECT: &str = "viewer-1";
/// Axinom's published test communication key (drm-quick-start).
const AXINOM_KEY_B64: &str = "SGEpLQJ+JpeRCTMn5izu/b6kiaTH5aSXTMkEuED9fA8=";
const AXINOM_COM_KID: &str = "69e54088-e9e0-4530-8c1a-1eb6dcd0d14e";
const OTHER_AXINOM_KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const DRMTODAY_SECRET_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const DRMTODAY_KID: &str = "00000000-1111-2222-3333-444444444444";
/// The PallyCon tutorial's site (published test values).
const PALLYCON_SITE: &str = "TUTO";
const PALLYCON_SITE_KEY: &str = "lU5D8s3PWoLls3PWFWkClULlFWk5D8oC";
const PALLYCON_ACCESS_KEY: &str = "LT2FVJDp2Xr018zf4Di6lzvNOv3DKP20";
const GENERIC_SECRET: &[u8] = b"generic-vendor-secret-0123456789";

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(v)
}

fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

fn python() -> PathBuf {
    std::env::var_os("CASTGUARD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"))
}

/// The StandIn vendor license servers, killed on drop.
struct StandIn {
    child: Child,
    base: String,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl StandIn {
    fn start(config: &Value, dir: &std::path::Path) -> StandIn {
        let path = dir.join("standin.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vendor_standin.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python with PyJWT and cryptography (scripts/install-test-tools.sh)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("PORT ").expect("stand-in port");
        StandIn {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// What each request to the stand-in got.
    async fn log(&self) -> Vec<Value> {
        let base = self.base.clone();
        tokio::task::spawn_blocking(move || {
            let body = ureq_get(&format!("{base}/log"));
            serde_json::from_str::<Vec<Value>>(&body).unwrap()
        })
        .await
        .unwrap()
    }
}

fn ureq_get(url: &str) -> String {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_owned()
}

struct Env {
    state: AppState,
    dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let (state, dir) = app::state(ADMIN, app::config()).await;
        Env { state, dir }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, body)
    }

    async fn api(&self, method: &str, uri: &str, body: Option<&Value>) -> (StatusCode, String) {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (s, body) = self.send(b.body(body).unwrap()).await;
        (s, String::from_utf8_lossy(&body).into_owned())
    }

    async fn put_policy(&self, name: &str, configuration: Value) -> (StatusCode, String) {
        let policy = json!({"options": [{"name": "vendor", "configuration": configuration,
            "restriction": {
                "@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
                "issuer": ISSUER, "audience": AUDIENCE, "restrictionTokenType": "Jwt",
                "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
                    "keyValue": b64(SECRET)}}}]});
        self.api("PUT", &format!("/api/v1/content-key-policies/{name}"), Some(&policy)).await
    }

    async fn put_key(&self, name: &str, kid: Uuid, value: [u8; 16], policy: &str) {
        let t = keys::model::ContentKeyType::CommonEncryption;
        app::put_key(self.state.store(), name, kid, t, value, policy).await;
    }

    async fn license(&self, drm: &str, kid: Uuid, token: &str, challenge: &[u8]) -> (StatusCode, Vec<u8>) {
        let req = Request::post(format!("/keys/v1/{drm}?kid={kid}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(challenge.to_vec()))
            .unwrap();
        self.send(req).await
    }
}

fn token(secret: &[u8]) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "sub": SUBJECT});
    SigningKey::hs256("k", secret)
        .unwrap()
        .sign(claims.as_object().unwrap())
        .unwrap()
}

fn widevine(up: &str, vendor: Value, persist: bool, duration: u64) -> Value {
    let template = json!({"allowed_track_types": "SD_HD",
        "content_key_specs": [{"track_type": "SD", "security_level": 1}],
        "policy_overrides": {"can_play": true, "can_persist": persist, "license_duration_seconds": duration}});
    json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicyWidevineConfiguration",
        "widevineTemplate": template.to_string(), "licenseServerUrl": up, "vendor": vendor})
}

fn playready(up: &str, vendor: Value, license_type: &str) -> Value {
    json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicyPlayReadyConfiguration",
        "licenses": [{"allowTestDevices": false, "securityLevel": "SL2000", "licenseType": license_type,
            "contentKeyLocation": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyPlayReadyContentEncryptionKeyFromHeader"},
            "contentType": "Unspecified"}],
        "licenseServerUrl": up, "vendor": vendor})
}

fn fairplay(up: &str, vendor: Value, key_type: &str) -> Value {
    json!({"@odata.type": "#Microsoft.Media.ContentKeyPolicyFairPlayConfiguration",
        "rentalAndLeaseKeyType": key_type, "rentalDuration": 0,
        "licenseServerUrl": up, "vendor": vendor})
}

struct Case {
    name: &'static str,
    drm: &'static str,
    configuration: Value,
    /// 200 with the stand-in's license, or the proxy's refusal status.
    granted: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn vendor_messages_satisfy_their_stand_ins() {
    let env = Env::new().await;
    let axinom = json!({"type": "axinom", "communicationKeyId": AXINOM_COM_KID,
        "communicationKey": AXINOM_KEY_B64, "includeKeys": true});
    let axinom_plain = json!({"type": "axinom", "communicationKeyId": AXINOM_COM_KID,
        "communicationKey": AXINOM_KEY_B64});
    let axinom_wrong = json!({"type": "axinom", "communicationKeyId": AXINOM_COM_KID,
        "communicationKey": OTHER_AXINOM_KEY_B64});
    let drmtoday = json!({"type": "drmtoday", "merchant": "acme-media",
        "sharedSecret": DRMTODAY_SECRET_HEX, "keyId": DRMTODAY_KID});
    let pallycon = json!({"type": "pallycon", "siteId": PALLYCON_SITE, "siteKey": PALLYCON_SITE_KEY,
        "accessKey": PALLYCON_ACCESS_KEY, "includeKeys": true});
    let generic = json!({"type": "generic", "header": "X-Vendor-Entitlement", "format": "jwt",
        "secret": b64(GENERIC_SECRET),
        "template": {"kids": "{{keyIds}}", "user": "{{sub}}", "offline": "{{persistent}}",
            "exp": "{{expiresAtUnix}}"}});

    // One key per case, each under its own policy.
    let kid = |i: u128| Uuid::from_u128(0x2000_0000_1000_4000_8000_0000_0000_0000 | i);
    let value = |i: u8| -> [u8; 16] { std::array::from_fn(|j| (j as u8).wrapping_mul(17) ^ i) };

    // The stand-in's routes: the secrets it shares and the rights it expects.
    let mut routes = serde_json::Map::new();
    let axinom_cfg = |expect: Value| json!({"vendor": "axinom", "communication_key": AXINOM_KEY_B64,
        "communication_key_id": AXINOM_COM_KID, "expect": expect});
    let drmtoday_cfg = |expect: Value| json!({"vendor": "drmtoday", "shared_secret_hex": DRMTODAY_SECRET_HEX,
        "kid": DRMTODAY_KID, "merchant": "acme-media", "expect": expect});
    let pallycon_cfg = |expect: Value| json!({"vendor": "pallycon", "site_id": PALLYCON_SITE,
        "site_key": PALLYCON_SITE_KEY, "access_key": PALLYCON_ACCESS_KEY, "expect": expect});
    let generic_cfg = |expect: Value| json!({"vendor": "generic", "header": "X-Vendor-Entitlement",
        "secret": b64(GENERIC_SECRET), "expect": expect});
    let k = |i: u128| kid(i).to_string();
    routes.insert("/axinom/persistent".into(), axinom_cfg(json!({"kids": [k(1)],
        "keys": {k(1): hex(&value(1))}, "persistent": true, "license_duration": 3600})));
    routes.insert("/axinom/temporary".into(), axinom_cfg(json!({"kids": [k(2)], "persistent": false,
        "license_duration": null})));
    routes.insert("/axinom/wrong-key".into(), axinom_cfg(json!({"kids": [k(3)], "persistent": false})));
    routes.insert("/drmtoday/persistent".into(), drmtoday_cfg(json!({"kids": [k(4)], "persistent": true,
        "sub": SUBJECT, "rental": true})));
    routes.insert("/drmtoday/temporary".into(), drmtoday_cfg(json!({"kids": [k(5)], "persistent": false,
        "sub": SUBJECT, "rental": false})));
    routes.insert("/pallycon/persistent".into(), pallycon_cfg(json!({"kids": [kid(6).simple().to_string()],
        "keys": {k(6): hex(&value(6))}, "persistent": true, "sub": SUBJECT, "drm": "FairPlay",
        "license_duration": null})));
    routes.insert("/pallycon/temporary".into(), pallycon_cfg(json!({"kids": [kid(7).simple().to_string()],
        "keys": {k(7): hex(&value(7))}, "persistent": false, "sub": SUBJECT, "drm": "Widevine",
        "license_duration": 600})));
    routes.insert("/generic/persistent".into(), generic_cfg(json!({"kids": [k(8)], "persistent": true,
        "sub": SUBJECT})));
    routes.insert("/generic/temporary".into(), generic_cfg(json!({"kids": [k(9)], "persistent": false,
        "sub": SUBJECT})));
    let standin = StandIn::start(&json!({"routes": routes}), env.dir.path());
    let up = |path: &str| format!("{}{path}", standin.base);

    let cases = [
        Case { name: "axinom-persistent", drm: "widevine",
            configuration: widevine(&up("/axinom/persistent"), axinom.clone(), true, 3600), granted: true },
        Case { name: "axinom-temporary", drm: "playready",
            configuration: playready(&up("/axinom/temporary"), axinom_plain, "NonPersistent"), granted: true },
        // Signed with a key the vendor does not have: the vendor refuses.
        Case { name: "axinom-wrong-key", drm: "widevine",
            configuration: widevine(&up("/axinom/wrong-key"), axinom_wrong, false, 0), granted: false },
        Case { name: "drmtoday-persistent", drm: "widevine",
            configuration: widevine(&up("/drmtoday/persistent"), drmtoday.clone(), true, 86400), granted: true },
        Case { name: "drmtoday-temporary", drm: "playready",
            configuration: playready(&up("/drmtoday/temporary"), drmtoday, "NonPersistent"), granted: true },
        Case { name: "pallycon-persistent", drm: "fairplay",
            configuration: fairplay(&up("/pallycon/persistent"), pallycon.clone(), "PersistentUnlimited"), granted: true },
        Case { name: "pallycon-temporary", drm: "widevine",
            configuration: widevine(&up("/pallycon/temporary"), pallycon, false, 600), granted: true },
        Case { name: "generic-persistent", drm: "playready",
            configuration: playready(&up("/generic/persistent"), generic.clone(), "Persistent"), granted: true },
        Case { name: "generic-temporary", drm: "widevine",
            configuration: widevine(&up("/generic/temporary"), generic, false, 0), granted: true },
    ];
    let viewer = token(SECRET);
    let challenge: Vec<u8> = (0u8..=255).cycle().take(2048).collect();
    for (i, case) in cases.iter().enumerate() {
        let n = i as u128 + 1;
        let (s, body) = env.put_policy(case.name, case.configuration.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{}: {body}", case.name);
        env.put_key(case.name, kid(n), value(n as u8), case.name).await;
        let (s, body) = env.license(case.drm, kid(n), &viewer, &challenge).await;
        let vendor = case.name.split('-').next().unwrap();
        if case.granted {
            assert_eq!(s, StatusCode::OK, "{}: {}", case.name, String::from_utf8_lossy(&body));
            let mut want = format!("STANDIN-LICENSE {vendor}:").into_bytes();
            want.extend_from_slice(&challenge);
            assert_eq!(body, want, "{}", case.name);
        } else {
            assert_eq!(s, StatusCode::BAD_GATEWAY, "{}: {}", case.name, String::from_utf8_lossy(&body));
            assert!(String::from_utf8_lossy(&body).contains("upstream_refused"), "{}", case.name);
        }
    }
    let log = standin.log().await;
    let refused: Vec<&Value> = log.iter().filter(|e| e.get("refused").is_some()).collect();
    assert_eq!(log.len(), cases.len(), "{log:?}");
    assert_eq!(refused.len(), 1, "only the wrong key is refused: {log:?}");
    assert!(refused[0]["refused"].as_str().unwrap().starts_with("signature"), "{log:?}");

    // A token our policy refuses never reaches the vendor.
    let outsider = token(b"another-issuers-secret-0123456789abc");
    let (s, _) = env.license("widevine", kid(1), &outsider, &challenge).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(standin.log().await.len(), cases.len());

    // GET never shows a vendor secret.
    for name in ["axinom-persistent", "drmtoday-persistent", "pallycon-persistent", "generic-persistent"] {
        let (s, body) = env.api("GET", &format!("/api/v1/content-key-policies/{name}"), None).await;
        assert_eq!(s, StatusCode::OK);
        for secret in [AXINOM_KEY_B64, DRMTODAY_SECRET_HEX, PALLYCON_SITE_KEY, PALLYCON_ACCESS_KEY, &b64(GENERIC_SECRET)] {
            assert!(!body.contains(secret), "{name}: a secret in {body}");
        }
        assert!(body.contains("\"vendor\""), "{body}");
    }
}

#[tokio::test]
async fn templates_and_vendor_settings_are_checked_on_put() {
    let env = Env::new().await;
    let up = "https://license.vendor.example/acquire";
    let axinom = json!({"type": "axinom", "communicationKeyId": AXINOM_COM_KID, "communicationKey": AXINOM_KEY_B64});
    let bad = |mut c: Value, f: &dyn Fn(&mut Value)| {
        f(&mut c);
        c
    };
    let cases: Vec<(Value, &str)> = vec![
        // An unknown vendor setting, named.
        (bad(widevine(up, axinom.clone(), false, 0), &|c| c["vendor"]["comKey"] = "x".into()), "comKey"),
        // An unknown vendor (serde names the configuration and the value).
        (bad(widevine(up, axinom.clone(), false, 0), &|c| c["vendor"]["type"] = "widevine-cloud".into()),
            "unknown variant `widevine-cloud`"),
        // A communication key of the wrong length.
        (bad(widevine(up, axinom.clone(), false, 0), &|c| c["vendor"]["communicationKey"] = b64(&[1; 16]).into()),
            "vendor.communicationKey"),
        // A DRMtoday secret that is not hex.
        (widevine(up, json!({"type": "drmtoday", "merchant": "m", "sharedSecret": "not-hex"}), false, 0),
            "vendor.sharedSecret"),
        // A PallyCon site key of the wrong length.
        (widevine(up, json!({"type": "pallycon", "siteId": "TUTO", "siteKey": "short",
            "accessKey": PALLYCON_ACCESS_KEY}), false, 0), "vendor.siteKey"),
        // The generic JWT without its secret.
        (widevine(up, json!({"type": "generic", "header": "X-E", "format": "jwt", "template": {}}), false, 0),
            "vendor.secret"),
        // A vendor without the vendor's license server.
        (bad(widevine(up, axinom.clone(), false, 0), &|c| {
            c.as_object_mut().unwrap().remove("licenseServerUrl");
        }), "vendor"),
        // A Widevine template naming an unknown right.
        (bad(widevine(up, axinom.clone(), false, 0), &|c| {
            c["widevineTemplate"] = r#"{"policy_overrides":{"can_persist":true,"can_fly":true}}"#.into()
        }), "widevineTemplate.policy_overrides.can_fly"),
        // A Widevine template that is not JSON.
        (bad(widevine(up, axinom.clone(), false, 0), &|c| c["widevineTemplate"] = "{can_persist".into()),
            "widevineTemplate"),
        // A PlayReady template with an unknown license type (serde names
        // the configuration and the value).
        (bad(playready(up, axinom.clone(), "NonPersistent"), &|c| c["licenses"][0]["licenseType"] = "Forever".into()),
            "unknown variant `Forever`"),
        // FairPlay served by castguard itself without its certificate (PFX).
        (bad(fairplay(up, axinom.clone(), "Undefined"), &|c| {
            let o = c.as_object_mut().unwrap();
            o.remove("licenseServerUrl");
            o.remove("vendor");
            o.insert("ask".into(), b64(&[7; 16]).into());
        }), "fairPlayPfx"),
    ];
    for (i, (configuration, field)) in cases.iter().enumerate() {
        let name = format!("bad-{i}");
        let (s, body) = env.put_policy(&name, configuration.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert!(body.contains(field), "case {i} should name {field}: {body}");
        assert!(!body.contains(AXINOM_KEY_B64), "a secret in an error: {body}");
        let (s, _) = env.api("GET", &format!("/api/v1/content-key-policies/{name}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "case {i} stored something");
    }
}
