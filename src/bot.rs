//! A bot: a gateway, a router and the bot's state, behind a webhook. It reads top to bottom:
//! build the router, build the bot, serve.
//!
//! ```no_run
//! use std::sync::Arc;
//! use hookbot::bot::Bot;
//! use hookbot::context::Context;
//! use hookbot::gateway::GreenApi;
//! use hookbot::router::Router;
//! use hookbot::filter;
//!
//! async fn echo(cx: Context) -> hookbot::Result<()> {
//!     if let Some(text) = cx.text() {
//!         cx.reply(text).await?;
//!     }
//!     Ok(())
//! }
//!
//! # async fn run() -> anyhow::Result<()> {
//! let gateway = GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token").build()?;
//! let router = Router::new().route(filter::incoming(), echo);
//! Bot::builder(Arc::new(gateway), router)
//!     .webhook_token("webhook-secret")
//!     .listen("0.0.0.0:8080".parse()?)
//!     .build()
//!     .run()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! A bot that cannot be reached from outside polls the gateway's queue instead (GREEN-API only;
//! see [`polling`](crate::polling)): one line changes, the handlers do not.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use hookbot::{bot::Bot, gateway::GreenApi, polling::PollingSettings, router::Router};
//! # async fn run(router: Router) -> anyhow::Result<()> {
//! let gateway = GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token").build()?;
//! Bot::builder(Arc::new(gateway), router)
//!     .polling(PollingSettings::new())
//!     .build()
//!     .run()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! A bot binary takes all of that from the environment (`HOOKBOT_*`, see [`Config`]):
//!
//! ```no_run
//! # use hookbot::{bot::Bot, router::Router};
//! # async fn run(router: Router) -> anyhow::Result<()> {
//! Bot::from_env(router)?.build().run().await?;
//! # Ok(()) }
//! ```

use std::any::TypeId;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::contacts::ContactBook;
use crate::context::Services;
use crate::conversation::{
    Conversation, ConversationState, Conversations, ErrorHook, TimeoutHandler,
};
use crate::dispatch::{Dispatcher, DrainReport, HandlerFailure};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::gateway::Gateway;
use crate::gateway::GreenApi;
use crate::polling::{Poller, PollingSettings};
use crate::router::{HandlerResult, Router};
use crate::sandbox::Sandbox;
use crate::secret::Secret;
use crate::webhook::{self, Webhook};

pub use crate::intake::Intake;

/// A running bot's parts: its intake (with the dispatcher behind it) and its services.
pub struct Bot<S = ()> {
    receiver: Receiver,
    services: Arc<Services<S>>,
    routes: axum::Router,
    listen: Listen,
    sandbox: Option<Sandbox>,
    /// Ends timed-out conversations while the bot serves.
    timeouts: Option<Background>,
}

/// Work the bot runs beside its intake while it serves.
type Background = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the bot's notifications come in.
enum Receiver {
    /// `POST /webhook`.
    Webhook(Webhook),
    /// Polling the gateway's queue.
    Polling(Poller),
    /// Polling was asked of a gateway without a queue: serving fails with this reason.
    Unsupported(Error),
}

/// Where [`Bot::run`] listens: an address to bind, or a socket bound already (sandbox mode
/// binds early, because the sandbox's URLs need the port).
enum Listen {
    Address(SocketAddr),
    Bound(std::net::TcpListener),
}

/// Builds a [`Bot`]; finish with [`build`](BotBuilder::build).
#[must_use]
pub struct BotBuilder<S, D = ()> {
    router: Router<S, D>,
    conversations: Option<Conversations<D>>,
    on_timeout: Option<Arc<dyn TimeoutHandler<S, D>>>,
    services: Services<S>,
    webhook_token: Option<Secret>,
    intake: Intake,
    routes: axum::Router,
    listen: Listen,
    sandbox: Option<Sandbox>,
    body_limit: usize,
    drain_deadline: Duration,
    max_in_flight: usize,
    capacity: usize,
    on_error: Option<ErrorHook>,
}

impl Bot<()> {
    /// A bot without state: `router`'s handlers take a [`Context`](crate::context::Context)
    /// without shared state (and with the conversation state `D`, if any).
    pub fn builder<D: ConversationState>(
        gateway: Arc<dyn Gateway>,
        router: Router<(), D>,
    ) -> BotBuilder<(), D> {
        Bot::with_state(gateway, router, ())
    }

    /// A bot without state, its gateway, webhook token and address from the environment.
    pub fn from_env<D: ConversationState>(router: Router<(), D>) -> Result<BotBuilder<(), D>> {
        Bot::from_env_with_state(router, ())
    }
}

