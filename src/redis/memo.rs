//! Memos in Redis, shared by every replica of a bot: a hash of the entries and a sorted set of
//! them by when they were written, bounded like the other stores' memos.
//!
//! The keys, under the [`Redis`] namespace: `memos:values` (a hash of `{expiry}:{json}` by the
//! JSON array `[memo, key]`; the expiry in Redis's milliseconds, 0 for none) and
//! `memos:written` (the same fields by when they were last written, to drop the oldest when
//! full). An expired entry is dropped when read, or when it is the oldest and room is needed.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::lock::millis;
use super::{Redis, storage_error};
use crate::durable::MAX_MEMO_ENTRIES;
use crate::error::Result;

/// The value of a field unless absent or expired (an expired one is deleted).
/// KEYS: values, written. ARGV: field.
static GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local kept = redis.call('HGET', KEYS[1], ARGV[1])
        if not kept then return false end
        local colon = string.find(kept, ':', 1, true)
        local expires = tonumber(string.sub(kept, 1, colon - 1))
        if expires > 0 then
            local time = redis.call('TIME')
            local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
            if expires <= now then
                redis.call('HDEL', KEYS[1], ARGV[1])
                redis.call('ZREM', KEYS[2], ARGV[1])
                return false
            end
        end
        return string.sub(kept, colon + 1)
        ",
    )
});

/// Keeps a field's value for a time to live (0: for ever), then drops the fields written
/// longest ago while more than the bound are kept; returns how many it dropped.
/// KEYS: values, written. ARGV: field, JSON value, ttl in ms, bound.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local ttl = tonumber(ARGV[3])
        local expires = 0
        if ttl > 0 then expires = now + ttl end
        redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', expires) .. ':' .. ARGV[2])
        redis.call('ZADD', KEYS[2], now, ARGV[1])
        local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
        if over <= 0 then return 0 end
        local oldest = redis.call('ZPOPMIN', KEYS[2], over)
        for i = 1, #oldest, 2 do redis.call('HDEL', KEYS[1], oldest[i]) end
        return over
        ",
    )
});

/// The memos of the bots on one Redis namespace.
#[derive(Debug)]
pub(crate) struct RedisMemos {
    redis: Redis,
    values: String,
    written: String,
    bound: u64,
}

impl RedisMemos {
    /// The memos under `redis`'s namespace, at most [`MAX_MEMO_ENTRIES`] of them.
    pub(crate) fn new(redis: &Redis) -> Self {
        Self::with_bound(redis, MAX_MEMO_ENTRIES)
    }

    /// The memos under `redis`'s namespace, at most `bound` of them.
    pub(crate) fn with_bound(redis: &Redis, bound: u64) -> Self {
        Self {
            values: redis.key("memos:values"),
            written: redis.key("memos:written"),
            redis: redis.clone(),
            bound: bound.max(1),
        }
    }

    /// The JSON value of `memo`'s `key`, unless absent or expired.
    pub(crate) async fn get(&self, memo: &str, key: &str) -> Result<Option<String>> {
        GET.key(&self.values)
            .key(&self.written)
            .arg(field(memo, key))
            .invoke_async(&mut self.redis.connection())
            .await
            .map_err(storage_error)
    }

