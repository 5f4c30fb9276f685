//! GREEN-API's webhook notifications, WhatsApp, MAX and Telegram alike, read into [`Event`]s.
//!
//! Every notification has `typeWebhook`, `instanceData` and `timestamp` (unix seconds); each
//! type adds its own fields, and a message's `messageData.typeMessage` names where its payload
//! sits. Fields are read leniently: missing or mistyped ones read as empty.

use std::borrow::Cow;

use serde_json::Value;

use scan::TextKind;

use super::rules::{Platform, whatsapp_phone};
use crate::contact::PeerKind;
use crate::event::{
    Block, Call, Content, DeliveryStatus, Direction, Event, EventKind, InstanceState, Location,
    Media, MediaKind, Message, MessageStatus, Poll, PollVotes, RawJson, SharedContact,
};
use crate::gateway::GatewayKind;
use crate::gateway::json::{self, at, first_text, string, text};
use crate::id::{ChatId, MessageId};

mod scan;

/// The text GREEN-API puts in a message it could not decrypt.
const UNDECRYPTABLE: &str = "{{SWE001}}";

/// The `typeMessage`s of a picked button or list row.
const BUTTON_REPLIES: [&str; 5] = [
    "buttonsResponseMessage",
    "templateButtonsReplyMessage",
    "templateButtonReplyMessage",
    "listResponseMessage",
    "interactiveButtonsResponse",
];

/// Reads a notification; `gateway` is the fallback when `instanceData.typeInstance` does not
/// name WhatsApp, MAX or Telegram.
pub(crate) fn parse(value: Value, gateway: GatewayKind) -> Event {
    let kind = match json::str_at(&value, "/typeWebhook") {
        "incomingMessageReceived" => {
            EventKind::Message(Box::new(message(&value, Direction::Incoming)))
        }
        "outgoingMessageReceived" => {
            EventKind::Message(Box::new(message(&value, Direction::SentFromPhone)))
        }
        "outgoingAPIMessageReceived" => {
            EventKind::Message(Box::new(message(&value, Direction::SentByApi)))
        }
        "outgoingMessageStatus" => EventKind::Status(Box::new(status(&value))),
        "stateInstanceChanged" => {
            EventKind::InstanceState(instance_state(&value, "/stateInstance"))
        }
        "statusInstanceChanged" => {
            EventKind::InstanceState(instance_state(&value, "/statusInstance"))
        }
        "incomingCall" => EventKind::Call(call(&value)),
        "incomingBlock" => EventKind::Block(block(&value)),
        _ => EventKind::Unknown {
            type_name: string(&value, "/typeWebhook"),
        },
    };
    Event {
        gateway: instance_gateway(&value).unwrap_or(gateway),
        instance: instance_id(&value).into(),
        timestamp: json::unsigned(&value, "/timestamp").and_then(json::unix_seconds),
        kind,
        raw: RawJson::from_value(value),
    }
}

/// The instance a notification names (`instanceData.idInstance`); empty when it names none.
pub(crate) fn instance_id(value: &Value) -> String {
    string(value, "/instanceData/idInstance")
}

/// The gateway `instanceData.typeInstance` names.
fn instance_gateway(value: &Value) -> Option<GatewayKind> {
    gateway_of_type(json::str_at(value, "/instanceData/typeInstance"))
}

/// The gateway an `instanceData.typeInstance` names (`whatsapp`, MAX's `v3`, `telegram`).
fn gateway_of_type(type_instance: &str) -> Option<GatewayKind> {
    Platform::of_type_instance(type_instance).map(Platform::gateway_kind)
}

