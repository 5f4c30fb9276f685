//! The Z-API family's webhook callbacks (Z-API, PlugzAPI) read into [`Event`]s.
//!
//! A callback names itself in `type`, in whatever letter case (`ReceivedCallback`,
//! `ReceivedCallBack`); `momment` (sometimes `moment`) is unix milliseconds. A received message
//! carries exactly one content object (`text`, `image`, `contact`, ...). Fields are read
//! leniently: missing or mistyped ones read as empty.

use serde_json::Value;

use crate::event::{
    Content, DeliveryStatus, Direction, Event, EventKind, InstanceState, Location, Media,
    MediaKind, Message, MessageStatus, Poll, PollVotes, RawJson, SharedContact,
};
use crate::gateway::GatewayKind;
use crate::gateway::json::{self, first_text, string, text};
use crate::gateway::validate::is_digits;
use crate::id::{ChatId, MessageId};

/// The content objects of a received message hookbot reads, in the order they are looked for.
const CONTENT_KEYS: [&str; 13] = [
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contact",
    "reaction",
    "poll",
    "pollVote",
    "buttonsResponseMessage",
    "listResponseMessage",
];

/// The instance a callback names (`instanceId`); empty when it names none.
pub(crate) fn instance_id(value: &Value) -> String {
    string(value, "/instanceId")
}

/// Reads a callback.
pub(crate) fn parse(value: Value) -> Event {
    let type_name = string(&value, "/type");
    let kind = match type_name.to_ascii_lowercase().as_str() {
        "receivedcallback" => EventKind::Message(Box::new(message(&value))),
        "messagestatuscallback" => EventKind::Status(Box::new(status(&value))),
        "deliverycallback" => EventKind::Status(Box::new(delivery(&value))),
        "connectedcallback" => EventKind::InstanceState(connection(&value, true)),
        "disconnectedcallback" => EventKind::InstanceState(connection(&value, false)),
        _ => EventKind::Unknown { type_name },
    };
    Event {
        gateway: GatewayKind::ZApi,
        instance: instance_id(&value).into(),
        timestamp: json::unsigned(&value, "/momment")
            .or_else(|| json::unsigned(&value, "/moment"))
            .and_then(json::unix_millis),
        kind,
        raw: RawJson::from_value(value),
    }
}

/// `ReceivedCallback`: a message received, or sent by the instance (`fromMe`).
fn message(value: &Value) -> Message {
    let chat = ChatId::from(string(value, "/phone"));
    let from_me = json::flag(value, "/fromMe").unwrap_or(false);
    let sender = sender(value, from_me).map_or_else(|| chat.clone(), ChatId::from);
    let id = MessageId::from(string(value, "/messageId"));
    let content = match (content(value, &sender), json::flag(value, "/isEdit")) {
        (Content::Text(text), Some(true)) => Content::Edited {
            target: Some(id.clone()),
            text,
        },
        (content, _) => content,
    };
    Message {
        id,
        chat_name: string(value, "/chatName"),
        sender_name: string(value, "/senderName"),
        sender_contact_name: String::new(),
        sender_phone: is_digits(sender.as_str()).then(|| sender.to_string()),
        sender_kind: None,
        chat_kind: None,
        direction: direction(value, from_me),
        is_group: json::flag(value, "/isGroup").unwrap_or(false) || chat.is_group(),
        quoted: text(value, "/referenceMessageId").map(MessageId::from),
        content,
        chat,
        sender,
    }
}

/// The group participant who wrote, or the instance's own number for its own messages;
/// `None` when the chat's person wrote.
fn sender(value: &Value, from_me: bool) -> Option<String> {
    text(value, "/participantPhone")
        .or_else(|| from_me.then(|| text(value, "/connectedPhone")).flatten())
}

/// `fromMe` and `fromApi`.
fn direction(value: &Value, from_me: bool) -> Direction {
    match (from_me, json::flag(value, "/fromApi").unwrap_or(false)) {
        (false, _) => Direction::Incoming,
        (true, true) => Direction::SentByApi,
        (true, false) => Direction::SentFromPhone,
    }
}

/// The message's one content object.
fn content(value: &Value, sender: &ChatId) -> Content {
    let found = CONTENT_KEYS
        .iter()
        .find_map(|&key| Some((key, value.get(key).filter(|payload| payload.is_object())?)));
    let Some((key, payload)) = found else {
        return Content::Unknown {
            type_name: unknown_type(value),
        };
    };
    match key {
        "text" => Content::Text(string(payload, "/message")),
        "image" => media(payload, MediaKind::Image, "/imageUrl"),
        "video" => media(payload, MediaKind::Video, "/videoUrl"),
        "audio" => media(payload, MediaKind::Audio, "/audioUrl"),
        "document" => media(payload, MediaKind::Document, "/documentUrl"),
        "sticker" => media(payload, MediaKind::Sticker, "/stickerUrl"),
        "location" => location(payload),
        "contact" => Content::Contacts(vec![shared_contact(payload)]),
        "reaction" => Content::Reaction {
            emoji: string(payload, "/value"),
            target: text(payload, "/referencedMessage/messageId").map(MessageId::from),
        },
        "poll" => Content::Poll(poll(payload)),
        "pollVote" => poll_vote(payload, sender),
        "buttonsResponseMessage" => button_reply(payload, "/buttonId", &["/message"]),
        "listResponseMessage" => button_reply(payload, "/selectedRowId", &["/title", "/message"]),
        _ => Content::Unknown {
            type_name: key.to_owned(),
        },
    }
}

