//! Conversations: a state of the bot's own type per person (or per chat), loaded for each
//! message, changed by the handler, saved; routes can depend on it, and an idle conversation
//! times out.
//!
//! The state is an enum with data. The router's second type parameter names it, handlers read
//! and change it through [`Context::conversation`](crate::context::Context::conversation), and
//! [`Router::in_state`](crate::router::Router::in_state) routes by it:
//!
//! ```
//! use hookbot::context::Context;
//! use hookbot::filter;
//! use hookbot::router::Router;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Default, Serialize, Deserialize)]
//! enum Signup {
//!     #[default]
//!     Idle,
//!     AskingName,
//!     AskingPhone { name: String },
//! }
//!
//! type Cx = Context<(), Signup>;
//!
//! async fn start(cx: Cx) -> hookbot::Result<()> {
//!     cx.conversation().set(Signup::AskingName).await?;
//!     cx.reply("Your name?").await?;
//!     Ok(())
//! }
//!
//! async fn name(cx: Cx) -> hookbot::Result<()> {
//!     let name = cx.text().unwrap_or_default().to_owned();
//!     cx.conversation().set(Signup::AskingPhone { name }).await?;
//!     cx.reply("Your phone?").await?;
//!     Ok(())
//! }
//!
//! let router: Router<(), Signup> = Router::new()
//!     .route(filter::command("signup"), start)
//!     .in_state(
//!         |state: &Signup| matches!(state, Signup::AskingName),
//!         Router::new().route(filter::content("text"), name),
//!     );
//! # let _ = router;
//! ```
//!
//! Which messages share a state is the [`KeyStrategy`], chosen once per bot: per sender in a
//! chat (the default), per chat, or per sender across chats. Two messages with the same key
//! never see the same old state: the bot holds the key's lock from loading the state until the
//! handler is done with its [`Context`](crate::context::Context). A store shared by several
//! replicas also holds the key against the other replicas meanwhile, with a [`Lease`] from
//! [`Storage::lease`].
//!
//! States live in a [`Storage`]; [`MemoryStorage`] (the default) keeps them in memory, bounded in
//! number, and ends a conversation left idle past its timeout. The bot then calls its
//! [timeout hook](crate::bot::BotBuilder::on_conversation_timeout), which can tell the person.

mod locks;
mod memory;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::BoxError;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::gateway::GatewayKind;
use crate::id::ChatId;

pub use memory::MemoryStorage;

use locks::{KeyGuard, KeyLocks};

/// What a conversation state must be: the bot's own type (usually an enum with data), cloned
/// for each event, its [`Default`] the state of a person with no conversation going, and
/// serde-serialisable so that a shared store (Redis) can keep it: derive `Serialize` and
/// `Deserialize`. `()` is one, for a bot without conversations.
pub trait ConversationState:
    Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

impl<T> ConversationState for T where
    T: Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

/// Which messages share one conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyStrategy {
    /// One conversation per person per chat: in a group, each member has their own.
    #[default]
    PerSenderInChat,
    /// One conversation per chat: in a group, all members share it.
    PerChat,
    /// One conversation per person, whatever chat they write in.
    PerSender,
}

/// The key of one conversation: the instance, and the chat and/or sender by the
/// [`KeyStrategy`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ConversationKey {
    /// The gateway of the instance.
    pub gateway: GatewayKind,
    /// The instance.
    pub instance: Arc<str>,
    /// The chat, unless the strategy is [`KeyStrategy::PerSender`].
    pub chat: Option<ChatId>,
    /// The sender, unless the strategy is [`KeyStrategy::PerChat`].
    pub sender: Option<ChatId>,
}

impl ConversationKey {
    /// The key as one text, for stores that keep keys as names: a JSON array of its parts.
    pub(crate) fn to_name(&self) -> String {
        let parts = (
            self.gateway.as_str(),
            &*self.instance,
            self.chat.as_ref().map(ChatId::as_str),
            self.sender.as_ref().map(ChatId::as_str),
        );
        serde_json::to_string(&parts).expect("a tuple of strings is always JSON")
    }

    /// The key a [name](ConversationKey::to_name) was made from.
    pub(crate) fn from_name(name: &str) -> Result<Self, BoxError> {
        let (gateway, instance, chat, sender): (String, String, Option<String>, Option<String>) =
            serde_json::from_str(name)
                .map_err(|error| format!("not a conversation's name: {error}"))?;
        let gateway: GatewayKind = gateway
            .parse()
            .map_err(|_| format!("not a gateway's name: {gateway:?}"))?;
        Ok(ConversationKey::new(
            gateway,
            instance,
            chat.map(ChatId::from),
            sender.map(ChatId::from),
        ))
    }

