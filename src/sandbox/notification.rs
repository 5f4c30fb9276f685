//! GREEN-API's `incomingMessageReceived` notifications for what a person does, as the real
//! gateway writes them: a text, a vote on a poll (`pollUpdateMessage`), a pressed reply button
//! (`interactiveButtonsResponse`).

use serde_json::{Value, json};

use super::Platform;
use super::chat::{Author, ChatEntry, EntryContent, SentButton, SentPoll};
use super::state::Shared;
use crate::contact::PeerKind;
use crate::id::{ChatId, MessageId};

/// The bot's own number (`instanceData.wid`) on WhatsApp.
const WID_WHATSAPP: &str = "79990000000@c.us";
/// The bot's own id (`instanceData.wid`) on MAX.
const WID_MAX: &str = "19990000";
/// The bot's own id (`instanceData.wid`) on Telegram.
const WID_TELEGRAM: &str = "39990000";

/// The bot's own id (`instanceData.wid`) on `platform`.
pub(crate) fn wid(platform: Platform) -> &'static str {
    match platform {
        Platform::WhatsApp => WID_WHATSAPP,
        Platform::Max => WID_MAX,
        Platform::Telegram => WID_TELEGRAM,
    }
}

/// The notification of `entry`, a text `sender` wrote.
pub(crate) fn incoming_message(shared: &Shared, entry: &ChatEntry, sender: &ChatId) -> Value {
    let text = entry.text().unwrap_or_default();
    let quoted = entry
        .quoted
        .as_ref()
        .map(|id| (id, shared.find(&entry.chat, id)));
    let message_data = match quoted {
        None => json!({
            "typeMessage": "textMessage",
            "textMessageData": {"textMessage": text},
        }),
        Some((id, quoted)) => json!({
            "typeMessage": "extendedTextMessage",
            "extendedTextMessageData": {
                "text": text, "description": "", "title": "", "previewType": "None",
                "jpegThumbnail": "", "forwardingScore": 0, "isForwarded": false,
            },
            "quotedMessage": quoted_message(shared.platform, id.as_str(), quoted.as_ref()),
        }),
    };
    incoming(
        shared,
        &entry.id,
        entry.timestamp,
        &entry.chat,
        sender,
        message_data,
    )
}

/// A person's vote on the poll `id` of `chat`: `pollUpdateMessage` with every option and the
/// person among the voters of those `chosen` (GREEN-API sends one voter's state at a time).
pub(crate) fn poll_vote(
    shared: &Shared,
    vote: (&MessageId, &SentPoll),
    chat: &ChatId,
    sender: &ChatId,
    chosen: &[String],
) -> (MessageId, Value) {
    let (id, poll) = vote;
    let votes: Vec<Value> = poll
        .options
        .iter()
        .map(|option| {
            let voters: Vec<&ChatId> = chosen
                .contains(option)
                .then_some(sender)
                .into_iter()
                .collect();
            json!({"optionName": option, "optionVoters": voters})
        })
        .collect();
    let message_data = json!({
        "typeMessage": "pollUpdateMessage",
        "pollMessageData": {
            "stanzaId": id, "name": poll.question, "votes": votes,
            "multipleAnswers": poll.multiple_answers,
        },
    });
    let vote_id = super::chat::new_message_id();
    let notification = incoming(
        shared,
        &vote_id,
        super::chat::unix_now(),
        chat,
        sender,
        message_data,
    );
    (vote_id, notification)
}

/// The press of a reply button: `interactiveButtonsResponse` naming the message with the
/// buttons (`stanzaId`), the button's position, id and label. `entry` is the press, recorded
/// as the person's message.
pub(crate) fn button_press(
    shared: &Shared,
    entry: &ChatEntry,
    sender: &ChatId,
    buttons: &MessageId,
    pressed: (usize, &SentButton),
) -> Value {
    let (index, button) = pressed;
    let message_data = json!({
        "typeMessage": "interactiveButtonsResponse",
        "interactiveButtonsResponse": {
            "stanzaId": buttons, "selectedIndex": index, "selectedId": button.button_id,
            "selectedDisplayText": button.button_text,
        },
    });
    incoming(
        shared,
        &entry.id,
        entry.timestamp,
        &entry.chat,
        sender,
        message_data,
    )
}

