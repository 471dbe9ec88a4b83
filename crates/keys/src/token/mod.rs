//! Token validation for content key policy token restrictions (JWT and SWT).
//!
//! A [`Verifier`] is built once per `TokenRestriction` (keys parsed, OIDC
//! cache created) and kept by the caller, normally in a [`VerifierCache`].
//! `verify` runs, in order, and stops at the first failure:
//! 1. size: more than [`MAX_TOKEN_LEN`] bytes is refused before parsing;
//! 2. structure ([`jwt`], [`swt`]): malformed input is `token_malformed`;
//! 3. signature: primary key, then alternate keys (key rollover), then the
//!    OpenID Connect key set; the key's kind decides the algorithm
//!    ([`key`]); nothing verifies → `signature_invalid`;
//! 4. claims ([`claims`]): `exp`, `nbf`, `iss`, `aud`, required claims,
//!    `maxuses`, `contentkeyidentifier`.
//!
//! Reasons are the stable codes of [`Reason`] (what a 401 says). Messages
//! name the check, never the token, a key or a claim value from the token.
//! Replay counting is the caller's: [`VerifiedToken::token_id`] and
//! [`VerifiedToken::max_uses`] are what it must count (`store` crate).

pub mod claims;
pub mod jwks;
pub mod jwt;
pub mod key;
pub mod oidc;
pub mod swt;

pub use claims::{CLAIM_CONTENT_KEY_ID, CLAIM_MAX_USES, MAX_USES_LIFETIME};
pub use key::{KeyError, KeyKind, VerificationKey};
pub use oidc::{FetchError, HttpFetch, OidcConfig, OidcError, OidcKeySource, ReqwestFetcher};

use crate::model::{TokenRestriction, TokenType};
use claims::ClaimRules;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroize;

/// Largest token accepted, in bytes; longer input is refused unparsed.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token was refused: the code a client sees (`snake_case` in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    TokenMissing,
    TokenMalformed,
    SignatureInvalid,
    TokenExpired,
    TokenNotYetValid,
    IssuerMismatch,
    AudienceMismatch,
    ClaimMissing,
    KeyNotGranted,
    ReplayExceeded,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TokenMissing => "token_missing",
            Reason::TokenMalformed => "token_malformed",
            Reason::SignatureInvalid => "signature_invalid",
            Reason::TokenExpired => "token_expired",
            Reason::TokenNotYetValid => "token_not_yet_valid",
            Reason::IssuerMismatch => "issuer_mismatch",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::ClaimMissing => "claim_missing",
            Reason::KeyNotGranted => "key_not_granted",
            Reason::ReplayExceeded => "replay_exceeded",
        }
    }

    /// True for reasons found after the signature held: the token was
    /// authentic for this restriction, so the reason is specific to it.
    pub fn is_after_signature(self) -> bool {
        !matches!(self, Reason::TokenMissing | Reason::TokenMalformed | Reason::SignatureInvalid)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed verification: a refusal with its [`Reason`], or an internal
/// failure (the provider's keys could not be had: answer 503, not 401).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{reason}: {detail}")]
    Refused { reason: Reason, detail: Cow<'static, str> },
    #[error("jwks_unavailable: {0}")]
    JwksUnavailable(#[from] OidcError),
}

impl VerifyError {
    pub(crate) fn refused(reason: Reason, detail: &'static str) -> Self {
        VerifyError::Refused { reason, detail: Cow::Borrowed(detail) }
    }
    pub(crate) fn refused_owned(reason: Reason, detail: String) -> Self {
        VerifyError::Refused { reason, detail: Cow::Owned(detail) }
    }
    /// The refusal code; `None` for internal errors.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            VerifyError::Refused { reason, .. } => Some(*reason),
            VerifyError::JwksUnavailable(_) => None,
        }
    }
}

/// An authentic token whose claims satisfied the restriction.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedToken {
    /// The claims (JWT payload; for SWT the pairs, with `Issuer`, `Audience`
    /// and `ExpiresOn` as `iss`, `aud` and `exp`).
    pub claims: serde_json::Value,
    /// SHA-256 of the signature bytes (ES256: with low `s`): identifies the
    /// token for replay counting.
    pub token_id: [u8; 32],
    pub expires_at: Option<OffsetDateTime>,
    /// `urn:microsoft:azure:mediaservices:contentkeyidentifier`.
    pub content_key_id: Option<Uuid>,
    /// `urn:microsoft:azure:mediaservices:maxuses`; such a token always has
    /// `expires_at` within one hour of verification.
    pub max_uses: Option<u32>,
}

