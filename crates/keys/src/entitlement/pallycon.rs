//! PallyCon / DoveRunner: the license token.
//!
//! The token, in the `pallycon-customdata-v2` header, is standard base64 of
//! a JSON object (not a JWT): `drm_type`, `site_id`, `user_id`, `cid`,
//! `policy`, `timestamp`, `hash`, `response_format`, `key_rotation`.
//! `policy` is the license policy v2 JSON under AES-256-CBC with PKCS#7,
//! the 32 characters of the site key as key and the 16 ASCII bytes
//! `0123456789abcdef` as IV, in base64. `hash` is base64 of the SHA-256 of
//! access key + drm_type + site_id + user_id + cid + policy + timestamp,
//! concatenated; `timestamp` is UTC `yyyy-MM-ddTHH:mm:ssZ` (PallyCon accepts
//! a token for 600 s after it by default). Checked in the tests against the
//! vendor's published tutorial vector.
//!
//! Rights: `playback_policy` (`persistent`, `license_duration`,
//! `expire_date`, `playback_duration`), `security_policy` (Widevine
//! `security_level`/`required_hdcp_version`, PlayReady `security_level`/
//! `digital_video_protection_level`, FairPlay `hdcp_enforcement`); with
//! `includeKeys`, `external_key.mpeg_cenc` carries the granted keys as 32
//! lowercase hex digits.

use super::{Drm, Entitlement, EntitlementError, SecurityLevel, VendorAdapter, VendorHeader, b64, rfc3339};
use crate::model::{Hdcp, PallyConVendor};
use aws_lc_rs::cipher::{AES_256, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use serde_json::{Map, Value, json};

/// The header PallyCon reads the token from.
pub const HEADER: &str = "pallycon-customdata-v2";
/// The IV of the policy encryption (the vendor's fixed value).
const POLICY_IV: &[u8; 16] = b"0123456789abcdef";
/// `user_id` when the token has no subject.
const NO_USER: &str = "LICENSETOKEN";

impl VendorAdapter for PallyConVendor {
    const NAME: &'static str = "pallycon";

    fn header(&self, e: &Entitlement) -> Result<VendorHeader, EntitlementError> {
        let failed = |why: &str| EntitlementError::Vendor {
            vendor: Self::NAME,
            why: why.into(),
        };
        let site_key: &[u8; 32] = self
            .site_key
            .expose()
            .as_bytes()
            .try_into()
            .map_err(|_| failed("siteKey is not 32 characters"))?;
        if self.access_key.expose().len() != 32 {
            return Err(failed("accessKey is not 32 characters"));
        }
        let drm_type = e.drm.as_str();
        let user_id = user_id(e.subject.as_deref());
        let cid = match &self.content_id {
            Some(c) => c.clone(),
            None => e.key_ids().next().map(|k| k.simple().to_string()).unwrap_or_default(),
        };
        let policy_json = zeroize::Zeroizing::new(policy(e, self.include_keys).to_string());
        let policy = b64(&encrypt_policy(site_key, policy_json.as_bytes()).map_err(|_| failed("AES-256-CBC failed"))?);
        let timestamp = rfc3339(e.now);
        let hash = token_hash(self.access_key.expose(), drm_type, &self.site_id, &user_id, &cid, &policy, &timestamp);
        let token = json!({
            "drm_type": drm_type,
            "site_id": self.site_id,
            "user_id": user_id,
            "cid": cid,
            "policy": policy,
            "response_format": "original",
            "key_rotation": false,
            "timestamp": timestamp,
            "hash": hash,
        });
        Ok(VendorHeader {
            name: HEADER.into(),
            value: b64(token.to_string().as_bytes()),
        })
    }
}

/// PallyCon's `user_id` is at most 32 characters: a longer subject is
/// replaced by the first 32 hex digits of its SHA-256 (stable per viewer).
fn user_id(sub: Option<&str>) -> String {
    match sub {
        None | Some("") => NO_USER.into(),
        Some(s) if s.len() <= 32 && s.bytes().all(|b| b.is_ascii_graphic()) => s.into(),
        Some(s) => {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
            d.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// The license policy v2.
fn policy(e: &Entitlement, include_keys: bool) -> Value {
    let r = &e.rights;
    let mut playback = Map::new();
    playback.insert("persistent".into(), Value::Bool(r.persistent));
    match (r.license_duration_secs.filter(|&d| d > 0), r.expiration) {
        (Some(d), _) => {
            playback.insert("license_duration".into(), Value::from(d));
        }
        (None, Some(x)) => {
            playback.insert("expire_date".into(), Value::String(rfc3339(x)));
        }
        (None, None) => {}
    }
    if let Some(p) = r.playback_duration_secs {
        playback.insert("playback_duration".into(), Value::from(p));
    }
    let mut p = json!({"policy_version": 2, "playback_policy": playback});
    let mut security = Map::new();
    let hdcp = r.hdcp.filter(|h| *h != Hdcp::None);
    match e.drm {
        Drm::Widevine => {
            let mut w = Map::new();
            if let Some(SecurityLevel::Widevine(l)) = r.security_level {
                w.insert("security_level".into(), Value::from(l));
            }
            if let Some(h) = hdcp {
                let v = serde_json::to_value(h).unwrap_or(Value::Null);
                w.insert("required_hdcp_version".into(), v);
            }
            if !w.is_empty() {
                security.insert("widevine".into(), Value::Object(w));
            }
        }
        Drm::PlayReady => {
            let mut pr = Map::new();
            if let Some(SecurityLevel::PlayReady(l)) = r.security_level {
                pr.insert("security_level".into(), Value::from(l));
            }
            if let Some(h) = hdcp {
                let level = if h >= Hdcp::V2_2 { 301 } else { 300 };
                pr.insert("digital_video_protection_level".into(), Value::from(level));
            }
            if !pr.is_empty() {
                security.insert("playready".into(), Value::Object(pr));
            }
        }
        Drm::FairPlay => {
            if let Some(h) = hdcp {
                let level = if h >= Hdcp::V2_2 { 1 } else { 0 };
                security.insert("fairplay".into(), json!({"hdcp_enforcement": level}));
            }
        }
    }
    if !security.is_empty() {
        security.insert("track_type".into(), "ALL".into());
        p["security_policy"] = json!([security]);
    }
    if include_keys {
        let keys: Vec<Value> = e
            .keys
            .iter()
            .map(|k| {
                json!({"track_type": "ALL", "key_id": k.kid.simple().to_string(),
                    "key": k.value.iter().map(|b| format!("{b:02x}")).collect::<String>()})
            })
            .collect();
        p["external_key"] = json!({"mpeg_cenc": keys});
    }
    p
}

/// AES-256-CBC, PKCS#7, the vendor's fixed IV.
pub(crate) fn encrypt_policy(site_key: &[u8; 32], plain: &[u8]) -> Result<Vec<u8>, ()> {
    let k = UnboundCipherKey::new(&AES_256, site_key)
        .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
        .map_err(|_| ())?;
    let mut buf = plain.to_vec();
    k.less_safe_encrypt(&mut buf, EncryptionContext::Iv128(FixedLength::from(*POLICY_IV)))
        .map_err(|_| ())?;
    Ok(buf)
}

/// base64(SHA-256(access_key + drm_type + site_id + user_id + cid + policy + timestamp)).
pub(crate) fn token_hash(access_key: &str, drm_type: &str, site_id: &str, user_id: &str, cid: &str, policy: &str, timestamp: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [access_key, drm_type, site_id, user_id, cid, policy, timestamp] {
        ctx.update(part.as_bytes());
    }
    b64(ctx.finish().as_ref())
}