    /// Keeps the JSON `value` under `memo`'s `key` for `ttl` (for ever when `None`).
    pub(crate) async fn put(
        &self,
        memo: &str,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<()> {
        let dropped: u64 = PUT
            .key(&self.values)
            .key(&self.written)
            .arg(field(memo, key))
            .arg(value)
            .arg(ttl.map_or(0, millis))
            .arg(self.bound)
            .invoke_async(&mut self.redis.connection())
            .await
            .map_err(storage_error)?;
        if dropped > 0 {
            tracing::warn!(%memo, dropped, "memo entries dropped: the memos are full");
        }
        Ok(())
    }

    /// Forgets `memo`'s `key`.
    pub(crate) async fn remove(&self, memo: &str, key: &str) -> Result<()> {
        let field = field(memo, key);
        redis::pipe()
            .atomic()
            .hdel(&self.values, &field)
            .ignore()
            .zrem(&self.written, &field)
            .ignore()
            .query_async::<()>(&mut self.redis.connection())
            .await
            .map_err(storage_error)
    }
}

/// The hash field of `memo`'s `key`: no two pairs share one.
fn field(memo: &str, key: &str) -> String {
    serde_json::to_string(&(memo, key)).expect("a pair of strings is always JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memos under a fresh namespace of the test server, deleted when dropped; `None` (with a
    /// note) when the Redis tests are off (`HOOKBOT_TEST_REDIS_URL` unset).
    struct TestMemos {
        memos: RedisMemos,
    }

    impl TestMemos {
        fn new(bound: u64) -> Option<Self> {
            let Ok(url) = std::env::var("HOOKBOT_TEST_REDIS_URL") else {
                eprintln!("note: HOOKBOT_TEST_REDIS_URL is unset; skipping this Redis test");
                return None;
            };
            let namespace = format!("hookbot-test-{:016x}", rand::random::<u64>());
            let redis = Redis::open(url).unwrap().namespace(&namespace);
            Some(Self {
                memos: RedisMemos::with_bound(&redis, bound),
            })
        }

        async fn count(&self) -> (u64, u64) {
            let mut connection = self.memos.redis.connection();
            redis::pipe()
                .hlen(&self.memos.values)
                .zcard(&self.memos.written)
                .query_async(&mut connection)
                .await
                .unwrap()
        }
    }

    impl Drop for TestMemos {
        fn drop(&mut self) {
            let url = std::env::var("HOOKBOT_TEST_REDIS_URL").unwrap_or_default();
            if let Ok(mut connection) = redis::Client::open(url).and_then(|c| c.get_connection()) {
                let _: redis::RedisResult<()> = redis::cmd("DEL")
                    .arg(&self.memos.values)
                    .arg(&self.memos.written)
                    .query(&mut connection);
            }
        }
    }

    #[tokio::test]
    async fn a_redis_out_of_reach_fails_with_a_storage_error_naming_no_secret() {
        const PASSWORD: &str = "hunter2-memo-password";
        // Nothing listens on port 1.
        let redis = Redis::open(format!("redis://:{PASSWORD}@127.0.0.1:1/0")).unwrap();
        let memos = RedisMemos::new(&redis);
        let failures = [
            memos.get("greeted", "chat").await.unwrap_err(),
            memos
                .put("greeted", "chat", "null", None)
                .await
                .unwrap_err(),
            memos.remove("greeted", "chat").await.unwrap_err(),
        ];
        for error in failures {
            assert!(matches!(error, crate::Error::Storage { .. }), "{error:?}");
            let text = format!("{error} {error:?} {memos:?}");
            assert!(!text.contains(PASSWORD), "{text}");
        }
    }

    #[tokio::test]
    async fn a_value_is_kept_per_memo_and_key_until_removed() {
        let Some(test) = TestMemos::new(10) else {
            return;
        };
        let memos = &test.memos;
        memos.put("greeted", "a:b", "1", None).await.unwrap();
        memos.put("greeted", "a", "2", None).await.unwrap();
        assert_eq!(
            memos.get("greeted", "a:b").await.unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(memos.get("greeted:a", "b").await.unwrap(), None);
        assert_eq!(
            memos.get("greeted", "a").await.unwrap().as_deref(),
            Some("2")
        );
        memos.put("greeted", "a", "\"x:y\"", None).await.unwrap();
        assert_eq!(
            memos.get("greeted", "a").await.unwrap().as_deref(),
            Some("\"x:y\"")
        );
        memos.remove("greeted", "a").await.unwrap();
        assert_eq!(memos.get("greeted", "a").await.unwrap(), None);
        assert_eq!(test.count().await, (1, 1));
    }

    #[tokio::test]
    async fn an_entry_lives_for_its_ttl_on_redis_clock() {
        let Some(test) = TestMemos::new(10) else {
            return;
        };
        let memos = &test.memos;
        let ttl = Duration::from_millis(300);
        memos
            .put("paused", "chat", "null", Some(ttl))
            .await
            .unwrap();
        assert_eq!(
            memos.get("paused", "chat").await.unwrap().as_deref(),
            Some("null")
        );
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
        assert_eq!(memos.get("paused", "chat").await.unwrap(), None);
        assert_eq!(test.count().await, (0, 0), "the expired entry is dropped");
    }

    #[tokio::test]
    async fn past_the_bound_the_entries_written_longest_ago_are_dropped() {
        let Some(test) = TestMemos::new(2) else {
            return;
        };
        let memos = &test.memos;
        for key in ["old", "recent"] {
            memos.put("m", key, "1", None).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        memos.put("m", "old", "2", None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        memos.put("m", "new", "3", None).await.unwrap();
        assert_eq!(memos.get("m", "recent").await.unwrap(), None);
        assert_eq!(memos.get("m", "old").await.unwrap().as_deref(), Some("2"));
        assert_eq!(memos.get("m", "new").await.unwrap().as_deref(), Some("3"));
        assert_eq!(test.count().await, (2, 2));
    }
}
