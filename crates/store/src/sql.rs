//! [`SqlStore`]: the one implementation of [`Store`], shared by SQLite
//! ([`crate::SqliteStore`]) and Postgres ([`crate::PostgresStore`]).
//!
//! Why one: the rules of the crate docs (validation, create-or-replace,
//! reference checks naming the referrer, sealing under the KEK) must not
//! drift apart between the databases. The SQL is written once in the subset
//! both speak (`$n` placeholders, `ON CONFLICT`, `RETURNING`; TEXT, BLOB or
//! BYTEA, and 64-bit integers, which sqlx's `Any` driver maps to the same
//! Rust types) and runs on an `AnyPool`. What differs sits behind
//! [`Backend`]: how writers are serialised, how a committed change reaches
//! the other nodes, what happens at close. Each database keeps its own
//! migration folder (`migrations/sqlite`, `migrations/postgres`).

use crate::error::{EntityKind, Result, StoreError};
use crate::kek::Kek;
use crate::stats::{Access, PoolObserver, PoolStats};
use crate::{Change, Entity, ImportItem, Imported, Page, PageResult, Put, Secret, Store};
use async_trait::async_trait;
use keys::model::{
    Asset, ContentKey, ContentKeyPolicy, ContentKeyValue, ContentKeyWithValue, LiveEvent,
    LiveEventResourceState, LiveOutput, Problem, StreamingLocator, StreamingPolicy, Validate,
    ValidationError, predefined_streaming_policies,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Row, Transaction};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use time::OffsetDateTime;
use tokio::sync::broadcast;
use uuid::Uuid;
use zeroize::Zeroizing;

const KEY_DOMAIN: &[u8] = b"castguard/content-key-value";
const POLICY_DOMAIN: &[u8] = b"castguard/content-key-policy";
const SECRET_DOMAIN: &[u8] = b"castguard/secret";
const CHECK_DOMAIN: &[u8] = b"castguard/kek-check";
const CHECK_PLAINTEXT: &[u8] = b"castguard key-encryption key check";
/// Seconds between purges of expired token-use counters.
const PURGE_INTERVAL_SECS: i64 = 60;
/// Changes buffered per subscriber; one that falls further behind gets
/// `RecvError::Lagged` and must treat everything as changed.
const CHANGE_CAPACITY: usize = 1024;

/// A write transaction on either database.
pub type Tx = Transaction<'static, Any>;

/// What differs between the databases under [`SqlStore`]. Implemented by
/// this crate only.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Begins a write transaction that is serialised with every other
    /// writer of the database (so check-then-write stays correct).
    async fn begin(&self, writer: &AnyPool) -> Result<Tx>;
    /// Makes `change` known to other processes when `tx` commits.
    async fn announce(&self, tx: &mut Tx, change: &Change) -> Result<()>;
    /// Runs once before the pools close.
    async fn before_close(&self, writer: &AnyPool);
    /// The database's name as a metrics label.
    const DATABASE: &'static str;
    /// Whether reads and writes share one pool (`reader` and `writer` are
    /// clones).
    const SHARED_POOL: bool;
}

