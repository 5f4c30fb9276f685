//! The polling intake: for a bot that cannot be reached from outside (a laptop, a private
//! network), the poller pulls the notifications from the gateway's queue (GREEN-API
//! receiveNotification / deleteNotification) instead of waiting for `POST /webhook`, and hands
//! them to the same backlog (see [`store`](crate::store)) as the webhook does.
//!
//! One notification at a time, in the queue's order: receive (a long poll) → parse
//! ([`Event::from_json`]) → accept (the webhook's own step) → delete. A notification is deleted
//! only once the backlog took charge of it, or it is a duplicate of one accepted before, or its
//! body is not a notification at all (logged, then deleted: it can never be handled). Delivery
//! is at least once: if the bot stops before the delete, the gateway delivers the notification
//! again, and the claims against duplicates make that harmless.
//!
//! | situation | what the poller does |
//! |---|---|
//! | the queue is empty (`null`) | polls again at once |
//! | the backlog is full | backs off, polls again; the notification comes back |
//! | receiveNotification or deleteNotification fails | the client retries transient failures; then the poller backs off (exponential, with jitter, capped; reset on success) and tries again, for as long as it takes |
//! | deleteNotification refused (4xx) 5 times in a row | given up: logged as an error, counted in `hookbot_notifications_undeleted_total`, and the poller moves on (the gateway may deliver it again: the claims make that harmless) |
//! | shutdown | a long poll in flight is abandoned, a delete in flight gets a few seconds, nothing more is received; then the backlog drains |
//!
//! GREEN-API queues notifications only while the instance has no webhook URL: clear
//! `webhookUrl` in the console (or with setSettings) to poll.
//!
//! ```no_run
//! use std::time::Duration;
//! use hookbot::prelude::*;
//! use hookbot::intake::{Intake, PollingSettings};
//!
//! # async fn run(router: Router) -> anyhow::Result<()> {
//! let settings = PollingSettings::new().receive_timeout(Duration::from_secs(30));
//! Bot::from_env(router)?.intake(Intake::Polling(settings)).run().await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::backlog::{Accepted, Backlog, Refused};
use crate::backoff::Backoff;
use crate::dispatch::Rejected;
use crate::error::Error;
use crate::event::Event;
use crate::gateway::NotificationQueue;
use crate::shutdown::Shutdown;

/// How long one receiveNotification waits for a notification by default.
pub const DEFAULT_RECEIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// The first wait after a failure, by default.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two tries, by default.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);
/// GREEN-API's bounds on `receiveTimeout`, in seconds.
const RECEIVE_TIMEOUT_S: (u64, u64) = crate::gateway::green_api::RECEIVE_TIMEOUT_S;
/// How long a delete in flight may still take once shutdown began.
const DELETE_GRACE: Duration = Duration::from_secs(5);
/// How many refusals in a row (an error answer that retrying does not fix, such as a 4xx)
/// a deleteNotification gets before the poller gives it up and moves on.
const DELETE_REFUSALS: u32 = 5;

