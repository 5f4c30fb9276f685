//! Conversation states in Redis, shared by every replica of a bot: each state as JSON, an idle
//! timeout kept on Redis's own clock, each timed-out conversation handed to one replica only,
//! and a lease that keeps one conversation's events from running on two replicas at once.
//!
//! ```no_run
//! use std::time::Duration;
//! use hookbot::conversation::{Conversations, KeyStrategy};
//! use hookbot::redis::{Redis, RedisStorage};
//!
//! # fn run() -> hookbot::Result<()> {
//! let redis = Redis::open("redis://127.0.0.1:6379")?;
//! let conversations: Conversations<u32> =
//!     Conversations::new(RedisStorage::new(&redis).idle_timeout(Duration::from_secs(5 * 60)))
//!         .key(KeyStrategy::PerSender);
//! # let _ = conversations; Ok(()) }
//! ```
//!
//! The keys, under the [`Redis`] namespace: `conversations:states` (a hash of states by
//! conversation), `conversations:deadlines` (a sorted set of the conversations by when they
//! time out, in Redis's milliseconds), `conversations:due` (conversations a load found timed
//! out, until [`Storage::expired`] returns them) and `conversations:lease:{conversation}`.
//! A conversation is named by the JSON array of its key's parts (`["green-api","1101000001",
//! null,"79001234567@c.us"]`): no two keys share a name, and the name gives the key back.

use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;

use super::Redis;
use super::lock::{self, millis};
use crate::conversation::{ConversationKey, ConversationState, Lease, Storage};
use crate::error::BoxError;

/// How long a conversation may stay idle by default before it ends: 30 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How often [`Storage::expired`] asks Redis for timed-out conversations at most, by default,
/// while none is due sooner.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long a conversation's lease lasts by default without renewal (a replica that dies
/// holding one blocks it this long at most). It is renewed every third of it while held.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

/// The shortest sleep between two asks for timed-out conversations.
const MIN_POLL: Duration = Duration::from_millis(5);

/// Returns the state and restarts the timeout; a state found timed out is moved to the due
/// list (for `expired` to return) and is not returned.
/// KEYS: states, deadlines, due. ARGV: name, timeout in ms.
static LOAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local state = redis.call('HGET', KEYS[1], ARGV[1])
        if not state then return false end
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local deadline = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]))
        if deadline and deadline <= now then
            redis.call('HDEL', KEYS[1], ARGV[1])
            redis.call('ZREM', KEYS[2], ARGV[1])
            redis.call('RPUSH', KEYS[3], ARGV[1], state)
            return false
        end
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
        return state
        ",
    )
});

/// Keeps the state and (re)starts the timeout.
/// KEYS: states, deadlines. ARGV: name, state, timeout in ms.
static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
        return 1
        ",
    )
});

/// Takes out one timed-out conversation: `{1, 0, name, state}`; or says how many ms until the
/// next one is due: `{0, ms, false, false}` (`ms` is -1 when none is kept).
/// KEYS: states, deadlines, due.
static POP_EXPIRED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local due = redis.call('LPOP', KEYS[3], 2)
        if due and #due == 2 then return {1, 0, due[1], due[2]} end
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        for _ = 1, 100 do
            local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
            if #first == 0 then return {0, -1, false, false} end
            local deadline = tonumber(first[2])
            if deadline > now then return {0, deadline - now, false, false} end
            redis.call('ZREM', KEYS[2], first[1])
            local state = redis.call('HGET', KEYS[1], first[1])
            if state then
                redis.call('HDEL', KEYS[1], first[1])
                return {1, 0, first[1], state}
            end
        end
        return {0, 0, false, false}
        ",
    )
});

