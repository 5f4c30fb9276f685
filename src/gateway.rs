//! The [`Gateway`] trait, the one interface the rest of hookbot talks to, and its clients:
//! [`GreenApi`] (WhatsApp, MAX and Telegram) and [`ZApi`] (Z-API and PlugzAPI).
//!
//! ```no_run
//! use hookbot::gateway::{Gateway, GreenApi, SendOptions};
//! use hookbot::{ChatId, ContactCard};
//!
//! # async fn run() -> hookbot::Result<()> {
//! let gateway = GreenApi::whatsapp("https://7105.api.greenapi.com", "1101000001", "token").build()?;
//! let card = ContactCard::new().phone("79001234568").first_name("Артем");
//! let options = SendOptions::new().quote("361B0E63F2FDF95903B6A9C9A102F34B");
//! let sent = gateway.send_contact(&ChatId::from("79001234567@c.us"), &card, &options).await?;
//! println!("sent {}", sent.id);
//! # Ok(()) }
//! ```
//!
//! Every client checks a request against its gateway's documented rules before sending it
//! (a broken rule is an [`Error::Validation`](crate::Error::Validation) naming the field),
//! waits for its turn under the instance's [`RateLimits`], and retries transient failures
//! under its [`RetryPolicy`]. Clones share one instance's limits.
//!
//! # What a client trusts the gateway with, and what not
//!
//! - **A send goes out at most once** unless the gateway shows otherwise: a look-up is retried
//!   after any transient failure, but a send only after a failure that proves the gateway did
//!   not take it (no connection, HTTP 429, a 4xx refusal). After a time-out, a lost connection
//!   or a 5xx, GREEN-API's journal of sent messages is read first (the id of a message found
//!   there is the send's result; a message missing there is sent again), and Z-API's failure
//!   is reported as [`Error::SendUnconfirmed`](crate::Error::SendUnconfirmed). The details, the
//!   journal's limits and the at-least-once opt-in are on [`RetryPolicy`].
//! - **Redirects are never followed** (the URL holds the instance token): a 3xx answer is an
//!   [`Error::Redirected`](crate::Error::Redirected), and no `Referer` header is ever sent.
//! - **Numbers from the gateway are bounded**: a `Retry-After` longer than
//!   [`MAX_RETRY_AFTER`] is read as that, and no figure of an answer takes part in arithmetic
//!   that could overflow.
//! - **Plain `http://`** to a host other than this machine logs a warning when a client is
//!   built: the token would cross the network unencrypted.

mod config;
mod contact_entry;
mod endpoint;
pub(crate) mod green_api;
mod http;
mod json;
mod multipart;
mod rate_limit;
mod retry;
mod setup;
mod transport;
mod typing;
pub(crate) mod validate;
pub(crate) mod zapi;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub(crate) use config::default_green_api_url;
pub use config::{
    ClientConfig, DEFAULT_GREEN_API_TELEGRAM_URL, DEFAULT_GREEN_API_URL, DEFAULT_ZAPI_URL,
    GatewayConfig,
};
pub use green_api::{GreenApi, GreenApiBuilder};
pub use rate_limit::{InstanceLimits, RateLimits, SharedLimits};
pub use retry::RetryPolicy;
pub use setup::{WebhookChange, WebhookTarget};
pub use typing::TypingKind;
pub use zapi::{ZApi, ZApiBuilder};

use crate::contact::{Contact, ContactCard, ContactInfo};
use crate::error::Result;
use crate::event::InstanceState;
use crate::id::{ChatId, MessageId};
use crate::reply;

/// The longest wait a gateway's `Retry-After` can impose: one hour. A longer one (a figure of
/// any size, or a date years ahead) is read as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// A hosted messaging gateway: sends messages, contact cards, files, locations and polls, reads
/// the instance's contacts.
///
/// Implementations check each request against the gateway's rules before sending it. Options
/// that a gateway cannot express (see [`Capabilities`]) are left out of the request and logged
/// at debug level; they are never sent in a form the gateway would misread.
#[async_trait]
pub trait Gateway: Send + Sync + fmt::Debug {
    /// Which gateway this is.
    fn kind(&self) -> GatewayKind;

