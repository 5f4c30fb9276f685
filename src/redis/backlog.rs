//! The Redis side of the intakes' seam ([`Backlog`](crate::intake::Backlog)): accepting a
//! notification appends it to the shared queue; this replica's [`Consumer`] feeds the local
//! dispatcher from it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::consumer::Consumer;
use super::queue::{Appended, RedisQueue};
use crate::dispatch::{Dispatcher, DrainReport, EventIdentity, Rejected};
use crate::event::Event;
use crate::intake::{Accepted, Refused};

/// Accepted notifications go to a [`RedisQueue`]; this replica handles its share of them.
pub(crate) struct RedisBacklog {
    queue: RedisQueue,
    consumer: Consumer,
    dispatcher: Dispatcher,
    closed: AtomicBool,
}

impl RedisBacklog {
    /// Appends to `queue`, and feeds `dispatcher` from it once started.
    pub(crate) fn new(queue: RedisQueue, dispatcher: Dispatcher) -> Self {
        Self {
            consumer: Consumer::new(queue.clone(), dispatcher.clone()),
            queue,
            dispatcher,
            closed: AtomicBool::new(false),
        }
    }

    /// Claims `event` and appends it to its partition's stream, atomically: accepted only once
    /// it is in Redis.
    pub(crate) async fn accept(&self, event: Event) -> Result<Accepted, Refused> {
        if self.is_closed() {
            return Err(Refused::Rejected(Rejected::ShuttingDown));
        }
        match self.queue.append(&event).await {
            Ok(Appended::Queued) => Ok(Accepted::Queued),
            Ok(Appended::Duplicate) => {
                tracing::debug!(
                    event = %EventIdentity::of(&event),
                    "duplicate notification acknowledged, not handled again"
                );
                Ok(Accepted::Duplicate)
            }
            Ok(Appended::Full) => Err(Refused::Rejected(Rejected::Full)),
            Err(error) => {
                tracing::error!(%error, "the Redis queue is unavailable");
                Err(Refused::QueueUnavailable)
            }
        }
    }

    /// Starts this replica's consumer (once).
    pub(crate) fn start(&self) {
        self.consumer.start();
    }

    /// Whether intake stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.dispatcher.is_closed()
    }

    /// Stops intake (503), stops reading, drains the local dispatcher within `deadline`,
    /// acknowledges what was handled and gives up the leases.
    pub(crate) async fn shutdown(&self, deadline: Duration) -> DrainReport {
        self.closed.store(true, Ordering::Release);
        self.consumer.shutdown(deadline).await
    }
}