/// Conversation states in Redis, shared by the replicas of a bot that use the same [`Redis`]
/// namespace. Cheap to clone.
///
/// A conversation idle past the timeout (no load, no save; default 30 minutes, on Redis's
/// clock) ends, and [`Storage::expired`] returns it on exactly one replica. While a handler
/// runs, its conversation's key is held with a lease ([`Storage::lease`]), so that no other
/// replica runs an event of the same conversation meanwhile (a per-sender conversation spans
/// chats, whose events may go to different replicas).
///
/// A saved state that no longer reads as `D` (the type changed in a new release) is dropped
/// with a warning, and the conversation starts anew. Its keys are
/// `{namespace}:conversations:*`: a hash of the states, a sorted set of their deadlines, a list
/// of conversations found timed out, and the leases.
pub struct RedisStorage<D> {
    redis: Redis,
    keys: Keys,
    idle_timeout: Duration,
    poll_interval: Duration,
    lease_ttl: Duration,
    leases: Leases,
    _state: PhantomData<fn() -> D>,
}

/// Which conversations a [`RedisStorage`] leases while their events are handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Leases {
    /// Every conversation (the default): safe whichever replica each event reaches.
    #[default]
    All,
    /// Only conversations whose key spans chats ([`KeyStrategy::PerSender`](crate::conversation::KeyStrategy::PerSender)),
    /// for a bot whose intake already hands each chat's events to one replica at a time (the
    /// Redis queue partitioned by chat): one round trip less per event for the others.
    ChatSpanning,
}

/// The Redis keys of a store.
#[derive(Debug, Clone)]
struct Keys {
    states: String,
    deadlines: String,
    due: String,
}

impl<D> Clone for RedisStorage<D> {
    fn clone(&self) -> Self {
        Self {
            redis: self.redis.clone(),
            keys: self.keys.clone(),
            idle_timeout: self.idle_timeout,
            poll_interval: self.poll_interval,
            lease_ttl: self.lease_ttl,
            leases: self.leases,
            _state: PhantomData,
        }
    }
}

impl<D: ConversationState> RedisStorage<D> {
    /// A store in `redis` (under its namespace) with the defaults: 30 minutes idle timeout,
    /// timeouts looked for every second at most, leases of 15 s.
    pub fn new(redis: &Redis) -> Self {
        Self {
            keys: Keys {
                states: redis.key("conversations:states"),
                deadlines: redis.key("conversations:deadlines"),
                due: redis.key("conversations:due"),
            },
            redis: redis.clone(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            lease_ttl: DEFAULT_LEASE_TTL,
            leases: Leases::All,
            _state: PhantomData,
        }
    }

    /// Ends conversations idle for `timeout` (default 30 minutes). Replicas sharing the
    /// conversations should agree on it.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Asks Redis for timed-out conversations at least this often (default 1 s); it asks
    /// sooner when the next one is due sooner.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(MIN_POLL);
        self
    }

    /// How long a conversation's lease lasts without renewal (default 15 s): a replica that
    /// dies while handling an event blocks the conversation this long at most. It is renewed
    /// every third of it while the handler runs.
    #[must_use]
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Which conversations to lease while their events are handled (default [`Leases::All`]).
    #[must_use]
    pub fn leases(mut self, leases: Leases) -> Self {
        self.leases = leases;
        self
    }

    /// Takes out one timed-out conversation, or says how long until the next is due.
    async fn pop_expired(&self) -> Result<Popped, BoxError> {
        let (found, wait_ms, name, state): (i64, i64, Option<String>, Option<String>) = POP_EXPIRED
            .key(&self.keys.states)
            .key(&self.keys.deadlines)
            .key(&self.keys.due)
            .invoke_async(&mut self.redis.connection())
            .await?;
        match (found, name, state) {
            (1, Some(name), Some(state)) => Ok(Popped::Expired { name, state }),
            _ if wait_ms < 0 => Ok(Popped::Empty),
            _ => Ok(Popped::Wait(Duration::from_millis(wait_ms.unsigned_abs()))),
        }
    }
}

/// What one ask for timed-out conversations found.
enum Popped {
    /// A conversation that timed out: its name and its state's JSON.
    Expired { name: String, state: String },
    /// None yet; the next is due after this long.
    Wait(Duration),
    /// No conversation is kept.
    Empty,
}

