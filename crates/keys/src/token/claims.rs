//! Claim checks shared by JWT and SWT, run only after the signature held.
//!
//! - `exp` / `nbf` (RFC 7519 §4.1.4, §4.1.5): NumericDate seconds, integer or
//!   not; compared with a clock skew allowance. A token without `exp` is
//!   refused by default ([`VerifierConfig::require_exp`]).
//! - `iss` (§4.1.1) is compared as an exact string: RFC 7519 §4.1.1 and
//!   OpenID Connect Core §3.1.3.7 allow no normalisation, so
//!   `https://sts.example/` is not `https://sts.example`.
//! - `aud` (§4.1.3) is a string or an array of strings, one of which must be
//!   the restriction's audience exactly.
//! - Required claims (v3 `requiredClaims`): a claim type without a value must
//!   be present; with a value, the token's claim must equal it, or, when the
//!   claim is an array, contain it (`groups` contains `EntitledUsers`).
//!   Numbers and booleans compare by their JSON text (`"true"`, `"3"`).
//! - `urn:microsoft:azure:mediaservices:maxuses`: a positive integer; such a
//!   token must expire within [`MAX_USES_LIFETIME`] of now, or it is refused
//!   as `token_malformed` (a counted token with a long life would need its
//!   counter kept as long; Azure Media Services applies the same rule).
//! - `urn:microsoft:azure:mediaservices:contentkeyidentifier`: a UUID naming
//!   the only key this token may obtain (checked by `policy::evaluate`).

use super::{Reason, VerifiedToken, VerifierConfig, VerifyError};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// Claim naming the one content key a token grants.
pub const CLAIM_CONTENT_KEY_ID: &str = "urn:microsoft:azure:mediaservices:contentkeyidentifier";
/// Claim limiting how many times a token may be used.
pub const CLAIM_MAX_USES: &str = "urn:microsoft:azure:mediaservices:maxuses";
/// Longest remaining life of a token that carries `maxuses`, in seconds.
pub const MAX_USES_LIFETIME: i64 = 3600;

/// What the restriction requires of the claims.
#[derive(Clone, Debug)]
pub(crate) struct ClaimRules {
    pub issuer: String,
    pub audience: String,
    pub required: Vec<(String, Option<String>)>,
}

/// Checks `claims` (already authenticated) against `rules` at `now`.
pub(crate) fn check(
    claims: Map<String, Value>,
    rules: &ClaimRules,
    config: &VerifierConfig,
    now: OffsetDateTime,
    token_id: [u8; 32],
) -> Result<VerifiedToken, VerifyError> {
    let now_s = now.unix_timestamp();
    let skew = i64::try_from(config.clock_skew.as_secs()).unwrap_or(i64::MAX);

    let exp = numeric_date(&claims, "exp")?;
    // An `exp` past what a date can hold (after year 9999) is refused, not
    // taken as "never": the verified token's `expires_at` would be missing,
    // and what relies on it (replay counters' lifetime) must always have it.
    // Found by fuzz/fuzz_targets/token_verify.rs.
    let expires_at = match exp {
        Some(e) => Some(
            OffsetDateTime::from_unix_timestamp(e)
                .map_err(|_| VerifyError::refused(Reason::TokenMalformed, "exp is out of range"))?,
        ),
        None => None,
    };
    match exp {
        Some(exp) if now_s >= exp.saturating_add(skew) => {
            return Err(VerifyError::refused(Reason::TokenExpired, "exp is in the past"));
        }
        None if config.require_exp => return Err(VerifyError::refused(Reason::ClaimMissing, "exp is required")),
        _ => {}
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")?
        && now_s.saturating_add(skew) < nbf
    {
        return Err(VerifyError::refused(Reason::TokenNotYetValid, "nbf is in the future"));
    }
    if claims.get("iss").and_then(Value::as_str) != Some(rules.issuer.as_str()) {
        return Err(VerifyError::refused(Reason::IssuerMismatch, "iss differs from the restriction's issuer"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == rules.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(rules.audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(VerifyError::refused(Reason::AudienceMismatch, "aud does not name the restriction's audience"));
    }
    for (name, value) in &rules.required {
        let ok = match (claims.get(name), value) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(Value::Array(items)), Some(want)) => items.iter().any(|i| scalar_eq(i, want)),
            (Some(v), Some(want)) => scalar_eq(v, want),
        };
        if !ok {
            return Err(VerifyError::refused_owned(
                Reason::ClaimMissing,
                format!("required claim `{name}` is missing or has another value"),
            ));
        }
    }

    let max_uses = match claims.get(CLAIM_MAX_USES) {
        None => None,
        Some(v) => {
            let n = positive_u32(v).ok_or(VerifyError::refused(Reason::TokenMalformed, "maxuses is not a positive integer"))?;
            match exp {
                Some(exp) if exp.saturating_sub(now_s) <= MAX_USES_LIFETIME => Some(n),
                _ => {
                    return Err(VerifyError::refused(
                        Reason::TokenMalformed,
                        "a token with maxuses must expire within one hour",
                    ));
                }
            }
        }
    };
    let content_key_id = match claims.get(CLAIM_CONTENT_KEY_ID) {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| Uuid::parse_str(s.trim_start_matches('{').trim_end_matches('}')).ok())
                .ok_or(VerifyError::refused(Reason::TokenMalformed, "contentkeyidentifier is not a UUID"))?,
        ),
    };
    Ok(VerifiedToken { claims: Value::Object(claims), token_id, expires_at, content_key_id, max_uses })
}