    /// The instance the client sends through (GREEN-API `idInstance`, Z-API instance id).
    fn instance(&self) -> &str;

    /// What this gateway can express.
    fn capabilities(&self) -> Capabilities;

    /// Sends a text message to `chat`.
    async fn send_text(
        &self,
        chat: &ChatId,
        text: &str,
        options: &SendOptions,
    ) -> Result<SentMessage>;

    /// Sends a contact card to `chat`.
    async fn send_contact(
        &self,
        chat: &ChatId,
        card: &ContactCard,
        options: &SendOptions,
    ) -> Result<SentMessage>;

    /// Sends the file at a URL to `chat`, with its file name and caption (GREEN-API
    /// sendFileByUrl; Z-API send-image, send-video, send-audio or send-document).
    async fn send_file(
        &self,
        chat: &ChatId,
        file: &reply::File,
        options: &SendOptions,
    ) -> Result<SentMessage>;

    /// Uploads a file from this machine to `chat`, with its file name and caption: GREEN-API
    /// sendFileByUpload, a multipart body streamed to the instance's media host (up to
    /// 100 MB); Z-API, base64 inside send-image, send-video, send-audio or send-document (up
    /// to 100 MB). A file that cannot be read is an [`Error::File`](crate::Error::File); a
    /// larger one an [`Error::PayloadTooLarge`](crate::Error::PayloadTooLarge), before sending.
    async fn send_upload(
        &self,
        chat: &ChatId,
        upload: &reply::Upload,
        options: &SendOptions,
    ) -> Result<SentMessage>;

    /// Sends a location pin to `chat` (GREEN-API sendLocation, Z-API send-location).
    async fn send_location(
        &self,
        chat: &ChatId,
        location: &reply::Location,
        options: &SendOptions,
    ) -> Result<SentMessage>;

    /// Sends a poll to `chat` (GREEN-API sendPoll, Z-API send-poll). What the gateway cannot
    /// ask (see [`PollLimits`]) is an [`Error::Unsupported`](crate::Error::Unsupported).
    async fn send_poll(
        &self,
        chat: &ChatId,
        poll: &reply::Poll,
        options: &SendOptions,
    ) -> Result<SentMessage>;

    /// Sends a message with buttons to `chat` (GREEN-API WhatsApp sendInteractiveButtonsReply
    /// for reply buttons, sendInteractiveButtons for URL, call and copy buttons; Z-API
    /// send-button-list, send-button-actions). [`Error::Unsupported`](crate::Error::Unsupported)
    /// where the gateway has none ([`Capabilities::buttons`]) or cannot mix the kinds given.
    async fn send_buttons(
        &self,
        chat: &ChatId,
        buttons: &reply::Buttons,
        options: &SendOptions,
    ) -> Result<SentMessage>;

    /// Where to download the file of the received `message` in `chat` (GREEN-API
    /// downloadFile), for a notification that came without its
    /// [`Media::url`](crate::event::Media::url). Z-API's callbacks always carry it: there an
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    async fn download_url(&self, chat: &ChatId, message: &MessageId) -> Result<String>;

    /// Shows "typing…" (or the activity `kind`) in `chat` for `duration`, without sending a
    /// message (GREEN-API sendTyping). [`Error::Unsupported`](crate::Error::Unsupported) where
    /// the gateway has no such method ([`Capabilities::typing`]).
    async fn send_typing(
        &self,
        chat: &ChatId,
        duration: Duration,
        kind: Option<TypingKind>,
    ) -> Result<()>;

    /// Marks `chat` read, up to `message` when given (GREEN-API readChat, Z-API read-message).
    /// [`Error::Unsupported`](crate::Error::Unsupported) where the gateway cannot
    /// ([`Capabilities::mark_read`]).
    async fn mark_read(&self, chat: &ChatId, message: Option<&MessageId>) -> Result<()>;