/// `incomingMessageReceived`, `outgoingMessageReceived`, `outgoingAPIMessageReceived`.
fn message(value: &Value, direction: Direction) -> Message {
    let data = at(value, "/messageData");
    let type_name = string(data, "/typeMessage");
    let sender_data = at(value, "/senderData");
    let chat: ChatId = json::id(sender_data, "/chatId").unwrap_or_else(|| ChatId::from(""));
    // In a private chat the sender is the chat: share its id rather than copy it.
    let sender = match json::str_at(sender_data, "/sender") {
        same if !same.is_empty() && same == chat.as_str() => chat.clone(),
        _ => json::id(sender_data, "/sender").unwrap_or_else(|| chat.clone()),
    };
    Message {
        id: json::id(value, "/idMessage").unwrap_or_else(|| MessageId::from("")),
        chat_name: string(sender_data, "/chatName"),
        sender_name: string(sender_data, "/senderName"),
        sender_contact_name: string(sender_data, "/senderContactName"),
        sender_phone: phone_number(sender_data, "/senderPhoneNumber")
            .or_else(|| phone_of_chat(&sender)),
        sender_kind: PeerKind::of_name(json::str_at(sender_data, "/senderType")),
        chat_kind: PeerKind::of_name(json::str_at(sender_data, "/chatType")),
        direction,
        is_group: chat.is_group(),
        quoted: quoted(data, &type_name),
        content: content(data, type_name),
        chat,
        sender,
    }
}

/// The digits of the phone number at `pointer`; `0` means hidden.
fn phone_number(value: &Value, pointer: &str) -> Option<String> {
    hidden_or_digits(text(value, pointer)?.into())
}

/// The digits of `phone` (`phone` itself, not a copy, when it is digits only and owned);
/// `None` when they are all `0` (hidden).
fn hidden_or_digits(phone: Cow<'_, str>) -> Option<String> {
    let phone = if phone.bytes().all(|byte| byte.is_ascii_digit()) {
        phone.into_owned()
    } else {
        json::digits(&phone)
    };
    (!phone.trim_start_matches('0').is_empty()).then_some(phone)
}

/// The phone number of a WhatsApp `digits@c.us` chat.
fn phone_of_chat(chat: &ChatId) -> Option<String> {
    whatsapp_phone(chat.as_str()).map(str::to_owned)
}

/// The message quoted: `quotedMessage.stanzaId`; for the deprecated `quotedMessage` type
/// `extendedTextMessageData.stanzaId`; for a picked button, the message with the buttons.
fn quoted(data: &Value, type_name: &str) -> Option<MessageId> {
    first_text(
        data,
        &[
            "/quotedMessage/stanzaId",
            "/extendedTextMessageData/stanzaId",
        ],
    )
    .or_else(|| text(button_reply_payload(data, type_name)?, "/stanzaId"))
    .map(MessageId::from)
}

/// The content of `messageData`, by its `typeMessage`.
fn content(data: &Value, type_name: String) -> Content {
    match type_name.as_str() {
        "textMessage" => text_content(string(data, "/textMessageData/textMessage")),
        "extendedTextMessage" | "quotedMessage" => text_content(
            first_text(
                data,
                &[
                    "/extendedTextMessageData/text",
                    "/extendedTextMessageData/textMessage",
                ],
            )
            .unwrap_or_default(),
        ),
        "imageMessage" => media(data, MediaKind::Image),
        "videoMessage" => media(data, MediaKind::Video),
        "audioMessage" => media(data, MediaKind::Audio),
        "documentMessage" => media(data, MediaKind::Document),
        "stickerMessage" => media(data, MediaKind::Sticker),
        "locationMessage" => location(at(data, "/locationMessageData")),
        "contactMessage" => {
            Content::Contacts(vec![shared_contact(at(data, "/contactMessageData"))])
        }
        "contactsArrayMessage" => Content::Contacts(contact_list(data)),
        "reactionMessage" => Content::Reaction {
            emoji: string(data, "/extendedTextMessageData/text"),
            target: message_id(data, "/quotedMessage/stanzaId"),
        },
        "pollMessage" => Content::Poll(poll(at(data, "/pollMessageData"))),
        "pollUpdateMessage" => Content::PollUpdate {
            target: message_id(data, "/pollMessageData/stanzaId"),
            poll: poll(at(data, "/pollMessageData")),
        },
        "editedMessage" => Content::Edited {
            target: message_id(data, "/editedMessageData/stanzaId"),
            text: first_text(
                data,
                &[
                    "/editedMessageData/textMessage",
                    "/editedMessageData/caption",
                ],
            )
            .unwrap_or_default(),
        },
        "deletedMessage" => Content::Deleted {
            target: message_id(data, "/deletedMessageData/stanzaId"),
        },
        _ => match button_reply_payload(data, &type_name) {
            Some(payload) => button_reply(payload),
            None => Content::Unknown { type_name },
        },
    }
}

