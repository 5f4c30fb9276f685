//! The webhook receiver: an [`axum::Router`] with `POST /webhook`, `GET /healthz` (and
//! [`GET /metrics`](crate::metrics)) that
//! authenticates each notification, parses it into an [`Event`], drops duplicates, and hands it
//! to the [`Dispatcher`] (or, for several replicas, appends it to a shared
//! [`shared_queue`](WebhookBuilder::shared_queue) in Redis) before answering 200.
//!
//! | situation | answer |
//! |---|---|
//! | accepted for handling, or a duplicate of one already accepted | 200 |
//! | token missing or wrong | 401, nothing handled |
//! | body is not JSON, or not an object | 400 with a one-line reason |
//! | the notification names an instance the bot does not serve (a bot of several instances) | 404 |
//! | body larger than the limit (default 1 MiB) | 413 |
//! | the queue is full (or, on Redis, out of reach), or the bot is shutting down | 503: the gateway delivers it again |
//!
//! GREEN-API presents the token as `Authorization: Bearer <token>` (a bare token is accepted
//! too); Z-API sends no header, so its token is the last path segment: `POST /webhook/{token}`.
//! A [`Bot`](crate::bot::Bot) of several [instances](crate::instance) finds each notification's
//! instance (GREEN-API by `idInstance`, Z-API by the path's token) and checks that instance's
//! token.
//!
//! ```no_run
//! use hookbot::dispatch::Dispatcher;
//! use hookbot::gateway::GatewayKind;
//! use hookbot::webhook::{Webhook, shutdown_signal};
//! use hookbot::Event;
//!
//! # async fn run() -> std::io::Result<()> {
//! let dispatcher = Dispatcher::builder(|event: Event| async move {
//!     println!("{event:?}");
//!     Ok::<_, std::convert::Infallible>(())
//! })
//! .build();
//! let webhook = Webhook::builder(GatewayKind::GreenApiWhatsApp, dispatcher).token("secret").build();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! webhook.serve(listener, shutdown_signal()).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::dedupe::{DedupeStore, MemoryDedupe};
use crate::dispatch::{Dispatcher, DrainReport};
use crate::event::Event;
use crate::gateway::GatewayKind;
use crate::instance::{Directory, Door, Refusal};
use crate::intake::{self, Accepted, Backlog, Refused, SharedQueue};
use crate::secret::Secret;

/// The largest notification accepted by default: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// How long a shutdown waits for accepted events by default.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// The receiver of one gateway's notifications. Cheap to clone.
#[derive(Clone)]
pub struct Webhook {
    shared: Arc<Shared>,
}

struct Shared {
    /// Who may post, and how a notification finds its instance.
    directory: Directory,
    body_limit: usize,
    drain_deadline: Duration,
    backlog: Backlog,
}

/// Builds a [`Webhook`]; finish with [`build`](WebhookBuilder::build).
#[must_use]
pub struct WebhookBuilder {
    gateway: GatewayKind,
    token: Option<Secret>,
    directory: Option<Directory>,
    body_limit: usize,
    drain_deadline: Duration,
    dedupe: Arc<dyn DedupeStore>,
    dispatcher: Dispatcher,
    queue: Option<SharedQueue>,
}

impl Webhook {
    /// A receiver of `gateway`'s notifications that feeds `dispatcher`.
    pub fn builder(gateway: GatewayKind, dispatcher: Dispatcher) -> WebhookBuilder {
        WebhookBuilder {
            gateway,
            token: None,
            directory: None,
            body_limit: DEFAULT_BODY_LIMIT,
            drain_deadline: DEFAULT_DRAIN_DEADLINE,
            dedupe: Arc::new(MemoryDedupe::default()),
            dispatcher,
            queue: None,
        }
    }

    /// `POST /webhook` (and `POST /webhook/{token}`), `GET /healthz` and `GET /metrics` (see
    /// [`metrics`](crate::metrics)), to serve alone or to merge into an application's own router.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/webhook", post(receive))
            .route("/webhook/{token}", post(receive_with_path_token))
            .route("/healthz", get(health))
            .with_state(self.shared.clone())
            .merge(crate::metrics::router())
    }

    /// Serves [`router`](Webhook::router) on `listener` until `shutdown` resolves; then stops
    /// intake (503), lets the accepted events be handled within the drain deadline, and returns
    /// what was left.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<DrainReport> {
        let app = self.router();
        self.serve_app(app, listener, shutdown).await
    }

    /// Serves `app` (this webhook's router merged with other routes) like [`serve`](Webhook::serve).
    pub(crate) async fn serve_app(
        self,
        app: Router,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<DrainReport> {
        self.shared.backlog.start();
        intake::serve_during(app, listener, shutdown, |stop| async move {
            stop.await;
            tracing::info!("shutting down: intake stopped, draining accepted events");
            let shared = &self.shared;
            shared.backlog.shutdown(shared.drain_deadline).await
        })
        .await
    }
}