    /// Forwards the `messages` of the chat `from` to `chat` (GREEN-API forwardMessages, Z-API
    /// forward-message one by one); the forwarded copies, as far as the gateway tells them.
    /// [`Error::Unsupported`](crate::Error::Unsupported) where the gateway cannot
    /// ([`Capabilities::forward`]).
    async fn forward(
        &self,
        chat: &ChatId,
        from: &ChatId,
        messages: &[MessageId],
    ) -> Result<Vec<SentMessage>>;

    /// Calls any other method of the gateway: `method` (GREEN-API: one name such as
    /// `getStateInstance`; Z-API: a path such as `chats` or `contacts/5544999999999`) with
    /// `body` as JSON (POST), or without a body (GET). The call goes through the same
    /// transport as every other: the token stays secret, it waits for its turn under the send
    /// rate limit, it is counted in the metrics, and it is retried only when the gateway
    /// shows it did not take it (as a send is). Its answer is the gateway's JSON.
    async fn call_method(
        &self,
        method: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value>;

    /// The instance's whole contact list.
    async fn contacts(&self) -> Result<Vec<Contact>>;

    /// One chat's profile.
    async fn contact_info(&self, chat: &ChatId) -> Result<ContactInfo>;

    /// The instance's state (GREEN-API getStateInstance, Z-API status): whether it can send and
    /// receive, and if not, why ([`InstanceState::advice`] says what to do).
    async fn instance_state(&self) -> Result<InstanceState>;

    /// Points the instance's notifications at a bot's webhook, with the notifications a bot
    /// needs on: incoming messages, and messages the account's owner sends from the phone.
    /// GREEN-API: getSettings, then setSettings only when something differs; Z-API:
    /// update-webhook-received and update-notify-sent-by-me (it cannot be read back).
    async fn point_webhook(&self, webhook: &WebhookTarget) -> Result<WebhookChange>;

    /// The instance's notification queue, for a gateway that keeps one (GREEN-API); `None` for
    /// a gateway that only delivers to a webhook (Z-API). The polling intake needs it.
    fn notification_queue(&self) -> Option<Arc<dyn NotificationQueue>> {
        None
    }
}

/// A gateway's queue of notifications waiting to be fetched: GREEN-API's receiveNotification
/// and deleteNotification, used by the [polling intake](crate::intake::polling) when no webhook is set.
///
/// The head of the queue comes back on every receive until it is deleted; a notification that
/// is never deleted is never lost.
#[async_trait]
pub trait NotificationQueue: Send + Sync + fmt::Debug {
    /// Which gateway's notifications these are (how their bodies are parsed).
    fn kind(&self) -> GatewayKind;

    /// The head of the queue, waiting up to `receive_timeout` for one; `None` when none came.
    async fn receive_notification(&self, receive_timeout: Duration)
    -> Result<Option<Notification>>;

    /// Removes the notification `receipt_id` from the queue; whether it was there.
    async fn delete_notification(&self, receipt_id: u64) -> Result<bool>;

    /// Where the gateway posts notifications instead of queueing them; `None` when it queues
    /// them (the only case in which polling receives anything).
    async fn webhook_url(&self) -> Result<Option<String>>;
}

/// One notification fetched from a [`NotificationQueue`]: its receipt (to delete it once it is
/// taken care of) and its body, the same JSON a webhook would have received.
///
/// The body stays raw JSON here: reading it into an [`Event`](crate::Event) is the intake's
/// step ([`Event::from_json`](crate::Event::from_json)), the same one a webhook takes, so that a
/// body that is not an event can be logged and deleted rather than fail the receive.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Notification {
    /// GREEN-API `receiptId`: what [`NotificationQueue::delete_notification`] takes.
    pub receipt_id: u64,
    /// GREEN-API `body`: the notification's JSON.
    pub body: serde_json::Value,
}

