//! The in-memory backlog: claims in a [`DedupeStore`], accepted events in the dispatcher's
//! per-chat queues.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Accepted, Backlog, Refused};
use crate::dedupe::{DedupeKey, DedupeStore};
use crate::dispatch::{Dispatcher, DrainReport, EventIdentity};
use crate::event::Event;

/// Claims each event in a [`DedupeStore`] and queues it in a [`Dispatcher`].
pub(crate) struct MemoryBacklog {
    claims: Arc<dyn DedupeStore>,
    dispatcher: Dispatcher,
}

impl MemoryBacklog {
    /// Claims in `claims`, queues in `dispatcher`.
    pub(crate) fn new(claims: Arc<dyn DedupeStore>, dispatcher: Dispatcher) -> Self {
        Self { claims, dispatcher }
    }
}

#[async_trait]
impl Backlog for MemoryBacklog {
    /// Claims `event` against duplicates and queues it; on refusal gives the claim back, so
    /// that the gateway's next delivery is handled.
    async fn keep(&self, event: Event) -> Result<Accepted, Refused> {
        let key = DedupeKey::of(&event);
        if let Some(key) = &key {
            match self.claims.claim(key).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(
                        event = %EventIdentity::of(&event),
                        "duplicate notification acknowledged, not handled again"
                    );
                    return Ok(Accepted::Duplicate);
                }
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
            && let Err(error) = self.claims.release(key).await
        {
            tracing::error!(%error, ?key, "could not release the claim of a rejected notification");
        }
        Err(rejected.into())
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
