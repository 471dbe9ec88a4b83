//! Content keys: a key ID (KID) and its 16-byte AES-128 value.
//!
//! The KID is a UUID, written in the canonical big-endian byte order that
//! ISO/IEC 23001-7 (Common Encryption) uses in `tenc`/`pssh` and DASH
//! `cenc:default_KID` (the UUID's 16 bytes in string order). `CommonEncryption`
//! keys serve the `cenc` and `cbcs` schemes, `EnvelopeEncryption` keys serve
//! HLS AES-128 (RFC 8216 §4.3.2.4, METHOD=AES-128).
//!
//! The value is kept out of [`ContentKey`] on purpose, so that serialising a
//! content key for a list or a log can never leak it: a caller that needs it
//! asks for a [`ContentKeyWithValue`].

use super::rfc3339_opt;
use super::secret::{B64, decode_b64};
use super::validate::{
    Problem, Validate, ValidationError, validate_name, validate_opt_name, validate_opt_text,
};
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Which encryption a content key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContentKeyType {
    /// ISO/IEC 23001-7 `cenc` or `cbcs` (DASH and HLS fMP4, DRM systems, Clear Key).
    CommonEncryption,
    /// HLS AES-128 whole-segment encryption.
    EnvelopeEncryption,
}

impl ContentKeyType {
    /// The name as written in JSON and in the store's `key_type` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKeyType::CommonEncryption => "CommonEncryption",
            ContentKeyType::EnvelopeEncryption => "EnvelopeEncryption",
        }
    }
}

/// A 16-byte AES-128 content key value. `Debug` is redacted; the bytes are
/// zeroed on drop; equality is constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ContentKeyValue([u8; 16]);

impl ContentKeyValue {
    pub const LEN: usize = 16;

    pub fn new(bytes: [u8; 16]) -> Self {
        ContentKeyValue(bytes)
    }

    /// A fresh random key from the operating system's CSPRNG.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b)?;
        Ok(ContentKeyValue(b))
    }

    /// From a slice that must be exactly 16 bytes. The error names `field`
    /// and the length, never the bytes.
    pub fn from_slice(field: &str, bytes: &[u8]) -> Result<Self, ValidationError> {
        <[u8; 16]>::try_from(bytes)
            .map(ContentKeyValue)
            .map_err(|_| {
                ValidationError::new(
                    field,
                    Problem::Length {
                        expected: "16 bytes",
                        actual: bytes.len(),
                    },
                )
            })
    }

    /// The key itself: call only where it is used (encryption, key delivery,
    /// wrapping for storage).
    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }
}

impl PartialEq for ContentKeyValue {
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}
impl Eq for ContentKeyValue {}

impl fmt::Debug for ContentKeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContentKeyValue(<redacted>)")
    }
}

/// Base64 (standard alphabet), as the v3 `StreamingLocatorContentKey.value`.
impl Serialize for ContentKeyValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut encoded = B64.encode(self.0);
        let r = s.serialize_str(&encoded);
        encoded.zeroize();
        r
    }
}

impl<'de> Deserialize<'de> for ContentKeyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = String::deserialize(d)?;
        let decoded = decode_b64::<D::Error>(&s);
        s.zeroize();
        let mut bytes = decoded?;
        let r = <[u8; 16]>::try_from(bytes.as_slice())
            .map(ContentKeyValue)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "a content key value must be 16 bytes, got {}",
                    bytes.len()
                ))
            });
        bytes.zeroize();
        r
    }
}

/// A content key as listed and shown: everything but the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentKey {
    pub name: String,
    /// The KID.
    pub key_id: Uuid,
    #[serde(rename = "type")]
    pub key_type: ContentKeyType,
    /// Matches `labelReferenceInStreamingPolicy` / a streaming policy's
    /// `defaultKey.label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The content key policy that authorises delivery of this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub created: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub last_modified: Option<OffsetDateTime>,
}

/// A content key together with its value. Only for callers that need the key
/// (the store, the packager, key delivery) or an explicit "show value" request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentKeyWithValue {
    #[serde(flatten)]
    pub key: ContentKey,
    pub value: ContentKeyValue,
}

/// A create request: `keyId` and `value` may be left out, then they are
/// generated (random UUID v4, random 16 bytes).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentKeyInput {
    pub name: String,
    #[serde(default)]
    pub key_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub key_type: ContentKeyType,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub policy_name: Option<String>,
    #[serde(default)]
    pub value: Option<ContentKeyValue>,
}

impl ContentKeyInput {
    /// Fills in what was left out and validates the result.
    pub fn into_content_key(self) -> Result<ContentKeyWithValue, ValidationError> {
        let value = match self.value {
            Some(v) => v,
            None => ContentKeyValue::random().map_err(|_| {
                ValidationError::new(
                    "value",
                    Problem::Invalid("no random key could be generated"),
                )
            })?,
        };
        let k = ContentKeyWithValue {
            key: ContentKey {
                name: self.name,
                key_id: self.key_id.unwrap_or_else(Uuid::new_v4),
                key_type: self.key_type,
                label: self.label,
                policy_name: self.policy_name,
                created: None,
                last_modified: None,
            },
            value,
        };
        k.validate()?;
        Ok(k)
    }
}