/// The [`Store`] over one database; see the module docs.
pub struct SqlStore<B> {
    pub(crate) writer: AnyPool,
    pub(crate) reader: AnyPool,
    kek: Kek,
    last_purge: AtomicI64,
    changes: broadcast::Sender<Change>,
    pub(crate) backend: B,
    /// Told how long each acquire waited (metrics).
    observer: RwLock<Option<Arc<dyn PoolObserver>>>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for SqlStore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// The sender of a store's change events, made before the store so that a
/// backend's listener can feed it.
pub(crate) fn change_channel() -> broadcast::Sender<Change> {
    broadcast::channel(CHANGE_CAPACITY).0
}

impl<B: Backend> SqlStore<B> {
    /// Takes over migrated pools: checks that `kek` is the one the database
    /// was sealed with ([`StoreError::WrongKek`] otherwise) and installs the
    /// predefined streaming policies. Closes the pools on failure.
    pub(crate) async fn start(
        writer: AnyPool,
        reader: AnyPool,
        kek: Kek,
        backend: B,
        changes: broadcast::Sender<Change>,
    ) -> Result<Self> {
        let store = SqlStore {
            writer,
            reader,
            kek,
            last_purge: AtomicI64::new(0),
            changes,
            backend,
            observer: RwLock::new(None),
        };
        let checked = match store.check_kek().await {
            Ok(()) => store.install_predefined().await,
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    async fn begin(&self) -> Result<Tx> {
        let started = Instant::now();
        let tx = self.backend.begin(&self.writer).await;
        self.waited(Access::Write, started);
        tx
    }

    /// A reader connection, its wait reported.
    async fn read(&self) -> Result<PoolConnection<Any>> {
        self.acquire(&self.reader, Access::Read).await
    }

    /// A writer connection (single statements), its wait reported.
    async fn write(&self) -> Result<PoolConnection<Any>> {
        self.acquire(&self.writer, Access::Write).await
    }

    async fn acquire(&self, pool: &AnyPool, access: Access) -> Result<PoolConnection<Any>> {
        let started = Instant::now();
        let conn = pool.acquire().await;
        self.waited(access, started);
        Ok(conn?)
    }

    fn waited(&self, access: Access, since: Instant) {
        let observer = self.observer.read().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = observer.as_ref() {
            o.acquired(access, since.elapsed());
        }
    }

    /// Commits `tx`; `change`, if any, is announced in the transaction and
    /// sent to this process's subscribers after the commit.
    async fn commit(&self, mut tx: Tx, change: Option<Change>) -> Result<()> {
        if let Some(c) = &change {
            self.backend.announce(&mut tx, c).await?;
        }
        tx.commit().await?;
        if let Some(c) = change {
            let _ = self.changes.send(c);
        }
        Ok(())
    }

    /// First open: store a sealed check value. Later opens: it must open.
    async fn check_kek(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        let existing: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind("kek_check")
            .fetch_optional(&mut *tx)
            .await?;
        match existing {
            Some(sealed) => match self.kek.open(CHECK_DOMAIN, b"", &sealed) {
                Ok(p) if p.as_slice() == CHECK_PLAINTEXT => Ok(()),
                _ => Err(StoreError::WrongKek),
            },
            None => {
                let sealed =
                    self.kek
                        .seal(CHECK_DOMAIN, b"", CHECK_PLAINTEXT)
                        .map_err(|source| StoreError::Crypto {
                            kind: EntityKind::ContentKey,
                            name: "kek_check".into(),
                            source,
                        })?;
                sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                    .bind("kek_check")
                    .bind(sealed)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    }

    /// Idempotent, and safe when several nodes start at once: the write
    /// transaction serialises them and the upsert never fails on a row
    /// another node installed.
    async fn install_predefined(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        for p in predefined_streaming_policies() {
            let body = to_json(EntityKind::StreamingPolicy, &p.name, &p)?;
            sqlx::query(
                "INSERT INTO streaming_policies (name, predefined, body) VALUES ($1, 1, $2) \
                 ON CONFLICT (name) DO UPDATE SET predefined = 1, body = excluded.body",
            )
            .bind(&p.name)
            .bind(body)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The entity `name` of table `E`.
    async fn get_row<E: Table>(&self, name: &str) -> Result<E> {
        let sql = format!("SELECT {} FROM {} WHERE name = $1", E::BODY, E::TABLE);
        let body: Option<E::Body> = sqlx::query_scalar(trusted(sql))
            .bind(name)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        let body = body.ok_or_else(|| not_found(E::KIND, name))?;
        E::open(&self.kek, name, &body)
    }

    /// The entity `name` of table `E` as it is in `tx`, before a write.
    async fn old_row<E: Table>(&self, tx: &mut Tx, name: &str) -> Result<Option<E>> {
        let sql = format!("SELECT {} FROM {} WHERE name = $1", E::BODY, E::TABLE);
        let body: Option<E::Body> = sqlx::query_scalar(trusted(sql))
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
        body.map(|b| E::open(&self.kek, name, &b)).transpose()
    }

    /// Creates or replaces the entity `name` in a table whose columns are
    /// only `name` and `BODY`.
    async fn write_row<E: Table>(&self, tx: &mut Tx, name: &str, value: &E) -> Result<()> {
        let sql = format!(
            "INSERT INTO {table} (name, {body}) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET {body} = excluded.{body}",
            table = E::TABLE,
            body = E::BODY
        );
        sqlx::query(trusted(sql))
            .bind(name)
            .bind(E::seal(&self.kek, name, value)?)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn list_rows<E: Table>(&self, page: &Page) -> Result<PageResult<E>> {
        let sql = format!(
            "SELECT name, {} FROM {} WHERE name > $1 ORDER BY name LIMIT $2",
            E::BODY,
            E::TABLE
        );
        let limit = page.effective_limit();
        let rows = sqlx::query(trusted(sql))
            .bind(page.after.as_deref().unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *self.read().await?)
            .await?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut items = Vec::with_capacity(rows.len().min(limit));
        let mut last = None;
        for row in rows.iter().take(limit) {
            let name = row.try_get::<String, _>(0)?;
            items.push(E::open(&self.kek, &name, &row.try_get::<E::Body, _>(1)?)?);
            last = Some(name);
        }
        let next_after = last.filter(|_| rows.len() > limit);
        Ok(PageResult { items, next_after })
    }

    /// Deletes the entity `name` of table `E` unless it is read-only or
    /// referenced (a conflict naming the first referrer).
    async fn delete_row<E: Table>(&self, name: &str) -> Result<bool> {
        if let Some(reason) = E::read_only(name) {
            return Err(conflict(E::KIND, name, reason));
        }
        let mut tx = self.begin().await?;
        for (referrer, sql) in E::REFERRERS {
            if let Some(r) = first_name(&mut tx, sql, name.to_owned()).await? {
                return Err(conflict(E::KIND, name, format!("used by {referrer} '{r}'")));
            }
        }
        let sql = format!(
            "DELETE FROM {} WHERE name = $1{}",
            E::TABLE,
            E::DELETE_FILTER
        );
        let n = sqlx::query(trusted(sql))
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.commit(tx, changed(E::KIND, name).filter(|_| n > 0))
            .await?;
        Ok(n > 0)
    }

    fn unwrap_value(&self, name: &str, kid: &Uuid, wrapped: &[u8]) -> Result<ContentKeyValue> {
        let bytes = self
            .kek
            .open(KEY_DOMAIN, kid.as_bytes(), wrapped)
            .map_err(|source| StoreError::Crypto {
                kind: EntityKind::ContentKey,
                name: name.into(),
                source,
            })?;
        ContentKeyValue::from_slice("value", &bytes)
            .map_err(|e| corrupt(EntityKind::ContentKey, name, e))
    }

    fn content_key_from_row(&self, row: &AnyRow) -> Result<ContentKeyWithValue> {
        let name: String = row.try_get("name")?;
        let key: ContentKey = from_json(
            EntityKind::ContentKey,
            &name,
            &row.try_get::<String, _>("body")?,
        )?;
        let kid_col: Vec<u8> = row.try_get("key_id")?;
        if kid_col.as_slice() != key.key_id.as_bytes() {
            return Err(StoreError::Corrupt {
                kind: EntityKind::ContentKey,
                name,
                reason: "key_id column and body disagree".into(),
            });
        }
        let value = self.unwrap_value(
            &name,
            &key.key_id,
            &row.try_get::<Vec<u8>, _>("wrapped_value")?,
        )?;
        Ok(ContentKeyWithValue { key, value })
    }

    async fn maybe_purge(&self, now: i64) -> Result<()> {
        let last = self.last_purge.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= PURGE_INTERVAL_SECS
            && self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            sqlx::query("DELETE FROM token_uses WHERE expires_at < $1")
                .bind(now)
                .execute(&mut *self.write().await?)
                .await?;
        }
        Ok(())
    }
}

fn changed(kind: EntityKind, name: &str) -> Option<Change> {
    Some(Change::Entity {
        kind,
        name: name.into(),
    })
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn corrupt(kind: EntityKind, name: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        kind,
        name: name.into(),
        reason: e.to_string(),
    }
}

fn to_json<T: Serialize>(kind: EntityKind, name: &str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt(kind, name, e))
}

fn from_json<T: DeserializeOwned>(kind: EntityKind, name: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(kind, name, e))
}

fn check<T: Validate>(kind: EntityKind, v: &T) -> Result<()> {
    v.validate()
        .map_err(|source| StoreError::Invalid { kind, source })
}

fn not_found(kind: EntityKind, name: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        name: name.into(),
    }
}

fn conflict(kind: EntityKind, name: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Conflict {
        kind,
        name: name.into(),
        reason: reason.into(),
    }
}

/// The first name a query returns, for naming a referrer in a conflict.
async fn first_name(
    tx: &mut Tx,
    sql: &'static str,
    key: impl for<'q> sqlx::Encode<'q, Any> + sqlx::Type<Any> + Send,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(sql)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?)
}

/// What the generic reads and deletes of [`SqlStore`] know of an entity's
/// table; writes stay per entity (sealing, links, server-assigned ids).
trait Table: Entity {
    const TABLE: &'static str;
    /// The column holding the entity: its JSON, or the JSON sealed under
    /// the KEK for an entity with secrets.
    const BODY: &'static str = "body";
    type Body: for<'r> sqlx::Decode<'r, Any>
        + for<'q> sqlx::Encode<'q, Any>
        + sqlx::Type<Any>
        + Send
        + Unpin
        + 'static;
    /// Queries of the first entity referring to this one (`$1`: its name):
    /// a delete is refused while one answers.
    const REFERRERS: &'static [(EntityKind, &'static str)] = &[];
    /// More conditions of a delete (`AND ...`).
    const DELETE_FILTER: &'static str = "";
    /// The entity from its `BODY` column.
    fn open(kek: &Kek, name: &str, body: &Self::Body) -> Result<Self>;
    /// The `BODY` column of the entity `name`: the inverse of `open`.
    fn seal(kek: &Kek, name: &str, value: &Self) -> Result<Self::Body>;
    /// Why the entity `name` can never be replaced or deleted.
    fn read_only(_name: &str) -> Option<&'static str> {
        None
    }
}

