//! GREEN-API's webhook notifications, WhatsApp, MAX and Telegram alike, read into [`Event`]s.
//!
//! Every notification has `typeWebhook`, `instanceData` and `timestamp` (unix seconds); each
//! type adds its own fields, and a message's `messageData.typeMessage` names where its payload
//! sits. Fields are read leniently: missing or mistyped ones read as empty.

use std::borrow::Cow;

use serde_json::Value;

use super::rules::{Platform, whatsapp_phone};
use crate::contact::PeerKind;
use crate::event::{
    Block, Call, Content, DeliveryStatus, Direction, Event, EventKind, InstanceState, Location,
    Media, MediaKind, Message, MessageStatus, Poll, PollVotes, RawJson, SharedContact,
};
use crate::gateway::GatewayKind;
use crate::gateway::json::{self, at, first_text, string, text};
use crate::id::{ChatId, MessageId};

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

/// Reads a notification from its text in one pass, straight into the fields hookbot reads,
/// without building a [`Value`] tree: for the messages bots get most (`textMessage`s). `None`
/// for every other notification, and for text this pass does not take as it is (not an
/// object, a duplicate key, a message field of an odd shape): the caller then reads it
/// through a [`Value`] with [`parse`], which gives the same event for the text this pass
/// takes.
pub(crate) fn parse_text(text: &str, gateway: GatewayKind) -> Option<Event> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let wire: wire::Notification<'_> = serde_json::from_str(text).ok()?;
    let data = wire.message_data.0?;
    let instance = wire.instance_data.0.unwrap_or_default();
    let sender_data = wire.sender_data.0.unwrap_or_default();
    let chat: ChatId = sender_data.chat_id.id().unwrap_or_else(|| ChatId::from(""));
    // In a private chat the sender is the chat: share its id rather than copy it.
    let sender = match sender_data.sender.as_str() {
        same if !same.is_empty() && same == chat.as_str() => chat.clone(),
        _ => sender_data.sender.id().unwrap_or_else(|| chat.clone()),
    };
    let quoted = [
        &data.quoted_message.0.unwrap_or_default().stanza_id,
        &data
            .extended_text_message_data
            .0
            .unwrap_or_default()
            .stanza_id,
    ]
    .into_iter()
    .find_map(|stanza| stanza.text().map(|id| MessageId::from(&*id)));
    let message = Message {
        id: wire.id_message.id().unwrap_or_else(|| MessageId::from("")),
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
        direction: wire.type_webhook.0,
        is_group: chat.is_group(),
        quoted,
        content: text_content(
            data.text_message_data
                .0
                .map(|text| text.text_message.string())
                .unwrap_or_default(),
        ),
        chat,
        sender,
    };
    Some(Event {
        gateway: gateway_of_type(instance.type_instance.as_str()).unwrap_or(gateway),
        instance: instance.id_instance.string().into(),
        timestamp: wire.timestamp.unsigned().and_then(json::unix_seconds),
        kind: EventKind::Message(Box::new(message)),
        raw: RawJson::from_text(text),
    })
}

/// The notification shapes [`parse_text`] reads: only the fields hookbot uses; any other is
/// skipped unread.
mod wire {
    use serde::de::{Deserialize, Deserializer, Error};

    use crate::event::Direction;
    use crate::gateway::json::{Object, Scalar};

