//! [`PostgresStore`]: the store shared by several stateless castguard nodes
//! (issue 7), on the same [`SqlStore`] logic as SQLite.
//!
//! What is particular to Postgres:
//! - Writers on all nodes are serialised by a transaction-level advisory
//!   lock (`pg_advisory_xact_lock`, PostgreSQL docs §9.27.10), taken first
//!   in every write transaction and released at commit or rollback. The
//!   store's writes check references and then write, which is only correct
//!   when no other writer runs in between: this gives Postgres the
//!   single-writer semantics of SQLite's `BEGIN IMMEDIATE`, across nodes.
//!   Management writes are rare, so the lock costs nothing that matters;
//!   the hot path (reads, `consume_token_use`, one atomic statement) never
//!   takes it. Two nodes starting at once are safe too: sqlx's migrator
//!   holds its own advisory lock, and the KEK check row and the predefined
//!   policies are written under the write lock.
//! - Every committed write is announced with `pg_notify` inside the writing
//!   transaction (delivered only at commit; PostgreSQL docs, "NOTIFY"). Each
//!   store LISTENs on one dedicated connection and forwards the other
//!   nodes' changes to its subscribers. After a lost connection it
//!   reconnects and reports [`Change::Everything`]: notifications sent
//!   meanwhile are lost.
//! - The URL's password never appears in an error or a log line
//!   ([`redact_url`]).

use crate::Change;
use crate::error::{EntityKind, Result, StoreError};
use crate::kek::Kek;
use crate::sql::{Backend, SqlStore, Tx, change_channel};
use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::str::FromStr as _;
use std::time::Duration;
use tokio::sync::broadcast;

/// The Postgres implementation of [`crate::Store`].
pub type PostgresStore = SqlStore<PostgresBackend>;

/// The NOTIFY channel of change events.
pub const CHANGE_CHANNEL: &str = "castguard_changes";
/// `application_name` of the listening connection (to find it in
/// `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "castguard-listener";
/// Key of the advisory lock that serialises writers ("castguar").
const WRITE_LOCK: i64 = 0x6361_7374_6775_6172;
const MAX_CONNECTIONS: u32 = 16;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// What is particular to Postgres (see the module docs).
pub struct PostgresBackend {
    /// Tags this store's own notifications, which its listener skips (the
    /// store already told its subscribers at commit).
    origin: String,
    listener: tokio::task::JoinHandle<()>,
    url: String,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl SqlStore<PostgresBackend> {
    /// Connects to `url` (`postgres://user:password@host:port/db`), applies
    /// the migrations, checks the KEK ([`StoreError::WrongKek`]), installs
    /// the predefined streaming policies and starts the change listener.
    /// Needs a tokio runtime.
    pub async fn connect(url: &str, kek: Kek) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let redacted = redact_url(url);
        let secret = password(url);
        let conn_err = |e: sqlx::Error| StoreError::Connect {
            url: redacted.clone(),
            reason: scrub(&e.to_string(), secret.as_deref()),
        };
        let opts = AnyConnectOptions::from_str(url).map_err(conn_err)?;
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await
            .map_err(conn_err)?;
        if let Err(e) = sqlx::migrate!("./migrations/postgres").run(&pool).await {
            pool.close().await;
            return Err(e.into());
        }
        let listen_opts = PgConnectOptions::from_str(url)
            .map_err(conn_err)?
            .application_name(LISTENER_APPLICATION_NAME);
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(listen_opts);
        let listener = match listen(&listen_pool).await {
            Ok(l) => l,
            Err(e) => {
                pool.close().await;
                return Err(conn_err(e));
            }
        };
        let changes = change_channel();
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let task = tokio::spawn(forward_changes(
            listener,
            listen_pool,
            changes.clone(),
            origin.clone(),
            secret,
        ));
        let backend = PostgresBackend {
            origin,
            listener: task,
            url: redacted,
        };
        SqlStore::start(pool.clone(), pool, kek, backend, changes).await
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    const DATABASE: &'static str = "postgres";
    const SHARED_POOL: bool = true;

    async fn begin(&self, writer: &AnyPool) -> Result<Tx> {
        let mut tx = writer.begin().await?;
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn announce(&self, tx: &mut Tx, change: &Change) -> Result<()> {
        sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
            .bind(CHANGE_CHANNEL)
            .bind(payload(&self.origin, change))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn before_close(&self, _writer: &AnyPool) {
        self.listener.abort();
    }
}

async fn listen(pool: &PgPool) -> std::result::Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen(CHANGE_CHANNEL).await?;
    Ok(l)
}

/// Forwards other nodes' notifications until aborted; reconnects (with
/// back-off) after a lost connection and then reports
/// [`Change::Everything`].
async fn forward_changes(
    listener: PgListener,
    pool: PgPool,
    changes: broadcast::Sender<Change>,
    origin: String,
    secret: Option<String>,
) {
    let mut listener = Some(listener);
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(l) = listener.as_mut() else {
            match listen(&pool).await {
                Ok(l) => {
                    tracing::info!("change listener reconnected");
                    listener = Some(l);
                    backoff = Duration::from_millis(100);
                    let _ = changes.send(Change::Everything);
                }
                Err(e) => {
                    tracing::warn!(error = %scrub(&e.to_string(), secret.as_deref()), "change listener cannot reconnect");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            continue;
        };
        match l.try_recv().await {
            Ok(Some(n)) => {
                if let Some(c) = parse_payload(n.payload(), &origin) {
                    let _ = changes.send(c);
                }
            }
            Ok(None) => {
                tracing::warn!("change listener lost its database connection; reconnecting");
                listener = None;
            }
            Err(e) => {
                tracing::warn!(error = %scrub(&e.to_string(), secret.as_deref()), "change listener failed; reconnecting");
                listener = None;
            }
        }
    }
}

fn kind_tag(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Asset => "asset",
        EntityKind::ContentKey => "content_key",
        EntityKind::ContentKeyPolicy => "content_key_policy",
        EntityKind::StreamingPolicy => "streaming_policy",
        EntityKind::StreamingLocator => "streaming_locator",
        EntityKind::LiveEvent => "live_event",
        EntityKind::LiveOutput => "live_output",
        EntityKind::Secret => "secret",
    }
}

const KINDS: [EntityKind; 8] = [
    EntityKind::LiveEvent,
    EntityKind::LiveOutput,
    EntityKind::Asset,
    EntityKind::ContentKey,
    EntityKind::ContentKeyPolicy,
    EntityKind::StreamingPolicy,
    EntityKind::StreamingLocator,
    EntityKind::Secret,
];

/// `origin TAB kind TAB name` (names are short: far below NOTIFY's 8000
/// bytes).
fn payload(origin: &str, change: &Change) -> String {
    match change {
        Change::Entity { kind, name } => format!("{origin}\t{}\t{name}", kind_tag(*kind)),
        Change::Everything => format!("{origin}\t*\t"),
    }
}

/// The change in a notification, `None` for this store's own (or an
/// unreadable one, which is reported as everything).
fn parse_payload(payload: &str, own_origin: &str) -> Option<Change> {
    let mut parts = payload.splitn(3, '\t');
    let (origin, tag, name) = (parts.next()?, parts.next(), parts.next());
    if origin == own_origin {
        return None;
    }
    let kind = tag.and_then(|t| KINDS.into_iter().find(|k| kind_tag(*k) == t));
    Some(match (kind, name) {
        (Some(kind), Some(name)) => Change::Entity {
            kind,
            name: name.into(),
        },
        _ => Change::Everything,
    })
}

/// The password of a database URL (user info or `password=` parameter).
fn password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let from_userinfo = rest[..authority_end]
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, p)| p.to_owned());
    let from_query = rest.split_once('?').and_then(|(_, q)| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("password="))
            .map(str::to_owned)
    });
    from_userinfo.or(from_query).filter(|p| !p.is_empty())
}

