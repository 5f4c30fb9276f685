//! The Redis backend: what several replicas of one bot share, kept in Redis — the queue of
//! accepted notifications, the claims against duplicates, conversation states and the
//! gateways' rate limits. The embedded in-memory parts stay the default; a bot switches with
//! one line, or with `HOOKBOT_REDIS_URL`.
//!
//! ```no_run
//! use hookbot::{Bot, Router, gateway::GreenApi, redis::Redis};
//!
//! # async fn run(router: Router) -> anyhow::Result<()> {
//! let gateway = GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token").build()?;
//! Bot::builder(router)
//!     .gateway(gateway)
//!     .store(Redis::open("redis://:password@redis.internal:6379")?.namespace("support-bot"))
//!     .run()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! A bot binary does the same when `HOOKBOT_REDIS_URL` is set
//! ([`Bot::from_env`](crate::bot::Bot::from_env)). Run as many replicas as you like behind one
//! load balancer (webhook) or side by side (polling), all with the same URL and namespace.
//!
//! [`Redis`] is the connection every part shares: one multiplexed connection that reconnects
//! by itself, and a namespace that prefixes every key the bot writes.
//!
//! # The shared queue
//!
//! [`RedisQueue`] is where an accepted notification waits for its handler:
//!
//! - **Intake.** A script claims each notification against duplicates (`SET NX`, kept 24 h)
//!   and appends it (`XADD`) to its partition's stream, atomically; only then does the
//!   receiver answer 200 (or the poller delete it from the gateway's queue). A copy is
//!   answered 200 and not appended. Redis out of reach, or the queue full: 503, nothing
//!   claimed, and the gateway delivers it again. The appends are group-committed: the
//!   notifications that arrive while one script call is on its way are sent together in the
//!   next (a lone one goes at once), in the order they came, and each is answered with its
//!   own outcome once its call is done.
//! - **Partitions.** A chat's events all go to one of a fixed number of streams (a stable hash
//!   of gateway, instance and chat; an instance's own events by instance). Each partition is
//!   handled by one replica at a time, the holder of its lease; replicas announce themselves
//!   with heartbeats and each holds a fair share of the partitions, so a chat's events are
//!   handled in order even with many replicas.
//! - **Handling.** A replica reads its partitions' streams (`XREAD`, each on from the last
//!   entry it took) while its dispatcher has room, and once an event's handler finished (or
//!   failed and was reported) deletes the entry (`XDEL`, a batch per call): a stream holds
//!   exactly its partition's unhandled events, and its length is the partition's depth
//!   ([`RedisQueue::depth`]). No consumer group is needed. While a replica is the only live
//!   one, what it appends to its own partitions is not read back: the append script tells
//!   it, per partition, whether anything came after the last entry it took, and when nothing
//!   did it hands the appended events to its dispatcher from memory (otherwise it reads, as
//!   above); it then looks for entries it did not append every 100 ms.
//! - **Failover.** A replica that dies leaves its unhandled entries in their streams. Its
//!   leases expire ([`RedisQueue::lease`], 10 s by default); a replica that takes a partition
//!   reads its stream from the start, so those entries are handled, in order, before new
//!   ones.
//! - **Shutdown.** Intake stops (503), reading stops, the dispatcher drains within the
//!   deadline (the leases are renewed meanwhile, so no other replica takes over events still
//!   being handled), what was handled is deleted and the leases are given up at once; what
//!   was read but not handled stays in its stream for the next holder.
//!
//! Delivery is at least once. A replica that dies after a handler's effect (its reply was
//! sent) and before the entry's deletion leaves the entry in its stream, and the next holder
//! runs the handler again; so does a replica that loses a lease while Redis is out of reach
//! for longer than a lease. Handlers whose effects must not repeat check for themselves.
//!
//! What is acknowledged survives a Redis restart only as far as Redis persists it: run Redis
//! with the append-only file (`appendonly yes`; `appendfsync always` to lose nothing at all).
//! Redis must never evict: a bot refuses to start on a server whose `maxmemory-policy` is not
//! `noeviction` (an evicting Redis would drop queued events, claims and leases when its memory
//! runs short); where `CONFIG` is forbidden (some managed services), it warns and starts.
//! The backend needs one Redis server (or a primary with replicas), not a Redis Cluster.
//!
//! Keys, under the namespace: `queue:{partition}` (streams), `dedupe:{key}` (claims),
//! `lease:{partition}` and `replicas` (who handles what); the handlers'
//! [memos](crate::memo) under `memos:*`.
//!
//! # Conversations and rate limits
//!
//! Conversations: [`RedisStorage`] keeps their states, ends idle ones once across replicas,
//! and leases each conversation's key to one replica at a time. Rate limits: a client built
//! with [`ClientSettings::shared_limits`](crate::gateway::ClientSettings::shared_limits)
//! shares its instance's limits with every replica.