impl<S: Send + Sync + 'static> Bot<S> {
    /// A bot whose handlers share `state` (`cx.state()`), typed.
    pub fn with_state<D: ConversationState>(
        gateway: Arc<dyn Gateway>,
        router: Router<S, D>,
        state: S,
    ) -> BotBuilder<S, D> {
        let contacts = ContactBook::new(gateway.clone());
        BotBuilder {
            router,
            conversations: None,
            on_timeout: None,
            services: Services {
                gateway,
                contacts,
                state,
            },
            webhook_token: None,
            intake: Intake::Webhook,
            routes: axum::Router::new(),
            listen: Listen::Address(
                crate::config::DEFAULT_LISTEN
                    .parse()
                    .expect("the default address is valid"),
            ),
            sandbox: None,
            body_limit: webhook::DEFAULT_BODY_LIMIT,
            drain_deadline: webhook::DEFAULT_DRAIN_DEADLINE,
            max_in_flight: crate::dispatch::DEFAULT_MAX_IN_FLIGHT,
            capacity: crate::dispatch::DEFAULT_CAPACITY,
            on_error: None,
        }
    }

    /// A bot whose handlers share `state`, its gateway, intake, webhook token and address
    /// from the environment (`HOOKBOT_*`, see [`Config`]). With no gateway configured, the bot
    /// runs on a local [`Sandbox`]: see [`sandboxed`](Bot::sandboxed).
    pub fn from_env_with_state<D: ConversationState>(
        router: Router<S, D>,
        state: S,
    ) -> Result<BotBuilder<S, D>> {
        let config = Config::from_env()?;
        let Some(gateway) = config.gateway.connect()? else {
            let builder = Bot::sandboxed(router, state, config.listen, config.webhook_token)?;
            return Ok(builder.intake(config.intake));
        };
        let mut builder = Bot::with_state(gateway, router, state)
            .listen(config.listen)
            .intake(config.intake);
        if let Some(token) = config.webhook_token {
            builder = builder.webhook_token(token);
        }
        Ok(builder)
    }

    /// A bot on a local sandbox, no gateway account needed: binds `listen` at once (port 0
    /// picks a free one) and serves, on that one port, the bot's webhook, the sandbox's GREEN-API
    /// emulator and its web chat at `/`. The bot talks to the emulator with the same client and
    /// webhook code as in production. Call it within a tokio runtime.
    ///
    /// With the [polling intake](BotBuilder::polling), the sandbox keeps its notifications in
    /// its queue (no webhook set) and the bot polls it, as it would poll GREEN-API.
    pub fn sandboxed<D: ConversationState>(
        router: Router<S, D>,
        state: S,
        listen: SocketAddr,
        webhook_token: Option<Secret>,
    ) -> Result<BotBuilder<S, D>> {
        let listener = bind_now(listen)?;
        let address = listener
            .local_addr()
            .map_err(|error| listen_error(listen, &error))?;
        let base = format!("http://{address}");
        let token = webhook_token.unwrap_or_else(random_token);
        let sandbox = Sandbox::builder()
            .webhook(format!("{base}/webhook"), Some(token.clone()))
            .build();
        let gateway =
            GreenApi::whatsapp(&base, sandbox.instance(), sandbox.token().clone()).build()?;
        let mut builder = Bot::with_state(Arc::new(gateway), router, state)
            .webhook_token(token)
            .routes(sandbox.router());
        builder.listen = Listen::Bound(listener);
        builder.sandbox = Some(sandbox);
        Ok(builder)
    }

    /// The bot's HTTP surface, to serve alone or merge into an application's own axum router:
    /// `POST /webhook`, `GET /healthz` and `GET /metrics`; with the polling intake no
    /// `POST /webhook` (nothing is posted to a polling bot, so it answers 404). A bot with conversations
    /// served this way needs its [`conversation_timeouts`](Bot::conversation_timeouts) spawned
    /// too.
    pub fn router(&self) -> axum::Router {
        match &self.receiver {
            Receiver::Webhook(webhook) => webhook.router(),
            Receiver::Polling(poller) => poller.router(),
            Receiver::Unsupported(_) => axum::Router::new(),
        }
    }

    /// The work that ends idle conversations and calls the
    /// [timeout hook](BotBuilder::on_conversation_timeout); `None` for a bot without
    /// conversations, or once taken. [`run`](Bot::run) and [`serve`](Bot::serve) spawn it
    /// themselves; a bot served through [`router`](Bot::router) spawns it with
    /// `tokio::spawn` (it runs until aborted).
    pub fn conversation_timeouts(&mut self) -> Option<impl Future<Output = ()> + Send + 'static> {
        self.timeouts.take()
    }

    /// The gateway the bot talks to.
    pub fn gateway(&self) -> &Arc<dyn Gateway> {
        &self.services.gateway
    }

    /// The bot's contact book.
    pub fn contacts(&self) -> &ContactBook {
        &self.services.contacts
    }

    /// The sandbox the bot runs on, in sandbox mode.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }

    /// Listens on the bot's address and serves until SIGINT or SIGTERM (polling the gateway,
    /// with the polling intake); then stops intake and handles what was accepted. In sandbox
    /// mode it prints the web chat's URL.
    pub async fn run(self) -> std::io::Result<DrainReport> {
        let listener = self.listen.bind().await?;
        let address = listener.local_addr()?;
        let gateway = self.services.gateway.kind();
        match &self.receiver {
            Receiver::Polling(_) => {
                tracing::info!(%gateway, "polling for notifications; health on http://{address}/healthz")
            }
            _ => tracing::info!(%gateway, "listening on http://{address}/webhook"),
        }
        if self.sandbox.is_some() {
            println!("hookbot sandbox: no gateway configured, so the bot runs on a local one.");
            println!("Open http://{address}/ to chat with the bot.");
        }
        self.serve(listener, webhook::shutdown_signal()).await
    }

    /// Serves on `listener` (and polls, with the polling intake) until `shutdown` resolves;
    /// then stops intake and handles what was accepted.
    ///
    /// Fails at once, with [`ErrorKind::Unsupported`](std::io::ErrorKind::Unsupported), when
    /// polling was chosen for a gateway without a notification queue (Z-API).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<DrainReport> {
        let app = self.router().merge(self.routes);
        let timeouts = self.timeouts.map(tokio::spawn);
        let served = match self.receiver {
            Receiver::Webhook(webhook) => webhook.serve_app(app, listener, shutdown).await,
            Receiver::Polling(poller) => poller.serve_app(app, listener, shutdown).await,
            Receiver::Unsupported(error) => {
                Err(std::io::Error::new(std::io::ErrorKind::Unsupported, error))
            }
        };
        if let Some(timeouts) = timeouts {
            timeouts.abort();
        }
        served
    }
}

