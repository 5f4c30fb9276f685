//! [`BotBuilder`]: how a bot is put together from a router, the instances it serves (or a
//! sandbox), the handlers' state, its intake, dispatch and store.

use std::any::TypeId;
use std::net::SocketAddr;
use std::sync::Arc;

use url::Url;

use super::{Background, Bot, DEFAULT_LISTEN, Listen};
use crate::context::ServiceTable;
use crate::conversation::{ConversationState, Conversations};
use crate::dispatch::{DispatchSettings, Dispatcher, DrainReport, ErrorHook, HandlerFailure};
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayKind, NotificationQueue};
use crate::instance::{Instance, Instances};
use crate::intake::webhook::Directory;
use crate::intake::{Intake, Poller, Receiver, Webhook};
use crate::router::{Router, Routing, TimeoutHandler, watch_timeouts};
use crate::sandbox::{Sandbox, SandboxBuilder};
use crate::secret::Secret;
use crate::server::ServerSettings;
use crate::store::Store;

/// What a bot serves: gateway instances, or a local sandbox.
enum Serving {
    Instances(Instances),
    Sandbox(Box<SandboxBuilder>),
}

/// Builds a [`Bot`]; finish with [`build`](BotBuilder::build), or [`run`](BotBuilder::run) it
/// at once. `S` is the handlers' shared state, `D` their conversation state, `St` whether the
/// state was given ([`NoState`] until [`state`](BotBuilder::state)).
#[must_use]
pub struct BotBuilder<S, D = (), St = NoState> {
    router: Router<S, D>,
    state: St,
    serving: Serving,
    webhook_token: Option<Secret>,
    anonymous_webhook: bool,
    public_url: Option<Url>,
    listen: SocketAddr,
    server: ServerSettings,
    routes: axum::Router,
    intake: Intake,
    dispatch: DispatchSettings,
    store: Store,
    conversations: Option<Conversations<D>>,
    on_timeout: Option<Arc<dyn TimeoutHandler<S, D>>>,
    on_error: Option<ErrorHook>,
}

/// A [`BotBuilder`] that was given no state: only a bot whose handlers take none (`S = ()`) can
/// be built without one.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoState;

/// What a [`BotBuilder`] holds as the handlers' state: the state itself, or [`NoState`] for
/// handlers that take none.
#[diagnostic::on_unimplemented(
    message = "the bot's handlers take a state of type `{S}`, and the bot was given none",
    label = "give the state with `.state(..)` before building or running the bot"
)]
pub trait GivenState<S> {
    /// The state.
    fn into_state(self) -> S;
}

impl GivenState<()> for NoState {
    fn into_state(self) {}
}

impl<S> GivenState<S> for S {
    fn into_state(self) -> S {
        self
    }
}

impl Bot {
    /// A bot of `router`; give it a [gateway](BotBuilder::gateway) or
    /// [instances](BotBuilder::instances) (without, it runs on a local sandbox), and the
    /// [state](BotBuilder::state) its handlers take, if any.
    pub fn builder<S: Send + Sync + 'static, D: ConversationState>(
        router: Router<S, D>,
    ) -> BotBuilder<S, D, NoState> {
        BotBuilder {
            router,
            state: NoState,
            serving: Serving::Sandbox(Box::new(Sandbox::builder())),
            webhook_token: None,
            anonymous_webhook: false,
            public_url: None,
            listen: DEFAULT_LISTEN,
            server: ServerSettings::default(),
            routes: axum::Router::new(),
            intake: Intake::default(),
            dispatch: DispatchSettings::default(),
            store: Store::default(),
            conversations: None,
            on_timeout: None,
            on_error: None,
        }
    }
}

impl<S: Send + Sync + 'static, D: ConversationState> BotBuilder<S, D, NoState> {
    /// The state the handlers share (`cx.state()`), one for all instances.
    pub fn state(self, state: S) -> BotBuilder<S, D, S> {
        BotBuilder {
            router: self.router,
            state,
            serving: self.serving,
            webhook_token: self.webhook_token,
            anonymous_webhook: self.anonymous_webhook,
            public_url: self.public_url,
            listen: self.listen,
            server: self.server,
            routes: self.routes,
            intake: self.intake,
            dispatch: self.dispatch,
            store: self.store,
            conversations: self.conversations,
            on_timeout: self.on_timeout,
            on_error: self.on_error,
        }
    }
}

