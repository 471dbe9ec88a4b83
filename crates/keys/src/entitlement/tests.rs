use super::*;
use crate::model::{ContentKeyPolicyConfiguration, GenericVendor};
use serde_json::json;

fn config(v: serde_json::Value) -> ContentKeyPolicyConfiguration {
    serde_json::from_value(v).unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn entitlement(rights: Rights) -> Entitlement {
    Entitlement {
        drm: Drm::Widevine,
        keys: vec![GrantedKey {
            kid: "9eb4050d-e44b-4802-932e-27d75083e266".parse().unwrap(),
            value: *b"0123456789abcdef",
        }],
        subject: Some("viewer-7".into()),
        rights,
        now: now(),
    }
}

#[test]
fn playready_template_rights() {
    let c = config(json!({
        "@odata.type": "#Microsoft.Media.ContentKeyPolicyPlayReadyConfiguration",
        "licenses": [{
            "allowTestDevices": true,
            "securityLevel": "SL2000",
            "relativeExpirationDate": "PT2H",
            "playRight": {
                "firstPlayExpiration": "PT30M",
                "digitalVideoOnlyContentRestriction": false,
                "imageConstraintForAnalogComponentVideoRestriction": false,
                "imageConstraintForAnalogComputerMonitorRestriction": false,
                "allowPassingVideoContentToUnknownOutput": "NotAllowed",
                "uncompressedDigitalVideoOpl": 300
            },
            "licenseType": "Persistent",
            "contentKeyLocation": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyPlayReadyContentEncryptionKeyFromHeader"},
            "contentType": "Unspecified"
        }],
        "licenseServerUrl": "https://drm.example/pr"
    }));
    let r = Rights::of(&c, now()).unwrap();
    assert!(r.persistent);
    assert_eq!(r.expiration, Some(now() + time::Duration::hours(2)));
    assert_eq!(r.seconds_left(now()), Some(7200));
    assert_eq!(r.playback_duration_secs, Some(1800));
    assert_eq!(r.security_level, Some(SecurityLevel::PlayReady(2000)));
    assert_eq!(r.hdcp, Some(Hdcp::V1));
    assert!(r.allow_test_devices);
}

#[test]
fn widevine_template_rights() {
    let template = json!({"policy_overrides": {"can_persist": false, "license_duration_seconds": 600},
        "content_key_specs": [{"track_type": "HD", "security_level": 3,
            "required_output_protection": {"hdcp": "HDCP_V2"}}]});
    let c = config(json!({
        "@odata.type": "#Microsoft.Media.ContentKeyPolicyWidevineConfiguration",
        "widevineTemplate": template.to_string(),
        "licenseServerUrl": "https://drm.example/wv"
    }));
    let r = Rights::of(&c, now()).unwrap();
    assert!(!r.persistent);
    assert_eq!(r.license_duration_secs, Some(600));
    assert_eq!(r.expiration, Some(now() + time::Duration::seconds(600)));
    assert_eq!(r.security_level, Some(SecurityLevel::Widevine(3)));
    assert_eq!(r.hdcp, Some(Hdcp::V2));
}

#[test]
fn fairplay_rental_rights() {
    let c = config(json!({
        "@odata.type": "#Microsoft.Media.ContentKeyPolicyFairPlayConfiguration",
        "rentalAndLeaseKeyType": "DualExpiry",
        "rentalDuration": 0,
        "offlineRentalConfiguration": {"playbackDurationSeconds": 3600, "storageDurationSeconds": 86400},
        "licenseServerUrl": "https://drm.example/fps"
    }));
    let r = Rights::of(&c, now()).unwrap();
    assert!(r.persistent);
    assert_eq!(r.license_duration_secs, Some(86_400));
    assert_eq!(r.playback_duration_secs, Some(3600));
}

#[test]
fn generic_fills_typed_placeholders() {
    let v: GenericVendor = serde_json::from_value(json!({
        "header": "X-Entitlement", "format": "json",
        "template": {"kids": "{{keyIds}}", "user": "{{sub}}", "offline": "{{persistent}}",
            "note": "for {{sub}} until {{expiresAt}}", "keep": "{{unknown}}", "n": 3}
    }))
    .unwrap();
    let mut rights = Rights {
        persistent: true,
        ..Rights::default()
    };
    rights.expiration = Some(now() + time::Duration::seconds(60));
    let h = v.header(&entitlement(rights)).unwrap();
    assert_eq!(h.name, "X-Entitlement");
    let j: serde_json::Value = serde_json::from_str(&h.value).unwrap();
    assert_eq!(j["kids"], json!(["9eb4050d-e44b-4802-932e-27d75083e266"]));
    assert_eq!(j["user"], "viewer-7");
    assert_eq!(j["offline"], true);
    assert_eq!(j["note"], "for viewer-7 until 2027-01-15T08:01:00Z");
    assert_eq!(j["keep"], "{{unknown}}");
    assert_eq!(j["n"], 3);
}

#[test]
fn generic_jwt_verifies_with_its_secret() {
    let secret = b"generic-vendor-secret-0123456789";
    let v: GenericVendor = serde_json::from_value(json!({
        "header": "X-Auth", "format": "jwt", "secret": b64(secret),
        "template": {"kid": "{{keyId}}", "exp": "{{expiresAtUnix}}"}
    }))
    .unwrap();
    let h = v.header(&entitlement(Rights::default())).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Value>(
        &h.value,
        &jsonwebtoken::DecodingKey::from_secret(secret),
        &validation,
    )
    .unwrap();
    assert_eq!(data.claims["kid"], "9eb4050d-e44b-4802-932e-27d75083e266");
    assert_eq!(data.claims["exp"], now().unix_timestamp() + MESSAGE_LIFETIME_SECS);
    // Another secret does not verify it.
    assert!(jsonwebtoken::decode::<serde_json::Value>(
        &h.value,
        &jsonwebtoken::DecodingKey::from_secret(b"another-secret-0123456789abcdef"),
        &validation,
    )
    .is_err());
}

/// Axinom's published test communication key (drm-quick-start, and the
/// cloud service's Axinom integration article).
const AXINOM_TEST_KEY_HEX: &str = "4861292d027e269791093327e62ceefdbea489a4c7e5a4974cc904b840fd7c0f";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn axinom_encrypted_key_matches_the_published_sample() {
    // Axinom/drm-quick-start VideoDatabase.js: key id 302f80dd-…, key
    // FbKq+Qbr7GMJ1A+RKJEnuA==, encrypted_key roKAg0t7Ji1i43fwv+zftQ==.
    let com: [u8; 32] = hex(AXINOM_TEST_KEY_HEX).try_into().unwrap();
    let kid: Uuid = "302f80dd-411e-4886-bca5-bb1f8018a024".parse().unwrap();
    let key: [u8; 16] = hex("15b2aaf906ebec6309d40f91289127b8").try_into().unwrap();
    let enc = axinom::encrypt_key(&com, kid.as_bytes(), &key).unwrap();
    assert_eq!(b64(&enc), "roKAg0t7Ji1i43fwv+zftQ==");
}

#[test]
fn axinom_message_carries_the_grant() {
    let v: crate::model::AxinomVendor = serde_json::from_value(json!({
        "communicationKeyId": "69e54088-e9e0-4530-8c1a-1eb6dcd0d14e",
        "communicationKey": b64(&hex(AXINOM_TEST_KEY_HEX)),
        "includeKeys": true
    }))
    .unwrap();
    let rights = Rights {
        persistent: true,
        security_level: Some(SecurityLevel::Widevine(1)),
        hdcp: Some(Hdcp::V2),
        ..Rights::default()
    };
    let h = v.header(&entitlement(rights)).unwrap();
    assert_eq!(h.name, "X-AxDRM-Message");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &h.value,
        &jsonwebtoken::DecodingKey::from_secret(&hex(AXINOM_TEST_KEY_HEX)),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["version"], 1);
    assert_eq!(claims["com_key_id"], "69e54088-e9e0-4530-8c1a-1eb6dcd0d14e");
    let m = &claims["message"];
    assert_eq!((m["type"].as_str(), m["version"].as_i64()), (Some("entitlement_message"), Some(2)));
    assert_eq!(m["license"]["allow_persistence"], true);
    let inline = &m["content_keys_source"]["inline"][0];
    assert_eq!(inline["id"], "9eb4050d-e44b-4802-932e-27d75083e266");
    assert_eq!(inline["usage_policy"], "castguard");
    let com: [u8; 32] = hex(AXINOM_TEST_KEY_HEX).try_into().unwrap();
    let kid: Uuid = "9eb4050d-e44b-4802-932e-27d75083e266".parse().unwrap();
    let want = axinom::encrypt_key(&com, kid.as_bytes(), b"0123456789abcdef").unwrap();
    assert_eq!(inline["encrypted_key"], b64(&want));
    let policy = &m["content_key_usage_policies"][0];
    assert_eq!(policy["widevine"], json!({"device_security_level": "SW_SECURE_CRYPTO", "hdcp": "2.0"}));
}