/// `url` with its password, if any, replaced by `***`: safe to log.
pub fn redact_url(url: &str) -> String {
    match password(url) {
        Some(p) => scrub(url, Some(&p)),
        None => url.to_owned(),
    }
}

/// `text` without any occurrence of `secret`, as written in the URL or
/// percent-decoded.
fn scrub(text: &str, secret: Option<&str>) -> String {
    let Some(secret) = secret else {
        return text.to_owned();
    };
    let mut out = text.replace(secret, "***");
    let decoded = percent_decode(secret);
    if !decoded.is_empty() && decoded != secret {
        out = out.replace(&decoded, "***");
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://cg:s3cr%40t@127.0.0.1:5432/db?sslmode=disable"),
            "postgres://cg:***@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://127.0.0.1/db?user=cg&password=hunter2"),
            "postgresql://127.0.0.1/db?user=cg&password=***"
        );
        assert_eq!(redact_url("postgres://cg@h/db"), "postgres://cg@h/db");
        assert_eq!(
            scrub(
                "failed for s3cr@t and s3cr%40t",
                password("postgres://u:s3cr%40t@h/d").as_deref()
            ),
            "failed for *** and ***"
        );
    }

    #[test]
    fn payloads_round_trip_and_skip_own() {
        let c = Change::Entity {
            kind: EntityKind::ContentKeyPolicy,
            name: "a.b-c".into(),
        };
        assert_eq!(parse_payload(&payload("me", &c), "other"), Some(c.clone()));
        assert_eq!(parse_payload(&payload("me", &c), "me"), None);
        for k in KINDS {
            let c = Change::Entity {
                kind: k,
                name: "n".into(),
            };
            assert_eq!(parse_payload(&payload("x", &c), "y"), Some(c));
        }
        assert_eq!(
            parse_payload(&payload("x", &Change::Everything), "y"),
            Some(Change::Everything)
        );
        assert_eq!(parse_payload("x\tbogus\tn", "y"), Some(Change::Everything));
    }
}