impl Notification {
    /// A notification with receipt `receipt_id` and JSON `body`.
    pub fn new(receipt_id: u64, body: serde_json::Value) -> Self {
        Self { receipt_id, body }
    }
}

/// The gateways hookbot speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GatewayKind {
    /// GREEN-API for WhatsApp.
    GreenApiWhatsApp,
    /// GREEN-API for MAX (v3 paths).
    GreenApiMax,
    /// GREEN-API for Telegram (plain paths, Telegram's numeric chat ids).
    GreenApiTelegram,
    /// Z-API and its clones (PlugzAPI).
    ZApi,
}

impl GatewayKind {
    /// Every gateway, in the order their names are listed.
    pub const ALL: [GatewayKind; 4] = [
        GatewayKind::GreenApiWhatsApp,
        GatewayKind::GreenApiMax,
        GatewayKind::GreenApiTelegram,
        GatewayKind::ZApi,
    ];

    /// The name used in `HOOKBOT_GATEWAY`, the instances file and the Redis queue's entries:
    /// `green-api`, `green-api-max`, `green-api-telegram`, `zapi` (read back by [`str::parse`]).
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::GreenApiWhatsApp => "green-api",
            GatewayKind::GreenApiMax => "green-api-max",
            GatewayKind::GreenApiTelegram => "green-api-telegram",
            GatewayKind::ZApi => "zapi",
        }
    }

    /// Whether this is one of GREEN-API's messengers, which share one notification format and
    /// one numbering of instances.
    pub(crate) fn is_green_api(self) -> bool {
        self != GatewayKind::ZApi
    }
}

impl fmt::Display for GatewayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GatewayKind {
    type Err = UnknownGateway;

    /// The gateway of a name as [`as_str`](GatewayKind::as_str) writes it: `green-api`,
    /// `green-api-max`, `green-api-telegram`, `zapi`.
    fn from_str(name: &str) -> Result<Self, UnknownGateway> {
        GatewayKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or(UnknownGateway)
    }
}

/// A name that is not one of the [gateways](GatewayKind). Its message lists the names there
/// are and never repeats the one given, which may be a misplaced secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownGateway;

impl std::error::Error for UnknownGateway {}

impl fmt::Display for UnknownGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be ")?;
        let names = GatewayKind::ALL.map(GatewayKind::as_str);
        if let Some((last, others)) = names.split_last() {
            if !others.is_empty() {
                write!(f, "{} or ", others.join(", "))?;
            }
            f.write_str(last)?;
        }
        Ok(())
    }
}

/// What a gateway can express. An option it cannot express is left out of the request (and
/// logged at debug level) rather than sent in a form the gateway would misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The longest text message, in characters.
    pub max_text_chars: usize,
    /// Whether a text message can quote another message.
    pub quote_text: bool,
    /// Whether a contact card can quote another message.
    pub quote_contact: bool,
    /// Whether a text message can show a typing indicator first.
    pub typing_text: bool,
    /// Whether a text message can say what kind of activity its typing indicator shows
    /// ([`SendOptions::typing_kind`]; GREEN-API Telegram `typingType`).
    pub typing_kind: bool,
    /// Whether a contact card can show a typing indicator first.
    pub typing_contact: bool,
    /// Whether a send can be delayed by the gateway.
    pub delay: bool,
    /// Whether a file by URL, a location and a poll can quote another message.
    pub quote_media: bool,
    /// The longest caption under a file, in characters.
    pub max_caption_chars: usize,
    /// What a poll may ask.
    pub polls: PollLimits,
    /// Whether messages with buttons can be sent ([`Gateway::send_buttons`]).
    pub buttons: bool,
    /// Whether a typing indicator can be shown without a message ([`Gateway::send_typing`]).
    pub typing: bool,
    /// Whether a chat can be marked read ([`Gateway::mark_read`]).
    pub mark_read: bool,
    /// Whether messages can be forwarded ([`Gateway::forward`]).
    pub forward: bool,
}

