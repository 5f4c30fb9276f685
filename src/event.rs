//! Events: one normalised model of what every gateway notifies a bot of.
//!
//! [`Event::parse`] reads a webhook body of any gateway into an [`Event`]: where it came from,
//! when, and what happened ([`EventKind`]): a [`Message`] with its [`Content`], a delivery
//! [`MessageStatus`], an [`InstanceState`] change, a [`Call`], a [`Block`], or something hookbot
//! does not know yet ([`EventKind::Unknown`]). The raw JSON always stays available.
//!
//! ```
//! use hookbot::gateway::GatewayKind;
//! use hookbot::{Content, Event};
//!
//! let body = br#"{"typeWebhook": "incomingMessageReceived",
//!     "instanceData": {"idInstance": 1101000001, "typeInstance": "whatsapp"},
//!     "timestamp": 1588091580, "idMessage": "F7AEC1B7086ECDC7E6E45923F5EDB825",
//!     "senderData": {"chatId": "79001234568@c.us", "sender": "79001234568@c.us", "senderName": "Anna"},
//!     "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "help"}}}"#;
//!
//! let event = Event::parse(GatewayKind::GreenApiWhatsApp, body)?;
//! let message = event.message().expect("an incoming message");
//! assert_eq!(message.text(), Some("help"));
//! assert_eq!(message.chat.as_str(), "79001234568@c.us");
//! assert!(matches!(message.content, Content::Text(_)));
//! # Ok::<(), hookbot::ParseError>(())
//! ```
//!
//! Parsing is lenient: unknown fields are ignored, a missing or mistyped field reads as empty,
//! and a notification of a kind hookbot does not know is still an event. Only a body that is
//! not a JSON object is refused.

mod vcard;

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use serde_json::Value;

use crate::contact::{ContactCard, PeerKind, non_blank};
use crate::gateway::GatewayKind;
use crate::id::{ChatId, MessageId};

/// One notification from a gateway, normalised.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The gateway that sent it. For GREEN-API, the instance type the notification names
    /// (WhatsApp, MAX or Telegram) wins over the gateway it was received for.
    pub gateway: GatewayKind,
    /// The instance it concerns (GREEN-API `idInstance`, Z-API instance id); empty when the
    /// notification does not say. Shared, so that the dispatcher's per-chat queues and a
    /// failure's [`EventIdentity`](crate::dispatch::EventIdentity) copy it without allocating.
    pub instance: Arc<str>,
    /// When it happened, as the gateway tells: GREEN-API sends unix seconds, Z-API unix
    /// milliseconds; both are read into a [`SystemTime`]. `None` when absent or out of range.
    pub timestamp: Option<SystemTime>,
    /// What happened.
    pub kind: EventKind,
    /// The notification's JSON exactly as received: its text, and a [`Value`] read from it
    /// when first asked for (`event.raw["senderData"]["chatName"]`). See [`RawJson`].
    pub raw: RawJson,
}

/// A notification's JSON, as [`Event::raw`] keeps it: the text as received, read into a
/// [`Value`] only when asked (once; later calls share it).
///
/// hookbot reads the fields it models straight from the text, so an event whose handler never
/// looks at the raw JSON never builds a [`Value`] tree. [`as_str`](RawJson::as_str) gives the
/// text (to store, forward or log it); [`value`](RawJson::value), or the [`Deref`] to
/// [`Value`], gives the JSON to look into: `event.raw["senderData"]["chatId"]`. Cloning shares
/// it.
///
/// ```
/// use hookbot::Event;
/// use hookbot::gateway::GatewayKind;
///
/// let body = br#"{"typeWebhook": "deviceInfo", "deviceData": {"deviceModel": "SM-A525F"}}"#;
/// let event = Event::parse(GatewayKind::GreenApiWhatsApp, body)?;
/// assert_eq!(event.raw["deviceData"]["deviceModel"], "SM-A525F");
/// assert!(event.raw.as_str().contains("SM-A525F"));
/// # Ok::<(), hookbot::ParseError>(())
/// ```
#[derive(Clone)]
pub struct RawJson(Arc<RawParts>);

