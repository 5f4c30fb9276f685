//! What a handler gets: the event, what its route's filters found, its conversation, the
//! [instance](crate::instance) the event came to (its gateway client and contact book) and the
//! bot's state; and the reply helpers, which send through that instance. A conversation's
//! timeout hook gets a [`TimedOut`], with the same helpers.
//!
//! ```no_run
//! use hookbot::context::Context;
//!
//! async fn contact(cx: Context) -> hookbot::Result<()> {
//!     match cx.contacts().find_best(cx.args()).await? {
//!         Some(found) => cx.reply_contact(&found).quote().await?,
//!         None => cx.reply("No such contact.").quote().await?,
//!     };
//!     Ok(())
//! }
//! ```

use std::future::{Future, IntoFuture};
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::contact::ContactCard;
use crate::contacts::ContactBook;
use crate::conversation::{Conversation, ConversationKey};
use crate::error::{Result, Rule, ValidationError};
use crate::event::{Event, Message};
use crate::filter::{Captures, Command, Matched};
use crate::gateway::{Gateway, GatewayKind, SendOptions, SentMessage, TypingKind};
use crate::id::{ChatId, MessageId};
use crate::instance::{Instance, Instances};
use crate::memo::{Memo, Memos};
use crate::reply;

/// What the handlers of one instance's events share: the instance (its client and contact
/// book) and the bot's state, one for all instances.
///
/// The instance comes first, and with it its client and contact book (`repr(C)`), on the
/// line of the reference counts an event's handling writes (a line's alignment): a bot of
/// many instances finds each instance's services cold.
#[repr(C, align(64))]
pub(crate) struct Services<S> {
    pub(crate) instance: Instance,
    pub(crate) state: Arc<S>,
    /// Where the handlers' memos live, and the instance's part of them (`gateway/instance/`).
    pub(crate) memos: Memos,
    pub(crate) memo_scope: Arc<str>,
}

/// The services of each instance a bot serves, found by an event's gateway and instance.
pub(crate) struct ServiceTable<S> {
    instances: Instances,
    each: Vec<Arc<Services<S>>>,
}

impl<S> ServiceTable<S> {
    /// One [`Services`] per instance, all sharing `state` and `memos`.
    pub(crate) fn new(instances: Instances, state: S, memos: Memos) -> Self {
        let state = Arc::new(state);
        let each = instances
            .iter()
            .map(|instance| {
                Arc::new(Services {
                    instance: instance.clone(),
                    state: state.clone(),
                    memos: memos.clone(),
                    memo_scope: format!("{}/{}/", instance.kind(), instance.id()).into(),
                })
            })
            .collect();
        Self { instances, each }
    }

    /// The services of the instance `instance` of `gateway`: a lookup, or for a bot built on
    /// one client, that client's.
    pub(crate) fn of(&self, gateway: GatewayKind, instance: &str) -> Option<&Arc<Services<S>>> {
        self.each.get(self.instances.position(gateway, instance)?)
    }
}

/// One event being handled, with everything its handler needs. `S` is the bot's shared
/// state, `D` its [conversation](crate::conversation) state.
///
/// It dereferences to a [`Scope`]: the instance the event came to, the bot's state, and the
/// replies to the event's chat ([`reply`](Scope::reply), [`reply_contact`](Scope::reply_contact),
/// [`reply_file`](Scope::reply_file), [`reply_upload`](Scope::reply_upload),
/// [`reply_location`](Scope::reply_location),
/// [`reply_poll`](Scope::reply_poll), [`reply_buttons`](Scope::reply_buttons)).
pub struct Context<S = (), D = ()> {
    event: Event,
    matched: Matched,
    conversation: Conversation<D>,
    scope: Scope<S>,
}

