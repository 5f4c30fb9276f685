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
use crate::context::ServiceTable;
use crate::conversation::{
    Conversation, ConversationState, Conversations, ErrorHook, TimeoutHandler,
};
use crate::dispatch::{Dispatcher, DrainReport, HandlerFailure};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::gateway::GreenApi;
use crate::gateway::NotificationQueue;
use crate::gateway::{ClientSettings, Gateway};
use crate::instance::{Instance, Instances};
use crate::polling::{Poller, PollerBuilder, PollingSettings};
use crate::router::{HandlerResult, Router};
use crate::sandbox::Sandbox;
use crate::secret::Secret;
use crate::webhook::{self, Webhook};

pub use crate::intake::Intake;

/// A running bot's parts: its intake (with the dispatcher behind it) and its services.
pub struct Bot<S = ()> {
    receiver: Receiver,
    services: Arc<ServiceTable<S>>,
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
    instances: Instances,
    state: S,
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
    /// The queue shared by the bot's replicas, when the bot runs on Redis.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    queue: Option<crate::intake::SharedQueue>,
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

    /// A bot without state that serves several instances (see [`instance`](crate::instance)):
    /// each notification reaches `router`'s handlers with the instance it came from, and their
    /// replies go out through that instance's client.
    pub fn builder_for<D: ConversationState>(
        instances: Instances,
        router: Router<(), D>,
    ) -> BotBuilder<(), D> {
        Bot::with_instances(instances, router, ())
    }