/// A NumericDate claim (RFC 7519 §2): seconds, possibly fractional; the
/// fraction is dropped (floor). Another JSON type is malformed.
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, VerifyError> {
    let Some(v) = claims.get(name) else { return Ok(None) };
    let bad = || VerifyError::refused_owned(Reason::TokenMalformed, format!("{name} is not a NumericDate"));
    if let Some(i) = v.as_i64() {
        return Ok(Some(i));
    }
    match v.as_f64() {
        // ±2^53 keeps the cast exact and far beyond any real date.
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(Some(f.floor() as i64)),
        _ => Err(bad()),
    }
}

fn scalar_eq(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Number(n) => n.to_string() == want,
        Value::Bool(b) => (if *b { "true" } else { "false" }) == want,
        _ => false,
    }
}

fn positive_u32(v: &Value) -> Option<u32> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok()?,
        _ => return None,
    };
    u32::try_from(n).ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(required: &[(&str, Option<&str>)]) -> ClaimRules {
        ClaimRules {
            issuer: "https://sts.example".into(),
            audience: "castguard".into(),
            required: required.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect(),
        }
    }
    const NOW: i64 = 1_800_000_000;
    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }
    fn run(claims: Value, r: &ClaimRules) -> Result<VerifiedToken, Reason> {
        let Value::Object(m) = claims else { panic!() };
        check(m, r, &VerifierConfig::default(), at(NOW), [0; 32]).map_err(|e| e.reason().unwrap())
    }
    fn base() -> Value {
        json!({"iss": "https://sts.example", "aud": "castguard", "exp": NOW + 600})
    }
    fn with(mut v: Value, k: &str, x: Value) -> Value {
        v[k] = x;
        v
    }

    #[test]
    fn times_with_skew() {
        let r = rules(&[]);
        assert!(run(base(), &r).is_ok());
        assert!(run(with(base(), "exp", json!(NOW - 299)), &r).is_ok(), "within the 300 s skew");
        assert_eq!(run(with(base(), "exp", json!(NOW - 300)), &r).unwrap_err(), Reason::TokenExpired);
        assert_eq!(run(with(base(), "nbf", json!(NOW + 301)), &r).unwrap_err(), Reason::TokenNotYetValid);
        assert!(run(with(base(), "nbf", json!(NOW + 300)), &r).is_ok());
        assert!(run(with(base(), "exp", json!((NOW + 10) as f64 + 0.5)), &r).is_ok());
        assert_eq!(run(with(base(), "exp", json!("tomorrow")), &r).unwrap_err(), Reason::TokenMalformed);
        let mut no_exp = base();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(run(no_exp, &r).unwrap_err(), Reason::ClaimMissing);
        // Fuzz finding (token_verify): an exp past year 9999 verified with
        // no expires_at; it is malformed now.
        assert_eq!(run(with(base(), "exp", json!(1_700_001_699_999_000_i64)), &r).unwrap_err(), Reason::TokenMalformed);
        assert_eq!(run(with(base(), "exp", json!(1e300)), &r).unwrap_err(), Reason::TokenMalformed);
        assert_eq!(run(with(base(), "exp", json!(253_402_300_799_i64)), &r).unwrap().expires_at, Some(at(253_402_300_799)));
    }

    #[test]
    fn issuer_exact_audience_string_or_array() {
        let r = rules(&[]);
        assert_eq!(run(with(base(), "iss", json!("https://sts.example/")), &r).unwrap_err(), Reason::IssuerMismatch);
        assert_eq!(run(with(base(), "iss", json!(["https://sts.example"])), &r).unwrap_err(), Reason::IssuerMismatch);
        assert!(run(with(base(), "aud", json!(["other", "castguard"])), &r).is_ok());
        assert_eq!(run(with(base(), "aud", json!(["other"])), &r).unwrap_err(), Reason::AudienceMismatch);
        assert_eq!(run(with(base(), "aud", json!("castguard2")), &r).unwrap_err(), Reason::AudienceMismatch);
    }

    #[test]
    fn required_claims_value_membership_presence() {
        let r = rules(&[("groups", Some("EntitledUsers")), ("sub", None), ("level", Some("3"))]);
        let ok = with(with(with(base(), "groups", json!(["A", "EntitledUsers"])), "sub", json!("u1")), "level", json!(3));
        assert!(run(ok.clone(), &r).is_ok());
        assert_eq!(run(with(ok.clone(), "groups", json!(["A"])), &r).unwrap_err(), Reason::ClaimMissing);
        assert!(run(with(ok.clone(), "groups", json!("EntitledUsers")), &r).is_ok());
        let mut no_sub = ok.clone();
        no_sub.as_object_mut().unwrap().remove("sub");
        assert_eq!(run(no_sub, &r).unwrap_err(), Reason::ClaimMissing);
        assert_eq!(run(with(ok, "level", json!({"v": 3})), &r).unwrap_err(), Reason::ClaimMissing);
    }

    #[test]
    fn maxuses_needs_short_life_and_ckid_is_a_uuid() {
        let r = rules(&[]);
        let t = run(with(base(), CLAIM_MAX_USES, json!(2)), &r).unwrap();
        assert_eq!(t.max_uses, Some(2));
        assert_eq!(t.expires_at, Some(at(NOW + 600)));
        let long = with(with(base(), CLAIM_MAX_USES, json!(2)), "exp", json!(NOW + 3601));
        assert_eq!(run(long, &r).unwrap_err(), Reason::TokenMalformed);
        assert_eq!(run(with(base(), CLAIM_MAX_USES, json!(0)), &r).unwrap_err(), Reason::TokenMalformed);
        assert_eq!(run(with(base(), CLAIM_MAX_USES, json!("3")), &r).unwrap().max_uses, Some(3));
        let kid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        let t = run(with(base(), CLAIM_CONTENT_KEY_ID, json!(kid)), &r).unwrap();
        assert_eq!(t.content_key_id, Some(Uuid::parse_str(kid).unwrap()));
        assert_eq!(run(with(base(), CLAIM_CONTENT_KEY_ID, json!("nope")), &r).unwrap_err(), Reason::TokenMalformed);
    }
}