impl Validate for ContentKey {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_name("name", &self.name)?;
        if self.key_id.is_nil() {
            return Err(ValidationError::new(
                "keyId",
                Problem::Invalid("must not be the nil UUID"),
            ));
        }
        validate_opt_text("label", self.label.as_deref(), 260)?;
        validate_opt_name("policyName", self.policy_name.as_deref())
    }
}

impl Validate for ContentKeyWithValue {
    fn validate(&self) -> Result<(), ValidationError> {
        self.key.validate()?;
        if self.value.expose().iter().all(|&b| b == 0) {
            return Err(ValidationError::new(
                "value",
                Problem::Invalid("must not be all zero bytes"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{from_json, parse_valid};

    const KID: &str = "10000000-1000-1000-1000-100000000000";

    #[test]
    fn content_key_json_never_has_a_value() {
        let k = ContentKeyWithValue {
            key: ContentKey {
                name: "k1".into(),
                key_id: KID.parse().unwrap(),
                key_type: ContentKeyType::CommonEncryption,
                label: Some("cencDefaultKey".into()),
                policy_name: Some("PolicyWithMultipleOptions".into()),
                created: None,
                last_modified: None,
            },
            value: ContentKeyValue::new(
                *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff",
            ),
        };
        let meta = serde_json::to_value(&k.key).unwrap();
        assert_eq!(
            meta,
            serde_json::json!({"name":"k1","keyId":KID,"type":"CommonEncryption","label":"cencDefaultKey","policyName":"PolicyWithMultipleOptions"})
        );
        let debug = format!("{k:?}");
        assert!(
            !debug.contains("0, 17, 34") && !debug.contains("00112233"),
            "{debug}"
        );
        // With value: only on request, base64.
        let with = serde_json::to_value(&k).unwrap();
        assert_eq!(with["value"], "ABEiM0RVZneImaq7zN3u/w==");
        let back: ContentKeyWithValue = serde_json::from_value(with).unwrap();
        assert_eq!(back, k);
    }

    #[test]
    fn value_must_be_16_bytes() {
        let json = format!(
            r#"{{"name":"k","keyId":"{KID}","type":"EnvelopeEncryption","value":"ABEiM0RVZneImaq7zN3u"}}"#
        );
        let e = from_json::<ContentKeyWithValue>(&json).unwrap_err();
        assert!(e.message.contains("16 bytes, got 15"), "{e}");
        assert!(ContentKeyValue::from_slice("value", &[1; 17]).is_err());
    }

    #[test]
    fn unknown_type_and_bad_uuid_rejected() {
        let e =
            from_json::<ContentKey>(&format!(r#"{{"name":"k","keyId":"{KID}","type":"Rot13"}}"#))
                .unwrap_err();
        assert_eq!(e.path, "type");
        let e = from_json::<ContentKey>(
            r#"{"name":"k","keyId":"not-a-uuid","type":"CommonEncryption"}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "keyId");
    }

    #[test]
    fn input_generates_missing_parts() {
        let a: ContentKeyInput =
            from_json(r#"{"name":"gen","type":"EnvelopeEncryption"}"#).unwrap();
        let b: ContentKeyInput =
            from_json(r#"{"name":"gen","type":"EnvelopeEncryption"}"#).unwrap();
        let (a, b) = (a.into_content_key().unwrap(), b.into_content_key().unwrap());
        assert_ne!(a.key.key_id, b.key.key_id);
        assert_ne!(a.value, b.value);
        assert_eq!(a.key.key_id.get_version_num(), 4);
    }

    #[test]
    fn validation_names_fields() {
        let zero = format!(
            r#"{{"name":"k","keyId":"{KID}","type":"CommonEncryption","value":"AAAAAAAAAAAAAAAAAAAAAA=="}}"#
        );
        match parse_valid::<ContentKeyWithValue>(&zero) {
            Err(crate::model::ModelError::Invalid(e)) => assert_eq!(e.field, "value"),
            other => panic!("{other:?}"),
        }
        let nil = r#"{"name":"k","keyId":"00000000-0000-0000-0000-000000000000","type":"CommonEncryption"}"#;
        assert_eq!(
            from_json::<ContentKey>(nil)
                .unwrap()
                .validate()
                .unwrap_err()
                .field,
            "keyId"
        );
        let bad_policy = format!(
            r#"{{"name":"k","keyId":"{KID}","type":"CommonEncryption","policyName":"a b"}}"#
        );
        assert_eq!(
            from_json::<ContentKey>(&bad_policy)
                .unwrap()
                .validate()
                .unwrap_err()
                .field,
            "policyName"
        );
    }
}