/// A message id at `pointer`.
fn message_id(value: &Value, pointer: &str) -> Option<MessageId> {
    text(value, pointer).map(MessageId::from)
}

/// Text, unless it is GREEN-API's mark of an undecryptable message.
fn text_content(text: String) -> Content {
    if text.trim() == UNDECRYPTABLE {
        Content::Undecryptable
    } else {
        Content::Text(text)
    }
}

/// `fileMessageData` of an image, video, audio, document or sticker.
fn media(data: &Value, kind: MediaKind) -> Content {
    let file = at(data, "/fileMessageData");
    Content::Media(Media {
        kind,
        url: text(file, "/downloadUrl"),
        caption: text(file, "/caption"),
        file_name: text(file, "/fileName"),
        mime_type: text(file, "/mimeType"),
    })
}

/// `locationMessageData`.
fn location(data: &Value) -> Content {
    Content::Location(Location {
        latitude: json::number(data, "/latitude"),
        longitude: json::number(data, "/longitude"),
        name: text(data, "/nameLocation"),
        address: text(data, "/address"),
    })
}

/// One `{displayName, vcard}` entry; MAX adds `chatId` and `phoneNumber`, Telegram `chatId`,
/// `phoneContact`, `firstName` and `lastName`.
fn shared_contact(entry: &Value) -> SharedContact {
    let entry = entry.get("contactMessageData").unwrap_or(entry);
    let mut contact = text(entry, "/vcard").map_or_else(SharedContact::default, |vcard| {
        SharedContact::from_vcard(&vcard)
    });
    if let Some(name) = text(entry, "/displayName").filter(|name| !name.trim().is_empty()) {
        contact.name = name.trim().to_owned();
    }
    if contact.name.is_empty() {
        contact.name = first_and_last_name(entry);
    }
    contact.chat_id = text(entry, "/chatId").map(ChatId::from);
    contact.add_phones(phone_number(entry, "/phoneNumber"));
    contact.add_phones(phone_number(entry, "/phoneContact"));
    contact
}

/// Telegram's `firstName` and `lastName` joined by a space, blank parts left out.
fn first_and_last_name(entry: &Value) -> String {
    ["/firstName", "/lastName"]
        .into_iter()
        .filter_map(|pointer| text(entry, pointer))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The contacts of a `contactsArrayMessage`: documented under `messageData.contacts`, also
/// sent one level deeper (`messageData.messageData.contacts`).
fn contact_list(data: &Value) -> Vec<SharedContact> {
    let nested = || {
        data.as_object()?
            .values()
            .map(|inner| json::items(inner, "/contacts"))
            .find(|list| !list.is_empty())
    };
    let list = Some(json::items(data, "/contacts"))
        .filter(|list| !list.is_empty())
        .or_else(nested)
        .unwrap_or_default();
    list.iter().map(shared_contact).collect()
}

/// `pollMessageData`: the question, the options, and the votes of a `pollUpdateMessage`.
fn poll(data: &Value) -> Poll {
    Poll {
        name: string(data, "/name"),
        options: json::items(data, "/options")
            .iter()
            .filter_map(|option| text(option, "/optionName"))
            .collect(),
        multiple_answers: json::flag(data, "/multipleAnswers").unwrap_or(false),
        votes: json::items(data, "/votes").iter().map(poll_votes).collect(),
    }
}

/// One `votes` entry: an option and its voters.
fn poll_votes(vote: &Value) -> PollVotes {
    PollVotes {
        option: string(vote, "/optionName"),
        voters: json::items(vote, "/optionVoters")
            .iter()
            .filter_map(|voter| text(voter, ""))
            .map(ChatId::from)
            .collect(),
    }
}

/// The payload of a picked button or list row, when `type_name` is one; it sits under the
/// type's own name, except for template buttons (`templateButtonReplyMessage`).
fn button_reply_payload<'a>(data: &'a Value, type_name: &str) -> Option<&'a Value> {
    BUTTON_REPLIES.contains(&type_name).then(|| {
        data.get(type_name)
            .or_else(|| data.get("templateButtonReplyMessage"))
            .unwrap_or(&json::NULL)
    })
}

