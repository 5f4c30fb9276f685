//! The sandbox: a local gateway emulator that speaks GREEN-API's wire format, so that a bot can
//! be tried and tested with no gateway account — as a WhatsApp, MAX or Telegram instance
//! ([`Platform`]), with that messenger's validation and notification fields.
//!
//! A [`Sandbox`] holds a contact list (seeded by [`seed_contacts`]), the history of every chat,
//! and the instance's notification queue. Its [`router`](Sandbox::router) answers:
//! - GREEN-API's REST methods at `/waInstance{id}/{method}/{token}` and
//!   `/v3/waInstance{id}/{method}/{token}` (sendMessage, sendContact, sendFileByUrl,
//!   sendFileByUpload, sendLocation, sendPoll, sendInteractiveButtons and
//!   sendInteractiveButtonsReply on WhatsApp, forwardMessages, sendTyping, readChat except on
//!   MAX, getContacts, getContactInfo, receiveNotification, deleteNotification, getSettings,
//!   setSettings, getStateInstance), with the documented validation and error answers;
//! - a small JSON API for the web chat and for scripts: `GET /sandbox/instance` (the
//!   messenger it emulates), `GET /sandbox/contacts`, `POST /sandbox/messages`,
//!   `GET /sandbox/messages?chat=`, `POST /sandbox/votes`, `POST /sandbox/presses`,
//!   `GET /sandbox/files/{id}/{name}` (uploaded files), `GET /sandbox/events` (SSE);
//! - the web chat page at `/`.
//!
//! It is a local tool: a request that changes something must send JSON (`Content-Type:
//! application/json`; sendFileByUpload a `multipart/form-data` form) and, when it carries an
//! `Origin`, the sandbox's own (other sites a browser shows cannot post to it); setSettings
//! keeps the webhook on this machine unless [`remote_webhook`](SandboxBuilder::remote_webhook)
//! allows another host; getSettings never shows the webhook's token.
//!
//! A person's message (a text, a [vote](Sandbox::vote) on a poll, a [pressed](Sandbox::press)
//! reply button) becomes a GREEN-API `incomingMessageReceived` notification, POSTed to the
//! webhook (in order, one at a time, the same one again after a failure, as GREEN-API does) or
//! queued for `receiveNotification` when no webhook is set.
//!
//! ```no_run
//! use hookbot::sandbox::{Sandbox, UserMessage};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::builder()
//!     .webhook("http://127.0.0.1:8080/webhook", Some("webhook-secret".into()))
//!     .build();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! let (router, settings) = (sandbox.router(), hookbot::server::ServerSettings::default());
//! tokio::spawn(hookbot::server::serve(listener, router, settings, std::future::pending()));
//! let id = sandbox.send(UserMessage::text("79001234567@c.us", "contact иван")).await?;
//! println!("sent {id}");
//! # Ok(()) }
//! ```

mod attach;
mod chat;
mod chat_api;
mod delivery;
mod files;
mod green_api;
mod local;
mod notification;
mod rules;
mod seed;
mod state;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;

pub use crate::gateway::green_api::rules::{Platform, UnknownPlatform};
pub(crate) use attach::listen_error;
pub use chat::{
    Author, ChatEntry, EntryContent, SentButton, SentButtons, SentFile, SentLocation, SentPoll,
    SharedCard, Typing, UserMessage,
};
pub use seed::{seed_contacts, seed_contacts_for};

use crate::contact::Contact;
use crate::gateway::ClientSettings;
use crate::id::{ChatId, MessageId};
use crate::secret::Secret;
use delivery::WebhookTarget;
use state::Shared;

