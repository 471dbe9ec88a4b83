//! The Widevine license template (`widevineTemplate`, a JSON document in a
//! string, v3's `ContentKeyPolicyWidevineConfiguration`).
//!
//! The cloud service took the template of Google's Widevine proxy
//! (`allowed_track_types`, `content_key_specs[]`, `policy_overrides`) and
//! forwarded it; castguard reads it so that a vendor message can carry its
//! rights (persistence, durations, security level, HDCP). Every field is
//! typed and an unknown one is refused by its path: a right that is
//! misspelt would otherwise be granted by default.

use super::validate::{Problem, ValidationError};
use serde::{Deserialize, Serialize};

/// Longest template accepted.
pub const MAX_WIDEVINE_TEMPLATE_LEN: usize = 16 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidevineTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_track_types: Option<WidevineAllowedTrackTypes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_key_specs: Vec<WidevineContentKeySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_overrides: Option<WidevinePolicyOverrides>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WidevineAllowedTrackTypes {
    #[serde(rename = "SD_ONLY")]
    SdOnly,
    #[serde(rename = "SD_HD")]
    SdHd,
    #[serde(rename = "SD_UHD1")]
    SdUhd1,
    #[serde(rename = "SD_UHD2")]
    SdUhd2,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidevineContentKeySpec {
    /// `SD`, `HD`, `UHD1`, `UHD2` or `AUDIO`.
    pub track_type: WidevineTrackType,
    /// Base64 key id (the spec applies to that key only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// 1 (`SW_SECURE_CRYPTO`) to 5 (`HW_SECURE_ALL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_level: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_output_protection: Option<WidevineOutputProtection>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WidevineTrackType {
    Sd,
    Hd,
    Uhd1,
    Uhd2,
    Audio,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidevineOutputProtection {
    pub hdcp: Hdcp,
}

/// HDCP a license requires on digital outputs (Widevine's names; the other
/// DRM systems' levels are mapped onto these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Hdcp {
    #[serde(rename = "HDCP_NONE")]
    None,
    #[serde(rename = "HDCP_V1")]
    V1,
    #[serde(rename = "HDCP_V2")]
    V2,
    #[serde(rename = "HDCP_V2_1")]
    V2_1,
    #[serde(rename = "HDCP_V2_2")]
    V2_2,
    #[serde(rename = "HDCP_V2_3")]
    V2_3,
    #[serde(rename = "HDCP_NO_DIGITAL_OUTPUT")]
    NoDigitalOutput,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidevinePolicyOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_play: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_persist: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_renew: Option<bool>,
    /// How long the license may be used from its start, 0 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_duration_seconds: Option<u64>,
    /// How long a persisted license may wait before its first play.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rental_duration_seconds: Option<u64>,
    /// How long playback may go on once it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playback_duration_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_recovery_duration_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_server_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_delay_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_retry_interval_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_with_usage: Option<bool>,
}

/// Longest duration accepted in a template (a 100-year license is
/// "unlimited" already): keeps every time sum in range.
const MAX_SECONDS: u64 = 100 * 366 * 86_400;

impl WidevineTemplate {
    /// Parses and checks `widevineTemplate`; errors name the field inside
    /// the template (`widevineTemplate.policy_overrides.can_persist`).
    pub fn parse(text: &str) -> Result<WidevineTemplate, ValidationError> {
        if text.len() > MAX_WIDEVINE_TEMPLATE_LEN {
            return Err(ValidationError::new(
                "widevineTemplate",
                Problem::TooLong {
                    max: MAX_WIDEVINE_TEMPLATE_LEN,
                },
            ));
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        let t: WidevineTemplate = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = if path == "." || path == "?" || path.is_empty() || inner.is_syntax() || inner.is_eof() {
                "widevineTemplate".to_owned()
            } else {
                format!("widevineTemplate.{path}")
            };
            // The path names the field (an unknown one included); the
            // message says what is wrong with it, briefly.
            let why = if inner.is_syntax() || inner.is_eof() {
                "is not valid JSON"
            } else if inner.to_string().starts_with("unknown field") {
                "unknown field: not a Widevine license template right"
            } else {
                "has the wrong type or an unknown value"
            };
            ValidationError::new(field, Problem::Invalid(why))
        })?;
        t.validate()?;
        Ok(t)
    }

    fn validate(&self) -> Result<(), ValidationError> {
        for (i, s) in self.content_key_specs.iter().enumerate() {
            if let Some(l) = s.security_level
                && !(1..=5).contains(&l)
            {
                return Err(ValidationError::new(
                    format!("widevineTemplate.content_key_specs[{i}].security_level"),
                    Problem::OutOfRange { min: 1, max: 5 },
                ));
            }
        }
        if self.content_key_specs.len() > 16 {
            return Err(ValidationError::new(
                "widevineTemplate.content_key_specs",
                Problem::TooMany { max: 16 },
            ));
        }
        if let Some(p) = &self.policy_overrides {
            for (field, v) in [
                ("license_duration_seconds", p.license_duration_seconds),
                ("rental_duration_seconds", p.rental_duration_seconds),
                ("playback_duration_seconds", p.playback_duration_seconds),
                (
                    "renewal_recovery_duration_seconds",
                    p.renewal_recovery_duration_seconds,
                ),
                ("renewal_delay_seconds", p.renewal_delay_seconds),
                (
                    "renewal_retry_interval_seconds",
                    p.renewal_retry_interval_seconds,
                ),
            ] {
                if v.is_some_and(|v| v > MAX_SECONDS) {
                    return Err(ValidationError::new(
                        format!("widevineTemplate.policy_overrides.{field}"),
                        Problem::OutOfRange {
                            min: 0,
                            max: MAX_SECONDS as i64,
                        },
                    ));
                }
            }
            if let Some(u) = &p.renewal_server_url {
                super::validate::validate_opt_url(
                    "widevineTemplate.policy_overrides.renewal_server_url",
                    Some(u),
                )?;
            }
        }
        Ok(())
    }

    /// The strictest security level and HDCP the key specs ask for.
    pub fn strictest(&self) -> (Option<u8>, Option<Hdcp>) {
        let level = self.content_key_specs.iter().filter_map(|s| s.security_level).max();
        let hdcp = self
            .content_key_specs
            .iter()
            .filter_map(|s| s.required_output_protection.as_ref().map(|p| p.hdcp))
            .max();
        (level, hdcp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_template_parses() {
        // The shape of the cloud service's documented Widevine template.
        let t = WidevineTemplate::parse(
            r#"{"allowed_track_types":"SD_HD","content_key_specs":[{"track_type":"SD",
            "security_level":1,"required_output_protection":{"hdcp":"HDCP_V2"}}],
            "policy_overrides":{"can_play":true,"can_persist":true,"can_renew":false,
            "rental_duration_seconds":2592000,"playback_duration_seconds":10800,
            "license_duration_seconds":604800}}"#,
        )
        .unwrap();
        let p = t.policy_overrides.as_ref().unwrap();
        assert_eq!(p.can_persist, Some(true));
        assert_eq!(p.license_duration_seconds, Some(604_800));
        assert_eq!(t.strictest(), (Some(1), Some(Hdcp::V2)));
    }

    #[test]
    fn an_unknown_right_is_named() {
        let e = WidevineTemplate::parse(r#"{"policy_overrides":{"can_persist":true,"can_fly":true}}"#)
            .unwrap_err();
        assert_eq!(e.field, "widevineTemplate.policy_overrides.can_fly", "{e:?}");
        let e = WidevineTemplate::parse(r#"{"content_key_specs":[{"track_type":"XL"}]}"#).unwrap_err();
        assert!(e.field.starts_with("widevineTemplate.content_key_specs[0]"), "{e:?}");
        let e = WidevineTemplate::parse("{not json").unwrap_err();
        assert_eq!(e.field, "widevineTemplate");
        let e = WidevineTemplate::parse(r#"{"content_key_specs":[{"track_type":"SD","security_level":9}]}"#)
            .unwrap_err();
        assert_eq!(e.field, "widevineTemplate.content_key_specs[0].security_level");
    }
}