impl Table for Asset {
    const TABLE: &'static str = "assets";
    type Body = String;
    const REFERRERS: &'static [(EntityKind, &'static str)] = &[
        (
            EntityKind::StreamingLocator,
            "SELECT name FROM streaming_locators WHERE asset_name = $1 ORDER BY name LIMIT 1",
        ),
        (
            EntityKind::LiveOutput,
            "SELECT name FROM live_outputs WHERE asset_name = $1 ORDER BY name LIMIT 1",
        ),
    ];
    fn open(_: &Kek, name: &str, body: &String) -> Result<Self> {
        from_json(Self::KIND, name, body)
    }
    fn seal(_: &Kek, name: &str, value: &Self) -> Result<String> {
        to_json(Self::KIND, name, value)
    }
}

impl Table for ContentKey {
    const TABLE: &'static str = "content_keys";
    type Body = String;
    const REFERRERS: &'static [(EntityKind, &'static str)] = &[(
        EntityKind::StreamingLocator,
        "SELECT l.locator_name FROM streaming_locator_keys l JOIN content_keys k ON k.key_id = l.key_id \
         WHERE k.name = $1 ORDER BY l.locator_name LIMIT 1",
    )];
    fn open(_: &Kek, name: &str, body: &String) -> Result<Self> {
        from_json(Self::KIND, name, body)
    }
    fn seal(_: &Kek, name: &str, value: &Self) -> Result<String> {
        to_json(Self::KIND, name, value)
    }
}

impl Table for ContentKeyPolicy {
    const TABLE: &'static str = "content_key_policies";
    const BODY: &'static str = "body_sealed";
    type Body = Vec<u8>;
    const REFERRERS: &'static [(EntityKind, &'static str)] = &[
        (
            EntityKind::ContentKey,
            "SELECT name FROM content_keys WHERE policy_name = $1 ORDER BY name LIMIT 1",
        ),
        (
            EntityKind::StreamingPolicy,
            "SELECT streaming_policy_name FROM streaming_policy_key_policies WHERE content_key_policy_name = $1 \
             ORDER BY streaming_policy_name LIMIT 1",
        ),
        (
            EntityKind::StreamingLocator,
            "SELECT name FROM streaming_locators WHERE default_content_key_policy_name = $1 ORDER BY name LIMIT 1",
        ),
    ];
    fn open(kek: &Kek, name: &str, sealed: &Vec<u8>) -> Result<Self> {
        let json = kek
            .open(POLICY_DOMAIN, name.as_bytes(), sealed)
            .map_err(|source| StoreError::Crypto {
                kind: Self::KIND,
                name: name.into(),
                source,
            })?;
        serde_json::from_slice(&json).map_err(|e| corrupt(Self::KIND, name, e))
    }
    fn seal(kek: &Kek, name: &str, value: &Self) -> Result<Vec<u8>> {
        let json = Zeroizing::new(to_json(Self::KIND, name, value)?);
        kek.seal(POLICY_DOMAIN, name.as_bytes(), json.as_bytes())
            .map_err(|source| StoreError::Crypto {
                kind: Self::KIND,
                name: name.into(),
                source,
            })
    }
}