impl<S, D> Context<S, D> {
    pub(crate) fn new(
        event: Event,
        matched: Matched,
        conversation: Conversation<D>,
        services: Arc<Services<S>>,
    ) -> Self {
        let scope = Scope {
            services,
            chat: event.chat().cloned(),
            trigger: event.message_id().cloned(),
        };
        Self {
            event,
            matched,
            conversation,
            scope,
        }
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The message, when the event is one.
    pub fn message(&self) -> Option<&Message> {
        self.event.message()
    }

    /// The message's text, when it has one.
    pub fn text(&self) -> Option<&str> {
        self.message()?.text()
    }

    /// Where to download the message's file: the URL its notification carried, else the
    /// gateway's answer to GREEN-API downloadFile. `None` when the message holds no file.
    pub async fn download_url(&self) -> Result<Option<String>> {
        let Some(media) = self.message().and_then(Message::media) else {
            return Ok(None);
        };
        if let Some(url) = &media.url {
            return Ok(Some(url.clone()));
        }
        let (Some(chat), Some(id)) = (self.chat(), self.event.message_id()) else {
            return Ok(None);
        };
        self.gateway().download_url(chat, id).await.map(Some)
    }

    /// The event's chat, when it has one.
    pub fn chat(&self) -> Option<&ChatId> {
        self.event.chat()
    }

    /// The command the route's filter matched.
    pub fn command(&self) -> Option<&Command> {
        self.matched.command.as_ref()
    }

    /// The matched command's arguments; empty without a command.
    pub fn args(&self) -> &str {
        self.command().map_or("", |command| command.args.as_str())
    }

    /// The groups the route's regex captured.
    pub fn captures(&self) -> Option<&Captures> {
        self.matched.captures.as_ref()
    }

    /// The conversation the event belongs to: read its state with
    /// [`get`](Conversation::get), change it with [`set`](Conversation::set) and
    /// [`end`](Conversation::end). No other event of this conversation is handled while the
    /// context lives.
    pub fn conversation(&self) -> &Conversation<D> {
        &self.conversation
    }
}

impl<S, D> Deref for Context<S, D> {
    type Target = Scope<S>;

    fn deref(&self) -> &Scope<S> {
        &self.scope
    }
}

/// A conversation that timed out, as its timeout hook gets it: the key and the last state.
///
/// It dereferences to a [`Scope`], as a [`Context`] does: the conversation's instance, the
/// bot's state, and the replies to the conversation's chat (for a per-sender conversation, the
/// person's private chat; [`quote`](Reply::quote) has nothing to quote here).
pub struct TimedOut<S = (), D = ()> {
    key: ConversationKey,
    state: D,
    scope: Scope<S>,
}

impl<S, D> TimedOut<S, D> {
    pub(crate) fn new(key: ConversationKey, state: D, services: Arc<Services<S>>) -> Self {
        let scope = Scope {
            services,
            chat: key.reply_chat().cloned(),
            trigger: None,
        };
        Self { key, state, scope }
    }

    /// The conversation's key.
    pub fn key(&self) -> &ConversationKey {
        &self.key
    }

    /// The conversation's last state.
    pub fn conversation_state(&self) -> &D {
        &self.state
    }
}

impl<S, D> Deref for TimedOut<S, D> {
    type Target = Scope<S>;

    fn deref(&self) -> &Scope<S> {
        &self.scope
    }
}

/// What a handler (through its [`Context`]) and a timeout hook (through its [`TimedOut`]) can
/// reach: the instance the replies go out through, its contacts, the bot's state, and replies
/// to one chat.
pub struct Scope<S = ()> {
    services: Arc<Services<S>>,
    /// Where replies go unless told otherwise.
    chat: Option<ChatId>,
    /// What [`Reply::quote`] quotes.
    trigger: Option<MessageId>,
}

impl<S> Scope<S> {
    /// The bot's shared state.
    pub fn state(&self) -> &S {
        &self.services.state
    }

    /// The instance the event came from (or the conversation belongs to), which the replies go
    /// out through.
    pub fn instance(&self) -> &Instance {
        &self.services.instance
    }

    /// The client of the instance.
    pub fn gateway(&self) -> &Arc<dyn Gateway> {
        self.services.instance.gateway()
    }

    /// The instance's contacts, cached.
    pub fn contacts(&self) -> &ContactBook {
        self.services.instance.contacts()
    }

    /// The [memo](crate::memo) `name` of this instance: small data kept per key in the bot's
    /// store (in memory, in Redis, or durably), each entry for the memo's
    /// [`ttl`](Memo::ttl).
    ///
    /// ```no_run
    /// # async fn run(cx: hookbot::Context) -> hookbot::Result<()> {
    /// let paused = cx.memo::<()>("paused").ttl(std::time::Duration::from_secs(3600));
    /// paused.put("79001234567@c.us", &()).await?;
    /// # Ok(()) }
    /// ```
    pub fn memo<V>(&self, name: &str) -> Memo<V> {
        self.services
            .memos
            .memo(name, self.services.memo_scope.clone())
    }

