//! How notifications enter a bot: pushed to its [`webhook`] (`POST /webhook`), or pulled from
//! the gateway's queue by [`polling`]. Both are sources feeding one
//! backlog (see [`store`](crate::store)): each reads a notification into an [`Event`](crate::Event), hands it
//! to the backlog, and acknowledges it to the gateway (200, or deleteNotification) only once the
//! backlog took charge of it. Both serve `GET /healthz` (200 while accepting, 503 while
//! draining) and `GET /metrics`, and stop the same way: intake first, then the drain.
//!
//! Choose one with [`BotBuilder::intake`](crate::bot::BotBuilder::intake); bots read it from
//! `HOOKBOT_INTAKE`.
//!
//! ```
//! use std::time::Duration;
//! use hookbot::intake::{Intake, PollingSettings, WebhookSettings};
//!
//! let webhook = Intake::Webhook(WebhookSettings::new().body_limit(256 * 1024));
//! let polling = Intake::Polling(PollingSettings::new().receive_timeout(Duration::from_secs(30)));
//! # let _ = (webhook, polling);
//! ```

pub mod polling;
pub mod webhook;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::backlog::Backlog;
use crate::dispatch::DrainReport;
use crate::server::ServerSettings;

pub use polling::PollingSettings;
pub use webhook::WebhookSettings;

pub(crate) use polling::Poller;
pub(crate) use webhook::Webhook;

/// How a bot receives its gateway's notifications, with the options of that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Intake {
    /// The gateway POSTs each notification to the bot's `POST /webhook` (the default). The bot
    /// must be reachable from the gateway.
    Webhook(WebhookSettings),
    /// The bot pulls notifications from the gateway's queue (GREEN-API receiveNotification and
    /// deleteNotification; see [`polling`]). Nothing has to reach the bot from outside, and
    /// `POST /webhook` is not served.
    Polling(PollingSettings),
}

impl Default for Intake {
    fn default() -> Self {
        Intake::Webhook(WebhookSettings::default())
    }
}

impl Intake {
    /// The webhook with its default settings.
    pub fn webhook() -> Self {
        Intake::Webhook(WebhookSettings::default())
    }

    /// Polling with its default settings.
    pub fn polling() -> Self {
        Intake::Polling(PollingSettings::default())
    }

    /// The name used in `HOOKBOT_INTAKE`: `webhook` or `polling`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Intake::Webhook(_) => "webhook",
            Intake::Polling(_) => "polling",
        }
    }
}

impl fmt::Display for Intake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /healthz` of an intake feeding `backlog` (200 while accepting, 503 once shutdown
/// began), and `GET /metrics`.
pub(crate) fn health_router(backlog: Arc<dyn Backlog>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .with_state(backlog)
        .merge(crate::metrics::router())
}

async fn health(State(backlog): State<Arc<dyn Backlog>>) -> StatusCode {
    if backlog.is_closed() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// The source of a bot's notifications: its webhook, or its poller; both feed one backlog.
pub(crate) enum Receiver {
    /// `POST /webhook`.
    Webhook(Webhook),
    /// Polling the gateways' queues.
    Polling(Poller),
}

impl Receiver {
    /// The intake's routes: `POST /webhook` (not for a poller), `GET /healthz`, `GET /metrics`.
    pub(crate) fn router(&self) -> Router {
        match self {
            Receiver::Webhook(webhook) => webhook.router(),
            Receiver::Polling(poller) => poller.router(),
        }
    }

    /// `webhook` or `polling`, for logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Receiver::Webhook(_) => "webhook",
            Receiver::Polling(_) => "polling",
        }
    }

    /// Serves `app` (the intake's router merged with other routes) on `listener` within
    /// `server`, and polls with a poller, until `shutdown` resolves; then stops intake (503, no
    /// more polls), lets `backlog` handle what it accepted within the drain deadline, stops
    /// serving, and returns what was left.
    pub(crate) async fn serve(
        self,
        (app, server): (Router, ServerSettings),
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        backlog: Arc<dyn Backlog>,
    ) -> std::io::Result<DrainReport> {
        serve_during((app, server), listener, shutdown, |stop| async move {
            match &self {
                Receiver::Webhook(_) => stop.await,
                Receiver::Polling(poller) => poller.poll_until(stop).await,
            }
            tracing::info!("shutting down: intake stopped, draining accepted events");
            backlog.shutdown().await
        })
        .await
    }
}

/// Serves `app` on `listener` while `work` runs, then stops serving (open connections get a
/// grace period: a long poll that the poller abandoned may still be open on a sandbox served by
/// the same server).
/// `work` gets a future that resolves when `shutdown` does, or when the server ends by itself
/// (it could not accept connections), and returns what its drain left. A server failure wins
/// over the report.
async fn serve_during<F>(
    (app, server): (Router, ServerSettings),
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    work: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
) -> std::io::Result<DrainReport>
where
    F: Future<Output = DrainReport>,
{
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let (server_ended, ended_early) = tokio::sync::oneshot::channel::<()>();
    let server = crate::server::serve(listener, app, server, async move {
        let _ = server_stopped.await;
    });
    let server = tokio::spawn(async move {
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
    server.await.map_err(std::io::Error::other)??;
    Ok(report)
}