/// Verification settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Allowed clock difference for `exp` and `nbf` (default 300 s).
    pub clock_skew: Duration,
    /// Refuse tokens without `exp` (`claim_missing`); default true, as a
    /// token without one is valid forever.
    pub require_exp: bool,
    pub oidc: OidcConfig,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig { clock_skew: Duration::from_secs(300), require_exp: true, oidc: OidcConfig::default() }
    }
}

/// A restriction whose keys cannot be used. Names the key, never its bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("{field}: {source}")]
    Key { field: String, source: KeyError },
    #[error("restrictionTokenType must be Jwt or Swt")]
    TokenType,
    #[error("SWT needs a symmetric key ({field} is not)")]
    SwtKey { field: String },
    #[error("no verification key and no openIdConnectDiscoveryDocument")]
    NoKeys,
}

/// Verifies tokens against one token restriction.
#[derive(Debug)]
pub struct Verifier {
    token_type: TokenType,
    rules: ClaimRules,
    keys: Vec<VerificationKey>,
    oidc: Option<OidcKeySource>,
    config: VerifierConfig,
}

impl Verifier {
    /// Parses the restriction's keys. `fetcher` is used only when the
    /// restriction names an OpenID Connect discovery document.
    pub fn new(restriction: &TokenRestriction, config: VerifierConfig, fetcher: Arc<dyn HttpFetch>) -> Result<Self, BuildError> {
        let token_type = restriction.restriction_token_type;
        if !matches!(token_type, TokenType::Jwt | TokenType::Swt) {
            return Err(BuildError::TokenType);
        }
        let mut keys = Vec::new();
        let named = restriction
            .primary_verification_key
            .iter()
            .map(|k| ("primaryVerificationKey".to_string(), k))
            .chain(restriction.alternate_verification_keys.iter().enumerate().map(|(i, k)| (format!("alternateVerificationKeys[{i}]"), k)));
        for (field, k) in named {
            let key = VerificationKey::from_model(k).map_err(|source| BuildError::Key { field: field.clone(), source })?;
            if token_type == TokenType::Swt && key.kind() != KeyKind::Hmac {
                return Err(BuildError::SwtKey { field });
            }
            keys.push(key);
        }
        let oidc = match (&restriction.open_id_connect_discovery_document, token_type) {
            (Some(url), TokenType::Jwt) => Some(OidcKeySource::new(url.clone(), fetcher, config.oidc)),
            _ => None,
        };
        if keys.is_empty() && oidc.is_none() {
            return Err(BuildError::NoKeys);
        }
        let rules = ClaimRules {
            issuer: restriction.issuer.clone(),
            audience: restriction.audience.clone(),
            required: restriction
                .required_claims
                .iter()
                .filter_map(|c| c.claim_type.clone().map(|t| (t, c.claim_value.clone())))
                .collect(),
        };
        Ok(Verifier { token_type, rules, keys, oidc, config })
    }

    /// A verifier for explicit keys (PEM, JWK...) rather than a model
    /// restriction; `required_claims` are `(type, Some(value) | None)`.
    pub fn with_keys(
        token_type: TokenType,
        issuer: &str,
        audience: &str,
        keys: Vec<VerificationKey>,
        required_claims: Vec<(String, Option<String>)>,
        config: VerifierConfig,
    ) -> Result<Self, BuildError> {
        if !matches!(token_type, TokenType::Jwt | TokenType::Swt) {
            return Err(BuildError::TokenType);
        }
        if keys.is_empty() {
            return Err(BuildError::NoKeys);
        }
        let rules = ClaimRules { issuer: issuer.into(), audience: audience.into(), required: required_claims };
        Ok(Verifier { token_type, rules, keys, oidc: None, config })
    }

