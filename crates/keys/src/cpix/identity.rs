//! castguard's own CPIX recipient identity: an RSA key pair and a
//! self-signed X.509 certificate for it, so a vendor can encrypt a CPIX
//! document for castguard (CPIX §4.4: the document key is wrapped for the
//! recipient's certificate) and the server can import it as it is.
//!
//! The certificate is built here (DER through `x509-cert`, signed
//! SHA256withRSA through aws-lc-rs) rather than with a certificate crate:
//! it needs nothing but a subject, a validity and the key, and it is only
//! a carrier for the public key (the sender pins it; nobody chains to it).
//! What is stored ([`RecipientIdentity::to_stored`]) holds the private
//! key: the server keeps it only sealed (`Store::put_secret`).

use super::CpixError;
use super::crypto::{Recipient, RecipientKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use std::str::FromStr;
use x509_cert::der::asn1::BitString;
use x509_cert::der::{Decode, Encode, EncodePem, pem::LineEnding};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;
use x509_cert::{Certificate, TbsCertificate, Version};
use zeroize::Zeroizing;

/// sha256WithRSAEncryption (RFC 4055).
const SHA256_WITH_RSA: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// How long the certificate is valid: senders that check validity keep
/// encrypting for it; a new identity is a new certificate to hand out.
const VALIDITY_DAYS: u64 = 20 * 365;

/// The key pair and its certificate.
pub struct RecipientIdentity {
    pkcs8: Zeroizing<Vec<u8>>,
    certificate_der: Vec<u8>,
    key: RecipientKey,
}

impl std::fmt::Debug for RecipientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecipientIdentity(<redacted>)")
    }
}

fn failed(what: &str) -> CpixError {
    CpixError::RecipientKey(format!("cannot make the recipient identity: {what}"))
}

impl RecipientIdentity {
    /// A new RSA-3072 key pair and a self-signed certificate for `subject`
    /// (an RFC 4514 name such as `CN=castguard CPIX recipient`).
    pub fn generate(subject: &str) -> Result<RecipientIdentity, CpixError> {
        let pair = KeyPair::generate(KeySize::Rsa3072).map_err(|_| failed("RSA key generation"))?;
        let pkcs8 = Zeroizing::new(
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                .map_err(|_| failed("PKCS#8 encoding"))?
                .as_ref()
                .to_vec(),
        );
        let spki_der = pair
            .public_key()
            .as_der()
            .map_err(|_| failed("public key encoding"))?;
        let spki = SubjectPublicKeyInfoOwned::from_der(spki_der.as_ref())
            .map_err(|_| failed("public key encoding"))?;
        let name = Name::from_str(subject).map_err(|e| failed(&format!("subject: {e}")))?;
        let serial = super::crypto::random::<16>()?;
        let mut serial = *serial;
        serial[0] &= 0x7f; // a positive INTEGER
        serial[0] |= 0x01; // and not a shorter one
        let algorithm = AlgorithmIdentifierOwned {
            oid: SHA256_WITH_RSA,
            parameters: Some(x509_cert::der::asn1::Null.into()),
        };
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&serial).map_err(|_| failed("serial"))?,
            signature: algorithm.clone(),
            issuer: name.clone(),
            validity: Validity::from_now(std::time::Duration::from_secs(VALIDITY_DAYS * 86_400))
                .map_err(|_| failed("validity"))?,
            subject: name,
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: None,
        };
        let tbs_der = tbs.to_der().map_err(|_| failed("certificate encoding"))?;
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &tbs_der, &mut sig)
            .map_err(|_| failed("certificate signature"))?;
        let cert = Certificate {
            tbs_certificate: tbs,
            signature_algorithm: algorithm,
            signature: BitString::from_bytes(&sig).map_err(|_| failed("signature encoding"))?,
        };
        let certificate_der = cert.to_der().map_err(|_| failed("certificate encoding"))?;
        let key = RecipientKey::from_pkcs8(&pkcs8)?;
        Ok(RecipientIdentity {
            pkcs8,
            certificate_der,
            key,
        })
    }

    /// What to store (sealed): the PKCS#8 private key and the certificate,
    /// as JSON with base64 values.
    pub fn to_stored(&self) -> Zeroizing<Vec<u8>> {
        let b = base64::engine::general_purpose::STANDARD;
        Zeroizing::new(
            serde_json::json!({
                "pkcs8": b.encode(self.pkcs8.as_slice()),
                "certificate": b.encode(&self.certificate_der),
            })
            .to_string()
            .into_bytes(),
        )
    }

    /// Reads what [`RecipientIdentity::to_stored`] wrote.
    pub fn from_stored(bytes: &[u8]) -> Result<RecipientIdentity, CpixError> {
        let bad = || CpixError::RecipientKey("the stored recipient identity is unreadable".into());
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| bad())?;
        let b = base64::engine::general_purpose::STANDARD;
        let field = |k: &str| -> Result<Vec<u8>, CpixError> {
            v[k].as_str().and_then(|s| b.decode(s).ok()).ok_or_else(bad)
        };
        let pkcs8 = Zeroizing::new(field("pkcs8")?);
        let certificate_der = field("certificate")?;
        let key = RecipientKey::from_pkcs8(&pkcs8)?;
        // The certificate must carry this key.
        if Recipient::spki_of(&certificate_der).as_deref() != Some(key.spki.as_slice()) {
            return Err(bad());
        }
        Ok(RecipientIdentity {
            pkcs8,
            certificate_der,
            key,
        })
    }

    /// The private key, to read documents encrypted for this identity.
    pub fn key(&self) -> &RecipientKey {
        &self.key
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn certificate_pem(&self) -> Result<String, CpixError> {
        Certificate::from_der(&self.certificate_der)
            .and_then(|c| c.to_pem(LineEnding::LF))
            .map_err(|_| failed("PEM encoding"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpix::{ContentKeyEntry, Document};
    use crate::model::ContentKeyValue;

    #[test]
    fn generated_identity_round_trips_and_decrypts_what_is_encrypted_for_it() {
        let id = RecipientIdentity::generate("CN=castguard CPIX recipient").unwrap();
        let pem = id.certificate_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        // The certificate is usable as a recipient (RSA >= 2048).
        let recipient = Recipient::from_certificate(pem.as_bytes()).unwrap();
        let doc = Document {
            content_keys: vec![ContentKeyEntry {
                kid: uuid::Uuid::from_u128(7),
                value: Some(ContentKeyValue::from_slice("t", &[9u8; 16]).unwrap()),
                common_encryption_scheme: None,
                explicit_iv: None,
            }],
            ..Document::default()
        };
        let xml = doc.to_xml(Some(&recipient)).unwrap();
        let stored = id.to_stored();
        let again = RecipientIdentity::from_stored(&stored).unwrap();
        assert_eq!(again.certificate_der(), id.certificate_der());
        let read = Document::parse(xml.as_bytes(), Some(again.key())).unwrap();
        assert_eq!(read, doc);
        assert!(RecipientIdentity::from_stored(b"{}").is_err());
        // Its Debug shows nothing of the key.
        assert_eq!(format!("{again:?}"), "RecipientIdentity(<redacted>)");
    }
}