/// How the poller polls: the long poll's length and the backoff after failures. Give it to
/// [`BotBuilder::intake`](crate::bot::BotBuilder::intake) as
/// [`Intake::Polling`](crate::intake::Intake::Polling).
///
/// ```
/// use std::time::Duration;
/// use hookbot::intake::PollingSettings;
///
/// let settings = PollingSettings::new()
///     .receive_timeout(Duration::from_secs(30))
///     .backoff(Duration::from_millis(200), Duration::from_secs(10));
/// # let _ = settings;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollingSettings {
    receive_timeout: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for PollingSettings {
    fn default() -> Self {
        Self {
            receive_timeout: DEFAULT_RECEIVE_TIMEOUT,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}

impl PollingSettings {
    /// Long polls of 20 s; after a failure wait 0.5 s, doubling up to 30 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long one receiveNotification waits for a notification (`receiveTimeout`), in whole
    /// seconds within GREEN-API's 5–60 s; a value outside is brought to the nearest bound.
    #[must_use]
    pub fn receive_timeout(mut self, timeout: Duration) -> Self {
        let (min, max) = RECEIVE_TIMEOUT_S;
        self.receive_timeout = Duration::from_secs(timeout.as_secs().clamp(min, max));
        self
    }

    /// The wait after a first failure (or a full dispatcher), and the longest wait: each
    /// further failure doubles it, a random half of it is kept, and a success starts over.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }
}

/// Pulls notifications from the gateways' queues into a backlog. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Poller {
    shared: Arc<Shared>,
}

struct Shared {
    /// One queue per instance, polled side by side.
    queues: Vec<Arc<dyn NotificationQueue>>,
    backlog: Arc<dyn Backlog>,
    settings: PollingSettings,
}

/// What became of one received notification.
enum Taken {
    /// The gateway may forget it: delete it.
    Done,
    /// Not accepted now: leave it in the queue, wait, and receive it again.
    Later,
    /// The backlog is shutting down: stop polling.
    Stop,
}

impl Poller {
    /// A poller of `queues` (one per instance) feeding `backlog`.
    pub(crate) fn new(
        queues: Vec<Arc<dyn NotificationQueue>>,
        settings: PollingSettings,
        backlog: Arc<dyn Backlog>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                queues,
                backlog,
                settings,
            }),
        }
    }

    /// `GET /healthz` and `GET /metrics`: a polling bot serves no `POST /webhook`.
    pub(crate) fn router(&self) -> Router {
        super::health_router(self.shared.backlog.clone())
    }

    /// Polls until `stop` resolves (or the backlog shuts down elsewhere); a long poll in flight
    /// is abandoned, a delete in flight gets a few seconds.
    pub(crate) async fn poll_until(&self, stop: impl Future<Output = ()> + Send) {
        let (trigger, shutdown) = crate::shutdown::channel();
        let polling = self.shared.poll_all(shutdown);
        tokio::pin!(polling);
        tokio::select! {
            () = stop => {
                trigger.pull();
                polling.await;
            }
            () = &mut polling => {}
        }
    }
}

impl Shared {
    /// Warns when the instance posts its notifications to a webhook URL: the gateway then
    /// queues none, and polling would wait for ever. The URL itself is not logged (it may hold
    /// a secret).
    async fn warn_if_pushed_elsewhere(queue: &dyn NotificationQueue) {
        match queue.webhook_url().await {
            Ok(None) => {}
            Ok(Some(_)) => tracing::warn!(
                "the instance has a webhook URL set, so the gateway posts notifications there and queues none: clear it (setSettings with an empty webhookUrl) for polling, or use the webhook intake"
            ),
            Err(error) => {
                tracing::debug!(%error, "could not read the instance's settings; polling anyway")
            }
        }
    }

    /// Polls every queue, side by side, until shutdown or the backlog shuts down.
    async fn poll_all(&self, shutdown: Shutdown) {
        let loops = self
            .queues
            .iter()
            .map(|queue| self.poll(queue.as_ref(), shutdown.clone()));
        futures_util::future::join_all(loops).await;
    }

    /// receive → parse → claim and queue → delete, one notification of `queue` at a time,
    /// until shutdown or the backlog shuts down.
    async fn poll(&self, queue: &dyn NotificationQueue, mut shutdown: Shutdown) {
        let timeout = self.settings.receive_timeout;
        tracing::info!(
            gateway = %queue.kind(),
            receive_timeout = ?timeout,
            "polling the gateway's notification queue"
        );
        tokio::select! {
            biased;
            () = shutdown.signalled() => return,
            () = Self::warn_if_pushed_elsewhere(queue) => {}
        }
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        loop {
            let received = tokio::select! {
                biased;
                () = shutdown.signalled() => return,
                received = queue.receive_notification(timeout) => received,
            };
            let notification = match received {
                Ok(Some(notification)) => notification,
                Ok(None) => {
                    backoff.reset();
                    continue;
                }
                Err(error) => {
                    let wait = backoff.next();
                    log_failure("receiveNotification", &error, wait);
                    if !shutdown.pause(wait).await {
                        return;
                    }
                    continue;
                }
            };
            let receipt = notification.receipt_id;
            match self.take(queue, receipt, notification.body).await {
                Taken::Done => {}
                Taken::Stop => return,
                Taken::Later => {
                    if !shutdown.pause(backoff.next()).await {
                        return;
                    }
                    continue;
                }
            }
            if !self
                .delete(queue, receipt, &mut backoff, &mut shutdown)
                .await
            {
                return;
            }
        }
    }