/// The envelope of an `incomingMessageReceived` notification around `message_data`.
fn incoming(
    shared: &Shared,
    id: &MessageId,
    timestamp: u64,
    chat: &ChatId,
    sender: &ChatId,
    message_data: Value,
) -> Value {
    json!({
        "typeWebhook": "incomingMessageReceived",
        "instanceData": instance_data(shared),
        "timestamp": timestamp,
        "idMessage": id,
        "senderData": sender_data(shared, chat, sender),
        "messageData": message_data,
    })
}

/// `instanceData`: the instance id as a number, the bot's own id, the platform.
fn instance_data(shared: &Shared) -> Value {
    let id_instance = shared
        .instance
        .parse::<u64>()
        .map_or_else(|_| Value::from(shared.instance.as_str()), Value::from);
    let type_instance = shared.platform.rules().type_instance;
    json!({"idInstance": id_instance, "wid": wid(shared.platform), "typeInstance": type_instance})
}

/// `senderData`, with the names from the contact list (empty for strangers); MAX adds
/// `senderPhoneNumber` (0 when hidden), Telegram also `chatType` and `senderType`.
fn sender_data(shared: &Shared, chat: &ChatId, sender: &ChatId) -> Value {
    let (name, contact_name) = names(shared, sender);
    let chat_name = if chat == sender {
        best(&contact_name, &name)
    } else {
        let (group_name, group_contact_name) = names(shared, chat);
        best(&group_contact_name, &group_name)
    };
    let mut data = json!({
        "chatId": chat,
        "chatName": chat_name,
        "sender": sender,
        "senderName": name,
        "senderContactName": contact_name,
    });
    if matches!(shared.platform, Platform::Max | Platform::Telegram) {
        let phone = shared
            .contact(sender.as_str())
            .and_then(|contact| contact.phone.as_deref()?.parse::<u64>().ok())
            .unwrap_or(0);
        data["senderPhoneNumber"] = Value::from(phone);
    }
    if shared.platform == Platform::Telegram {
        let sender_kind = kind(shared, sender, PeerKind::User);
        let chat_kind = if chat == sender {
            sender_kind
        } else {
            kind(shared, chat, PeerKind::Group)
        };
        data["chatType"] = Value::from(chat_kind.name());
        data["senderType"] = Value::from(sender_kind.name());
    }
    data
}

/// The kind of `chat` in the contact list; `unknown` for a stranger.
fn kind(shared: &Shared, chat: &ChatId, unknown: PeerKind) -> PeerKind {
    shared
        .contact(chat.as_str())
        .map_or(unknown, |contact| contact.kind)
}

/// `messageData.quotedMessage` for a reply to `id`, with the quoted message's own fields.
fn quoted_message(platform: Platform, id: &str, quoted: Option<&ChatEntry>) -> Value {
    let participant = match quoted.map(|entry| &entry.author) {
        Some(Author::Person(person)) => person.to_string(),
        Some(Author::Bot) => wid(platform).to_owned(),
        None => String::new(),
    };
    match quoted.map(|entry| &entry.content) {
        Some(EntryContent::Contact(card)) => json!({
            "stanzaId": id, "participant": participant, "typeMessage": "contactMessage",
            "contact": {"displayName": card.label(), "vcard": ""},
        }),
        _ => {
            // A file, location, poll or buttons is quoted by its one-line summary.
            let text = quoted.and_then(ChatEntry::summary).unwrap_or_default();
            json!({
                "stanzaId": id, "participant": participant, "typeMessage": "textMessage",
                "textMessage": text,
            })
        }
    }
}

/// The (profile name, phone-book name) of `chat` in the contact list; empty when unknown.
fn names(shared: &Shared, chat: &ChatId) -> (String, String) {
    shared
        .contact(chat.as_str())
        .map_or_else(Default::default, |contact| {
            (contact.name.to_string(), contact.contact_name.to_string())
        })
}

/// The first of two names that is not blank (else empty).
fn best(first: &str, second: &str) -> String {
    [first, second]
        .into_iter()
        .find(|name| !name.trim().is_empty())
        .unwrap_or_default()
        .to_owned()
}