impl WebhookBuilder {
    /// The secret the gateway must present. Without one, anyone who can reach the bot can post
    /// notifications to it.
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The largest body accepted, in bytes; larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long [`Webhook::serve`] waits for accepted events at shutdown.
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.drain_deadline = deadline;
        self
    }

    /// Where claims against duplicates are kept (default: in memory for 24 h). A webhook on a
    /// [`shared_queue`](WebhookBuilder::shared_queue) claims in the queue instead.
    pub fn dedupe(mut self, store: impl DedupeStore) -> Self {
        self.dedupe = Arc::new(store);
        self
    }

    /// The instances whose notifications come in, each with its own token, instead of one
    /// gateway's with one token.
    pub(crate) fn directory(mut self, directory: Directory) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Appends accepted notifications to `queue`, shared by the bot's replicas, instead of
    /// queueing them in this process: 200 only once a notification is in Redis, 503 while
    /// Redis is out of reach. The dispatcher handles this replica's share of the queue while
    /// the webhook [serves](Webhook::serve).
    #[cfg(feature = "redis")]
    pub fn shared_queue(mut self, queue: crate::redis::RedisQueue) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The receiver.
    pub fn build(self) -> Webhook {
        let directory = self
            .directory
            .unwrap_or_else(|| Directory::any(self.gateway, self.token));
        directory.warn_open();
        let shared = Shared {
            directory,
            body_limit: self.body_limit,
            drain_deadline: self.drain_deadline,
            backlog: Backlog::new(self.dedupe, self.dispatcher, self.queue),
        };
        Webhook {
            shared: Arc::new(shared),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> StatusCode {
    if shared.backlog.is_closed() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn receive(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    shared
        .receive(Door::Header(bearer_token(&parts.headers)), body)
        .await
}

async fn receive_with_path_token(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    shared
        .receive(Door::Path(token.as_bytes()), request.into_body())
        .await
}

/// The token of `Authorization: Bearer <token>`, or of a bare `Authorization: <token>`.
fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => &value[7..],
        _ => value,
    };
    Some(token.trim_ascii())
}

impl Shared {
    /// receive → authenticate → read → parse (into its instance's event) → dedupe → queue.
    async fn receive(&self, door: Door<'_>, body: Body) -> Response {
        if !self.directory.knock(door) {
            return unauthorized();
        }
        let body = match axum::body::to_bytes(body, self.body_limit).await {
            Ok(body) => body,
            Err(_) => {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "notification larger than the body limit\n",
                )
                    .into_response();
            }
        };
        let event = match self.directory.admit(door, &body) {
            Ok(event) => event,
            Err(Refusal::Malformed(error)) => {
                return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response();
            }
            Err(Refusal::Unauthorized) => return unauthorized(),
            Err(Refusal::UnknownInstance) => {
                return (
                    StatusCode::NOT_FOUND,
                    "the notification names no instance this bot serves here\n",
                )
                    .into_response();
            }
        };
        self.accept(event).await
    }

    /// Claims the event against duplicates and queues it ([`Backlog::accept`]); 200 only once
    /// it is safely queued.
    async fn accept(&self, event: Event) -> Response {
        match self.backlog.accept(event).await {
            Ok(Accepted::Queued) => (StatusCode::OK, "accepted\n").into_response(),
            Ok(Accepted::Duplicate) => (StatusCode::OK, "duplicate\n").into_response(),
            Err(Refused::DedupeUnavailable) => unavailable("deduplication store unavailable"),
            Err(Refused::QueueUnavailable) => unavailable("queue store unavailable"),
            Err(Refused::Rejected(rejected)) => {
                tracing::warn!(reason = %rejected, "notification refused with 503; the gateway will deliver it again");
                unavailable(&rejected.to_string())
            }
        }
    }
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, "missing or wrong webhook token\n").into_response()
}

fn unavailable(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "5")],
        format!("{reason}\n"),
    )
        .into_response()
}