impl Table for StreamingPolicy {
    const TABLE: &'static str = "streaming_policies";
    type Body = String;
    const REFERRERS: &'static [(EntityKind, &'static str)] = &[(
        EntityKind::StreamingLocator,
        "SELECT name FROM streaming_locators WHERE streaming_policy_name = $1 ORDER BY name LIMIT 1",
    )];
    const DELETE_FILTER: &'static str = " AND predefined = 0";
    fn open(_: &Kek, name: &str, body: &String) -> Result<Self> {
        from_json(Self::KIND, name, body)
    }
    fn seal(_: &Kek, name: &str, value: &Self) -> Result<String> {
        to_json(Self::KIND, name, value)
    }
    fn read_only(name: &str) -> Option<&'static str> {
        StreamingPolicy::is_predefined_name(name)
            .then_some("predefined streaming policies are read-only")
    }
}

impl Table for StreamingLocator {
    const TABLE: &'static str = "streaming_locators";
    type Body = String;
    fn open(_: &Kek, name: &str, body: &String) -> Result<Self> {
        from_json(Self::KIND, name, body)
    }
    fn seal(_: &Kek, name: &str, value: &Self) -> Result<String> {
        to_json(Self::KIND, name, value)
    }
}

impl Table for LiveEvent {
    const TABLE: &'static str = "live_events";
    type Body = String;
    const REFERRERS: &'static [(EntityKind, &'static str)] = &[(
        EntityKind::LiveOutput,
        "SELECT name FROM live_outputs WHERE live_event_name = $1 ORDER BY name LIMIT 1",
    )];
    fn open(_: &Kek, name: &str, body: &String) -> Result<Self> {
        from_json(Self::KIND, name, body)
    }
    fn seal(_: &Kek, name: &str, value: &Self) -> Result<String> {
        to_json(Self::KIND, name, value)
    }
}

impl Table for LiveOutput {
    const TABLE: &'static str = "live_outputs";
    type Body = String;
    fn open(_: &Kek, name: &str, body: &String) -> Result<Self> {
        from_json(Self::KIND, name, body)
    }
    fn seal(_: &Kek, name: &str, value: &Self) -> Result<String> {
        to_json(Self::KIND, name, value)
    }
}

