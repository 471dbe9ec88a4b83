//! Fixtures shared by the store tests: a fresh database on each backend
//! ([`TestDb`], [`on_every_backend!`]), a fixed KEK and small valid entities.

#![allow(dead_code)]

use keys::model::{
    Asset, AssetStorage, ContentKey, ContentKeyPolicy, ContentKeyPolicyConfiguration,
    ContentKeyPolicyOption, ContentKeyPolicyRestriction, ContentKeyType, ContentKeyValue,
    ContentKeyWithValue, StreamingLocator, StreamingLocatorContentKey, StreamingPolicy, from_json,
};
use std::sync::Arc;
use store::{Kek, SqliteStore, Store};
use uuid::Uuid;

#[allow(unused_imports)] // only some test binaries use them
pub use store::testing::{POSTGRES_URL_ENV, postgres_server_url};

/// Runs each named `async fn(TestDb)` once on SQLite and once on Postgres,
/// as the tests `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::common::TestDb::sqlite()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres().await {
                    super::$name(db).await
                }
            }
        }
    )*};
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of one backend: a temporary data directory for
/// SQLite, a new database on the test server for Postgres. `open` may be
/// called again to reopen it (durability).
pub struct TestDb {
    pub backend: Backend,
    /// The data directory (SQLite's database lives there).
    pub dir: tempfile::TempDir,
    /// Postgres: the URL of this test's database.
    pub url: Option<String>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        TestDb {
            backend: Backend::Sqlite,
            dir: tempfile::tempdir().unwrap(),
            url: None,
        }
    }

    /// `None` (the test is skipped, saying so) when no Postgres is
    /// configured; a failure instead when `CI=true`, where the test script
    /// must have started one.
    pub async fn postgres() -> Option<TestDb> {
        Some(TestDb {
            backend: Backend::Postgres,
            dir: tempfile::tempdir().unwrap(),
            url: Some(store::testing::postgres_database().await?),
        })
    }

    /// The URL `store::open` takes for this database.
    pub fn store_url(&self) -> &str {
        self.url.as_deref().unwrap_or("")
    }

    pub async fn try_open_with(&self, kek: Kek) -> store::Result<Arc<dyn Store>> {
        store::open(self.store_url(), self.dir.path(), kek).await
    }

    pub async fn open_with(&self, kek: Kek) -> Arc<dyn Store> {
        self.try_open_with(kek).await.unwrap()
    }

    pub async fn open(&self) -> Arc<dyn Store> {
        self.open_with(self::kek()).await
    }

    /// A plain connection to this database, bypassing the store (to
    /// tamper with rows or read them raw).
    pub async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let url = match &self.url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}",
                self.dir.path().join(store::DB_FILE_NAME).display()
            ),
        };
        sqlx::AnyPool::connect(&url).await.unwrap()
    }
}

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
        key_rotation: None,
    }
}

pub fn kid(n: u8) -> Uuid {
    Uuid::from_bytes([
        0x10, n, 0x3c, 0x5e, 0x71, 0x8a, 0x4b, 0x9d, 0xa2, 0xc4, 0xe6, n, 0x13, 0x57, 0x9b, 0xdf,
    ])
}
