//! How notifications enter a bot: pushed to its webhook, or pulled from the gateway's queue by
//! polling ([`Intake`]), and what both share: the step before a notification counts as accepted,
//! [`accept`] (claim against duplicates, queue, give the claim back if the queue refused), and
//! serving their HTTP routes until shutdown, [`serve_during`].

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
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
}

/// Claims `event` against duplicates and queues it; on refusal gives the claim back, so that
/// the gateway's next delivery is handled. Both intakes take this step, and acknowledge a
/// notification to the gateway (200, or deleteNotification) only when it returns `Ok`.
pub(crate) async fn accept(
    dedupe: &dyn DedupeStore,
    dispatcher: &Dispatcher,
    event: Event,
) -> Result<Accepted, Refused> {
    let counted = EventSeries::of(&event);
    counted.received();
    let key = DedupeKey::of(&event);
    if let Some(key) = &key {
        match dedupe.claim(key).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(
                    event = %EventIdentity::of(&event),
                    "duplicate notification acknowledged, not handled again"
                );
                counted.duplicate();
                return Ok(Accepted::Duplicate);
            }
            Err(error) => {
                tracing::error!(%error, "dedupe store unavailable");
                return Err(Refused::DedupeUnavailable);
            }
        }
    }
    let Err(rejected) = dispatcher.submit(event) else {
        counted.acknowledged();
        return Ok(Accepted::Queued);
    };
    if let Some(key) = &key {
        if let Err(error) = dedupe.release(key).await {
            tracing::error!(%error, ?key, "could not release the claim of a rejected notification");
        }
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
