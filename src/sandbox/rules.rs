//! The sandbox's checks of the requests it answers, against GREEN-API's documented rules
//! (the [rules table](crate::gateway::green_api::rules) the client reads too), and the
//! refusals it answers when a rule is broken.

mod replies;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::chat::{SharedCard, UserMessage};
use super::{Platform, SandboxError};
use crate::contact::{Contact, ContactKind};
use crate::gateway::green_api::rules::{Cards, TYPING_TIME_MS};
use crate::id::{ChatId, MessageId};

/// GREEN-API's answer to getContactInfo on a group.
const NO_GROUPS: &str = "The method GetContactInfo does not support group chats, to work with groups, use the GetGroupData method";

/// A request the sandbox refuses, with GREEN-API's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 400 `Validation failed. Details: <details>`.
    Validation(String),
    /// 400 `Contact <id> not found` (MAX sendContact).
    ContactNotFound(String),
    /// 500 `request entity too large`: the JSON body is over 100 KB.
    TooLarge,
}

impl Refusal {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Refusal::Validation(_) | Refusal::ContactNotFound(_) => StatusCode::BAD_REQUEST,
            Refusal::TooLarge => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer's `message`, one line.
    pub(crate) fn message(&self) -> String {
        match self {
            Refusal::Validation(details) => format!("Validation failed. Details: {details}"),
            Refusal::ContactNotFound(id) => format!("Contact {id} not found"),
            Refusal::TooLarge => "request entity too large".to_owned(),
        }
    }
}

/// The largest file sendFileByUpload takes: the client's limit, as GREEN-API documents it
/// (100 MB).
pub(crate) const MAX_UPLOAD_BYTES: usize =
    crate::gateway::green_api::rules::MAX_UPLOAD_BYTES as usize;

pub(crate) use replies::{
    ReplyMethod, forward_messages, read_chat, send_buttons, send_file_by_upload, send_file_by_url,
    send_location, send_poll, send_typing,
};

type Checked<T> = Result<T, Refusal>;

fn invalid(details: impl Into<String>) -> Refusal {
    Refusal::Validation(details.into())
}

/// A checked sendMessage.
#[derive(Debug)]
pub(crate) struct TextRequest {
    pub(crate) chat: ChatId,
    pub(crate) text: String,
    pub(crate) quoted: Option<MessageId>,
}

/// A checked sendContact.
#[derive(Debug)]
pub(crate) struct ContactRequest {
    pub(crate) chat: ChatId,
    pub(crate) card: SharedCard,
    pub(crate) quoted: Option<MessageId>,
}

/// The body as a JSON object.
pub(crate) fn object(body: &[u8]) -> Checked<Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(invalid("the body must be a JSON object")),
        Err(_) => Err(invalid("the body is not valid JSON")),
    }
}

/// The `chatId` a body names, when it names one: where a refusal is shown.
pub(crate) fn named_chat(body: &Map<String, Value>) -> Option<ChatId> {
    body.get("chatId")
        .and_then(Value::as_str)
        .filter(|chat| !chat.trim().is_empty())
        .map(ChatId::from)
}

/// sendMessage: `chatId`, `message` (not empty, within the platform's length), optional
/// `quotedMessageId` and `typingTime`, and on Telegram `typingType`.
pub(crate) fn send_message(platform: Platform, body: &Map<String, Value>) -> Checked<TextRequest> {
    let chat = send_target(platform, body, "chatId")?;
    let text = match body.get("message") {
        None | Some(Value::Null) => return Err(invalid("message is required")),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err(invalid("message must be a string")),
    };
    if text.trim().is_empty() {
        return Err(invalid("message must not be empty"));
    }
    let max = platform.rules().max_text_chars;
    let chars = text.chars().count();
    if chars > max {
        return Err(invalid(format!(
            "message must be at most {max} characters, has {chars}"
        )));
    }
    typing_time(body)?;
    if platform.rules().typing_type {
        typing_type(body)?;
    }
    Ok(TextRequest {
        chat,
        text,
        quoted: quoted_message_id(body)?,
    })
}