/// The id and label of the picked button or list row.
fn button_reply(payload: &Value) -> Content {
    Content::ButtonReply {
        id: first_text(
            payload,
            &[
                "/selectedButtonId",
                "/selectedId",
                "/selectedRowId",
                "/singleSelectReply/selectedRowId",
                "/singleSelectReply",
            ],
        )
        .unwrap_or_default(),
        text: first_text(
            payload,
            &["/selectedButtonText", "/selectedDisplayText", "/title"],
        )
        .unwrap_or_default(),
    }
}

/// `outgoingMessageStatus`: one message's delivery status.
fn status(value: &Value) -> MessageStatus {
    MessageStatus {
        chat: ChatId::from(string(value, "/chatId")),
        ids: message_id(value, "/idMessage").into_iter().collect(),
        status: delivery_status(string(value, "/status")),
        sent_by_api: json::flag(value, "/sendByApi"),
        description: text(value, "/description"),
    }
}

/// A status in GREEN-API's words.
fn delivery_status(status: String) -> DeliveryStatus {
    match status.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        "noAccount" => DeliveryStatus::NoAccount,
        "notInGroup" => DeliveryStatus::NotInGroup,
        "yellowCard" => DeliveryStatus::YellowCard,
        _ => DeliveryStatus::Other(status),
    }
}

/// `stateInstanceChanged` (authorization) or `statusInstanceChanged` (socket).
fn instance_state(value: &Value, pointer: &str) -> InstanceState {
    named_state(string(value, pointer))
}

/// The instance state GREEN-API names `state` (a notification's, or getStateInstance's).
pub(crate) fn named_state(state: String) -> InstanceState {
    let connected = match state.as_str() {
        "authorized" | "online" => Some(true),
        "notAuthorized" | "blocked" | "sleepMode" | "starting" | "pendingCode"
        | "pendingPassword" | "offline" => Some(false),
        _ => None,
    };
    InstanceState {
        state,
        connected,
        description: None,
    }
}

/// `incomingCall`.
fn call(value: &Value) -> Call {
    Call {
        id: message_id(value, "/idMessage"),
        from: ChatId::from(string(value, "/from")),
        status: string(value, "/status"),
    }
}

/// `incomingBlock`: the state is `statusBlock`, or `chatState` in the vendor's examples.
fn block(value: &Value) -> Block {
    Block {
        chat: ChatId::from(string(value, "/chatId")),
        state: first_text(value, &["/statusBlock", "/chatState"]).unwrap_or_default(),
    }
}

