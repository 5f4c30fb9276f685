//! The backlog: where a notification waits from the moment the intake accepts it (answers the
//! gateway 200, or deletes it from the gateway's queue) until its handler finished. It is the
//! one seam between the intakes ([webhook](crate::intake::webhook), [polling](crate::intake::polling))
//! and the handlers, and the place where the bot's [`Store`] is chosen:
//!
//! | store | claims against duplicates | accepted events | survives |
//! |---|---|---|---|
//! | [`Store::memory`] (sandbox, tests) | in memory, 24 h | the dispatcher's per-chat queues | a graceful stop |
//! | Redis (`redis` feature, several replicas) | in Redis, 24 h | a Redis stream per partition | a crash, a replica's death |
//!
//! Whatever the store, the intake acknowledges a notification only once the backlog took
//! charge of it as its store promises, and a copy of a notification already accepted is
//! acknowledged and not handled again.

mod memory;

use std::sync::Arc;

use async_trait::async_trait;

use crate::conversation::{ConversationState, Conversations};
use crate::dedupe::{DedupeStore, MemoryDedupe};
use crate::dispatch::{Dispatcher, DrainReport, Rejected};
use crate::event::Event;
use crate::metrics::EventSeries;

pub(crate) use memory::MemoryBacklog;

/// A notification the backlog took charge of: the gateway may forget it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    /// Kept for its handler.
    Queued,
    /// A copy of one accepted before: acknowledged, not handled again.
    Duplicate,
}

/// Why a notification was not accepted; the gateway must deliver it again (the webhook
/// answers 503, the poller leaves it in the queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// The dispatcher (or the store) is full, or shutting down.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The store could not be reached; nothing was claimed or kept.
    #[error("{0} unavailable")]
    Unavailable(&'static str),
}

/// What both intakes hand an accepted event to. A backlog owns the dispatcher that runs the
/// handlers, and feeds it what it keeps.
#[async_trait]
pub(crate) trait Backlog: Send + Sync {
    /// Claims `event` against duplicates and keeps it for its handler, or says why not.
    async fn keep(&self, event: Event) -> Result<Accepted, Refused>;

    /// Gets ready to serve, before the intake accepts anything: checks its store and starts
    /// handling what is kept where that needs work of its own (a shared store's consumer).
    /// Called once, by the bot, when it starts serving.
    async fn start(&self) -> crate::Result<()>;

    /// Whether intake stopped (shutdown began): `GET /healthz` answers 503 then.
    fn is_closed(&self) -> bool;

    /// Stops intake, handles what was accepted here within the dispatcher's drain deadline,
    /// and says what was left.
    async fn shutdown(&self) -> DrainReport;
}

impl dyn Backlog {
    /// [`keep`](Backlog::keep)s `event` and counts it on `GET /metrics`: the step both intakes
    /// take before they acknowledge a notification, which they do only on `Ok`.
    pub(crate) async fn accept(&self, event: Event) -> Result<Accepted, Refused> {
        let counted = EventSeries::of(&event);
        counted.received();
        let kept = self.keep(event).await;
        match kept {
            Ok(Accepted::Queued) => counted.acknowledged(),
            Ok(Accepted::Duplicate) => counted.duplicate(),
            Err(_) => {}
        }
        kept
    }
}

/// Where a bot keeps the notifications it accepted until their handlers finish, the claims
/// against duplicates, and (unless the bot sets other [`Conversations`]) the conversations'
/// states. Give it to [`BotBuilder::store`](crate::bot::BotBuilder::store); bots read it from
/// the environment (`HOOKBOT_REDIS_URL`).
///
/// ```
/// use hookbot::backlog::Store;
///
/// let store = Store::memory();
/// # let _ = store;
/// ```
#[derive(Debug, Clone)]
pub struct Store(pub(crate) Kind);

/// The backends a [`Store`] can be.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
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
}
