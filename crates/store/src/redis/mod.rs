//! Redis for many castguard nodes (issue 7): the replay counters of
//! `maxuses` tokens ([`RedisTokenUses`]) and a shared cache of OpenID
//! Connect discovery documents and key sets ([`RedisFetchCache`]).
//!
//! Why Redis and not the database for these: a counter is one atomic
//! `INCR` plus an expiry, run once per key request with a `maxuses` token,
//! and a cached document is a blob with a time to live; Redis does both in
//! memory in one round trip, and expires them itself, so the database keeps
//! only entities.
//!
//! [`Redis`] is one multiplexed connection per node (`ConnectionManager`:
//! reconnects by itself), opened on first use so a node starts while Redis
//! is still coming up. Every command has a short timeout
//! ([`RESPONSE_TIMEOUT`], [`CONNECT_TIMEOUT`]): when Redis is down a key
//! request fails within one or two seconds with [`StoreError::Unavailable`] (503), it never hangs
//! and never grants.
//!
//! Whoever can write to this Redis can reset counters and plant signing
//! keys in the document cache: it must be as private as the database.
//!
//! The URL (`redis://[user:password@]host:port[/db]`) carries a password;
//! it never appears in a message: [`Redis::display`] shows it as `***`,
//! and every error text is scrubbed of it.

mod fetch_cache;
mod token_uses;

pub use fetch_cache::{DEFAULT_DOCUMENT_TTL, RedisFetchCache};
pub use token_uses::{COUNTER_GRACE, RedisTokenUses};

use crate::{Result, StoreError};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for one Redis command, queueing on the node's connection
/// included.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for a connection; also how long requests fail at once after
/// a failed first connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection to one Redis, shared by every task of the node; cheap to
/// clone.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: ::redis::Client,
    conn: tokio::sync::OnceCell<ConnectionManager>,
    /// When the last first-connection attempt failed: the next one waits
    /// [`CONNECT_TIMEOUT`], so requests fail at once meanwhile instead of
    /// queueing one timeout each behind the attempt in flight.
    last_failure: std::sync::Mutex<Option<std::time::Instant>>,
    display: String,
    password: Option<String>,
    /// Failed commands and connection attempts since start (metrics).
    errors: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.inner.display)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Parses `url`; connects on first use.
    pub fn open(url: &str) -> Result<Redis> {
        let password = url_password(url);
        let display = redact_url(url);
        let client = ::redis::Client::open(url).map_err(|e| StoreError::Unavailable {
            service: "redis",
            detail: format!(
                "invalid URL {display}: {}",
                scrub(&e.to_string(), &password)
            ),
        })?;
        Ok(Redis {
            inner: Arc::new(Inner {
                client,
                conn: tokio::sync::OnceCell::new(),
                last_failure: std::sync::Mutex::new(None),
                display,
                password,
                errors: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// The URL with its password replaced by `***`.
    pub fn display(&self) -> &str {
        &self.inner.display
    }

    /// The shared connection, opened now if it is not yet.
    pub(crate) async fn conn(&self) -> Result<ConnectionManager> {
        let conn = self
            .inner
            .conn
            .get_or_try_init(|| async {
                let failed = self.last_failure();
                if failed.is_some_and(|t| t.elapsed() < CONNECT_TIMEOUT) {
                    self.count_error();
                    return Err(StoreError::Unavailable {
                        service: "redis",
                        detail: format!("{}: not connected (retrying)", self.inner.display),
                    });
                }
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.inner.client.clone(), config)
                    .await
                    .map_err(|e| {
                        *self
                            .inner
                            .last_failure
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
                        self.error(&e)
                    })
            })
            .await?;
        Ok(conn.clone())
    }

    fn last_failure(&self) -> Option<std::time::Instant> {
        *self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Whether Redis answers `PING`.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(&e))?;
        Ok(())
    }

    /// Failed commands and connection attempts since this handle was
    /// opened (shared by its clones), for metrics.
    pub fn errors(&self) -> u64 {
        self.inner.errors.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_error(&self) {
        self.inner
            .errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A [`StoreError::Unavailable`] whose text names the server without
    /// its password; counted in [`Redis::errors`].
    pub(crate) fn error(&self, e: &::redis::RedisError) -> StoreError {
        self.count_error();
        StoreError::Unavailable {
            service: "redis",
            detail: format!(
                "{}: {}",
                self.inner.display,
                scrub(&e.to_string(), &self.inner.password)
            ),
        }
    }
}

/// The password in the userinfo of `url`, if any (`redis://:pw@h`,
/// `redis://user:pw@h`).
fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':').unwrap_or(("", userinfo));
    (!pw.is_empty()).then(|| pw.to_owned())
}

/// `url` with the password of its userinfo and any `password=` query
/// parameter replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable redis URL>".to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(u, _)| u);
            format!("{user}:***@{host}")
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) if query.contains("password") => format!("{path}?***"),
        _ => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn scrub(text: &str, password: &Option<String>) -> String {
    match password {
        Some(p) => text.replace(p.as_str(), "***"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("redis://:s3cret@10.0.0.5:6379/2"),
            "redis://:***@10.0.0.5:6379/2"
        );
        assert_eq!(
            redact_url("redis://cg:s3cret@host/0?protocol=resp3"),
            "redis://cg:***@host/0?protocol=resp3"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6390"),
            "redis://127.0.0.1:6390"
        );
        assert_eq!(redact_url("redis://h/0?password=s3cret"), "redis://h/0?***");
        assert!(!redact_url("s3cret").contains("s3cret"));
        assert_eq!(
            url_password("redis://cg:s3cret@host/0").as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            url_password("redis://s3cret@host").as_deref(),
            Some("s3cret")
        );
        assert_eq!(url_password("redis://host:6379"), None);
        assert_eq!(
            scrub("auth failed for s3cret", &Some("s3cret".into())),
            "auth failed for ***"
        );
    }
}
