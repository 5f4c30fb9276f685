//! The backlog: where a notification waits from the moment the intake accepts it (answers the
//! gateway 200, or deletes it from the gateway's queue) until its handler finished. It is the
//! one seam between the intakes ([webhook](crate::intake::webhook), [polling](crate::intake::polling))
//! and the handlers: both hand each event to [`Backlog::keep`] through one counted step, and
//! acknowledge it only when the backlog took charge of it as its [store](crate::store)
//! promises. Each store is a backend of this trait: in memory ([`MemoryBacklog`]), in the
//! embedded durable store ([`DurableBacklog`]), in Redis.

mod durable;
mod memory;

use async_trait::async_trait;

use crate::dispatch::{DrainReport, Rejected};
use crate::event::Event;
use crate::metrics::EventSeries;

pub(crate) use durable::DurableBacklog;
pub(crate) use memory::{Claims, MemoryBacklog};

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

    /// [`keep`](Backlog::keep)s `event` at once when this backlog has nothing to wait for
    /// (claims and queues in this process), without a future; gives the event back otherwise.
    /// `counted` are the event's series, for the dispatcher to count its handling on.
    fn keep_now(
        &self,
        event: Event,
        _counted: &'static EventSeries,
    ) -> Result<Result<Accepted, Refused>, Event> {
        Err(event)
    }

    /// Whether [`keep`](Backlog::keep) may be dropped part-way without harm: such a backlog
    /// finishes on its own what a dropped `keep` began, so an intake awaits it in place rather
    /// than in a task of its own.
    fn finishes_dropped_keeps(&self) -> bool {
        false
    }

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
        self.accept_waiting(Waiting { event, counted }).await
    }

    /// [`accept`](dyn Backlog::accept) of an event counted on `counted` (the series of its
    /// instance the intake found) at once through [`keep_now`](Backlog::keep_now), or the
    /// event back, counted as received, for [`accept_waiting`](dyn Backlog::accept_waiting).
    pub(crate) fn accept_now(
        &self,
        event: Event,
        counted: &'static EventSeries,
    ) -> Result<Result<Accepted, Refused>, Waiting> {
        counted.received();
        match self.keep_now(event, counted) {
            Ok(kept) => {
                count(counted, &kept);
                Ok(kept)
            }
            Err(event) => Err(Waiting { event, counted }),
        }
    }

    /// The rest of [`accept`](dyn Backlog::accept) for an event already counted as received.
    pub(crate) async fn accept_waiting(&self, waiting: Waiting) -> Result<Accepted, Refused> {
        let kept = self.keep(waiting.event).await;
        count(waiting.counted, &kept);
        kept
    }
}

/// An event [`accept_now`](dyn Backlog::accept_now) could not keep at once, counted as received.
pub(crate) struct Waiting {
    event: Event,
    counted: &'static EventSeries,
}

/// Counts on `counted` what became of a kept event: [`accept`](dyn Backlog::accept)'s count,
/// also taken by a backlog that [finishes a dropped keep](Backlog::finishes_dropped_keeps).
fn count(counted: &EventSeries, kept: &Result<Accepted, Refused>) {
    match kept {
        Ok(Accepted::Queued) => counted.acknowledged(),
        Ok(Accepted::Duplicate) => counted.duplicate(),
        Err(_) => {}
    }
}
