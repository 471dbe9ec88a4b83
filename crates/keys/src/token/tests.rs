//! Verifier tests with tokens made in Rust (aws-lc-rs signing by hand, so
//! headers can be anything). Tokens minted by PyJWT are in `tests/`.

use super::*;
use crate::model::{RsaTokenKey, SecretBytes, SymmetricTokenKey, TokenClaim, TokenKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use jwt::tests::b64;
use serde_json::{Value, json};

const HMAC: &[u8] = b"unit-test-hmac-key-0123456789abcdef";
const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://sts.example";
const AUD: &str = "urn:castguard";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap()
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "exp": NOW + 600, "nbf": NOW - 10, "sub": "viewer"})
}

/// `header.payload.signature` with `sign` over the signing input.
fn jws(header: Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let s = sign(input.as_bytes());
    format!("{input}.{}", b64(&s))
}

fn hmac(alg: aws_lc_rs::hmac::Algorithm, key: &[u8]) -> impl Fn(&[u8]) -> Vec<u8> {
    let k = aws_lc_rs::hmac::Key::new(alg, key);
    move |m| aws_lc_rs::hmac::sign(&k, m).as_ref().to_vec()
}

fn rsa_sign<'a>(kp: &'a sig::RsaKeyPair, pad: &'static dyn sig::RsaEncoding) -> impl Fn(&[u8]) -> Vec<u8> + 'a {
    move |m| {
        let mut out = vec![0; kp.public_modulus_len()];
        kp.sign(pad, &SystemRandom::new(), m, &mut out).unwrap();
        out
    }
}

fn restriction(keys: Vec<TokenKey>, token_type: TokenType) -> TokenRestriction {
    let mut keys = keys.into_iter();
    TokenRestriction {
        issuer: ISS.into(),
        audience: AUD.into(),
        primary_verification_key: keys.next(),
        alternate_verification_keys: keys.collect(),
        required_claims: vec![TokenClaim { claim_type: Some("sub".into()), claim_value: None }],
        restriction_token_type: token_type,
        open_id_connect_discovery_document: None,
    }
}

fn sym(k: &[u8]) -> TokenKey {
    TokenKey::Symmetric(SymmetricTokenKey { key_value: SecretBytes::new(k.to_vec()) })
}

fn rsa_model(kp: &sig::RsaKeyPair) -> TokenKey {
    let c = sig::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
    TokenKey::Rsa(RsaTokenKey { modulus: c.n, exponent: c.e })
}

fn verifier(r: &TokenRestriction) -> Verifier {
    Verifier::new(r, VerifierConfig::default(), Arc::new(ReqwestFetcher::new().unwrap())).unwrap()
}

async fn reason(v: &Verifier, token: &str) -> Reason {
    v.verify(token, now()).await.unwrap_err().reason().unwrap()
}

#[tokio::test]
async fn hmac_family_and_alternate_key() {
    let other = b"alternate-hmac-key-0123456789abcd";
    let v = verifier(&restriction(vec![sym(HMAC), sym(other)], TokenType::Jwt));
    for (alg, name) in [(aws_lc_rs::hmac::HMAC_SHA256, "HS256"), (aws_lc_rs::hmac::HMAC_SHA384, "HS384"), (aws_lc_rs::hmac::HMAC_SHA512, "HS512")] {
        let t = jws(json!({"alg": name, "typ": "JWT"}), &claims(), hmac(alg, HMAC));
        let ok = v.verify(&t, now()).await.unwrap();
        assert_eq!(ok.claims["sub"], "viewer");
        assert_eq!(ok.expires_at, Some(now() + time::Duration::seconds(600)));
    }
    // Signed with the alternate key (key rollover).
    let t = jws(json!({"alg": "HS256"}), &claims(), hmac(aws_lc_rs::hmac::HMAC_SHA256, other));
    assert!(v.verify(&t, now()).await.is_ok());
    // Wrong key, and a header that lies about the algorithm.
    let t = jws(json!({"alg": "HS256"}), &claims(), hmac(aws_lc_rs::hmac::HMAC_SHA256, b"wrong-key-0123456789abcdef-xyz"));
    assert_eq!(reason(&v, &t).await, Reason::SignatureInvalid);
    let t = jws(json!({"alg": "HS512"}), &claims(), hmac(aws_lc_rs::hmac::HMAC_SHA256, HMAC));
    assert_eq!(reason(&v, &t).await, Reason::SignatureInvalid);
}

