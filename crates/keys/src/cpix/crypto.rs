//! The cryptography of CPIX key delivery (DASH-IF CPIX 2.3 §4.4, "Content
//! key encryption"), all through aws-lc-rs (the `rsa` crate is avoided:
//! RUSTSEC-2023-0071):
//! - a random 256-bit document key and a random 512-bit MAC key, each
//!   wrapped for the recipient with RSA-OAEP, SHA-1 and MGF1-SHA-1
//!   (xmlenc `rsa-oaep-mgf1p`);
//! - each content key encrypted under the document key with AES-256-CBC
//!   and PKCS#7 padding (xmlenc `aes256-cbc`): the `CipherValue` is the
//!   16-byte IV followed by the ciphertext;
//! - a `ValueMAC` per content key: HMAC-SHA512 under the MAC key over the
//!   whole `CipherValue` (IV and ciphertext; xmldsig-more `hmac-sha512`),
//!   checked before anything is decrypted.
//!
//! The document and MAC keys live in [`Zeroizing`] buffers and are never
//! written, logged or put in an error.

use super::CpixError;
use aws_lc_rs::cipher::{
    AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode};
use zeroize::Zeroizing;

pub const ALG_RSA_OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const ALG_AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const ALG_HMAC_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512";

/// Smallest RSA key accepted for a recipient (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// A recipient's certificate: content keys are encrypted for its RSA
/// public key.
pub struct Recipient {
    /// The certificate's DER, written into `DeliveryKey`.
    pub(crate) der: Vec<u8>,
    key: OaepPublicEncryptingKey,
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipient")
            .field("bits", &self.key.key_size_bits())
            .finish()
    }
}

fn bad_cert(reason: impl Into<String>) -> CpixError {
    CpixError::Recipient(reason.into())
}

impl Recipient {
    /// From a PEM (`-----BEGIN CERTIFICATE-----`) or DER X.509 certificate
    /// with an RSA key of at least [`MIN_RSA_BITS`] bits.
    pub fn from_certificate(bytes: &[u8]) -> Result<Recipient, CpixError> {
        let trimmed = bytes.trim_ascii_start();
        let cert = if trimmed.starts_with(b"-----BEGIN") {
            Certificate::from_pem(trimmed)
                .map_err(|e| bad_cert(format!("not a PEM X.509 certificate: {e}")))?
        } else {
            Certificate::from_der(bytes)
                .map_err(|e| bad_cert(format!("not a DER X.509 certificate: {e}")))?
        };
        let der = cert
            .to_der()
            .map_err(|e| bad_cert(format!("certificate: {e}")))?;
        Recipient::from_parsed(&cert, der)
    }

    fn from_parsed(cert: &Certificate, der: Vec<u8>) -> Result<Recipient, CpixError> {
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| bad_cert(format!("certificate public key: {e}")))?;
        let public = PublicEncryptingKey::from_der(&spki)
            .map_err(|_| bad_cert("the certificate's key is not an RSA key"))?;
        if public.key_size_bits() < MIN_RSA_BITS {
            return Err(bad_cert(format!(
                "the certificate's RSA key has {} bits; at least {MIN_RSA_BITS} are required",
                public.key_size_bits()
            )));
        }
        let key = OaepPublicEncryptingKey::new(public)
            .map_err(|_| bad_cert("the certificate's key cannot do RSA-OAEP"))?;
        Ok(Recipient { der, key })
    }

    /// The DER SubjectPublicKeyInfo of the certificate `der` (to match a
    /// `DeliveryData` with a private key).
    pub(crate) fn spki_of(der: &[u8]) -> Option<Vec<u8>> {
        let cert = Certificate::from_der(der).ok()?;
        cert.tbs_certificate.subject_public_key_info.to_der().ok()
    }

    pub(crate) fn wrap(&self, secret: &[u8]) -> Result<Vec<u8>, CpixError> {
        let mut out = vec![0u8; self.key.ciphertext_size()];
        let n = self
            .key
            .encrypt(&OAEP_SHA1_MGF1SHA1, secret, &mut out, None)
            .map_err(|_| CpixError::Crypto("RSA-OAEP encryption failed"))?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

/// A recipient's RSA private key (PKCS#8 PEM `-----BEGIN PRIVATE KEY-----`
/// or DER), to read documents encrypted for it.
pub struct RecipientKey {
    key: OaepPrivateDecryptingKey,
    /// DER SubjectPublicKeyInfo of its public key.
    pub(crate) spki: Vec<u8>,
}

impl std::fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecipientKey(<redacted>)")
    }
}