/// The two forms of a [`RawJson`]: the one it was made from, and the other, made from it
/// when first asked for.
enum RawParts {
    /// Made from the text as received.
    Text {
        text: Box<str>,
        value: OnceLock<Value>,
    },
    /// Made from a [`Value`] (its text, when kept, as received).
    Value {
        value: Value,
        text: OnceLock<Box<str>>,
    },
}

impl RawJson {
    /// The JSON of `text`, which must be a valid JSON object (the parser has read it).
    pub(crate) fn from_text(text: &str) -> Self {
        Self(Arc::new(RawParts::Text {
            text: text.into(),
            value: OnceLock::new(),
        }))
    }

    /// The JSON `value`; its text is written out when asked for.
    pub(crate) fn from_value(value: Value) -> Self {
        Self(Arc::new(RawParts::Value {
            value,
            text: OnceLock::new(),
        }))
    }

    /// Keeps `text` as the text of this JSON, read from it, unless it has a text already.
    pub(crate) fn keep_text(&self, text: &str) {
        if let RawParts::Value { text: kept, .. } = &*self.0 {
            let _ = kept.set(text.into());
        }
    }

    /// The JSON as text: as received for an event read by [`Event::parse`]; for one built
    /// from a [`Value`] ([`Event::from_json`]), that value written out compactly (once).
    pub fn as_str(&self) -> &str {
        match &*self.0 {
            RawParts::Text { text, .. } => text,
            RawParts::Value { value, text } => {
                text.get_or_init(|| serde_json::to_string(value).unwrap_or_default().into())
            }
        }
    }

    /// The JSON as a [`Value`], read from the text the first time it is asked for.
    pub fn value(&self) -> &Value {
        match &*self.0 {
            RawParts::Text { text, value } => {
                value.get_or_init(|| serde_json::from_str(text).unwrap_or_default())
            }
            RawParts::Value { value, .. } => value,
        }
    }
}

impl Deref for RawJson {
    type Target = Value;

    /// [`value`](RawJson::value).
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for RawJson {
    /// The same JSON, whatever its spacing or key order.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.value() == other.value()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawJson").field(&self.as_str()).finish()
    }
}

impl fmt::Display for RawJson {
    /// The text, as [`as_str`](RawJson::as_str).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an [`Event`] is about.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// A message in a chat: received, or sent by the instance (see [`Message::direction`]).
    /// Boxed, as the status is, so that an event stays small to move from the webhook to its
    /// handler.
    Message(Box<Message>),
    /// A change in the delivery status of messages the instance sent.
    Status(Box<MessageStatus>),
    /// The instance's connection or authorization changed.
    InstanceState(InstanceState),
    /// Someone calls the instance.
    Call(Call),
    /// A chat blocked the instance.
    Block(Block),
    /// A notification hookbot does not model: GREEN-API `deviceInfo` and `quotaExceeded`,
    /// Z-API `PresenceChatCallback`, and any type that appears later. [`Event::raw`] has its
    /// fields.
    Unknown {
        /// The gateway's name for the notification type, as sent (empty when it sent none).
        type_name: String,
    },
}

/// A message in a chat.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Message {
    /// The message's id, unique within its chat; empty when the gateway sent none.
    pub id: MessageId,
    /// The chat the message is in: the person, or the group.
    pub chat: ChatId,
    /// The chat's name as the gateway shows it; may be empty.
    pub chat_name: String,
    /// Who wrote the message: in a group the participant, otherwise the chat's person (or the
    /// instance's own number for an outgoing message, when the gateway tells it).
    pub sender: ChatId,
    /// The name the sender gave themselves; may be empty.
    pub sender_name: String,
    /// The sender's name in the instance's phone book; may be empty.
    pub sender_contact_name: String,
    /// The sender's phone number, digits only, when known: GREEN-API MAX and Telegram
    /// `senderPhoneNumber` (`None` when hidden), the digits of a WhatsApp `@c.us` sender,
    /// Z-API's sender phone.
    pub sender_phone: Option<String>,
    /// What kind of account wrote it — a person, a bot, or a group or channel writing as
    /// itself — when the gateway tells (GREEN-API Telegram `senderData.senderType`). A bot's
    /// message is how two bots start answering each other for ever: see
    /// [`filter::from_bot`](crate::filter::from_bot).
    pub sender_kind: Option<PeerKind>,
    /// What kind of chat it is in — a private chat with a person or a bot, a group, a
    /// supergroup, a channel — when the gateway tells (GREEN-API Telegram
    /// `senderData.chatType`).
    pub chat_kind: Option<PeerKind>,
    /// Received, or sent by the instance from the phone or through the API.
    pub direction: Direction,
    /// Whether the chat is a group.
    pub is_group: bool,
    /// The message this one replies to (quotes), in the same chat.
    pub quoted: Option<MessageId>,
    /// What the message holds.
    pub content: Content,
}