    /// A bot without state, its gateway (or instances file), webhook token and address from
    /// the environment.
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
        Bot::serving(Instances::single(Instance::new(gateway)), router, state)
    }

    /// A bot of several instances (see [`instance`](crate::instance)) whose handlers share
    /// `state`, one for all instances.
    pub fn with_instances<D: ConversationState>(
        instances: Instances,
        router: Router<S, D>,
        state: S,
    ) -> BotBuilder<S, D> {
        Bot::serving(instances, router, state)
    }

    fn serving<D: ConversationState>(
        instances: Instances,
        router: Router<S, D>,
        state: S,
    ) -> BotBuilder<S, D> {
        BotBuilder {
            router,
            conversations: None,
            on_timeout: None,
            instances,
            state,
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
            queue: None,
        }
    }

    /// A bot whose handlers share `state`, its gateway, intake, webhook token and address
    /// from the environment (`HOOKBOT_*`, see [`Config`]). With `HOOKBOT_INSTANCES`, it serves
    /// the instances that file lists. With no gateway configured, the bot runs on a local
    /// [`Sandbox`]: see [`sandboxed`](Bot::sandboxed).
    pub fn from_env_with_state<D: ConversationState>(
        router: Router<S, D>,
        state: S,
    ) -> Result<BotBuilder<S, D>> {
        let config = Config::from_env()?;
        let redis = EnvRedis::open(config.redis_url, config.redis_namespace.as_deref())?;
        let settings = redis.client_settings();
        let builder = if !config.instances.is_empty() {
            let instances = Instances::connect(&config.instances, &settings)?;
            Bot::with_instances(instances, router, state).listen(config.listen)
        } else if let Some(gateway) = config.gateway.connect_with(settings)? {
            let builder = Bot::with_state(gateway, router, state).listen(config.listen);
            match config.webhook_token {
                Some(token) => builder.webhook_token(token),
                None => builder,
            }
        } else {
            Bot::sandboxed(router, state, config.listen, config.webhook_token)?
        };
        Ok(redis.apply(builder.intake(config.intake)))
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

    /// The gateway the bot talks to (with several instances, the first one's).
    pub fn gateway(&self) -> &Arc<dyn Gateway> {
        self.services.instances().first().gateway()
    }

    /// The bot's contact book (with several instances, the first one's).
    pub fn contacts(&self) -> &ContactBook {
        self.services.instances().first().contacts()
    }

    /// The instances the bot serves.
    pub fn instances(&self) -> &Instances {
        self.services.instances()
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
        for instance in self.services.instances().iter() {
            tracing::info!(gateway = %instance.kind(), instance = instance.label(), "serving");
        }
        match &self.receiver {
            Receiver::Polling(_) => {
                tracing::info!("polling for notifications; health on http://{address}/healthz")
            }
            _ => tracing::info!("listening on http://{address}/webhook"),
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

/// A gateway's notification queue, to poll.
type Queue = Arc<dyn NotificationQueue>;

/// The notification queue of each instance, the first and the others, to poll them all;
/// refused when one has none.
fn notification_queues(instances: &Instances) -> Result<(Queue, Vec<Queue>)> {
    let mut queues = instances.iter().map(|instance| {
        instance
            .gateway()
            .notification_queue()
            .ok_or_else(|| polling_unsupported(instance.kind()))
    });
    let first = match queues.next() {
        Some(first) => first?,
        None => return Err(polling_unsupported(instances.first().kind())),
    };
    Ok((first, queues.collect::<Result<_>>()?))
}

/// The Redis of `HOOKBOT_REDIS_URL`, when set: the bot's queue, dedupe claims and
/// conversations move there, and its clients share their rate limits through it.
#[cfg(feature = "redis")]
struct EnvRedis(Option<crate::redis::Redis>);

#[cfg(feature = "redis")]
impl EnvRedis {
    fn open(url: Option<Secret>, namespace: Option<&str>) -> Result<Self> {
        let Some(url) = url else {
            return Ok(Self(None));
        };
        let redis = crate::redis::Redis::open(url)?;
        Ok(Self(Some(match namespace {
            Some(namespace) => redis.namespace(namespace),
            None => redis,
        })))
    }

    /// Client settings whose rate limits are shared through the Redis, if any.
    fn client_settings(&self) -> ClientSettings {
        match &self.0 {
            Some(redis) => ClientSettings::default().shared_limits(redis),
            None => ClientSettings::default(),
        }
    }

    /// `builder` on the Redis, if any.
    fn apply<S: Send + Sync + 'static, D: ConversationState>(
        self,
        builder: BotBuilder<S, D>,
    ) -> BotBuilder<S, D> {
        match self.0 {
            Some(redis) => builder.redis(redis),
            None => builder,
        }
    }
}

/// Without the redis feature, `HOOKBOT_REDIS_URL` is refused.
#[cfg(not(feature = "redis"))]
struct EnvRedis;

#[cfg(not(feature = "redis"))]
impl EnvRedis {
    fn open(url: Option<Secret>, _namespace: Option<&str>) -> Result<Self> {
        match url {
            Some(_) => Err(Error::Config {
                variable: "HOOKBOT_REDIS_URL",
                reason: "hookbot was built without its redis feature".to_owned(),
            }),
            None => Ok(Self),
        }
    }

    fn client_settings(&self) -> ClientSettings {
        ClientSettings::default()
    }

    fn apply<S, D>(self, builder: BotBuilder<S, D>) -> BotBuilder<S, D> {
        builder
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
    /// The secret the gateway presents on each webhook call; with several instances, the
    /// secret of those that have none of their own.
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

    /// A contact book of its own (other time-to-live settings), instead of the default one;
    /// with several instances, for the instance whose client the book reads from.
    pub fn contacts(mut self, contacts: ContactBook) -> Self {
        if !self.instances.replace_contacts(contacts) {
            tracing::warn!("contact book ignored: the bot serves no instance of its gateway");
        }
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
    /// leaves notifications in the gateway's queue for later (default 10 000). On Redis, the
    /// events this replica has read from the shared queue and not yet handled.
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events;
        self
    }

    /// Runs the bot on Redis, for several replicas of one bot: accepted notifications go to a
    /// durable queue shared by the replicas (a [`RedisQueue`](crate::redis::RedisQueue);
    /// pass one to set its partitions, capacity or lease), claims against duplicates and
    /// conversation states (a [`RedisStorage`](crate::redis::RedisStorage), unless
    /// [`conversations`](BotBuilder::conversations) sets another store) are kept there too,
    /// and each replica handles its share, each chat's events in order. The clients' rate
    /// limits are shared by building them with `shared_limits(&redis)`. Bots read all of it
    /// from `HOOKBOT_REDIS_URL`. See [`redis`](crate::redis).
    ///
    /// [`run`](Bot::run) and [`serve`](Bot::serve) start the replica's share of the handling;
    /// a bot served only through [`router`](Bot::router) appends to the queue and handles
    /// nothing.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, queue: impl Into<crate::redis::RedisQueue>) -> Self {
        let queue = queue.into();
        self.queue = Some(queue);
        self
    }

    /// The conversations of a bot that set none: none when its state is `()`; in Redis for a
    /// bot on Redis; else in memory.
    fn default_conversations(&self) -> Option<Conversations<D>> {
        if TypeId::of::<D>() == TypeId::of::<()>() {
            return None;
        }
        #[cfg(feature = "redis")]
        if let Some(queue) = &self.queue {
            let storage = crate::redis::RedisStorage::new(queue.redis());
            return Some(Conversations::new(storage));
        }
        Some(Conversations::in_memory())
    }

    /// The bot.
    pub fn build(mut self) -> Bot<S> {
        if let Some(token) = &self.webhook_token {
            self.instances.default_webhook_token(token);
        }
        let directory = self.instances.directory();
        let conversations = self
            .conversations
            .take()
            .or_else(|| self.default_conversations());
        let services = Arc::new(ServiceTable::new(self.instances, self.state));
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
        let settings = IntakeSettings {
            body_limit: self.body_limit,
            drain_deadline: self.drain_deadline,
            queue: self.queue,
        };
        let receiver = match self.intake {
            Intake::Webhook => {
                webhook_receiver(dispatcher, directory, services.instances(), settings)
            }
            Intake::Polling(polling) => {
                if let Some(sandbox) = &self.sandbox {
                    sandbox.set_webhook(None, None);
                }
                polling_receiver(dispatcher, services.instances(), polling, settings)
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

/// What the bot's intake is built with, besides its dispatcher.
struct IntakeSettings {
    body_limit: usize,
    drain_deadline: Duration,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    queue: Option<crate::intake::SharedQueue>,
}

/// The webhook receiving the notifications of `instances` (found through `directory`) into
/// `dispatcher`, or into the shared queue.
fn webhook_receiver(
    dispatcher: Dispatcher,
    directory: crate::instance::Directory,
    instances: &Instances,
    settings: IntakeSettings,
) -> Receiver {
    let webhook = Webhook::builder(instances.first().kind(), dispatcher)
        .directory(directory)
        .body_limit(settings.body_limit)
        .drain_deadline(settings.drain_deadline);
    #[cfg(feature = "redis")]
    let webhook = match settings.queue {
        Some(queue) => webhook.shared_queue(queue),
        None => webhook,
    };
    Receiver::Webhook(webhook.build())
}

/// The poller of every instance's notification queue into `dispatcher`, or into the shared
/// queue; refused when an instance has no notification queue.
fn polling_receiver(
    dispatcher: Dispatcher,
    instances: &Instances,
    polling: PollingSettings,
    settings: IntakeSettings,
) -> Receiver {
    let (first, others) = match notification_queues(instances) {
        Ok(queues) => queues,
        Err(error) => {
            tracing::error!(%error, "the bot cannot serve");
            return Receiver::Unsupported(error);
        }
    };
    let poller = others
        .into_iter()
        .fold(Poller::builder(first, dispatcher), PollerBuilder::queue)
        .settings(polling)
        .drain_deadline(settings.drain_deadline);
    #[cfg(feature = "redis")]
    let poller = match settings.queue {
        Some(queue) => poller.shared_queue(queue),
        None => poller,
    };
    Receiver::Polling(poller.build())
}

/// The dispatcher's handler: find the event's instance, enter the event's conversation (its
/// key locked, its state loaded), choose the route by the event and the state, run it.
struct Routing<S, D> {
    router: Router<S, D>,
    conversations: Option<Conversations<D>>,
    services: Arc<ServiceTable<S>>,
}

impl<S: Send + Sync + 'static, D: ConversationState> Routing<S, D> {
    async fn route(&self, event: Event) -> HandlerResult {
        let Some(services) = self.services.of(event.gateway, &event.instance) else {
            return Err(format!(
                "no handler services for {} instance {:?}: the bot does not serve it",
                event.gateway, event.instance
            )
            .into());
        };
        let conversation = match &self.conversations {
            Some(conversations) => conversations.enter(&event).await?,
            None => Conversation::detached(),
        };
        match self.router.choose(&event, &conversation.get()) {
            Some(chosen) => chosen.run(event, conversation, services.clone()).await,
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
