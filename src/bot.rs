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
//! A bot binary takes all of that from the environment (`HOOKBOT_*`, see [`Config`]):
//!
//! ```no_run
//! # use hookbot::{bot::Bot, router::Router};
//! # async fn run(router: Router) -> anyhow::Result<()> {
//! Bot::from_env(router)?.build().run().await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::contacts::ContactBook;
use crate::context::Services;
use crate::dispatch::{Dispatcher, DrainReport, HandlerFailure};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::gateway::Gateway;
use crate::router::Router;
use crate::secret::Secret;
use crate::webhook::{self, Webhook};

/// A running bot's parts: its webhook (with the dispatcher behind it) and its services.
pub struct Bot<S = ()> {
    webhook: Webhook,
    services: Arc<Services<S>>,
    listen: SocketAddr,
}

/// Builds a [`Bot`]; finish with [`build`](BotBuilder::build).
#[must_use]
pub struct BotBuilder<S> {
    router: Router<S>,
    services: Services<S>,
    webhook_token: Option<Secret>,
    listen: SocketAddr,
    body_limit: usize,
    drain_deadline: Duration,
    max_in_flight: usize,
    capacity: usize,
    on_error: Option<Box<dyn Fn(HandlerFailure) + Send + Sync>>,
}

impl Bot<()> {
    /// A bot without state: `router`'s handlers take a plain [`Context`](crate::context::Context).
    pub fn builder(gateway: Arc<dyn Gateway>, router: Router) -> BotBuilder<()> {
        Bot::with_state(gateway, router, ())
    }

    /// A bot without state, its gateway, webhook token and address from the environment.
    pub fn from_env(router: Router) -> Result<BotBuilder<()>> {
        Bot::from_env_with_state(router, ())
    }
}

impl<S: Send + Sync + 'static> Bot<S> {
    /// A bot whose handlers share `state` (`cx.state()`), typed.
    pub fn with_state(gateway: Arc<dyn Gateway>, router: Router<S>, state: S) -> BotBuilder<S> {
        let contacts = ContactBook::new(gateway.clone());
        BotBuilder {
            router,
            services: Services {
                gateway,
                contacts,
                state,
            },
            webhook_token: None,
            listen: crate::config::DEFAULT_LISTEN
                .parse()
                .expect("the default address is valid"),
            body_limit: webhook::DEFAULT_BODY_LIMIT,
            drain_deadline: webhook::DEFAULT_DRAIN_DEADLINE,
            max_in_flight: crate::dispatch::DEFAULT_MAX_IN_FLIGHT,
            capacity: crate::dispatch::DEFAULT_CAPACITY,
            on_error: None,
        }
    }

    /// A bot whose handlers share `state`, its gateway, webhook token and address from the
    /// environment (`HOOKBOT_*`, see [`Config`]).
    pub fn from_env_with_state(router: Router<S>, state: S) -> Result<BotBuilder<S>> {
        let config = Config::from_env()?;
        let gateway = config.gateway.connect()?.ok_or(Error::Config {
            variable: "HOOKBOT_GATEWAY",
            reason: "names no gateway: set it with HOOKBOT_INSTANCE and HOOKBOT_TOKEN (sandbox mode is not available yet)".to_owned(),
        })?;
        let mut builder = Bot::with_state(gateway, router, state).listen(config.listen);
        if let Some(token) = config.webhook_token {
            builder = builder.webhook_token(token);
        }
        Ok(builder)
    }

    /// The bot's HTTP surface (`POST /webhook`, `GET /healthz`), to serve alone or merge into
    /// an application's own axum router.
    pub fn router(&self) -> axum::Router {
        self.webhook.router()
    }

    /// The gateway the bot talks to.
    pub fn gateway(&self) -> &Arc<dyn Gateway> {
        &self.services.gateway
    }

    /// The bot's contact book.
    pub fn contacts(&self) -> &ContactBook {
        &self.services.contacts
    }

    /// Listens on the bot's address and serves until SIGINT or SIGTERM; then stops intake and
    /// handles what was accepted.
    pub async fn run(self) -> std::io::Result<DrainReport> {
        let listener = TcpListener::bind(self.listen).await?;
        tracing::info!(gateway = %self.services.gateway.kind(), "listening on http://{}/webhook", self.listen);
        self.serve(listener, webhook::shutdown_signal()).await
    }

    /// Serves on `listener` until `shutdown` resolves; then stops intake and handles what was
    /// accepted.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<DrainReport> {
        self.webhook.serve(listener, shutdown).await
    }
}

impl<S: Send + Sync + 'static> BotBuilder<S> {
    /// The secret the gateway presents on each webhook call.
    pub fn webhook_token(mut self, token: impl Into<Secret>) -> Self {
        self.webhook_token = Some(token.into());
        self
    }

    /// The address [`Bot::run`] listens on (default `127.0.0.1:8080`).
    pub fn listen(mut self, address: SocketAddr) -> Self {
        self.listen = address;
        self
    }

    /// A contact book of its own (other time-to-live settings), instead of the default one.
    pub fn contacts(mut self, contacts: ContactBook) -> Self {
        self.services.contacts = contacts;
        self
    }

    /// Called with every handler failure (an error or a panic), after it is logged.
    pub fn on_error(mut self, hook: impl Fn(HandlerFailure) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Box::new(hook));
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

    /// At most this many events wait or run; past it the webhook answers 503 (default 10 000).
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events;
        self
    }

    /// The bot.
    pub fn build(self) -> Bot<S> {
        let services = Arc::new(self.services);
        let router = Arc::new(self.router);
        let handler_services = services.clone();
        let handle = move |event: Event| {
            let chosen = router.choose(&event);
            let services = handler_services.clone();
            async move {
                match chosen {
                    Some(chosen) => chosen.run(event, services).await,
                    None => {
                        tracing::debug!(kind = event.kind.name(), "no route for the event");
                        Ok(())
                    }
                }
            }
        };
        let mut dispatcher = Dispatcher::builder(handle)
            .max_in_flight(self.max_in_flight)
            .capacity(self.capacity);
        if let Some(hook) = self.on_error {
            dispatcher = dispatcher.on_error(hook);
        }
        let mut webhook = Webhook::builder(services.gateway.kind(), dispatcher.build())
            .body_limit(self.body_limit)
            .drain_deadline(self.drain_deadline);
        if let Some(token) = self.webhook_token {
            webhook = webhook.token(token);
        }
        Bot {
            webhook: webhook.build(),
            services,
            listen: self.listen,
        }
    }
}