#[async_trait]
impl<D: ConversationState> Storage<D> for RedisStorage<D> {
    async fn load(&self, key: &ConversationKey) -> Result<Option<D>, BoxError> {
        let name = key.to_name();
        let state: Option<String> = LOAD
            .key(&self.keys.states)
            .key(&self.keys.deadlines)
            .key(&self.keys.due)
            .arg(&name)
            .arg(millis(self.idle_timeout))
            .invoke_async(&mut self.redis.connection())
            .await?;
        let Some(state) = state else { return Ok(None) };
        match serde_json::from_str(&state) {
            Ok(state) => Ok(Some(state)),
            Err(error) => {
                tracing::warn!(conversation = %key, %error, "a saved conversation state does not read as the bot's state type; starting anew");
                Ok(None)
            }
        }
    }

    async fn save(&self, key: &ConversationKey, state: D) -> Result<(), BoxError> {
        let name = key.to_name();
        let state = serde_json::to_string(&state)?;
        SAVE.key(&self.keys.states)
            .key(&self.keys.deadlines)
            .arg(&name)
            .arg(state)
            .arg(millis(self.idle_timeout))
            .invoke_async::<i64>(&mut self.redis.connection())
            .await?;
        Ok(())
    }

    async fn remove(&self, key: &ConversationKey) -> Result<(), BoxError> {
        let name = key.to_name();
        redis::pipe()
            .atomic()
            .hdel(&self.keys.states, &name)
            .ignore()
            .zrem(&self.keys.deadlines, &name)
            .ignore()
            .query_async::<()>(&mut self.redis.connection())
            .await?;
        Ok(())
    }

    async fn expired(&self) -> Result<(ConversationKey, D), BoxError> {
        loop {
            let wait = match self.pop_expired().await? {
                Popped::Expired { name, state } => {
                    let key = ConversationKey::from_name(&name)?;
                    let state = serde_json::from_str(&state).map_err(|error| {
                        format!("the timed-out conversation {key} has a state that does not read as the bot's state type: {error}")
                    })?;
                    return Ok((key, state));
                }
                Popped::Wait(wait) => wait.clamp(MIN_POLL, self.poll_interval),
                Popped::Empty => self.poll_interval,
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn lease(&self, key: &ConversationKey) -> Result<Option<Lease>, BoxError> {
        if self.leases == Leases::ChatSpanning && key.chat.is_some() {
            return Ok(None);
        }
        let lease_key = self
            .redis
            .key(format_args!("conversations:lease:{}", key.to_name()));
        let guard = lock::acquire(&self.redis, lease_key, self.lease_ttl).await?;
        Ok(Some(Lease::new(guard)))
    }
}

impl<D> fmt::Debug for RedisStorage<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStorage")
            .field("redis", &self.redis)
            .field("idle_timeout", &self.idle_timeout)
            .field("poll_interval", &self.poll_interval)
            .field("lease_ttl", &self.lease_ttl)
            .field("leases", &self.leases)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::GatewayKind;
    use crate::id::ChatId;

    fn key(chat: Option<&str>, sender: Option<&str>) -> ConversationKey {
        ConversationKey::new(
            GatewayKind::ZApi,
            "A/B",
            chat.map(ChatId::from),
            sender.map(ChatId::from),
        )
    }

    #[test]
    fn a_name_gives_its_key_back() {
        for key in [
            key(Some("1@c.us"), Some("2@c.us")),
            key(None, Some("2@c.us")),
            key(Some("120363043968066561@g.us"), None),
            key(Some("a\"/,b"), Some("-")),
        ] {
            assert_eq!(ConversationKey::from_name(&key.to_name()).unwrap(), key);
        }
    }

    #[test]
    fn keys_whose_parts_join_alike_have_different_names() {
        let names = [
            key(Some("a/b"), Some("c")),
            key(Some("a"), Some("b/c")),
            key(None, Some("-")),
            key(Some("-"), None),
            key(Some("-"), Some("-")),
        ]
        .map(|key| key.to_name());
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_name_that_is_not_a_key_is_an_error_not_a_panic() {
        assert!(ConversationKey::from_name("[\"telegram\",\"1\",null,null]").is_err());
        assert!(ConversationKey::from_name("not json").is_err());
        assert!(ConversationKey::from_name("[1,2]").is_err());
    }
}
