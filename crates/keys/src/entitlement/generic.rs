//! Any other vendor: the operator writes the message as a JSON template and
//! castguard fills it per request.
//!
//! A string value that is exactly one placeholder is replaced by a value of
//! its own JSON type (`"{{persistent}}"` becomes `true`, `"{{keyIds}}"` an
//! array); a placeholder inside a longer string is replaced by its text.
//! Placeholders: `keyIds` (array of UUID strings), `keyId` (the first),
//! `keyIdsHex` (array of 32 hex digits), `sub` (the token's subject, or
//! null), `persistent`, `licenseDurationSeconds` (null when unlimited),
//! `playbackDurationSeconds`, `expiresAt`/`expiresAtUnix` (end of the
//! license, else of the message), `now`/`nowUnix`, `drm` (`Widevine`,
//! `PlayReady`, `FairPlay`). An unknown placeholder is left as written.
//! Formats: compact JSON, standard base64 of it, or a JWT (HS256 with the
//! vendor's `secret`) whose claims are the filled template.

use super::{Entitlement, EntitlementError, VendorAdapter, VendorHeader, b64, hs256_jwt, rfc3339};
use crate::model::{GenericFormat, GenericVendor};
use serde_json::{Value, json};

impl VendorAdapter for GenericVendor {
    const NAME: &'static str = "generic";

    fn header(&self, e: &Entitlement) -> Result<VendorHeader, EntitlementError> {
        let filled = fill(&self.template, e);
        let value = match self.format {
            GenericFormat::Json => filled.to_string(),
            GenericFormat::JsonBase64 => b64(filled.to_string().as_bytes()),
            GenericFormat::Jwt => {
                let secret = self.secret.as_ref().filter(|s| !s.is_empty()).ok_or(EntitlementError::Vendor {
                    vendor: Self::NAME,
                    why: "the jwt format has no secret".into(),
                })?;
                hs256_jwt(json!({"typ": "JWT"}), &filled, secret.expose())
            }
        };
        Ok(VendorHeader {
            name: self.header.clone(),
            value,
        })
    }
}

/// The value of placeholder `name` for `e`.
fn placeholder(name: &str, e: &Entitlement) -> Option<Value> {
    let expires = e.rights.expiration.unwrap_or_else(|| e.message_expiry());
    Some(match name {
        "keyIds" => Value::Array(e.key_ids().map(|k| Value::String(k.to_string())).collect()),
        "keyIdsHex" => Value::Array(e.key_ids().map(|k| Value::String(k.simple().to_string())).collect()),
        "keyId" => e.key_ids().next().map_or(Value::Null, |k| Value::String(k.to_string())),
        "sub" => e.subject.clone().map_or(Value::Null, Value::String),
        "persistent" => Value::Bool(e.rights.persistent),
        "licenseDurationSeconds" => e.rights.license_duration_secs.filter(|&s| s > 0).map_or(Value::Null, Value::from),
        "playbackDurationSeconds" => e.rights.playback_duration_secs.map_or(Value::Null, Value::from),
        "expiresAt" => Value::String(rfc3339(expires)),
        "expiresAtUnix" => Value::from(expires.unix_timestamp()),
        "now" => Value::String(rfc3339(e.now)),
        "nowUnix" => Value::from(e.now.unix_timestamp()),
        "drm" => Value::String(e.drm.as_str().to_owned()),
        _ => return None,
    })
}

fn fill(v: &Value, e: &Entitlement) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), fill(v, e))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| fill(v, e)).collect()),
        Value::String(s) => fill_string(s, e),
        other => other.clone(),
    }
}

fn fill_string(s: &str, e: &Entitlement) -> Value {
    if let Some(name) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"))
        && !name.contains("{{")
        && let Some(v) = placeholder(name, e)
    {
        return v;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match placeholder(name, e) {
                    Some(Value::String(t)) => out.push_str(&t),
                    Some(Value::Null) => {}
                    Some(other) => out.push_str(&other.to_string()),
                    None => {
                        out.push_str("{{");
                        out.push_str(name);
                        out.push_str("}}");
                    }
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Value::String(out)
}