/// SQL assembled from [`Table`] constants only, never from input: there
/// is nothing to inject.
fn trusted(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// Refuses a write naming the entity `name` of table `E` when there is none.
async fn require<E: Table>(tx: &mut Tx, field: &str, name: &str) -> Result<()> {
    let sql = format!("SELECT 1 FROM {} WHERE name = $1", E::TABLE);
    let found = sqlx::query(trusted(sql))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    if found {
        return Ok(());
    }
    Err(StoreError::InvalidReference {
        field: field.into(),
        kind: E::KIND,
        name: name.into(),
    })
}

/// The create-or-replace of each entity inside a caller's transaction:
/// the `put_*` of [`Store`] wrap one in its own, [`Store::import`] runs
/// many in one.
impl<B: Backend> SqlStore<B> {
    async fn put_asset_in(&self, tx: &mut Tx, mut asset: Asset) -> Result<Put<Asset>> {
        check(EntityKind::Asset, &asset)?;
        let old = self.old_row::<Asset>(tx, &asset.name).await?;
        let now = now();
        let created = match old {
            Some(old) => {
                asset.created = old.created.or(Some(now));
                asset.asset_id = old.asset_id.or_else(|| Some(Uuid::new_v4()));
                false
            }
            None => {
                asset.created = Some(now);
                asset.asset_id = Some(Uuid::new_v4());
                true
            }
        };
        asset.last_modified = Some(now);
        self.write_row(tx, &asset.name, &asset).await?;
        Ok(Put {
            created,
            value: asset,
        })
    }

    async fn put_content_key_in(
        &self,
        tx: &mut Tx,
        key: ContentKeyWithValue,
    ) -> Result<Put<ContentKey>> {
        check(EntityKind::ContentKey, &key)?;
        let ContentKeyWithValue {
            key: mut meta,
            value,
        } = key;
        let name = meta.name.clone();
        let kid = meta.key_id;
        if let Some(p) = &meta.policy_name {
            require::<ContentKeyPolicy>(tx, "policyName", p).await?;
        }
        let other: Option<String> =
            sqlx::query_scalar("SELECT name FROM content_keys WHERE key_id = $1 AND name <> $2")
                .bind(kid.as_bytes().as_slice())
                .bind(&name)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some(other) = other {
            return Err(conflict(
                EntityKind::ContentKey,
                &name,
                format!("keyId {kid} is already used by content key '{other}'"),
            ));
        }
        let old = sqlx::query(
            "SELECT name, key_id, wrapped_value, body FROM content_keys WHERE name = $1",
        )
        .bind(&name)
        .fetch_optional(&mut **tx)
        .await?;
        let now = now();
        let created = match old {
            Some(row) => {
                let old = self.content_key_from_row(&row)?;
                let changed = old.key.key_id != kid || old.value != value;
                if changed
                    && let Some(l) = first_name(
                        tx,
                        "SELECT locator_name FROM streaming_locator_keys WHERE key_id = $1 ORDER BY locator_name LIMIT 1",
                        old.key.key_id.as_bytes().to_vec(),
                    )
                    .await?
                    {
                        return Err(conflict(
                            EntityKind::ContentKey,
                            &name,
                            format!("used by streaming locator '{l}': its keyId and value cannot change"),
                        ));
                    }
                meta.created = old.key.created.or(Some(now));
                false
            }
            None => {
                meta.created = Some(now);
                true
            }
        };
        meta.last_modified = Some(now);
        let wrapped = self
            .kek
            .seal(KEY_DOMAIN, kid.as_bytes(), value.expose())
            .map_err(|source| StoreError::Crypto {
                kind: EntityKind::ContentKey,
                name: name.clone(),
                source,
            })?;
        let body = to_json(EntityKind::ContentKey, &name, &meta)?;
        sqlx::query(
            "INSERT INTO content_keys (name, key_id, key_type, policy_name, wrapped_value, body) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, key_type = excluded.key_type, \
             policy_name = excluded.policy_name, wrapped_value = excluded.wrapped_value, body = excluded.body",
        )
        .bind(&name)
        .bind(kid.as_bytes().as_slice())
        .bind(meta.key_type.as_str())
        .bind(meta.policy_name.as_deref())
        .bind(wrapped)
        .bind(body)
        .execute(&mut **tx)
        .await?;
        Ok(Put {
            created,
            value: meta,
        })
    }

    async fn put_content_key_policy_in(
        &self,
        tx: &mut Tx,
        mut policy: ContentKeyPolicy,
    ) -> Result<Put<ContentKeyPolicy>> {
        check(EntityKind::ContentKeyPolicy, &policy)?;
        let old = self.old_row::<ContentKeyPolicy>(tx, &policy.name).await?;
        let now = now();
        let created = match old {
            Some(old) => {
                policy.created = old.created.or(Some(now));
                policy.policy_id = old.policy_id.or_else(|| Some(Uuid::new_v4()));
                false
            }
            None => {
                policy.created = Some(now);
                // An imported policy keeps the id it had (the retired
                // service's `policyId`); a new one gets its own.
                policy.policy_id.get_or_insert_with(Uuid::new_v4);
                true
            }
        };
        policy.last_modified = Some(now);
        for o in &mut policy.options {
            o.policy_option_id.get_or_insert_with(Uuid::new_v4);
        }
        self.write_row(tx, &policy.name, &policy).await?;
        Ok(Put {
            created,
            value: policy,
        })
    }

    async fn put_streaming_policy_in(
        &self,
        tx: &mut Tx,
        mut policy: StreamingPolicy,
    ) -> Result<Put<StreamingPolicy>> {
        let kind = EntityKind::StreamingPolicy;
        check(kind, &policy)?;
        if let Some(reason) = StreamingPolicy::read_only(&policy.name) {
            return Err(conflict(kind, &policy.name, reason));
        }
        let refs: Vec<String> = policy
            .referenced_content_key_policies()
            .into_iter()
            .map(str::to_owned)
            .collect();
        for r in &refs {
            let field = if policy.default_content_key_policy_name.as_deref() == Some(r.as_str()) {
                "defaultContentKeyPolicyName"
            } else {
                "contentKeys.policyName"
            };
            require::<ContentKeyPolicy>(tx, field, r).await?;
        }
        let old = self.old_row::<StreamingPolicy>(tx, &policy.name).await?;
        let now = now();
        let created = match old {
            Some(old) => {
                policy.created = old.created.or(Some(now));
                false
            }
            None => {
                policy.created = Some(now);
                true
            }
        };
        // `predefined` defaults to 0; predefined rows never get here.
        self.write_row(tx, &policy.name, &policy).await?;
        sqlx::query("DELETE FROM streaming_policy_key_policies WHERE streaming_policy_name = $1")
            .bind(&policy.name)
            .execute(&mut **tx)
            .await?;
        for r in &refs {
            sqlx::query("INSERT INTO streaming_policy_key_policies (streaming_policy_name, content_key_policy_name) VALUES ($1, $2)")
                .bind(&policy.name)
                .bind(r)
                .execute(&mut **tx)
                .await?;
        }
        Ok(Put {
            created,
            value: policy,
        })
    }

    async fn put_streaming_locator_in(
        &self,
        tx: &mut Tx,
        mut locator: StreamingLocator,
    ) -> Result<Put<StreamingLocator>> {
        let kind = EntityKind::StreamingLocator;
        check(kind, &locator)?;
        if let Some(i) = locator.content_keys.iter().position(|k| k.value.is_some()) {
            return Err(StoreError::Invalid {
                kind,
                source: ValidationError {
                    field: format!("contentKeys[{i}].value"),
                    problem: Problem::Unsupported("store inline key values as content keys first"),
                },
            });
        }
        let name = locator.name.clone();
        let old = self.old_row::<StreamingLocator>(tx, &name).await?;
        let now = now();
        let (created, old_id, old_created) = match old {
            Some(old) => (false, old.streaming_locator_id, old.created),
            None => (true, None, None),
        };
        let id = locator
            .streaming_locator_id
            .or(old_id)
            .unwrap_or_else(Uuid::new_v4);
        locator.streaming_locator_id = Some(id);
        locator.created = old_created.or(Some(now));
        let other: Option<String> = sqlx::query_scalar(
            "SELECT name FROM streaming_locators WHERE locator_id = $1 AND name <> $2",
        )
        .bind(id.as_bytes().as_slice())
        .bind(&name)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(other) = other {
            return Err(conflict(
                kind,
                &name,
                format!("streamingLocatorId {id} is already used by streaming locator '{other}'"),
            ));
        }
        require::<Asset>(tx, "assetName", &locator.asset_name).await?;
        require::<StreamingPolicy>(tx, "streamingPolicyName", &locator.streaming_policy_name)
            .await?;
        if let Some(p) = &locator.default_content_key_policy_name {
            require::<ContentKeyPolicy>(tx, "defaultContentKeyPolicyName", p).await?;
        }
        // Row first, then its key links: a missing key found while linking
        // rolls back the row as well (the transaction is dropped uncommitted).
        let provisional = to_json(kind, &name, &locator)?;
        sqlx::query(
            "INSERT INTO streaming_locators (name, locator_id, asset_name, streaming_policy_name, default_content_key_policy_name, body) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name) DO UPDATE SET locator_id = excluded.locator_id, asset_name = excluded.asset_name, \
             streaming_policy_name = excluded.streaming_policy_name, \
             default_content_key_policy_name = excluded.default_content_key_policy_name, body = excluded.body",
        )
        .bind(&name)
        .bind(id.as_bytes().as_slice())
        .bind(&locator.asset_name)
        .bind(&locator.streaming_policy_name)
        .bind(locator.default_content_key_policy_name.as_deref())
        .bind(provisional)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM streaming_locator_keys WHERE locator_name = $1")
            .bind(&name)
            .execute(&mut **tx)
            .await?;
        for (i, k) in locator.content_keys.iter_mut().enumerate() {
            let policy: Option<Option<String>> =
                sqlx::query_scalar("SELECT policy_name FROM content_keys WHERE key_id = $1")
                    .bind(k.id.as_bytes().as_slice())
                    .fetch_optional(&mut **tx)
                    .await?;
            let Some(policy) = policy else {
                return Err(StoreError::InvalidReference {
                    field: format!("contentKeys[{i}].id"),
                    kind: EntityKind::ContentKey,
                    name: k.id.to_string(),
                });
            };
            k.policy_name = policy;
            sqlx::query(
                "INSERT INTO streaming_locator_keys (locator_name, key_id) VALUES ($1, $2)",
            )
            .bind(&name)
            .bind(k.id.as_bytes().as_slice())
            .execute(&mut **tx)
            .await?;
        }
        let body = to_json(kind, &name, &locator)?;
        sqlx::query("UPDATE streaming_locators SET body = $1 WHERE name = $2")
            .bind(body)
            .bind(&name)
            .execute(&mut **tx)
            .await?;
        Ok(Put {
            created,
            value: locator,
        })
    }
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    async fn get_asset(&self, name: &str) -> Result<Asset> {
        self.get_row(name).await
    }

    async fn list_assets(&self, page: &Page) -> Result<PageResult<Asset>> {
        self.list_rows(page).await
    }

    async fn put_asset(&self, value: Asset) -> Result<Put<Asset>> {
        let mut tx = self.begin().await?;
        let put = self.put_asset_in(&mut tx, value).await?;
        self.commit(tx, changed(EntityKind::Asset, &put.value.name))
            .await?;
        Ok(put)
    }

    async fn delete_asset(&self, name: &str) -> Result<bool> {
        self.delete_row::<Asset>(name).await
    }

    async fn get_content_key(&self, name: &str) -> Result<ContentKey> {
        self.get_row(name).await
    }

    async fn get_content_key_with_value(&self, name: &str) -> Result<ContentKeyWithValue> {
        let row = sqlx::query(
            "SELECT name, key_id, wrapped_value, body FROM content_keys WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&mut *self.read().await?)
        .await?
        .ok_or_else(|| not_found(EntityKind::ContentKey, name))?;
        self.content_key_from_row(&row)
    }

    async fn get_content_key_by_key_id(&self, key_id: Uuid) -> Result<ContentKeyWithValue> {
        let row = sqlx::query(
            "SELECT name, key_id, wrapped_value, body FROM content_keys WHERE key_id = $1",
        )
        .bind(key_id.as_bytes().as_slice())
        .fetch_optional(&mut *self.read().await?)
        .await?
        .ok_or_else(|| not_found(EntityKind::ContentKey, &key_id.to_string()))?;
        self.content_key_from_row(&row)
    }

    async fn list_content_keys(&self, page: &Page) -> Result<PageResult<ContentKey>> {
        self.list_rows(page).await
    }

    async fn put_content_key(&self, value: ContentKeyWithValue) -> Result<Put<ContentKey>> {
        let mut tx = self.begin().await?;
        let put = self.put_content_key_in(&mut tx, value).await?;
        self.commit(tx, changed(EntityKind::ContentKey, &put.value.name))
            .await?;
        Ok(put)
    }

    async fn delete_content_key(&self, name: &str) -> Result<bool> {
        self.delete_row::<ContentKey>(name).await
    }

    async fn get_content_key_policy(&self, name: &str) -> Result<ContentKeyPolicy> {
        self.get_row(name).await
    }

    async fn list_content_key_policies(&self, page: &Page) -> Result<PageResult<ContentKeyPolicy>> {
        self.list_rows(page).await
    }

    async fn put_content_key_policy(
        &self,
        value: ContentKeyPolicy,
    ) -> Result<Put<ContentKeyPolicy>> {
        let mut tx = self.begin().await?;
        let put = self.put_content_key_policy_in(&mut tx, value).await?;
        self.commit(tx, changed(EntityKind::ContentKeyPolicy, &put.value.name))
            .await?;
        Ok(put)
    }

    async fn delete_content_key_policy(&self, name: &str) -> Result<bool> {
        self.delete_row::<ContentKeyPolicy>(name).await
    }

    async fn get_streaming_policy(&self, name: &str) -> Result<StreamingPolicy> {
        self.get_row(name).await
    }

    async fn list_streaming_policies(&self, page: &Page) -> Result<PageResult<StreamingPolicy>> {
        self.list_rows(page).await
    }

    async fn put_streaming_policy(&self, value: StreamingPolicy) -> Result<Put<StreamingPolicy>> {
        let mut tx = self.begin().await?;
        let put = self.put_streaming_policy_in(&mut tx, value).await?;
        self.commit(tx, changed(EntityKind::StreamingPolicy, &put.value.name))
            .await?;
        Ok(put)
    }

    async fn delete_streaming_policy(&self, name: &str) -> Result<bool> {
        self.delete_row::<StreamingPolicy>(name).await
    }

    async fn get_streaming_locator(&self, name: &str) -> Result<StreamingLocator> {
        self.get_row(name).await
    }

    async fn get_streaming_locator_by_id(&self, id: Uuid) -> Result<StreamingLocator> {
        let row = sqlx::query("SELECT name, body FROM streaming_locators WHERE locator_id = $1")
            .bind(id.as_bytes().as_slice())
            .fetch_optional(&mut *self.read().await?)
            .await?
            .ok_or_else(|| not_found(EntityKind::StreamingLocator, &id.to_string()))?;
        let name: String = row.try_get("name")?;
        from_json(
            EntityKind::StreamingLocator,
            &name,
            &row.try_get::<String, _>("body")?,
        )
    }

    async fn list_streaming_locators(&self, page: &Page) -> Result<PageResult<StreamingLocator>> {
        self.list_rows(page).await
    }

    async fn put_streaming_locator(
        &self,
        value: StreamingLocator,
    ) -> Result<Put<StreamingLocator>> {
        let mut tx = self.begin().await?;
        let put = self.put_streaming_locator_in(&mut tx, value).await?;
        self.commit(tx, changed(EntityKind::StreamingLocator, &put.value.name))
            .await?;
        Ok(put)
    }

    async fn delete_streaming_locator(&self, name: &str) -> Result<bool> {
        self.delete_row::<StreamingLocator>(name).await
    }

    async fn import(&self, items: Vec<ImportItem>, dry_run: bool) -> Result<Vec<Imported>> {
        let mut tx = self.begin().await?;
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let r = match item {
                ImportItem::Asset(v) => self.put_asset_in(&mut tx, v).await.map(Imported::Asset),
                ImportItem::ContentKeyPolicy(v) => self
                    .put_content_key_policy_in(&mut tx, v)
                    .await
                    .map(Imported::ContentKeyPolicy),
                ImportItem::StreamingPolicy(v) => self
                    .put_streaming_policy_in(&mut tx, v)
                    .await
                    .map(Imported::StreamingPolicy),
                ImportItem::ContentKey(v) => self
                    .put_content_key_in(&mut tx, v)
                    .await
                    .map(Imported::ContentKey),
                ImportItem::StreamingLocator(v) => self
                    .put_streaming_locator_in(&mut tx, v)
                    .await
                    .map(Imported::StreamingLocator),
            };
            match r {
                Ok(done) => out.push(done),
                // Dropping `tx` uncommitted rolls back every earlier item.
                Err(e) => {
                    return Err(StoreError::InImport {
                        index,
                        source: Box::new(e),
                    });
                }
            }
        }
        if dry_run {
            tx.rollback().await?;
        } else if !out.is_empty() {
            self.commit(tx, Some(Change::Everything)).await?;
        }
        Ok(out)
    }

    async fn get_live_event(&self, name: &str) -> Result<LiveEvent> {
        self.get_row(name).await
    }

    async fn list_live_events(&self, page: &Page) -> Result<PageResult<LiveEvent>> {
        self.list_rows(page).await
    }

    async fn put_live_event(&self, mut event: LiveEvent) -> Result<Put<LiveEvent>> {
        check(EntityKind::LiveEvent, &event)?;
        event.input.endpoints.clear();
        let mut tx = self.begin().await?;
        let old = self.old_row::<LiveEvent>(&mut tx, &event.name).await?;
        let now = now();
        let created = old.is_none();
        event.created = old.as_ref().and_then(|o| o.created).or(Some(now));
        event.resource_state = old.map_or(LiveEventResourceState::Stopped, |o| o.resource_state);
        event.last_modified = Some(now);
        self.write_row(&mut tx, &event.name, &event).await?;
        self.commit(tx, changed(EntityKind::LiveEvent, &event.name))
            .await?;
        Ok(Put {
            created,
            value: event,
        })
    }

    async fn delete_live_event(&self, name: &str) -> Result<bool> {
        self.delete_row::<LiveEvent>(name).await
    }

    async fn set_live_event_state(
        &self,
        name: &str,
        state: LiveEventResourceState,
    ) -> Result<LiveEvent> {
        let mut tx = self.begin().await?;
        let mut event = self
            .old_row::<LiveEvent>(&mut tx, name)
            .await?
            .ok_or_else(|| not_found(EntityKind::LiveEvent, name))?;
        event.resource_state = state;
        event.last_modified = Some(now());
        self.write_row(&mut tx, name, &event).await?;
        self.commit(tx, changed(EntityKind::LiveEvent, name))
            .await?;
        Ok(event)
    }

    async fn get_live_output(&self, name: &str) -> Result<LiveOutput> {
        self.get_row(name).await
    }

    async fn list_live_outputs(&self, page: &Page) -> Result<PageResult<LiveOutput>> {
        self.list_rows(page).await
    }

    async fn live_outputs_of(&self, event: &str) -> Result<Vec<LiveOutput>> {
        let rows = sqlx::query(
            "SELECT name, body FROM live_outputs WHERE live_event_name = $1 ORDER BY name",
        )
        .bind(event)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter()
            .map(|row| {
                let name = row.try_get::<String, _>(0)?;
                LiveOutput::open(&self.kek, &name, &row.try_get::<String, _>(1)?)
            })
            .collect()
    }

    async fn put_live_output(&self, mut output: LiveOutput) -> Result<Put<LiveOutput>> {
        check(EntityKind::LiveOutput, &output)?;
        let mut tx = self.begin().await?;
        require::<LiveEvent>(&mut tx, "liveEventName", &output.live_event_name).await?;
        require::<Asset>(&mut tx, "assetName", &output.asset_name).await?;
        let old = self.old_row::<LiveOutput>(&mut tx, &output.name).await?;
        let now = now();
        let created = old.is_none();
        output.created = old.and_then(|o| o.created).or(Some(now));
        output.last_modified = Some(now);
        sqlx::query(
            "INSERT INTO live_outputs (name, live_event_name, asset_name, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET live_event_name = excluded.live_event_name, \
             asset_name = excluded.asset_name, body = excluded.body",
        )
        .bind(&output.name)
        .bind(&output.live_event_name)
        .bind(&output.asset_name)
        .bind(to_json(EntityKind::LiveOutput, &output.name, &output)?)
        .execute(&mut *tx)
        .await?;
        self.commit(tx, changed(EntityKind::LiveOutput, &output.name))
            .await?;
        Ok(Put {
            created,
            value: output,
        })
    }

    async fn delete_live_output(&self, name: &str) -> Result<bool> {
        self.delete_row::<LiveOutput>(name).await
    }

    async fn consume_token_use(
        &self,
        token_id: &[u8; 32],
        max_uses: u32,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        if max_uses == 0 {
            return Ok(false);
        }
        self.maybe_purge(now().unix_timestamp()).await?;
        // One statement: insert the first use, or count one more only while
        // under the limit. RETURNING yields a row exactly when the use counted.
        let uses: Option<i64> = sqlx::query_scalar(
            "INSERT INTO token_uses (token_id, uses, expires_at) VALUES ($1, 1, $2) \
             ON CONFLICT (token_id) DO UPDATE SET uses = token_uses.uses + 1 \
             WHERE token_uses.uses < $3 \
             RETURNING uses",
        )
        .bind(token_id.as_slice())
        // Kept past the token's `exp` by the grace the Redis counters get
        // too: the verifier still accepts a token within its clock skew after
        // `exp`, and a counter purged at `exp` would start over at zero.
        .bind((expires_at + crate::redis::COUNTER_GRACE).unix_timestamp())
        .bind(i64::from(max_uses))
        .fetch_optional(&mut *self.write().await?)
        .await?;
        Ok(uses.is_some())
    }

    async fn purge_expired_token_uses(&self, now: OffsetDateTime) -> Result<u64> {
        let n = sqlx::query("DELETE FROM token_uses WHERE expires_at < $1")
            .bind(now.unix_timestamp())
            .execute(&mut *self.write().await?)
            .await?
            .rows_affected();
        Ok(n)
    }

    async fn get_secret(&self, name: &str) -> Result<Option<Secret>> {
        let row = sqlx::query("SELECT version, sealed FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = row.try_get("version")?;
        let sealed: Vec<u8> = row.try_get("sealed")?;
        let value = self
            .kek
            .open(SECRET_DOMAIN, name.as_bytes(), &sealed)
            .map_err(|source| StoreError::Crypto {
                kind: EntityKind::Secret,
                name: name.into(),
                source,
            })?;
        Ok(Some(Secret {
            value,
            version: u64::try_from(version).map_err(|e| corrupt(EntityKind::Secret, name, e))?,
        }))
    }

    async fn put_secret(
        &self,
        name: &str,
        value: &[u8],
        expected_version: Option<u64>,
    ) -> Result<bool> {
        let sealed = self
            .kek
            .seal(SECRET_DOMAIN, name.as_bytes(), value)
            .map_err(|source| StoreError::Crypto {
                kind: EntityKind::Secret,
                name: name.into(),
                source,
            })?;
        let version = |v: u64| i64::try_from(v).map_err(|e| corrupt(EntityKind::Secret, name, e));
        let mut tx = self.begin().await?;
        // One statement each: the compare and the swap cannot be split by
        // another node's write.
        let n = match expected_version {
            None => sqlx::query(
                "INSERT INTO secrets (name, version, sealed) VALUES ($1, 1, $2) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(sealed)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            Some(v) => sqlx::query(
                "UPDATE secrets SET version = $2, sealed = $3 WHERE name = $1 AND version = $4",
            )
            .bind(name)
            .bind(version(v.saturating_add(1))?)
            .bind(sealed)
            .bind(version(v)?)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        self.commit(tx, changed(EntityKind::Secret, name).filter(|_| n > 0))
            .await?;
        Ok(n > 0)
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Change>> {
        Some(self.changes.subscribe())
    }

    fn database(&self) -> &'static str {
        B::DATABASE
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        let stats = |pool: &'static str, p: &AnyPool| PoolStats {
            pool,
            size: p.size(),
            idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
            max: p.options().get_max_connections(),
        };
        if B::SHARED_POOL {
            return vec![stats("shared", &self.reader)];
        }
        vec![stats("reader", &self.reader), stats("writer", &self.writer)]
    }

    fn set_pool_observer(&self, observer: Arc<dyn PoolObserver>) {
        *self.observer.write().unwrap_or_else(|p| p.into_inner()) = Some(observer);
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.read().await?)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.backend.before_close(&self.writer).await;
        self.writer.close().await;
    }
}