/// Reads a text message notification from its text with the [`scan`], without building a
/// [`Value`] tree: for the messages bots get most. `None` for every other notification, and
/// for text the scan does not take as it is (see [`scan`]): the caller then reads it through a
/// [`Value`] with [`parse`], which gives the same event for the text the scan takes.
pub(crate) fn parse_text(text: &str, gateway: GatewayKind) -> Option<Event> {
    let scanned = scan::text_message(text)?;
    let sender_data = &scanned.sender;
    let chat: ChatId = sender_data.chat_id.id().unwrap_or_else(|| ChatId::from(""));
    // In a private chat the sender is the chat: share its id rather than copy it.
    let sender = match sender_data.sender.as_str() {
        same if !same.is_empty() && same == chat.as_str() => chat.clone(),
        _ => sender_data.sender.id().unwrap_or_else(|| chat.clone()),
    };
    let extended = &scanned.extended;
    let quoted = [&scanned.quoted_stanza_id, &extended.stanza_id]
        .into_iter()
        .find_map(|stanza| stanza.text().map(|id| MessageId::from(&*id)));
    let text_of_kind = match scanned.kind? {
        TextKind::Plain => scanned.text_message.string(),
        TextKind::Extended => [&extended.text, &extended.text_message]
            .into_iter()
            .find_map(|text| text.text().map(Cow::into_owned))
            .unwrap_or_default(),
    };
    let message = Message {
        id: scanned
            .id_message
            .id()
            .unwrap_or_else(|| MessageId::from("")),
        chat_name: sender_data.chat_name.string(),
        sender_name: sender_data.sender_name.string(),
        sender_contact_name: sender_data.sender_contact_name.string(),
        sender_phone: sender_data
            .sender_phone_number
            .text()
            .and_then(hidden_or_digits)
            .or_else(|| phone_of_chat(&sender)),
        sender_kind: PeerKind::of_name(sender_data.sender_type.as_str()),
        chat_kind: PeerKind::of_name(sender_data.chat_type.as_str()),
        direction: scanned.direction?,
        is_group: chat.is_group(),
        quoted,
        content: text_content(text_of_kind),
        chat,
        sender,
    };
    Some(Event {
        gateway: gateway_of_type(scanned.type_instance.as_str()).unwrap_or(gateway),
        instance: scanned.id_instance.string().into(),
        timestamp: scanned.timestamp.unsigned().and_then(json::unix_seconds),
        kind: EventKind::Message(Box::new(message)),
        raw: RawJson::from_text(text),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;
    use serde_json::{Map, json};

    use super::*;

    /// The event the [`Value`] path reads from `text`.
    fn through_value(text: &str) -> Event {
        let value: Value = serde_json::from_str(text).expect("test JSON");
        parse(value, GatewayKind::GreenApiWhatsApp)
    }

    /// Whether the scan takes `text`; when it does, `text` must be a JSON object and the event
    /// the one the [`Value`] path reads, with `text` as its raw JSON.
    fn scan_agrees(text: &str) -> Result<bool, String> {
        let Some(event) = parse_text(text, GatewayKind::GreenApiWhatsApp) else {
            return Ok(false);
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(_)) => {}
            other => {
                return Err(format!(
                    "the scan took what JSON refuses ({other:?}): {text}"
                ));
            }
        }
        if event != through_value(text) {
            return Err(format!(
                "the scan read {event:#?}\nthe Value path {:#?}\nfrom {text}",
                through_value(text)
            ));
        }
        if event.raw.as_str() != text {
            return Err(format!("raw text changed: {text}"));
        }
        Ok(true)
    }

    /// The GREEN-API notification fixtures of `tests/fixtures/green_api`, by file name.
    fn fixtures() -> Vec<(String, String)> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/green_api");
        let mut fixtures: Vec<(String, String)> = std::fs::read_dir(&folder)
            .expect("the fixtures folder")
            .map(|entry| entry.expect("a fixture's entry").path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "json")
            })
            .map(|path| {
                let text = std::fs::read_to_string(&path).expect("a fixture's text");
                let name = path
                    .file_name()
                    .expect("a file name")
                    .to_string_lossy()
                    .into();
                (name, text)
            })
            .collect();
        fixtures.sort();
        fixtures
    }

    /// The benchmark's notification (`benches/throughput.rs`): the shape bots get most.
    const COMMON: &str = r#"{"typeWebhook":"incomingMessageReceived","instanceData":{"idInstance":1101000001,"wid":"79001234567@c.us","typeInstance":"whatsapp"},"timestamp":1700000000,"idMessage":"BENCH-1-2-3","senderData":{"chatId":"79000000042@c.us","chatName":"Client 79000000042","sender":"79000000042@c.us","senderName":"Client 79000000042","senderContactName":"","senderPhoneNumber":79000000042},"messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"contact Ivan Petrov"}}}"#;

    #[test]
    fn scan_reads_every_fixture_as_the_value_path_does() {
        let mut taken = Vec::new();
        for (name, text) in fixtures() {
            let value: Value = serde_json::from_str(&text).expect("a fixture is JSON");
            let compact = value.to_string();
            let pretty = serde_json::to_string_pretty(&value).expect("JSON writes out");
            for text in [&text, &compact, &pretty] {
                if scan_agrees(text).unwrap_or_else(|error| panic!("{name}: {error}")) {
                    taken.push(name.clone());
                }
            }
        }
        // The text messages of every messenger, each in its three renderings.
        for name in [
            "incoming_text.json",
            "incoming_extended_text.json",
            "incoming_quoted_message.json",
            "outgoing_text.json",
            "outgoing_api_text.json",
            "max_incoming_text.json",
            "telegram_bot_text.json",
        ] {
            assert_eq!(
                taken.iter().filter(|taken| *taken == name).count(),
                3,
                "{name}"
            );
        }
        assert!(scan_agrees(COMMON).expect("the common notification agrees"));
    }

    #[test]
    fn scan_reads_odd_but_valid_text_messages_as_the_value_path_does() {
        let taken = [
            r#"{"messageData":{"textMessageData":{"textMessage":"esc\"aped \u00e9 \ud83d\ude00 \/\b\f\n\r\t\\"},"typeMessage":"textMessage","quotedMessage":{"stanzaId":"Q1"}},"typeWebhook":"outgoingAPIMessageReceived","instanceData":{"idInstance":"12","typeInstance":"v3"},"timestamp":"17","idMessage":12,"senderData":{"chatId":"120363@g.us","sender":"79001234567@c.us","senderPhoneNumber":"0"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","instanceData":null,"timestamp":null,"idMessage":null,"senderData":null,"messageData":{"typeMessage":"quotedMessage","quotedMessage":{"stanzaId":""},"extendedTextMessageData":{"stanzaId":7,"text":"","textMessage":"second"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","senderData":{"chatId":"","sender":5},"messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":" {{SWE001}} "},"extendedTextMessageData":{"text":"ignored for a textMessage"}},"more":{"deep":[1,-0,-12,{"x":null,"x":true}],"e":"\u0000"},"more":false}"#,
            r#"{"typeWebhook":"incomingMessageReceived","instanceData":{"idInstance":4100000001,"wid":"39990000","typeInstance":"telegram"},"timestamp":1705521510,"idMessage":"1402","senderData":{"chatId":"-1001234567890","chatName":"Hookbot testers","sender":"20000000","senderName":"Helper","senderPhoneNumber":0,"chatType":"supergroup","senderType":"bot"},"messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"contact ivan"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","senderData":{"chatId":"10000000","sender":"10000000","chatType":"robot","senderType":""},"messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"hi"}}}"#,
            " \t\r\n{ \"typeWebhook\" : \"incomingMessageReceived\" , \"timestamp\" : 18446744073709551615 , \"messageData\" : { \"typeMessage\" : \"textMessage\" } , \"\" : [ ] , \"ключ\" : { } } \n",
            r#"{"typeWebhook":"incomingMessageReceived","timestamp":"  99 ","messageData":{"typeMessage":"extendedTextMessage","extendedTextMessageData":{"text":12}},"senderData":{"senderPhoneNumber":"+7 (900) 123-45-67","chatId":"79001234567@c.us"}}"#,
        ];
        for text in taken {
            assert_eq!(scan_agrees(text), Ok(true), "{text}");
        }
    }

    #[test]
    fn scan_leaves_what_it_is_not_sure_of_to_the_value_path() {
        let deep = format!(
            r#"{{"typeWebhook":"incomingMessageReceived","messageData":{{"typeMessage":"textMessage"}},"x":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let left = [
            // Other notifications and message types.
            r#"{"typeWebhook":"outgoingMessageStatus","chatId":"1@c.us","status":"read"}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"imageMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","typeMessage":"imageMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived"}"#,
            r#"{"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":7,"messageData":{"typeMessage":"textMessage"}}"#,
            // Shapes the Value path reads leniently: a field of another type.
            r#"{"typeWebhook":"incomingMessageReceived","messageData":["textMessage"]}"#,
            r#"{"typeWebhook":{"incomingMessageReceived":null},"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","instanceData":[1],"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","timestamp":-1,"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","timestamp":1.5,"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","idMessage":18446744073709551616,"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","idMessage":true,"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":{"a":1}}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","quotedMessage":[{"stanzaId":"no"}]}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},"x":1e400}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},"x":123456789012345678901234567890}"#,
            // Duplicate keys, which a Value keeps the last of.
            r#"{"typeWebhook":"incomingMessageReceived","idMessage":"A","idMessage":"B","messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"a","textMessage":"b"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","senderData":{},"senderData":{"chatId":"1@c.us"},"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},"typeWebhook":"incomingMessageReceived"}"#,
            // Escaped keys, and escapes or strings JSON refuses.
            r#"{"type\u0057ebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"\ud83d"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"\ude00"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"\ud83d\u0041"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"\x"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"\u12"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"\u+123"}}}"#,
            "{\"typeWebhook\":\"incomingMessageReceived\",\"messageData\":{\"typeMessage\":\"textMessage\",\"textMessageData\":{\"textMessage\":\"a\tb\"}}}",
            "{\"typeWebhook\":\"incomingMessageReceived\",\"messageData\":{\"typeMessage\":\"textMessage\"},\"x\":\"\n\"}",
            // Not JSON, or not only one object.
            r#"["typeWebhook"]"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"}} x"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},"x":[1,]}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},"x":01}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},"x":-}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},"x":tru}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"},"x":nulll}"#,
            r#"{"typeWebhook":"incomingMessageReceived" "messageData":{"typeMessage":"textMessage"}}"#,
            "\u{feff}{\"typeWebhook\":\"incomingMessageReceived\",\"messageData\":{\"typeMessage\":\"textMessage\"}}",
            &deep,
            "",
            "{",
            "{}",
        ];
        for text in left {
            assert!(
                parse_text(text, GatewayKind::GreenApiWhatsApp).is_none(),
                "{text}"
            );
        }
    }

    #[test]
    fn scan_takes_no_cut_notification() {
        for end in 0..COMMON.len() {
            if let Some(cut) = COMMON.get(..end) {
                assert!(
                    parse_text(cut, GatewayKind::GreenApiWhatsApp).is_none(),
                    "{cut}"
                );
            }
        }
    }

    /// Values of the fields the scan reads: mostly strings (with escapes, characters of every
    /// width), unsigned integers and `null`; now and then another type.
    fn field_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            2 => Just(Value::Null),
            4 => any::<u64>().prop_map(Value::from),
            4 => "[ -~]{0,12}".prop_map(Value::from),
            3 => "\\PC{0,8}".prop_map(Value::from),
            2 => "[\"\\\\/\u{8}\u{c}\n\r\t\u{0}\u{1f}é😀 0-9]{0,8}".prop_map(Value::from),
            3 => prop::sample::select(&[
                "", "0", "00", " 17 ", " {{SWE001}}", "79001234567@c.us", "120363@g.us",
                "whatsapp", "v3", "telegram", "user", "bot", "group", "supergroup",
            ][..]).prop_map(Value::from),
            1 => any_value(),
        ]
    }

    /// Any JSON value, nested a little.
    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(|number| json!(number)),
            "\\PC{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z]{1,3}", inner), 0..4)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    /// An object of some of `keys`, each with a generated value, and a stranger key or two.
    fn object_of(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
        let key = prop_oneof![4 => prop::sample::select(keys), 1 => Just("other")];
        prop::collection::vec((key, field_value()), 0..keys.len() + 2).prop_map(|fields| {
            let fields: Map<String, Value> = fields
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect();
            Value::Object(fields)
        })
    }

    /// A text message notification with generated fields, in any order; objects sometimes
    /// of another type.
    fn text_notification() -> impl Strategy<Value = Value> {
        let or_other =
            |object: BoxedStrategy<Value>| prop_oneof![12 => object, 1 => any_value()].boxed();
        let message_data = (
            prop::sample::select(
                &[
                    "textMessage",
                    "extendedTextMessage",
                    "quotedMessage",
                    "imageMessage",
                ][..],
            ),
            or_other(object_of(&["textMessage"]).boxed()),
            or_other(object_of(&["stanzaId"]).boxed()),
            or_other(object_of(&["text", "textMessage", "stanzaId"]).boxed()),
            prop::collection::vec(any::<bool>(), 3),
        )
            .prop_map(|(kind, text, quoted, extended, present)| {
                let mut data = Map::new();
                data.insert("typeMessage".into(), kind.into());
                for ((key, value), present) in [
                    ("textMessageData", text),
                    ("quotedMessage", quoted),
                    ("extendedTextMessageData", extended),
                ]
                .into_iter()
                .zip(present)
                {
                    if present {
                        data.insert(key.into(), value);
                    }
                }
                Value::Object(data)
            });
        (
            prop::sample::select(
                &[
                    "incomingMessageReceived",
                    "outgoingMessageReceived",
                    "outgoingAPIMessageReceived",
                    "outgoingMessageStatus",
                ][..],
            ),
            or_other(object_of(&["idInstance", "typeInstance", "wid"]).boxed()),
            or_other(
                object_of(&[
                    "chatId",
                    "chatName",
                    "sender",
                    "senderName",
                    "senderContactName",
                    "senderPhoneNumber",
                    "senderType",
                    "chatType",
                ])
                .boxed(),
            ),
            message_data,
            field_value(),
            field_value(),
            any_value(),
        )
            .prop_map(|(kind, instance, sender, message, timestamp, id, other)| {
                let mut notification = Map::new();
                notification.insert("other".into(), other);
                notification.insert("senderData".into(), sender);
                notification.insert("typeWebhook".into(), kind.into());
                notification.insert("idMessage".into(), id);
                notification.insert("instanceData".into(), instance);
                notification.insert("timestamp".into(), timestamp);
                notification.insert("messageData".into(), message);
                Value::Object(notification)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn scan_reads_generated_text_messages_as_the_value_path_does(
            value in text_notification(),
            pretty in any::<bool>(),
        ) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).expect("JSON writes out")
            } else {
                value.to_string()
            };
            let agrees = scan_agrees(&text);
            prop_assert!(agrees.is_ok(), "{}", agrees.unwrap_err());
        }

        #[test]
        fn scan_of_a_damaged_notification_agrees_or_gives_up(
            at in 0..COMMON.len(),
            bytes in prop::collection::vec(any::<u8>(), 0..4),
            cut in 0..4usize,
        ) {
            let mut damaged = COMMON.as_bytes().to_vec();
            let end = (at + cut).min(damaged.len());
            damaged.splice(at..end, bytes);
            if let Ok(text) = std::str::from_utf8(&damaged) {
                prop_assert!(scan_agrees(text).is_ok(), "{:?}", scan_agrees(text));
            }
        }
    }
}