impl<S: Send + Sync + 'static, D: ConversationState, St> BotBuilder<S, D, St> {
    /// Serves the instance `gateway` is a client of, with a contact book of its own: every
    /// notification posted with the webhook token is its.
    pub fn gateway(self, gateway: impl Gateway + 'static) -> Self {
        self.instances(Instance::new(Arc::new(gateway)))
    }

    /// Serves these instances (see [`instance`](crate::instance)): each notification reaches
    /// the handlers with the instance it came from, and their replies go out through that
    /// instance's client. One [`Instance`] is a registry of one.
    pub fn instances(mut self, instances: impl Into<Instances>) -> Self {
        self.serving = Serving::Instances(instances.into());
        self
    }

    /// Runs on a local sandbox (the default, when no gateway is given): the bot binds its
    /// address when built, and the one port serves the bot's webhook, the sandbox's GREEN-API
    /// emulator and its web chat at `/`. The bot talks to the emulator with the same client
    /// and webhook code as in production.
    pub fn sandbox(mut self, sandbox: SandboxBuilder) -> Self {
        self.serving = Serving::Sandbox(Box::new(sandbox));
        self
    }

    /// The secret the gateway presents on each webhook call; with several instances, the
    /// secret of those that have none of their own.
    pub fn webhook_token(mut self, token: impl Into<Secret>) -> Self {
        self.webhook_token = Some(token.into());
        self
    }

    /// Lets the webhook of an instance without a token take notifications from anyone: for a
    /// local experiment only. Without it, [`build`](BotBuilder::build) refuses such a bot; with
    /// it, every start logs a warning. Bots read it from
    /// `HOOKBOT_ALLOW_ANONYMOUS_WEBHOOK=yes-i-understand`.
    pub fn dangerously_allow_anonymous_webhook(mut self) -> Self {
        self.anonymous_webhook = true;
        self
    }

    /// The bot's public base URL (`https://bot.example.org/hooks`), for the instances that
    /// have none of their own: on start, a webhook bot points their notifications at itself
    /// and warns of an instance that is not authorised (see
    /// [`InstanceBuilder::public_url`](crate::instance::InstanceBuilder::public_url)). Not for
    /// a sandbox, which points itself at the bot.
    pub fn public_url(mut self, url: Url) -> Self {
        self.public_url = Some(url);
        self
    }

    /// The address [`Bot::run`] listens on (default [`DEFAULT_LISTEN`]).
    pub fn listen(mut self, address: SocketAddr) -> Self {
        self.listen = address;
        self
    }

    /// The HTTP server's deadlines for slow peers and its connection cap (see
    /// [`server`](crate::server)).
    pub fn server(mut self, settings: ServerSettings) -> Self {
        self.server = settings;
        self
    }

    /// More routes to serve beside the bot's (an application's own pages or API).
    pub fn routes(mut self, routes: axum::Router) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// How notifications come in, with that way's settings (default: the webhook).
    pub fn intake(mut self, intake: Intake) -> Self {
        self.intake = intake;
        self
    }

    /// How many handlers run at once, how many events may wait, how long a shutdown waits.
    pub fn dispatch(mut self, settings: DispatchSettings) -> Self {
        self.dispatch = settings;
        self
    }

    /// Where accepted notifications, claims against duplicates and (unless
    /// [`conversations`](BotBuilder::conversations) says otherwise) conversation states are
    /// kept: [`Store::memory`] by default, the embedded durable store
    /// ([`Store::durable`], what a bot on a real gateway gets from the environment), or a Redis
    /// queue shared by replicas (pass a `redis::Redis` or `redis::RedisQueue`). See
    /// [`store`](crate::store).
    pub fn store(mut self, store: impl Into<Store>) -> Self {
        self.store = store.into();
        self
    }

    /// Where the conversations' states are kept and how messages are keyed (see
    /// [`conversation`](crate::conversation)). A bot whose conversation state is not `()` keeps
    /// them in its [store](BotBuilder::store) unless it sets its own.
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

    /// Called with every handler failure (an error or a panic), after it is logged; also with
    /// the failures of the [conversation timeout hook](BotBuilder::on_conversation_timeout).
    pub fn on_error(mut self, hook: impl Fn(HandlerFailure) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }
}

