//! The secrets check can fail (issue 8, item 4): scripts/check-secrets.sh,
//! which scripts/test.sh runs over everything the suite's servers printed,
//! passes on a real `castguard serve` log at `RUST_LOG=debug` after API
//! writes that carry a key, a token policy's HMAC key and the admin token,
//! and fails, naming the file and line but not the secret, once a key from
//! tests/secrets.txt reaches that log (here through the request path, which
//! the server logs at debug).

mod api_server;

use api_server::{Server, TOKEN, data_dir};
use base64::Engine as _;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SECRETS: &str = include_str!("../../../tests/secrets.txt");

/// The raw bytes of `name` in tests/secrets.txt.
fn listed(name: &str) -> Vec<u8> {
    let line = SECRETS
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("{name} missing from tests/secrets.txt"));
    let f: Vec<&str> = line.split_whitespace().collect();
    match f[1] {
        "hex" => (0..f[2].len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&f[2][i..i + 2], 16).unwrap())
            .collect(),
        "b64" => base64::engine::general_purpose::STANDARD
            .decode(f[2])
            .unwrap(),
        _ => f[2].as_bytes().to_vec(),
    }
}

fn check(arg: &Path) -> Output {
    Command::new(api_server::repo_root().join("scripts/check-secrets.sh"))
        .arg(arg)
        .output()
        .expect("run scripts/check-secrets.sh")
}

#[test]
fn check_secrets_catches_a_key_in_server_output() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    // This server's log goes to a private directory, not the suite's.
    let server = Server::start_logged(&data_dir(&tmp), Some(TOKEN), Some(&logs));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    let put = |path: &str, body: serde_json::Value| {
        let r = agent
            .put(format!("{}/api/v1/{path}", server.url))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .send_json(body)
            .unwrap();
        assert!(r.status().is_success(), "PUT {path}: {}", r.status());
    };
    put(
        "content-key-policies/viewers",
        json!({"options": [{"name": "token", "configuration": {
            "@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
          "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
            "issuer": "https://sts.secrets.test", "audience": "urn:secrets", "restrictionTokenType": "Jwt",
            "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
              "keyValue": b64(&listed("origin-hmac"))}}}]}),
    );
    put(
        "content-keys/k1",
        json!({"type": "EnvelopeEncryption", "policyName": "viewers",
               "keyId": "5e1f0000-1111-2222-3333-444455556666", "value": b64(&listed("e2e-key1"))}),
    );
    let r = agent
        .get(format!(
            "{}/keys/v1/aes/5e1f0000-1111-2222-3333-444455556666",
            server.url
        ))
        .header("Authorization", "Bearer not-a-token")
        .call()
        .unwrap();
    assert_eq!(r.status(), 401);

    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !server.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{needle} not logged:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("castguard::audit");
    let clean = check(&logs);
    assert!(
        clean.status.success(),
        "the check fails on a clean log: {}{}",
        String::from_utf8_lossy(&clean.stdout),
        String::from_utf8_lossy(&clean.stderr)
    );

    // A client puts a listed key into a URL path; the server logs paths at
    // debug: now the log holds a secret, and the check must say where.
    let canary = listed("secrets-check-canary");
    let form = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&canary);
    let r = agent
        .get(format!("{}/s/{form}/cenc/manifest.mpd", server.url))
        .call()
        .unwrap();
    assert_eq!(r.status(), 404);
    wait_for(&form);
    let dirty = check(&logs);
    let stdout = String::from_utf8_lossy(&dirty.stdout);
    assert_eq!(
        dirty.status.code(),
        Some(1),
        "the check missed the key: {stdout}"
    );
    let line = server
        .log()
        .lines()
        .position(|l| l.contains(&form))
        .map(|i| i + 1)
        .unwrap();
    assert!(
        stdout.lines().any(|l| l.starts_with("serve-")
            && l.contains(&format!(
                ".log:{line}: test secret 'secrets-check-canary' (base64url form)"
            ))),
        "the report does not name the file and line {line}: {stdout}"
    );
    let hex: String = canary.iter().map(|b| format!("{b:02x}")).collect();
    for out in [&dirty.stdout, &dirty.stderr] {
        let out = String::from_utf8_lossy(out);
        assert!(
            !out.contains(&form) && !out.to_lowercase().contains(&hex),
            "the report prints the secret"
        );
    }
    assert!(server.stop().success());
}

/// Every key or token literal of the end-to-end tests is in
/// tests/secrets.txt, so the log check searches for it.
#[test]
fn every_e2e_test_secret_is_listed() {
    let out = check(Path::new("--sources"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
