//! How notifications enter a bot: pushed to its webhook, or pulled from the gateway's queue by
//! polling ([`Intake`]), and what both share: where accepted notifications go, the
//! [`Backlog`] (in memory: [`accept`] claims against duplicates and queues in the local
//! dispatcher; in Redis: the shared durable queue), and serving their HTTP routes until
//! shutdown, [`serve_during`].

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::dedupe::{DedupeKey, DedupeStore};
use crate::dispatch::{Dispatcher, DrainReport, EventIdentity, Rejected};
use crate::event::Event;
use crate::metrics::EventSeries;
use crate::polling::PollingSettings;

/// How a bot receives its gateway's notifications. Choose it with
/// [`BotBuilder::intake`](crate::bot::BotBuilder::intake) or
/// [`BotBuilder::polling`](crate::bot::BotBuilder::polling); bots read it from
/// `HOOKBOT_INTAKE` (see [`Config`](crate::config::Config)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Intake {
    /// The gateway POSTs each notification to the bot's `POST /webhook` (the default). The bot
    /// must be reachable from the gateway.
    #[default]
    Webhook,
    /// The bot pulls notifications from the gateway's queue (GREEN-API receiveNotification and
    /// deleteNotification; see [`polling`](crate::polling)). Nothing has to reach the bot from
    /// outside, and `POST /webhook` is not served.
    Polling(PollingSettings),
}

impl Intake {
    /// The name used in `HOOKBOT_INTAKE`: `webhook` or `polling`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Intake::Webhook => "webhook",
            Intake::Polling(_) => "polling",
        }
    }
}

impl fmt::Display for Intake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A notification the bot took charge of: the gateway may forget it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    /// Claimed and queued for its handler.
    Queued,
    /// A copy of one claimed before: acknowledged, not handled again.
    Duplicate,
}

/// Why a notification was not accepted; the gateway must deliver it again.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The dispatcher refused it (full, or shutting down); its claim was given back.
    Rejected(Rejected),
    /// The dedupe store could not be asked.
    DedupeUnavailable,
    /// The shared queue (Redis) could not be reached; nothing was claimed or queued.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    QueueUnavailable,
}

/// Where accepted notifications go: the one seam between the intakes (webhook, poller) and
/// what handles the notifications. Both intakes hold one, and answer the gateway by what
/// [`accept`](Backlog::accept) says.
pub(crate) enum Backlog {
    /// In this process (the default): claims in a [`DedupeStore`], per-chat queues in the
    /// [`Dispatcher`].
    Memory {
        /// Claims against duplicates.
        dedupe: Arc<dyn DedupeStore>,
        /// The per-chat queues and their handler.
        dispatcher: Dispatcher,
    },
    /// In a Redis queue shared by the bot's replicas; this replica's dispatcher handles its
    /// share.
    #[cfg(feature = "redis")]
    Redis(Arc<crate::redis::RedisBacklog>),
}

/// A queue shared by replicas: a [`RedisQueue`](crate::redis::RedisQueue).
#[cfg(feature = "redis")]
pub(crate) type SharedQueue = crate::redis::RedisQueue;
/// A queue shared by replicas: none without the `redis` feature.
#[cfg(not(feature = "redis"))]
#[derive(Debug, Clone)]
pub(crate) enum SharedQueue {}

impl Backlog {
    /// The in-memory backlog of `dedupe` and `dispatcher`, or, when `queue` is set, the
    /// shared one feeding `dispatcher`.
    pub(crate) fn new(
        dedupe: Arc<dyn DedupeStore>,
        dispatcher: Dispatcher,
        queue: Option<SharedQueue>,
    ) -> Self {
        match queue {
            None => Backlog::Memory { dedupe, dispatcher },
            #[cfg(feature = "redis")]
            Some(queue) => {
                Backlog::Redis(Arc::new(crate::redis::RedisBacklog::new(queue, dispatcher)))
            }
            #[cfg(not(feature = "redis"))]
            Some(never) => match never {},
        }
    }

