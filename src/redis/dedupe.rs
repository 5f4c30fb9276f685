//! Claims against duplicates kept in Redis: one key per claim, made with `SET NX` and kept for
//! the retention time, so that replicas sharing the Redis deduplicate together.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use redis::{RedisWrite, ToRedisArgs};

use super::Redis;
use crate::dedupe::{DEFAULT_RETENTION, DedupeKey, DedupeStore};
use crate::error::BoxError;

/// The key of the claim on `key`: `{namespace}:dedupe:{32 hex digits}`. The queue's append
/// script makes the same claims.
pub(crate) fn claim_key(redis: &Redis, key: &DedupeKey) -> String {
    ClaimKey::new(redis, key).to_string()
}

/// The key of a claim ([`claim_key`]), written where it goes (a command's argument) without
/// a string of its own.
pub(crate) struct ClaimKey<'a> {
    redis: &'a Redis,
    key: &'a DedupeKey,
}

impl<'a> ClaimKey<'a> {
    /// The key of the claim on `key` in `redis`'s namespace.
    pub(crate) fn new(redis: &'a Redis, key: &'a DedupeKey) -> Self {
        Self { redis, key }
    }
}

impl fmt::Display for ClaimKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:dedupe:{}", self.redis.namespace, self.key)
    }
}

impl ToRedisArgs for ClaimKey<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        out.write_arg_fmt(self);
    }
}

/// A [`DedupeStore`] in Redis, for a bot that keeps its queue in memory but shares claims with
/// other processes. (A bot on a [`RedisQueue`](super::RedisQueue) claims in the queue's own
/// append step and needs no store.) Cheap to clone.
///
/// ```no_run
/// use hookbot::redis::{Redis, RedisDedupe};
///
/// # fn run() -> hookbot::Result<()> {
/// let claims = RedisDedupe::new(Redis::open("redis://127.0.0.1:6379")?);
/// # let _ = claims;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisDedupe {
    redis: Redis,
    retention: Duration,
}

impl RedisDedupe {
    /// Claims in `redis`, each kept for [`DEFAULT_RETENTION`] (24 h).
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            retention: DEFAULT_RETENTION,
        }
    }

    /// Keeps each claim this long (whole seconds, at least one).
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }
}

#[async_trait]
impl DedupeStore for RedisDedupe {
    async fn claim(&self, key: &DedupeKey) -> Result<bool, BoxError> {
        let claimed: Option<String> = redis::cmd("SET")
            .arg(claim_key(&self.redis, key))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(self.retention.as_secs().max(1))
            .query_async(&mut self.redis.connection())
            .await?;
        Ok(claimed.is_some())
    }

    async fn release(&self, key: &DedupeKey) -> Result<(), BoxError> {
        redis::cmd("DEL")
            .arg(claim_key(&self.redis, key))
            .query_async::<()>(&mut self.redis.connection())
            .await?;
        Ok(())
    }
}
