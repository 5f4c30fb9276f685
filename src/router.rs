//! The router: routes are (filter, handler) pairs tried in order, and the first whose filter
//! passes handles the event; routers nest, and a fallback takes what no route took.
//!
//! ```
//! use hookbot::context::Context;
//! use hookbot::filter;
//! use hookbot::router::Router;
//!
//! async fn help(cx: Context) -> hookbot::Result<()> {
//!     cx.reply("Send: contact <name>").await?;
//!     Ok(())
//! }
//!
//! async fn echo(cx: Context) -> hookbot::Result<()> {
//!     if let Some(text) = cx.text() {
//!         cx.reply(text).quote().await?;
//!     }
//!     Ok(())
//! }
//!
//! let router: Router = Router::new()
//!     .route(filter::text_ignore_case("help") | filter::command("start"), help)
//!     .route(filter::incoming() & filter::content("text"), echo);
//! # let _ = router;
//! ```
//!
//! A handler is any `async fn(Context<S, D>) -> Result<(), E>` where `E` converts into a boxed
//! error (hookbot's [`Error`](crate::Error), `anyhow::Error`, `std::io::Error`, ...). Its error
//! reaches the bot's error hook with the event's identity. `S` is the bot's shared state, `D`
//! its [conversation](crate::conversation) state; both are `()` by default, and
//! [`in_state`](Router::in_state) routes by the conversation's state.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;

use crate::context::{Context, ServiceTable, Services, TimedOut};
use crate::conversation::{Conversation, ConversationState, Conversations};
use crate::dispatch::{ErrorHook, EventIdentity, FailureCause, HandlerFailure};
use crate::error::BoxError;
use crate::event::Event;
use crate::filter::{Filter, Matched};

/// What a handler's future resolves to, its error boxed.
pub type HandlerResult = Result<(), BoxError>;
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;

/// An async function of a [`Context`]: what a route runs.
pub trait Handler<S, D = ()>: Send + Sync + 'static {
    /// Runs the handler.
    fn call(&self, cx: Context<S, D>) -> BoxFuture;
}

impl<S, D, F, Fut, E> Handler<S, D> for F
where
    F: Fn(Context<S, D>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn call(&self, cx: Context<S, D>) -> BoxFuture {
        let future = self(cx);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

/// Code that runs around every handler of a router: it gets the context and the rest of the
/// chain, [`Next`], and decides whether and how to call it.
pub trait Middleware<S, D = ()>: Send + Sync + 'static {
    /// Runs around `next`.
    fn call(&self, cx: Context<S, D>, next: Next<S, D>) -> BoxFuture;

    /// Whether this middleware must see `event` even when no route of its router takes it
    /// (as [`Takeover`](crate::takeover::Takeover) sees the owner's messages): the router then
    /// takes the event, and runs its middleware around a handler that does nothing. None by
    /// default.
    fn watches(&self, event: &Event) -> bool {
        let _ = event;
        false
    }
}

impl<S, D, F, Fut> Middleware<S, D> for F
where
    F: Fn(Context<S, D>, Next<S, D>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    fn call(&self, cx: Context<S, D>, next: Next<S, D>) -> BoxFuture {
        Box::pin(self(cx, next))
    }
}

/// The rest of the chain a [`Middleware`] wraps: the inner middleware and the handler.
pub struct Next<S, D = ()> {
    layers: Arc<[Arc<dyn Middleware<S, D>>]>,
    depth: usize,
    handler: Arc<dyn Handler<S, D>>,
}

impl<S: Send + Sync + 'static, D: ConversationState> Next<S, D> {
    /// Runs the rest of the chain.
    pub async fn run(self, cx: Context<S, D>) -> HandlerResult {
        match self.layers.get(self.depth).cloned() {
            Some(layer) => {
                let next = Next {
                    depth: self.depth + 1,
                    ..self
                };
                layer.call(cx, next).await
            }
            None => self.handler.call(cx).await,
        }
    }
}

/// Routes in order, nested routers, a fallback, and middleware around them. `S` is the bot's
/// shared state, `D` its conversation state.
pub struct Router<S = (), D = ()> {
    routes: Vec<Route<S, D>>,
    fallback: Option<Arc<dyn Handler<S, D>>>,
    layers: Vec<Arc<dyn Middleware<S, D>>>,
}

enum Route<S, D> {
    Handler(Filter, Arc<dyn Handler<S, D>>),
    Nested(Filter, Router<S, D>),
    InState(StateTest<D>, Router<S, D>),
}

type StateTest<D> = Box<dyn Fn(&D) -> bool + Send + Sync>;

/// The handler of an event that only a router's middleware [watches](Middleware::watches).
struct Unrouted;

