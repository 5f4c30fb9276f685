//! What a sandbox chat holds: [`ChatEntry`]s written by people ([`UserMessage`]) and by the bot.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize, Serializer};

use crate::id::{ChatId, MessageId};

/// A message a person sends through the sandbox.
///
/// ```
/// use hookbot::sandbox::UserMessage;
///
/// let message = UserMessage::text("79001234567@c.us", "contact иван")
///     .in_group("120363043968066561@g.us")
///     .quoting("F7AEC1B7086ECDC7E6E45923F5EDB825");
/// assert_eq!(message.chat_id().as_str(), "120363043968066561@g.us");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMessage {
    /// The person: their chat id (`79001234567@c.us`; MAX: `10000000`).
    pub from: ChatId,
    /// The group the message goes to; `None`: the private chat with `from`.
    pub chat: Option<ChatId>,
    /// The text.
    pub text: String,
    /// The message of the same chat it replies to.
    pub quoted: Option<MessageId>,
}

impl UserMessage {
    /// A text from `from` in their private chat with the bot.
    pub fn text(from: impl Into<ChatId>, text: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            chat: None,
            text: text.into(),
            quoted: None,
        }
    }

    /// Sends it in the group `chat` instead.
    #[must_use]
    pub fn in_group(mut self, chat: impl Into<ChatId>) -> Self {
        self.chat = Some(chat.into());
        self
    }

    /// Makes it a reply to the message `id` of the same chat.
    #[must_use]
    pub fn quoting(mut self, id: impl Into<MessageId>) -> Self {
        self.quoted = Some(id.into());
        self
    }

    /// The chat it goes to: the group, else the private chat with the sender.
    pub fn chat_id(&self) -> ChatId {
        self.chat.clone().unwrap_or_else(|| self.from.clone())
    }
}

/// One message in a sandbox chat, by a person or by the bot.
///
/// Serialises as the JSON of `GET /sandbox/messages`: `{"id", "chat", "from": <person chat id>
/// | "bot", "type": "text" | "contact" | "file" | "location" | "poll" | "buttons" | "typing" |
/// "read" | "error", "text"?, "contact"?, "file"?, "location"?, "poll"?, "buttons"?, "typing"?,
/// "read"?, "forwarded"?, "quoted"?, "quotedText"?, "timestamp"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEntry {
    /// The message's id (32 uppercase hex digits).
    pub id: MessageId,
    /// The chat it is in.
    pub chat: ChatId,
    /// Who wrote it.
    pub author: Author,
    /// What it holds.
    pub content: EntryContent,
    /// The message it replies to.
    pub quoted: Option<MessageId>,
    /// Whether the bot forwarded it here from another chat (forwardMessages).
    pub forwarded: bool,
    /// A one-line summary of the quoted message, when the chat has it.
    pub quoted_text: Option<String>,
    /// When it was written, in unix seconds.
    pub timestamp: u64,
}

/// Who wrote a [`ChatEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Author {
    /// A person, by their chat id.
    Person(ChatId),
    /// The bot, through the GREEN-API methods (a refused request is the bot's too).
    Bot,
}

/// What a [`ChatEntry`] holds.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryContent {
    /// A text message.
    Text(String),
    /// A contact card the bot sent.
    Contact(SharedCard),
    /// A file the bot sent (sendFileByUrl, sendFileByUpload).
    File(SentFile),
    /// A location the bot sent (sendLocation).
    Location(SentLocation),
    /// A poll the bot sent (sendPoll).
    Poll(SentPoll),
    /// A message with buttons the bot sent (sendInteractiveButtons, …Reply).
    Buttons(SentButtons),
    /// The bot's typing indicator (sendTyping).
    Typing(Typing),
    /// The bot marked the chat, or one message of it, read (readChat).
    Read {
        /// The message marked read; `None`: the whole chat.
        message: Option<MessageId>,
    },
    /// A request of the bot the sandbox refused: `"<method> refused: <reason>"`.
    Error(String),
}

