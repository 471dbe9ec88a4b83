//! Fixtures shared by the store tests: a fresh data directory, a fixed KEK
//! and small valid entities.

#![allow(dead_code)]

use keys::model::{
    Asset, AssetStorage, ContentKey, ContentKeyPolicy, ContentKeyPolicyConfiguration,
    ContentKeyPolicyOption, ContentKeyPolicyRestriction, ContentKeyType, ContentKeyValue,
    ContentKeyWithValue, StreamingLocator, StreamingLocatorContentKey, StreamingPolicy, from_json,
};
use store::{Kek, SqliteStore};
use uuid::Uuid;

pub const KEK_HEX: &str = "8f3b2a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a";

pub fn kek() -> Kek {
    Kek::parse(KEK_HEX, "test").unwrap()
}

pub async fn open(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open(dir, kek()).await.unwrap()
}

pub fn asset(name: &str) -> Asset {
    Asset {
        name: name.into(),
        asset_id: None,
        created: None,
        last_modified: None,
        alternate_id: None,
        description: Some(format!("asset {name}")),
        storage: AssetStorage {
            path: format!("assets/{name}"),
            tracks: serde_json::json!([{"id": 1}]),
        },
    }
}

pub fn open_policy(name: &str) -> ContentKeyPolicy {
    ContentKeyPolicy {
        name: name.into(),
        policy_id: None,
        created: None,
        last_modified: None,
        description: None,
        options: vec![ContentKeyPolicyOption {
            policy_option_id: None,
            name: Some("open".into()),
            configuration: ContentKeyPolicyConfiguration::ClearKey,
            restriction: ContentKeyPolicyRestriction::Open,
        }],
    }
}

/// A token-restricted policy whose HMAC key is `hmac`.
pub fn token_policy(name: &str, hmac: &[u8]) -> ContentKeyPolicy {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(hmac);
    from_json(&format!(
        r##"{{"name":"{name}","options":[{{"configuration":{{"@odata.type":"#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"}},
        "restriction":{{"@odata.type":"#Microsoft.Media.ContentKeyPolicyTokenRestriction","issuer":"https://sts.test","audience":"castguard",
        "restrictionTokenType":"Jwt","primaryVerificationKey":{{"@odata.type":"#Microsoft.Media.ContentKeyPolicySymmetricTokenKey","keyValue":"{b64}"}}}}}}]}}"##
    ))
    .unwrap()
}

pub fn key(name: &str, kid: Uuid, value: [u8; 16], policy: Option<&str>) -> ContentKeyWithValue {
    ContentKeyWithValue {
        key: ContentKey {
            name: name.into(),
            key_id: kid,
            key_type: ContentKeyType::CommonEncryption,
            label: None,
            policy_name: policy.map(str::to_owned),
            created: None,
            last_modified: None,
        },
        value: ContentKeyValue::new(value),
    }
}

pub fn streaming_policy(name: &str, ckp: Option<&str>) -> StreamingPolicy {
    let mut p =
        keys::model::predefined_streaming_policy(keys::model::PREDEFINED_MULTI_DRM_CENC_STREAMING)
            .unwrap();
    p.name = name.into();
    p.default_content_key_policy_name = ckp.map(str::to_owned);
    p
}

pub fn locator(name: &str, asset: &str, policy: &str, kids: &[Uuid]) -> StreamingLocator {
    StreamingLocator {
        name: name.into(),
        asset_name: asset.into(),
        streaming_policy_name: policy.into(),
        default_content_key_policy_name: None,
        content_keys: kids
            .iter()
            .map(|id| StreamingLocatorContentKey {
                id: *id,
                key_type: None,
                label_reference_in_streaming_policy: None,
                value: None,
                policy_name: None,
            })
            .collect(),
        start_time: None,
        end_time: None,
        streaming_locator_id: None,
        alternative_media_id: None,
        created: None,
    }
}

pub fn kid(n: u8) -> Uuid {
    Uuid::from_bytes([
        0x10, n, 0x3c, 0x5e, 0x71, 0x8a, 0x4b, 0x9d, 0xa2, 0xc4, 0xe6, n, 0x13, 0x57, 0x9b, 0xdf,
    ])
}
