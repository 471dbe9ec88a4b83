//! `castguard token issue`: a test token for one option of a content key
//! policy (issue 4, item 6), like the cloud media service's
//! `GetTestToken`: the claims the option requires, signed so that the
//! option accepts it.
//!
//! Two ways to reach the policy:
//! - `--data DIR` (offline): the policy is read from the store in `DIR`
//!   (the server may be running: SQLite in WAL mode lets a second process
//!   read). An option with a symmetric verification key is signed with
//!   that key (HS256 for JWT, HMACSHA256 for SWT, the forms castguard's
//!   verifier checks: RFC 7519 / RFC 7518 §3.2, SWT 0.9.5.1 §3); an option
//!   that trusts castguard's own token service (its RS256 public key is one
//!   of the option's keys, or its discovery document is the STS's) is
//!   signed with the STS key ring in the store (or `DIR/sts/keyring.json`
//!   left by an earlier version).
//! - `--server URL` (online): the policy is read through the management
//!   API (secrets blanked) and the token comes from `POST /sts/token`; so
//!   only options that trust the STS can be served this way.
//!
//! Claims: `iss` and `aud` are the restriction's; `iat`/`nbf` now and `exp`
//! now + `--lifetime`; each required claim gets its fixed `claimValue`, or
//! for a presence-only claim the value given with `--claim NAME=VALUE`;
//! `urn:microsoft:azure:mediaservices:contentkeyidentifier` comes from
//! `--key-id`. A required claim without a value is an error that names it,
//! never a token that the option would refuse. The token is printed on
//! stdout, nothing else: `TOKEN=$(castguard token issue ...)`.

use crate::Failure;
use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use keys::model::{
    ContentKeyPolicy, ContentKeyPolicyOption, ContentKeyPolicyRestriction, TokenKey,
    TokenRestriction, TokenType,
};
use keys::token::{CLAIM_CONTENT_KEY_ID, CLAIM_MAX_USES, MAX_USES_LIFETIME};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// The SQLite file of the store (`store::SqliteStore` names it so): its
/// absence means `--data` is not a castguard data directory, and opening
/// the store there would create an empty one.
const DB_FILE: &str = "castguard.db";
/// Longest lifetime minted (a year, as the STS allows).
const MAX_LIFETIME: u64 = 366 * 86_400;

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Mint a test token that a content key policy option accepts.
    Issue(IssueArgs),
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["data", "server"]))]
pub struct IssueArgs {
    /// Data directory of the server (offline: reads the policy and keys there).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Base URL of a running server (online: policy via the API, token via POST /sts/token).
    #[arg(long, requires = "admin_token")]
    server: Option<String>,
    /// Admin token for --server.
    #[arg(long = "token", env = "CASTGUARD_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Content key policy name.
    #[arg(long)]
    policy: String,
    /// Option of the policy: its name or its 0-based index (default: the first token option).
    #[arg(long)]
    option: Option<String>,
    /// Claim NAME=VALUE (repeatable): a value for a presence-only required claim, or an extra claim.
    #[arg(long = "claim", value_parser = parse_claim)]
    claims: Vec<(String, String)>,
    /// Seconds the token is valid.
    #[arg(long, default_value_t = 3600)]
    lifetime: u64,
    /// Content key the token is limited to (contentkeyidentifier claim).
    #[arg(long)]
    key_id: Option<Uuid>,
}

impl std::fmt::Debug for IssueArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssueArgs")
            .field("policy", &self.policy)
            .field("option", &self.option)
            .finish_non_exhaustive()
    }
}

fn parse_claim(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got '{s}'")),
    }
}

pub fn run(cmd: TokenCommand) -> Result<(), Failure> {
    match cmd {
        TokenCommand::Issue(args) => {
            if args.lifetime == 0 || args.lifetime > MAX_LIFETIME {
                return Err(Failure::usage(format!(
                    "--lifetime must be 1 to {MAX_LIFETIME} seconds"
                )));
            }
            let token = match (&args.data, &args.server) {
                (Some(data), _) => issue_offline(data, &args)?,
                (None, Some(server)) => issue_online(server, &args)?,
                (None, None) => return Err(Failure::usage("give --data DIR or --server URL")),
            };
            println!("{token}");
            Ok(())
        }
    }
}

