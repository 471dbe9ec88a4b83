//! castguard persistence behind one trait, [`Store`].
//!
//! Why one trait: a single node runs on the embedded SQLite store
//! ([`SqliteStore`]); many nodes share Postgres ([`PostgresStore`]). The API,
//! origin and key delivery code only see `Arc<dyn Store>`, so the choice is
//! configuration: [`open`] takes a database URL. Both are one implementation
//! ([`sql::SqlStore`]) over two migration folders.
//! The trait uses `async_trait` (boxed futures) rather than native `async fn`
//! because native async trait methods are not dyn-compatible, and one boxed
//! future per database round trip costs nothing next to the I/O.
//!
//! Semantics every implementation keeps:
//! - entities are the `keys::model` types, validated before they are written;
//!   each is an [`Entity`] too, so that code over all of them (the API's
//!   handlers, the CLI's verbs) is written once, generic over `E: Entity`;
//! - `put_*` is create-or-replace in one transaction and reports whether it
//!   created; server-assigned fields (`created`, `lastModified`, ids) are
//!   set by the store and kept across replaces;
//! - `list_*` pages in byte order of `name` ([`Page::after`] is exclusive);
//! - references are checked in the same transaction as the write: a locator
//!   must name an existing asset, streaming policy, content key policy and
//!   keys ([`StoreError::InvalidReference`]); deleting an entity still
//!   referenced is a [`StoreError::Conflict`] naming the referrer;
//! - content key values are stored only sealed under the [`Kek`]
//!   (AES-256-GCM, key ID as associated data), and so are content key
//!   policies, whose token keys are secrets too;
//! - token-use counters are atomic across tasks and nodes. Key delivery
//!   reaches them through [`TokenUses`]: in the database
//!   ([`StoreTokenUses`]) or, for many nodes, in Redis
//!   ([`redis::RedisTokenUses`]);
//! - every committed write is announced as a [`Change`] to the subscribers
//!   of every store on the same database ([`Store::subscribe`]), so nodes
//!   drop what they cached at once instead of waiting for a TTL;
//! - server secrets ([`Store::put_secret`]) are sealed under the KEK with
//!   their name as associated data and replaced by compare-and-swap.

#![forbid(unsafe_code)]

mod entity;
mod error;
pub mod kek;
pub mod media;
mod postgres;
pub mod redis;
pub mod sql;
mod sqlite;
pub mod stats;
pub mod testing;
mod token_uses;

pub use entity::{Entity, StoreFuture};
pub use error::{EntityKind, Result, StoreError};
pub use kek::{Kek, KekError, KekOrigin};
pub use media::{MediaStore, MediaStoreError};
pub use postgres::{
    CHANGE_CHANNEL, LISTENER_APPLICATION_NAME, PostgresBackend, PostgresStore, redact_url,
};
pub use sqlite::{DB_FILE_NAME, SqliteBackend, SqliteStore};
pub use stats::{Access, PoolObserver, PoolStats};
pub use token_uses::{StoreTokenUses, TokenUses};

use async_trait::async_trait;
use keys::model::{
    Asset, ContentKey, ContentKeyPolicy, ContentKeyWithValue, LiveEvent, LiveOutput,
    StreamingLocator, StreamingPolicy,
};
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::broadcast;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Opens the store named by `url`:
/// - empty, `sqlite:` or `sqlite://`: [`SqliteStore`] in `data_dir`
///   (`data_dir/castguard.db`, the single-node default);
/// - `postgres://` or `postgresql://`: [`PostgresStore`] on that database.
///
/// No error carries the URL's password ([`redact_url`]).
pub async fn open(url: &str, data_dir: &Path, kek: Kek) -> Result<Arc<dyn Store>> {
    let url = url.trim();
    if url.is_empty() || url == "sqlite:" || url == "sqlite://" {
        return Ok(Arc::new(SqliteStore::open(data_dir, kek).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::connect(url, kek).await?));
    }
    Err(StoreError::UnsupportedUrl {
        url: redact_url(url),
    })
}

/// A committed write, as announced to [`Store::subscribe`]rs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The entity (or secret) of that kind and name was created, replaced
    /// or deleted.
    Entity { kind: EntityKind, name: String },
    /// Changes may have been missed (the listener lost its connection to
    /// the database, or the subscriber lagged): treat everything as changed.
    Everything,
}

/// A secret as stored by [`Store::put_secret`]: the value and its version
/// (1 for the first write, +1 per replace). `Debug` shows the version only.
pub struct Secret {
    pub value: Zeroizing<Vec<u8>>,
    pub version: u64,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Default page size of `list_*`.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
/// Largest page size of `list_*`; larger requests are clamped.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// Which page of a listing: names strictly after `after`, at most `limit`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub after: Option<String>,
    pub limit: Option<u32>,
}