/// sendContact: `chatId` and `contact`, as the platform's [`Cards`] say: `phoneContact` (an
/// integer of the documented digits) and at least one name (WhatsApp, Telegram — which has no
/// `middleName`, so it is ignored there); or `contact.chatId` of a contact in the contact list
/// (MAX). Optional `quotedMessageId` where the platform takes it (ignored elsewhere), optional
/// `typingTime`.
pub(crate) fn send_contact(
    platform: Platform,
    contacts: &[Contact],
    body: &Map<String, Value>,
) -> Checked<ContactRequest> {
    let chat = send_target(platform, body, "chatId")?;
    let contact = match body.get("contact") {
        Some(Value::Object(contact)) => contact,
        None | Some(Value::Null) => return Err(invalid("contact is required")),
        Some(_) => return Err(invalid("contact must be an object")),
    };
    typing_time(body)?;
    let rules = platform.rules();
    let card = match rules.cards {
        Cards::ByPhone {
            digits,
            middle_name,
        } => phone_card(contact, digits, middle_name)?,
        Cards::ByChatId => chat_card(contacts, contact)?,
    };
    let quoted = if rules.quote_contact {
        quoted_message_id(body)?
    } else {
        None
    };
    Ok(ContactRequest { chat, card, quoted })
}

/// getContactInfo: the `chatId` of a person, not a group.
pub(crate) fn contact_info(platform: Platform, body: &Map<String, Value>) -> Checked<ChatId> {
    let chat = chat_id(platform, body, "chatId")?;
    if platform.rules().chat_ids.is_group(chat.as_str()) {
        return Err(invalid(NO_GROUPS));
    }
    Ok(chat)
}

/// A message of a person through the sandbox: the chat it goes to.
pub(crate) fn user_message(
    platform: Platform,
    message: &UserMessage,
) -> Result<ChatId, SandboxError> {
    let rules = platform.rules();
    if !rules.chat_ids.is_person(message.from.as_str()) {
        return Err(SandboxError::InvalidSender {
            from: message.from.to_string(),
            expected: rules.chat_ids.person_shape(),
        });
    }
    if let Some(chat) = &message.chat
        && !rules.chat_ids.is_group(chat.as_str())
    {
        return Err(SandboxError::NotAGroup {
            chat: chat.to_string(),
            expected: rules.chat_ids.group_shape(),
        });
    }
    if message.text.trim().is_empty() {
        return Err(SandboxError::EmptyText);
    }
    let max = rules.max_text_chars;
    let actual = message.text.chars().count();
    if actual > max {
        return Err(SandboxError::TextTooLong { max, actual });
    }
    Ok(message.chat_id())
}

/// The chat id at `field` of a send: a string in one of the platform's shapes, or where the
/// platform takes one (Telegram), a phone number as `digits@c.us`.
fn send_target(platform: Platform, body: &Map<String, Value>, field: &str) -> Checked<ChatId> {
    let rules = platform.rules();
    chat_in(platform, body, field, |id| rules.is_send_target(id))
}

/// The chat id at `field`: a string in one of the platform's shapes.
fn chat_id(platform: Platform, body: &Map<String, Value>, field: &str) -> Checked<ChatId> {
    let rules = platform.rules();
    chat_in(platform, body, field, |id| rules.chat_ids.is_chat(id))
}

/// The chat id at `field`: a string that `accepts` takes.
fn chat_in(
    platform: Platform,
    body: &Map<String, Value>,
    field: &str,
    accepts: impl Fn(&str) -> bool,
) -> Checked<ChatId> {
    let rules = platform.rules();
    match body.get(field) {
        None | Some(Value::Null) => Err(invalid(format!("{field} is required"))),
        Some(Value::String(id)) if accepts(id) => Ok(ChatId::from(id.as_str())),
        Some(Value::String(id)) => Err(invalid(format!(
            "{field} must be {}, is {id:?}",
            rules.chat_id_shape
        ))),
        Some(_) => Err(invalid(format!("{field} must be a string"))),
    }
}

/// `typingTime`, when present: an integer of milliseconds within GREEN-API's bounds.
fn typing_time(body: &Map<String, Value>) -> Checked<()> {
    let (min, max) = TYPING_TIME_MS;
    match body.get("typingTime") {
        None | Some(Value::Null) => Ok(()),
        Some(value) if value.as_u64().is_some_and(|ms| (min..=max).contains(&ms)) => Ok(()),
        Some(value) => Err(invalid(format!(
            "typingTime must be an integer from {min} to {max} (milliseconds), is {value}"
        ))),
    }
}