impl RecipientKey {
    pub fn from_pkcs8(bytes: &[u8]) -> Result<RecipientKey, CpixError> {
        let trimmed = bytes.trim_ascii_start();
        let der = if trimmed.starts_with(b"-----BEGIN") {
            let (label, der) = x509_cert::der::pem::decode_vec(trimmed)
                .map_err(|_| CpixError::RecipientKey("not a PEM document".into()))?;
            if label != "PRIVATE KEY" {
                return Err(CpixError::RecipientKey(format!(
                    "a PEM '{label}' is not a PKCS#8 'PRIVATE KEY' (convert it with `openssl pkcs8 -topk8 -nocrypt`)"
                )));
            }
            Zeroizing::new(der)
        } else {
            Zeroizing::new(bytes.to_vec())
        };
        let private = PrivateDecryptingKey::from_pkcs8(&der).map_err(|_| {
            CpixError::RecipientKey("not an unencrypted PKCS#8 RSA private key".into())
        })?;
        let spki = private
            .public_key()
            .as_der()
            .map_err(|_| CpixError::RecipientKey("its public key cannot be encoded".into()))?
            .as_ref()
            .to_vec();
        let key = OaepPrivateDecryptingKey::new(private)
            .map_err(|_| CpixError::RecipientKey("the key cannot do RSA-OAEP".into()))?;
        Ok(RecipientKey { key, spki })
    }

    /// The secret wrapped in `ciphertext` (RSA-OAEP, SHA-1, MGF1-SHA-1).
    pub(crate) fn unwrap(
        &self,
        element: &'static str,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CpixError> {
        let mut out = Zeroizing::new(vec![0u8; self.key.min_output_size()]);
        let n = self
            .key
            .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
            .map_err(|_| CpixError::Invalid {
                element: element.into(),
                reason: "cannot be decrypted with the recipient key".into(),
            })?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

/// `n` random bytes from the OS CSPRNG.
pub(crate) fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, CpixError> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::fill(b.as_mut()).map_err(|_| CpixError::Crypto("no random bytes"))?;
    Ok(b)
}

/// AES-256-CBC with PKCS#7 under `key`, a random IV: IV || ciphertext.
pub(crate) fn encrypt_value(key: &[u8; 32], plain: &[u8]) -> Result<Vec<u8>, CpixError> {
    let iv = random::<16>()?;
    let k = UnboundCipherKey::new(&AES_256, key)
        .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
        .map_err(|_| CpixError::Crypto("AES-256-CBC key"))?;
    let mut buf = plain.to_vec();
    k.less_safe_encrypt(&mut buf, EncryptionContext::Iv128(FixedLength::from(*iv)))
        .map_err(|_| CpixError::Crypto("AES-256-CBC encryption failed"))?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&buf);
    Ok(out)
}

/// The plaintext of IV || ciphertext under `key` (AES-256-CBC, PKCS#7).
pub(crate) fn decrypt_value(
    element: &str,
    key: &[u8],
    cipher_value: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CpixError> {
    let invalid = |reason: &str| CpixError::Invalid {
        element: element.into(),
        reason: reason.into(),
    };
    if cipher_value.len() < 32 || !cipher_value.len().is_multiple_of(16) {
        return Err(invalid("is not an IV and whole AES blocks"));
    }
    let (iv, ct) = cipher_value.split_at(16);
    let iv: [u8; 16] = iv.try_into().map_err(|_| invalid("IV"))?;
    let k = UnboundCipherKey::new(&AES_256, key)
        .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
        .map_err(|_| invalid("the document key is not a 256-bit AES key"))?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let n = k
        .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| invalid("does not decrypt (bad padding)"))?
        .len();
    buf.truncate(n);
    Ok(buf)
}

pub(crate) fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, key), data)
        .as_ref()
        .to_vec()
}

/// Constant-time check of an HMAC-SHA512 tag.
pub(crate) fn mac_ok(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA512, key), data, tag).is_ok()
}
