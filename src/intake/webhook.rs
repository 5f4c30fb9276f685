//! The webhook: `POST /webhook` (and `POST /webhook/{token}`) authenticates each notification,
//! finds its instance, parses it into an [`Event`] and hands it to the bot's
//! backlog (see [`store`](crate::store)) before answering:
//!
//! | situation | answer |
//! |---|---|
//! | accepted for handling, or a duplicate of one already accepted | 200 |
//! | token missing or wrong | 401, nothing handled |
//! | body is not JSON, or not an object | 400 with a one-line reason |
//! | the notification names an instance the bot does not serve (a bot of several instances) | 404 |
//! | body larger than the limit (default 1 MiB) | 413 |
//! | body not sent in time (see [`server`](crate::server)) | 408, and the connection is closed |
//! | the queue is full (or its store out of reach), or the bot is shutting down | 503 + `Retry-After`: the gateway delivers it again |
//!
//! GREEN-API presents the token as `Authorization: Bearer <token>` (a bare token is accepted
//! too); Z-API sends no header, so its token is the last path segment: `POST /webhook/{token}`.
//! A bot of several [instances](crate::instance) finds each notification's instance (GREEN-API
//! by `idInstance`, Z-API by the path's token) and checks that instance's token.
//!
//! ```
//! use hookbot::intake::{Intake, WebhookSettings};
//!
//! let intake = Intake::Webhook(WebhookSettings::new().body_limit(256 * 1024));
//! # let _ = intake;
//! ```

mod directory;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::FutureExt;

use crate::backlog::{Accepted, Backlog, Refused};
use crate::event::Event;
use crate::metrics::EventSeries;

pub(crate) use directory::Directory;
use directory::{Door, Refusal};

/// The largest notification accepted by default: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The webhook's own options. Give them to
/// [`BotBuilder::intake`](crate::bot::BotBuilder::intake) as
/// [`Intake::Webhook`](crate::intake::Intake::Webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct WebhookSettings {
    body_limit: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

impl WebhookSettings {
    /// A body limit of [`DEFAULT_BODY_LIMIT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest notification accepted, in bytes; larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

/// The receiver of a bot's notifications. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Webhook {
    shared: Arc<Shared>,
}

struct Shared {
    /// Who may post, and how a notification finds its instance.
    directory: Directory,
    settings: WebhookSettings,
    backlog: Arc<dyn Backlog>,
}

impl Webhook {
    /// A webhook taking the notifications `directory` admits into `backlog`.
    pub(crate) fn new(
        directory: Directory,
        settings: WebhookSettings,
        backlog: Arc<dyn Backlog>,
    ) -> Self {
        directory.warn_open();
        Self {
            shared: Arc::new(Shared {
                directory,
                settings,
                backlog,
            }),
        }
    }

    /// `POST /webhook` (and `POST /webhook/{token}`), `GET /healthz` and `GET /metrics`.
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/webhook", post(receive))
            .route("/webhook/{token}", post(receive_with_path_token))
            .with_state(self.shared.clone())
            .merge(super::health_router(self.shared.backlog.clone()))
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
    /// receive → authenticate → read → parse (into its instance's event) → accept.
    async fn receive(&self, door: Door<'_>, body: Body) -> Response {
        if !self.directory.knock(door) {
            return unauthorized();
        }
        let body = match axum::body::to_bytes(body, self.settings.body_limit).await {
            Ok(body) => body,
            Err(error) => return unread(error),
        };
        let (event, counted) = match self.directory.admit(door, &body) {
            Ok(admitted) => admitted,
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
        self.accept(event, counted).await
    }

    /// Hands the event, counted on `counted`, to the backlog; 200 only once the backlog took
    /// charge of it.
    async fn accept(&self, event: Event, counted: &'static EventSeries) -> Response {
        let Some(kept) = hand_over(Arc::clone(&self.backlog), event, counted).await else {
            tracing::error!("the backlog failed while taking a notification; answered 503");
            return unavailable("the backlog failed");
        };
        match kept {
            // A 200 with a word for a person reading it, and no header to build.
            Ok(Accepted::Queued) => Response::new(Body::from("accepted\n")),
            Ok(Accepted::Duplicate) => Response::new(Body::from("duplicate\n")),
            Err(refused) => {
                if let Refused::Rejected(_) = refused {
                    tracing::warn!(reason = %refused, "notification refused with 503; the gateway will deliver it again");
                }
                unavailable(&refused.to_string())
            }
        }
    }
}

/// Runs `backlog`'s [`accept`](Backlog::accept) of `event` to its end even if the gateway hangs
/// up (or the server cuts the connection) meanwhile: stopped half-way, a backlog could hold the
/// claim of an event it never queued, and the gateway's redelivery would be acknowledged as a
/// duplicate and never handled. A backlog that keeps the event at once (the in-memory one,
/// through [`accept_now`](dyn Backlog::accept_now)) needs no future; the hand-over of one that
/// may wait is polled once in place — one that finishes then cannot be stopped half-way and
/// needs no task — and only one that has to wait (for a store) goes on in a task of its own,
/// before this future could be dropped — unless the backlog finishes a dropped hand-over itself
/// (the durable store's). `None` when the backlog panicked.
async fn hand_over(
    backlog: Arc<dyn Backlog>,
    event: Event,
    counted: &'static EventSeries,
) -> Option<Result<Accepted, Refused>> {
    let accepting_now = AssertUnwindSafe(|| backlog.accept_now(event, counted));
    let waiting = match std::panic::catch_unwind(accepting_now) {
        Ok(Ok(kept)) => return Some(kept),
        Ok(Err(waiting)) => waiting,
        Err(_) => return None,
    };
    let in_place = backlog.finishes_dropped_keeps();
    let mut accepting = Box::pin(
        AssertUnwindSafe(async move { backlog.accept_waiting(waiting).await }).catch_unwind(),
    );
    match std::future::poll_fn(|cx| Poll::Ready(accepting.as_mut().poll(cx))).await {
        Poll::Ready(kept) => kept.ok(),
        Poll::Pending if in_place => accepting.await.ok(),
        Poll::Pending => tokio::spawn(accepting).await.ok()?.ok(),
    }
}

/// Why a body could not be read: larger than the limit (413), or cut off by the server's body
/// deadline or the peer (408).
fn unread(error: axum::Error) -> Response {
    if error
        .into_inner()
        .downcast_ref::<http_body_util::LengthLimitError>()
        .is_some()
    {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "notification larger than the body limit\n",
        )
            .into_response()
    } else {
        (
            StatusCode::REQUEST_TIMEOUT,
            "the notification's body did not arrive in time\n",
        )
            .into_response()
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
