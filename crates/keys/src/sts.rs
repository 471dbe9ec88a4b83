//! castguard's token service (STS): mints JWTs that castguard's own token
//! restrictions (or any OpenID Connect relying party) accept.
//!
//! - Signing (RFC 7515 §5.1, compact serialization): HS256 with a shared
//!   secret, RS256 (RSASSA-PKCS1-v1_5, 2048-bit) or ES256 (P-256, fixed
//!   64-byte `r || s`, RFC 7518 §3.4), all with aws-lc-rs. Keys are generated
//!   with aws-lc-rs too, not the `rsa` crate (RUSTSEC-2023-0071, timing).
//! - [`KeyRing`]: the current signing key plus retired public keys, each kept
//!   in the JWKS until the last token it signed has expired, so a rotation
//!   never invalidates tokens already handed out (RFC 7517 §5, OpenID Connect
//!   Core §10.1.1 "rotation of asymmetric signing keys").
//! - [`discovery_document`]: the OpenID Connect Discovery 1.0 §3 metadata a
//!   relying party needs (`issuer`, `jwks_uri`, `token_endpoint`, signing
//!   algorithms), for `/sts/.well-known/openid-configuration`.
//!
//! A token that carries `maxuses` must expire within one hour
//! ([`crate::token::MAX_USES_LIFETIME`]); [`Issuer::issue`] refuses to mint
//! one that castguard's verifier would refuse.

use crate::model::SecretBytes;
use crate::token::{CLAIM_MAX_USES, MAX_USES_LIFETIME};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StsError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("{alg} private key rejected (expected PKCS#8 DER)")]
    KeyRejected { alg: &'static str },
    #[error("HS256 secret must be at least 32 bytes")]
    ShortSecret,
    #[error("signing failed")]
    Signing,
    #[error("a token with maxuses must live at most {MAX_USES_LIFETIME} s")]
    MaxUsesLifetime,
    #[error("lifetime must be 1 s to 1 year")]
    Lifetime,
}

/// The algorithm of a signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningAlg {
    Hs256,
    Rs256,
    Es256,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Hs256 => "HS256",
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }
}

enum Secret {
    Hmac(Box<aws_lc_rs::hmac::Key>),
    Rsa(sig::RsaKeyPair),
    Ec(sig::EcdsaKeyPair),
}

/// A private signing key with its `kid`. `Debug` shows the algorithm and
/// `kid` only.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    secret: Secret,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