impl Page {
    pub fn first(limit: u32) -> Self {
        Page {
            after: None,
            limit: Some(limit),
        }
    }
    pub fn after(name: impl Into<String>, limit: u32) -> Self {
        Page {
            after: Some(name.into()),
            limit: Some(limit),
        }
    }
    /// The limit actually used: 1..=[`MAX_PAGE_LIMIT`].
    pub fn effective_limit(&self) -> u32 {
        self.limit
            .unwrap_or(DEFAULT_PAGE_LIMIT)
            .clamp(1, MAX_PAGE_LIMIT)
    }
}

/// One page of a listing, in name order. `next_after` is the `after` of the
/// next page, `None` on the last page.
#[derive(Clone, Debug, PartialEq)]
pub struct PageResult<T> {
    pub items: Vec<T>,
    pub next_after: Option<String>,
}

/// The outcome of a create-or-replace: the entity as stored (with
/// server-assigned fields) and whether it was new (HTTP 201 vs 200).
#[derive(Clone, Debug, PartialEq)]
pub struct Put<T> {
    pub created: bool,
    pub value: T,
}

/// One resource of a [`Store::import`].
#[derive(Clone, Debug)]
pub enum ImportItem {
    Asset(Asset),
    ContentKeyPolicy(ContentKeyPolicy),
    StreamingPolicy(StreamingPolicy),
    ContentKey(ContentKeyWithValue),
    StreamingLocator(StreamingLocator),
}

/// What a [`Store::import`] wrote (or, in a dry run, would write) for one
/// item: the entity as stored, with its server-assigned fields.
#[derive(Clone, Debug, PartialEq)]
pub enum Imported {
    Asset(Put<Asset>),
    ContentKeyPolicy(Put<ContentKeyPolicy>),
    StreamingPolicy(Put<StreamingPolicy>),
    ContentKey(Put<ContentKey>),
    StreamingLocator(Put<StreamingLocator>),
}

/// The persistence interface of castguard. See the crate docs for the rules
/// every implementation keeps.
#[async_trait]
pub trait Store: Send + Sync {
    // Assets.
    async fn get_asset(&self, name: &str) -> Result<Asset>;
    async fn list_assets(&self, page: &Page) -> Result<PageResult<Asset>>;
    async fn put_asset(&self, asset: Asset) -> Result<Put<Asset>>;
    /// `Ok(false)` when there was nothing to delete.
    async fn delete_asset(&self, name: &str) -> Result<bool>;

    // Content keys. Listing and `get_content_key` never return values.
    async fn get_content_key(&self, name: &str) -> Result<ContentKey>;
    async fn get_content_key_with_value(&self, name: &str) -> Result<ContentKeyWithValue>;
    /// For key delivery: the key with this KID, with its value.
    async fn get_content_key_by_key_id(&self, key_id: Uuid) -> Result<ContentKeyWithValue>;
    async fn list_content_keys(&self, page: &Page) -> Result<PageResult<ContentKey>>;
    async fn put_content_key(&self, key: ContentKeyWithValue) -> Result<Put<ContentKey>>;
    async fn delete_content_key(&self, name: &str) -> Result<bool>;

    // Content key policies (with their secrets; use
    // `ContentKeyPolicy::without_secrets` for plain responses).
    async fn get_content_key_policy(&self, name: &str) -> Result<ContentKeyPolicy>;
    async fn list_content_key_policies(&self, page: &Page) -> Result<PageResult<ContentKeyPolicy>>;
    async fn put_content_key_policy(
        &self,
        policy: ContentKeyPolicy,
    ) -> Result<Put<ContentKeyPolicy>>;
    async fn delete_content_key_policy(&self, name: &str) -> Result<bool>;

    // Streaming policies, including the four predefined ones (read-only).
    async fn get_streaming_policy(&self, name: &str) -> Result<StreamingPolicy>;
    async fn list_streaming_policies(&self, page: &Page) -> Result<PageResult<StreamingPolicy>>;
    async fn put_streaming_policy(&self, policy: StreamingPolicy) -> Result<Put<StreamingPolicy>>;
    async fn delete_streaming_policy(&self, name: &str) -> Result<bool>;