/// The name of a message hookbot does not read: its `notification` (`GROUP_PARTICIPANT_ADD`,
/// ...), else the key of its content object (`product`, `order`, ...).
fn unknown_type(value: &Value) -> String {
    text(value, "/notification")
        .or_else(|| {
            let object = value.as_object()?;
            let (key, _) = object.iter().find(|(_, field)| field.is_object())?;
            Some(key.clone())
        })
        .unwrap_or_default()
}

/// An image, video, audio, document or sticker; `url` points at its link.
fn media(payload: &Value, kind: MediaKind, url: &str) -> Content {
    Content::Media(Media {
        kind,
        url: text(payload, url),
        caption: text(payload, "/caption"),
        file_name: text(payload, "/fileName"),
        mime_type: text(payload, "/mimeType"),
    })
}

/// `location`.
fn location(payload: &Value) -> Content {
    Content::Location(Location {
        latitude: json::number(payload, "/latitude"),
        longitude: json::number(payload, "/longitude"),
        name: text(payload, "/name"),
        address: text(payload, "/address"),
    })
}

/// `contact {displayName, vCard, phones[]}`.
fn shared_contact(payload: &Value) -> SharedContact {
    let mut contact = first_text(payload, &["/vCard", "/vcard"])
        .map_or_else(SharedContact::default, |vcard| {
            SharedContact::from_vcard(&vcard)
        });
    if let Some(name) = text(payload, "/displayName").filter(|name| !name.trim().is_empty()) {
        contact.name = name.trim().to_owned();
    }
    contact.add_phones(
        json::items(payload, "/phones")
            .iter()
            .filter_map(|phone| text(phone, ""))
            .map(|phone| json::digits(&phone)),
    );
    contact
}

/// `poll {question, options[{name}], pollMaxOptions}`; 0 options at most means any number.
fn poll(payload: &Value) -> Poll {
    Poll {
        name: string(payload, "/question"),
        options: option_names(payload),
        multiple_answers: json::unsigned(payload, "/pollMaxOptions").is_some_and(|max| max != 1),
        votes: Vec::new(),
    }
}

/// `pollVote {pollMessageId, options[{name}]}`: the sender's picks, each with the sender as
/// its voter.
fn poll_vote(payload: &Value, sender: &ChatId) -> Content {
    let votes = option_names(payload)
        .into_iter()
        .map(|option| PollVotes {
            option,
            voters: vec![sender.clone()],
        })
        .collect();
    Content::PollUpdate {
        target: text(payload, "/pollMessageId").map(MessageId::from),
        poll: Poll {
            votes,
            ..Poll::default()
        },
    }
}

/// The `name` of each entry of `options`.
fn option_names(payload: &Value) -> Vec<String> {
    json::items(payload, "/options")
        .iter()
        .filter_map(|option| text(option, "/name"))
        .collect()
}

/// A picked button or list row: its id at `id`, its label at the first of `labels`.
fn button_reply(payload: &Value, id: &str, labels: &[&str]) -> Content {
    Content::ButtonReply {
        id: string(payload, id),
        text: first_text(payload, labels).unwrap_or_default(),
    }
}

/// `MessageStatusCallback`: a status of one or more messages (`ids`).
fn status(value: &Value) -> MessageStatus {
    let word = string(value, "/status");
    let status = match word.to_ascii_uppercase().as_str() {
        "SENT" => DeliveryStatus::Sent,
        "RECEIVED" => DeliveryStatus::Delivered,
        "READ" => DeliveryStatus::Read,
        "PLAYED" => DeliveryStatus::Played,
        _ => DeliveryStatus::Other(word),
    };
    MessageStatus {
        chat: ChatId::from(string(value, "/phone")),
        ids: ids(value),
        status,
        sent_by_api: None,
        description: None,
    }
}

/// `DeliveryCallback`: the message left for WhatsApp, or failed with an `error`.
fn delivery(value: &Value) -> MessageStatus {
    let error = text(value, "/error");
    MessageStatus {
        chat: ChatId::from(string(value, "/phone")),
        ids: ids(value),
        status: if error.is_some() {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Sent
        },
        sent_by_api: None,
        description: error,
    }
}

/// The ids of `ids[]`, then `messageId`, without repeats.
fn ids(value: &Value) -> Vec<MessageId> {
    let mut ids: Vec<MessageId> = Vec::new();
    let listed = json::items(value, "/ids")
        .iter()
        .filter_map(|id| text(id, ""));
    for id in listed.chain(text(value, "/messageId")).map(MessageId::from) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// `ConnectedCallback` and `DisconnectedCallback`.
fn connection(value: &Value, connected: bool) -> InstanceState {
    connection_state(connected, text(value, "/error"))
}

/// The instance state of a connection (a callback's, or `status`'), with Z-API's
/// explanation.
pub(crate) fn connection_state(connected: bool, description: Option<String>) -> InstanceState {
    InstanceState {
        state: if connected {
            "connected"
        } else {
            "disconnected"
        }
        .to_owned(),
        connected: Some(connected),
        description,
    }
}