impl Listen {
    /// A tokio listener on the address, or on the socket bound already.
    async fn bind(&self) -> std::io::Result<TcpListener> {
        match self {
            Listen::Address(address) => TcpListener::bind(address).await,
            Listen::Bound(listener) => TcpListener::from_std(listener.try_clone()?),
        }
    }
}

/// Binds `address` now, for a tokio listener later.
fn bind_now(address: SocketAddr) -> Result<std::net::TcpListener> {
    let listener =
        std::net::TcpListener::bind(address).map_err(|error| listen_error(address, &error))?;
    listener
        .set_nonblocking(true)
        .map_err(|error| listen_error(address, &error))?;
    Ok(listener)
}

fn listen_error(address: SocketAddr, error: &std::io::Error) -> Error {
    Error::Config {
        variable: "HOOKBOT_LISTEN",
        reason: format!("cannot listen on {address}: {error}"),
    }
}

/// Why a gateway without a notification queue cannot poll.
pub(crate) fn polling_unsupported(gateway: crate::gateway::GatewayKind) -> Error {
    Error::Config {
        variable: "HOOKBOT_INTAKE",
        reason: format!(
            "polling needs GREEN-API's notification queue; {gateway} delivers notifications only to a webhook: use HOOKBOT_INTAKE=webhook"
        ),
    }
}

/// A fresh webhook token for a sandbox whose owner set none.
fn random_token() -> Secret {
    let bytes: [u8; 16] = rand::random();
    Secret::new(
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>(),
    )
}

