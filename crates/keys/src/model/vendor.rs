//! The vendor license service behind a DRM option (issue 20).
//!
//! castguard decides who gets a license; a vendor's license server (Axinom
//! DRM, castLabs DRMtoday, PallyCon/DoveRunner, or any other) builds it,
//! because only the vendor holds the DRM credentials. Every vendor wants to
//! be told, in a message signed with a secret shared with the operator,
//! which keys and which rights the license may carry. `vendor` beside
//! `licenseServerUrl` on a Widevine, PlayReady or FairPlay configuration
//! says which vendor and holds that secret; the message itself is built per
//! request by [`crate::entitlement`] from the option's license template.
//!
//! Secrets (`communicationKey`, `sharedSecret`, `siteKey`, `accessKey`,
//! `secret`) are [`SecretBytes`]/[`SecretString`]: stored with the policy
//! (sealed), redacted in `Debug`, blanked in every response.

use super::secret::{SecretBytes, SecretString};
use super::validate::{Problem, ValidationError, validate_text};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Length of an Axinom communication key (256-bit HMAC key).
pub const AXINOM_COMMUNICATION_KEY_LEN: usize = 32;
/// Shortest shared secret accepted for HMAC-signed messages (DRMtoday,
/// the generic JWT): 128 bits.
pub const MIN_SHARED_SECRET_LEN: usize = 16;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LicenseVendor {
    #[serde(rename = "axinom")]
    Axinom(AxinomVendor),
    #[serde(rename = "drmtoday")]
    DrmToday(DrmTodayVendor),
    #[serde(rename = "pallycon")]
    PallyCon(PallyConVendor),
    #[serde(rename = "generic")]
    Generic(GenericVendor),
}

/// Axinom DRM: a License Service Message (JWT, HS256 with the
/// communication key) carrying an Entitlement Message v2, in the
/// `X-AxDRM-Message` header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AxinomVendor {
    /// The communication key's id from the Axinom portal.
    pub communication_key_id: Uuid,
    /// The communication key (base64, 32 bytes).
    pub communication_key: SecretBytes,
    /// Send the granted content keys inside the message, encrypted with
    /// the communication key, so that Axinom never stores them (else Axinom
    /// must already hold them under their key ids).
    #[serde(default)]
    pub include_keys: bool,
}

/// castLabs DRMtoday: the upfront authorization token (JWT with a Custom
/// Rights Token) in the `x-dt-auth-token` header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrmTodayVendor {
    /// The merchant name from the DRMtoday dashboard.
    pub merchant: String,
    /// The upfront-authorization shared secret as the dashboard shows it:
    /// hex (its bytes are the HMAC key).
    pub shared_secret: SecretString,
    /// The JWT `kid` DRMtoday shows beside the shared secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// DRMtoday's asset id; without it the token names key ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
}

/// PallyCon / DoveRunner: the license token (policy encrypted with the site
/// key, hashed with the access key) in `pallycon-customdata-v2`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PallyConVendor {
    /// Site id (4 characters).
    pub site_id: String,
    /// Site key (32 characters, the AES-256 key of the policy).
    pub site_key: SecretString,
    /// Access key (32 characters, hashed into the token).
    pub access_key: SecretString,
    /// The content id (`cid`) registered with PallyCon; the requested key
    /// id (32 hex digits) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Send the granted content keys in the token's encrypted policy
    /// (`external_key.mpeg_cenc`), so that PallyCon needs no copy of them
    /// (else its key store must hold them under `cid`).
    #[serde(default)]
    pub include_keys: bool,
}

/// Any other vendor: a JSON template with placeholders, sent as JSON, base64
/// JSON, or a JWT signed with `secret`, in `header`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenericVendor {
    pub header: String,
    pub format: GenericFormat,
    /// A JSON object; string values `{{keyIds}}`, `{{keyId}}`, `{{sub}}`,
    /// `{{persistent}}`, `{{licenseDurationSeconds}}`, `{{expiresAt}}`,
    /// `{{expiresAtUnix}}`, `{{now}}`, `{{nowUnix}}` are replaced (see
    /// `entitlement::generic`).
    pub template: serde_json::Value,
    /// HMAC-SHA256 key of the `jwt` format (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretBytes>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GenericFormat {
    /// The filled template as compact JSON.
    Json,
    /// Standard base64 of the compact JSON.
    JsonBase64,
    /// A JWT (HS256 with `secret`) whose claims are the filled template.
    Jwt,
}