    /// A message notification.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Notification<'a> {
        pub(super) type_webhook: MessageWebhook,
        #[serde(borrow, default)]
        pub(super) instance_data: Object<InstanceData<'a>>,
        #[serde(borrow, default)]
        pub(super) timestamp: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) id_message: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) sender_data: Object<SenderData<'a>>,
        #[serde(borrow)]
        pub(super) message_data: Object<MessageData<'a>>,
    }

    /// `instanceData`.
    #[derive(Default, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct InstanceData<'a> {
        #[serde(borrow, default)]
        pub(super) id_instance: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) type_instance: Scalar<'a>,
    }

    /// `senderData`.
    #[derive(Default, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct SenderData<'a> {
        #[serde(borrow, default)]
        pub(super) chat_id: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) chat_name: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) sender: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) sender_name: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) sender_contact_name: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) sender_phone_number: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) sender_type: Scalar<'a>,
        #[serde(borrow, default)]
        pub(super) chat_type: Scalar<'a>,
    }

    /// `messageData` of a `textMessage`.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct MessageData<'a> {
        #[serde(rename = "typeMessage")]
        pub(super) _type_message: TextMessage,
        #[serde(borrow, default)]
        pub(super) text_message_data: Object<TextMessageData<'a>>,
        #[serde(borrow, default)]
        pub(super) quoted_message: Object<Stanza<'a>>,
        #[serde(borrow, default)]
        pub(super) extended_text_message_data: Object<Stanza<'a>>,
    }

    /// `textMessageData`.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct TextMessageData<'a> {
        #[serde(borrow, default)]
        pub(super) text_message: Scalar<'a>,
    }

    /// `quotedMessage` or `extendedTextMessageData`: the quoted message's id.
    #[derive(Default, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Stanza<'a> {
        #[serde(borrow, default)]
        pub(super) stanza_id: Scalar<'a>,
    }

    /// A `typeWebhook` of a message, read as its direction; any other type stops the parse
    /// at once.
    pub(super) struct MessageWebhook(pub(super) Direction);

    impl<'de> Deserialize<'de> for MessageWebhook {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            match Scalar::deserialize(deserializer)?.as_str() {
                "incomingMessageReceived" => Ok(MessageWebhook(Direction::Incoming)),
                "outgoingMessageReceived" => Ok(MessageWebhook(Direction::SentFromPhone)),
                "outgoingAPIMessageReceived" => Ok(MessageWebhook(Direction::SentByApi)),
                _ => Err(D::Error::custom("not a message notification")),
            }
        }
    }

    /// A `typeMessage` of `textMessage`; any other type stops the parse at once.
    pub(super) struct TextMessage;

    impl<'de> Deserialize<'de> for TextMessage {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            match Scalar::deserialize(deserializer)?.as_str() {
                "textMessage" => Ok(TextMessage),
                _ => Err(D::Error::custom("not a text message")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event the [`Value`] path reads from `text`.
    fn through_value(text: &str) -> Event {
        let value: Value = serde_json::from_str(text).expect("test JSON");
        parse(value, GatewayKind::GreenApiWhatsApp)
    }

    #[test]
    fn one_pass_reads_a_text_message_as_the_value_path_does() {
        let taken = [
            r#"{"typeWebhook":"incomingMessageReceived","instanceData":{"idInstance":1101000001,"wid":"7@c.us","typeInstance":"whatsapp"},"timestamp":1700000000,"idMessage":"M1","senderData":{"chatId":"79001234567@c.us","chatName":"A","sender":"79001234567@c.us","senderName":"Anna","senderContactName":"","senderPhoneNumber":79001234567},"messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"hi"}}}"#,
            r#"{"messageData":{"textMessageData":{"textMessage":"esc\"aped \u00e9"},"typeMessage":"textMessage","quotedMessage":{"stanzaId":"Q1"}},"typeWebhook":"outgoingAPIMessageReceived","instanceData":{"idInstance":"12","typeInstance":"v3"},"timestamp":"17","idMessage":12,"senderData":{"chatId":"120363@g.us","sender":"79001234567@c.us","senderPhoneNumber":"0"}}"#,
            r#"{"typeWebhook":"outgoingMessageReceived","instanceData":[1],"timestamp":-1,"idMessage":null,"senderData":"x","messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":{"a":1}},"extendedTextMessageData":{"stanzaId":7},"quotedMessage":{"stanzaId":""}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","timestamp":1.5,"senderData":{"chatId":"","sender":5},"messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":" {{SWE001}} "},"quotedMessage":[{"stanzaId":"no"}]},"more":{"deep":[1,{"x":null}]}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","instanceData":{"idInstance":4100000001,"wid":"39990000","typeInstance":"telegram"},"timestamp":1705521510,"idMessage":"1402","senderData":{"chatId":"-1001234567890","chatName":"Hookbot testers","sender":"20000000","senderName":"Helper","senderPhoneNumber":0,"chatType":"supergroup","senderType":"bot"},"messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"contact ivan"}}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","senderData":{"chatId":"10000000","sender":"10000000","chatType":7,"senderType":"robot"},"messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"hi"}}}"#,
        ];
        for text in taken {
            let event = parse_text(text, GatewayKind::GreenApiWhatsApp).expect(text);
            assert_eq!(event, through_value(text), "{text}");
            assert_eq!(event.raw.as_str(), text);
        }
    }

    #[test]
    fn one_pass_leaves_other_notifications_to_the_value_path() {
        for text in [
            r#"{"typeWebhook":"outgoingMessageStatus","chatId":"1@c.us","status":"read"}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"imageMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":["textMessage"]}"#,
            r#"{"typeWebhook":"incomingMessageReceived"}"#,
            r#"{"typeWebhook":{"incomingMessageReceived":null},"messageData":{"typeMessage":"textMessage"}}"#,
            r#"{"typeWebhook":"incomingMessageReceived","idMessage":"A","idMessage":"B","messageData":{"typeMessage":"textMessage"}}"#,
            r#"["typeWebhook"]"#,
            r#"{"typeWebhook":"incomingMessageReceived","messageData":{"typeMessage":"textMessage"}} x"#,
        ] {
            assert!(
                parse_text(text, GatewayKind::GreenApiWhatsApp).is_none(),
                "{text}"
            );
        }
    }
}