    /// The key of `event` by `strategy`; `None` for an event that is not a message (a status,
    /// a call, an instance's state), which belongs to no conversation.
    pub fn of(event: &Event, strategy: KeyStrategy) -> Option<Self> {
        let message = event.message()?;
        let (chat, sender) = match strategy {
            KeyStrategy::PerSenderInChat => (Some(&message.chat), Some(&message.sender)),
            KeyStrategy::PerChat => (Some(&message.chat), None),
            KeyStrategy::PerSender => (None, Some(&message.sender)),
        };
        Some(Self {
            gateway: event.gateway,
            instance: event.instance.clone(),
            chat: chat.cloned(),
            sender: sender.cloned(),
        })
    }

    /// A key from its parts, for a store that reads keys back.
    pub fn new(
        gateway: GatewayKind,
        instance: impl Into<Arc<str>>,
        chat: Option<ChatId>,
        sender: Option<ChatId>,
    ) -> Self {
        Self {
            gateway,
            instance: instance.into(),
            chat,
            sender,
        }
    }

    /// The chat a message to this conversation goes to: its chat, or for a per-sender key
    /// the sender's private chat.
    pub fn reply_chat(&self) -> Option<&ChatId> {
        self.chat.as_ref().or(self.sender.as_ref())
    }
}

/// `green-api/1101000001/79001234567@c.us/79001234567@c.us`: gateway, instance, chat and
/// sender (`-` for the part the strategy leaves out), for stores that key by text.
impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.gateway,
            self.instance,
            id_or_dash(&self.chat),
            id_or_dash(&self.sender)
        )
    }
}

fn id_or_dash(id: &Option<ChatId>) -> &str {
    id.as_ref().map_or("-", ChatId::as_str)
}

/// Where conversation states are kept. [`MemoryStorage`] is the embedded default; a shared
/// store lets several replicas hold the same conversations. Every method may fail: a failure
/// to load is reported as the event's failure, a failure to save reaches the handler.
#[async_trait]
pub trait Storage<D>: Send + Sync + 'static {
    /// The state saved for `key`, if any. Loading counts as activity: it restarts the key's
    /// idle timeout.
    async fn load(&self, key: &ConversationKey) -> Result<Option<D>, BoxError>;

    /// Saves `state` for `key`, restarting its idle timeout.
    async fn save(&self, key: &ConversationKey, state: D) -> Result<(), BoxError>;

    /// Forgets `key`'s state.
    async fn remove(&self, key: &ConversationKey) -> Result<(), BoxError>;

    /// Waits for the next conversation left idle past the store's timeout, forgets it, and
    /// returns it with its last state. Each timed-out conversation is returned once. A store
    /// without timeouts never returns (the default).
    async fn expired(&self) -> Result<(ConversationKey, D), BoxError> {
        std::future::pending().await
    }

    /// Holds `key` against the other replicas sharing this store until the returned lease is
    /// dropped, waiting while another replica holds it. The bot takes it after its
    /// in-process lock and before [`load`](Storage::load), and drops it when the handler (or
    /// the timeout hook) is done. A store that only this process uses needs none: the default
    /// returns `Ok(None)`, and the in-process lock alone keeps one conversation's events apart.
    async fn lease(&self, key: &ConversationKey) -> Result<Option<Lease>, BoxError> {
        let _ = key;
        Ok(None)
    }
}

/// A conversation key held against other replicas, from [`Storage::lease`]; dropping it lets
/// the next holder in. It wraps whatever the store needs to keep the hold and to give it up
/// when dropped (such as a task that renews it).
pub struct Lease {
    _held: Box<dyn Send + Sync>,
}

impl Lease {
    /// A lease kept for as long as `held` lives; `held`'s `Drop` gives it up.
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        Self {
            _held: Box::new(held),
        }
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").finish_non_exhaustive()
    }
}

/// A conversation key held in this process and, when the store asks for it, against the other
/// replicas. The lease is given up before the in-process lock (fields drop in order).
pub(crate) struct Held {
    _lease: Option<Lease>,
    _guard: KeyGuard,
}

/// A bot's conversations: where their states are kept and how messages are keyed.
pub struct Conversations<D> {
    storage: Arc<dyn Storage<D>>,
    strategy: KeyStrategy,
    locks: Arc<KeyLocks>,
}

