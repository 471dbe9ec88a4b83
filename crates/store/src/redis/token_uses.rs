//! `maxuses` replay counters in Redis, shared by every node.
//!
//! One Lua script per use (Redis runs a script atomically: no other command
//! runs between its calls, <https://redis.io/docs/latest/develop/interact/programmability/eval-intro/>):
//! `INCR` the token's counter, on the first use set its expiry with
//! `PEXPIREAT`, and allow the use while the count is at most `maxuses`.
//! Any number of nodes and tasks together get at most `maxuses` grants.
//!
//! The counter expires [`COUNTER_GRACE`] after the token: the token
//! verifier accepts a token up to its clock-skew allowance (5 min by
//! default) past `exp`, and a counter gone before the token is dead would
//! start again from zero.
//!
//! Keys: `castguard:token-uses:<hex of the token id>` (the token id is
//! already a SHA-256, never the token).

use super::Redis;
use crate::Result;
use crate::token_uses::TokenUses;
use async_trait::async_trait;
use time::OffsetDateTime;

/// How long a counter outlives its token (at least the verifier's clock
/// skew allowance).
pub const COUNTER_GRACE: time::Duration = time::Duration::minutes(10);

const KEY_PREFIX: &str = "castguard:token-uses:";

/// KEYS[1] counter; ARGV[1] max uses; ARGV[2] expiry, Unix milliseconds.
const CONSUME: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
if n <= tonumber(ARGV[1]) then
  return 1
end
return 0
";

/// [`TokenUses`] in Redis.
#[derive(Clone, Debug)]
pub struct RedisTokenUses {
    redis: Redis,
    script: std::sync::Arc<::redis::Script>,
}

impl RedisTokenUses {
    pub fn new(redis: Redis) -> Self {
        RedisTokenUses {
            redis,
            script: std::sync::Arc::new(::redis::Script::new(CONSUME)),
        }
    }

    /// The Redis key of a token's counter.
    pub fn key(token_id: &[u8; 32]) -> String {
        format!("{KEY_PREFIX}{}", hex::encode(token_id))
    }

    /// When the counter of a token expiring at `expires_at` expires, in Unix
    /// milliseconds.
    pub fn counter_expiry_ms(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
        let at = expires_at.max(now) + COUNTER_GRACE;
        i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }
}

#[async_trait]
impl TokenUses for RedisTokenUses {
    async fn consume(
        &self,
        token_id: &[u8; 32],
        max_uses: u32,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        let expiry = Self::counter_expiry_ms(expires_at, OffsetDateTime::now_utc());
        let mut conn = self.redis.conn().await?;
        let allowed: i64 = self
            .script
            .key(Self::key(token_id))
            .arg(max_uses)
            .arg(expiry)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.error(&e))?;
        Ok(allowed == 1)
    }

    async fn ping(&self) -> Result<()> {
        self.redis.ping().await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
