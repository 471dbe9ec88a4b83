//! Verification keys, and the one rule that stops algorithm confusion: the
//! key decides which JWS algorithms may be used with it, never the token.
//!
//! RFC 8725 (JWT Best Current Practices) §3.1 and §2.1: a verifier that lets
//! the token's `alg` header pick the algorithm accepts `alg: none`, and an
//! HMAC (HS256) token "signed" with the bytes of an RSA *public* key. Here a
//! key carries its [`KeyKind`]; [`KeyKind::allows`] is the whole list of
//! algorithms it may check (RFC 7518 §3.1): HMAC keys HS256/384/512, RSA keys
//! RS256/384/512 and PS256/384/512 (at least 2048 bits), EC P-256 keys ES256.
//!
//! Sources: the model's `TokenKey` (symmetric, RSA modulus/exponent, X.509
//! certificate DER), PEM (`PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE`) and
//! JWK (RFC 7517, used by the JWKS of an OpenID Connect provider).
//!
//! X.509 is parsed with `x509-cert` (RustCrypto formats): a pure-Rust DER
//! decoder that only decodes, already shares `der`/`spki` with nothing else to
//! pull, and has no `unsafe` parser of its own; `x509-parser` would add `nom`,
//! `asn1-rs`, `der-parser` and `oid-registry` for the same one field we read
//! (the SubjectPublicKeyInfo). The certificate's validity dates and chain are
//! not checked: in a content key policy the certificate is only a container
//! for the public key (as in the v3 model).

use crate::model::{SecretBytes, TokenKey};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::fmt;
use x509_cert::Certificate;
use x509_cert::der::asn1::{ObjectIdentifier, UintRef};
use x509_cert::der::{Decode, DecodePem, Reader, SliceReader};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

/// Shortest HMAC key accepted (128 bits), as the model requires.
pub const MIN_HMAC_KEY_LEN: usize = 16;
/// RSA moduli accepted, in bits (RFC 8725 §3.5 and aws-lc-rs' own bounds).
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// What a key is, and so which algorithms it may verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Hmac,
    Rsa,
    EcP256,
}

impl KeyKind {
    /// The JWS algorithms this kind of key verifies (RFC 7518 §3.1).
    pub fn allowed(self) -> &'static [Algorithm] {
        match self {
            KeyKind::Hmac => &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            KeyKind::Rsa => &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            KeyKind::EcP256 => &[Algorithm::ES256],
        }
    }

    pub fn allows(self, alg: Algorithm) -> bool {
        self.allowed().contains(&alg)
    }
}

