//! Where the replay counters of `urn:microsoft:azure:mediaservices:maxuses`
//! tokens live: [`TokenUses`].
//!
//! Why a trait apart from [`Store`]: the counters are the hottest write of
//! key delivery and need nothing of the store but one atomic increment, so
//! nodes that share a Redis keep them there ([`crate::redis::RedisTokenUses`])
//! and leave the database to entities. Without Redis they stay in the
//! database ([`StoreTokenUses`]), where `consume_token_use` is already
//! atomic. Key delivery sees only `Arc<dyn TokenUses>`.
//!
//! Fail closed: an error is never a grant. The caller answers 503 when the
//! counter cannot be reached ([`crate::StoreError::Unavailable`]).

use crate::{Result, Store};
use async_trait::async_trait;
use std::sync::Arc;
use time::OffsetDateTime;

/// Counts uses of a token with a `maxuses` claim.
#[async_trait]
pub trait TokenUses: Send + Sync {
    /// Counts one use of `token_id` and says whether it is allowed: `true`
    /// for the first `max_uses` calls, `false` after, across every task and
    /// node sharing the backend. `expires_at` is the token's expiry.
    async fn consume(
        &self,
        token_id: &[u8; 32],
        max_uses: u32,
        expires_at: OffsetDateTime,
    ) -> Result<bool>;

    /// Whether the backend answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    /// What backs the counters, for logs and readiness text: `"database"`,
    /// `"redis"`.
    fn backend(&self) -> &'static str;
}

/// The counters in the database, through [`Store::consume_token_use`].
pub struct StoreTokenUses(pub Arc<dyn Store>);

#[async_trait]
impl TokenUses for StoreTokenUses {
    async fn consume(
        &self,
        token_id: &[u8; 32],
        max_uses: u32,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        self.0
            .consume_token_use(token_id, max_uses, expires_at)
            .await
    }

    async fn ping(&self) -> Result<()> {
        self.0.ping().await
    }

    fn backend(&self) -> &'static str {
        "database"
    }
}
