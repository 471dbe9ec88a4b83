//! Content key policy evaluation: which option (if any) serves a request.
//!
//! DESIGN.md "Data model": a request gets the first option whose restriction
//! it satisfies. An open restriction always does; a token restriction does
//! when its [`Verifier`](crate::token::Verifier) accepts the token and, if
//! the token names a content key (`contentkeyidentifier`), that key is the
//! one requested (else `key_not_granted`).
//!
//! When no option is satisfied, the refusal is the most specific one:
//! 1. the first reason found *after* a signature held (`token_expired`,
//!    `issuer_mismatch`, `claim_missing`, `key_not_granted`...): the token
//!    was authentic for that option, so its reason is the true one;
//! 2. else an internal failure (OIDC keys unavailable, a key in the policy
//!    that cannot be loaded): the token might have been good, so the caller
//!    answers 503/500, not 401;
//! 3. else the last token option's reason (`signature_invalid`,
//!    `token_malformed`), or `token_missing` when no token was given;
//! 4. `key_not_granted` when the policy has no usable option at all.
//!
//! Replay: a token with `maxuses` yields a [`ReplayCheck`] in the decision.
//! The caller counts the use (`store::consume_token_use`) and refuses with
//! [`Reason::ReplayExceeded`] when the count is spent.

use crate::model::{ContentKeyPolicy, ContentKeyPolicyConfiguration, ContentKeyPolicyRestriction, TokenRestriction};
use crate::token::{BuildError, Reason, VerifiedToken, Verifier, VerifierCache, VerifyError};
use std::sync::{Arc, OnceLock};
use time::OffsetDateTime;
use uuid::Uuid;

/// What the caller must count before serving a `maxuses` token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayCheck {
    /// SHA-256 of the token's signature.
    pub token_id: [u8; 32],
    pub max_uses: u32,
    /// When the token, and so its counter, expires (within one hour).
    pub expires_at: OffsetDateTime,
}

/// The option that serves the request.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision<'p> {
    pub option_index: usize,
    pub option_name: Option<String>,
    pub option_id: Option<Uuid>,
    pub configuration: &'p ContentKeyPolicyConfiguration,
    /// The verified token, for a token option.
    pub token: Option<VerifiedToken>,
    pub max_uses: Option<ReplayCheck>,
}

/// Why no option serves the request.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Answer 401 with `reason`.
    #[error("refused: {reason}")]
    Denied { reason: Reason, option_index: Option<usize> },
    /// Answer 503: the token could not be checked (e.g. `jwks_unavailable`).
    #[error("option {option_index}: token could not be verified: {source}")]
    Unavailable { option_index: usize, source: VerifyError },
    /// Answer 500: the policy's restriction cannot be used.
    #[error("option {option_index}: restriction unusable: {source}")]
    Misconfigured { option_index: usize, source: BuildError },
}

impl Refusal {
    /// The code for a 401; `None` for internal failures.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Refusal::Denied { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

/// Where [`evaluate`] gets the verifier of an option's token restriction.
pub trait Verifiers: Sync {
    /// The verifier of option `option_index`, whose restriction is
    /// `restriction`.
    fn verifier(&self, option_index: usize, restriction: &TokenRestriction) -> Result<Arc<Verifier>, BuildError>;
}

impl Verifiers for VerifierCache {
    fn verifier(&self, _: usize, restriction: &TokenRestriction) -> Result<Arc<Verifier>, BuildError> {
        self.get(restriction)
    }
}

/// A policy with a slot per option for its verifier, filled from a
/// [`VerifierCache`] on first use. The cache finds a verifier by a digest
/// of the restriction's JSON, about a quarter of a key delivery's own CPU
/// time in a profile (bench/keys.sh); a policy kept for a while (the
/// delivery caches one for a couple of seconds) asks it once per option.
#[derive(Debug)]
pub struct PreparedPolicy {
    pub policy: ContentKeyPolicy,
    slots: Vec<OnceLock<Arc<Verifier>>>,
}

impl PreparedPolicy {
    pub fn new(policy: ContentKeyPolicy) -> Self {
        let slots = policy.options.iter().map(|_| OnceLock::new()).collect();
        PreparedPolicy { policy, slots }
    }