impl<S: Send + Sync + 'static, D: ConversationState> BotBuilder<S, D> {
    /// The secret the gateway presents on each webhook call.
    pub fn webhook_token(mut self, token: impl Into<Secret>) -> Self {
        self.webhook_token = Some(token.into());
        self
    }

    /// How notifications come in: [`Intake::Webhook`] (the default) or
    /// [`Intake::Polling`].
    pub fn intake(mut self, intake: Intake) -> Self {
        self.intake = intake;
        self
    }

    /// Polls the gateway's notification queue instead of serving `POST /webhook`: for a bot
    /// the gateway cannot reach. GREEN-API only (its receiveNotification and
    /// deleteNotification); see [`polling`](crate::polling).
    pub fn polling(self, settings: PollingSettings) -> Self {
        self.intake(Intake::Polling(settings))
    }

    /// The address [`Bot::run`] listens on (default `127.0.0.1:8080`).
    pub fn listen(mut self, address: SocketAddr) -> Self {
        self.listen = Listen::Address(address);
        self
    }

    /// More routes to serve beside the webhook (an application's own pages or API).
    pub fn routes(mut self, routes: axum::Router) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// A contact book of its own (other time-to-live settings), instead of the default one.
    pub fn contacts(mut self, contacts: ContactBook) -> Self {
        self.services.contacts = contacts;
        self
    }

    /// Called with every handler failure (an error or a panic), after it is logged; also with
    /// the failures of the [conversation timeout hook](BotBuilder::on_conversation_timeout).
    pub fn on_error(mut self, hook: impl Fn(HandlerFailure) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// Where the conversations' states are kept and how messages are keyed (see
    /// [`conversation`](crate::conversation)). A bot whose conversation state is not `()` gets
    /// [`Conversations::in_memory`] unless it sets its own.
    pub fn conversations(mut self, conversations: Conversations<D>) -> Self {
        self.conversations = Some(conversations);
        self
    }

    /// Called with each conversation that timed out (idle past its store's timeout), with its
    /// key locked: to tell the person their session ended, say. Its failures reach
    /// [`on_error`](BotBuilder::on_error).
    pub fn on_conversation_timeout(mut self, hook: impl TimeoutHandler<S, D>) -> Self {
        self.on_timeout = Some(Arc::new(hook));
        self
    }

    /// The largest notification accepted, in bytes (default 1 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a shutdown waits for accepted events (default 30 s).
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.drain_deadline = deadline;
        self
    }

    /// At most this many handlers run at once (default 64).
    pub fn max_in_flight(mut self, handlers: usize) -> Self {
        self.max_in_flight = handlers;
        self
    }

    /// At most this many events wait or run; past it the webhook answers 503, and the poller
    /// leaves notifications in the gateway's queue for later (default 10 000).
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events;
        self
    }

    /// The bot.
    pub fn build(self) -> Bot<S> {
        let services = Arc::new(self.services);
        let conversations = self
            .conversations
            .or_else(|| (TypeId::of::<D>() != TypeId::of::<()>()).then(Conversations::in_memory));
        let timeouts = conversations.clone().map(|conversations| {
            Box::pin(conversations.watch_timeouts(
                services.clone(),
                self.on_timeout,
                self.on_error.clone(),
            )) as Background
        });
        let routing = RoutingHandler(Arc::new(Routing {
            router: self.router,
            conversations,
            services: services.clone(),
        }));
        let mut dispatcher = Dispatcher::builder(routing)
            .max_in_flight(self.max_in_flight)
            .capacity(self.capacity);
        if let Some(hook) = self.on_error {
            dispatcher = dispatcher.on_error(move |failure| hook(failure));
        }
        let dispatcher = dispatcher.build();
        let receiver = match self.intake {
            Intake::Webhook => {
                let mut webhook = Webhook::builder(services.gateway.kind(), dispatcher)
                    .body_limit(self.body_limit)
                    .drain_deadline(self.drain_deadline);
                if let Some(token) = self.webhook_token {
                    webhook = webhook.token(token);
                }
                Receiver::Webhook(webhook.build())
            }
            Intake::Polling(settings) => {
                if let Some(sandbox) = &self.sandbox {
                    sandbox.set_webhook(None, None);
                }
                match services.gateway.notification_queue() {
                    Some(queue) => Receiver::Polling(
                        Poller::builder(queue, dispatcher)
                            .settings(settings)
                            .drain_deadline(self.drain_deadline)
                            .build(),
                    ),
                    None => {
                        let error = polling_unsupported(services.gateway.kind());
                        tracing::error!(%error, "the bot cannot serve");
                        Receiver::Unsupported(error)
                    }
                }
            }
        };
        Bot {
            receiver,
            services,
            routes: self.routes,
            listen: self.listen,
            sandbox: self.sandbox,
            timeouts,
        }
    }
}

/// The dispatcher's handler: enter the event's conversation (its key locked, its state
/// loaded), choose the route by the event and the state, run it.
struct Routing<S, D> {
    router: Router<S, D>,
    conversations: Option<Conversations<D>>,
    services: Arc<Services<S>>,
}

impl<S: Send + Sync + 'static, D: ConversationState> Routing<S, D> {
    async fn route(&self, event: Event) -> HandlerResult {
        let conversation = match &self.conversations {
            Some(conversations) => conversations.enter(&event).await?,
            None => Conversation::detached(),
        };
        match self.router.choose(&event, &conversation.get()) {
            Some(chosen) => chosen.run(event, conversation, self.services.clone()).await,
            None => {
                tracing::debug!(kind = event.kind.name(), "no route for the event");
                Ok(())
            }
        }
    }
}

/// Shared by the dispatcher's workers: one reference count per event.
struct RoutingHandler<S, D>(Arc<Routing<S, D>>);

impl<S: Send + Sync + 'static, D: ConversationState> crate::dispatch::Handler
    for RoutingHandler<S, D>
{
    fn handle(&self, event: Event) -> Pin<Box<dyn Future<Output = HandlerResult> + Send>> {
        let routing = self.0.clone();
        Box::pin(async move { routing.route(event).await })
    }
}