impl Message {
    /// The message's text: the text of a text message, or the label of the button or list
    /// row picked. Captions of media are not text: see [`Media::caption`].
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(text) | Content::ButtonReply { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The received file of an image, video, audio, document or sticker message: its download
    /// URL, file name, MIME type and caption (send it back with
    /// [`reply::File::from_media`](crate::reply::File::from_media)).
    pub fn media(&self) -> Option<&Media> {
        match &self.content {
            Content::Media(media) => Some(media),
            _ => None,
        }
    }

    /// The best name for the sender: the phone-book name, else the name they gave themselves,
    /// else the phone number, else the sender's id.
    pub fn sender_display_name(&self) -> &str {
        [&self.sender_contact_name, &self.sender_name]
            .into_iter()
            .map(|name| name.trim())
            .find(|name| !name.is_empty())
            .or(self.sender_phone.as_deref())
            .unwrap_or(self.sender.as_str())
    }

    /// Whether the instance sent the message (from the phone or through the API).
    pub fn is_outgoing(&self) -> bool {
        self.direction != Direction::Incoming
    }

    /// Whether the gateway says a bot wrote it ([`sender_kind`](Message::sender_kind)).
    pub fn is_from_bot(&self) -> bool {
        self.sender_kind == Some(PeerKind::Bot)
    }
}

/// Who sent a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// Someone else wrote to the instance.
    Incoming,
    /// The instance's owner wrote it on the phone (or another linked device).
    /// Z-API: `fromMe` without `fromApi`.
    SentFromPhone,
    /// The instance sent it through the gateway's API.
    SentByApi,
}

/// What a [`Message`] holds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Content {
    /// Text, also with a link preview, and the text of a reply.
    Text(String),
    /// A message the gateway could not decrypt (GREEN-API's `{{SWE001}}` text); WhatsApp
    /// usually delivers it again later, readable.
    Undecryptable,
    /// One or more shared contact cards.
    Contacts(Vec<SharedContact>),
    /// An image, video, audio, document or sticker.
    Media(Media),
    /// A location pin.
    Location(Location),
    /// A reaction to another message.
    Reaction {
        /// The emoji; empty when a reaction was taken back.
        emoji: String,
        /// The message reacted to.
        target: Option<MessageId>,
    },
    /// A new poll.
    Poll(Poll),
    /// Votes on a poll.
    PollUpdate {
        /// The poll's message.
        target: Option<MessageId>,
        /// The poll as it stands, or the options the sender picked (Z-API).
        poll: Poll,
    },
    /// A message was edited.
    Edited {
        /// The message that was edited.
        target: Option<MessageId>,
        /// Its new text or caption; may be empty.
        text: String,
    },
    /// A message was deleted for everyone.
    Deleted {
        /// The message that was deleted.
        target: Option<MessageId>,
    },
    /// A button or a list row was picked.
    ButtonReply {
        /// The picked button's or row's id; may be empty.
        id: String,
        /// The picked button's or row's label.
        text: String,
    },
    /// A kind of message hookbot does not model (`groupInviteMessage`, orders, payments, ...);
    /// [`Event::raw`] has its fields.
    Unknown {
        /// The gateway's name for the message type, as sent (empty when it sent none).
        type_name: String,
    },
}