    /// [`Verifiers`] of this policy, the missing ones from `cache`.
    pub fn verifiers<'a>(&'a self, cache: &'a VerifierCache) -> impl Verifiers + 'a {
        Prepared { slots: &self.slots, cache }
    }
}

impl std::ops::Deref for PreparedPolicy {
    type Target = ContentKeyPolicy;
    fn deref(&self) -> &ContentKeyPolicy {
        &self.policy
    }
}

struct Prepared<'a> {
    slots: &'a [OnceLock<Arc<Verifier>>],
    cache: &'a VerifierCache,
}

impl Verifiers for Prepared<'_> {
    fn verifier(&self, option_index: usize, restriction: &TokenRestriction) -> Result<Arc<Verifier>, BuildError> {
        let Some(slot) = self.slots.get(option_index) else {
            return self.cache.get(restriction);
        };
        if let Some(v) = slot.get() {
            return Ok(v.clone());
        }
        let v = self.cache.get(restriction)?;
        Ok(slot.get_or_init(|| v).clone())
    }
}

/// Finds the first option of `policy` that `token` satisfies for key `kid`.
pub async fn evaluate<'p>(
    policy: &'p ContentKeyPolicy,
    token: Option<&str>,
    kid: Uuid,
    verifiers: &dyn Verifiers,
    now: OffsetDateTime,
) -> Result<Decision<'p>, Refusal> {
    let token = token.filter(|t| !t.is_empty());
    let mut specific: Option<(Reason, usize)> = None;
    let mut internal: Option<Refusal> = None;
    let mut last: Option<(Reason, usize)> = None;

    for (i, option) in policy.options.iter().enumerate() {
        let decision = |token: Option<VerifiedToken>| {
            let max_uses = token.as_ref().and_then(|t| match (t.max_uses, t.expires_at) {
                (Some(max_uses), Some(expires_at)) => Some(ReplayCheck { token_id: t.token_id, max_uses, expires_at }),
                _ => None,
            });
            Decision {
                option_index: i,
                option_name: option.name.clone(),
                option_id: option.policy_option_id,
                configuration: &option.configuration,
                token,
                max_uses,
            }
        };
        let restriction = match &option.restriction {
            ContentKeyPolicyRestriction::Open => return Ok(decision(None)),
            ContentKeyPolicyRestriction::Token(r) => r,
            // Cannot be stored; fail closed if one arrives anyway.
            ContentKeyPolicyRestriction::Unknown => continue,
        };
        let Some(token) = token else {
            last = Some((Reason::TokenMissing, i));
            continue;
        };
        let verifier = match verifiers.verifier(i, restriction) {
            Ok(v) => v,
            Err(source) => {
                tracing::error!(option = i, error = %source, "token restriction unusable");
                internal.get_or_insert(Refusal::Misconfigured { option_index: i, source });
                continue;
            }
        };
        match verifier.verify(token, now).await {
            Ok(t) if t.content_key_id.is_some_and(|granted| granted != kid) => {
                specific.get_or_insert((Reason::KeyNotGranted, i));
            }
            Ok(t) => return Ok(decision(Some(t))),
            Err(e) => match e.reason() {
                Some(r) if r.is_after_signature() => {
                    specific.get_or_insert((r, i));
                }
                Some(r) => last = Some((r, i)),
                None => {
                    tracing::warn!(option = i, error = %e, "token could not be verified");
                    internal.get_or_insert(Refusal::Unavailable { option_index: i, source: e });
                }
            },
        }
    }
    if let Some((reason, i)) = specific {
        return Err(Refusal::Denied { reason, option_index: Some(i) });
    }
    if let Some(r) = internal {
        return Err(r);
    }
    match last {
        Some((reason, i)) => Err(Refusal::Denied { reason, option_index: Some(i) }),
        None => Err(Refusal::Denied { reason: Reason::KeyNotGranted, option_index: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        ContentKeyPolicyOption, SecretBytes, SymmetricTokenKey, TokenClaim, TokenKey, TokenRestriction, TokenType,
    };
    use crate::token::{CLAIM_CONTENT_KEY_ID, CLAIM_MAX_USES, ReqwestFetcher, VerifierConfig};
    use serde_json::json;
    use std::sync::Arc;

    const KEY_A: &[u8] = b"policy-test-key-a-0123456789abcdef";
    const KEY_B: &[u8] = b"policy-test-key-b-0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW).unwrap()
    }

    fn token_option(name: &str, key: &[u8], claims: Vec<TokenClaim>) -> ContentKeyPolicyOption {
        ContentKeyPolicyOption {
            policy_option_id: Some(Uuid::from_u128(name.len() as u128)),
            name: Some(name.into()),
            configuration: ContentKeyPolicyConfiguration::ClearKey,
            restriction: ContentKeyPolicyRestriction::Token(TokenRestriction {
                issuer: "https://sts.example".into(),
                audience: "castguard".into(),
                primary_verification_key: Some(TokenKey::Symmetric(SymmetricTokenKey { key_value: SecretBytes::new(key.to_vec()) })),
                alternate_verification_keys: vec![],
                required_claims: claims,
                restriction_token_type: TokenType::Jwt,
                open_id_connect_discovery_document: None,
            }),
        }
    }

    fn open_option() -> ContentKeyPolicyOption {
        ContentKeyPolicyOption {
            policy_option_id: None,
            name: Some("open".into()),
            configuration: ContentKeyPolicyConfiguration::ClearKey,
            restriction: ContentKeyPolicyRestriction::Open,
        }
    }

    fn policy(options: Vec<ContentKeyPolicyOption>) -> ContentKeyPolicy {
        ContentKeyPolicy { name: "p".into(), policy_id: None, created: None, last_modified: None, description: None, options }
    }

    fn hs256(key: &[u8], extra: serde_json::Value) -> String {
        let mut claims = json!({"iss": "https://sts.example", "aud": "castguard", "exp": NOW + 600});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(key)).unwrap()
    }

    fn cache() -> VerifierCache {
        VerifierCache::new(VerifierConfig::default(), Arc::new(ReqwestFetcher::new().unwrap()))
    }

    fn claim(t: &str, v: Option<&str>) -> TokenClaim {
        TokenClaim { claim_type: Some(t.into()), claim_value: v.map(Into::into) }
    }

    #[tokio::test]
    async fn first_satisfied_option_wins() {
        let p = policy(vec![
            token_option("gold", KEY_A, vec![claim("tier", Some("gold"))]),
            token_option("basic", KEY_A, vec![]),
            open_option(),
        ]);
        let c = cache();
        let kid = Uuid::from_u128(7);
        let gold = hs256(KEY_A, json!({"tier": "gold"}));
        assert_eq!(evaluate(&p, Some(&gold), kid, &c, now()).await.unwrap().option_name.as_deref(), Some("gold"));
        let basic = hs256(KEY_A, json!({"tier": "silver"}));
        assert_eq!(evaluate(&p, Some(&basic), kid, &c, now()).await.unwrap().option_name.as_deref(), Some("basic"));
        // A bad token still gets the open option.
        let d = evaluate(&p, Some("garbage"), kid, &c, now()).await.unwrap();
        assert_eq!((d.option_name.as_deref(), d.token.is_none()), (Some("open"), true));
        assert_eq!(evaluate(&p, None, kid, &c, now()).await.unwrap().option_index, 2);
    }

    /// A prepared policy decides as the cache does, and asks the cache for
    /// an option's verifier once: the same verifier comes back after the
    /// cache forgot it.
    #[tokio::test]
    async fn prepared_policy_keeps_its_verifiers() {
        let p = PreparedPolicy::new(policy(vec![token_option("gold", KEY_A, vec![claim("tier", Some("gold"))]), open_option()]));
        let c = cache();
        let kid = Uuid::from_u128(7);
        let gold = hs256(KEY_A, json!({"tier": "gold"}));
        let v = p.verifiers(&c);
        assert_eq!(evaluate(&p, Some(&gold), kid, &v, now()).await.unwrap().option_name.as_deref(), Some("gold"));
        assert_eq!(evaluate(&p, Some("garbage"), kid, &v, now()).await.unwrap().option_name.as_deref(), Some("open"));
        let ContentKeyPolicyRestriction::Token(r) = &p.options[0].restriction else { unreachable!() };
        let first = v.verifier(0, r).unwrap();
        c.clear();
        assert!(Arc::ptr_eq(&first, &v.verifier(0, r).unwrap()));
        assert!(!Arc::ptr_eq(&first, &c.get(r).unwrap()), "the cache built a new one");
    }

    #[tokio::test]
    async fn most_specific_reason() {
        let c = cache();
        let kid = Uuid::from_u128(7);
        let p = policy(vec![token_option("a", KEY_A, vec![claim("groups", Some("EntitledUsers"))]), token_option("b", KEY_B, vec![])]);
        // Authentic for option a but missing the group: claim_missing, not b's signature_invalid.
        let t = hs256(KEY_A, json!({"groups": ["Other"]}));
        let e = evaluate(&p, Some(&t), kid, &c, now()).await.unwrap_err();
        assert!(matches!(e, Refusal::Denied { reason: Reason::ClaimMissing, option_index: Some(0) }), "{e:?}");
        // Signed by neither key.
        let t = hs256(b"some-other-key-0123456789abcdef", json!({}));
        assert_eq!(evaluate(&p, Some(&t), kid, &c, now()).await.unwrap_err().reason(), Some(Reason::SignatureInvalid));
        assert_eq!(evaluate(&p, None, kid, &c, now()).await.unwrap_err().reason(), Some(Reason::TokenMissing));
        assert_eq!(evaluate(&p, Some(""), kid, &c, now()).await.unwrap_err().reason(), Some(Reason::TokenMissing));
        let expired = hs256(KEY_B, json!({"exp": NOW - 1000}));
        assert_eq!(evaluate(&p, Some(&expired), kid, &c, now()).await.unwrap_err().reason(), Some(Reason::TokenExpired));
    }

    #[tokio::test]
    async fn content_key_identifier_grants_only_that_key() {
        let c = cache();
        let p = policy(vec![token_option("a", KEY_A, vec![claim(CLAIM_CONTENT_KEY_ID, None)])]);
        let granted = Uuid::from_u128(0x1234);
        let t = hs256(KEY_A, json!({ CLAIM_CONTENT_KEY_ID: granted.to_string() }));
        assert!(evaluate(&p, Some(&t), granted, &c, now()).await.is_ok());
        let e = evaluate(&p, Some(&t), Uuid::from_u128(0x9999), &c, now()).await.unwrap_err();
        assert_eq!(e.reason(), Some(Reason::KeyNotGranted));
        // The policy requires the claim: a token without it is refused.
        let t = hs256(KEY_A, json!({}));
        assert_eq!(evaluate(&p, Some(&t), granted, &c, now()).await.unwrap_err().reason(), Some(Reason::ClaimMissing));
    }

    #[tokio::test]
    async fn maxuses_yields_a_replay_check() {
        let c = cache();
        let p = policy(vec![token_option("a", KEY_A, vec![])]);
        let t = hs256(KEY_A, json!({ CLAIM_MAX_USES: 3 }));
        let d = evaluate(&p, Some(&t), Uuid::nil(), &c, now()).await.unwrap();
        let r = d.max_uses.unwrap();
        assert_eq!((r.max_uses, r.expires_at.unix_timestamp()), (3, NOW + 600));
        assert_eq!(r.token_id, d.token.unwrap().token_id);
    }

    #[tokio::test]
    async fn misconfigured_and_unavailable_are_internal() {
        let c = cache();
        let mut bad = token_option("x509", KEY_A, vec![]);
        if let ContentKeyPolicyRestriction::Token(r) = &mut bad.restriction {
            r.primary_verification_key =
                Some(TokenKey::X509Certificate(crate::model::X509CertificateTokenKey { raw_body: vec![0x30; 80] }));
        }
        let t = hs256(KEY_A, json!({}));
        let e = evaluate(&policy(vec![bad]), Some(&t), Uuid::nil(), &c, now()).await.unwrap_err();
        assert!(matches!(e, Refusal::Misconfigured { option_index: 0, .. }), "{e:?}");
        assert_eq!(e.reason(), None);

        // Nothing listens on port 9 of localhost: the key set is unavailable.
        let mut oidc = token_option("oidc", KEY_B, vec![]);
        if let ContentKeyPolicyRestriction::Token(r) = &mut oidc.restriction {
            r.primary_verification_key = None;
            r.open_id_connect_discovery_document = Some("http://127.0.0.1:9/.well-known/openid-configuration".into());
        }
        let e = evaluate(&policy(vec![oidc]), Some(&t), Uuid::nil(), &c, now()).await.unwrap_err();
        assert!(matches!(e, Refusal::Unavailable { option_index: 0, .. }), "{e:?}");
    }
}