    /// Verifies `token` at time `now`.
    pub async fn verify(&self, token: &str, now: OffsetDateTime) -> Result<VerifiedToken, VerifyError> {
        if token.is_empty() {
            return Err(VerifyError::refused(Reason::TokenMissing, "no token"));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::refused(Reason::TokenMalformed, "token longer than 16 KiB"));
        }
        match self.token_type {
            TokenType::Swt => self.verify_swt(token, now),
            _ => self.verify_jwt(token, now).await,
        }
    }

    fn verify_swt(&self, token: &str, now: OffsetDateTime) -> Result<VerifiedToken, VerifyError> {
        let swt = swt::parse(token)?;
        if !self.keys.iter().any(|k| swt::verify_with(&swt, k)) {
            return Err(VerifyError::refused(Reason::SignatureInvalid, "no key verifies the HMACSHA256"));
        }
        let id = jwt::token_id(None, &swt.signature);
        claims::check(swt.claims, &self.rules, &self.config, now, id)
    }

    async fn verify_jwt(&self, token: &str, now: OffsetDateTime) -> Result<VerifiedToken, VerifyError> {
        let jwt = jwt::parse(token)?;
        let mut ok = self.keys.iter().any(|k| jwt::verify_with(&jwt, k));
        if !ok && let Some(oidc) = &self.oidc {
            let set = oidc.keys().await?;
            ok = match try_key_set(&jwt, &set.keys) {
                SetResult::Verified => true,
                SetResult::Failed => false,
                SetResult::Miss => match oidc.refetch_after_miss(&set).await {
                    Some(newer) => try_key_set(&jwt, &newer.keys) == SetResult::Verified,
                    None => false,
                },
            };
        }
        if !ok {
            return Err(VerifyError::refused(Reason::SignatureInvalid, "no key verifies the signature"));
        }
        let id = jwt::token_id(jwt.alg, &jwt.signature);
        claims::check(jwt.claims, &self.rules, &self.config, now, id)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum SetResult {
    Verified,
    /// The token's `kid` is in the set but the signature does not hold.
    Failed,
    /// Unknown `kid`, or no `kid` and no key verifies: maybe a new key.
    Miss,
}

fn try_key_set(jwt: &jwt::ParsedJwt<'_>, keys: &[VerificationKey]) -> SetResult {
    match &jwt.kid {
        Some(kid) => {
            let mut known = false;
            for k in keys.iter().filter(|k| k.kid() == Some(kid.as_str())) {
                known = true;
                if jwt::verify_with(jwt, k) {
                    return SetResult::Verified;
                }
            }
            if known { SetResult::Failed } else { SetResult::Miss }
        }
        None if keys.iter().any(|k| jwt::verify_with(jwt, k)) => SetResult::Verified,
        None => SetResult::Miss,
    }
}

/// Verifiers by restriction content, shared by requests: built on first use
/// and rebuilt when a policy changes (the key is a SHA-256 of the
/// restriction's JSON, so an edited restriction gets a new verifier and its
/// own OIDC cache). Holds at most `capacity` verifiers.
pub struct VerifierCache {
    config: VerifierConfig,
    fetcher: Arc<dyn HttpFetch>,
    capacity: usize,
    map: Mutex<HashMap<[u8; 32], Arc<Verifier>>>,
}

impl std::fmt::Debug for VerifierCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierCache").field("config", &self.config).field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl VerifierCache {
    pub fn new(config: VerifierConfig, fetcher: Arc<dyn HttpFetch>) -> Self {
        VerifierCache { config, fetcher, capacity: 1024, map: Mutex::new(HashMap::new()) }
    }

    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Drops every cached verifier (and with them their OpenID Connect
    /// caches): for when policies changed elsewhere.
    pub fn clear(&self) {
        match self.map.lock() {
            Ok(mut m) => m.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    /// The verifier of `restriction`, built if not cached.
    pub fn get(&self, restriction: &TokenRestriction) -> Result<Arc<Verifier>, BuildError> {
        let Some(key) = fingerprint(restriction) else {
            return Ok(Arc::new(Verifier::new(restriction, self.config, self.fetcher.clone())?));
        };
        let mut map = match self.map.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(v) = map.get(&key) {
            return Ok(v.clone());
        }
        let v = Arc::new(Verifier::new(restriction, self.config, self.fetcher.clone())?);
        if map.len() >= self.capacity
            && let Some(evict) = map.keys().next().copied()
        {
            map.remove(&evict);
        }
        map.insert(key, v.clone());
        Ok(v)
    }
}

/// SHA-256 of the restriction's JSON; `None` (do not cache) if it does not
/// serialise, so that two restrictions never share a verifier.
fn fingerprint(restriction: &TokenRestriction) -> Option<[u8; 32]> {
    let mut json = serde_json::to_vec(restriction).ok()?;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &json);
    json.zeroize();
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Some(out)
}

#[cfg(test)]
mod tests;
