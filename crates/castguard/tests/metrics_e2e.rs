//! Prometheus metrics of a real `castguard serve`: `--metrics-listen`
//! serves `/metrics` on its own port without a token, `--metrics-token-file`
//! opens `/metrics` on the main port to that bearer token only (401
//! without it). What it serves is read by the Prometheus project's own
//! parsers (PyPI `prometheus_client`, `tests/metrics_facts.py`), in both
//! the Prometheus text format and OpenMetrics, and the series that the
//! test's requests must have moved are checked there.

mod api_server;
mod common;

use api_server::{Server, TOKEN, data_dir};
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const METRICS_TOKEN: &str = "e2e-metrics-token-0123456789abcdef";
const KID: &str = "d7a1b2c3-0000-4000-8000-00000000a0e5";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// Status, `Content-Type` and body of a GET.
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut res = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        res.status().as_u16(),
        ct,
        res.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn put(url: &str, body: Value) -> u16 {
    agent()
        .put(url)
        .header("authorization", &format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"))
        .status()
        .as_u16()
}

/// The metrics listener's URL, from the `metrics on` line.
fn metrics_url(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(rest) = server.log().split("castguard: metrics on ").nth(1) {
            return rest.lines().next().unwrap_or("").trim().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no 'metrics on' line: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `tests/metrics_facts.py FORMAT` on `text`: families and samples as the
/// Prometheus project's parser reads them.
fn facts(format: &str, text: &str) -> Value {
    let script = api_server::repo_root().join("crates/castguard/tests/metrics_facts.py");
    let mut child = Command::new(common::python())
        .arg(&script)
        .arg(format)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run metrics_facts.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "metrics_facts.py {format}: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metrics_facts.py prints JSON")
}

/// The sum of the samples named `name` whose labels include `labels`.
fn sample(facts: &Value, name: &str, labels: &[(&str, &str)]) -> f64 {
    facts["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s[0] == name)
        .filter(|s| labels.iter().all(|(k, v)| s[1][*k] == *v))
        .map(|s| s[2].as_f64().unwrap_or(0.0))
        .sum()
}

#[test]
fn metrics_listener_and_token_protected_route_parse_with_prometheus_client() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let token_file = tmp.path().join("metrics.token");
    std::fs::write(&token_file, format!("{METRICS_TOKEN}\n")).unwrap();
    let server = Server::start_with(
        &data,
        Some(TOKEN),
        &[
            "--no-demo",
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-token-file",
            token_file.to_str().unwrap(),
        ],
        &[],
    );
    let base = server.url.clone();
    let metrics = metrics_url(&server);

    // Traffic: two API writes, a key request refused for want of a token,
    // one for an unknown key.
    let policy = json!({"options": [{
        "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
        "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
            "issuer": "https://issuer.test", "audience": "viewers", "restrictionTokenType": "Jwt",
            "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
                "keyValue": "bWV0cmljcy1lMmUtaG1hYy1zZWNyZXQtMDEyMzQ1Njc4OQ=="}}}]});
    assert_eq!(
        put(
            &format!("{base}/api/v1/content-key-policies/viewers"),
            policy
        ),
        201
    );
    let key = json!({"keyId": KID, "type": "EnvelopeEncryption", "policyName": "viewers"});
    assert_eq!(put(&format!("{base}/api/v1/content-keys/aes"), key), 201);
    assert_eq!(get(&format!("{base}/keys/v1/aes/{KID}"), &[]).0, 401);
    assert_eq!(
        get(
            &format!("{base}/keys/v1/aes/00000000-0000-4000-8000-000000000009"),
            &[]
        )
        .0,
        404
    );

    // The main port: the bearer token or nothing.
    let (s, _, body) = get(&format!("{base}/metrics"), &[]);
    assert_eq!(s, 401);
    assert!(!body.contains("castguard_"));
    let (s, _, _) = get(
        &format!("{base}/metrics"),
        &[("authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(s, 401, "the admin token is not the metrics token");
    let (s, ct, text) = get(
        &format!("{base}/metrics"),
        &[("authorization", &format!("Bearer {METRICS_TOKEN}"))],
    );
    assert_eq!(s, 200);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let f = facts("text", &text);
    assert_eq!(f["families"]["castguard_key_deliveries"], "counter", "{f}");

    // The metrics listener: no token, the same registry, both formats.
    let (s, _, text) = get(&metrics, &[]);
    assert_eq!(s, 200);
    let f = facts("text", &text);
    let (s, ct, om) = get(
        &metrics,
        &[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    );
    assert_eq!(s, 200);
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let o = facts("openmetrics", &om);
    for f in [&f, &o] {
        assert_eq!(
            sample(
                f,
                "castguard_key_deliveries_total",
                &[
                    ("drm_system", "aes"),
                    ("result", "denied"),
                    ("reason", "token_missing")
                ]
            ),
            1.0,
            "{f}"
        );
        assert_eq!(
            sample(
                f,
                "castguard_key_deliveries_total",
                &[("drm_system", "aes"), ("result", "not_found")]
            ),
            1.0
        );
        assert_eq!(
            sample(
                f,
                "castguard_api_writes_total",
                &[("method", "PUT"), ("status", "201")]
            ),
            2.0
        );
        assert_eq!(
            sample(
                f,
                "castguard_http_requests_total",
                &[("route", "/metrics"), ("status", "401")]
            ),
            2.0
        );
        assert_eq!(
            sample(f, "castguard_admin_auth_failures_total", &[]),
            1.0,
            "the admin token sent as metrics token"
        );
        assert_eq!(
            sample(f, "castguard_backend_up", &[("backend", "database")]),
            1.0
        );
        assert!(
            sample(
                f,
                "castguard_db_pool_max_connections",
                &[("database", "sqlite")]
            ) >= 2.0
        );
        assert_eq!(
            f["families"]["castguard_token_verification_duration_seconds"],
            "histogram"
        );
    }
    assert_eq!(o["families"]["castguard_build"], "info", "{o}");
    assert_eq!(
        sample(
            &o,
            "castguard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // Nothing but /metrics on the metrics listener.
    let other = metrics.replace("/metrics", "/api/v1/assets");
    assert_eq!(get(&other, &[]).0, 404);
    assert!(server.stop().success());
}

/// Without `--metrics-token-file`, `/metrics` on the main port does not
/// exist; a token file that is too short stops the start.
#[test]
fn without_a_token_the_public_port_has_no_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let server = Server::start_with(&data, Some(TOKEN), &["--no-demo"], &[]);
    let (s, _, _) = get(&format!("{}/metrics", server.url), &[]);
    assert_eq!(s, 404);
    let (s, _, _) = get(
        &format!("{}/metrics", server.url),
        &[("authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(s, 404);
    assert!(!server.log().contains("metrics on"));
    drop(server);

    let short = tmp.path().join("short.token");
    std::fs::write(&short, "tooshort").unwrap();
    let out = Command::new(api_server::bin())
        .args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(tmp.path().join("other"))
        .arg("--metrics-token-file")
        .arg(&short)
        .env("CASTGUARD_ADMIN_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--metrics-token-file"), "{err}");
    assert!(!err.contains("tooshort"), "the token never appears: {err}");
    assert!(
        !tmp.path().join("other").exists(),
        "nothing created before the configuration is checked"
    );
}
