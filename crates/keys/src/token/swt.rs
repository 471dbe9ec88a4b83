//! Simple Web Token (SWT 0.9.5.1, OAuth WRAP era; still accepted by the
//! cloud media-service model as `restrictionTokenType: Swt`).
//!
//! A token is an `application/x-www-form-urlencoded` list of name/value pairs
//! whose last pair is `HMACSHA256=<base64 of HMAC-SHA256>`, computed with the
//! symmetric key over the exact bytes before `&HMACSHA256=`. Reserved names
//! `Issuer`, `Audience` and `ExpiresOn` (seconds since 1970-01-01 UTC) map to
//! the JWT claims `iss`, `aud` and `exp` so that [`super::claims`] checks both
//! token types the same way; any other pair is a claim whose value is a string,
//! or an array of strings when the name repeats. A reserved name given twice
//! is malformed (two issuers would make the check depend on which one is read).

use super::key::{KeyKind, VerificationKey};
use super::{Reason, VerifyError};
use base64::Engine as _;
use serde_json::{Map, Value};

const SIGNATURE_PAIR: &str = "&HMACSHA256=";

#[derive(Debug)]
pub(crate) struct ParsedSwt<'t> {
    pub signed: &'t str,
    pub signature: Vec<u8>,
    pub claims: Map<String, Value>,
}

pub(crate) fn parse(token: &str) -> Result<ParsedSwt<'_>, VerifyError> {
    let malformed = |what: &'static str| VerifyError::refused(Reason::TokenMalformed, what);
    let (signed, sig) = token.rsplit_once(SIGNATURE_PAIR).ok_or(malformed("SWT has no HMACSHA256 pair"))?;
    if signed.is_empty() || sig.contains('&') || signed.contains(SIGNATURE_PAIR) || signed.starts_with("HMACSHA256=") {
        return Err(malformed("HMACSHA256 must be the last and only signature pair"));
    }
    let sig: String = form_urlencoded::parse(format!("s={sig}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or(malformed("HMACSHA256 is not URL-encoded"))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(sig.as_bytes())
        .map_err(|_| malformed("HMACSHA256 is not base64"))?;
    if signature.len() != 32 {
        return Err(malformed("HMACSHA256 is not 32 bytes"));
    }

    let mut claims = Map::new();
    for (name, value) in form_urlencoded::parse(signed.as_bytes()) {
        let (key, reserved) = match &*name {
            "Issuer" => ("iss".to_string(), true),
            "Audience" => ("aud".to_string(), true),
            "ExpiresOn" => ("exp".to_string(), true),
            "" => return Err(malformed("SWT pair without a name")),
            other => (other.to_string(), false),
        };
        let value = if key == "exp" {
            let secs: i64 = value.parse().map_err(|_| malformed("ExpiresOn is not an integer"))?;
            Value::from(secs)
        } else {
            Value::String(value.into_owned())
        };
        match claims.get_mut(&key) {
            None => {
                claims.insert(key, value);
            }
            Some(_) if reserved => return Err(malformed("Issuer, Audience and ExpiresOn may appear once")),
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    Ok(ParsedSwt { signed, signature, claims })
}

/// True when `key` is an HMAC key and the HMAC-SHA256 matches (constant time).
pub(crate) fn verify_with(swt: &ParsedSwt<'_>, key: &VerificationKey) -> bool {
    if key.kind() != KeyKind::Hmac {
        return false;
    }
    let Some(secret) = key.hmac_secret() else { return false };
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    aws_lc_rs::hmac::verify(&k, swt.signed.as_bytes(), &swt.signature).is_ok()
}

/// Builds a signed SWT (for tests and tools; castguard's STS issues JWTs).
pub fn sign(pairs: &[(&str, &str)], secret: &[u8]) -> String {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        body.append_pair(k, v);
    }
    let body = body.finish();
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&k, body.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    let sig: String = form_urlencoded::byte_serialize(sig.as_bytes()).collect();
    format!("{body}{SIGNATURE_PAIR}{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"swt-test-key-0123456789abcdef";

    #[test]
    fn round_trip_and_mapping() {
        let t = sign(
            &[("Issuer", "https://sts.example"), ("Audience", "urn:castguard"), ("ExpiresOn", "1800000000"), ("groups", "a"), ("groups", "b c")],
            KEY,
        );
        let p = parse(&t).unwrap();
        assert!(verify_with(&p, &VerificationKey::hmac(KEY).unwrap()));
        assert!(!verify_with(&p, &VerificationKey::hmac(b"another-key-0123456789").unwrap()));
        assert_eq!(p.claims["iss"], "https://sts.example");
        assert_eq!(p.claims["exp"], 1_800_000_000i64);
        assert_eq!(p.claims["groups"], serde_json::json!(["a", "b c"]));
    }

    #[test]
    fn tampering_and_structure() {
        let t = sign(&[("Issuer", "i"), ("Audience", "a"), ("ExpiresOn", "1800000000")], KEY);
        let key = VerificationKey::hmac(KEY).unwrap();
        let tampered = t.replace("Issuer=i", "Issuer=j");
        assert!(!verify_with(&parse(&tampered).unwrap(), &key));
        for bad in [
            "Issuer=i&Audience=a".to_string(),
            format!("{t}&x=1"),
            t.replace("ExpiresOn=1800000000", "ExpiresOn=soon"),
            t.replace("Issuer=i", "Issuer=i&Issuer=k"),
            "&HMACSHA256=AAAA".into(),
            t.replace("%3D", "!!"),
        ] {
            assert_eq!(parse(&bad).unwrap_err().reason(), Some(Reason::TokenMalformed), "{bad}");
        }
    }
}