/// `typingType`, when present: a string, one of Telegram's chat actions (GREEN-API gives no
/// complete list, so any word is taken).
fn typing_type(body: &Map<String, Value>) -> Checked<()> {
    match body.get("typingType") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(kind)) if !kind.trim().is_empty() => Ok(()),
        Some(value) => Err(invalid(format!(
            "typingType must be the name of a chat action, is {value}"
        ))),
    }
}

/// `quotedMessageId`, when present: a string.
fn quoted_message_id(body: &Map<String, Value>) -> Checked<Option<MessageId>> {
    match body.get("quotedMessageId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if id.is_empty() => Ok(None),
        Some(Value::String(id)) => Ok(Some(MessageId::from(id.as_str()))),
        Some(_) => Err(invalid("quotedMessageId must be a string")),
    }
}

/// A contact object by phone: `phoneContact` of `min..=max` digits and at least one of the
/// names (`middleName` only where the platform takes it).
fn phone_card(
    contact: &Map<String, Value>,
    (min, max): (usize, usize),
    takes_middle_name: bool,
) -> Checked<SharedCard> {
    let phone = contact.get("phoneContact");
    let phone_contact = phone
        .and_then(Value::as_u64)
        .filter(|phone| (min..=max).contains(&phone.to_string().len()))
        .ok_or_else(|| match phone {
            None | Some(Value::Null) => invalid("contact.phoneContact is required"),
            Some(value) => invalid(format!(
                "contact.phoneContact must be an integer of {min} to {max} digits, is {value}"
            )),
        })?;
    let card = SharedCard {
        phone_contact: Some(phone_contact),
        first_name: name(contact, "firstName")?,
        middle_name: if takes_middle_name {
            name(contact, "middleName")?
        } else {
            None
        },
        last_name: name(contact, "lastName")?,
        company: name(contact, "company")?,
        chat_id: None,
    };
    let names = [
        &card.first_name,
        &card.middle_name,
        &card.last_name,
        &card.company,
    ];
    if names
        .iter()
        .all(|name| name.as_deref().is_none_or(|name| name.trim().is_empty()))
    {
        let names = if takes_middle_name {
            "firstName, middleName, lastName, company"
        } else {
            "firstName, lastName, company"
        };
        return Err(invalid(format!("contact needs at least one of {names}")));
    }
    Ok(card)
}

/// A name field of the contact object, when present: a string.
fn name(contact: &Map<String, Value>, field: &str) -> Checked<Option<String>> {
    match contact.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) => Ok(Some(name.clone())),
        Some(_) => Err(invalid(format!("contact.{field} must be a string"))),
    }
}