/// The `idInstance` a sandbox answers to unless told otherwise.
pub const DEFAULT_INSTANCE: &str = "1101000001";
/// The `apiTokenInstance` a sandbox accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "sandbox-token";
/// How long the sandbox waits before delivering a refused notification again, unless told
/// otherwise (GREEN-API waits about a minute).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// A local GREEN-API instance: its contacts, its chats and its notification queue.
///
/// Cheap to clone: clones share one instance. Build it with [`Sandbox::builder`], serve
/// [`router`](Sandbox::router), and talk to it as a person with [`send`](Sandbox::send).
#[derive(Clone)]
pub struct Sandbox {
    pub(crate) shared: Arc<Shared>,
}

/// Builds a [`Sandbox`]; finish with [`build`](SandboxBuilder::build).
#[must_use]
#[derive(Debug)]
pub struct SandboxBuilder {
    instance: String,
    token: Secret,
    platform: Platform,
    contacts: Option<Vec<Contact>>,
    webhook: Option<WebhookTarget>,
    retry_delay: Duration,
    remote_webhook: bool,
    upload_limit: usize,
    /// The settings of the client a bot attached to the sandbox talks to it with.
    client: ClientSettings,
}

/// Why the sandbox refused a person's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The sender is not a person's chat id of the platform.
    #[error("from must be a person's chat id ({expected}), is {from:?}")]
    InvalidSender {
        /// The id given.
        from: String,
        /// The shape expected.
        expected: &'static str,
    },
    /// The chat given is not a group chat id of the platform.
    #[error("chat must be a group chat id ({expected}), is {chat:?}")]
    NotAGroup {
        /// The id given.
        chat: String,
        /// The shape expected.
        expected: &'static str,
    },
    /// The text is empty or only white space.
    #[error("text is empty")]
    EmptyText,
    /// The text is longer than the platform allows.
    #[error("text has {actual} characters, more than the {max} allowed")]
    TextTooLong {
        /// The platform's limit, in characters.
        max: usize,
        /// The text's length, in characters.
        actual: usize,
    },
    /// The chat has no poll, or no message with reply buttons, of that id.
    #[error("chat {chat} has no {expected} {id}")]
    NoSuchMessage {
        /// The chat.
        chat: String,
        /// The message id given.
        id: String,
        /// What was looked for: `poll` or `message with reply buttons`.
        expected: &'static str,
    },
    /// A vote names an option the poll does not have.
    #[error("the poll has no option {option:?}")]
    UnknownOption {
        /// The option given.
        option: String,
    },
    /// A vote picks several options of a poll that takes one answer.
    #[error("the poll takes one answer, {picked} were picked")]
    OneAnswerOnly {
        /// How many options were picked.
        picked: usize,
    },
    /// A press names a button the message does not have.
    #[error("the message has no reply button {button:?}")]
    UnknownButton {
        /// The button id given.
        button: String,
    },
}

