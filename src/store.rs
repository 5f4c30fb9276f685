//! Where a bot keeps what it must not lose: the notifications it accepted until their handlers
//! finish, the claims against duplicates, and the conversations' states. [`Store`] is the one
//! place a backend is chosen:
//!
//! | store | claims against duplicates | accepted events | survives |
//! |---|---|---|---|
//! | [`Store::memory`] (sandbox, tests) | in memory, 24 h | the dispatcher's per-chat queues | a graceful stop |
//! | [`Store::durable`] (a bot on a real gateway, by default) | in the [embedded store](crate::durable), 24 h | the embedded store, until handled | a killed process (with [`Durability::PowerLoss`], power loss) |
//! | Redis (`redis` feature, several replicas) | in Redis, 24 h | a Redis stream per partition | a crash, a replica's death |
//!
//! Whatever the store, the intake acknowledges a notification only once the
//! backlog took charge of it as its store promises, and a copy of a
//! notification already accepted is acknowledged and not handled again.

use std::path::Path;
use std::sync::Arc;

use crate::backlog::{Backlog, Claims, DurableBacklog, MemoryBacklog};
use crate::conversation::{ConversationState, Conversations};
use crate::dedupe::{DedupeStore, MemoryDedupe};
use crate::dispatch::Dispatcher;
#[cfg(doc)]
use crate::durable::Durability;
use crate::durable::{DurableStore, SqliteStorage, StoreSettings};
use crate::error::Result;

/// Where a bot keeps the notifications it accepted until their handlers finish, the claims
/// against duplicates, and (unless the bot sets other [`Conversations`]) the conversations'
/// states. Give it to [`BotBuilder::store`](crate::bot::BotBuilder::store); bots read it from
/// the environment (`HOOKBOT_STORE`, `HOOKBOT_DATA_DIR`, `HOOKBOT_REDIS_URL`).
///
/// ```no_run
/// use hookbot::store::Store;
///
/// # fn run() -> hookbot::Result<()> {
/// let store = Store::durable("hookbot-data")?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Store(Kind);

/// The backends a [`Store`] can be.
#[derive(Debug, Clone)]
enum Kind {
    /// In this process, with claims in this store.
    Memory(Claims),
    /// In the embedded durable store.
    Durable(DurableStore),
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
        Self(Kind::Memory(Claims::of(claims)))
    }

    /// In the embedded durable store in `directory` (see [`durable`](crate::durable)), with the
    /// default [`StoreSettings`]: claims, accepted events until their handlers finish, and
    /// conversations survive a killed process; what was accepted and not handled is handled
    /// at the next start. It opens the store now (creating the directory), and holds the
    /// directory while the bot runs.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) naming the path: the directory cannot be
    /// created or written, another bot holds it, the database is corrupt or was written by a
    /// newer hookbot.
    pub fn durable(directory: impl AsRef<Path>) -> Result<Self> {
        Self::durable_with(directory, StoreSettings::new())
    }

    /// [`durable`](Store::durable), with `settings` (durability, bounds, claim retention).
    ///
    /// # Errors
    ///
    /// As [`durable`](Store::durable).
    pub fn durable_with(directory: impl AsRef<Path>, settings: StoreSettings) -> Result<Self> {
        DurableStore::open(directory, settings).map(Self::from)
    }

    /// The backlog of this store, feeding `dispatcher`.
    pub(crate) fn open(self, dispatcher: Dispatcher) -> Arc<dyn Backlog> {
        match self.0 {
            Kind::Memory(claims) => Arc::new(MemoryBacklog::new(claims, dispatcher)),
            Kind::Durable(store) => Arc::new(DurableBacklog::new(store, dispatcher)),
            #[cfg(feature = "redis")]
            Kind::Redis(queue) => crate::redis::backlog(*queue, dispatcher),
        }
    }

    /// The conversations a bot with state `D` keeps in this store unless it sets its own.
    pub(crate) fn conversations<D: ConversationState>(&self) -> Conversations<D> {
        match &self.0 {
            Kind::Memory(_) => Conversations::in_memory(),
            Kind::Durable(store) => Conversations::new(SqliteStorage::new(store)),
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
            Kind::Durable(store) => Memos::from(store.clone()),
            #[cfg(feature = "redis")]
            Kind::Redis(queue) => Memos::from(queue.redis()),
        }
    }
}

/// A bot on this embedded store (opened with [`DurableStore::open`]), which the bot shares
/// with what else keeps data in it (a [`Memo`](crate::durable::Memo)).
impl From<DurableStore> for Store {
    fn from(store: DurableStore) -> Self {
        Store(Kind::Durable(store))
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