/// The `contact` object of a `sendContact` request, as sent: WhatsApp sends a phone number and
/// names, MAX the chat id of a contact in the instance's list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedCard {
    /// The phone number (WhatsApp `phoneContact`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_contact: Option<u64>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Middle name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The contact's chat id (MAX `contact.chatId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<ChatId>,
}

/// A file the bot sent: where it is, its name and its caption.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentFile {
    /// Where it can be downloaded: `urlFile` as sent, or the sandbox's own URL of an upload.
    pub url: String,
    /// The file name, with its extension.
    pub file_name: String,
    /// The caption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// A location the bot sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentLocation {
    /// Latitude, in degrees (−90 to 90).
    pub latitude: f64,
    /// Longitude, in degrees (−180 to 180).
    pub longitude: f64,
    /// The place's name (`nameLocation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The place's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A poll the bot sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentPoll {
    /// The question (`message`).
    pub question: String,
    /// The options, in order (`options[].optionName`).
    pub options: Vec<String>,
    /// Whether a person may pick several options.
    pub multiple_answers: bool,
}

/// A message with buttons the bot sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentButtons {
    /// The title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The text.
    pub body: String,
    /// The footer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The buttons, in order.
    pub buttons: Vec<SentButton>,
}

/// One button of [`SentButtons`], with GREEN-API's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentButton {
    /// `reply` (sendInteractiveButtonsReply: pressing it answers the bot), `copy`, `call` or
    /// `url`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The button's id.
    pub button_id: String,
    /// The label.
    pub button_text: String,
    /// What a `copy` button copies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_code: Option<String>,
    /// The number a `call` button calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The address a `url` button opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The bot's typing indicator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    /// How long it shows, in milliseconds (`typingTime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typing_time: Option<u64>,
    /// What it shows (`typingType`: `recording`, …); `None`: typing a text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typing_type: Option<String>,
}

impl ChatEntry {
    /// The text of a text entry.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            EntryContent::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The card of a contact entry.
    pub fn card(&self) -> Option<&SharedCard> {
        match &self.content {
            EntryContent::Contact(card) => Some(card),
            _ => None,
        }
    }

    /// The reason of an error entry.
    pub fn error(&self) -> Option<&str> {
        match &self.content {
            EntryContent::Error(reason) => Some(reason),
            _ => None,
        }
    }

    /// Whether the bot wrote it.
    pub fn is_from_bot(&self) -> bool {
        self.author == Author::Bot
    }

    /// A one-line summary, for a reply that quotes this entry.
    pub(crate) fn summary(&self) -> Option<String> {
        match &self.content {
            EntryContent::Text(text) => Some(text.clone()),
            EntryContent::Contact(card) => Some(card.label()),
            EntryContent::File(file) => {
                Some(file.caption.clone().unwrap_or(file.file_name.clone()))
            }
            EntryContent::Location(location) => Some(location.label()),
            EntryContent::Poll(poll) => Some(poll.question.clone()),
            EntryContent::Buttons(buttons) => Some(buttons.body.clone()),
            EntryContent::Typing(_) | EntryContent::Read { .. } | EntryContent::Error(_) => None,
        }
    }
}

impl SharedCard {
    /// The names joined by spaces, else the company, else the phone or chat id.
    pub fn label(&self) -> String {
        let names: Vec<&str> = [&self.first_name, &self.middle_name, &self.last_name]
            .into_iter()
            .filter_map(|name| {
                name.as_deref()
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
            })
            .collect();
        if !names.is_empty() {
            return names.join(" ");
        }
        self.company
            .clone()
            .filter(|company| !company.trim().is_empty())
            .or_else(|| self.phone_contact.map(|phone| phone.to_string()))
            .or_else(|| self.chat_id.as_ref().map(ToString::to_string))
            .unwrap_or_default()
    }
}

impl SentLocation {
    /// The name, else the address, else the coordinates.
    pub fn label(&self) -> String {
        [&self.name, &self.address]
            .into_iter()
            .flatten()
            .find(|label| !label.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| format!("{}, {}", self.latitude, self.longitude))
    }
}