impl<D> Clone for Conversations<D> {
    fn clone(&self) -> Self {
        Self {
            storage: self.storage.clone(),
            strategy: self.strategy,
            locks: self.locks.clone(),
        }
    }
}

impl<D: ConversationState> Conversations<D> {
    /// Conversations kept in `storage`, one per sender in a chat.
    pub fn new(storage: impl Storage<D>) -> Self {
        Self {
            storage: Arc::new(storage),
            strategy: KeyStrategy::default(),
            locks: Arc::default(),
        }
    }

    /// Conversations in a [`MemoryStorage`] with its defaults.
    pub fn in_memory() -> Self {
        Self::new(MemoryStorage::new())
    }

    /// Which messages share a conversation (default [`KeyStrategy::PerSenderInChat`]).
    #[must_use]
    pub fn key(mut self, strategy: KeyStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The storage.
    pub fn storage(&self) -> &Arc<dyn Storage<D>> {
        &self.storage
    }

    /// The conversation `event` belongs to, its key locked and its state loaded; a detached
    /// one (the default state, nothing saved) for an event that is not a message.
    pub(crate) async fn enter(&self, event: &Event) -> Result<Conversation<D>> {
        let Some(key) = ConversationKey::of(event, self.strategy) else {
            return Ok(Conversation::detached());
        };
        let held = self.hold(key.clone()).await?;
        let state = self
            .storage
            .load(&key)
            .await
            .map_err(Error::storage)?
            .unwrap_or_default();
        Ok(Conversation {
            state: Mutex::new(state),
            bound: Some(Bound {
                key,
                storage: self.storage.clone(),
                _held: held,
            }),
        })
    }

    /// Waits until `key` is free in this process, then takes the store's lease on it (if the
    /// store has leases), and holds both for as long as the returned value lives.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the store fails to give the lease.
    pub(crate) async fn hold(&self, key: ConversationKey) -> Result<Held> {
        let guard = self.locks.lock(key.clone()).await;
        let lease = self.storage.lease(&key).await.map_err(Error::storage)?;
        Ok(Held {
            _lease: lease,
            _guard: guard,
        })
    }
}

/// The conversation of the event being handled: its state, and the means to change it. The
/// conversation's key stays locked while this lives, so no other event of it runs meanwhile.
pub struct Conversation<D> {
    state: Mutex<D>,
    bound: Option<Bound<D>>,
}

/// A conversation's key, store, lock and lease.
struct Bound<D> {
    key: ConversationKey,
    storage: Arc<dyn Storage<D>>,
    _held: Held,
}

impl<D: ConversationState> Conversation<D> {
    /// A conversation of no key: the default state, nothing to save.
    pub(crate) fn detached() -> Self {
        Self {
            state: Mutex::new(D::default()),
            bound: None,
        }
    }

    /// The current state: as loaded for the event, or as last set.
    pub fn get(&self) -> D {
        self.current().clone()
    }

    /// The conversation's key; `None` when the event is not a message.
    pub fn key(&self) -> Option<&ConversationKey> {
        self.bound.as_ref().map(|bound| &bound.key)
    }

    /// Saves `state` as the conversation's state.
    ///
    /// # Errors
    ///
    /// [`Error::NoConversation`] when the event is not a message; [`Error::Storage`] when the
    /// store fails (the state is then unchanged).
    pub async fn set(&self, state: D) -> Result<()> {
        let bound = self.bound()?;
        bound
            .storage
            .save(&bound.key, state.clone())
            .await
            .map_err(Error::storage)?;
        *self.current() = state;
        Ok(())
    }

    /// Ends the conversation: its state is forgotten, and the next message starts from the
    /// default state.
    ///
    /// # Errors
    ///
    /// As [`set`](Conversation::set).
    pub async fn end(&self) -> Result<()> {
        let bound = self.bound()?;
        bound
            .storage
            .remove(&bound.key)
            .await
            .map_err(Error::storage)?;
        *self.current() = D::default();
        Ok(())
    }

    fn bound(&self) -> Result<&Bound<D>> {
        self.bound.as_ref().ok_or(Error::NoConversation)
    }

    fn current(&self) -> MutexGuard<'_, D> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The key of `sender` across chats on a test instance.
#[cfg(test)]
fn test_key(sender: &str) -> ConversationKey {
    ConversationKey::new(
        GatewayKind::GreenApiWhatsApp,
        "1",
        None,
        Some(sender.into()),
    )
}

impl<D: fmt::Debug> fmt::Debug for Conversation<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conversation")
            .field("key", &self.bound.as_ref().map(|bound| &bound.key))
            .field("state", &self.state)
            .finish()
    }
}