    /// Takes charge of `event`, or says why not: the intake acknowledges a notification to
    /// the gateway only on `Ok`.
    pub(crate) async fn accept(&self, event: Event) -> Result<Accepted, Refused> {
        let counted = EventSeries::of(&event);
        counted.received();
        let accepted = match self {
            Backlog::Memory { dedupe, dispatcher } => accept(&**dedupe, dispatcher, event).await,
            #[cfg(feature = "redis")]
            Backlog::Redis(redis) => redis.accept(event).await,
        };
        match accepted {
            Ok(Accepted::Queued) => counted.acknowledged(),
            Ok(Accepted::Duplicate) => counted.duplicate(),
            Err(_) => {}
        }
        accepted
    }

    /// Starts handling what is accepted, where that needs a task (the Redis consumer); call it
    /// when the intake starts serving.
    pub(crate) fn start(&self) {
        match self {
            Backlog::Memory { .. } => {}
            #[cfg(feature = "redis")]
            Backlog::Redis(redis) => redis.start(),
        }
    }

    /// Whether intake stopped (shutdown began).
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Backlog::Memory { dispatcher, .. } => dispatcher.is_closed(),
            #[cfg(feature = "redis")]
            Backlog::Redis(redis) => redis.is_closed(),
        }
    }

    /// Stops intake (503) and handles what was accepted here within `deadline`; says what was
    /// left. On Redis, what was read but not handled stays in the queue for another replica.
    pub(crate) async fn shutdown(&self, deadline: Duration) -> DrainReport {
        match self {
            Backlog::Memory { dispatcher, .. } => dispatcher.shutdown(deadline).await,
            #[cfg(feature = "redis")]
            Backlog::Redis(redis) => redis.shutdown(deadline).await,
        }
    }
}

/// Claims `event` against duplicates and queues it; on refusal gives the claim back, so that
/// the gateway's next delivery is handled. Both intakes take this step, and acknowledge a
/// notification to the gateway (200, or deleteNotification) only when it returns `Ok`.
pub(crate) async fn accept(
    dedupe: &dyn DedupeStore,
    dispatcher: &Dispatcher,
    event: Event,
) -> Result<Accepted, Refused> {
    let key = DedupeKey::of(&event);
    if let Some(key) = &key {
        match dedupe.claim(key).await {
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
                return Err(Refused::DedupeUnavailable);
            }
        }
    }
    let Err(rejected) = dispatcher.submit(event) else {
        return Ok(Accepted::Queued);
    };
    if let Some(key) = &key
        && let Err(error) = dedupe.release(key).await
    {
        tracing::error!(%error, ?key, "could not release the claim of a rejected notification");
    }
    Err(Refused::Rejected(rejected))
}

/// How long the HTTP server may take to close its connections after the drain; past it the
/// server is stopped outright (a long poll that the poller abandoned may still be open on a
/// sandbox served by the same server).
const SERVER_STOP_GRACE: Duration = Duration::from_secs(2);

/// A future that resolves when the intake must stop.
pub(crate) type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves `app` on `listener` while `work` runs, then stops serving (within a grace period).
/// `work` gets a signal that resolves when `shutdown` does, or when the server ends by itself
/// (it could not accept connections), and returns what its drain left. A server failure wins
/// over the report.
pub(crate) async fn serve_during<F>(
    app: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    work: impl FnOnce(StopSignal) -> F,
) -> std::io::Result<DrainReport>
where
    F: Future<Output = DrainReport>,
{
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let (server_ended, ended_early) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = server_stopped.await;
        })
        .into_future();
    let mut server = tokio::spawn(async move {
        let served = server.await;
        let _ = server_ended.send(());
        served
    });
    let report = work(Box::pin(async move {
        tokio::select! {
            () = shutdown => {}
            _ = ended_early => {}
        }
    }))
    .await;
    let _ = stop_server.send(());
    match tokio::time::timeout(SERVER_STOP_GRACE, &mut server).await {
        Ok(served) => served.map_err(std::io::Error::other)??,
        Err(_) => server.abort(),
    }
    Ok(report)
}