/// The JSON of an entry in the sandbox's chat API.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryJson<'a> {
    id: &'a MessageId,
    chat: &'a ChatId,
    from: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a SharedCard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a SentFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a SentLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poll: Option<&'a SentPoll>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buttons: Option<&'a SentButtons>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing: Option<&'a Typing>,
    #[serde(skip_serializing_if = "Option::is_none")]
    read: Option<ReadJson<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    forwarded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted: Option<&'a MessageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted_text: Option<&'a str>,
    timestamp: u64,
}

/// `read` of a read entry: the message marked read, when one was named.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id_message: Option<&'a MessageId>,
}

impl Serialize for ChatEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let from = match &self.author {
            Author::Person(person) => person.as_str(),
            Author::Bot => "bot",
        };
        let mut json = EntryJson {
            id: &self.id,
            chat: &self.chat,
            from,
            kind: "text",
            text: None,
            contact: None,
            file: None,
            location: None,
            poll: None,
            buttons: None,
            typing: None,
            read: None,
            forwarded: self.forwarded,
            quoted: self.quoted.as_ref(),
            quoted_text: self.quoted_text.as_deref(),
            timestamp: self.timestamp,
        };
        match &self.content {
            EntryContent::Text(text) => json.text = Some(text.as_str()),
            EntryContent::Contact(card) => (json.kind, json.contact) = ("contact", Some(card)),
            EntryContent::File(file) => (json.kind, json.file) = ("file", Some(file)),
            EntryContent::Location(location) => {
                (json.kind, json.location) = ("location", Some(location));
            }
            EntryContent::Poll(poll) => (json.kind, json.poll) = ("poll", Some(poll)),
            EntryContent::Buttons(buttons) => {
                (json.kind, json.buttons) = ("buttons", Some(buttons))
            }
            EntryContent::Typing(typing) => (json.kind, json.typing) = ("typing", Some(typing)),
            EntryContent::Read { message } => {
                let read = ReadJson {
                    id_message: message.as_ref(),
                };
                (json.kind, json.read) = ("read", Some(read));
            }
            EntryContent::Error(reason) => {
                (json.kind, json.text) = ("error", Some(reason.as_str()))
            }
        }
        json.serialize(serializer)
    }
}

/// A new message id: 32 uppercase hex digits, random, with a counter in the low bits so that
/// no two ids of one process are equal.
pub(crate) fn new_message_id() -> MessageId {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let count = u128::from(COUNTER.fetch_add(1, Ordering::Relaxed));
    let random: u128 = rand::random();
    MessageId::new(format!("{:032X}", (random << 32) | count))
}

/// Now, in unix seconds.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_ids_are_32_uppercase_hex_digits_and_unique() {
        let first = new_message_id();
        let second = new_message_id();
        assert_eq!(first.as_str().len(), 32);
        assert!(
            first
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        assert_ne!(first, second);
    }

    #[test]
    fn entries_serialise_in_the_chat_api_shape() {
        let entry = ChatEntry {
            id: MessageId::from("AB"),
            chat: ChatId::from("79001234567@c.us"),
            author: Author::Bot,
            content: EntryContent::Contact(SharedCard {
                phone_contact: Some(79001234568),
                first_name: Some("Иван".into()),
                ..SharedCard::default()
            }),
            quoted: Some(MessageId::from("CD")),
            forwarded: false,
            quoted_text: Some("contact иван".into()),
            timestamp: 5,
        };
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            json!({"id": "AB", "chat": "79001234567@c.us", "from": "bot", "type": "contact",
                   "contact": {"phoneContact": 79001234568_u64, "firstName": "Иван"},
                   "quoted": "CD", "quotedText": "contact иван", "timestamp": 5})
        );
    }

    #[test]
    fn card_label_prefers_names_then_company_then_ids() {
        let mut card = SharedCard {
            chat_id: Some(ChatId::from("10000000")),
            ..SharedCard::default()
        };
        assert_eq!(card.label(), "10000000");
        card.company = Some("Велосипед".into());
        assert_eq!(card.label(), "Велосипед");
        card.last_name = Some("Евпаторийский".into());
        card.first_name = Some("Артем".into());
        assert_eq!(card.label(), "Артем Евпаторийский");
    }
}