impl Content {
    /// A short, stable name for the kind of content: `text`, `undecryptable`, `contacts`,
    /// `image`, `video`, `audio`, `document`, `sticker`, `location`, `reaction`, `poll`,
    /// `poll_update`, `edited`, `deleted`, `button_reply` or `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            Content::Text(_) => "text",
            Content::Undecryptable => "undecryptable",
            Content::Contacts(_) => "contacts",
            Content::Media(media) => media.kind.name(),
            Content::Location(_) => "location",
            Content::Reaction { .. } => "reaction",
            Content::Poll(_) => "poll",
            Content::PollUpdate { .. } => "poll_update",
            Content::Edited { .. } => "edited",
            Content::Deleted { .. } => "deleted",
            Content::ButtonReply { .. } => "button_reply",
            Content::Unknown { .. } => "unknown",
        }
    }
}

/// A contact card shared in a chat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedContact {
    /// The name shown for the contact: the gateway's display name, else the vCard's
    /// formatted name, else its structured name; may be empty.
    pub name: String,
    /// Phone numbers, digits only, in the order the card lists them.
    pub phones: Vec<String>,
    /// The contact's chat, when the gateway tells it (GREEN-API MAX and Telegram).
    pub chat_id: Option<ChatId>,
    /// The vCard as sent, when there was one.
    pub vcard: Option<String>,
}

impl SharedContact {
    /// Reads a vCard (2.1, 3.0 or 4.0): the name from `FN`, else from `N`; the phones from the
    /// `TEL` lines, taking WhatsApp's `waid` parameter over the formatted number.
    ///
    /// ```
    /// use hookbot::SharedContact;
    ///
    /// let card = "BEGIN:VCARD\nVERSION:3.0\nN:Премудрая;Василиса;;;\nFN:Василиса Премудрая\n\
    ///             TEL;type=CELL;waid=79001234567:+7 900 123-45-67\nEND:VCARD";
    /// let contact = SharedContact::from_vcard(card);
    /// assert_eq!(contact.name, "Василиса Премудрая");
    /// assert_eq!(contact.phones, ["79001234567"]);
    /// ```
    pub fn from_vcard(vcard: &str) -> Self {
        let card = vcard::parse(vcard);
        Self {
            name: card.name,
            phones: card.phones,
            chat_id: None,
            vcard: Some(vcard.to_owned()),
        }
    }

    /// A card that shares this contact again: its chat id, first phone and name.
    pub fn to_card(&self) -> ContactCard {
        let mut card = ContactCard::new();
        card.chat_id = self.chat_id.clone();
        card.phone = self.phones.first().cloned();
        card.first_name = non_blank(Some(&self.name)).map(|name| name.trim().to_owned());
        card
    }

    /// Adds each of `phones` (digits only) unless it is empty or already listed, in one pass.
    pub(crate) fn add_phones(&mut self, phones: impl IntoIterator<Item = String>) {
        let mut listed = vcard::Phones::from_vec(std::mem::take(&mut self.phones));
        for phone in phones {
            listed.add(phone);
        }
        self.phones = listed.into_vec();
    }
}

/// A media file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Media {
    /// Image, video, audio, document or sticker.
    pub kind: MediaKind,
    /// Where to download the file (the gateways keep files for a limited time).
    pub url: Option<String>,
    /// The caption written under it.
    pub caption: Option<String>,
    /// The file's name (documents).
    pub file_name: Option<String>,
    /// The file's MIME type.
    pub mime_type: Option<String>,
}

/// The kind of a [`Media`] file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaKind {
    /// A picture.
    Image,
    /// A video.
    Video,
    /// An audio file or a voice note.
    Audio,
    /// Any other file.
    Document,
    /// A sticker.
    Sticker,
}

impl MediaKind {
    /// `image`, `video`, `audio`, `document` or `sticker`.
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

/// A location pin.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// The place's name.
    pub name: Option<String>,
    /// The place's address.
    pub address: Option<String>,
}

/// A poll, as created or as it stands after votes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Poll {
    /// The question; may be empty (Z-API does not repeat it with votes).
    pub name: String,
    /// The options offered.
    pub options: Vec<String>,
    /// Whether a person may pick several options.
    pub multiple_answers: bool,
    /// Who voted for what, option by option (for [`Content::PollUpdate`]).
    pub votes: Vec<PollVotes>,
}