#[tokio::test]
async fn rsa_pkcs1_and_pss_and_algorithm_confusion() {
    let kp = sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let v = verifier(&restriction(vec![rsa_model(&kp)], TokenType::Jwt));
    let rs = jws(json!({"alg": "RS256"}), &claims(), rsa_sign(&kp, &sig::RSA_PKCS1_SHA256));
    let ok = v.verify(&rs, now()).await.unwrap();
    let sig_bytes = jwt::parse(&rs).unwrap().signature;
    assert_eq!(ok.token_id, jwt::token_id(None, &sig_bytes));
    let ps = jws(json!({"alg": "PS256"}), &claims(), rsa_sign(&kp, &sig::RSA_PSS_SHA256));
    v.verify(&ps, now()).await.unwrap();

    // RFC 8725 §2.1: HS256 "signed" with the RSA public key's bytes, in the
    // forms an attacker would try (SPKI DER, PEM, raw modulus).
    let spki = kp.public_key().as_der().unwrap();
    let pem = x509_cert::der::pem::encode_string("PUBLIC KEY", x509_cert::der::pem::LineEnding::LF, spki.as_ref()).unwrap();
    let n = sig::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key()).n;
    for public in [spki.as_ref(), pem.as_bytes(), &n[..]] {
        let t = jws(json!({"alg": "HS256"}), &claims(), hmac(aws_lc_rs::hmac::HMAC_SHA256, public));
        assert_eq!(reason(&v, &t).await, Reason::SignatureInvalid);
    }
    // alg none with an empty signature, and with the RS256 signature kept.
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims().to_string().as_bytes()));
    assert_eq!(reason(&v, &unsigned).await, Reason::SignatureInvalid);
    let rs_sig = rs.rsplit('.').next().unwrap();
    let none_keep = format!("{}.{}.{rs_sig}", b64(br#"{"alg":"none"}"#), b64(claims().to_string().as_bytes()));
    assert_eq!(reason(&v, &none_keep).await, Reason::SignatureInvalid);
    // An ES256 header on an RSA key.
    let t = jws(json!({"alg": "ES256"}), &claims(), rsa_sign(&kp, &sig::RSA_PKCS1_SHA256));
    assert_eq!(reason(&v, &t).await, Reason::SignatureInvalid);
}

#[tokio::test]
async fn es256_via_explicit_key_and_malleated_signature() {
    let kp = sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let key = VerificationKey::ec_p256_point(kp.public_key().as_ref()).unwrap();
    let v = Verifier::with_keys(TokenType::Jwt, ISS, AUD, vec![key], vec![], VerifierConfig::default()).unwrap();
    let t = jws(json!({"alg": "ES256"}), &claims(), |m| kp.sign(&SystemRandom::new(), m).unwrap().as_ref().to_vec());
    let a = v.verify(&t, now()).await.unwrap();
    // (r, n - s) is also a valid signature; it must count as the same token.
    let (input, s) = t.rsplit_once('.').unwrap();
    let mut raw = key::decode_b64url(s).unwrap();
    let flipped = jwt::p256_order_minus(&raw[32..]);
    raw[32..].copy_from_slice(&flipped);
    let t2 = format!("{input}.{}", b64(&raw));
    assert_ne!(t, t2);
    // aws-lc-rs accepts the high-s form (checked), so without normalisation
    // this would be a second token with a fresh maxuses count.
    let b = v.verify(&t2, now()).await.unwrap();
    assert_eq!(a.token_id, b.token_id);
}

#[tokio::test]
async fn tampering_size_and_encoding() {
    let v = verifier(&restriction(vec![sym(HMAC)], TokenType::Jwt));
    let t = jws(json!({"alg": "HS256"}), &claims(), hmac(aws_lc_rs::hmac::HMAC_SHA256, HMAC));
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = claims();
    c["sub"] = "admin".into();
    let tampered = format!("{}.{}.{}", parts[0], b64(c.to_string().as_bytes()), parts[2]);
    assert_eq!(reason(&v, &tampered).await, Reason::SignatureInvalid);
    assert_eq!(reason(&v, &format!("{}.{}!.{}", parts[0], parts[1], parts[2])).await, Reason::TokenMalformed);
    assert_eq!(reason(&v, "").await, Reason::TokenMissing);
    let mut big = claims();
    big["pad"] = "x".repeat(MAX_TOKEN_LEN).into();
    let huge = jws(json!({"alg": "HS256"}), &big, hmac(aws_lc_rs::hmac::HMAC_SHA256, HMAC));
    let e = v.verify(&huge, now()).await.unwrap_err();
    assert_eq!(e.reason(), Some(Reason::TokenMalformed));
    assert!(e.to_string().contains("16 KiB"));
    // Errors never echo the token.
    assert!(!e.to_string().contains(parts[1]));
}

#[tokio::test]
async fn swt_through_the_verifier() {
    let v = verifier(&restriction(vec![sym(HMAC)], TokenType::Swt));
    let exp = (NOW + 600).to_string();
    let good = swt::sign(&[("Issuer", ISS), ("Audience", AUD), ("ExpiresOn", &exp), ("sub", "viewer")], HMAC);
    let t = v.verify(&good, now()).await.unwrap();
    assert_eq!(t.claims["sub"], "viewer");
    let wrong_aud = swt::sign(&[("Issuer", ISS), ("Audience", "urn:other"), ("ExpiresOn", &exp), ("sub", "v")], HMAC);
    assert_eq!(reason(&v, &wrong_aud).await, Reason::AudienceMismatch);
    let old = swt::sign(&[("Issuer", ISS), ("Audience", AUD), ("ExpiresOn", "1000"), ("sub", "v")], HMAC);
    assert_eq!(reason(&v, &old).await, Reason::TokenExpired);
    // A JWT offered to an SWT restriction is malformed for it.
    let jwt = jws(json!({"alg": "HS256"}), &claims(), hmac(aws_lc_rs::hmac::HMAC_SHA256, HMAC));
    assert_eq!(reason(&v, &jwt).await, Reason::TokenMalformed);
}

#[test]
fn build_errors_name_the_key() {
    let fetcher: Arc<dyn HttpFetch> = Arc::new(ReqwestFetcher::new().unwrap());
    let r = restriction(vec![sym(HMAC), TokenKey::Rsa(RsaTokenKey { modulus: vec![0xc5; 64], exponent: vec![1, 0, 1] })], TokenType::Jwt);
    let e = Verifier::new(&r, VerifierConfig::default(), fetcher.clone()).unwrap_err();
    assert_eq!(e.to_string(), "alternateVerificationKeys[0]: RSA modulus is 512 bits, 2048 to 8192 required");
    let kp = sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let e = Verifier::new(&restriction(vec![rsa_model(&kp)], TokenType::Swt), VerifierConfig::default(), fetcher).unwrap_err();
    assert_eq!(e, BuildError::SwtKey { field: "primaryVerificationKey".into() });
}

#[test]
fn reason_codes_serialize_snake_case() {
    let all = [
        Reason::TokenMissing,
        Reason::TokenMalformed,
        Reason::SignatureInvalid,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::IssuerMismatch,
        Reason::AudienceMismatch,
        Reason::ClaimMissing,
        Reason::KeyNotGranted,
        Reason::ReplayExceeded,
    ];
    let json = serde_json::to_value(all).unwrap();
    assert_eq!(
        json,
        json!([
            "token_missing", "token_malformed", "signature_invalid", "token_expired", "token_not_yet_valid",
            "issuer_mismatch", "audience_mismatch", "claim_missing", "key_not_granted", "replay_exceeded"
        ])
    );
    for r in all {
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
}

#[test]
fn cache_reuses_and_rebuilds_on_change() {
    let cache = VerifierCache::new(VerifierConfig::default(), Arc::new(ReqwestFetcher::new().unwrap())).with_capacity(2);
    let mut r = restriction(vec![sym(HMAC)], TokenType::Jwt);
    let a = cache.get(&r).unwrap();
    assert!(Arc::ptr_eq(&a, &cache.get(&r).unwrap()));
    r.audience = "urn:changed".into();
    assert!(!Arc::ptr_eq(&a, &cache.get(&r).unwrap()));
    r.audience = "urn:third".into();
    cache.get(&r).unwrap();
    assert_eq!(cache.map.lock().unwrap().len(), 2);
    assert!(!format!("{cache:?}").contains("unit-test"));
}
