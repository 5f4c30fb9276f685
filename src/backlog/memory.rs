//! The in-memory backlog: claims in a [`DedupeStore`], accepted events in the dispatcher's
//! per-chat queues.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Accepted, Backlog, Refused};
use crate::dedupe::{DedupeKey, DedupeStore, MemoryDedupe};
use crate::dispatch::{Dispatcher, DrainReport, EventIdentity};
use crate::event::Event;
use crate::metrics::EventSeries;

/// Where the in-memory backlog claims events against duplicates.
#[derive(Debug, Clone)]
pub(crate) enum Claims {
    /// In this process: claimed without waiting, so an event is kept without a future.
    Local(MemoryDedupe),
    /// In another store (one shared by replicas, say), awaited.
    Shared(Arc<dyn DedupeStore>),
}

impl Claims {
    /// Claims in `store`: [`Local`](Claims::Local) when it is a [`MemoryDedupe`].
    pub(crate) fn of<C: DedupeStore>(store: C) -> Self {
        match (&store as &dyn Any).downcast_ref::<MemoryDedupe>() {
            // A clone shares the claims.
            Some(local) => Self::Local(local.clone()),
            None => Self::Shared(Arc::new(store)),
        }
    }
}

/// Claims each event in its [`Claims`] and queues it in a [`Dispatcher`].
pub(crate) struct MemoryBacklog {
    claims: Claims,
    dispatcher: Dispatcher,
}

impl MemoryBacklog {
    /// Claims in `claims`, queues in `dispatcher`.
    pub(crate) fn new(claims: Claims, dispatcher: Dispatcher) -> Self {
        Self { claims, dispatcher }
    }

    /// [`keep`](Backlog::keep) with claims in this process: nothing to wait for.
    /// `counted` are the event's series, when the intake found them.
    fn keep_locally(
        &self,
        claims: &MemoryDedupe,
        event: Event,
        counted: Option<&'static EventSeries>,
    ) -> Result<Accepted, Refused> {
        let key = DedupeKey::of(&event);
        if let Some(key) = &key
            && !claims.claim_now(key)
        {
            return Ok(duplicate(&event));
        }
        let counted = counted.unwrap_or_else(|| EventSeries::of(&event));
        let Err(rejected) = self.dispatcher.submit_counted(event, counted, None) else {
            return Ok(Accepted::Queued);
        };
        if let Some(key) = &key {
            claims.release_now(key);
        }
        Err(rejected.into())
    }

    /// [`keep`](Backlog::keep) with claims in `claims`, a store awaited.
    async fn keep_in(&self, claims: &dyn DedupeStore, event: Event) -> Result<Accepted, Refused> {
        let key = DedupeKey::of(&event);
        if let Some(key) = &key {
            match claims.claim(key).await {
                Ok(true) => {}
                Ok(false) => return Ok(duplicate(&event)),
                Err(error) => {
                    tracing::error!(%error, "dedupe store unavailable");
                    return Err(Refused::Unavailable("deduplication store"));
                }
            }
        }
        let Err(rejected) = self.dispatcher.submit(event, None) else {
            return Ok(Accepted::Queued);
        };
        if let Some(key) = &key
            && let Err(error) = claims.release(key).await
        {
            tracing::error!(%error, ?key, "could not release the claim of a rejected notification");
        }
        Err(rejected.into())
    }
}

/// A copy of an event accepted before: acknowledged, not handled again.
fn duplicate(event: &Event) -> Accepted {
    tracing::debug!(
        event = %EventIdentity::of(event),
        "duplicate notification acknowledged, not handled again"
    );
    Accepted::Duplicate
}

#[async_trait]
impl Backlog for MemoryBacklog {
    /// Claims `event` against duplicates and queues it; on refusal gives the claim back, so
    /// that the gateway's next delivery is handled.
    async fn keep(&self, event: Event) -> Result<Accepted, Refused> {
        match &self.claims {
            Claims::Local(claims) => self.keep_locally(claims, event, None),
            Claims::Shared(claims) => self.keep_in(claims.as_ref(), event).await,
        }
    }

    /// With claims in this process, the whole [`keep`](Backlog::keep).
    fn keep_now(
        &self,
        event: Event,
        counted: &'static EventSeries,
    ) -> Result<Result<Accepted, Refused>, Event> {
        match &self.claims {
            Claims::Local(claims) => Ok(self.keep_locally(claims, event, Some(counted))),
            Claims::Shared(_) => Err(event),
        }
    }

    async fn start(&self) -> crate::Result<()> {
        Ok(())
    }

    fn is_closed(&self) -> bool {
        self.dispatcher.is_closed()
    }

    async fn shutdown(&self) -> DrainReport {
        self.dispatcher.shutdown().await
    }
}