/// What a gateway's polls may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollLimits {
    /// The longest question, in characters.
    pub max_question_chars: usize,
    /// The fewest and the most options.
    pub options: (usize, usize),
    /// Whether a poll can let a person pick several options.
    pub multiple_answers: bool,
    /// Whether polls can be sent to group chats only (GREEN-API Telegram).
    pub groups_only: bool,
}

/// Per-call options of a send.
///
/// ```
/// use std::time::Duration;
/// use hookbot::gateway::SendOptions;
///
/// let options = SendOptions::new()
///     .quote("361B0E63F2FDF95903B6A9C9A102F34B")
///     .typing(Duration::from_secs(2));
/// assert!(options.quote.is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// Quote this message of the chat (GREEN-API `quotedMessageId`, Z-API `messageId`).
    pub quote: Option<MessageId>,
    /// Show "typing…" for this long first: GREEN-API `typingTime` (1000–20000 ms), Z-API
    /// `delayTyping` on texts (1–15 s).
    pub typing: Option<Duration>,
    /// What the typing indicator of a text shows ("recording a voice message…", "choosing a
    /// contact…"): GREEN-API Telegram `typingType`. Left out where the gateway cannot say it.
    pub typing_kind: Option<TypingKind>,
    /// Delay the send by this long: Z-API `delayMessage` (1–15 s).
    pub delay: Option<Duration>,
}

impl SendOptions {
    /// No quote, no typing indicator, no delay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Quotes the message `id` of the same chat.
    #[must_use]
    pub fn quote(mut self, id: impl Into<MessageId>) -> Self {
        self.quote = Some(id.into());
        self
    }

    /// Shows "typing…" for `typing` before the message appears.
    #[must_use]
    pub fn typing(mut self, typing: Duration) -> Self {
        self.typing = Some(typing);
        self
    }

    /// Shows the activity `kind` rather than plain typing (see [`TypingKind`]).
    #[must_use]
    pub fn typing_kind(mut self, kind: TypingKind) -> Self {
        self.typing_kind = Some(kind);
        self
    }

    /// Asks the gateway to wait `delay` before sending.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// A message the gateway accepted for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The message's id in its chat (what a later reply quotes).
    pub id: MessageId,
}

impl SentMessage {
    /// A sent message with the given id.
    pub fn new(id: impl Into<MessageId>) -> Self {
        Self { id: id.into() }
    }
}

/// How a client talks HTTP: time-out per attempt, retries, rate limits, and optionally a
/// ready-made `reqwest::Client` (for a proxy or custom TLS roots).
#[derive(Debug, Clone)]
pub struct ClientSettings {
    timeout: Duration,
    retry: RetryPolicy,
    rate_limits: RateLimits,
    /// The user's reqwest client, or hookbot's clients shared by every gateway client built
    /// from these settings; `None`: each gateway client gets its own.
    http: Option<transport::Clients>,
    shared_limits: Option<Arc<dyn SharedLimits>>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            http: None,
            shared_limits: None,
        }
    }
}

impl ClientSettings {
    /// 30 s per attempt, the default [`RetryPolicy`] and [`RateLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The time-out of one attempt (each retry gets its own).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// When and how to retry.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The instance's rate limits.
    #[must_use]
    pub fn rate_limits(mut self, rate_limits: RateLimits) -> Self {
        self.rate_limits = rate_limits;
        self
    }

    /// Keeps the instance's rate limits in `store` (a [`Redis`](crate::redis::Redis)), shared
    /// by every replica's client of the instance (same Redis namespace), instead of per client.
    /// When the store does not answer, calls wait on the client's own limiters meanwhile, with
    /// a warning.
    #[must_use]
    pub fn shared_limits(self, store: &(impl SharedLimits + Clone)) -> Self {
        self.with_shared_limits(Arc::new(store.clone()))
    }