impl<S: Send + Sync + 'static, D: ConversationState, St: GivenState<S>> BotBuilder<S, D, St> {
    /// The bot. On a sandbox, binds its address now.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the sandbox's address cannot be bound, when polling was chosen
    /// for a gateway that keeps no notification queue (Z-API), or when the webhook of an
    /// instance would take notifications without a token (naming `HOOKBOT_WEBHOOK_TOKEN`, or
    /// the instances file's entry) and
    /// [`dangerously_allow_anonymous_webhook`](BotBuilder::dangerously_allow_anonymous_webhook)
    /// was not given.
    pub fn build(self) -> Result<Bot> {
        let polls = matches!(self.intake, Intake::Polling(_));
        let (mut instances, listen, sandbox, routes) = match self.serving {
            Serving::Instances(mut instances) => {
                if let Some(url) = &self.public_url {
                    instances.default_public_url(url);
                }
                (instances, Listen::Address(self.listen), None, self.routes)
            }
            Serving::Sandbox(builder) => {
                let attached = builder.attach(self.listen, polls, self.webhook_token.clone())?;
                let routes = self.routes.merge(attached.sandbox.router());
                let instance = Instance::builder(attached.gateway)
                    .webhook_token(attached.webhook_token)
                    .build();
                let listen = Listen::Bound(attached.listener);
                (instance.into(), listen, Some(attached.sandbox), routes)
            }
        };
        if let Some(token) = &self.webhook_token {
            instances.default_webhook_token(token);
        }
        if !polls && !self.anonymous_webhook {
            instances.require_webhook_tokens()?;
        }
        for instance in instances.iter() {
            crate::metrics::label_instance(instance.id());
        }
        let conversations = self.conversations.or_else(|| {
            (TypeId::of::<D>() != TypeId::of::<()>()).then(|| self.store.conversations())
        });
        let services = Arc::new(ServiceTable::new(
            instances.clone(),
            self.state.into_state(),
            self.store.memos(),
        ));
        let timeouts = conversations.clone().map(|conversations| {
            Box::pin(watch_timeouts(
                conversations,
                services.clone(),
                self.on_timeout,
                self.on_error.clone(),
            )) as Background
        });
        let routing = Routing::new(self.router, conversations, services);
        let backlog = self
            .store
            .open(Dispatcher::new(routing, self.dispatch, self.on_error));
        let intake = match self.intake {
            Intake::Webhook(settings) => Receiver::Webhook(Webhook::new(
                Directory::new(&instances),
                settings,
                backlog.clone(),
            )),
            Intake::Polling(settings) => Receiver::Polling(Poller::new(
                notification_queues(&instances)?,
                settings,
                backlog.clone(),
            )),
        };
        Ok(Bot {
            intake,
            backlog,
            instances,
            routes,
            listen,
            server: self.server,
            sandbox,
            timeouts,
        })
    }

    /// Builds the bot and [runs](Bot::run) it until SIGINT or SIGTERM.
    pub async fn run(self) -> Result<DrainReport> {
        self.build()?.run().await
    }
}

/// Why a gateway without a notification queue cannot poll.
pub(crate) fn polling_unsupported(gateway: GatewayKind) -> Error {
    Error::Config {
        variable: "HOOKBOT_INTAKE",
        reason: format!(
            "polling needs GREEN-API's notification queue; {gateway} delivers notifications only to a webhook: use HOOKBOT_INTAKE=webhook"
        ),
    }
}

/// The notification queue of each instance, to poll them all; refused when one has none.
fn notification_queues(instances: &Instances) -> Result<Vec<Arc<dyn NotificationQueue>>> {
    instances
        .iter()
        .map(|instance| {
            instance
                .gateway()
                .notification_queue()
                .ok_or_else(|| polling_unsupported(instance.kind()))
        })
        .collect()
}
