//! castLabs DRMtoday: the upfront authorization token.
//!
//! DRMtoday authorizes a license request that carries, in `x-dt-auth-token`,
//! a JWT signed with the merchant's shared secret (HS256; header `alg`,
//! `kid`, `typ`; the secret is the hex string the dashboard shows, decoded)
//! whose claims are `jti` (unique, replay protection), `iat`,
//! `exp`, `optData` and `crt`; the last two are JSON documents serialised
//! into strings, not objects. `optData` names the merchant; `crt` (the
//! Customer Rights Token) is an array of rights: `assetId` (the configured
//! one, else the key id, for keys ingested into DRMtoday under their key
//! id), `profile` (`purchase`, or `rental` with `absoluteExpiration` and
//! `playDuration` in milliseconds), `storeLicense` (persistent) and
//! `outputProtection` (`digital`/`analogue`/`enforce`).
//!
//! castLabs' reference pages were not available to check field by field;
//! this follows castLabs-authored samples and SDK models (docs/drm-vendors.md
//! says which parts and how to check them against your DRMtoday account).

use super::{Entitlement, EntitlementError, VendorAdapter, VendorHeader, hs256_jwt, rfc3339};
use crate::model::{DrmTodayVendor, Hdcp};
use serde_json::{Map, Value, json};

/// The header DRMtoday reads the token from.
pub const HEADER: &str = "x-dt-auth-token";

impl VendorAdapter for DrmTodayVendor {
    const NAME: &'static str = "drmtoday";

    fn header(&self, e: &Entitlement) -> Result<VendorHeader, EntitlementError> {
        let secret = zeroize::Zeroizing::new(hex_bytes(self.shared_secret.expose()).ok_or(EntitlementError::Vendor {
            vendor: Self::NAME,
            why: "sharedSecret is not hex".into(),
        })?);
        if secret.is_empty() {
            return Err(EntitlementError::Vendor {
                vendor: Self::NAME,
                why: "no sharedSecret".into(),
            });
        }
        let r = &e.rights;
        let profile = if r.expiration.is_some() || r.playback_duration_secs.is_some() {
            let mut rental = Map::new();
            if let Some(x) = r.expiration {
                rental.insert("absoluteExpiration".into(), Value::String(rfc3339(x)));
            }
            if let Some(p) = r.playback_duration_secs {
                rental.insert("playDuration".into(), Value::from(p.saturating_mul(1000)));
            }
            json!({"rental": rental})
        } else {
            json!({"purchase": {}})
        };
        let crt: Vec<Value> = e
            .keys
            .iter()
            .map(|k| {
                let mut c = json!({
                    "assetId": self.asset_id.clone().unwrap_or_else(|| k.kid.to_string()),
                    "profile": profile,
                    "storeLicense": r.persistent,
                });
                if let Some(h) = r.hdcp.filter(|h| *h != Hdcp::None) {
                    c["outputProtection"] = json!({
                        "digital": true,
                        "analogue": h == Hdcp::NoDigitalOutput,
                        "enforce": true,
                    });
                }
                c
            })
            .collect();
        let mut opt = json!({"merchant": self.merchant});
        if let Some(sub) = &e.subject {
            opt["userId"] = sub.clone().into();
        }
        let claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": e.now.unix_timestamp(),
            "exp": e.message_expiry().unix_timestamp(),
            "optData": opt.to_string(),
            "crt": Value::Array(crt).to_string(),
        });
        let mut header = json!({"typ": "JWT"});
        if let Some(kid) = &self.key_id {
            header["kid"] = kid.clone().into();
        }
        Ok(VendorHeader {
            name: HEADER.into(),
            value: hs256_jwt(header, &claims, &secret),
        })
    }
}

/// The bytes of an even-length hex string.
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}