    /// Parses one notification's body and takes the intake's step with it.
    async fn take(
        &self,
        queue: &dyn NotificationQueue,
        receipt: u64,
        body: serde_json::Value,
    ) -> Taken {
        let event = match Event::from_json(queue.kind(), body) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(receipt, %error, "notification that is not an event deleted unhandled");
                return Taken::Done;
            }
        };
        match self.backlog.accept(event).await {
            Ok(Accepted::Queued | Accepted::Duplicate) => Taken::Done,
            Err(Refused::Rejected(Rejected::ShuttingDown)) => Taken::Stop,
            Err(refused) => {
                tracing::debug!(receipt, reason = %refused, "notification left in the queue for later");
                Taken::Later
            }
        }
    }

    /// Deletes the notification `receipt` (accepted, a duplicate, or junk), trying until it
    /// works, or until the gateway refused it [`DELETE_REFUSALS`] times in a row (then it is
    /// reported and given up); `false` when shutdown came first (then the gateway delivers it
    /// again).
    async fn delete(
        &self,
        queue: &dyn NotificationQueue,
        receipt: u64,
        backoff: &mut Backoff,
        shutdown: &mut Shutdown,
    ) -> bool {
        let mut refusals = 0;
        loop {
            let deleting = queue.delete_notification(receipt);
            tokio::pin!(deleting);
            let deleted = tokio::select! {
                deleted = &mut deleting => Some(deleted),
                () = shutdown.signalled() => tokio::time::timeout(DELETE_GRACE, &mut deleting).await.ok(),
            };
            match deleted {
                Some(Ok(found)) => {
                    if !found {
                        tracing::debug!(receipt, "notification was already deleted");
                    }
                    backoff.reset();
                    return true;
                }
                Some(Err(error)) => {
                    refusals = if error.is_retryable() {
                        0
                    } else {
                        refusals + 1
                    };
                    if refusals >= DELETE_REFUSALS {
                        tracing::error!(receipt, %error, refusals, "deleteNotification keeps being refused; given up, the poller moves on (the gateway may deliver the notification again)");
                        crate::metrics::undeleted(queue.kind());
                        return true;
                    }
                    let wait = backoff.next();
                    log_failure("deleteNotification", &error, wait);
                    if shutdown.pause(wait).await {
                        continue;
                    }
                }
                None => {}
            }
            tracing::warn!(
                receipt,
                "stopped before the notification was deleted; the gateway will deliver it again"
            );
            return false;
        }
    }
}

/// Logs a failed queue call: transient failures as warnings, the others (a wrong token, an
/// unlinked phone) as errors, which the poller still retries in case they are fixed.
fn log_failure(method: &'static str, error: &Error, wait: Duration) {
    if error.is_retryable() {
        tracing::warn!(method, %error, ?wait, "gateway call failed; trying again");
    } else {
        tracing::error!(method, %error, ?wait, "gateway call failed; trying again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_timeout_is_brought_within_green_apis_bounds() {
        let settings =
            |seconds| PollingSettings::new().receive_timeout(Duration::from_secs(seconds));
        assert_eq!(settings(1).receive_timeout, Duration::from_secs(5));
        assert_eq!(settings(30).receive_timeout, Duration::from_secs(30));
        assert_eq!(settings(600).receive_timeout, Duration::from_secs(60));
        assert_eq!(
            PollingSettings::new()
                .receive_timeout(Duration::from_millis(7500))
                .receive_timeout,
            Duration::from_secs(7)
        );
    }
}
