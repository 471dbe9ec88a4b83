//! Store errors: what the API maps to 404 (`NotFound`), 409 (`Conflict`),
//! 400 (`InvalidReference`, `Invalid`), 503 (`Unavailable`) and 500 (the
//! rest). None of them
//! carries key material: names and key IDs only.

use crate::kek::{KekError, SealError};
use keys::model::ValidationError;
use std::fmt;

/// The kinds of stored entities, as named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Asset,
    ContentKey,
    ContentKeyPolicy,
    StreamingPolicy,
    StreamingLocator,
    LiveEvent,
    LiveOutput,
    /// A sealed secret of the server itself (`Store::put_secret`).
    Secret,
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntityKind::Asset => "asset",
            EntityKind::ContentKey => "content key",
            EntityKind::ContentKeyPolicy => "content key policy",
            EntityKind::StreamingPolicy => "streaming policy",
            EntityKind::StreamingLocator => "streaming locator",
            EntityKind::LiveEvent => "live event",
            EntityKind::LiveOutput => "live output",
            EntityKind::Secret => "secret",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} '{name}' not found")]
    NotFound { kind: EntityKind, name: String },

    /// The write would break a rule that involves other entities (deleting
    /// something still referenced, a duplicate key ID, a predefined policy).
    #[error("{kind} '{name}': {reason}")]
    Conflict {
        kind: EntityKind,
        name: String,
        reason: String,
    },

    /// The entity names another one that does not exist.
    #[error("{field}: {kind} '{name}' does not exist")]
    InvalidReference {
        field: String,
        kind: EntityKind,
        name: String,
    },

    #[error("invalid {kind}: {source}")]
    Invalid {
        kind: EntityKind,
        #[source]
        source: ValidationError,
    },

    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// The database could not be reached at open; `url` has no password.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },

    /// A database URL this crate does not open.
    #[error(
        "unsupported database URL {url}: use postgres://, postgresql:// or sqlite: (or nothing for SQLite in the data directory)"
    )]
    UnsupportedUrl { url: String },

    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),

    /// A stored row could not be read back (its JSON does not parse).
    #[error("stored {kind} '{name}' is unreadable: {reason}")]
    Corrupt {
        kind: EntityKind,
        name: String,
        reason: String,
    },

    /// A sealed value did not open or could not be made.
    #[error("{kind} '{name}': {source}")]
    Crypto {
        kind: EntityKind,
        name: String,
        #[source]
        source: SealError,
    },

    /// The database was sealed under another key-encryption key.
    #[error(
        "the key-encryption key does not match the one this database was created with \
         (check CASTGUARD_KEK / CASTGUARD_KEK_FILE / DATA_DIR/kek.key)"
    )]
    WrongKek,

    #[error(transparent)]
    Kek(#[from] KekError),

    /// A shared service (Redis) did not answer; the detail names the
    /// server without its password.
    #[error("{service} unavailable: {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
    },

    /// Item `index` of a [`crate::Store::import`] failed; nothing was
    /// written.
    #[error("resource {index}: {source}")]
    InImport {
        index: usize,
        source: Box<StoreError>,
    },

    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// The kind of a failure that is the backend's fault, as a metrics
    /// label: `database`, `pool_timeout`, `unavailable` (Redis),
    /// `corrupt`, `crypto` or `other`. `None` for outcomes of the request
    /// itself (not found, conflict, invalid), which are no failure of the
    /// store.
    pub fn backend_failure(&self) -> Option<&'static str> {
        match self {
            StoreError::NotFound { .. }
            | StoreError::Conflict { .. }
            | StoreError::InvalidReference { .. }
            | StoreError::Invalid { .. } => None,
            StoreError::Database(sqlx::Error::PoolTimedOut) => Some("pool_timeout"),
            StoreError::Database(_) | StoreError::Connect { .. } => Some("database"),
            StoreError::Unavailable { .. } => Some("unavailable"),
            StoreError::Corrupt { .. } => Some("corrupt"),
            StoreError::Crypto { .. } | StoreError::WrongKek | StoreError::Kek(_) => Some("crypto"),
            StoreError::InImport { source, .. } => source.backend_failure(),
            StoreError::UnsupportedUrl { .. }
            | StoreError::Migration(_)
            | StoreError::Io { .. } => Some("other"),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
