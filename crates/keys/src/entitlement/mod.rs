//! Entitlement messages for vendor license services (issue 20).
//!
//! When castguard's policy grants a license request, the challenge goes to
//! the option's `licenseServerUrl`. The vendor there cannot know what our
//! policy decided unless we tell it: every vendor takes a message, signed
//! with a secret it shares with the operator, saying which keys the
//! license may hold and with which rights. This module turns the grant
//! (the key, the token's subject) and the option's license template into
//! [`Rights`], and each vendor adapter (one module each, the
//! [`VendorAdapter`] trait) writes those rights in the vendor's own message:
//!
//! - [`axinom`]: License Service Message + Entitlement Message v2;
//! - [`drmtoday`]: upfront authorization token with a Custom Rights Token;
//! - [`pallycon`]: the PallyCon/DoveRunner license token;
//! - [`generic`]: a JSON template with placeholders, as JSON or a JWT.
//!
//! Rights come from the template of the DRM system the request is for:
//! PlayReady's first `licenses[]` entry, the Widevine template's
//! `policy_overrides`/`content_key_specs`, FairPlay's rental and lease
//! settings. Messages are short-lived: each is made for one request and
//! valid for [`MESSAGE_LIFETIME_SECS`].

pub mod axinom;
pub mod drmtoday;
pub mod generic;
pub mod pallycon;

use crate::model::{
    ContentKeyPolicyConfiguration, FairPlayRentalAndLeaseKeyType, Hdcp, LicenseVendor,
    PlayReadyLicenseType, PlayReadySecurityLevel, WidevineTemplate, iso8601_duration_secs,
};
use base64::Engine as _;
use time::OffsetDateTime;
use uuid::Uuid;

/// How long a vendor message is valid after it is made (it is used at
/// once; the margin covers clock skew with the vendor).
pub const MESSAGE_LIFETIME_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum EntitlementError {
    /// The stored template cannot be turned into rights (validation
    /// should have refused it).
    #[error("license template: {0}")]
    Template(String),
    /// The vendor settings cannot sign or encrypt (e.g. a blanked secret).
    #[error("vendor {vendor}: {why}")]
    Vendor { vendor: &'static str, why: String },
}

/// The DRM system a license request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drm {
    Widevine,
    PlayReady,
    FairPlay,
}

impl Drm {
    pub fn as_str(self) -> &'static str {
        match self {
            Drm::Widevine => "Widevine",
            Drm::PlayReady => "PlayReady",
            Drm::FairPlay => "FairPlay",
        }
    }
}

/// Device security a license requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityLevel {
    /// Widevine 1 (`SW_SECURE_CRYPTO`) to 5 (`HW_SECURE_ALL`).
    Widevine(u8),
    /// PlayReady 150, 2000 or 3000.
    PlayReady(u16),
}

/// What the license may do, from the option's template.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Rights {
    /// The device may store the license (offline playback).
    pub persistent: bool,
    /// The license is not usable before this.
    pub begin: Option<OffsetDateTime>,
    /// The license is not usable after this.
    pub expiration: Option<OffsetDateTime>,
    /// Seconds the license is valid from when it is issued (0: unlimited).
    pub license_duration_secs: Option<u64>,
    /// Seconds playback may last once it started.
    pub playback_duration_secs: Option<u64>,
    pub security_level: Option<SecurityLevel>,
    pub hdcp: Option<Hdcp>,
    /// PlayReady `allowTestDevices`.
    pub allow_test_devices: bool,
}

/// A key the policy granted.
#[derive(Clone)]
pub struct GrantedKey {
    pub kid: Uuid,
    pub value: [u8; 16],
}

impl std::fmt::Debug for GrantedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantedKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// One granted license request, as the vendor is told about it.
#[derive(Clone, Debug)]
pub struct Entitlement {
    pub drm: Drm,
    pub keys: Vec<GrantedKey>,
    /// The token's `sub` (the viewer), when the option is token-restricted.
    pub subject: Option<String>,
    pub rights: Rights,
    pub now: OffsetDateTime,
}

impl Entitlement {
    /// The moment the message stops being valid.
    pub fn message_expiry(&self) -> OffsetDateTime {
        self.now + time::Duration::seconds(MESSAGE_LIFETIME_SECS)
    }

    pub fn key_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.keys.iter().map(|k| k.kid)
    }
}

/// A header to add to the upstream license request.
#[derive(Clone, PartialEq, Eq)]
pub struct VendorHeader {
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for VendorHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorHeader").field("name", &self.name).finish_non_exhaustive()
    }
}

/// One vendor's message.
pub trait VendorAdapter {
    /// The vendor's name (logs, errors).
    const NAME: &'static str;
    /// The header carrying the message for `e`.
    fn header(&self, e: &Entitlement) -> Result<VendorHeader, EntitlementError>;
}

/// The header for `vendor` (dispatch over [`VendorAdapter`]s).
pub fn vendor_header(vendor: &LicenseVendor, e: &Entitlement) -> Result<VendorHeader, EntitlementError> {
    match vendor {
        LicenseVendor::Axinom(v) => v.header(e),
        LicenseVendor::DrmToday(v) => v.header(e),
        LicenseVendor::PallyCon(v) => v.header(e),
        LicenseVendor::Generic(v) => v.header(e),
    }
}