impl Sandbox {
    /// A sandbox with the defaults: WhatsApp, instance [`DEFAULT_INSTANCE`], token
    /// [`DEFAULT_TOKEN`], the [seeded contacts](seed_contacts), notifications queued.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            instance: DEFAULT_INSTANCE.to_owned(),
            token: Secret::new(DEFAULT_TOKEN),
            platform: Platform::WhatsApp,
            contacts: None,
            webhook: None,
            retry_delay: DEFAULT_RETRY_DELAY,
            remote_webhook: false,
            upload_limit: rules::MAX_UPLOAD_BYTES,
            client: ClientSettings::default(),
        }
    }

    /// The sandbox's whole HTTP surface: GREEN-API's methods, the JSON API under `/sandbox/`
    /// and the web chat at `/`. Serve it alone or merge it into a bot's router.
    pub fn router(&self) -> axum::Router {
        green_api::routes()
            .merge(chat_api::routes())
            .layer(axum::middleware::from_fn(local::same_site_writes))
            .with_state(self.clone())
    }

    /// The instance id (`idInstance`) the sandbox answers to.
    pub fn instance(&self) -> &str {
        &self.shared.instance
    }

    /// The instance token (`apiTokenInstance`) the sandbox accepts.
    pub fn token(&self) -> &Secret {
        &self.shared.token
    }

    /// The platform the sandbox emulates.
    pub fn platform(&self) -> Platform {
        self.shared.platform
    }

    /// Sends a message as a person: records it in the chat history, broadcasts it, and delivers
    /// the GREEN-API notification (webhook POST, or the receiveNotification queue). Returns the
    /// new message's id.
    pub async fn send(&self, message: UserMessage) -> Result<MessageId, SandboxError> {
        let chat = rules::user_message(self.shared.platform, &message)?;
        let entry = self.shared.record(
            chat,
            Author::Person(message.from.clone()),
            EntryContent::Text(message.text),
            message.quoted,
        );
        let notification = notification::incoming_message(&self.shared, &entry, &message.from);
        self.shared.outbox.push(notification);
        Ok(entry.id)
    }

    /// Votes as a person on the poll `poll` of `message`'s chat (its `from` and `chat`; its text
    /// is not used): picks `options` (none takes the vote back) and delivers GREEN-API's
    /// `pollUpdateMessage` notification. Returns the notification's `idMessage`.
    pub async fn vote(
        &self,
        message: &UserMessage,
        poll: &MessageId,
        options: &[String],
    ) -> Result<MessageId, SandboxError> {
        let chat = self.check_person(message)?;
        let entry = self.shared.find(&chat, poll);
        let Some(EntryContent::Poll(sent)) = entry.map(|entry| entry.content) else {
            return Err(SandboxError::NoSuchMessage {
                chat: chat.to_string(),
                id: poll.to_string(),
                expected: "poll",
            });
        };
        if let Some(option) = options.iter().find(|option| !sent.options.contains(option)) {
            return Err(SandboxError::UnknownOption {
                option: option.clone(),
            });
        }
        if options.len() > 1 && !sent.multiple_answers {
            return Err(SandboxError::OneAnswerOnly {
                picked: options.len(),
            });
        }
        let (id, notification) =
            notification::poll_vote(&self.shared, (poll, &sent), &chat, &message.from, options);
        self.shared.outbox.push(notification);
        Ok(id)
    }

    /// Presses, as a person, the reply button `button` (its `buttonId`) of the message
    /// `buttons` in `message`'s chat (its `from` and `chat`; its text is not used): the press
    /// shows in the chat as the person's message with the button's label, quoting the buttons,
    /// and reaches the bot as GREEN-API's `interactiveButtonsResponse` notification. Returns
    /// the new message's id.
    pub async fn press(
        &self,
        message: &UserMessage,
        buttons: &MessageId,
        button: &str,
    ) -> Result<MessageId, SandboxError> {
        let chat = self.check_person(message)?;
        let entry = self.shared.find(&chat, buttons);
        let Some(EntryContent::Buttons(sent)) = entry.map(|entry| entry.content) else {
            return Err(SandboxError::NoSuchMessage {
                chat: chat.to_string(),
                id: buttons.to_string(),
                expected: "message with reply buttons",
            });
        };
        let Some((index, pressed)) = sent
            .buttons
            .iter()
            .enumerate()
            .find(|(_, sent)| sent.kind == "reply" && sent.button_id == button)
        else {
            return Err(SandboxError::UnknownButton {
                button: button.to_owned(),
            });
        };
        let entry = self.shared.record(
            chat,
            Author::Person(message.from.clone()),
            EntryContent::Text(pressed.button_text.clone()),
            Some(buttons.clone()),
        );
        let notification = notification::button_press(
            &self.shared,
            &entry,
            &message.from,
            buttons,
            (index, pressed),
        );
        self.shared.outbox.push(notification);
        Ok(entry.id)
    }

    /// The chat of a person's action: checks the sender and the group as [`send`](Self::send)
    /// does.
    fn check_person(&self, message: &UserMessage) -> Result<ChatId, SandboxError> {
        let probe = UserMessage {
            text: "-".to_owned(),
            ..message.clone()
        };
        rules::user_message(self.shared.platform, &probe)
    }

    /// Delivers a raw notification JSON as it is (for tests of any notification type), in turn
    /// with the others.
    pub async fn deliver(&self, notification: Value) {
        self.shared.outbox.push(notification);
    }

    /// How many notifications are not yet taken care of: waiting for the webhook to answer
    /// 200, or for receiveNotification and deleteNotification.
    pub fn queued(&self) -> usize {
        self.shared.outbox.len()
    }

    /// The entries of `chat`, in order.
    pub fn history(&self, chat: &ChatId) -> Vec<ChatEntry> {
        self.shared.history(chat)
    }

    /// Every new entry of any chat, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ChatEntry> {
        self.shared.entries.subscribe()
    }

    /// The instance's contact list (what `getContacts` answers).
    pub fn contacts(&self) -> Vec<Contact> {
        self.shared.contacts.clone()
    }

    /// Where notifications go: POSTed to `url` (with `Authorization: Bearer <token>` when a
    /// token is given), or, with `None`, queued for receiveNotification.
    pub fn set_webhook(&self, url: Option<String>, token: Option<Secret>) {
        let target = url
            .filter(|url| !url.trim().is_empty())
            .map(|url| WebhookTarget { url, token });
        self.shared.outbox.set_webhook(target);
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("instance", &self.shared.instance)
            .field("token", &self.shared.token)
            .field("platform", &self.shared.platform)
            .field("contacts", &self.shared.contacts.len())
            .finish_non_exhaustive()
    }
}