    // Streaming locators.
    async fn get_streaming_locator(&self, name: &str) -> Result<StreamingLocator>;
    /// For the origin: the locator whose `streamingLocatorId` prefixes the URL.
    async fn get_streaming_locator_by_id(&self, id: Uuid) -> Result<StreamingLocator>;
    async fn list_streaming_locators(&self, page: &Page) -> Result<PageResult<StreamingLocator>>;
    /// Inline `contentKeys[].value`s are refused: store them as content keys
    /// first (`StreamingLocator::take_inline_values`).
    async fn put_streaming_locator(
        &self,
        locator: StreamingLocator,
    ) -> Result<Put<StreamingLocator>>;
    async fn delete_streaming_locator(&self, name: &str) -> Result<bool>;

    /// Creates or replaces every item, in the order given, in one
    /// transaction: all of them or none ([`StoreError::InImport`] names the
    /// item that failed). Each item is checked and written as its `put_*`
    /// would, so an item may refer to one earlier in the list. `dry_run`
    /// does the same and rolls back: what it returns is what an import
    /// would do now. For moving a whole account (`castguard import`).
    async fn import(&self, items: Vec<ImportItem>, dry_run: bool) -> Result<Vec<Imported>>;
    // Live events. A put keeps the stored `resourceState` (only
    // `set_live_event_state` changes it); deleting an event that still has
    // outputs is a conflict.
    async fn get_live_event(&self, name: &str) -> Result<LiveEvent>;
    async fn list_live_events(&self, page: &Page) -> Result<PageResult<LiveEvent>>;
    async fn put_live_event(&self, event: LiveEvent) -> Result<Put<LiveEvent>>;
    async fn delete_live_event(&self, name: &str) -> Result<bool>;
    /// Sets the event's `resourceState`; returns the event as stored.
    async fn set_live_event_state(
        &self,
        name: &str,
        state: keys::model::LiveEventResourceState,
    ) -> Result<LiveEvent>;

    // Live outputs: each names an existing live event and asset (an asset
    // recorded into cannot be deleted).
    async fn get_live_output(&self, name: &str) -> Result<LiveOutput>;
    async fn list_live_outputs(&self, page: &Page) -> Result<PageResult<LiveOutput>>;
    /// The outputs of one live event, in name order.
    async fn live_outputs_of(&self, event: &str) -> Result<Vec<LiveOutput>>;
    async fn put_live_output(&self, output: LiveOutput) -> Result<Put<LiveOutput>>;
    async fn delete_live_output(&self, name: &str) -> Result<bool>;

    /// Counts one use of a token (`token_id`: e.g. SHA-256 of issuer and
    /// `jti`) and says whether it is allowed: `true` for the first
    /// `max_uses` calls, `false` after. Atomic: concurrent calls never allow
    /// more than `max_uses`. `expires_at` (the token's expiry) lets the store
    /// purge the counter once the token is dead.
    async fn consume_token_use(
        &self,
        token_id: &[u8; 32],
        max_uses: u32,
        expires_at: OffsetDateTime,
    ) -> Result<bool>;

    /// Deletes counters of tokens expired before `now`; returns how many.
    async fn purge_expired_token_uses(&self, now: OffsetDateTime) -> Result<u64>;

    /// The server secret `name` (e.g. the STS key ring), opened; `None`
    /// when it was never written.
    async fn get_secret(&self, name: &str) -> Result<Option<Secret>>;

    /// Compare-and-swap: writes `value` as the secret `name` only if its
    /// current version is `expected_version` (`None`: only if it does not
    /// exist yet). `Ok(false)` when another writer got there first: read it
    /// again and decide. Sealed under the KEK, `name` as associated data.
    async fn put_secret(
        &self,
        name: &str,
        value: &[u8],
        expected_version: Option<u64>,
    ) -> Result<bool>;

    /// Change events of every write to this database, this process's and
    /// (Postgres) every other node's, delivered after commit. `None` when
    /// the store cannot announce changes (then only TTLs bound staleness).
    /// A receiver that lags (`RecvError::Lagged`) must treat everything as
    /// changed.
    fn subscribe(&self) -> Option<broadcast::Receiver<Change>> {
        None
    }

    /// Cheap check that the database answers, for `/readyz`.
    async fn ping(&self) -> Result<()>;

    /// Which database: `"sqlite"`, `"postgres"` (a metrics label).
    fn database(&self) -> &'static str {
        "other"
    }

    /// The connection pools now, for metrics.
    fn pool_stats(&self) -> Vec<PoolStats> {
        Vec::new()
    }

    /// Reports every connection acquire's wait to `observer` from now on
    /// (replacing any earlier one).
    fn set_pool_observer(&self, _observer: Arc<dyn PoolObserver>) {}

    /// Flushes and closes (SQLite: checkpoints the WAL into the main file;
    /// Postgres: stops the change listener).
    async fn close(&self);
}
