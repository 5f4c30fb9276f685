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
use crate::gateway::GreenApi;
use crate::router::Router;
use crate::sandbox::Sandbox;
use crate::secret::Secret;
use crate::webhook::{self, Webhook};

/// A running bot's parts: its webhook (with the dispatcher behind it) and its services.
pub struct Bot<S = ()> {
    webhook: Webhook,
    services: Arc<Services<S>>,
    routes: axum::Router,
    listen: Listen,
    sandbox: Option<Sandbox>,
}

/// Where [`Bot::run`] listens: an address to bind, or a socket bound already (sandbox mode
/// binds early, because the sandbox's URLs need the port).
enum Listen {
    Address(SocketAddr),
    Bound(std::net::TcpListener),
}

/// Builds a [`Bot`]; finish with [`build`](BotBuilder::build).
#[must_use]
pub struct BotBuilder<S> {
    router: Router<S>,
    services: Services<S>,
    webhook_token: Option<Secret>,
    routes: axum::Router,
    listen: Listen,
    sandbox: Option<Sandbox>,
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

    /// A bot whose handlers share `state`, its gateway, webhook token and address from the
    /// environment (`HOOKBOT_*`, see [`Config`]). With no gateway configured, the bot runs on a
    /// local [`Sandbox`]: see [`sandboxed`](Bot::sandboxed).
    pub fn from_env_with_state(router: Router<S>, state: S) -> Result<BotBuilder<S>> {
        let config = Config::from_env()?;
        let Some(gateway) = config.gateway.connect()? else {
            return Bot::sandboxed(router, state, config.listen, config.webhook_token);
        };
        let mut builder = Bot::with_state(gateway, router, state).listen(config.listen);
        if let Some(token) = config.webhook_token {
            builder = builder.webhook_token(token);
        }
        Ok(builder)
    }

    /// A bot on a local sandbox, no gateway account needed: binds `listen` at once (port 0
    /// picks a free one) and serves, on that one port, the bot's webhook, the sandbox's GREEN-API
    /// emulator and its web chat at `/`. The bot talks to the emulator with the same client and
    /// webhook code as in production. Call it within a tokio runtime.
    pub fn sandboxed(
        router: Router<S>,
        state: S,
        listen: SocketAddr,
        webhook_token: Option<Secret>,
    ) -> Result<BotBuilder<S>> {
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

    /// The sandbox the bot runs on, in sandbox mode.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }

    /// Listens on the bot's address and serves until SIGINT or SIGTERM; then stops intake and
    /// handles what was accepted. In sandbox mode it prints the web chat's URL.
    pub async fn run(self) -> std::io::Result<DrainReport> {
        let listener = self.listen.bind().await?;
        let address = listener.local_addr()?;
        tracing::info!(gateway = %self.services.gateway.kind(), "listening on http://{address}/webhook");
        if self.sandbox.is_some() {
            println!("hookbot sandbox: no gateway configured, so the bot runs on a local one.");
            println!("Open http://{address}/ to chat with the bot.");
        }
        self.serve(listener, webhook::shutdown_signal()).await
    }

    /// Serves on `listener` until `shutdown` resolves; then stops intake and handles what was
    /// accepted.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<DrainReport> {
        let app = self.webhook.router().merge(self.routes);
        self.webhook.serve_app(app, listener, shutdown).await
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

impl<S: Send + Sync + 'static> BotBuilder<S> {
    /// The secret the gateway presents on each webhook call.
    pub fn webhook_token(mut self, token: impl Into<Secret>) -> Self {
        self.webhook_token = Some(token.into());
        self
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
            routes: self.routes,
            listen: self.listen,
            sandbox: self.sandbox,
        }
    }
}