impl SandboxBuilder {
    /// The instance id (`idInstance`) to answer to; digits.
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = instance.into();
        self
    }

    /// The instance token (`apiTokenInstance`) to accept.
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.token = token.into();
        self
    }

    /// The platform to emulate (default WhatsApp).
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    /// The contact list, instead of the platform's [seeded one](seed_contacts_for).
    pub fn contacts(mut self, contacts: Vec<Contact>) -> Self {
        self.contacts = Some(contacts);
        self
    }

    /// POSTs notifications to `url`, with `Authorization: Bearer <token>` when a token is
    /// given. Without a webhook, notifications wait for receiveNotification.
    pub fn webhook(mut self, url: impl Into<String>, token: Option<Secret>) -> Self {
        self.webhook = Some(WebhookTarget {
            url: url.into(),
            token,
        });
        self
    }

    /// How long to wait before delivering a refused notification again (default 1 s).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Lets setSettings point the webhook at another machine than this one (by default only
    /// `localhost`, `127.0.0.0/8` and `::1` are taken: the sandbox is a local tool).
    pub fn remote_webhook(mut self, allowed: bool) -> Self {
        self.remote_webhook = allowed;
        self
    }

    /// The largest file sendFileByUpload takes, in bytes (default GREEN-API's 100 MB); a
    /// larger one is refused. Uploaded files are kept in memory, the newest 64 and at most
    /// 256 MiB of them.
    pub fn upload_limit(mut self, bytes: usize) -> Self {
        self.upload_limit = bytes;
        self
    }

    /// The settings of the client that a bot attached to this sandbox talks to it with
    /// (default [`ClientSettings::default`]).
    pub(crate) fn client(mut self, settings: ClientSettings) -> Self {
        self.client = settings;
        self
    }

    /// The sandbox. Its delivery task starts with the first notification, in the tokio runtime
    /// of the caller.
    pub fn build(self) -> Sandbox {
        let contacts = self
            .contacts
            .unwrap_or_else(|| seed_contacts_for(self.platform));
        let shared = Shared::new(
            self.instance,
            self.token,
            self.platform,
            contacts,
            delivery::Outbox::new(self.webhook, self.retry_delay),
            self.remote_webhook,
            self.upload_limit,
        );
        Sandbox {
            shared: Arc::new(shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token() {
        let sandbox = Sandbox::builder().token("very-secret").build();
        let printed = format!("{sandbox:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
    }
}