/// The option `sel` names (name first, then index), else the first option
/// with a token restriction.
fn select_option<'p>(
    policy: &'p ContentKeyPolicy,
    sel: Option<&str>,
) -> anyhow::Result<(usize, &'p ContentKeyPolicyOption, &'p TokenRestriction)> {
    let (index, option) = match sel {
        Some(sel) => policy
            .options
            .iter()
            .enumerate()
            .find(|(_, o)| o.name.as_deref() == Some(sel))
            .or_else(|| {
                sel.parse::<usize>()
                    .ok()
                    .and_then(|i| policy.options.get(i).map(|o| (i, o)))
            })
            .ok_or_else(|| anyhow!("policy '{}' has no option '{sel}'", policy.name))?,
        None => policy
            .options
            .iter()
            .enumerate()
            .find(|(_, o)| matches!(o.restriction, ContentKeyPolicyRestriction::Token(_)))
            .ok_or_else(|| {
                anyhow!(
                    "policy '{}' has no token option: its keys need no token",
                    policy.name
                )
            })?,
    };
    match &option.restriction {
        ContentKeyPolicyRestriction::Token(r) => Ok((index, option, r)),
        _ => bail!(
            "option {index} of policy '{}' is not token-restricted: it needs no token",
            policy.name
        ),
    }
}

/// The claims the option requires (without `iss`, `iat`, `nbf`, `exp`,
/// which the signer sets), plus the extra ones given.
fn build_claims(r: &TokenRestriction, args: &IssueArgs) -> anyhow::Result<Map<String, Value>> {
    let mut claims = Map::new();
    claims.insert("aud".into(), Value::String(r.audience.clone()));
    let given = |name: &str| {
        args.claims
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    for c in &r.required_claims {
        let Some(name) = c.claim_type.as_deref() else {
            continue;
        };
        let value = if name == CLAIM_CONTENT_KEY_ID {
            args.key_id.map(|k| k.to_string()).or_else(|| given(name))
        } else {
            c.claim_value.clone().or_else(|| given(name))
        };
        let Some(value) = value else {
            bail!(if name == CLAIM_CONTENT_KEY_ID {
                format!("the option requires claim {name}: give --key-id KID")
            } else {
                format!(
                    "the option requires claim '{name}' without a fixed value: give --claim {name}=VALUE"
                )
            });
        };
        claims.insert(name.to_owned(), claim_value(name, value)?);
    }
    if let Some(k) = args.key_id {
        claims.insert(CLAIM_CONTENT_KEY_ID.into(), Value::String(k.to_string()));
    }
    for (k, v) in &args.claims {
        if ["iss", "aud", "iat", "nbf", "exp"].contains(&k.as_str()) {
            bail!("claim '{k}' is set from the policy and --lifetime, not with --claim");
        }
        if !claims.contains_key(k) {
            claims.insert(k.clone(), claim_value(k, v.clone())?);
        }
    }
    if claims.contains_key(CLAIM_MAX_USES) && args.lifetime > MAX_USES_LIFETIME as u64 {
        bail!(
            "a token with {CLAIM_MAX_USES} must live at most {MAX_USES_LIFETIME} s: lower --lifetime"
        );
    }
    Ok(claims)
}

/// `maxuses` is a number (the verifier wants a positive integer); every
/// other claim is the string given.
fn claim_value(name: &str, value: String) -> anyhow::Result<Value> {
    if name == CLAIM_MAX_USES {
        let n: u32 = value
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| anyhow!("{CLAIM_MAX_USES} must be a positive integer"))?;
        return Ok(n.into());
    }
    Ok(Value::String(value))
}

fn b64url(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// A JWT signed with HMAC-SHA256 (RFC 7518 §3.2). The symmetric key is the
/// option's own (at least 16 bytes, the policy's minimum).
fn sign_hs256(secret: &[u8], claims: &Map<String, Value>) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64url(tag.as_ref()))
}