/// The voters of one poll option.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollVotes {
    /// The option.
    pub option: String,
    /// Who picked it.
    pub voters: Vec<ChatId>,
}

/// A change in the delivery status of one or more messages the instance sent.
///
/// GREEN-API reports one message per notification; Z-API may report several at once, so a
/// status carries a list of ids (usually one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageStatus {
    /// The chat the messages were sent to; empty when the gateway does not say.
    pub chat: ChatId,
    /// The messages whose status changed.
    pub ids: Vec<MessageId>,
    /// The new status.
    pub status: DeliveryStatus,
    /// Whether the messages were sent through the API (GREEN-API `sendByApi`), when told.
    pub sent_by_api: Option<bool>,
    /// The gateway's explanation of a failure.
    pub description: Option<String>,
}

/// The delivery status of a sent message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// The gateway sent it to the messenger's servers.
    Sent,
    /// It reached the recipient's device (Z-API `RECEIVED`).
    Delivered,
    /// The recipient read (or viewed) it.
    Read,
    /// The recipient played the voice note or video.
    Played,
    /// It could not be sent.
    Failed,
    /// The recipient has no account on the messenger.
    NoAccount,
    /// The instance is not a member of the group it was sent to.
    NotInGroup,
    /// It was held back because the account is restricted for spam.
    YellowCard,
    /// Another status, in the gateway's words (Z-API `READ_BY_ME`, ...).
    Other(String),
}

impl DeliveryStatus {
    /// The status in GREEN-API's words (`sent`, `delivered`, `read`, `played`, `failed`,
    /// `noAccount`, `notInGroup`, `yellowCard`), or the gateway's own word for
    /// [`Other`](DeliveryStatus::Other).
    pub fn as_str(&self) -> &str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Played => "played",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::NoAccount => "noAccount",
            DeliveryStatus::NotInGroup => "notInGroup",
            DeliveryStatus::YellowCard => "yellowCard",
            DeliveryStatus::Other(status) => status,
        }
    }
}

/// The instance's connection or authorization changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceState {
    /// The state in the gateway's words: GREEN-API `authorized`, `notAuthorized`, `blocked`,
    /// `sleepMode`, `starting`, `yellowCard`, `pendingCode`, `pendingPassword` (Telegram's
    /// two-step verification), or the socket status `online` /
    /// `offline`; Z-API `connected` / `disconnected`.
    pub state: String,
    /// Whether the instance can send and receive now, when the state tells (`authorized`,
    /// `online`, `connected`: yes; `notAuthorized`, `blocked`, `offline`, ...: no).
    pub connected: Option<bool>,
    /// The gateway's explanation, when it gives one (Z-API `error`).
    pub description: Option<String>,
}

impl InstanceState {
    /// What the instance's operator should do, in plain words; `None` when the instance can
    /// work (or its state is one hookbot does not know).
    pub fn advice(&self) -> Option<&'static str> {
        Some(match self.state.as_str() {
            "notAuthorized" => {
                "the instance is not linked to a phone: scan the QR code in the gateway's console with the messenger's \"Linked devices\""
            }
            "disconnected" => {
                "the instance is not connected to a phone: scan the QR code in the Z-API panel with WhatsApp's \"Linked devices\""
            }
            "blocked" => {
                "the messenger blocked the number: the instance cannot send or receive until the number is unblocked (or another one linked)"
            }
            "starting" => "the instance is starting: it should work within a few minutes",
            "sleepMode" => {
                "the phone is off or offline: switch it on and connect it; the instance follows within 5 minutes"
            }
            "yellowCard" => {
                "the messenger suspended sending for suspected spam: reboot the instance in the gateway's console; messages wait up to 24 h"
            }
            "pendingCode" => {
                "the instance waits for the authorization code sent to the Telegram account: enter it in the gateway's console"
            }
            "pendingPassword" => {
                "the instance waits for the Telegram account's two-step verification password: enter it in the gateway's console"
            }
            "offline" => "the instance's connection to the messenger is down: check the phone",
            _ => return None,
        })
    }
}

