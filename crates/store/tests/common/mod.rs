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
