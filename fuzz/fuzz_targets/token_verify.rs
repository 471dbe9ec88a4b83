//! Viewer tokens: JWT (RFC 7519, JWS compact) and SWT, parsed and verified
//! by [`keys::token::Verifier`] against a fixed restriction (issuer,
//! audience, a required `groups` claim, one HS256 key), as key delivery
//! does for every license and key request.
//!
//! The first input byte picks the mode:
//! - 0: the rest is a JWT, verified as such;
//! - 1: the rest is an SWT, verified as such;
//! - 2: the rest is a JWT payload, signed with the restriction's key: an
//!   object payload must never fail on the signature, and a verified token
//!   carries exactly that payload as its claims;
//! - 3: the rest is SWT pairs (`name\0value\0...`), signed with the key:
//!   never a signature failure.
//!
//! Never a panic; a token that verifies did satisfy the restriction.
#![no_main]

use base64::Engine as _;
use keys::model::TokenType;
use keys::token::{Reason, VerificationKey, VerifiedToken, Verifier, VerifierConfig, VerifyError};
use libfuzzer_sys::fuzz_target;
use std::future::Future;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use time::OffsetDateTime;

const KEY: &[u8] = b"fuzz-hs256-key-0123456789abcdef!";
const ISSUER: &str = "https://sts.example";
const AUDIENCE: &str = "urn:castguard";

fn verifier(t: TokenType) -> Verifier {
    let key = VerificationKey::hmac(KEY).expect("hmac key");
    let required = vec![("groups".to_string(), Some("EntitledUsers".to_string()))];
    Verifier::with_keys(t, ISSUER, AUDIENCE, vec![key], required, VerifierConfig::default()).expect("verifier")
}

static JWT: LazyLock<Verifier> = LazyLock::new(|| verifier(TokenType::Jwt));
static SWT: LazyLock<Verifier> = LazyLock::new(|| verifier(TokenType::Swt));

/// Runs a verification to completion: without an OpenID Connect key source
/// it never waits on anything, so one poll must finish it.
fn now_or_never<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("verification without OIDC waited"),
    }
}

fn verify(v: &Verifier, token: &str) -> Result<VerifiedToken, VerifyError> {
    let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
    let r = now_or_never(v.verify(token, now));
    if let Ok(t) = &r {
        // Verified means the restriction held.
        assert_eq!(t.claims.get("iss").and_then(|v| v.as_str()), Some(ISSUER));
        assert!(t.expires_at.is_some(), "verified without exp");
    }
    r
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn is_signature_failure(r: &Result<VerifiedToken, VerifyError>) -> bool {
    matches!(r, Err(e) if e.reason() == Some(Reason::SignatureInvalid))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => {
            let _ = verify(&JWT, &String::from_utf8_lossy(rest));
        }
        1 => {
            let _ = verify(&SWT, &String::from_utf8_lossy(rest));
        }
        2 => {
            let signing_input = format!("{}.{}", b64(br#"{"alg":"HS256","typ":"JWT"}"#), b64(rest));
            let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, KEY);
            let tag = aws_lc_rs::hmac::sign(&k, signing_input.as_bytes());
            let token = format!("{signing_input}.{}", b64(tag.as_ref()));
            let r = verify(&JWT, &token);
            if let Ok(serde_json::Value::Object(payload)) = serde_json::from_slice::<serde_json::Value>(rest) {
                assert!(token.len() > keys::token::MAX_TOKEN_LEN || !is_signature_failure(&r), "our own signature refused");
                if let Ok(t) = &r {
                    assert_eq!(t.claims, serde_json::Value::Object(payload));
                }
            }
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let parts: Vec<&str> = text.split('\0').collect();
            let pairs: Vec<(&str, &str)> = parts.chunks(2).map(|c| (c[0], c.get(1).copied().unwrap_or(""))).collect();
            let token = keys::token::swt::sign(&pairs, KEY);
            let r = verify(&SWT, &token);
            assert!(token.len() > keys::token::MAX_TOKEN_LEN || !is_signature_failure(&r), "our own SWT signature refused");
        }
    }
});