/// Why a key could not be loaded. Never contains key bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("HMAC key is {len} bytes, at least {MIN_HMAC_KEY_LEN} required")]
    HmacTooShort { len: usize },
    #[error("RSA modulus is {bits} bits, 2048 to 8192 required")]
    RsaSize { bits: usize },
    #[error("RSA exponent must be 1 to 8 bytes and odd")]
    RsaExponent,
    #[error("not a DER X.509 certificate")]
    Certificate,
    #[error("not a DER SubjectPublicKeyInfo / RSAPublicKey")]
    PublicKeyDer,
    #[error("PEM: {0}")]
    Pem(&'static str),
    #[error("unsupported public key algorithm (RSA or EC P-256 only)")]
    UnsupportedAlgorithm,
    #[error("EC public key must be an uncompressed P-256 point")]
    EcPoint,
    #[error("JWK: {0}")]
    Jwk(&'static str),
}

/// One key that verifies token signatures. `Debug` shows kind and `kid`
/// only (an HMAC key is a secret).
#[derive(Clone)]
pub struct VerificationKey {
    kind: KeyKind,
    kid: Option<String>,
    decoding: DecodingKey,
    /// HMAC secret, kept for SWT (HMAC-SHA256 over the form body) which is
    /// not a JWS and so is checked with aws-lc-rs directly.
    hmac: Option<SecretBytes>,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey").field("kind", &self.kind).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl VerificationKey {
    pub fn kind(&self) -> KeyKind {
        self.kind
    }
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }
    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }
    pub(crate) fn hmac_secret(&self) -> Option<&[u8]> {
        self.hmac.as_ref().map(SecretBytes::expose)
    }

    /// An HMAC key (HS256/384/512, SWT's HMAC-SHA256).
    pub fn hmac(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_HMAC_KEY_LEN {
            return Err(KeyError::HmacTooShort { len: secret.len() });
        }
        Ok(VerificationKey {
            kind: KeyKind::Hmac,
            kid: None,
            decoding: DecodingKey::from_secret(secret),
            hmac: Some(SecretBytes::new(secret.to_vec())),
        })
    }

    /// An RSA public key from its big-endian modulus and exponent.
    pub fn rsa_components(modulus: &[u8], exponent: &[u8]) -> Result<Self, KeyError> {
        let n = strip_leading_zeros(modulus);
        let e = strip_leading_zeros(exponent);
        let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
        if !RSA_BITS.contains(&bits) {
            return Err(KeyError::RsaSize { bits });
        }
        if e.is_empty() || e.len() > 8 || e.last().is_some_and(|b| b & 1 == 0) {
            return Err(KeyError::RsaExponent);
        }
        Ok(VerificationKey {
            kind: KeyKind::Rsa,
            kid: None,
            decoding: DecodingKey::from_rsa_raw_components(n, e),
            hmac: None,
        })
    }

    /// An EC P-256 public key from its uncompressed point (`04 || x || y`).
    pub fn ec_p256_point(point: &[u8]) -> Result<Self, KeyError> {
        if point.len() != 65 || point.first() != Some(&0x04) {
            return Err(KeyError::EcPoint);
        }
        Ok(VerificationKey { kind: KeyKind::EcP256, kid: None, decoding: DecodingKey::from_ec_der(point), hmac: None })
    }

    /// A DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) holding an RSA or EC
    /// P-256 key.
    pub fn spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoOwned::from_der(der).map_err(|_| KeyError::PublicKeyDer)?;
        Self::from_spki(&spki)
    }

    /// A DER X.509 certificate; its public key (RSA or EC P-256) is used.
    pub fn x509_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert = Certificate::from_der(der).map_err(|_| KeyError::Certificate)?;
        Self::from_spki(&cert.tbs_certificate.subject_public_key_info)
    }

    /// PEM: `CERTIFICATE`, `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1).
    pub fn pem(pem: &str) -> Result<Self, KeyError> {
        let label = x509_cert::der::pem::decode_label(pem.as_bytes()).map_err(|_| KeyError::Pem("not PEM"))?;
        match label {
            "CERTIFICATE" => {
                let cert = Certificate::from_pem(pem.as_bytes()).map_err(|_| KeyError::Certificate)?;
                Self::from_spki(&cert.tbs_certificate.subject_public_key_info)
            }
            "PUBLIC KEY" => {
                let spki = SubjectPublicKeyInfoOwned::from_pem(pem.as_bytes()).map_err(|_| KeyError::PublicKeyDer)?;
                Self::from_spki(&spki)
            }
            "RSA PUBLIC KEY" => {
                let (_, der) = x509_cert::der::pem::decode_vec(pem.as_bytes()).map_err(|_| KeyError::Pem("bad PEM body"))?;
                Self::rsa_pkcs1_der(&der)
            }
            _ => Err(KeyError::Pem("expected CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY")),
        }
    }

    /// A DER `RSAPublicKey` (RFC 8017 §A.1.1).
    pub fn rsa_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let (n, e) = parse_rsa_public_key(der).ok_or(KeyError::PublicKeyDer)?;
        Self::rsa_components(n, e)
    }

    /// A public JWK (RFC 7517 / RFC 7518 §6): `kty` RSA or EC (P-256).
    /// `oct` (symmetric) keys are refused: a key set fetched from an identity
    /// provider is public, so an HMAC key in it would let anyone sign.
    pub fn jwk(jwk: &serde_json::Value) -> Result<Self, KeyError> {
        let obj = jwk.as_object().ok_or(KeyError::Jwk("not an object"))?;
        let text = |name: &'static str| obj.get(name).and_then(|v| v.as_str());
        let b64 = |name: &'static str| -> Result<Vec<u8>, KeyError> {
            let s = text(name).ok_or(KeyError::Jwk("missing key parameter"))?;
            decode_b64url(s).ok_or(KeyError::Jwk("key parameter is not base64url"))
        };
        let key = match text("kty") {
            Some("RSA") => Self::rsa_components(&b64("n")?, &b64("e")?)?,
            Some("EC") => {
                if text("crv") != Some("P-256") {
                    return Err(KeyError::UnsupportedAlgorithm);
                }
                let (x, y) = (b64("x")?, b64("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::EcPoint);
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Self::ec_p256_point(&point)?
            }
            Some("oct") => return Err(KeyError::Jwk("symmetric keys are not accepted from a key set")),
            _ => return Err(KeyError::UnsupportedAlgorithm),
        };
        if let Some(alg) = text("alg") {
            // RFC 7517 §4.4: a key that names its algorithm is used with it only.
            let alg: Algorithm = alg.parse().map_err(|_| KeyError::UnsupportedAlgorithm)?;
            if !key.kind.allows(alg) {
                return Err(KeyError::Jwk("alg does not match kty"));
            }
        }
        if obj.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
            return Err(KeyError::Jwk("use is not sig"));
        }
        Ok(match text("kid") {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }

    /// A key of the content key policy model.
    pub fn from_model(key: &TokenKey) -> Result<Self, KeyError> {
        match key {
            TokenKey::Symmetric(k) => Self::hmac(k.key_value.expose()),
            TokenKey::Rsa(k) => Self::rsa_components(&k.modulus, &k.exponent),
            TokenKey::X509Certificate(k) => Self::x509_der(&k.raw_body),
        }
    }

    fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, KeyError> {
        let key_bytes = spki.subject_public_key.as_bytes().ok_or(KeyError::PublicKeyDer)?;
        if spki.algorithm.oid == OID_RSA_ENCRYPTION {
            Self::rsa_pkcs1_der(key_bytes)
        } else if spki.algorithm.oid == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(KeyError::UnsupportedAlgorithm)?;
            if curve != OID_P256 {
                return Err(KeyError::UnsupportedAlgorithm);
            }
            Self::ec_p256_point(key_bytes)
        } else {
            Err(KeyError::UnsupportedAlgorithm)
        }
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn parse_rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut reader = SliceReader::new(der).ok()?;
    let (n, e) = reader
        .sequence(|r| {
            let n = UintRef::decode(r)?;
            let e = UintRef::decode(r)?;
            Ok((n.as_bytes(), e.as_bytes()))
        })
        .ok()?;
    reader.finish(()).ok()?;
    Some((n, e))
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

/// base64url without padding (RFC 7515 §2), strict: no `=`, no stray bits.
pub(crate) fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;

    fn rsa_n_e() -> (Vec<u8>, Vec<u8>) {
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let c = aws_lc_rs::signature::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
        (c.n, c.e)
    }

    #[test]
    fn kinds_allow_only_their_family() {
        assert!(KeyKind::Hmac.allows(Algorithm::HS256));
        assert!(!KeyKind::Hmac.allows(Algorithm::RS256));
        assert!(!KeyKind::Rsa.allows(Algorithm::HS256));
        assert!(!KeyKind::Rsa.allows(Algorithm::ES256));
        assert!(KeyKind::Rsa.allows(Algorithm::PS256));
        assert_eq!(KeyKind::EcP256.allowed(), &[Algorithm::ES256]);
    }

    #[test]
    fn rsa_size_and_exponent_checked() {
        let (n, e) = rsa_n_e();
        let mut padded = vec![0u8];
        padded.extend_from_slice(&n);
        assert_eq!(VerificationKey::rsa_components(&padded, &e).unwrap().kind(), KeyKind::Rsa);
        assert_eq!(VerificationKey::rsa_components(&n[..128], &e).unwrap_err(), KeyError::RsaSize { bits: 1024 });
        assert_eq!(VerificationKey::rsa_components(&n, &[2]).unwrap_err(), KeyError::RsaExponent);
        assert_eq!(VerificationKey::rsa_components(&n, &[]).unwrap_err(), KeyError::RsaExponent);
    }

    #[test]
    fn spki_der_and_pem_of_rsa_and_ec() {
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let spki = kp.public_key().as_der().unwrap();
        assert_eq!(VerificationKey::spki_der(spki.as_ref()).unwrap().kind(), KeyKind::Rsa);
        let pem = x509_cert::der::pem::encode_string("PUBLIC KEY", x509_cert::der::pem::LineEnding::LF, spki.as_ref()).unwrap();
        assert_eq!(VerificationKey::pem(&pem).unwrap().kind(), KeyKind::Rsa);

        let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let ec_spki = ec.public_key().as_der().unwrap();
        assert_eq!(VerificationKey::spki_der(ec_spki.as_ref()).unwrap().kind(), KeyKind::EcP256);

        // P-384 is refused, not silently used as P-256.
        let p384 = aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let p384_spki = p384.public_key().as_der().unwrap();
        assert_eq!(VerificationKey::spki_der(p384_spki.as_ref()).unwrap_err(), KeyError::UnsupportedAlgorithm);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"\x30", b"\x30\x82\xff\xff", b"\x30\x03\x02\x01\x05", &[0xffu8; 300][..]] {
            assert!(VerificationKey::x509_der(bytes).is_err());
            assert!(VerificationKey::spki_der(bytes).is_err());
            assert!(VerificationKey::rsa_pkcs1_der(bytes).is_err());
        }
        assert!(VerificationKey::pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
        assert_eq!(VerificationKey::hmac(b"short").unwrap_err(), KeyError::HmacTooShort { len: 5 });
    }

    #[test]
    fn jwk_rules() {
        let (n, e) = rsa_n_e();
        use base64::Engine as _;
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let rsa = serde_json::json!({"kty":"RSA","n":b(&n),"e":b(&e),"kid":"k1","use":"sig","alg":"RS256"});
        let k = VerificationKey::jwk(&rsa).unwrap();
        assert_eq!((k.kind(), k.kid()), (KeyKind::Rsa, Some("k1")));
        let mut wrong_alg = rsa.clone();
        wrong_alg["alg"] = "HS256".into();
        assert!(VerificationKey::jwk(&wrong_alg).is_err());
        let mut enc = rsa.clone();
        enc["use"] = "enc".into();
        assert!(VerificationKey::jwk(&enc).is_err());
        let oct = serde_json::json!({"kty":"oct","k":b(b"0123456789abcdef0123")});
        assert!(VerificationKey::jwk(&oct).is_err());
        // Debug never shows the secret.
        let h = VerificationKey::hmac(b"super-secret-hmac-key").unwrap();
        assert!(!format!("{h:?}").contains("super"));
    }
}