/// A Simple Web Token (SWT 0.9.5.1 §3): form-encoded `Issuer`, `Audience`,
/// `ExpiresOn` and the claims, then `HMACSHA256` over the bytes before it.
fn sign_swt(secret: &[u8], claims: &Map<String, Value>) -> anyhow::Result<String> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, v) in claims {
        let name = match name.as_str() {
            "iss" => "Issuer",
            "aud" => "Audience",
            "exp" => "ExpiresOn",
            // SWT has no not-before or issued-at.
            "nbf" | "iat" => continue,
            other => other,
        };
        match v {
            Value::String(s) => form.append_pair(name, s),
            Value::Number(n) => form.append_pair(name, &n.to_string()),
            _ => bail!("claim '{name}' cannot be written in an SWT"),
        };
    }
    let signed = form.finish();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, signed.as_bytes());
    let sig: String = form_urlencoded::byte_serialize(
        base64::engine::general_purpose::STANDARD
            .encode(tag.as_ref())
            .as_bytes(),
    )
    .collect();
    Ok(format!("{signed}&HMACSHA256={sig}"))
}

fn with_times(mut claims: Map<String, Value>, iss: &str, lifetime: u64) -> Map<String, Value> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    claims.insert("iss".into(), Value::String(iss.to_owned()));
    claims.insert("iat".into(), now.into());
    claims.insert("nbf".into(), now.into());
    claims.insert("exp".into(), (now + lifetime as i64).into());
    claims
}

fn keys_of(r: &TokenRestriction) -> impl Iterator<Item = &TokenKey> {
    r.primary_verification_key
        .iter()
        .chain(r.alternate_verification_keys.iter())
}

/// Whether the option trusts castguard's STS whose current RSA key is
/// `sts_key`: that key is one of the option's, or the option discovers its
/// keys from an `…/sts` issuer's own discovery document.
fn trusts_sts(r: &TokenRestriction, sts_key: Option<&TokenKey>) -> bool {
    let by_key = sts_key.is_some_and(|k| keys_of(r).any(|o| o == k));
    let by_discovery = r
        .open_id_connect_discovery_document
        .as_deref()
        .is_some_and(|d| {
            r.issuer.ends_with("/sts")
                && d == format!("{}/.well-known/openid-configuration", r.issuer)
        });
    by_key || by_discovery
}

