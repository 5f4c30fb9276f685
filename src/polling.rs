//! The polling intake: for a bot that cannot be reached from outside (a laptop, a private
//! network), a [`Poller`] pulls the notifications from the gateway's queue (GREEN-API
//! receiveNotification / deleteNotification) instead of waiting for `POST /webhook`, and hands
//! them to the same dedupe and [`Dispatcher`] as the webhook does.
//!
//! One notification at a time, in the queue's order: receive (a long poll) → parse
//! ([`Event::from_json`]) → claim and queue (the webhook's own step) → delete. A notification
//! is deleted only once the dispatcher accepted it, or it is a duplicate of one accepted
//! before, or its body is not a notification at all (logged, then deleted: it can never be
//! handled). Delivery is at least once: if the bot stops before the delete, the gateway
//! delivers the notification again, and dedupe makes that harmless.
//!
//! | situation | what the poller does |
//! |---|---|
//! | the queue is empty (`null`) | polls again at once |
//! | the dispatcher is full | backs off, polls again; the notification comes back |
//! | receiveNotification or deleteNotification fails | the client retries transient failures; then the poller backs off (exponential, with jitter, capped; reset on success) and tries again, for as long as it takes |
//! | shutdown | a long poll in flight is abandoned, a delete in flight gets a few seconds, nothing more is received; then the dispatcher drains |
//!
//! GREEN-API queues notifications only while the instance has no webhook URL: clear
//! `webhookUrl` in the console (or with setSettings) to poll.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use hookbot::dispatch::Dispatcher;
//! use hookbot::gateway::{Gateway, GreenApi};
//! use hookbot::polling::{Poller, PollingSettings};
//! use hookbot::webhook::shutdown_signal;
//! use hookbot::Event;
//!
//! # async fn run() -> anyhow::Result<()> {
//! let gateway = GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token").build()?;
//! let dispatcher = Dispatcher::builder(|event: Event| async move {
//!     println!("{event:?}");
//!     Ok::<_, std::convert::Infallible>(())
//! })
//! .build();
//! let poller = Poller::builder(Arc::new(gateway), dispatcher)
//!     .settings(PollingSettings::new().receive_timeout(Duration::from_secs(30)))
//!     .build();
//! let report = poller.run(shutdown_signal()).await;
//! println!("{} events left unhandled", report.unfinished);
//! # Ok(()) }
//! ```
//!
//! A [`Bot`](crate::bot::Bot) polls with one line:
//! [`BotBuilder::polling`](crate::bot::BotBuilder::polling).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::dedupe::{DedupeStore, MemoryDedupe};
use crate::dispatch::{Dispatcher, DrainReport, Rejected};
use crate::error::Error;
use crate::event::Event;
use crate::gateway::NotificationQueue;
use crate::intake::{self, Accepted, Backlog, Refused, SharedQueue};

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

/// How a [`Poller`] polls: the long poll's length and the backoff after failures.
///
/// ```
/// use std::time::Duration;
/// use hookbot::polling::PollingSettings;
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

/// Pulls notifications from a gateway's queue into a [`Dispatcher`]. Cheap to clone.
#[derive(Clone)]
pub struct Poller {
    shared: Arc<Shared>,
}

struct Shared {
    /// One queue per instance, polled side by side.
    queues: Vec<Arc<dyn NotificationQueue>>,
    backlog: Backlog,
    settings: PollingSettings,
    drain_deadline: Duration,
}

/// Builds a [`Poller`]; finish with [`build`](PollerBuilder::build).
#[must_use]
pub struct PollerBuilder {
    queues: Vec<Arc<dyn NotificationQueue>>,
    dispatcher: Dispatcher,
    dedupe: Arc<dyn DedupeStore>,
    settings: PollingSettings,
    drain_deadline: Duration,
    shared_queue: Option<SharedQueue>,
}

/// What became of one received notification.
enum Taken {
    /// The gateway may forget it: delete it.
    Done,
    /// Not accepted now: leave it in the queue, wait, and receive it again.
    Later,
    /// The dispatcher is shutting down: stop polling.
    Stop,
}

impl Poller {
    /// A poller of `queue` (a [`GreenApi`](crate::gateway::GreenApi) client) feeding
    /// `dispatcher`.
    pub fn builder(queue: Arc<dyn NotificationQueue>, dispatcher: Dispatcher) -> PollerBuilder {
        PollerBuilder {
            queues: vec![queue],
            dispatcher,
            dedupe: Arc::new(MemoryDedupe::default()),
            settings: PollingSettings::default(),
            drain_deadline: crate::webhook::DEFAULT_DRAIN_DEADLINE,
            shared_queue: None,
        }
    }

    /// `GET /healthz`: 200 while the bot accepts work, 503 while it drains; and `GET /metrics`
    /// (see [`metrics`](crate::metrics)). A polling bot serves no `POST /webhook`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(health))
            .with_state(self.shared.clone())
            .merge(crate::metrics::router())
    }

    /// Polls until `shutdown` resolves (or the dispatcher is shut down elsewhere); then stops
    /// polling, lets the accepted events be handled within the drain deadline, and returns what
    /// was left.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> DrainReport {
        self.shared.backlog.start();
        let (stop, stopped) = watch::channel(false);
        let polling = self.shared.poll_all(stopped);
        tokio::pin!(polling);
        tokio::select! {
            () = shutdown => {
                let _ = stop.send(true);
                polling.await;
            }
            () = &mut polling => {}
        }
        tracing::info!("shutting down: polling stopped, draining accepted events");
        self.shared
            .backlog
            .shutdown(self.shared.drain_deadline)
            .await
    }

    /// Serves [`router`](Poller::router) on `listener` and polls until `shutdown` resolves;
    /// then stops polling, drains like [`run`](Poller::run), and stops serving.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<DrainReport> {
        let app = self.router();
        self.serve_app(app, listener, shutdown).await
    }

    /// Serves `app` (this poller's router merged with other routes) like [`serve`](Poller::serve).
    pub(crate) async fn serve_app(
        self,
        app: Router,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<DrainReport> {
        intake::serve_during(app, listener, shutdown, |stop| self.run(stop)).await
    }
}

