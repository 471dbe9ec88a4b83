//! Axinom DRM: the License Service Message.
//!
//! Axinom's license service takes, in the `X-AxDRM-Message` header (no
//! "Bearer"), a JWT signed HS256 with the tenant's 32-byte communication
//! key (base64 in the portal): `{"version": 1, "com_key_id", "message",
//! "begin_date", "expiration_date"}`, where `message` is an Entitlement
//! Message v2 (`type: entitlement_message`, `version: 2`, `license`,
//! `content_keys_source`, `content_key_usage_policies`). Axinom's samples
//! sign without `iat`; the message's own validity is `begin_date` /
//! `expiration_date` (ISO 8601 with offset).
//!
//! Keys: `content_keys_source.inline` lists the key ids our policy granted
//! (Axinom refuses a license request that asks for any other key). With
//! `includeKeys`, each carries `encrypted_key`: the 16-byte content key
//! under AES-256-CBC with the communication key, no padding, the key id's
//! 16 bytes as written (big-endian) as IV (Axinom's own samples; checked
//! against their published test vector in the tests).
//!
//! Rights: `license.allow_persistence`, `license.start_datetime` /
//! `expiration_datetime`, `license.duration` (seconds of validity) and the
//! per-DRM `playback_duration`; the usage policy carries the security level
//! (`playready.min_device_security_level`, `widevine.device_security_level`)
//! and HDCP (`widevine.hdcp`, `fairplay.hdcp`).

use super::{Drm, Entitlement, EntitlementError, SecurityLevel, VendorAdapter, VendorHeader, b64, hs256_jwt, rfc3339};
use crate::model::{AxinomVendor, Hdcp};
use aws_lc_rs::cipher::{AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use serde_json::{Map, Value, json};

/// The header Axinom reads the message from.
pub const HEADER: &str = "X-AxDRM-Message";
/// The name of the one usage policy castguard writes.
const POLICY_NAME: &str = "castguard";

impl VendorAdapter for AxinomVendor {
    const NAME: &'static str = "axinom";

    fn header(&self, e: &Entitlement) -> Result<VendorHeader, EntitlementError> {
        let key: &[u8; 32] = self.communication_key.expose().try_into().map_err(|_| EntitlementError::Vendor {
            vendor: Self::NAME,
            why: "communicationKey is not 32 bytes".into(),
        })?;
        let usage = usage_policy(e);
        let mut inline = Vec::with_capacity(e.keys.len());
        for k in &e.keys {
            let mut entry = Map::new();
            entry.insert("id".into(), Value::String(k.kid.to_string()));
            if self.include_keys {
                entry.insert("encrypted_key".into(), Value::String(b64(&encrypt_key(key, k.kid.as_bytes(), &k.value)?)));
            }
            if usage.is_some() {
                entry.insert("usage_policy".into(), POLICY_NAME.into());
            }
            inline.push(Value::Object(entry));
        }
        let mut message = json!({
            "type": "entitlement_message",
            "version": 2,
            "license": license(e),
            "content_keys_source": {"inline": inline},
        });
        if let Some(u) = usage {
            message["content_key_usage_policies"] = json!([u]);
        }
        let claims = json!({
            "version": 1,
            "com_key_id": self.communication_key_id.to_string(),
            "message": message,
            "begin_date": rfc3339(e.now - time::Duration::seconds(super::MESSAGE_LIFETIME_SECS)),
            "expiration_date": rfc3339(e.message_expiry()),
        });
        Ok(VendorHeader {
            name: HEADER.into(),
            value: hs256_jwt(json!({"typ": "JWT"}), &claims, key),
        })
    }
}

/// `license`: persistence, validity window, durations.
fn license(e: &Entitlement) -> Value {
    let r = &e.rights;
    let mut l = Map::new();
    l.insert("allow_persistence".into(), Value::Bool(r.persistent));
    if let Some(b) = r.begin {
        l.insert("start_datetime".into(), Value::String(rfc3339(b)));
    }
    if let Some(x) = r.expiration {
        l.insert("expiration_datetime".into(), Value::String(rfc3339(x)));
    }
    if let Some(d) = r.license_duration_secs.filter(|&d| d > 0) {
        l.insert("duration".into(), Value::from(d));
    }
    if let Some(p) = r.playback_duration_secs {
        let drm = match e.drm {
            Drm::Widevine => "widevine",
            Drm::PlayReady => "playready",
            Drm::FairPlay => "fairplay",
        };
        l.insert(drm.into(), json!({"playback_duration": p}));
    }
    Value::Object(l)
}

/// The usage policy for the template's security level and HDCP; `None`
/// when the template asks for neither (Axinom's defaults apply).
fn usage_policy(e: &Entitlement) -> Option<Value> {
    let r = &e.rights;
    let mut p = Map::new();
    match r.security_level {
        Some(SecurityLevel::PlayReady(l)) => {
            p.insert("playready".into(), json!({"min_device_security_level": l}));
        }
        Some(SecurityLevel::Widevine(l)) => {
            let name = match l {
                1 => "SW_SECURE_CRYPTO",
                2 => "SW_SECURE_DECODE",
                3 => "HW_SECURE_CRYPTO",
                4 => "HW_SECURE_DECODE",
                _ => "HW_SECURE_ALL",
            };
            p.insert("widevine".into(), json!({"device_security_level": name}));
        }
        None => {}
    }
    if let Some(h) = r.hdcp.filter(|h| *h != Hdcp::None) {
        match e.drm {
            Drm::Widevine => {
                let v = match h {
                    Hdcp::V1 => "1.0",
                    Hdcp::V2 => "2.0",
                    Hdcp::V2_1 => "2.1",
                    Hdcp::V2_2 => "2.2",
                    Hdcp::V2_3 => "2.3",
                    Hdcp::NoDigitalOutput => "no_digital_output",
                    Hdcp::None => "none",
                };
                let w = p.entry("widevine").or_insert_with(|| json!({}));
                w["hdcp"] = v.into();
            }
            Drm::FairPlay => {
                let v = if h >= Hdcp::V2_2 { "TYPE1" } else { "TYPE0" };
                p.insert("fairplay".into(), json!({"hdcp": v}));
            }
            Drm::PlayReady => {
                // PlayReady expresses HDCP as the uncompressed digital video
                // output protection level: 300 requires HDCP, 301 type 1.
                let opl = if h >= Hdcp::V2_2 { 301 } else { 300 };
                let pr = p.entry("playready").or_insert_with(|| json!({}));
                pr["uncompressed_digital_video_opl"] = opl.into();
            }
        }
    }
    if p.is_empty() {
        return None;
    }
    p.insert("name".into(), POLICY_NAME.into());
    Some(Value::Object(p))
}

/// `encrypted_key`: AES-256-CBC of the 16-byte key, no padding, IV = the
/// key id's bytes.
pub(crate) fn encrypt_key(com_key: &[u8; 32], kid: &[u8; 16], key: &[u8; 16]) -> Result<[u8; 16], EntitlementError> {
    let failed = |why: &str| EntitlementError::Vendor {
        vendor: "axinom",
        why: why.into(),
    };
    let k = UnboundCipherKey::new(&AES_256, com_key)
        .and_then(EncryptingKey::cbc)
        .map_err(|_| failed("AES-256-CBC key"))?;
    let mut block = *key;
    k.less_safe_encrypt(&mut block, EncryptionContext::Iv128(FixedLength::from(*kid)))
        .map_err(|_| failed("AES-256-CBC encryption failed"))?;
    Ok(block)
}
