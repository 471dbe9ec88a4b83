//! JSON Web Key Set (RFC 7517 §5) as served at an OpenID Connect provider's
//! `jwks_uri`.
//!
//! Keys are read one by one: a key we cannot use (an `enc` key, Ed25519, P-384,
//! a symmetric `oct` key, a short RSA key) is skipped rather than failing the
//! set, as providers publish several kinds at once. At most [`MAX_KEYS`] keys
//! are read.

use super::key::VerificationKey;
use serde_json::Value;

/// Most keys taken from one set (bounds the work per unknown `kid`).
pub const MAX_KEYS: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwksError {
    #[error("JWKS is not a JSON object with a `keys` array")]
    NotAKeySet,
    #[error("JWKS has no usable signing key ({skipped} skipped)")]
    NoUsableKey { skipped: usize },
}

/// Parses a JWKS document into the keys castguard can verify with.
pub fn parse(body: &[u8]) -> Result<Vec<VerificationKey>, JwksError> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| JwksError::NotAKeySet)?;
    let keys = doc.get("keys").and_then(Value::as_array).ok_or(JwksError::NotAKeySet)?;
    let mut out = Vec::new();
    let mut skipped = 0;
    for k in keys.iter().take(MAX_KEYS) {
        match VerificationKey::jwk(k) {
            Ok(key) => out.push(key),
            Err(e) => {
                skipped += 1;
                let kid = k.get("kid").and_then(Value::as_str);
                tracing::debug!(kid, error = %e, "JWKS key skipped");
            }
        }
    }
    if out.is_empty() {
        return Err(JwksError::NoUsableKey { skipped });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::key::KeyKind;

    #[test]
    fn skips_unusable_keys() {
        let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        use aws_lc_rs::signature::KeyPair as _;
        let point = ec.public_key().as_ref();
        let b = crate::token::jwt::tests::b64;
        let set = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed"},
            {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ", "kid": "hmac"},
            {"kty": "EC", "crv": "P-256", "x": b(&point[1..33]), "y": b(&point[33..]), "kid": "ec1"}
        ]});
        let keys = parse(set.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0].kind(), keys[0].kid()), (KeyKind::EcP256, Some("ec1")));
        assert_eq!(parse(br#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#).unwrap_err(), JwksError::NoUsableKey { skipped: 1 });
        assert_eq!(parse(b"[]").unwrap_err(), JwksError::NotAKeySet);
        assert_eq!(parse(b"\xff").unwrap_err(), JwksError::NotAKeySet);
    }
}