fn issue_offline(data: &Path, args: &IssueArgs) -> anyhow::Result<String> {
    if !data.join(DB_FILE).is_file() {
        bail!(
            "{} is not a castguard data directory (no {DB_FILE}); run castguard serve --data there first",
            data.display()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (policy, stored_ring) = rt.block_on(async {
        let (kek, _) = store::Kek::load_or_create(data).context("key-encryption key")?;
        let st = store::SqliteStore::open(data, kek)
            .await
            .with_context(|| format!("cannot open the store in {}", data.display()))?;
        let p = store::Store::get_content_key_policy(&st, &args.policy).await;
        let ring = store::Store::get_secret(&st, server::delivery::sts::STS_SECRET).await;
        store::Store::close(&st).await;
        anyhow::Ok((
            p.with_context(|| format!("content key policy '{}'", args.policy))?,
            ring.context("STS key ring")?,
        ))
    })?;
    let (index, _, r) = select_option(&policy, args.option.as_deref())?;
    let claims = build_claims(r, args)?;
    let symmetric = keys_of(r).find_map(|k| match k {
        TokenKey::Symmetric(s) => Some(s.key_value.expose()),
        _ => None,
    });
    if let Some(secret) = symmetric {
        let claims = with_times(claims, &r.issuer, args.lifetime);
        return match r.restriction_token_type {
            TokenType::Swt => sign_swt(secret, &claims),
            _ => Ok(sign_hs256(secret, &claims)),
        };
    }
    if r.restriction_token_type == TokenType::Swt {
        bail!("option {index} is an SWT option without a symmetric key");
    }
    // The key ring is in the store; a server of an earlier version left it
    // in DATA/sts/keyring.json.
    let legacy = data
        .join(server::delivery::sts::STS_DIR)
        .join("keyring.json");
    let (ring, source) = match stored_ring {
        Some(secret) => (secret.value, "the store".to_owned()),
        None if legacy.is_file() => (
            zeroize::Zeroizing::new(
                std::fs::read(&legacy).with_context(|| format!("{}", legacy.display()))?,
            ),
            legacy.display().to_string(),
        ),
        None => bail!(
            "option {index} of policy '{}' has no symmetric key and this data directory has no STS key ring: castguard holds no private key for it",
            policy.name
        ),
    };
    // The issuer is the option's: the STS signs with its key ring whatever
    // URL the server was reached by.
    let sts = server::delivery::sts::Sts::from_stored(&ring, &source, r.issuer.clone())
        .context("STS key ring")?;
    if !trusts_sts(r, sts.rsa_token_key().as_ref()) {
        bail!(
            "option {index} of policy '{}' verifies with a key castguard does not hold (neither symmetric nor the STS's)",
            policy.name
        );
    }
    sts.issue(claims, Duration::from_secs(args.lifetime))
        .context("STS")
}

fn issue_online(server: &str, args: &IssueArgs) -> anyhow::Result<String> {
    let admin = args
        .admin_token
        .as_deref()
        .ok_or_else(|| anyhow!("--server needs --token or CASTGUARD_ADMIN_TOKEN"))?;
    let base = server.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let auth = format!("Bearer {admin}");
    let name: String = form_urlencoded::byte_serialize(args.policy.as_bytes()).collect();
    let mut res = agent
        .get(&format!("{base}/api/v1/content-key-policies/{name}"))
        .header("Authorization", &auth)
        .call()
        .with_context(|| format!("GET {base}/api/v1/content-key-policies/{name}"))?;
    let status = res.status().as_u16();
    let body: Value = res.body_mut().read_json().unwrap_or(Value::Null);
    if status != 200 {
        bail!(
            "content key policy '{}': HTTP {status} {}",
            args.policy,
            body["error"]
        );
    }
    let policy: ContentKeyPolicy = keys::model::from_json(&body.to_string())
        .map_err(|e| anyhow!("policy from the server: {e}"))?;
    let (index, _, r) = select_option(&policy, args.option.as_deref())?;
    let mut claims = build_claims(r, args)?;
    let mut jwks = agent
        .get(&format!("{base}/sts/jwks.json"))
        .call()
        .context("GET /sts/jwks.json")?;
    let jwks: Value = jwks.body_mut().read_json().unwrap_or(Value::Null);
    let sts_key = jwks["keys"].get(0).and_then(rsa_token_key);
    if !trusts_sts(r, sts_key.as_ref()) {
        bail!(
            "option {index} of policy '{}' does not trust the server's STS: mint its token offline with --data",
            policy.name
        );
    }
    // The STS sets iss to its own URL; the option's issuer must be it.
    let mut res = agent
        .get(&format!("{base}/sts/.well-known/openid-configuration"))
        .call()
        .context("STS discovery")?;
    let doc: Value = res.body_mut().read_json().unwrap_or(Value::Null);
    if doc["issuer"].as_str() != Some(r.issuer.as_str()) {
        bail!(
            "option {index} expects issuer '{}' but the server's STS is '{}': mint it offline with --data",
            r.issuer,
            doc["issuer"].as_str().unwrap_or("?")
        );
    }
    claims.remove("iss");
    let mut res = agent
        .post(&format!("{base}/sts/token"))
        .header("Authorization", &auth)
        .send_json(json!({"claims": claims, "lifetimeSeconds": args.lifetime}))
        .context("POST /sts/token")?;
    let status = res.status().as_u16();
    let body: Value = res.body_mut().read_json().unwrap_or(Value::Null);
    match (status, body["token"].as_str()) {
        (200, Some(t)) => Ok(t.to_owned()),
        _ => bail!("POST /sts/token: HTTP {status} {}", body["error"]),
    }
}

fn rsa_token_key(jwk: &Value) -> Option<TokenKey> {
    let d = |f: &str| {
        jwk.get(f).and_then(Value::as_str).and_then(|s| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .ok()
        })
    };
    Some(TokenKey::Rsa(keys::model::RsaTokenKey {
        exponent: d("e")?,
        modulus: d("n")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(v: Value) -> ContentKeyPolicy {
        keys::model::from_json(&v.to_string()).unwrap()
    }

    fn args(extra: &[&str]) -> IssueArgs {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: IssueArgs,
        }
        let mut v = vec!["t", "--data", "/nonexistent", "--policy", "p"];
        v.extend_from_slice(extra);
        T::try_parse_from(v).unwrap().a
    }

    fn token_policy(claims: Value, token_type: &str) -> ContentKeyPolicy {
        policy(json!({"name": "p", "options": [
            {"name": "open", "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
             "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}},
            {"name": "viewers", "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
             "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
                "issuer": "https://iss.test", "audience": "aud", "restrictionTokenType": token_type,
                "primaryVerificationKey": {"@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
                    "keyValue": base64::engine::general_purpose::STANDARD.encode(b"0123456789abcdef")},
                "requiredClaims": claims}}]}))
    }

    /// The token minted for an option passes castguard's own verifier for
    /// that option (JWT and SWT), and a required claim without a value is
    /// an error, not a token the option would refuse.
    #[tokio::test]
    async fn minted_tokens_pass_the_options_verifier() {
        let kid = Uuid::from_u128(7);
        let required = json!([{"claimType": "groups", "claimValue": "EntitledUsers"},
            {"claimType": "tier"}, {"claimType": CLAIM_CONTENT_KEY_ID}]);
        for tt in ["Jwt", "Swt"] {
            let p = token_policy(required.clone(), tt);
            let (i, _, r) = select_option(&p, None).unwrap();
            assert_eq!(i, 1);
            let a = args(&["--claim", "tier=gold", "--key-id", &kid.to_string()]);
            let claims = with_times(build_claims(r, &a).unwrap(), &r.issuer, 600);
            let secret = b"0123456789abcdef";
            let token = if tt == "Swt" {
                sign_swt(secret, &claims).unwrap()
            } else {
                sign_hs256(secret, &claims)
            };
            let cache = keys::token::VerifierCache::new(
                keys::token::VerifierConfig::default(),
                std::sync::Arc::new(keys::token::ReqwestFetcher::new().unwrap()),
            );
            let now = time::OffsetDateTime::now_utc();
            let only_token = ContentKeyPolicy {
                options: vec![p.options[1].clone()],
                ..p.clone()
            };
            let d = keys::policy::evaluate(&only_token, Some(&token), kid, &cache, now).await;
            assert!(d.is_ok(), "{tt}: {:?}", d.err());
            // Another key is not granted: the contentkeyidentifier held.
            let other =
                keys::policy::evaluate(&only_token, Some(&token), Uuid::from_u128(8), &cache, now)
                    .await;
            assert!(other.is_err(), "{tt}");
            let missing = build_claims(r, &args(&["--key-id", &kid.to_string()])).unwrap_err();
            assert!(
                missing.to_string().contains("--claim tier=VALUE"),
                "{missing}"
            );
        }
    }

    #[test]
    fn option_selection() {
        let p = token_policy(json!([]), "Jwt");
        assert_eq!(select_option(&p, Some("viewers")).unwrap().0, 1);
        assert_eq!(select_option(&p, Some("1")).unwrap().0, 1);
        assert!(select_option(&p, Some("open")).is_err());
        assert!(select_option(&p, Some("7")).is_err());
        let e = build_claims(
            select_option(&p, None).unwrap().2,
            &args(&["--claim", "iss=x"]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("'iss'"), "{e}");
        let e = build_claims(
            select_option(&p, None).unwrap().2,
            &args(&[
                "--claim",
                &format!("{CLAIM_MAX_USES}=3"),
                "--lifetime",
                "3601",
            ]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--lifetime"), "{e}");
    }
}