impl<S, D> Handler<S, D> for Unrouted {
    fn call(&self, _cx: Context<S, D>) -> BoxFuture {
        Box::pin(async { Ok(()) })
    }
}

/// The handler chosen for an event, with its middleware and what its filter found.
pub(crate) struct Chosen<S, D> {
    handler: Arc<dyn Handler<S, D>>,
    layers: Vec<Arc<dyn Middleware<S, D>>>,
    matched: Matched,
}

impl<S: Send + Sync + 'static, D: ConversationState> Default for Router<S, D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Send + Sync + 'static, D: ConversationState> Router<S, D> {
    /// A router with no routes.
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            fallback: None,
            layers: Vec::new(),
        }
    }

    /// Adds a route: `handler` handles the events `filter` passes, unless an earlier route took
    /// them.
    #[must_use]
    pub fn route(mut self, filter: impl Into<Filter>, handler: impl Handler<S, D>) -> Self {
        self.routes
            .push(Route::Handler(filter.into(), Arc::new(handler)));
        self
    }

    /// Adds a nested router for the events `filter` passes. An event it does not handle (no
    /// route of its own, no fallback) goes on to the routes after it.
    #[must_use]
    pub fn nest(mut self, filter: impl Into<Filter>, router: Router<S, D>) -> Self {
        self.routes.push(Route::Nested(filter.into(), router));
        self
    }

    /// Adds a nested router for the events whose conversation is in a state `test` passes (see
    /// [`conversation`](crate::conversation)). Like [`nest`](Router::nest), an event it does not
    /// handle goes on to the routes after it.
    #[must_use]
    pub fn in_state(
        mut self,
        test: impl Fn(&D) -> bool + Send + Sync + 'static,
        router: Router<S, D>,
    ) -> Self {
        self.routes.push(Route::InState(Box::new(test), router));
        self
    }

    /// Handles the events no route took.
    #[must_use]
    pub fn fallback(mut self, handler: impl Handler<S, D>) -> Self {
        self.fallback = Some(Arc::new(handler));
        self
    }

    /// Runs `middleware` around every handler of this router, nested ones included; the first
    /// added runs outermost. An event it [watches](Middleware::watches) reaches it even when no
    /// route takes it.
    #[must_use]
    pub fn layer(mut self, middleware: impl Middleware<S, D>) -> Self {
        self.layers.push(Arc::new(middleware));
        self
    }

    /// The handler for `event` in a conversation in `state`, or `None` when no route takes it.
    pub(crate) fn choose(&self, event: &Event, state: &D) -> Option<Chosen<S, D>> {
        let mut chosen = self.routes.iter().find_map(|route| match route {
            Route::Handler(filter, handler) => {
                let mut matched = Matched::default();
                filter.matches(event, &mut matched).then(|| Chosen {
                    handler: handler.clone(),
                    layers: Vec::new(),
                    matched,
                })
            }
            Route::Nested(filter, router) => filter
                .matches(event, &mut Matched::default())
                .then(|| router.choose(event, state))
                .flatten(),
            Route::InState(test, router) => {
                test(state).then(|| router.choose(event, state)).flatten()
            }
        });
        if chosen.is_none() {
            chosen = self.fallback.clone().map(|handler| Chosen {
                handler,
                layers: Vec::new(),
                matched: Matched::default(),
            });
        }
        if chosen.is_none() && self.layers.iter().any(|layer| layer.watches(event)) {
            chosen = Some(Chosen {
                handler: Arc::new(Unrouted),
                layers: Vec::new(),
                matched: Matched::default(),
            });
        }
        let mut chosen = chosen?;
        chosen.layers.splice(0..0, self.layers.iter().cloned());
        Some(chosen)
    }
}

impl<S: Send + Sync + 'static, D: ConversationState> Chosen<S, D> {
    /// Runs the chosen handler inside its middleware, in `conversation`.
    pub(crate) async fn run(
        self,
        event: Event,
        conversation: Conversation<D>,
        services: Arc<Services<S>>,
    ) -> HandlerResult {
        let cx = Context::new(event, self.matched, conversation, services);
        let next = Next {
            layers: self.layers.into(),
            depth: 0,
            handler: self.handler,
        };
        next.run(cx).await
    }
}

/// The route step, the dispatcher's handler: find the event's instance, enter the event's
/// conversation (its key locked, its state loaded), choose the route by the event and the
/// state, run it.
pub(crate) struct Routing<S, D> {
    inner: Arc<RoutingInner<S, D>>,
}

struct RoutingInner<S, D> {
    router: Router<S, D>,
    conversations: Option<Conversations<D>>,
    services: Arc<ServiceTable<S>>,
}

