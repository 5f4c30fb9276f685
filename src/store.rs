//! Where a bot keeps what it must not lose: the notifications it accepted until their handlers
//! finish, the claims against duplicates, and the conversations' states. [`Store`] is the one
//! place a backend is chosen:
//!
//! | store | claims against duplicates | accepted events | survives |
//! |---|---|---|---|
//! | [`Store::memory`] (sandbox, tests) | in memory, 24 h | the dispatcher's per-chat queues | a graceful stop |
//! | Redis (`redis` feature, several replicas) | in Redis, 24 h | a Redis stream per partition | a crash, a replica's death |
//!
//! Whatever the store, the intake acknowledges a notification only once the
//! backlog took charge of it as its store promises, and a copy of a
//! notification already accepted is acknowledged and not handled again.

use std::sync::Arc;

use crate::backlog::{Backlog, MemoryBacklog};
use crate::conversation::{ConversationState, Conversations};
use crate::dedupe::{DedupeStore, MemoryDedupe};
use crate::dispatch::Dispatcher;

/// Where a bot keeps the notifications it accepted until their handlers finish, the claims
/// against duplicates, and (unless the bot sets other [`Conversations`]) the conversations'
/// states. Give it to [`BotBuilder::store`](crate::bot::BotBuilder::store); bots read it from
/// the environment (`HOOKBOT_REDIS_URL`).
///
/// ```
/// use hookbot::store::Store;
///
/// let store = Store::memory();
/// # let _ = store;
/// ```
#[derive(Debug, Clone)]
pub struct Store(Kind);

/// The backends a [`Store`] can be.
#[derive(Debug, Clone)]
enum Kind {
    /// In this process, with claims in this store.
    Memory(Arc<dyn DedupeStore>),
    /// A Redis queue shared by replicas (made in [`redis`](crate::redis)).
    #[cfg(feature = "redis")]
    Redis(Box<crate::redis::RedisQueue>),
}

impl Default for Store {
    fn default() -> Self {
        Self::memory()
    }
}

impl Store {
    /// In this process: claims in a [`MemoryDedupe`], accepted events in the dispatcher's
    /// queues, conversations in a [`MemoryStorage`](crate::conversation::MemoryStorage). Fast;
    /// what was accepted and not handled is lost if the process dies.
    pub fn memory() -> Self {
        Self::memory_with_claims(MemoryDedupe::default())
    }

    /// In this process, with the claims against duplicates in `claims` (a store shared by
    /// replicas that each keep their queue in memory, say).
    pub fn memory_with_claims(claims: impl DedupeStore) -> Self {
        Self(Kind::Memory(Arc::new(claims)))
    }

    /// The backlog of this store, feeding `dispatcher`.
    pub(crate) fn open(self, dispatcher: Dispatcher) -> Arc<dyn Backlog> {
        match self.0 {
            Kind::Memory(claims) => Arc::new(MemoryBacklog::new(claims, dispatcher)),
            #[cfg(feature = "redis")]
            Kind::Redis(queue) => crate::redis::backlog(*queue, dispatcher),
        }
    }

    /// The conversations a bot with state `D` keeps in this store unless it sets its own.
    pub(crate) fn conversations<D: ConversationState>(&self) -> Conversations<D> {
        match &self.0 {
            Kind::Memory(_) => Conversations::in_memory(),
            #[cfg(feature = "redis")]
            Kind::Redis(queue) => {
                Conversations::new(crate::redis::RedisStorage::new(queue.redis()))
            }
        }
    }

    /// Where the handlers of a bot on this store keep their [memos](crate::memo).
    pub(crate) fn memos(&self) -> crate::memo::Memos {
        use crate::memo::Memos;
        match &self.0 {
            Kind::Memory(_) => Memos::in_memory(),
            #[cfg(feature = "redis")]
            Kind::Redis(queue) => Memos::from(queue.redis()),
        }
    }
}

/// A bot on this Redis queue, shared by its replicas (see [`redis`](crate::redis)).
#[cfg(feature = "redis")]
mod redis {
    use super::{Kind, Store};
    use crate::redis::{Redis, RedisQueue};

    impl From<RedisQueue> for Store {
        fn from(queue: RedisQueue) -> Self {
            Store(Kind::Redis(Box::new(queue)))
        }
    }

    /// A bot on a queue of this Redis with the default partitions, capacity and lease.
    impl From<Redis> for Store {
        fn from(redis: Redis) -> Self {
            Store::from(RedisQueue::new(redis))
        }
    }
}
