//! JWT in JWS compact serialization (RFC 7519 §7.2, RFC 7515 §7.1):
//! `base64url(header) . base64url(payload) . base64url(signature)`.
//!
//! Parsing is strict and bounded: exactly three parts (five would be a JWE,
//! not supported), base64url without padding, a JSON object header with a
//! string `alg`, no `crit` (RFC 7515 §4.1.11: we understand no extension, so
//! a critical one must be refused), a JSON object payload. Header fields that
//! point at keys (`jku`, `x5u`, `jwk`, `x5c`) are ignored: the keys come from
//! the restriction only (RFC 8725 §3.10).
//!
//! The signature is checked by `jsonwebtoken::crypto::verify` with the
//! algorithm only if the key's kind allows it ([`super::key::KeyKind`]).

use super::key::{VerificationKey, decode_b64url};
use super::{Reason, VerifyError};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

/// A JWT split and decoded, signature not yet checked.
#[derive(Debug)]
pub(crate) struct ParsedJwt<'t> {
    /// `alg` of the header, if it names an algorithm we know (`none` and
    /// unknown names are `None`: no key verifies them).
    pub alg: Option<Algorithm>,
    pub kid: Option<String>,
    /// `header.payload`, the JWS signing input.
    pub signing_input: &'t str,
    pub signature_b64: &'t str,
    pub signature: Vec<u8>,
    pub claims: Map<String, Value>,
}

pub(crate) fn parse(token: &str) -> Result<ParsedJwt<'_>, VerifyError> {
    let malformed = |what: &'static str| VerifyError::refused(Reason::TokenMalformed, what);
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("a JWT has three dot-separated parts"));
    };
    let signing_input = token.get(..h.len() + 1 + p.len()).ok_or(malformed("a JWT has three dot-separated parts"))?;
    let header = decode_b64url(h).ok_or(malformed("header is not base64url"))?;
    let payload = decode_b64url(p).ok_or(malformed("payload is not base64url"))?;
    let signature = decode_b64url(s).ok_or(malformed("signature is not base64url"))?;
    let header: Map<String, Value> = serde_json::from_slice(&header).map_err(|_| malformed("header is not a JSON object"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload).map_err(|_| malformed("payload is not a JSON object"))?;
    if header.contains_key("crit") {
        return Err(malformed("critical header extensions are not supported"));
    }
    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.parse::<Algorithm>().ok(),
        _ => return Err(malformed("header has no alg")),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(malformed("kid is not a string")),
    };
    Ok(ParsedJwt { alg, kid, signing_input, signature_b64: s, signature, claims })
}

/// True when `key` may check this token's algorithm and the signature holds.
pub(crate) fn verify_with(jwt: &ParsedJwt<'_>, key: &VerificationKey) -> bool {
    let Some(alg) = jwt.alg else { return false };
    if !key.kind().allows(alg) {
        return false;
    }
    matches!(jsonwebtoken::crypto::verify(jwt.signature_b64, jwt.signing_input.as_bytes(), key.decoding(), alg), Ok(true))
}

/// The replay identity of a token: SHA-256 of its signature bytes.
///
/// ECDSA signatures are malleable: if `(r, s)` is valid so is `(r, n - s)`,
/// which anyone can compute from a token they hold, and that would be a
/// "new" token with a fresh `maxuses` count. For ES256 the id is taken over
/// `(r, min(s, n - s))`, so both forms count as the same token.
pub(crate) fn token_id(alg: Option<Algorithm>, signature: &[u8]) -> [u8; 32] {
    let mut normal;
    let bytes = match (alg, signature.len()) {
        (Some(Algorithm::ES256), 64) => {
            normal = signature.to_vec();
            if let Some(s) = normal.get_mut(32..64) {
                let neg = p256_order_minus(s);
                if neg.as_slice() < &*s {
                    s.copy_from_slice(&neg);
                }
            }
            &normal[..]
        }
        _ => signature,
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut id = [0u8; 32];
    id.copy_from_slice(digest.as_ref());
    id
}

/// `n - s` for the order `n` of the P-256 group (FIPS 186-4 D.1.2.3), big-endian.
pub(crate) fn p256_order_minus(s: &[u8]) -> [u8; 32] {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad,
        0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    ];
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let si = s.get(i).copied().unwrap_or(0) as i16;
        let mut d = N[i] as i16 - si - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine as _;

    pub fn b64(v: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn parse_rejects_structure_errors() {
        let h = b64(br#"{"alg":"HS256"}"#);
        let p = b64(br#"{"a":1}"#);
        let ok = format!("{h}.{p}.{}", b64(b"sig"));
        let t = parse(&ok).unwrap();
        assert_eq!((t.alg, t.signature.as_slice()), (Some(Algorithm::HS256), &b"sig"[..]));
        assert_eq!(t.signing_input, format!("{h}.{p}"));
        for bad in [
            format!("{h}.{p}"),
            format!("{h}.{p}.c2ln.x.y"),
            format!("{h}.{p}.c2ln="),
            format!("{h}!.{p}.c2ln"),
            format!("{}.{p}.c2ln", b64(b"[1]")),
            format!("{}.{p}.c2ln", b64(br#"{"typ":"JWT"}"#)),
            format!("{}.{p}.c2ln", b64(br#"{"alg":"HS256","crit":["b64"]}"#)),
            format!("{h}.{}.c2ln", b64(b"not json")),
            String::new(),
            "..".into(),
        ] {
            let e = parse(&bad).unwrap_err();
            assert_eq!(e.reason(), Some(Reason::TokenMalformed), "{bad}");
        }
        // `none` parses (so the reason can be signature_invalid) but names no algorithm.
        let none = format!("{}.{p}.", b64(br#"{"alg":"none"}"#));
        assert_eq!(parse(&none).unwrap().alg, None);
    }

    #[test]
    fn es256_high_s_has_the_same_token_id() {
        let mut sig = [0u8; 64];
        sig[0] = 7;
        sig[63] = 5; // s = 5
        let mut high = sig;
        high[32..].copy_from_slice(&p256_order_minus(&sig[32..]));
        assert_ne!(sig, high);
        assert_eq!(token_id(Some(Algorithm::ES256), &sig), token_id(Some(Algorithm::ES256), &high));
        assert_ne!(token_id(Some(Algorithm::RS256), &sig), token_id(Some(Algorithm::RS256), &high));
        // n - (n - s) = s.
        assert_eq!(p256_order_minus(&p256_order_minus(&sig[32..]))[..], sig[32..]);
    }
}