impl PollerBuilder {
    /// Polls `queue` too, beside the others, into the same dispatcher: one loop per queue
    /// (a bot of several GREEN-API instances).
    pub fn queue(mut self, queue: Arc<dyn NotificationQueue>) -> Self {
        self.queues.push(queue);
        self
    }

    /// The long poll's length and the backoff after failures.
    pub fn settings(mut self, settings: PollingSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Where claims against duplicates are kept (default: in memory for 24 h). A poller on a
    /// [`shared_queue`](PollerBuilder::shared_queue) claims in the queue instead.
    pub fn dedupe(mut self, store: impl DedupeStore) -> Self {
        self.dedupe = Arc::new(store);
        self
    }

    /// How long the shutdown waits for accepted events (default 30 s).
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.drain_deadline = deadline;
        self
    }

    /// Appends received notifications to `queue`, shared by the bot's replicas, instead of
    /// queueing them in this process; a notification is deleted from the gateway's queue only
    /// once it is in Redis. The dispatcher handles this replica's share while the poller runs.
    #[cfg(feature = "redis")]
    pub fn shared_queue(mut self, queue: crate::redis::RedisQueue) -> Self {
        self.shared_queue = Some(queue);
        self
    }

    /// The poller.
    pub fn build(self) -> Poller {
        let shared = Shared {
            queues: self.queues,
            backlog: Backlog::new(self.dedupe, self.dispatcher, self.shared_queue),
            settings: self.settings,
            drain_deadline: self.drain_deadline,
        };
        Poller {
            shared: Arc::new(shared),
        }
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> StatusCode {
    if shared.backlog.is_closed() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
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

    /// Polls every queue, side by side, until `stop` turns true or the dispatcher shuts down.
    async fn poll_all(&self, stop: watch::Receiver<bool>) {
        let loops = self
            .queues
            .iter()
            .map(|queue| self.poll(queue.as_ref(), stop.clone()));
        futures_util::future::join_all(loops).await;
    }

    /// receive → parse → claim and queue → delete, one notification of `queue` at a time,
    /// until `stop` turns true or the dispatcher shuts down.
    async fn poll(&self, queue: &dyn NotificationQueue, mut stop: watch::Receiver<bool>) {
        let timeout = self.settings.receive_timeout;
        tracing::info!(
            gateway = %queue.kind(),
            receive_timeout = ?timeout,
            "polling the gateway's notification queue"
        );
        tokio::select! {
            biased;
            () = stopped(&mut stop) => return,
            () = Self::warn_if_pushed_elsewhere(queue) => {}
        }
        let mut backoff = Backoff::new(&self.settings);
        loop {
            let received = tokio::select! {
                biased;
                () = stopped(&mut stop) => return,
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
                    if !pause(wait, &mut stop).await {
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
                    if !pause(backoff.next(), &mut stop).await {
                        return;
                    }
                    continue;
                }
            }
            if !self.delete(queue, receipt, &mut backoff, &mut stop).await {
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
            Err(Refused::Rejected(rejected)) => {
                tracing::debug!(receipt, reason = %rejected, "notification left in the queue for later");
                Taken::Later
            }
            Err(Refused::DedupeUnavailable | Refused::QueueUnavailable) => Taken::Later,
        }
    }

    /// Deletes the notification `receipt` (accepted, a duplicate, or junk), trying until it
    /// works; `false` when shutdown came first (then the gateway delivers it again).
    async fn delete(
        &self,
        queue: &dyn NotificationQueue,
        receipt: u64,
        backoff: &mut Backoff,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        loop {
            let deleting = queue.delete_notification(receipt);
            tokio::pin!(deleting);
            let deleted = tokio::select! {
                deleted = &mut deleting => Some(deleted),
                () = stopped(stop) => tokio::time::timeout(DELETE_GRACE, &mut deleting).await.ok(),
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
                    let wait = backoff.next();
                    log_failure("deleteNotification", &error, wait);
                    if pause(wait, stop).await {
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

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Waits `wait`; `false` when `stop` came first.
async fn pause(wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        biased;
        () = stopped(stop) => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// Bounded exponential backoff with equal jitter, started over by [`reset`](Backoff::reset).
struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    fn new(settings: &PollingSettings) -> Self {
        Self {
            initial: settings.initial_backoff,
            max: settings.max_backoff,
            failures: 0,
        }
    }

    /// The next wait: `initial · 2^failures`, capped at `max`, of which a random half is kept.
    fn next(&mut self) -> Duration {
        let exponent = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let full = self.initial.saturating_mul(1 << exponent).min(self.max);
        let half = full / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_is_capped_and_starts_over() {
        let settings =
            PollingSettings::new().backoff(Duration::from_millis(100), Duration::from_millis(400));
        let mut backoff = Backoff::new(&settings);
        for full in [100, 200, 400, 400, 400] {
            let wait = backoff.next();
            let full = Duration::from_millis(full);
            assert!(wait >= full / 2 && wait <= full, "{wait:?} for {full:?}");
        }
        backoff.reset();
        assert!(backoff.next() <= Duration::from_millis(100));
    }

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