fn b64url(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

impl SigningKey {
    /// HS256 with a shared secret of at least 32 bytes (RFC 7518 §3.2: a key
    /// as long as the hash output).
    pub fn hs256(kid: impl Into<String>, secret: &[u8]) -> Result<Self, StsError> {
        if secret.len() < 32 {
            return Err(StsError::ShortSecret);
        }
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        Ok(SigningKey { kid: kid.into(), alg: SigningAlg::Hs256, secret: Secret::Hmac(Box::new(key)) })
    }

    /// A new 2048-bit RSA key for RS256.
    pub fn generate_rs256(kid: impl Into<String>) -> Result<Self, StsError> {
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|_| StsError::KeyGeneration)?;
        Ok(SigningKey { kid: kid.into(), alg: SigningAlg::Rs256, secret: Secret::Rsa(kp) })
    }

    /// A new P-256 key for ES256.
    pub fn generate_es256(kid: impl Into<String>) -> Result<Self, StsError> {
        let kp = sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| StsError::KeyGeneration)?;
        Ok(SigningKey { kid: kid.into(), alg: SigningAlg::Es256, secret: Secret::Ec(kp) })
    }

    /// Loads a private key saved with [`SigningKey::to_pkcs8_der`].
    pub fn from_pkcs8_der(kid: impl Into<String>, alg: SigningAlg, der: &[u8]) -> Result<Self, StsError> {
        let secret = match alg {
            SigningAlg::Rs256 => Secret::Rsa(sig::RsaKeyPair::from_pkcs8(der).map_err(|_| StsError::KeyRejected { alg: "RS256" })?),
            SigningAlg::Es256 => Secret::Ec(
                sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| StsError::KeyRejected { alg: "ES256" })?,
            ),
            SigningAlg::Hs256 => return Err(StsError::KeyRejected { alg: "HS256" }),
        };
        Ok(SigningKey { kid: kid.into(), alg, secret })
    }

    /// The private key as PKCS#8 DER, for storage (encrypted at rest by the
    /// store). `None` for HS256 (its secret is configured, not generated).
    pub fn to_pkcs8_der(&self) -> Option<SecretBytes> {
        match &self.secret {
            Secret::Hmac(_) => None,
            Secret::Rsa(kp) => kp.as_der().ok().map(|d| SecretBytes::new(d.as_ref().to_vec())),
            Secret::Ec(kp) => kp.to_pkcs8v1().ok().map(|d| SecretBytes::new(d.as_ref().to_vec())),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK (RFC 7517 §4, RFC 7518 §6); `None` for HS256, whose
    /// key must never be published.
    pub fn public_jwk(&self) -> Option<Value> {
        match &self.secret {
            Secret::Hmac(_) => None,
            Secret::Rsa(kp) => {
                let c = sig::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                Some(json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": b64url(&c.n), "e": b64url(&c.e)}))
            }
            Secret::Ec(kp) => {
                let p = kp.public_key().as_ref();
                let (x, y) = (p.get(1..33)?, p.get(33..65)?);
                Some(json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": self.kid, "crv": "P-256", "x": b64url(x), "y": b64url(y)}))
            }
        }
    }

    /// Signs `claims` into a compact JWT with header `{alg, typ, kid}`.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, StsError> {
        let header = json!({"alg": self.alg.as_str(), "typ": "JWT", "kid": self.kid});
        let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(Value::Object(claims.clone()).to_string().as_bytes()));
        let signature = match &self.secret {
            Secret::Hmac(k) => aws_lc_rs::hmac::sign(k, input.as_bytes()).as_ref().to_vec(),
            Secret::Rsa(kp) => {
                let mut out = vec![0u8; kp.public_modulus_len()];
                kp.sign(&sig::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut out).map_err(|_| StsError::Signing)?;
                out
            }
            Secret::Ec(kp) => kp.sign(&SystemRandom::new(), input.as_bytes()).map_err(|_| StsError::Signing)?.as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", b64url(&signature)))
    }
}

/// A retired key's public JWK and the time after which no token it signed
/// is still valid.
#[derive(Clone, Debug, PartialEq)]
pub struct RetiredKey {
    pub jwk: Value,
    pub retire_until: OffsetDateTime,
}

/// The current signing key and the retired ones still published.
#[derive(Debug)]
pub struct KeyRing {
    current: SigningKey,
    retired: Vec<RetiredKey>,
}

impl KeyRing {
    pub fn new(current: SigningKey) -> Self {
        KeyRing { current, retired: Vec::new() }
    }

    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    pub fn retired(&self) -> &[RetiredKey] {
        &self.retired
    }

    /// Makes `next` the signing key. The previous key's public JWK stays in
    /// the JWKS until `retire_until` (give it `now` + the longest token
    /// lifetime issued + clock skew). Returns the previous key.
    pub fn rotate(&mut self, next: SigningKey, retire_until: OffsetDateTime) -> SigningKey {
        let old = std::mem::replace(&mut self.current, next);
        if let Some(jwk) = old.public_jwk() {
            self.retired.push(RetiredKey { jwk, retire_until });
        }
        old
    }

    /// Adds a retired key (e.g. restored from storage).
    pub fn add_retired(&mut self, key: RetiredKey) {
        self.retired.push(key);
    }

    /// Drops retired keys whose tokens have all expired.
    pub fn prune(&mut self, now: OffsetDateTime) {
        self.retired.retain(|r| r.retire_until > now);
    }

    /// The public key set: the current key (unless HS256), then retired keys
    /// still within their time.
    pub fn jwks(&self, now: OffsetDateTime) -> Value {
        let keys: Vec<Value> = self
            .current
            .public_jwk()
            .into_iter()
            .chain(self.retired.iter().filter(|r| r.retire_until > now).map(|r| r.jwk.clone()))
            .collect();
        json!({ "keys": keys })
    }
}

/// Mints tokens as issuer `issuer` (the `iss` claim and discovery `issuer`).
#[derive(Debug)]
pub struct Issuer {
    pub issuer: String,
    pub keys: KeyRing,
}

impl Issuer {
    pub fn new(issuer: impl Into<String>, key: SigningKey) -> Self {
        Issuer { issuer: issuer.into(), keys: KeyRing::new(key) }
    }

    /// Mints a token valid from now for `lifetime`.
    pub fn issue(&self, claims: Map<String, Value>, lifetime: Duration) -> Result<String, StsError> {
        self.issue_at(claims, lifetime, OffsetDateTime::now_utc())
    }

    /// Mints a token: `claims` plus `iss` (always this issuer), `iat`, `nbf`
    /// (`now`) and `exp` (`now + lifetime`), signed with the current key.
    pub fn issue_at(&self, mut claims: Map<String, Value>, lifetime: Duration, now: OffsetDateTime) -> Result<String, StsError> {
        let secs = i64::try_from(lifetime.as_secs()).map_err(|_| StsError::Lifetime)?;
        if !(1..=366 * 86400).contains(&secs) {
            return Err(StsError::Lifetime);
        }
        if claims.contains_key(CLAIM_MAX_USES) && secs > MAX_USES_LIFETIME {
            return Err(StsError::MaxUsesLifetime);
        }
        let now_s = now.unix_timestamp();
        claims.insert("iss".into(), Value::String(self.issuer.clone()));
        claims.insert("iat".into(), now_s.into());
        claims.insert("nbf".into(), now_s.into());
        claims.insert("exp".into(), (now_s + secs).into());
        self.keys.current().sign(&claims)
    }

    pub fn jwks(&self, now: OffsetDateTime) -> Value {
        self.keys.jwks(now)
    }

    pub fn discovery_document(&self) -> Value {
        discovery_document(&self.issuer, &[self.keys.current().alg().as_str()])
    }
}

/// OpenID Connect Discovery 1.0 §3 metadata for an issuer at `issuer_url`
/// (e.g. `https://media.example/sts`), with `jwks.json` and `token` under it.
pub fn discovery_document(issuer_url: &str, algs: &[&str]) -> Value {
    let base = issuer_url.trim_end_matches('/');
    json!({
        "issuer": issuer_url,
        "jwks_uri": format!("{base}/jwks.json"),
        "token_endpoint": format!("{base}/token"),
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "grant_types_supported": ["client_credentials"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TokenType;
    use crate::token::{Reason, VerificationKey, Verifier, VerifierConfig};

    const NOW: i64 = 1_800_000_000;
    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW).unwrap()
    }

    fn verifier_for(jwks: &Value) -> Verifier {
        let keys = jwks["keys"].as_array().unwrap().iter().map(|k| VerificationKey::jwk(k).unwrap()).collect();
        Verifier::with_keys(TokenType::Jwt, "https://media.example/sts", "castguard", keys, vec![], VerifierConfig::default()).unwrap()
    }

    fn claims() -> Map<String, Value> {
        let Value::Object(m) = json!({"aud": "castguard", "sub": "viewer-1"}) else { unreachable!() };
        m
    }

    #[tokio::test]
    async fn rs256_and_es256_tokens_verify_with_the_published_jwks() {
        for key in [SigningKey::generate_rs256("r1").unwrap(), SigningKey::generate_es256("e1").unwrap()] {
            let issuer = Issuer::new("https://media.example/sts", key);
            let token = issuer.issue_at(claims(), Duration::from_secs(600), now()).unwrap();
            let v = verifier_for(&issuer.jwks(now()));
            let t = v.verify(&token, now()).await.unwrap();
            assert_eq!(t.claims["sub"], "viewer-1");
            assert_eq!(t.expires_at.unwrap().unix_timestamp(), NOW + 600);
        }
    }

    #[tokio::test]
    async fn rotation_keeps_old_key_until_its_tokens_expire() {
        let mut issuer = Issuer::new("https://media.example/sts", SigningKey::generate_es256("old").unwrap());
        let old_token = issuer.issue_at(claims(), Duration::from_secs(600), now()).unwrap();
        let until = now() + time::Duration::seconds(600 + 300);
        issuer.keys.rotate(SigningKey::generate_es256("new").unwrap(), until);
        let new_token = issuer.issue_at(claims(), Duration::from_secs(600), now()).unwrap();
        let jwks = issuer.jwks(now());
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        let v = verifier_for(&jwks);
        v.verify(&old_token, now()).await.unwrap();
        v.verify(&new_token, now()).await.unwrap();
        // After retire_until the old key is gone and its tokens no longer verify.
        let later = until + time::Duration::seconds(1);
        let jwks = issuer.jwks(later);
        assert_eq!(jwks["keys"][0]["kid"], "new");
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        let err = verifier_for(&jwks).verify(&old_token, now()).await.unwrap_err();
        assert_eq!(err.reason(), Some(Reason::SignatureInvalid));
        issuer.keys.prune(later);
        assert!(issuer.keys.retired().is_empty());
    }

    #[test]
    fn hs256_is_never_published_and_pkcs8_round_trips() {
        let issuer = Issuer::new("https://media.example/sts", SigningKey::hs256("h", &[7u8; 32]).unwrap());
        assert_eq!(issuer.jwks(now()), json!({"keys": []}));
        assert_eq!(SigningKey::hs256("h", &[7u8; 16]).unwrap_err(), StsError::ShortSecret);
        assert!(!format!("{:?}", issuer.keys.current()).contains("7, 7"));

        let ec = SigningKey::generate_es256("e").unwrap();
        let der = ec.to_pkcs8_der().unwrap();
        let back = SigningKey::from_pkcs8_der("e", SigningAlg::Es256, der.expose()).unwrap();
        assert_eq!(back.public_jwk(), ec.public_jwk());
        let rsa = SigningKey::generate_rs256("r").unwrap();
        let back = SigningKey::from_pkcs8_der("r", SigningAlg::Rs256, rsa.to_pkcs8_der().unwrap().expose()).unwrap();
        assert_eq!(back.public_jwk(), rsa.public_jwk());
        assert!(SigningKey::from_pkcs8_der("x", SigningAlg::Rs256, der.expose()).is_err());
    }

    #[test]
    fn maxuses_lifetime_and_discovery() {
        let issuer = Issuer::new("https://media.example/sts", SigningKey::hs256("h", &[7u8; 32]).unwrap());
        let mut c = claims();
        c.insert(CLAIM_MAX_USES.into(), 1.into());
        assert_eq!(issuer.issue_at(c.clone(), Duration::from_secs(3601), now()).unwrap_err(), StsError::MaxUsesLifetime);
        assert!(issuer.issue_at(c, Duration::from_secs(3600), now()).is_ok());
        assert_eq!(issuer.issue_at(claims(), Duration::ZERO, now()).unwrap_err(), StsError::Lifetime);
        let d = issuer.discovery_document();
        assert_eq!(d["issuer"], "https://media.example/sts");
        assert_eq!(d["jwks_uri"], "https://media.example/sts/jwks.json");
        assert_eq!(d["id_token_signing_alg_values_supported"], json!(["HS256"]));
    }
}
