//! `castguard token issue` against a real `castguard serve` (issue 4,
//! item 6): a policy, an AES-128 key and a locator made through the
//! management CLI; a token minted offline from the data directory (the
//! option's own HMAC key, or the STS key ring for an option that trusts the
//! STS) or online through `POST /sts/token` opens the key at
//! `/keys/v1/aes/{kid}`; no token, or a token minted for another policy,
//! gets 401.

mod api_server;

use api_server::{Server, TOKEN, bin, cli, data_dir, ok};
use base64::Engine as _;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const KID: &str = "0badc0de-4455-6677-8899-aabbccddeeff";
const KEY_B64: &str = "EBESExQVFhcYGRobHB0eHw==";
const OTHER_KID: &str = "0badc0de-4455-6677-8899-aabbccdd0002";

fn token_cmd(args: &[&str]) -> Output {
    Command::new(bin())
        .args(["token", "issue"])
        .args(args)
        .env_remove("CASTGUARD_ADMIN_TOKEN")
        .env_remove("CASTGUARD_SERVER")
        .output()
        .expect("run castguard token issue")
}

fn mint(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["--data", data.to_str().unwrap()];
    all.extend_from_slice(args);
    ok(&token_cmd(&all)).trim().to_owned()
}

/// GET /keys/v1/aes/{kid}: status and body.
fn get_key(base: &str, kid: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(&format!("{base}/keys/v1/aes/{kid}"));
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut res = req.call().expect("key request");
    let status = res.status().as_u16();
    let body = res.body_mut().read_to_vec().unwrap();
    (status, body)
}

fn reason(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["error"]["code"].as_str().unwrap_or("").to_owned()
}