    /// A text reply to the chat; await it to send. Add [`quote`](Reply::quote) to quote the
    /// triggering message.
    pub fn reply(&self, text: impl Into<String>) -> Reply<'_> {
        self.reply_with(Outgoing::Text(text.into()))
    }

    /// A contact card reply to the chat (a [`ContactCard`], a [`Contact`](crate::Contact), or
    /// the [`Found`](crate::contacts::Found) of [`ContactBook::find_best`]); await it to send.
    pub fn reply_contact(&self, card: impl Into<ContactCard>) -> Reply<'_> {
        self.reply_with(Outgoing::Contact(card.into()))
    }

    /// A file by URL, with its file name and caption, to the chat; await it to send.
    ///
    /// ```no_run
    /// # async fn run(cx: hookbot::Context) -> hookbot::Result<()> {
    /// use hookbot::reply::File;
    ///
    /// let menu = File::new("https://example.com/menu.pdf", "menu.pdf").caption("Today's menu");
    /// cx.reply_file(menu).quote().await?;
    /// # Ok(()) }
    /// ```
    pub fn reply_file(&self, file: reply::File) -> Reply<'_> {
        self.reply_with(Outgoing::File(file))
    }

    /// A file from this machine (a path, streamed, or bytes) to the chat, with its file name and
    /// caption; await it to send.
    ///
    /// ```no_run
    /// # async fn run(cx: hookbot::Context) -> hookbot::Result<()> {
    /// use hookbot::reply::Upload;
    ///
    /// cx.reply_upload(Upload::from_path("reports/november.pdf")).quote().await?;
    /// # Ok(()) }
    /// ```
    pub fn reply_upload(&self, upload: reply::Upload) -> Reply<'_> {
        self.reply_with(Outgoing::Upload(upload))
    }

    /// A location pin to the chat; await it to send.
    pub fn reply_location(&self, location: reply::Location) -> Reply<'_> {
        self.reply_with(Outgoing::Location(location))
    }

    /// A poll to the chat; await it to send. Where the gateway cannot ask it (multiple answers
    /// on GREEN-API MAX or Telegram), an [`Error::Unsupported`](crate::Error::Unsupported).
    pub fn reply_poll(&self, poll: reply::Poll) -> Reply<'_> {
        self.reply_with(Outgoing::Poll(poll))
    }

    /// A message with buttons to the chat; await it to send. Where the gateway has none (GREEN-API
    /// MAX and Telegram), an [`Error::Unsupported`](crate::Error::Unsupported). A pressed reply
    /// button comes back as [`Content::ButtonReply`](crate::Content::ButtonReply).
    pub fn reply_buttons(&self, buttons: reply::Buttons) -> Reply<'_> {
        self.reply_with(Outgoing::Buttons(buttons))
    }

    /// Shows "typing…" (or the activity `kind`) in the chat for `duration`, without a message
    /// (GREEN-API WhatsApp and MAX sendTyping; elsewhere an
    /// [`Error::Unsupported`](crate::Error::Unsupported): use [`Reply::typing`] there).
    pub async fn typing(&self, duration: Duration, kind: Option<TypingKind>) -> Result<()> {
        let chat = self.reply_chat()?;
        self.gateway().send_typing(chat, duration, kind).await
    }

    /// Marks the chat read up to the triggering message (GREEN-API WhatsApp readChat, Z-API
    /// read-message).
    pub async fn mark_read(&self) -> Result<()> {
        let chat = self.reply_chat()?;
        self.gateway().mark_read(chat, self.trigger.as_ref()).await
    }

    /// Forwards the triggering message to `chat` (GREEN-API forwardMessages, Z-API
    /// forward-message); the forwarded copy, as far as the gateway tells it.
    pub async fn forward_to(&self, chat: impl Into<ChatId>) -> Result<Vec<SentMessage>> {
        let from = self.reply_chat()?;
        let trigger = self.trigger.as_ref().ok_or(ValidationError::new(
            "message",
            Rule::Required {
                why: "there is no triggering message to forward",
            },
        ))?;
        self.gateway()
            .forward(&chat.into(), from, std::slice::from_ref(trigger))
            .await
    }

    /// The chat replies go to, or the error that there is none.
    fn reply_chat(&self) -> Result<&ChatId, ValidationError> {
        self.chat.as_ref().ok_or(no_chat())
    }

    fn reply_with(&self, outgoing: Outgoing) -> Reply<'_> {
        Reply::new(
            self.services.instance.gateway().as_ref(),
            self.chat.clone(),
            self.trigger.clone(),
            outgoing,
        )
    }
}

