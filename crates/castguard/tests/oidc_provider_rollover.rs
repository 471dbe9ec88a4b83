//! Signing-key rollover at an OpenID Connect provider we did not write
//! (npm `oidc-provider`, tests/tools/oidc_provider.mjs, on 127.0.0.1) as
//! the STS of a content key policy:
//! - castguard finds the key set through the provider's discovery document
//!   (`--allow-http-fetch 127.0.0.1` for a plain-HTTP provider);
//! - a `client_credentials` JWT access token whose `groups` holds
//!   `EntitledUsers` gets the key, another client's token is refused
//!   `claim_missing`;
//! - the provider restarts with a new signing key (what a rollover looks
//!   like from outside: a new `kid` in tokens and key set at once), and the
//!   first token signed with it, seconds after castguard last fetched the
//!   key set, gets the key: it waits for the next allowed key-set fetch
//!   instead of being refused `signature_invalid` until the refetch
//!   interval is over.

mod api_server;
mod common;

use api_server::{Server, TOKEN, cli, ok};
use base64::Engine as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KID: &str = "0cd10000aaaabbbbccccddddeeeeffff";
const KEY: &str = "101112131415161718191a1b1c1d1e1f";
const AUDIENCE: &str = "urn:castguard:e2e";
/// castguard's shortest interval between two key-set fetches caused by
/// unknown kids (`keys::token::OidcConfig::min_refetch`).
const MIN_REFETCH: Duration = Duration::from_secs(10);

/// `node tests/tools/oidc_provider.mjs [PORT]`, killed on drop.
struct Provider {
    child: Child,
    issuer: String,
    kid: String,
}

impl Provider {
    fn start(port: u16) -> Provider {
        let root = common::repo_root();
        assert!(
            root.join("node_modules/oidc-provider").is_dir(),
            "node_modules/oidc-provider missing: run scripts/install-test-tools.sh"
        );
        let mut child = Command::new("node")
            .arg(root.join("crates/castguard/tests/tools/oidc_provider.mjs"))
            .arg(port.to_string())
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("oidc-provider did not start");
        let v: serde_json::Value =
            serde_json::from_str(&line).expect("oidc_provider.mjs prints JSON");
        Provider {
            child,
            issuer: v["issuer"].as_str().unwrap().to_string(),
            kid: v["kid"].as_str().unwrap().to_string(),
        }
    }

    fn port(&self) -> u16 {
        self.issuer.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// An access token for `client` (client_credentials grant).
    fn token(&self, client: &str) -> String {
        let secret = format!("{client}-secret");
        let mut resp = agent()
            .post(format!("{}/token", self.issuer))
            .send_form([
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("client_secret", secret.as_str()),
                ("scope", "keys"),
            ])
            .expect("token request");
        assert_eq!(resp.status(), 200);
        let v: serde_json::Value = resp.body_mut().read_json().unwrap();
        v["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// A JWT's header field.
fn header(jwt: &str, field: &str) -> String {
    let h = jwt.split('.').next().unwrap();
    let h = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .unwrap();
    let h: serde_json::Value = serde_json::from_slice(&h).unwrap();
    h[field].as_str().unwrap_or_default().to_string()
}

/// `GET /keys/v1/aes/{kid}` with `token`: status, body, time taken.
fn get_key(base: &str, token: &str) -> (u16, Vec<u8>, Duration) {
    let kid = format!(
        "{}-{}-{}-{}-{}",
        &KID[0..8],
        &KID[8..12],
        &KID[12..16],
        &KID[16..20],
        &KID[20..]
    );
    let started = Instant::now();
    let mut resp = agent()
        .get(format!("{base}/keys/v1/aes/{kid}"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("key request");
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().unwrap();
    (status, body, started.elapsed())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn provider_rolls_its_signing_key_and_no_token_is_refused() {
    let provider = Provider::start(0);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &tmp.path().join("data"),
        Some(TOKEN),
        &["--no-demo", "--allow-http-fetch", "127.0.0.1"],
        &[],
    );
    let policy = serde_json::json!({"options": [{
        "name": "oidc",
        "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
        "restriction": {
            "@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
            "issuer": provider.issuer,
            "audience": AUDIENCE,
            "restrictionTokenType": "Jwt",
            "openIdConnectDiscoveryDocument": format!("{}/.well-known/openid-configuration", provider.issuer),
            "requiredClaims": [{"claimType": "groups", "claimValue": "EntitledUsers"}]
        }
    }]});
    let file = tmp.path().join("policy.json");
    std::fs::write(&file, policy.to_string()).unwrap();
    let run = |args: &[&str]| ok(&cli(&server.url, TOKEN, args));
    run(&["policy", "create", "oidc", "--file", file.to_str().unwrap()]);
    run(&[
        "key", "create", "env", "--type", "envelope", "--kid", KID, "--value", KEY, "--policy",
        "oidc",
    ]);

    // Before the rollover: the provider's key, found through discovery.
    let entitled = provider.token("entitled");
    assert_eq!(header(&entitled, "kid"), provider.kid);
    let (status, body, _) = get_key(&server.url, &entitled);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(hex(&body), KEY);
    let (status, body, _) = get_key(&server.url, &provider.token("outsider"));
    assert_eq!(status, 401);
    assert!(
        String::from_utf8_lossy(&body).contains("claim_missing"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // Rollover: the provider restarts on the same address with a new key,
    // well within the refetch interval of castguard's last fetch.
    let (port, old_kid) = (provider.port(), provider.kid.clone());
    let rolled_at = Instant::now();
    drop(provider);
    let provider = Provider::start(port);
    assert_ne!(provider.kid, old_kid, "a new signing key");
    let entitled = provider.token("entitled");
    assert_eq!(header(&entitled, "kid"), provider.kid);
    assert!(
        rolled_at.elapsed() < MIN_REFETCH,
        "the restart took longer than the interval under test"
    );
    let (status, body, took) = get_key(&server.url, &entitled);
    assert_eq!(
        status,
        200,
        "the new key's token was refused: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(hex(&body), KEY);
    assert!(
        took < MIN_REFETCH + Duration::from_secs(8),
        "waited {took:?}"
    );
    // Later tokens signed with the new key need no wait.
    let (status, _, took) = get_key(&server.url, &provider.token("entitled"));
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(3), "{took:?}");

    let log = server.log();
    assert!(
        !log.contains(&entitled) && !log.contains(KEY),
        "a token or key reached the log"
    );
}
