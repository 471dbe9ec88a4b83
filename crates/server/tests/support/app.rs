//! The app the in-process delivery tests drive: a real SQLite store (keys
//! sealed under a fixed test KEK) in a temporary data directory, with the
//! delivery configuration's caches off so each request reads the store.

// Each test binary uses some of these.
#![allow(dead_code)]

use server::delivery::DeliveryConfig;
use server::{AdminToken, AppState};
use std::sync::Arc;
use std::time::Duration;

/// The delivery configuration of these tests: loopback, no cache; change
/// fields with struct update syntax.
pub fn config() -> DeliveryConfig {
    DeliveryConfig {
        cache_ttl: Duration::ZERO,
        ..DeliveryConfig::for_listen_addr("127.0.0.1:9")
    }
}

/// The app state and the data directory it lives in (removed on drop).
pub async fn state(admin: &str, config: DeliveryConfig) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let st = store::SqliteStore::open(dir.path(), store::Kek::from_bytes([9u8; 32]))
        .await
        .unwrap();
    let state = AppState::with_delivery(
        Arc::new(st),
        dir.path(),
        AdminToken::new(admin.into()).unwrap(),
        config,
    );
    (state, dir)
}

/// Stores a content key `name` (`kid`, `value`, type `t`) under `policy`.
pub async fn put_key(
    st: &dyn store::Store,
    name: &str,
    kid: uuid::Uuid,
    t: keys::model::ContentKeyType,
    value: [u8; 16],
    policy: &str,
) {
    use keys::model::{ContentKey, ContentKeyValue, ContentKeyWithValue};
    st.put_content_key(ContentKeyWithValue {
        key: ContentKey {
            name: name.into(),
            key_id: kid,
            key_type: t,
            label: None,
            policy_name: Some(policy.into()),
            created: None,
            last_modified: None,
        },
        value: ContentKeyValue::new(value),
    })
    .await
    .unwrap();
}