#[test]
fn pallycon_matches_the_published_tutorial() {
    // pallycon-docs-v3 license-token-tutorial: site TUTO.
    let site_key: [u8; 32] = *b"lU5D8s3PWoLls3PWFWkClULlFWk5D8oC";
    let policy = pallycon::encrypt_policy(&site_key, br#"{"playback_policy":{"limit":true,"persistent":false,"duration":3600}}"#).unwrap();
    let policy = b64(&policy);
    assert_eq!(
        policy,
        "bO9DzyQgtgfbSDWmqGgZXWZdWm7M4oZ4X0hC1hS6QNraiwLI0LwmNY+OfOh1L0KmtuH7NF1blUxep9YLWrNfSy4H/6swQW7pbjZnRqRguDQ="
    );
    let hash = pallycon::token_hash(
        "LT2FVJDp2Xr018zf4Di6lzvNOv3DKP20",
        "Widevine",
        "TUTO",
        "test-user",
        "bigbuckbunny",
        &policy,
        "2019-07-17T08:57:04Z",
    );
    assert_eq!(hash, "0Zef3WHBbzQAR0oGf5KXn25G1TmvB2Bkvzv+7OqIWvQ=");
}

#[test]
fn pallycon_token_fields() {
    let v: crate::model::PallyConVendor = serde_json::from_value(json!({
        "siteId": "TUTO", "siteKey": "lU5D8s3PWoLls3PWFWkClULlFWk5D8oC",
        "accessKey": "LT2FVJDp2Xr018zf4Di6lzvNOv3DKP20", "includeKeys": true
    }))
    .unwrap();
    let rights = Rights {
        persistent: false,
        license_duration_secs: Some(3600),
        ..Rights::default()
    };
    let h = v.header(&entitlement(rights)).unwrap();
    assert_eq!(h.name, "pallycon-customdata-v2");
    let token: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD.decode(&h.value).unwrap(),
    )
    .unwrap();
    assert_eq!(token["drm_type"], "Widevine");
    assert_eq!(token["user_id"], "viewer-7");
    assert_eq!(token["cid"], "9eb4050de44b4802932e27d75083e266");
    assert_eq!(token["timestamp"], "2027-01-15T08:00:00Z");
    let want = pallycon::token_hash(
        "LT2FVJDp2Xr018zf4Di6lzvNOv3DKP20",
        "Widevine",
        "TUTO",
        "viewer-7",
        "9eb4050de44b4802932e27d75083e266",
        token["policy"].as_str().unwrap(),
        "2027-01-15T08:00:00Z",
    );
    assert_eq!(token["hash"], want);
}

#[test]
fn drmtoday_token_has_string_claims() {
    let v: crate::model::DrmTodayVendor = serde_json::from_value(json!({
        "merchant": "acme", "sharedSecret": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "keyId": "00000000-1111-2222-3333-444444444444"
    }))
    .unwrap();
    let h = v.header(&entitlement(Rights { persistent: true, ..Rights::default() })).unwrap();
    assert_eq!(h.name, "x-dt-auth-token");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Value>(
        &h.value,
        &jsonwebtoken::DecodingKey::from_secret(&hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")),
        &validation,
    )
    .unwrap();
    assert_eq!(data.header.kid.as_deref(), Some("00000000-1111-2222-3333-444444444444"));
    let crt: serde_json::Value = serde_json::from_str(data.claims["crt"].as_str().unwrap()).unwrap();
    assert_eq!(crt, json!([{"assetId": "9eb4050d-e44b-4802-932e-27d75083e266", "profile": {"purchase": {}}, "storeLicense": true}]));
    let opt: serde_json::Value = serde_json::from_str(data.claims["optData"].as_str().unwrap()).unwrap();
    assert_eq!(opt["merchant"], "acme");
}
