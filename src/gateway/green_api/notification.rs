//! GREEN-API's webhook notifications, WhatsApp and MAX alike, read into [`Event`]s.
//!
//! Every notification has `typeWebhook`, `instanceData` and `timestamp` (unix seconds); each
//! type adds its own fields, and a message's `messageData.typeMessage` names where its payload
//! sits. Fields are read leniently: missing or mistyped ones read as empty.

use std::sync::Arc;

use serde_json::Value;

use crate::event::{
    Block, Call, Content, DeliveryStatus, Direction, Event, EventKind, InstanceState, Location,
    Media, MediaKind, Message, MessageStatus, Poll, PollVotes, SharedContact,
};
use crate::gateway::GatewayKind;
use crate::gateway::json::{self, at, first_text, string, text};
use crate::gateway::validate::is_digits;
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
/// name WhatsApp or MAX.
pub(crate) fn parse(value: Value, gateway: GatewayKind) -> Event {
    let kind = match json::str_at(&value, "/typeWebhook") {
        "incomingMessageReceived" => EventKind::Message(message(&value, Direction::Incoming)),
        "outgoingMessageReceived" => EventKind::Message(message(&value, Direction::SentFromPhone)),
        "outgoingAPIMessageReceived" => EventKind::Message(message(&value, Direction::SentByApi)),
        "outgoingMessageStatus" => EventKind::Status(status(&value)),
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
        raw: Arc::new(value),
    }
}

/// The instance a notification names (`instanceData.idInstance`); empty when it names none.
pub(crate) fn instance_id(value: &Value) -> String {
    string(value, "/instanceData/idInstance")
}

/// The gateway `instanceData.typeInstance` names: `v3` is MAX.
fn instance_gateway(value: &Value) -> Option<GatewayKind> {
    match json::str_at(value, "/instanceData/typeInstance") {
        "whatsapp" => Some(GatewayKind::GreenApiWhatsApp),
        "v3" => Some(GatewayKind::GreenApiMax),
        _ => None,
    }
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
    let phone = json::digits(&text(value, pointer)?);
    (!phone.trim_start_matches('0').is_empty()).then_some(phone)
}

/// The phone number of a WhatsApp `digits@c.us` chat.
fn phone_of_chat(chat: &ChatId) -> Option<String> {
    let user = chat.as_str().strip_suffix("@c.us")?;
    is_digits(user).then(|| user.to_owned())
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

/// One `{displayName, vcard}` entry; MAX adds `chatId` and `phoneNumber`.
fn shared_contact(entry: &Value) -> SharedContact {
    let entry = entry.get("contactMessageData").unwrap_or(entry);
    let mut contact = text(entry, "/vcard").map_or_else(SharedContact::default, |vcard| {
        SharedContact::from_vcard(&vcard)
    });
    if let Some(name) = text(entry, "/displayName").filter(|name| !name.trim().is_empty()) {
        contact.name = name.trim().to_owned();
    }
    contact.chat_id = text(entry, "/chatId").map(ChatId::from);
    if let Some(phone) = phone_number(entry, "/phoneNumber") {
        contact.add_phone(phone);
    }
    contact
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
    let state = string(value, pointer);
    let connected = match state.as_str() {
        "authorized" | "online" => Some(true),
        "notAuthorized" | "blocked" | "sleepMode" | "starting" | "pendingCode" | "offline" => {
            Some(false)
        }
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