impl Rights {
    /// The rights the option's configuration grants at `now`.
    pub fn of(config: &ContentKeyPolicyConfiguration, now: OffsetDateTime) -> Result<Rights, EntitlementError> {
        match config {
            ContentKeyPolicyConfiguration::PlayReady(c) => {
                let Some(l) = c.licenses.first() else {
                    return Ok(Rights::default());
                };
                let after = |d: &Option<String>, field: &str| -> Result<Option<OffsetDateTime>, EntitlementError> {
                    d.as_deref()
                        .map(|d| {
                            iso8601_duration_secs(d)
                                .map(|s| now + time::Duration::seconds_f64(s))
                                .ok_or_else(|| EntitlementError::Template(format!("{field}: {d} has no fixed length")))
                        })
                        .transpose()
                };
                let begin = match l.begin_date {
                    Some(b) => Some(b),
                    None => after(&l.relative_begin_date, "relativeBeginDate")?,
                };
                let expiration = match l.expiration_date {
                    Some(e) => Some(e),
                    None => after(&l.relative_expiration_date, "relativeExpirationDate")?,
                };
                let play = l.play_right.as_ref();
                let playback_duration_secs = play
                    .and_then(|p| p.first_play_expiration.as_deref())
                    .map(|d| {
                        iso8601_duration_secs(d)
                            .map(|s| s.ceil() as u64)
                            .ok_or_else(|| EntitlementError::Template(format!("firstPlayExpiration: {d}")))
                    })
                    .transpose()?;
                // PlayReady compliance rules: uncompressed digital video
                // OPL 300 requires HDCP, 301 HDCP type 1 (2.2).
                let hdcp = play.and_then(|p| p.uncompressed_digital_video_opl).map(|opl| match opl {
                    301.. => Hdcp::V2_2,
                    300 => Hdcp::V1,
                    _ => Hdcp::None,
                });
                Ok(Rights {
                    persistent: l.license_type == PlayReadyLicenseType::Persistent,
                    begin,
                    expiration,
                    license_duration_secs: None,
                    playback_duration_secs,
                    security_level: l.security_level.and_then(|s| match s {
                        PlayReadySecurityLevel::SL150 => Some(SecurityLevel::PlayReady(150)),
                        PlayReadySecurityLevel::SL2000 => Some(SecurityLevel::PlayReady(2000)),
                        PlayReadySecurityLevel::SL3000 => Some(SecurityLevel::PlayReady(3000)),
                        PlayReadySecurityLevel::Unknown => None,
                    }),
                    hdcp,
                    allow_test_devices: l.allow_test_devices,
                })
            }
            ContentKeyPolicyConfiguration::Widevine(c) => {
                let Some(text) = &c.widevine_template else {
                    return Ok(Rights::default());
                };
                let t = WidevineTemplate::parse(text).map_err(|e| EntitlementError::Template(e.to_string()))?;
                let p = t.policy_overrides.clone().unwrap_or_default();
                let (level, hdcp) = t.strictest();
                let license = p.license_duration_seconds.filter(|&s| s > 0);
                Ok(Rights {
                    persistent: p.can_persist.unwrap_or(false),
                    begin: None,
                    expiration: license.map(|s| now + time::Duration::seconds(s as i64)),
                    license_duration_secs: p.license_duration_seconds,
                    playback_duration_secs: p.playback_duration_seconds.filter(|&s| s > 0),
                    security_level: level.map(SecurityLevel::Widevine),
                    hdcp,
                    allow_test_devices: false,
                })
            }
            ContentKeyPolicyConfiguration::FairPlay(c) => {
                use FairPlayRentalAndLeaseKeyType as K;
                let persistent = matches!(
                    c.rental_and_lease_key_type,
                    K::PersistentLimited | K::PersistentUnlimited | K::DualExpiry
                );
                let offline = c.offline_rental_configuration.as_ref();
                let license = match c.rental_and_lease_key_type {
                    K::PersistentUnlimited => None,
                    K::DualExpiry => offline.map(|o| o.storage_duration_seconds.max(0) as u64),
                    _ => (c.rental_duration > 0).then_some(c.rental_duration as u64),
                };
                Ok(Rights {
                    persistent,
                    begin: None,
                    expiration: license.map(|s| now + time::Duration::seconds(s as i64)),
                    license_duration_secs: license,
                    playback_duration_secs: offline.map(|o| o.playback_duration_seconds.max(0) as u64).filter(|&s| s > 0),
                    security_level: None,
                    hdcp: None,
                    allow_test_devices: false,
                })
            }
            ContentKeyPolicyConfiguration::ClearKey | ContentKeyPolicyConfiguration::Unknown => Ok(Rights::default()),
        }
    }

    /// Seconds from `now` to the end of the license, when it has one.
    pub fn seconds_left(&self, now: OffsetDateTime) -> Option<u64> {
        self.expiration.map(|e| (e - now).whole_seconds().max(0) as u64)
    }
}

/// Standard base64.
pub(crate) fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(v)
}

fn b64url(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// A compact JWS of `claims` with `header` (whose `alg` is set here to
/// HS256, the algorithm every vendor here takes), signed with `key`.
pub(crate) fn hs256_jwt(mut header: serde_json::Value, claims: &serde_json::Value, key: &[u8]) -> String {
    header["alg"] = "HS256".into();
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key), input.as_bytes());
    format!("{input}.{}", b64url(tag.as_ref()))
}

/// RFC 3339 in UTC with whole seconds (`2026-12-05T10:00:00Z`), the form
/// every vendor takes.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests;