    /// [`shared_limits`](Self::shared_limits) with a store already shared.
    pub(crate) fn with_shared_limits(mut self, store: Arc<dyn SharedLimits>) -> Self {
        self.shared_limits = Some(store);
        self
    }

    /// Sends every call through this `reqwest::Client` instead of hookbot's own client (which
    /// already honours `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` by sending through reqwest
    /// when one is set). Build it with `.redirect(reqwest::redirect::Policy::none())` and
    /// `.referer(false)`:
    /// hookbot cannot change a client it is given, and a client that follows redirects hands
    /// the instance token (in the URL) to wherever the gateway points it.
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(transport::Clients::Given(http));
        self
    }

    /// These settings with hookbot's HTTP clients when they name none, so that every gateway
    /// client built from them shares their connection pools and TLS settings instead of having
    /// its own (each request still carries its instance's URL, token and time-out).
    pub(crate) fn sharing_http(mut self) -> Self {
        self.http.get_or_insert_with(transport::Clients::own);
        self
    }
}

/// Logs that `option` was left out of a `method` request because the gateway cannot express it.
fn log_dropped(kind: GatewayKind, method: &'static str, option: &'static str) {
    tracing::debug!(gateway = %kind, method, option, "option not supported by this gateway; sent without it");
}

/// Parses a client's base URL; it must be absolute http(s). Plain http to another machine is
/// logged as a warning.
fn base_url(field: &'static str, url: &str) -> Result<url::Url> {
    let url = url::Url::parse(url.trim_end_matches('/'))
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
        .ok_or_else(|| crate::ValidationError::new(field, crate::Rule::HttpUrl))?;
    if is_unencrypted_to_another_host(&url) {
        tracing::warn!(
            field,
            host = url.host_str().unwrap_or_default(),
            "the gateway's URL is plain http:// to another machine: the instance token would \
             cross the network unencrypted; use https://"
        );
    }
    Ok(url)
}

/// Whether `url` is plain `http` to a host other than this machine's loopback (127.0.0.0/8,
/// `::1`, `localhost`).
fn is_unencrypted_to_another_host(url: &url::Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    url.scheme() == "http" && !loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_to_another_machine_is_unencrypted() {
        let unencrypted =
            |url: &str| is_unencrypted_to_another_host(&url::Url::parse(url).unwrap());
        for remote in [
            "http://7105.api.greenapi.com",
            "http://10.0.0.5:8080",
            "http://[2001:db8::1]",
            "http://localhost.example.com",
            "http://128.0.0.1",
        ] {
            assert!(unencrypted(remote), "{remote}");
        }
        for safe in [
            "https://7105.api.greenapi.com",
            "https://10.0.0.5",
            "http://127.0.0.1:9000",
            "http://127.8.9.10",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]",
            "http://localhost:3000",
            "http://LOCALHOST",
        ] {
            assert!(!unencrypted(safe), "{safe}");
        }
    }

    #[test]
    fn every_gateway_kind_is_listed_and_its_name_parses_back() {
        // Exhaustive: a new kind does not compile here until it has its place in `ALL`.
        let place = |kind| match kind {
            GatewayKind::GreenApiWhatsApp => 0,
            GatewayKind::GreenApiMax => 1,
            GatewayKind::GreenApiTelegram => 2,
            GatewayKind::ZApi => 3,
        };
        for (at, kind) in GatewayKind::ALL.into_iter().enumerate() {
            assert_eq!(place(kind), at);
            assert_eq!(kind.as_str().parse(), Ok(kind));
            assert_eq!(kind.to_string().parse(), Ok(kind));
        }
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_names_there_are_and_not_repeated() {
        for name in ["viber", "Green-API", "ZApi", "", "tok-3f9a-secret"] {
            let error = name.parse::<GatewayKind>().unwrap_err();
            assert_eq!(error, UnknownGateway);
            let message = error.to_string();
            assert_eq!(
                message,
                "must be green-api, green-api-max, green-api-telegram or zapi"
            );
            assert!(name.is_empty() || !message.contains(name), "{message}");
        }
    }
}