impl<S: Send + Sync + 'static, D: ConversationState> Routing<S, D> {
    /// Routes through `router`, with `conversations` (if the bot keeps any) and the services of
    /// the bot's instances.
    pub(crate) fn new(
        router: Router<S, D>,
        conversations: Option<Conversations<D>>,
        services: Arc<ServiceTable<S>>,
    ) -> Self {
        Self {
            inner: Arc::new(RoutingInner {
                router,
                conversations,
                services,
            }),
        }
    }
}

impl<S: Send + Sync + 'static, D: ConversationState> RoutingInner<S, D> {
    async fn route(&self, event: Event) -> HandlerResult {
        let Some(services) = self.services.of(event.gateway, &event.instance) else {
            return Err(format!(
                "no handler services for {} instance {:?}: the bot does not serve it",
                event.gateway, event.instance
            )
            .into());
        };
        // The two steps that may wait are boxed apart, only when they run: the future the
        // dispatcher boxes for each event stays small to build and to allocate.
        let conversation = match &self.conversations {
            Some(conversations) => Box::pin(conversations.enter(&event)).await?,
            None => Conversation::detached(),
        };
        match self.router.choose(&event, &conversation.get()) {
            Some(chosen) => Box::pin(chosen.run(event, conversation, services.clone())).await,
            None => {
                tracing::debug!(kind = event.kind.name(), "no route for the event");
                Ok(())
            }
        }
    }
}

impl<S: Send + Sync + 'static, D: ConversationState> crate::dispatch::Handler for Routing<S, D> {
    fn handle(&self, event: Event) -> Pin<Box<dyn Future<Output = HandlerResult> + Send + '_>> {
        Box::pin(self.inner.route(event))
    }
}

/// What a bot does when a conversation times out: any
/// `async fn(TimedOut<S, D>) -> Result<(), E>`; see
/// [`BotBuilder::on_conversation_timeout`](crate::bot::BotBuilder::on_conversation_timeout).
pub trait TimeoutHandler<S, D>: Send + Sync + 'static {
    /// Handles one timed-out conversation.
    fn call(
        &self,
        timed_out: TimedOut<S, D>,
    ) -> Pin<Box<dyn Future<Output = HandlerResult> + Send>>;
}

impl<S, D, F, Fut, E> TimeoutHandler<S, D> for F
where
    F: Fn(TimedOut<S, D>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn call(
        &self,
        timed_out: TimedOut<S, D>,
    ) -> Pin<Box<dyn Future<Output = HandlerResult> + Send>> {
        let future = self(timed_out);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

/// How long to wait before asking a failing store for timeouts again.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// Takes each timed-out conversation from the store, for ever, and runs `hook` on it with
/// the key held (locked, and leased when the store has leases) and the services of the
/// key's instance; a failing or panicking hook, or a lease the store fails to give, is
/// logged and reported to `on_error`.
pub(crate) async fn watch_timeouts<S: Send + Sync + 'static, D: ConversationState>(
    conversations: Conversations<D>,
    services: Arc<ServiceTable<S>>,
    hook: Option<Arc<dyn TimeoutHandler<S, D>>>,
    on_error: Option<ErrorHook>,
) {
    loop {
        let (key, state) = match conversations.storage().expired().await {
            Ok(expired) => expired,
            Err(error) => {
                tracing::warn!(%error, "the conversation store cannot tell timeouts; asking again in {STORE_RETRY:?}");
                tokio::time::sleep(STORE_RETRY).await;
                continue;
            }
        };
        tracing::debug!(conversation = %key, "conversation timed out");
        let Some(hook) = &hook else { continue };
        let identity = EventIdentity {
            gateway: key.gateway,
            instance: key.instance.clone(),
            kind: "conversation_timeout",
            chat: key.reply_chat().cloned(),
            message_id: None,
        };
        let Some(instance) = services.of(key.gateway, &key.instance) else {
            tracing::warn!(conversation = %identity, "conversation of an instance the bot does not serve timed out; no one to tell");
            continue;
        };
        let cause = match conversations.hold(key.clone()).await {
            Ok(_held) => {
                let timed_out = TimedOut::new(key, state, instance.clone());
                let outcome = AssertUnwindSafe(hook.call(timed_out)).catch_unwind().await;
                match outcome {
                    Ok(Ok(())) => continue,
                    Ok(Err(error)) => FailureCause::Error(error),
                    Err(panic) => {
                        FailureCause::Panic(crate::dispatch::panic_message(panic.as_ref()))
                    }
                }
            }
            Err(error) => FailureCause::Error(Box::new(error)),
        };
        tracing::error!(error = %cause, conversation = %identity, "conversation timeout hook failed");
        if let Some(on_error) = &on_error {
            on_error(HandlerFailure {
                event: identity,
                error: cause,
            });
        }
    }
}