/// Someone calls the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Call {
    /// The call's id, when the gateway gives one.
    pub id: Option<MessageId>,
    /// Who calls.
    pub from: ChatId,
    /// The call's state in the gateway's words: `offer`, `pickUp`, `hangUp`, `missed`,
    /// `declined`.
    pub status: String,
}

/// A chat blocked the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Block {
    /// The chat.
    pub chat: ChatId,
    /// The block's state in the gateway's words, e.g. `blocked`.
    pub state: String,
}

impl EventKind {
    /// A short, stable name for the kind: `message`, `status`, `instance_state`, `call`,
    /// `block` or `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Message(_) => "message",
            EventKind::Status(_) => "status",
            EventKind::InstanceState(_) => "instance_state",
            EventKind::Call(_) => "call",
            EventKind::Block(_) => "block",
            EventKind::Unknown { .. } => "unknown",
        }
    }
}

/// Why a webhook body is not a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not JSON.
    #[error("body is not JSON: {reason}")]
    NotJson {
        /// What the JSON parser objected to, in one line.
        reason: String,
    },
    /// The body is JSON, but not an object.
    #[error("body is a JSON {found}, not an object")]
    NotObject {
        /// What it is instead: `array`, `string`, `number`, `boolean` or `null`.
        found: &'static str,
    },
}

impl Event {
    /// The event a store kept: its gateway's name, the notification as received, and the
    /// instance it was accepted for (kept when the notification names none: a Z-API callback
    /// is its path token's instance). `None` for what does not read as one.
    pub(crate) fn restore(gateway: &str, notification: &str, instance: &str) -> Option<Self> {
        let gateway: GatewayKind = gateway.parse().ok()?;
        let mut event = Event::parse(gateway, notification.as_bytes()).ok()?;
        if event.instance.is_empty() {
            event.instance = instance.into();
        }
        Some(event)
    }

    /// Parses a webhook body from `gateway`. Both GREEN-API kinds share one parser, and the
    /// event's [`gateway`](Event::gateway) follows the instance type the notification names.
    ///
    /// Fails only when the body is not a JSON object; any object is an event, of kind
    /// [`EventKind::Unknown`] when hookbot does not know its type.
    ///
    /// GREEN-API text messages, the notifications bots get most, are read in one pass straight
    /// from the text; every other notification through a [`Value`].
    pub fn parse(gateway: GatewayKind, body: &[u8]) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(body).ok();
        if let Some(text) = text.filter(|_| gateway.is_green_api())
            && let Some(event) = crate::gateway::green_api::notification::parse_text(text, gateway)
        {
            return Ok(event);
        }
        let value = serde_json::from_slice(body).map_err(|error| ParseError::NotJson {
            reason: error.to_string(),
        })?;
        let event = Self::from_json(gateway, value)?;
        if let Some(text) = text {
            event.raw.keep_text(text);
        }
        Ok(event)
    }

    /// Like [`parse`](Event::parse), for a notification already read as JSON (for example the
    /// `body` of a GREEN-API `receiveNotification` answer).
    pub fn from_json(gateway: GatewayKind, value: Value) -> Result<Self, ParseError> {
        if let Some(found) = non_object(&value) {
            return Err(ParseError::NotObject { found });
        }
        Ok(match gateway {
            GatewayKind::GreenApiWhatsApp
            | GatewayKind::GreenApiMax
            | GatewayKind::GreenApiTelegram => {
                crate::gateway::green_api::notification::parse(value, gateway)
            }
            GatewayKind::ZApi => crate::gateway::zapi::notification::parse(value),
        })
    }

    /// Reads a webhook body as a JSON object, the first step of [`parse`](Event::parse).
    pub(crate) fn read_object(body: &[u8]) -> Result<Value, ParseError> {
        let value = serde_json::from_slice(body).map_err(|error| ParseError::NotJson {
            reason: error.to_string(),
        })?;
        match non_object(&value) {
            Some(found) => Err(ParseError::NotObject { found }),
            None => Ok(value),
        }
    }

    /// The instance a notification of `gateway` names (GREEN-API `instanceData.idInstance`,
    /// Z-API `instanceId`), read before the whole event is: the webhook of a bot of several
    /// instances picks the instance with it. Empty when the notification names none.
    pub(crate) fn instance_of(gateway: GatewayKind, value: &Value) -> String {
        match gateway {
            GatewayKind::GreenApiWhatsApp
            | GatewayKind::GreenApiMax
            | GatewayKind::GreenApiTelegram => {
                crate::gateway::green_api::notification::instance_id(value)
            }
            GatewayKind::ZApi => crate::gateway::zapi::notification::instance_id(value),
        }
    }

    /// The message, when the event is one.
    pub fn message(&self) -> Option<&Message> {
        match &self.kind {
            EventKind::Message(message) => Some(message),
            _ => None,
        }
    }

    /// The chat the event concerns: a message's chat, a status's chat, a caller, a blocking
    /// chat. `None` for instance-level events, and when the gateway named no chat.
    pub fn chat(&self) -> Option<&ChatId> {
        let chat = match &self.kind {
            EventKind::Message(message) => &message.chat,
            EventKind::Status(status) => &status.chat,
            EventKind::Call(call) => &call.from,
            EventKind::Block(block) => &block.chat,
            EventKind::InstanceState(_) | EventKind::Unknown { .. } => return None,
        };
        (!chat.as_str().is_empty()).then_some(chat)
    }

    /// The message the event is about: a message's id, the first id of a status, a call's id.
    /// `None` for other events, and when the gateway sent no id.
    pub fn message_id(&self) -> Option<&MessageId> {
        let id = match &self.kind {
            EventKind::Message(message) => Some(&message.id),
            EventKind::Status(status) => status.ids.first(),
            EventKind::Call(call) => call.id.as_ref(),
            _ => None,
        }?;
        (!id.as_str().is_empty()).then_some(id)
    }

    /// The delivery status of a status event (`delivered`, `read`, ...; see
    /// [`DeliveryStatus::as_str`]); `None` for other events.
    pub fn status_text(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Status(status) => Some(status.status.as_str()),
            _ => None,
        }
    }
}