mod backlog;
mod consumer;
mod conversation;
mod dedupe;
pub(crate) mod eviction;
mod group_commit;
mod lease;
mod lock;
pub(crate) mod memo;
mod queue;
pub(crate) mod rate_limit;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub(crate) use backlog::backlog;
pub use dedupe::RedisDedupe;
pub use queue::{DEFAULT_LEASE, DEFAULT_PARTITIONS, DEFAULT_QUEUE_CAPACITY, RedisQueue};

use crate::error::{Error, Result};
use crate::secret::Secret;

pub use conversation::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_LEASE_TTL, DEFAULT_POLL_INTERVAL, Leases, RedisStorage,
};

/// The namespace of a bot's keys by default: every key starts with `hookbot:`.
pub const DEFAULT_NAMESPACE: &str = "hookbot";
/// How long connecting to Redis may take before the command fails.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one command may wait for Redis's answer before it fails.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a command that finds the connection broken tries to connect again before it
/// fails (the next command tries anew): a command fails within a few seconds while Redis is
/// down.
const RECONNECT_ATTEMPTS: usize = 1;
/// The longest wait between two tries to connect.
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(500);

/// A connection to one Redis server, shared by every part of the backend. Cheap to clone;
/// clones share the connection.
///
/// It connects on first use and reconnects after a failure by itself, so a bot starts while
/// Redis is down and works again when Redis is back; meanwhile each command fails within
/// a few seconds with a typed error.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    connection: ConnectionManager,
    namespace: Arc<str>,
}

impl Redis {
    /// A connection to the server at `url` (`redis://[:password@]host[:port][/db]`), made on
    /// first use. Fails only when the URL cannot be read; the error never repeats the URL
    /// (it may hold a password). Call it within a tokio runtime.
    pub fn open(url: impl Into<Secret>) -> Result<Self> {
        let url = url.into();
        let client = redis::Client::open(url.expose()).map_err(|error| Error::Config {
            variable: "HOOKBOT_REDIS_URL",
            reason: format!("not a Redis URL: {}", error.category()),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECT_ATTEMPTS)
            .set_max_delay(RECONNECT_MAX_DELAY);
        let connection =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(|error| {
                Error::Config {
                    variable: "HOOKBOT_REDIS_URL",
                    reason: error.category().to_owned(),
                }
            })?;
        Ok(Self {
            client,
            connection,
            namespace: DEFAULT_NAMESPACE.into(),
        })
    }

    /// [`open`](Redis::open) in `namespace`, or in the default one when `None`.
    pub(crate) fn open_namespaced(url: Secret, namespace: Option<&str>) -> Result<Self> {
        let redis = Self::open(url)?;
        Ok(match namespace {
            Some(namespace) => redis.namespace(namespace),
            None => redis,
        })
    }

    /// Prefixes every key with `namespace` instead of `hookbot`: two bots sharing one Redis
    /// need different namespaces; replicas of one bot need the same.
    #[must_use]
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The shared multiplexed connection, for commands that answer at once.
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The client, to open a connection of one's own (a blocking read must not hold up the
    /// shared connection's other commands).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The key `{namespace}:{name}`.
    pub(crate) fn key(&self, name: impl fmt::Display) -> String {
        format!("{}:{name}", self.namespace)
    }
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// A Redis error as the crate's [`Error::Storage`], for the parts whose callers expect one.
pub(crate) fn storage_error(error: redis::RedisError) -> Error {
    Error::storage(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The password of the URLs below: it must show nowhere.
    const PASSWORD: &str = "hunter2-redis-password";

    #[tokio::test]
    async fn the_url_and_its_password_show_in_no_debug_and_no_error() {
        let bad = Redis::open(format!("redis://:{PASSWORD}@[not-a-host:6379")).unwrap_err();
        assert!(matches!(bad, Error::Config { .. }), "{bad:?}");
        for text in [bad.to_string(), format!("{bad:?}")] {
            assert!(!text.contains(PASSWORD), "{text}");
        }

        // Nothing listens on port 1: every command fails.
        let redis = Redis::open(format!("redis://:{PASSWORD}@127.0.0.1:1/0"))
            .unwrap()
            .namespace("debug-test");
        let queue = RedisQueue::new(redis.clone());
        let dedupe = RedisDedupe::new(redis.clone());
        let storage: RedisStorage<u32> = RedisStorage::new(&redis);
        let failed = queue.depth().await.unwrap_err();
        for text in [
            format!("{redis:?}"),
            format!("{queue:?}"),
            format!("{dedupe:?}"),
            format!("{storage:?}"),
            failed.to_string(),
            format!("{failed:?}"),
        ] {
            assert!(!text.contains(PASSWORD), "{text}");
            assert!(!text.contains("127.0.0.1:1/0"), "{text}");
        }
    }
}