/// A reply being built; await it to send. Each setter returns the reply.
#[must_use = "a reply is sent only when awaited"]
pub struct Reply<'a> {
    gateway: &'a dyn Gateway,
    chat: Option<ChatId>,
    trigger: Option<MessageId>,
    outgoing: Outgoing,
    options: SendOptions,
}

enum Outgoing {
    Text(String),
    Contact(ContactCard),
    File(reply::File),
    Upload(reply::Upload),
    Location(reply::Location),
    Poll(reply::Poll),
    Buttons(reply::Buttons),
}

impl<'a> Reply<'a> {
    /// A reply through `gateway` to `chat`, able to quote `trigger`.
    fn new(
        gateway: &'a dyn Gateway,
        chat: Option<ChatId>,
        trigger: Option<MessageId>,
        outgoing: Outgoing,
    ) -> Self {
        Self {
            gateway,
            chat,
            trigger,
            outgoing,
            options: SendOptions::new(),
        }
    }

    /// Quotes the message that triggered the handler. Where the gateway cannot quote this kind
    /// of message (GREEN-API MAX), the reply is sent without the quote (see
    /// [`Capabilities`](crate::gateway::Capabilities)).
    pub fn quote(mut self) -> Self {
        self.options.quote = self.trigger.clone();
        self
    }

    /// Quotes the message `id` of the chat instead (a message the conversation remembered,
    /// say). The gateway's policy for what it cannot quote applies as for
    /// [`quote`](Reply::quote).
    pub fn quoting(mut self, id: impl Into<MessageId>) -> Self {
        self.options.quote = Some(id.into());
        self
    }

    /// Shows "typing…" for `typing` first.
    pub fn typing(mut self, typing: Duration) -> Self {
        self.options.typing = Some(typing);
        self
    }

    /// Shows the activity `kind` in the typing indicator ("choosing a contact…") where the
    /// gateway can say it (GREEN-API Telegram); elsewhere plain typing.
    pub fn typing_kind(mut self, kind: TypingKind) -> Self {
        self.options.typing_kind = Some(kind);
        self
    }

    /// Asks the gateway to wait `delay` before sending (Z-API).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.options.delay = Some(delay);
        self
    }

    /// Sends to `chat` instead of the event's chat.
    pub fn to(mut self, chat: impl Into<ChatId>) -> Self {
        self.chat = Some(chat.into());
        self
    }

    async fn send(self) -> Result<SentMessage> {
        let chat = self.chat.ok_or(no_chat())?;
        match &self.outgoing {
            Outgoing::Text(text) => self.gateway.send_text(&chat, text, &self.options).await,
            Outgoing::Contact(card) => self.gateway.send_contact(&chat, card, &self.options).await,
            Outgoing::File(file) => self.gateway.send_file(&chat, file, &self.options).await,
            Outgoing::Upload(upload) => {
                self.gateway.send_upload(&chat, upload, &self.options).await
            }
            Outgoing::Location(location) => {
                self.gateway
                    .send_location(&chat, location, &self.options)
                    .await
            }
            Outgoing::Poll(poll) => self.gateway.send_poll(&chat, poll, &self.options).await,
            Outgoing::Buttons(buttons) => {
                self.gateway
                    .send_buttons(&chat, buttons, &self.options)
                    .await
            }
        }
    }
}

/// The error of a reply without a chat.
fn no_chat() -> ValidationError {
    ValidationError::new(
        "chat",
        Rule::Required {
            why: "the event has no chat to reply to: choose one with .to(chat)",
        },
    )
}

impl<'a> IntoFuture for Reply<'a> {
    type Output = Result<SentMessage>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<SentMessage>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_s_client_and_contact_book_share_the_line_of_its_services_counts() {
        // An `Arc`'s two reference counts come before the value, in its first line; the
        // instance's client and contact book first in it (see `instance`'s tests).
        let ends = 2 * std::mem::size_of::<usize>()
            + std::mem::offset_of!(Services<()>, instance)
            + std::mem::size_of::<Arc<dyn Gateway>>()
            + std::mem::size_of::<ContactBook>();
        assert!(ends <= 64, "{ends}");
        assert_eq!(std::mem::align_of::<Services<()>>(), 64);
    }
}
