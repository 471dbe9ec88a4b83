//! Secret values inside policies: token verification keys, FairPlay
//! credentials, upstream license-server headers.
//!
//! They must reach the JSON of a stored policy (the key delivery service needs
//! them), but never a log line: `Debug` prints `<redacted>`, memory is zeroed on
//! drop, and base64 decoding errors do not echo the input.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Standard base64 (RFC 4648 §4), as the v3 model writes `bytes`; padding
/// optional on input.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 without putting the input into the error message.
pub(crate) fn decode_b64<E: serde::de::Error>(s: &str) -> Result<Vec<u8>, E> {
    B64.decode(s.as_bytes())
        .map_err(|_| E::custom(format!("not valid base64 ({} characters)", s.len())))
}

/// Plain (non-secret) bytes serialised as base64: RSA modulus, certificates.
pub(crate) mod b64_bytes {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode_b64(&s)
    }
}

/// Secret bytes (an HMAC key, a FairPlay ASK), base64 in JSON.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
    /// The secret itself: call only where it is used.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut encoded = B64.encode(&self.0);
        let r = s.serialize_str(&encoded);
        encoded.zeroize();
        r
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = String::deserialize(d)?;
        let r = decode_b64(&s).map(SecretBytes);
        s.zeroize();
        r
    }
}

/// A secret string (a PFX password, an upstream API key header value).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: String) -> Self {
        SecretString(s)
    }
    /// The secret itself: call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_json_is_base64() {
        let s = SecretBytes::new(b"hmac-key-0123456789".to_vec());
        assert_eq!(format!("{s:?}"), "SecretBytes(<redacted>)");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"aG1hYy1rZXktMDEyMzQ1Njc4OQ==\"");
        let back: SecretBytes = serde_json::from_str("\"aG1hYy1rZXktMDEyMzQ1Njc4OQ\"").unwrap();
        assert_eq!(back, s);
        let p = SecretString::new("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn bad_base64_error_does_not_echo_input() {
        let err = serde_json::from_str::<SecretBytes>("\"sup3r-s3cret!!\"").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