/// A contact object by chat id: `chatId` of a person in the instance's contact list.
fn chat_card(contacts: &[Contact], contact: &Map<String, Value>) -> Checked<SharedCard> {
    let id = match contact.get("chatId") {
        None | Some(Value::Null) => return Err(invalid("contact.chatId is required")),
        Some(Value::String(id)) => id.as_str(),
        Some(_) => return Err(invalid("contact.chatId must be a string")),
    };
    let known = contacts
        .iter()
        .any(|known| known.kind == ContactKind::User && known.chat_id.as_str() == id);
    if !known {
        return Err(Refusal::ContactNotFound(id.to_owned()));
    }
    Ok(SharedCard {
        chat_id: Some(ChatId::from(id)),
        ..SharedCard::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::seed_contacts_for;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => unreachable!("tests pass objects"),
        }
    }

    fn details(refusal: Refusal) -> String {
        refusal.message()
    }

    #[test]
    fn send_message_checks_chat_text_and_typing() {
        let ok = send_message(
            Platform::WhatsApp,
            &body(json!({"chatId": "79001234567@c.us", "message": "hi", "quotedMessageId": "AB"})),
        )
        .unwrap();
        assert_eq!(ok.quoted, Some(MessageId::from("AB")));
        let refused = |value| details(send_message(Platform::WhatsApp, &body(value)).unwrap_err());
        assert!(refused(json!({"chatId": "79001234567", "message": "hi"})).contains("chatId"));
        assert!(refused(json!({"chatId": "79001234567@c.us", "message": " "})).contains("message"));
        assert!(
            refused(json!({"chatId": "79001234567@c.us", "message": "x".repeat(20001)}))
                .contains("20000")
        );
        assert!(
            refused(json!({"chatId": "79001234567@c.us", "message": "x", "typingTime": 999}))
                .contains("typingTime")
        );
        let max = send_message(
            Platform::Max,
            &body(json!({"chatId": "10000000", "message": "x".repeat(4001)})),
        );
        assert!(details(max.unwrap_err()).contains("4000"));
    }

    #[test]
    fn whatsapp_contact_needs_a_phone_of_11_or_12_digits_and_a_name() {
        let contacts = seed_contacts_for(Platform::WhatsApp);
        let send = |contact: Value| {
            send_contact(
                Platform::WhatsApp,
                &contacts,
                &body(json!({"chatId": "79001234567@c.us", "contact": contact})),
            )
        };
        assert!(send(json!({"phoneContact": 79001234568_u64, "company": "Велосипед"})).is_ok());
        assert!(
            details(send(json!({"phoneContact": 7900123456_u64, "firstName": "A"})).unwrap_err())
                .contains("phoneContact")
        );
        assert!(
            details(send(json!({"phoneContact": "79001234568", "firstName": "A"})).unwrap_err())
                .contains("phoneContact")
        );
        assert!(
            details(send(json!({"phoneContact": 79001234568_u64, "firstName": ""})).unwrap_err())
                .contains("firstName")
        );
    }

    #[test]
    fn max_contact_must_be_in_the_contact_list() {
        let contacts = seed_contacts_for(Platform::Max);
        let send = |id: &str| {
            send_contact(
                Platform::Max,
                &contacts,
                &body(json!({"chatId": "10000000", "contact": {"chatId": id}})),
            )
        };
        assert_eq!(
            send("10000001").unwrap().card.chat_id,
            Some(ChatId::from("10000001"))
        );
        assert_eq!(
            send("20000001").unwrap_err(),
            Refusal::ContactNotFound("20000001".into())
        );
    }

    #[test]
    fn telegram_takes_4096_characters_a_phone_chat_and_a_typing_type() {
        let send = |value| send_message(Platform::Telegram, &body(value));
        assert!(send(json!({"chatId": "-1001234567890", "message": "x".repeat(4096)})).is_ok());
        assert!(
            details(send(json!({"chatId": "10000000", "message": "x".repeat(4097)})).unwrap_err())
                .contains("4096")
        );
        let to_phone = send(json!({"chatId": "79001234567@c.us", "message": "hi",
                                   "typingTime": 2000, "typingType": "choose_contact"}));
        assert_eq!(to_phone.unwrap().chat, ChatId::from("79001234567@c.us"));
        assert!(
            details(
                send(json!({"chatId": "10000000", "message": "hi", "typingType": 5})).unwrap_err()
            )
            .contains("typingType")
        );
        assert!(
            contact_info(
                Platform::Telegram,
                &body(json!({"chatId": "79001234567@c.us"}))
            )
            .is_err()
        );
    }

    #[test]
    fn telegram_contact_is_by_phone_without_a_middle_name() {
        let contacts = seed_contacts_for(Platform::Telegram);
        let send = |contact: Value| {
            send_contact(
                Platform::Telegram,
                &contacts,
                &body(json!({"chatId": "10000000", "contact": contact, "quotedMessageId": "Q"})),
            )
        };
        let sent =
            send(json!({"phoneContact": 79998887766_u64, "firstName": "Иван", "middleName": "X"}))
                .unwrap();
        assert_eq!(sent.quoted, Some(MessageId::from("Q")));
        assert_eq!(sent.card.middle_name, None);
        let refused =
            send(json!({"phoneContact": 79998887766_u64, "middleName": "X"})).unwrap_err();
        assert!(details(refused).contains("firstName, lastName, company"));
        assert!(
            details(
                send(json!({"phoneContact": 1234567890123456_u64, "firstName": "A"})).unwrap_err()
            )
            .contains("7 to 15 digits")
        );
    }

    #[test]
    fn contact_info_refuses_groups_with_green_apis_text() {
        let refusal =
            contact_info(Platform::Max, &body(json!({"chatId": "-10000000000000"}))).unwrap_err();
        assert_eq!(
            refusal.message(),
            format!("Validation failed. Details: {NO_GROUPS}")
        );
    }
}