/// The JSON type of `value` when it is not an object.
fn non_object(value: &Value) -> Option<&'static str> {
    match value {
        Value::Object(_) => None,
        Value::Array(_) => Some("array"),
        Value::String(_) => Some("string"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("boolean"),
        Value::Null => Some("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_objects_are_events() {
        let error = Event::parse(GatewayKind::ZApi, b"not json").unwrap_err();
        assert!(matches!(error, ParseError::NotJson { .. }));
        assert!(!error.to_string().contains('\n'));
        let error = Event::parse(GatewayKind::GreenApiWhatsApp, b"[1, 2]").unwrap_err();
        assert_eq!(error.to_string(), "body is a JSON array, not an object");
        assert!(Event::parse(GatewayKind::GreenApiMax, b"{}").is_ok());
    }

    #[test]
    fn sender_display_name_falls_back_to_phone_then_id() {
        let mut event = Event::parse(
            GatewayKind::ZApi,
            br#"{"type":"ReceivedCallback","phone":"5544999999999"}"#,
        )
        .unwrap();
        let EventKind::Message(message) = &mut event.kind else {
            panic!("a message: {event:?}")
        };
        assert_eq!(message.sender_display_name(), "5544999999999");
        message.sender_phone = None;
        message.sender = ChatId::from("5544000000000");
        assert_eq!(message.sender_display_name(), "5544000000000");
        message.sender_name = "Ana".into();
        assert_eq!(message.sender_display_name(), "Ana");
        message.sender_contact_name = "Ana Souza".into();
        assert_eq!(message.sender_display_name(), "Ana Souza");
    }

    #[test]
    fn shared_contact_becomes_a_card_to_share_again() {
        let mut contact =
            SharedContact::from_vcard("BEGIN:VCARD\nFN:Anna Smit\nTEL:+7 234 567 8910\nEND:VCARD");
        contact.chat_id = Some(ChatId::from("10000000"));
        let card = contact.to_card();
        assert_eq!(card.phone.as_deref(), Some("72345678910"));
        assert_eq!(card.first_name.as_deref(), Some("Anna Smit"));
        assert_eq!(card.chat_id, Some(ChatId::from("10000000")));
    }
}
