//! The Redis side of the backlog seam ([`Backlog`]): accepting a notification appends it to the
//! shared queue; this replica's [`Consumer`] feeds the local dispatcher from it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::consumer::Consumer;
use super::group_commit::{GroupCommit, Unavailable};
use super::queue::{Appended, RedisQueue};
use crate::backlog::{Accepted, Backlog, Refused};
use crate::dispatch::{Dispatcher, DrainReport, Rejected};
use crate::event::Event;

/// Accepted notifications go to a [`RedisQueue`]; this replica handles its share of them.
pub(crate) struct RedisBacklog {
    queue: RedisQueue,
    appends: GroupCommit,
    consumer: Consumer,
    dispatcher: Dispatcher,
    closed: AtomicBool,
}

/// The backlog of `queue`, feeding `dispatcher` once started.
pub(crate) fn backlog(queue: RedisQueue, dispatcher: Dispatcher) -> Arc<dyn Backlog> {
    let consumer = Consumer::new(queue.clone(), dispatcher.clone());
    Arc::new(RedisBacklog {
        appends: GroupCommit::new(queue.clone()).feeding(consumer.feed()),
        consumer,
        queue,
        dispatcher,
        closed: AtomicBool::new(false),
    })
}

#[async_trait]
impl Backlog for RedisBacklog {
    /// Claims `event` and appends it to its partition's stream, atomically, in a batch with
    /// the notifications accepted meanwhile: accepted only once it is in Redis.
    async fn keep(&self, event: Event) -> Result<Accepted, Refused> {
        if self.is_closed() {
            return Err(Rejected::ShuttingDown.into());
        }
        match self.appends.append(event).await {
            Ok(Appended::Queued) => Ok(Accepted::Queued),
            Ok(Appended::Duplicate) => Ok(Accepted::Duplicate),
            Ok(Appended::Full) => Err(Rejected::Full.into()),
            Ok(Appended::Refused) | Err(Unavailable) => Err(Refused::Unavailable("queue store")),
        }
    }

    /// Refuses a Redis that evicts keys; then starts this replica's consumer (once).
    async fn start(&self) -> crate::Result<()> {
        super::eviction::check_policy(self.queue.redis()).await?;
        self.consumer.start();
        Ok(())
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.dispatcher.is_closed()
    }

    /// Stops intake (503), answers the appends already asked for, stops reading, drains the local dispatcher within its deadline,
    /// acknowledges what was handled and gives up the leases.
    async fn shutdown(&self) -> DrainReport {
        self.closed.store(true, Ordering::Release);
        self.appends.flush().await;
        self.consumer.shutdown().await
    }
}