#[test]
fn minted_tokens_open_only_their_policys_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(&tmp);
    let server = Server::start(&data, Some(TOKEN));
    let run = |args: &[&str]| cli(&server.url, TOKEN, args);

    // Two HS256 policies: `films` requires a fixed group, a presence-only
    // `tier` claim and the content key id; `other` has another key.
    ok(&run(&[
        "policy",
        "create",
        "films",
        "--issuer",
        "https://idp.example",
        "--audience",
        "urn:castguard:films",
        "--symmetric-key",
        "ZmlsbXMtaG1hYy1rZXktMDEyMzQ1Njc4OWFiY2RlZg==",
        "--required-claim",
        "groups=EntitledUsers",
        "--required-claim",
        "tier",
        "--required-claim",
        "urn:microsoft:azure:mediaservices:contentkeyidentifier",
    ]));
    ok(&run(&[
        "policy",
        "create",
        "other",
        "--issuer",
        "https://idp.example",
        "--audience",
        "urn:castguard:films",
        "--symmetric-key",
        "b3RoZXItaG1hYy1rZXktMDEyMzQ1Njc4OWFiY2RlZg==",
    ]));
    ok(&run(&[
        "key",
        "create",
        "film-key",
        "--type",
        "envelope",
        "--policy",
        "films",
        "--kid",
        KID,
        "--value",
        "101112131415161718191a1b1c1d1e1f",
    ]));
    ok(&run(&[
        "key",
        "create",
        "other-key",
        "--type",
        "envelope",
        "--policy",
        "other",
        "--kid",
        OTHER_KID,
        "--value",
        "202122232425262728292a2b2c2d2e2f",
    ]));
    ok(&run(&["asset", "create", "film"]));
    ok(&run(&[
        "locator",
        "create",
        "film-loc",
        "--asset",
        "film",
        "--streaming-policy",
        "Predefined_ClearKey",
        "--key",
        "film-key",
    ]));
    let keys = ok(&run(&["locator", "keys", "film-loc", "--values"]));
    assert!(keys.contains(KID) && keys.contains(KEY_B64), "{keys}");
    let key = base64::engine::general_purpose::STANDARD
        .decode(KEY_B64)
        .unwrap();

    // A required claim without a value is an error naming it.
    let out = token_cmd(&[
        "--data",
        data.to_str().unwrap(),
        "--policy",
        "films",
        "--key-id",
        KID,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--claim tier=VALUE"),
        "{out:?}"
    );

    let films = mint(
        &data,
        &[
            "--policy",
            "films",
            "--claim",
            "tier=gold",
            "--key-id",
            KID,
            "--lifetime",
            "600",
        ],
    );
    assert_eq!(films.split('.').count(), 3, "{films}");
    let (status, body) = get_key(&server.url, KID, Some(&films));
    assert_eq!((status, body), (200, key.clone()));

    // No token; a token for the other policy; a token limited to another key.
    let (status, body) = get_key(&server.url, KID, None);
    assert_eq!((status, reason(&body).as_str()), (401, "token_missing"));
    let other = mint(&data, &["--policy", "other", "--option", "0"]);
    assert_eq!(get_key(&server.url, OTHER_KID, Some(&other)).0, 200);
    let (status, body) = get_key(&server.url, KID, Some(&other));
    assert_eq!((status, reason(&body).as_str()), (401, "signature_invalid"));
    let wrong_kid = mint(
        &data,
        &[
            "--policy",
            "films",
            "--claim",
            "tier=gold",
            "--key-id",
            OTHER_KID,
        ],
    );
    let (status, body) = get_key(&server.url, KID, Some(&wrong_kid));
    assert_eq!((status, reason(&body).as_str()), (401, "key_not_granted"));

    // A policy that trusts the server's STS (its RS256 public key from
    // /sts/jwks.json, issuer {url}/sts): minted offline from the key ring,
    // and online through POST /sts/token.
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let jwks: Value = agent
        .get(&format!("{}/sts/jwks.json", server.url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let b64 = |f: &str| {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwks["keys"][0][f].as_str().unwrap())
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(raw)
    };
    let file = tmp.path().join("sts-policy.json");
    let sts_policy = serde_json::json!({"options": [{"name": "sts-viewers",
        "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
        "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
            "issuer": format!("{}/sts", server.url), "audience": "urn:castguard:sts",
            "restrictionTokenType": "Jwt",
            "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyRsaTokenKey",
                "exponent": b64("e"), "modulus": b64("n")},
            "requiredClaims": [{"claimType": "groups", "claimValue": "EntitledUsers"}]}}]});
    std::fs::write(&file, sts_policy.to_string()).unwrap();
    ok(&run(&[
        "policy",
        "create",
        "sts-films",
        "--file",
        file.to_str().unwrap(),
    ]));
    let sts_kid = "0badc0de-4455-6677-8899-aabbccdd0003";
    ok(&run(&[
        "key",
        "create",
        "sts-key",
        "--type",
        "envelope",
        "--policy",
        "sts-films",
        "--kid",
        sts_kid,
        "--value",
        "303132333435363738393a3b3c3d3e3f",
    ]));
    let sts_value: Vec<u8> = (0x30..0x40).collect();
    let offline = mint(&data, &["--policy", "sts-films", "--option", "sts-viewers"]);
    assert_eq!(
        get_key(&server.url, sts_kid, Some(&offline)),
        (200, sts_value.clone())
    );
    let online = ok(&token_cmd(&[
        "--server",
        &server.url,
        "--token",
        TOKEN,
        "--policy",
        "sts-films",
    ]));
    assert_eq!(
        get_key(&server.url, sts_kid, Some(online.trim())),
        (200, sts_value)
    );
    // Neither opens the HMAC policy's key.
    let (status, body) = get_key(&server.url, KID, Some(&offline));
    assert_eq!((status, reason(&body).as_str()), (401, "signature_invalid"));
    // Online mode cannot sign for an HMAC option (the API never returns
    // the secret): a one-line error, no token.
    let out = token_cmd(&[
        "--server",
        &server.url,
        "--token",
        TOKEN,
        "--policy",
        "films",
        "--claim",
        "tier=gold",
        "--key-id",
        KID,
    ]);
    assert!(!out.status.success() && out.stdout.is_empty(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--data"),
        "{out:?}"
    );
    // A data directory that is not one.
    let out = token_cmd(&[
        "--data",
        tmp.path().join("nothing").to_str().unwrap(),
        "--policy",
        "films",
    ]);
    assert!(!out.status.success());
    assert!(!tmp.path().join("nothing").exists());
}