impl LicenseVendor {
    /// The vendor's name in logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            LicenseVendor::Axinom(_) => "axinom",
            LicenseVendor::DrmToday(_) => "drmtoday",
            LicenseVendor::PallyCon(_) => "pallycon",
            LicenseVendor::Generic(_) => "generic",
        }
    }

    /// Blanks every secret (responses).
    pub fn blank_secrets(&mut self) {
        match self {
            LicenseVendor::Axinom(v) => v.communication_key = SecretBytes::default(),
            LicenseVendor::DrmToday(v) => v.shared_secret = SecretString::default(),
            LicenseVendor::PallyCon(v) => {
                v.site_key = SecretString::default();
                v.access_key = SecretString::default();
            }
            LicenseVendor::Generic(v) => {
                if let Some(s) = &mut v.secret {
                    *s = SecretBytes::default();
                }
            }
        }
    }

    /// Checks the settings; field names are relative to `vendor`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            LicenseVendor::Axinom(AxinomVendor {
                communication_key_id,
                communication_key,
                ..
            }) => {
                if communication_key_id.is_nil() {
                    return Err(ValidationError::new(
                        "communicationKeyId",
                        Problem::Invalid("must not be the nil UUID"),
                    ));
                }
                if communication_key.len() != AXINOM_COMMUNICATION_KEY_LEN {
                    return Err(ValidationError::new(
                        "communicationKey",
                        Problem::Length {
                            expected: "32 bytes (base64)",
                            actual: communication_key.len(),
                        },
                    ));
                }
                Ok(())
            }
            LicenseVendor::DrmToday(DrmTodayVendor {
                merchant,
                shared_secret,
                key_id,
                asset_id,
            }) => {
                validate_token_text("merchant", merchant, 128)?;
                let hex = shared_secret.expose();
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) || hex.len() % 2 != 0 {
                    return Err(ValidationError::new(
                        "sharedSecret",
                        Problem::InvalidCharacters {
                            allowed: "hex digits, two per byte",
                        },
                    ));
                }
                if hex.len() < 2 * MIN_SHARED_SECRET_LEN || hex.len() > 1024 {
                    return Err(ValidationError::new(
                        "sharedSecret",
                        Problem::Length {
                            expected: "16 to 512 bytes (32 to 1024 hex digits)",
                            actual: hex.len() / 2,
                        },
                    ));
                }
                if let Some(k) = key_id {
                    validate_token_text("keyId", k, 128)?;
                }
                if let Some(a) = asset_id {
                    validate_token_text("assetId", a, 256)?;
                }
                Ok(())
            }
            LicenseVendor::PallyCon(PallyConVendor {
                site_id,
                site_key,
                access_key,
                content_id,
                ..
            }) => {
                if site_id.len() != 4 || !site_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(ValidationError::new(
                        "siteId",
                        Problem::Invalid("must be 4 letters or digits"),
                    ));
                }
                for (field, v) in [("siteKey", site_key), ("accessKey", access_key)] {
                    let v = v.expose();
                    if v.len() != 32 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                        return Err(ValidationError::new(
                            field,
                            Problem::Length {
                                expected: "32 printable ASCII characters",
                                actual: v.len(),
                            },
                        ));
                    }
                }
                if let Some(c) = content_id {
                    validate_token_text("contentId", c, 200)?;
                }
                Ok(())
            }
            LicenseVendor::Generic(GenericVendor {
                header,
                format,
                template,
                secret,
            }) => {
                let token = !header.is_empty()
                    && header.len() <= 128
                    && header
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    return Err(ValidationError::new(
                        "header",
                        Problem::InvalidCharacters {
                            allowed: "RFC 9110 token characters in a header name",
                        },
                    ));
                }
                if !template.is_object() {
                    return Err(ValidationError::new(
                        "template",
                        Problem::Invalid("must be a JSON object"),
                    ));
                }
                if serde_json::to_vec(template).map_or(usize::MAX, |v| v.len()) > 8192 {
                    return Err(ValidationError::new("template", Problem::TooLong { max: 8192 }));
                }
                match (format, secret) {
                    (GenericFormat::Jwt, None) => {
                        Err(ValidationError::new("secret", Problem::Required))
                    }
                    (GenericFormat::Jwt, Some(s))
                        if s.len() < MIN_SHARED_SECRET_LEN || s.len() > 512 =>
                    {
                        Err(ValidationError::new(
                            "secret",
                            Problem::Length {
                                expected: "16 to 512 bytes (base64)",
                                actual: s.len(),
                            },
                        ))
                    }
                    (GenericFormat::Json | GenericFormat::JsonBase64, Some(_)) => {
                        Err(ValidationError::new(
                            "secret",
                            Problem::Invalid("is used by the jwt format only"),
                        ))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Text that goes into a vendor message: printable ASCII, bounded.
fn validate_token_text(field: &str, v: &str, max: usize) -> Result<(), ValidationError> {
    validate_text(field, v, max)?;
    if !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationError::new(
            field,
            Problem::InvalidCharacters {
                allowed: "printable ASCII without spaces",
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<LicenseVendor, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn axinom_parses_and_checks_its_key() {
        let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
        let v = parse(serde_json::json!({
            "type": "axinom",
            "communicationKeyId": "3a7e2ef5-2c08-4f6f-9d2d-111111111111",
            "communicationKey": key,
            "includeKeys": true
        }))
        .unwrap();
        v.validate().unwrap();
        assert_eq!(v.name(), "axinom");
        assert!(!format!("{v:?}").contains(key));
        let short = parse(serde_json::json!({
            "type": "axinom",
            "communicationKeyId": "3a7e2ef5-2c08-4f6f-9d2d-111111111111",
            "communicationKey": "AAAA"
        }))
        .unwrap();
        assert_eq!(short.validate().unwrap_err().field, "communicationKey");
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        let e = parse(serde_json::json!({"type": "axinom", "communicationKeyId":
            "3a7e2ef5-2c08-4f6f-9d2d-111111111111", "communicationKey": "AAAA", "comKey": 1}))
        .unwrap_err();
        assert!(e.to_string().contains("comKey"), "{e}");
        assert!(parse(serde_json::json!({"type": "widevine-cloud"})).is_err());
    }

    #[test]
    fn pallycon_lengths() {
        let ok = serde_json::json!({"type": "pallycon", "siteId": "DEMO",
            "siteKey": "0123456789abcdef0123456789abcdef", "accessKey": "fedcba9876543210fedcba9876543210"});
        parse(ok.clone()).unwrap().validate().unwrap();
        let mut bad = ok;
        bad["siteKey"] = "short".into();
        assert_eq!(parse(bad).unwrap().validate().unwrap_err().field, "siteKey");
    }

    #[test]
    fn generic_jwt_needs_a_secret() {
        let v = parse(serde_json::json!({"type": "generic", "header": "X-Entitlement",
            "format": "jwt", "template": {"kids": "{{keyIds}}"}}))
        .unwrap();
        assert_eq!(v.validate().unwrap_err().field, "secret");
        let v = parse(serde_json::json!({"type": "generic", "header": "X Bad",
            "format": "json", "template": {}}))
        .unwrap();
        assert_eq!(v.validate().unwrap_err().field, "header");
    }

    #[test]
    fn secrets_blank() {
        let mut v = parse(serde_json::json!({"type": "drmtoday", "merchant": "acme",
            "sharedSecret": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}))
        .unwrap();
        v.validate().unwrap();
        v.blank_secrets();
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["sharedSecret"], "");
    }
}
