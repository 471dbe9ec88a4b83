//! [`SqliteStore`]: the embedded single-node store, `DATA_DIR/castguard.db`.
//!
//! Settings and why (SQLite docs: "Write-Ahead Logging", "PRAGMA synchronous"):
//! - `journal_mode=WAL`: readers never block the writer and the writer never
//!   blocks readers; a commit is one append to `castguard.db-wal`.
//! - `synchronous=FULL`: in WAL mode, `NORMAL` already survives a killed
//!   process (SIGKILL) but may lose the last commits on power loss or an OS
//!   crash; `FULL` fsyncs the WAL at every commit, so a write acknowledged to
//!   an API client (or a token use counted) is never rolled back by a crash.
//!   The price is one fsync per commit, acceptable for management writes and
//!   token counters.
//! - `busy_timeout=10s` so a second process (a CLI next to the server) waits
//!   instead of failing; `foreign_keys=ON` as a backstop behind the explicit
//!   reference checks, which exist to name the offending entity.
//! - One writer connection, taken with `BEGIN IMMEDIATE`, serialises writes
//!   inside the process (no `SQLITE_BUSY` upgrade deadlocks); four reader
//!   connections serve gets and lists concurrently.
//! - Migrations (`migrations/sqlite`) are embedded and applied at open.
//!
//! The pools are sqlx `Any` pools (the store logic is shared with Postgres,
//! see [`crate::sql`]), so the settings are applied as pragmas on every new
//! connection. Changes are announced to this process's subscribers only: a
//! SQLite file has one server.

use crate::error::{Result, StoreError};
use crate::kek::Kek;
use crate::sql::{Backend, SqlStore, Tx, change_channel};
use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

/// The database file inside the data directory.
pub const DB_FILE_NAME: &str = "castguard.db";

const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                       PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";

/// The SQLite implementation of [`crate::Store`].
pub type SqliteStore = SqlStore<SqliteBackend>;

/// What is particular to SQLite (see the module docs).
#[derive(Debug)]
pub struct SqliteBackend {
    path: PathBuf,
}

impl SqlStore<SqliteBackend> {
    /// Opens (creating if needed) `data_dir/castguard.db`, applies
    /// migrations, checks that `kek` is the one the database was sealed with
    /// ([`StoreError::WrongKek`] otherwise) and installs the predefined
    /// streaming policies.
    pub async fn open(data_dir: &Path, kek: Kek) -> Result<Self> {
        sqlx::any::install_default_drivers();
        create_private_dir(data_dir)?;
        let dir = std::fs::canonicalize(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE_NAME);
        precreate_private_file(&path)?;
        let opts = AnyConnectOptions::from_str(&format!(
            "sqlite://{}?mode=rwc",
            percent_encode_path(&path)
        ))?;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::raw_sql(PRAGMAS).execute(conn).await?;
                        Ok(())
                    })
                })
        };
        let writer = pool(1)
            .min_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = pool(4).connect_with(opts).await?;
        SqlStore::start(
            writer,
            reader,
            kek,
            SqliteBackend { path },
            change_channel(),
        )
        .await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.backend.path
    }

    /// Copies everything in the WAL into the main file and empties the WAL.
    pub async fn checkpoint(&self) -> Result<()> {
        checkpoint(&self.writer).await
    }
}

async fn checkpoint(writer: &AnyPool) -> Result<()> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(writer)
        .await?;
    Ok(())
}

#[async_trait]
impl Backend for SqliteBackend {
    const DATABASE: &'static str = "sqlite";
    const SHARED_POOL: bool = false;

    async fn begin(&self, writer: &AnyPool) -> Result<Tx> {
        Ok(writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn announce(&self, _tx: &mut Tx, _change: &crate::Change) -> Result<()> {
        Ok(())
    }

    async fn before_close(&self, writer: &AnyPool) {
        if let Err(e) = checkpoint(writer).await {
            tracing::warn!(error = %e, "WAL checkpoint at close failed; SQLite replays the WAL at next open");
        }
    }
}

/// The path as the path part of a `sqlite://` URL: everything but
/// unreserved characters and `/` percent-encoded (sqlx decodes it back).
fn percent_encode_path(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// SQLite gives `-wal` and `-shm` the permissions of the main file, so
/// creating it 0600 keeps all three private.
fn precreate_private_file(path: &Path) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map(drop).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    /// The durability settings are in force on both pools (a typo in a
    /// pragma would silently fall back to SQLite's defaults).
    #[tokio::test]
    async fn pragmas_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path(), Kek::from_bytes([7; 32]))
            .await
            .unwrap();
        for pool in [&s.writer, &s.reader] {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(sync, 2, "synchronous=FULL");
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(fk, 1);
            let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(busy, 10_000);
        }
        s.close().await;
    }

    /// A data directory whose path needs URL escaping still opens, and the
    /// file lands where it should.
    #[tokio::test]
    async fn odd_paths_open() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a b%20#?é");
        let s = SqliteStore::open(&data, Kek::from_bytes([7; 32]))
            .await
            .unwrap();
        s.close().await;
        assert!(data.join(DB_FILE_NAME).is_file());
    }
}
