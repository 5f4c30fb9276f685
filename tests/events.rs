//! Webhook notifications read into events: one fixture per GREEN-API `typeWebhook` and
//! `typeMessage` and per Z-API callback, and property tests that no input makes a parser panic.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookbot::event::MediaKind;
use hookbot::gateway::GatewayKind;
use hookbot::{
    ChatId, Content, DeliveryStatus, Direction, Event, EventKind, Message, MessageId, ParseError,
    PeerKind, SharedContact,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ALL_GATEWAYS: [GatewayKind; 4] = [
    GatewayKind::GreenApiWhatsApp,
    GatewayKind::GreenApiMax,
    GatewayKind::GreenApiTelegram,
    GatewayKind::ZApi,
];

fn fixture(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn green_api(name: &str) -> Event {
    let body = fixture(&format!("green_api/{name}.json"));
    Event::parse(GatewayKind::GreenApiWhatsApp, &body).expect("a fixture is a JSON object")
}

fn zapi(name: &str) -> Event {
    let body = fixture(&format!("zapi/{name}.json"));
    Event::parse(GatewayKind::ZApi, &body).expect("a fixture is a JSON object")
}

fn message(event: &Event) -> &Message {
    event
        .message()
        .unwrap_or_else(|| panic!("not a message: {event:?}"))
}

fn content(event: &Event) -> &Content {
    &message(event).content
}

fn unix_seconds(seconds: u64) -> Option<SystemTime> {
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

fn id(id: &str) -> Option<MessageId> {
    Some(MessageId::from(id))
}

fn assert_unknown_kind(event: &Event, expected: &str) {
    assert_eq!(
        event.kind,
        EventKind::Unknown {
            type_name: expected.into()
        }
    );
    assert_eq!(event.kind.name(), "unknown");
    assert_eq!(event.chat(), None);
    assert_eq!(event.message_id(), None);
}

// ---- GREEN-API ----

#[test]
fn green_api_incoming_text_carries_envelope_sender_and_text() {
    let event = green_api("incoming_text");
    assert_eq!(event.gateway, GatewayKind::GreenApiWhatsApp);
    assert_eq!(&*event.instance, "1101000001");
    assert_eq!(event.timestamp, unix_seconds(1_705_521_510));
    assert_eq!(event.kind.name(), "message");
    assert_eq!(event.chat(), Some(&ChatId::from("79001234567@c.us")));
    assert_eq!(
        event.message_id(),
        Some(&MessageId::from("BAE5F4886F9A6B28"))
    );
    assert_eq!(event.status_text(), None);
    assert_eq!(event.raw["typeWebhook"], "incomingMessageReceived");

    let message = message(&event);
    assert_eq!(message.sender, ChatId::from("79001234567@c.us"));
    assert_eq!(message.sender_name, "Василиса");
    assert_eq!(message.sender_contact_name, "Василиса Премудрая");
    assert_eq!(message.sender_display_name(), "Василиса Премудрая");
    assert_eq!(message.sender_phone.as_deref(), Some("79001234567"));
    assert_eq!(message.direction, Direction::Incoming);
    assert!(!message.is_group && !message.is_outgoing());
    assert_eq!(message.quoted, None);
    assert_eq!(message.text(), Some("contact василиса"));
    assert_eq!(message.content.name(), "text");
}

#[test]
fn green_api_extended_text_is_text() {
    let event = green_api("incoming_extended_text");
    assert_eq!(
        content(&event),
        &Content::Text("Смотри https://green-api.com".into())
    );
}

#[test]
fn green_api_reply_names_the_quoted_message() {
    let event = green_api("incoming_reply");
    let message = message(&event);
    assert_eq!(message.quoted, id("BAE5F4886F9A6B28"));
    assert_eq!(message.text(), Some("Да, это она"));
}

#[test]
fn green_api_deprecated_quoted_message_type_is_a_text_reply() {
    let event = green_api("incoming_quoted_message");
    let message = message(&event);
    assert_eq!(message.quoted, id("BAE5367237E13A87"));
    assert_eq!(message.text(), Some("Ответ на цитату"));
}

#[test]
fn green_api_media_keep_kind_url_caption_file_name_and_mime_type() {
    let cases = [
        (
            "incoming_image",
            MediaKind::Image,
            Some("Визитка"),
            "image/jpeg",
        ),
        ("incoming_video", MediaKind::Video, None, "video/mp4"),
        (
            "incoming_document",
            MediaKind::Document,
            Some("Прайс"),
            "application/pdf",
        ),
        (
            "incoming_audio",
            MediaKind::Audio,
            None,
            "audio/ogg; codecs=opus",
        ),
        ("incoming_sticker", MediaKind::Sticker, None, "image/webp"),
    ];
    for (name, kind, caption, mime_type) in cases {
        let event = green_api(name);
        let Content::Media(media) = content(&event) else {
            panic!("{name}: not media: {event:?}")
        };
        assert_eq!(media.kind, kind, "{name}");
        assert_eq!(media.caption.as_deref(), caption, "{name}");
        assert_eq!(media.mime_type.as_deref(), Some(mime_type), "{name}");
        assert!(
            media
                .url
                .as_deref()
                .is_some_and(|url| url.starts_with("https://")),
            "{name}"
        );
        assert_eq!(content(&event).name(), kind.name());
        assert_eq!(message(&event).text(), None, "a caption is not text");
    }
    let event = green_api("incoming_document");
    let Content::Media(document) = content(&event) else {
        panic!("not media")
    };
    assert_eq!(document.file_name.as_deref(), Some("Прайс-лист.pdf"));
}

#[test]
fn green_api_location_has_coordinates_name_and_address() {
    let event = green_api("incoming_location");
    let Content::Location(location) = content(&event) else {
        panic!("not a location: {event:?}")
    };
    assert_eq!(location.latitude, Some(55.753930));
    assert_eq!(location.longitude, Some(37.620795));
    assert_eq!(location.name.as_deref(), Some("Красная площадь"));
    assert_eq!(location.address.as_deref(), Some("Москва, Россия"));
}

#[test]
fn green_api_contact_message_reads_name_and_phones_from_the_vcard() {
    let event = green_api("incoming_contact");
    let Content::Contacts(contacts) = content(&event) else {
        panic!("not contacts: {event:?}")
    };
    let [contact] = contacts.as_slice() else {
        panic!("one contact: {contacts:?}")
    };
    assert_eq!(contact.name, "Артем Евпаторийский");
    assert_eq!(contact.phones, ["79001234568", "74951234567"]);
    assert_eq!(contact.chat_id, None);
    assert!(
        contact
            .vcard
            .as_deref()
            .is_some_and(|vcard| vcard.starts_with("BEGIN:VCARD"))
    );
    assert_eq!(contact.to_card().phone.as_deref(), Some("79001234568"));
}

#[test]
fn green_api_contacts_array_is_read_in_both_nestings() {
    for name in ["contacts_array", "contacts_array_nested"] {
        let event = green_api(name);
        let Content::Contacts(contacts) = content(&event) else {
            panic!("{name}: not contacts: {event:?}")
        };
        let names: Vec<_> = contacts
            .iter()
            .map(|contact| contact.name.as_str())
            .collect();
        assert_eq!(names, ["Anna Smit", "Alex Smit"], "{name}");
        let phones: Vec<_> = contacts
            .iter()
            .map(|contact| contact.phones.clone())
            .collect();
        assert_eq!(phones, [["72345678910"], ["72345678901"]], "{name}");
    }
}

#[test]
fn green_api_reaction_names_its_emoji_and_target() {
    let event = green_api("incoming_reaction");
    assert_eq!(
        content(&event),
        &Content::Reaction {
            emoji: "👍".into(),
            target: id("BAE5F4886F9A6B28"),
        }
    );
}

#[test]
fn green_api_poll_lists_its_options() {
    let event = green_api("incoming_poll");
    let Content::Poll(poll) = content(&event) else {
        panic!("not a poll: {event:?}")
    };
    assert_eq!(poll.name, "Когда встречаемся?");
    assert_eq!(poll.options, ["В субботу", "В воскресенье"]);
    assert!(!poll.multiple_answers);
    assert!(poll.votes.is_empty());
}

#[test]
fn green_api_poll_update_lists_voters_per_option() {
    let event = green_api("incoming_poll_update");
    let Content::PollUpdate { target, poll } = content(&event) else {
        panic!("not a poll update: {event:?}")
    };
    assert_eq!(target, &id("BAE5F4886F9A6B30"));
    assert!(poll.multiple_answers);
    let votes: Vec<_> = poll
        .votes
        .iter()
        .map(|votes| (votes.option.as_str(), votes.voters.len()))
        .collect();
    assert_eq!(votes, [("В субботу", 2), ("В воскресенье", 0)]);
    assert_eq!(poll.votes[0].voters[1], ChatId::from("79001234569@c.us"));
}

#[test]
fn green_api_edited_and_deleted_messages_name_their_target() {
    assert_eq!(
        content(&green_api("incoming_edited")),
        &Content::Edited {
            target: id("BAE5F4886F9A6B28"),
            text: "Исправленный текст".into(),
        }
    );
    assert_eq!(
        content(&green_api("incoming_deleted")),
        &Content::Deleted {
            target: id("BAE5F4886F9A6B28")
        }
    );
}

#[test]
fn green_api_button_replies_give_the_picked_id_and_label() {
    let cases = [
        (
            "incoming_buttons_response",
            "1",
            "Green",
            "BAE53AFDD5F0C137",
        ),
        (
            "incoming_template_buttons_reply",
            "1",
            "First Button",
            "BAE5BBB8415CF1AA",
        ),
        (
            "incoming_list_response",
            "option2",
            "Option 2",
            "BAE53AFDD5F0C138",
        ),
        (
            "incoming_interactive_buttons_response",
            "2",
            "Second Button",
            "BAE5FB1FDA0E58E8",
        ),
    ];
    for (name, picked, label, buttons) in cases {
        let event = green_api(name);
        let message = message(&event);
        assert_eq!(
            message.content,
            Content::ButtonReply {
                id: picked.into(),
                text: label.into()
            },
            "{name}"
        );
        assert_eq!(message.text(), Some(label), "{name}");
        assert_eq!(
            message.quoted,
            id(buttons),
            "{name}: the message with the buttons"
        );
    }
}

#[test]
fn green_api_group_message_has_the_group_as_chat_and_the_participant_as_sender() {
    let event = green_api("incoming_group_text");
    let message = message(&event);
    assert!(message.is_group);
    assert_eq!(message.chat, ChatId::from("120363043968066561@g.us"));
    assert_eq!(message.chat_name, "Клуб велосипедистов");
    assert_eq!(message.sender, ChatId::from("79001234568@c.us"));
    assert_eq!(message.sender_phone.as_deref(), Some("79001234568"));
    assert_eq!(message.sender_display_name(), "Артем");
}

#[test]
fn green_api_undecryptable_text_is_flagged_not_text() {
    let event = green_api("incoming_undecryptable");
    assert_eq!(content(&event), &Content::Undecryptable);
    assert_eq!(message(&event).text(), None);
}

#[test]
fn green_api_unknown_message_type_keeps_its_name_and_raw_json() {
    let event = green_api("incoming_group_invite");
    assert_eq!(
        content(&event),
        &Content::Unknown {
            type_name: "groupInviteMessage".into()
        }
    );
    assert_eq!(
        event.raw["messageData"]["groupInviteMessageData"]["inviteCode"],
        "AbCdEf"
    );
    assert_eq!(
        event.message_id(),
        Some(&MessageId::from("BAE5F4886F9A6B28"))
    );
}

#[test]
fn green_api_outgoing_messages_say_whether_phone_or_api_sent_them() {
    let event = green_api("outgoing_text");
    let from_phone = message(&event);
    assert_eq!(from_phone.direction, Direction::SentFromPhone);
    assert!(from_phone.is_outgoing());
    assert_eq!(from_phone.sender, ChatId::from("79876543210@c.us"));
    assert_eq!(from_phone.chat, ChatId::from("79001234567@c.us"));

    let event = green_api("outgoing_api_text");
    let by_api = message(&event);
    assert_eq!(by_api.direction, Direction::SentByApi);
    assert_eq!(by_api.text(), Some("Карточка отправлена"));
    assert_eq!(by_api.quoted, id("3EB0C767D26A1D6D6F42"));
}

#[test]
fn green_api_status_names_chat_message_and_delivery_status() {
    let event = green_api("outgoing_status");
    assert_eq!(event.kind.name(), "status");
    assert_eq!(event.status_text(), Some("delivered"));
    assert_eq!(event.chat(), Some(&ChatId::from("79001234567@c.us")));
    assert_eq!(
        event.message_id(),
        Some(&MessageId::from("BAE5C1A8F6D9E2B3"))
    );
    assert_eq!(event.timestamp, unix_seconds(1_705_901_090));
    let EventKind::Status(status) = &event.kind else {
        panic!("not a status: {event:?}")
    };
    assert_eq!(status.status, DeliveryStatus::Delivered);
    assert_eq!(status.sent_by_api, Some(true));
    assert_eq!(status.description, None);
}

#[test]
fn green_api_failed_status_keeps_its_description() {
    let event = green_api("outgoing_status_failed");
    let EventKind::Status(status) = &event.kind else {
        panic!("not a status: {event:?}")
    };
    assert_eq!(status.status, DeliveryStatus::NoAccount);
    assert_eq!(event.status_text(), Some("noAccount"));
    assert_eq!(
        status.description.as_deref(),
        Some("The recipient has no WhatsApp account")
    );
}

#[test]
fn green_api_instance_state_and_socket_status_are_instance_states() {
    let cases = [
        ("state_instance_changed", "notAuthorized", Some(false)),
        ("status_instance_changed", "online", Some(true)),
    ];
    for (name, state, connected) in cases {
        let event = green_api(name);
        let EventKind::InstanceState(instance) = &event.kind else {
            panic!("{name}: not an instance state: {event:?}")
        };
        assert_eq!(instance.state, state, "{name}");
        assert_eq!(instance.connected, connected, "{name}");
        assert_eq!(event.kind.name(), "instance_state");
        assert_eq!(event.chat(), None);
        assert_eq!(event.message_id(), None);
    }
}

#[test]
fn green_api_incoming_call_names_the_caller() {
    let event = green_api("incoming_call");
    let EventKind::Call(call) = &event.kind else {
        panic!("not a call: {event:?}")
    };
    assert_eq!(call.from, ChatId::from("79001234567@c.us"));
    assert_eq!(call.status, "offer");
    assert_eq!(event.kind.name(), "call");
    assert_eq!(event.chat(), Some(&call.from));
    assert_eq!(
        event.message_id(),
        Some(&MessageId::from("7B1B1A3F2C5E4D6A8B9C0D1E2F3A4B5C"))
    );
}

#[test]
fn green_api_incoming_block_names_the_chat() {
    let event = green_api("incoming_block");
    let EventKind::Block(block) = &event.kind else {
        panic!("not a block: {event:?}")
    };
    assert_eq!(block.chat, ChatId::from("79001234570@c.us"));
    assert_eq!(block.state, "blocked");
    assert_eq!(event.kind.name(), "block");
    assert_eq!(event.chat(), Some(&block.chat));
}

#[test]
fn green_api_device_info_quota_and_new_types_survive_as_unknown_with_raw_json() {
    let event = green_api("device_info");
    assert_unknown_kind(&event, "deviceInfo");
    assert_eq!(event.raw["deviceData"]["deviceModel"], "SM-A525F");

    let event = green_api("quota_exceeded");
    assert_unknown_kind(&event, "quotaExceeded");
    assert_eq!(event.raw["quotaData"]["total"], 3);

    let event = green_api("unknown_webhook");
    assert_unknown_kind(&event, "incomingStatusReceived");
    assert_eq!(event.raw["statusData"]["views"], 5);
    assert_eq!(&*event.instance, "1101000001");
    assert_eq!(event.timestamp, unix_seconds(1_586_700_696));
}

#[test]
fn max_text_has_a_numeric_chat_and_the_sender_phone() {
    let event = green_api("max_incoming_text");
    assert_eq!(
        event.gateway,
        GatewayKind::GreenApiMax,
        "typeInstance v3 wins"
    );
    assert_eq!(&*event.instance, "3100000001");
    let message = message(&event);
    assert_eq!(message.chat, ChatId::from("10000000"));
    assert_eq!(message.id, MessageId::from("mid.00000190a1b2c3d4"));
    assert!(!message.is_group);
    assert_eq!(message.sender_phone.as_deref(), Some("79001234567"));
    assert_eq!(message.text(), Some("контакт артем"));
}

#[test]
fn max_contact_has_the_contact_chat_and_phone() {
    let event = green_api("max_incoming_contact");
    let Content::Contacts(contacts) = content(&event) else {
        panic!("not contacts: {event:?}")
    };
    let [contact] = contacts.as_slice() else {
        panic!("one contact: {contacts:?}")
    };
    assert_eq!(contact.name, "Артем");
    assert_eq!(contact.chat_id, Some(ChatId::from("20000001")));
    assert_eq!(contact.phones, ["79001234568"]);
    assert_eq!(contact.vcard, None);
}

#[test]
fn max_group_has_a_negative_chat_id_and_a_hidden_phone() {
    let event = green_api("max_group_text");
    let message = message(&event);
    assert!(message.is_group);
    assert_eq!(message.chat, ChatId::from("-10000000000000"));
    assert_eq!(message.sender, ChatId::from("10000002"));
    assert_eq!(message.sender_phone, None, "phone 0 means hidden");
}

#[test]
fn green_api_instance_type_decides_the_gateway_else_the_argument_does() {
    let body = fixture("green_api/incoming_text.json");
    let event = Event::parse(GatewayKind::GreenApiMax, &body).unwrap();
    assert_eq!(event.gateway, GatewayKind::GreenApiWhatsApp);
    let event = Event::parse(GatewayKind::GreenApiMax, br#"{"typeWebhook":"x"}"#).unwrap();
    assert_eq!(event.gateway, GatewayKind::GreenApiMax);
}

#[test]
fn green_api_wrong_field_types_read_as_empty() {
    let body = json!({
        "typeWebhook": "incomingMessageReceived",
        "instanceData": [],
        "timestamp": "soon",
        "idMessage": 42,
        "senderData": {"chatId": {"no": 1}, "senderName": false, "senderPhoneNumber": "x"},
        "messageData": {"typeMessage": "contactsArrayMessage", "contacts": "none"}
    });
    let event = Event::from_json(GatewayKind::GreenApiWhatsApp, body).unwrap();
    assert_eq!(&*event.instance, "");
    assert_eq!(event.timestamp, None);
    let message = message(&event);
    assert_eq!(message.id, MessageId::from("42"));
    assert_eq!(message.chat.as_str(), "");
    assert_eq!(event.chat(), None, "an empty chat id is no chat");
    assert_eq!(message.sender_name, "");
    assert_eq!(message.sender_phone, None);
    assert_eq!(message.content, Content::Contacts(Vec::new()));
}

// ---- GREEN-API Telegram ----

/// A Telegram fixture, read as a webhook of a Telegram instance.
fn telegram(name: &str) -> Event {
    let body = fixture(&format!("green_api/telegram_{name}.json"));
    Event::parse(GatewayKind::GreenApiTelegram, &body).expect("a fixture is a JSON object")
}

#[test]
fn telegram_text_names_the_instance_the_sender_and_both_kinds() {
    for gateway in [GatewayKind::GreenApiWhatsApp, GatewayKind::GreenApiTelegram] {
        let body = fixture("green_api/telegram_incoming_text.json");
        let event = Event::parse(gateway, &body).unwrap();
        assert_eq!(
            event.gateway,
            GatewayKind::GreenApiTelegram,
            "typeInstance telegram wins"
        );
        assert_eq!(&*event.instance, "4100000001");
        let message = message(&event);
        assert_eq!(message.chat, ChatId::from("10000000"));
        assert_eq!(message.sender, ChatId::from("10000000"));
        assert_eq!(message.id, MessageId::from("1401"));
        assert!(!message.is_group);
        assert_eq!(message.sender_phone.as_deref(), Some("79001234567"));
        assert_eq!(message.sender_kind, Some(PeerKind::User));
        assert_eq!(message.chat_kind, Some(PeerKind::User));
        assert!(!message.is_from_bot());
        assert_eq!(message.sender_display_name(), "Василиса Премудрая");
        assert_eq!(message.text(), Some("contact @ivan_tsarevich"));
    }
}

#[test]
fn telegram_text_with_a_link_and_a_reply_are_texts() {
    let event = telegram("incoming_extended_text");
    assert_eq!(
        content(&event),
        &Content::Text("Смотри https://green-api.com/telegram/".into())
    );
    let event = telegram("incoming_reply");
    let message = message(&event);
    assert_eq!(message.quoted, id("1400"));
    assert_eq!(message.text(), Some("Да, это он"));
}

#[test]
fn telegram_media_keep_kind_url_caption_file_name_and_mime_type() {
    let cases = [
        (
            "incoming_image",
            MediaKind::Image,
            Some("Визитка"),
            "image/jpeg",
        ),
        ("incoming_video", MediaKind::Video, None, "video/mp4"),
        (
            "incoming_document",
            MediaKind::Document,
            Some("Прайс"),
            "application/pdf",
        ),
        ("incoming_audio", MediaKind::Audio, None, "audio/ogg"),
        ("incoming_sticker", MediaKind::Sticker, None, "image/webp"),
    ];
    for (name, kind, caption, mime_type) in cases {
        let event = telegram(name);
        let Content::Media(media) = content(&event) else {
            panic!("{name}: not media: {event:?}")
        };
        assert_eq!(media.kind, kind, "{name}");
        assert_eq!(media.caption.as_deref(), caption, "{name}");
        assert_eq!(media.mime_type.as_deref(), Some(mime_type), "{name}");
        let url = media.url.as_deref().expect("a download URL");
        assert!(
            url.starts_with("https://4100.api.green-api.com/media/"),
            "{url}"
        );
        assert!(url.ends_with(media.file_name.as_deref().expect("a file name")));
        assert_eq!(content(&event).name(), kind.name());
    }
}

#[test]
fn telegram_location_has_coordinates_name_and_address() {
    let event = telegram("incoming_location");
    let Content::Location(location) = content(&event) else {
        panic!("not a location: {event:?}")
    };
    assert_eq!(location.latitude, Some(55.75393));
    assert_eq!(location.longitude, Some(37.620795));
    assert_eq!(location.name.as_deref(), Some("Красная площадь"));
    assert_eq!(location.address.as_deref(), Some("Москва, Россия"));
}

/// The one contact of a contact message.
fn one_contact(event: &Event) -> &SharedContact {
    let Content::Contacts(contacts) = content(event) else {
        panic!("not contacts: {event:?}")
    };
    let [contact] = contacts.as_slice() else {
        panic!("one contact: {contacts:?}")
    };
    contact
}

#[test]
fn telegram_contact_reads_phone_contact_names_and_chat() {
    let event = telegram("incoming_contact");
    let contact = one_contact(&event);
    assert_eq!(contact.name, "Иван Царевич");
    assert_eq!(
        contact.phones,
        ["79998887766"],
        "the vCard's and phoneContact, once"
    );
    assert_eq!(contact.chat_id, Some(ChatId::from("10000001")));
    assert!(contact.vcard.is_some());
    let card = contact.to_card();
    assert_eq!(card.phone.as_deref(), Some("79998887766"));

    let event = telegram("incoming_contact_without_vcard");
    let contact = one_contact(&event);
    assert_eq!(contact.name, "Василиса Премудрая", "first and last name");
    assert_eq!(contact.phones, ["79876543210"]);
    assert_eq!(contact.vcard, None);
}

#[test]
fn telegram_poll_lists_its_options() {
    let event = telegram("incoming_poll");
    let Content::Poll(poll) = content(&event) else {
        panic!("not a poll: {event:?}")
    };
    assert_eq!(poll.name, "Когда встречаемся?");
    assert_eq!(poll.options, ["В субботу", "В воскресенье"]);
    assert!(poll.multiple_answers);
}

#[test]
fn telegram_reaction_names_its_emoji_and_target() {
    let event = telegram("incoming_reaction");
    assert_eq!(
        content(&event),
        &Content::Reaction {
            emoji: "👍".into(),
            target: id("1400"),
        }
    );
}

#[test]
fn telegram_supergroup_message_has_a_negative_chat_its_kind_and_a_hidden_phone() {
    let event = telegram("supergroup_text");
    let message = message(&event);
    assert!(message.is_group);
    assert_eq!(message.chat, ChatId::from("-1001234567890"));
    assert_eq!(message.chat_name, "Hookbot testers");
    assert_eq!(message.sender, ChatId::from("10000005"));
    assert_eq!(message.chat_kind, Some(PeerKind::Supergroup));
    assert_eq!(message.sender_kind, Some(PeerKind::User));
    assert_eq!(message.sender_phone, None, "phone 0 means hidden");
    assert_eq!(message.sender_display_name(), "Царевна Лягушка");
}

#[test]
fn telegram_bots_message_says_a_bot_wrote_it() {
    let event = telegram("bot_text");
    let message = message(&event);
    assert!(message.is_from_bot());
    assert_eq!(message.sender_kind, Some(PeerKind::Bot));
    assert_eq!(message.chat_kind, Some(PeerKind::Bot));
    assert_eq!(message.text(), Some("contact ivan"));
}

#[test]
fn telegram_outgoing_and_state_notifications_parse_like_whatsapps() {
    let event = telegram("outgoing_api_text");
    assert_eq!(message(&event).direction, Direction::SentByApi);
    let event = telegram("state_pending_password");
    let EventKind::InstanceState(state) = &event.kind else {
        panic!("not a state: {event:?}")
    };
    assert_eq!(state.state, "pendingPassword");
    assert_eq!(state.connected, Some(false));
}

#[test]
fn sender_and_chat_kinds_are_absent_where_the_gateway_tells_none() {
    let whatsapp = green_api("incoming_text");
    let told = message(&whatsapp);
    assert_eq!((told.sender_kind, told.chat_kind), (None, None));
    let unknown = json!({
        "typeWebhook": "incomingMessageReceived",
        "instanceData": {"idInstance": 4100000001_u64, "typeInstance": "telegram"},
        "senderData": {"chatId": "10000000", "sender": "10000000", "senderType": "robot", "chatType": 3},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "hi"}}
    });
    let event = Event::from_json(GatewayKind::GreenApiTelegram, unknown).unwrap();
    let message = message(&event);
    assert_eq!((message.sender_kind, message.chat_kind), (None, None));
    assert!(!message.is_from_bot());
}

// ---- Z-API ----

#[test]
fn zapi_text_carries_instance_time_in_milliseconds_and_sender() {
    let event = zapi("received_text");
    assert_eq!(event.gateway, GatewayKind::ZApi);
    assert_eq!(&*event.instance, "3C4A1B2C3D4E5F6A7B8C9D0E1F2A3B4C");
    assert_eq!(
        event.timestamp,
        Some(UNIX_EPOCH + Duration::from_millis(1_632_228_638_000))
    );
    assert_eq!(
        event.message_id(),
        Some(&MessageId::from("3EB0A1B2C3D4E5F6A7B8"))
    );
    let message = message(&event);
    assert_eq!(message.chat, ChatId::from("5544999999999"));
    assert_eq!(message.sender, message.chat);
    assert_eq!(message.sender_name, "Ana");
    assert_eq!(message.chat_name, "Ana Souza");
    assert_eq!(message.sender_phone.as_deref(), Some("5544999999999"));
    assert_eq!(message.direction, Direction::Incoming);
    assert!(!message.is_group);
    assert_eq!(message.quoted, None);
    assert_eq!(message.text(), Some("contato ana"));
}

#[test]
fn zapi_received_callback_is_recognised_in_any_letter_case() {
    let body = String::from_utf8(fixture("zapi/received_text.json")).unwrap();
    for spelling in ["ReceivedCallBack", "receivedcallback", "RECEIVEDCALLBACK"] {
        let body = body.replace("\"ReceivedCallback\"", &format!("\"{spelling}\""));
        let event = Event::parse(GatewayKind::ZApi, body.as_bytes()).unwrap();
        assert_eq!(message(&event).text(), Some("contato ana"), "{spelling}");
    }
}

#[test]
fn zapi_reply_names_the_referenced_message() {
    let event = zapi("received_reply");
    assert_eq!(event.raw["type"], "ReceivedCallBack");
    let message = message(&event);
    assert_eq!(message.quoted, id("3EB0FFEEDDCCBBAA0011"));
    assert_eq!(message.text(), Some("Sim, é ela"));
}

#[test]
fn zapi_group_message_is_from_the_participant() {
    let event = zapi("received_group_text");
    assert_eq!(
        event.timestamp,
        Some(UNIX_EPOCH + Duration::from_millis(1_632_228_700_000)),
        "`moment` counts like `momment`"
    );
    let message = message(&event);
    assert!(message.is_group);
    assert_eq!(message.chat, ChatId::from("120363019502650977-group"));
    assert_eq!(message.chat_name, "Ciclistas");
    assert_eq!(message.sender, ChatId::from("5544988887777"));
    assert_eq!(message.sender_phone.as_deref(), Some("5544988887777"));
    assert_eq!(message.sender_name, "Bruno");
}

#[test]
fn zapi_own_message_sent_through_the_api_is_outgoing_from_the_instance() {
    let event = zapi("received_from_me");
    let message = message(&event);
    assert_eq!(message.direction, Direction::SentByApi);
    assert_eq!(message.sender, ChatId::from("554499990000"));
    assert_eq!(message.chat, ChatId::from("5544999999999"));
}

#[test]
fn zapi_edited_text_is_an_edit() {
    let event = zapi("received_edited");
    assert_eq!(
        content(&event),
        &Content::Edited {
            target: id("3EB0A1B2C3D4E5F6A7C2"),
            text: "Texto corrigido".into(),
        }
    );
}

#[test]
fn zapi_contact_reads_name_and_phones() {
    let event = zapi("received_contact");
    let Content::Contacts(contacts) = content(&event) else {
        panic!("not contacts: {event:?}")
    };
    let [contact] = contacts.as_slice() else {
        panic!("one contact: {contacts:?}")
    };
    assert_eq!(contact.name, "Cesar Baleco");
    assert_eq!(contact.phones, ["5544999998888"]);
    assert!(contact.vcard.is_some());
}

#[test]
fn zapi_media_keep_kind_url_caption_and_mime_type() {
    let cases = [
        (
            "received_image",
            MediaKind::Image,
            "image.jpeg",
            Some("Cartão de visita"),
        ),
        ("received_audio", MediaKind::Audio, "audio.ogg", None),
        ("received_video", MediaKind::Video, "video.mp4", None),
        ("received_document", MediaKind::Document, "tabela.pdf", None),
        ("received_sticker", MediaKind::Sticker, "sticker.webp", None),
    ];
    for (name, kind, file, caption) in cases {
        let event = zapi(name);
        let Content::Media(media) = content(&event) else {
            panic!("{name}: not media: {event:?}")
        };
        assert_eq!(media.kind, kind, "{name}");
        assert!(
            media.url.as_deref().is_some_and(|url| url.ends_with(file)),
            "{name}"
        );
        assert_eq!(media.caption.as_deref(), caption, "{name}");
        assert!(media.mime_type.is_some(), "{name}");
    }
    let event = zapi("received_document");
    let Content::Media(document) = content(&event) else {
        panic!("not media")
    };
    assert_eq!(document.file_name.as_deref(), Some("tabela.pdf"));
}

#[test]
fn zapi_location_has_coordinates_name_and_address() {
    let event = zapi("received_location");
    let Content::Location(location) = content(&event) else {
        panic!("not a location: {event:?}")
    };
    assert_eq!(location.latitude, Some(-23.55052));
    assert_eq!(location.longitude, Some(-46.633308));
    assert_eq!(location.name.as_deref(), Some("Marco Zero"));
    assert_eq!(location.address.as_deref(), Some("Praça da Sé, São Paulo"));
}

#[test]
fn zapi_reaction_names_its_emoji_and_target() {
    assert_eq!(
        content(&zapi("received_reaction")),
        &Content::Reaction {
            emoji: "❤️".into(),
            target: id("3EB0796DC6B777C0C7CD"),
        }
    );
}

#[test]
fn zapi_poll_and_vote() {
    let event = zapi("received_poll");
    let Content::Poll(poll) = content(&event) else {
        panic!("not a poll: {event:?}")
    };
    assert_eq!(poll.name, "Qual a melhor API?");
    assert_eq!(poll.options, ["Z-API", "Outras"]);
    assert!(poll.multiple_answers, "pollMaxOptions 0 means any number");

    let event = zapi("received_poll_vote");
    let Content::PollUpdate { target, poll } = content(&event) else {
        panic!("not a poll update: {event:?}")
    };
    assert_eq!(target, &id("3EB0796DC6B777C0C7CE"));
    let [vote] = poll.votes.as_slice() else {
        panic!("one vote: {poll:?}")
    };
    assert_eq!(vote.option, "Z-API");
    assert_eq!(vote.voters, [ChatId::from("5544999999999")]);
}

#[test]
fn zapi_button_and_list_replies_give_the_picked_id_and_label() {
    let event = zapi("received_buttons_response");
    assert_eq!(
        content(&event),
        &Content::ButtonReply {
            id: "1".into(),
            text: "Ótimo".into()
        }
    );
    assert_eq!(message(&event).quoted, id("3EB0796DC6B777C0C7CF"));
    let event = zapi("received_list_response");
    assert_eq!(
        content(&event),
        &Content::ButtonReply {
            id: "1".into(),
            text: "Z-API".into()
        }
    );
}

#[test]
fn zapi_unknown_content_keeps_its_name_and_raw_json() {
    let event = zapi("received_notification");
    assert_eq!(
        content(&event),
        &Content::Unknown {
            type_name: "GROUP_PARTICIPANT_ADD".into()
        }
    );
    assert_eq!(event.raw["notificationParameters"][0], "5544977776666");
    let event = zapi("received_product");
    assert_eq!(
        content(&event),
        &Content::Unknown {
            type_name: "product".into()
        }
    );
    assert_eq!(event.raw["product"]["title"], "Bicicleta");
}

#[test]
fn zapi_status_may_cover_several_messages() {
    let event = zapi("message_status");
    let EventKind::Status(status) = &event.kind else {
        panic!("not a status: {event:?}")
    };
    assert_eq!(status.status, DeliveryStatus::Read);
    assert_eq!(
        status.ids,
        [
            MessageId::from("3EB0A1B2C3D4E5F6A7B8"),
            MessageId::from("3EB0A1B2C3D4E5F6A7B9")
        ]
    );
    assert_eq!(status.chat, ChatId::from("5544999999999"));
    assert_eq!(event.message_id(), Some(&status.ids[0]));
    assert_eq!(event.status_text(), Some("read"));
}

#[test]
fn zapi_status_with_a_single_message_id_and_any_type_case() {
    let event = zapi("message_status_single_id");
    let EventKind::Status(status) = &event.kind else {
        panic!("not a status: {event:?}")
    };
    assert_eq!(
        status.status,
        DeliveryStatus::Delivered,
        "RECEIVED is delivered"
    );
    assert_eq!(status.ids, [MessageId::from("3EB0A1B2C3D4E5F6A7C1")]);
}

#[test]
fn zapi_delivery_callback_is_a_sent_status() {
    let event = zapi("delivery");
    assert_eq!(event.status_text(), Some("sent"));
    assert_eq!(
        event.message_id(),
        Some(&MessageId::from("3EB0A1B2C3D4E5F6A7C1"))
    );
    assert_eq!(event.chat(), Some(&ChatId::from("5544999999999")));

    let body = json!({"type": "DeliveryCallback", "phone": "5544999999999", "messageId": "X1", "error": "Invalid phone"});
    let event = Event::from_json(GatewayKind::ZApi, body).unwrap();
    let EventKind::Status(status) = &event.kind else {
        panic!("not a status: {event:?}")
    };
    assert_eq!(status.status, DeliveryStatus::Failed);
    assert_eq!(status.description.as_deref(), Some("Invalid phone"));
}

#[test]
fn zapi_connected_and_disconnected_are_instance_states() {
    let event = zapi("connected");
    let EventKind::InstanceState(state) = &event.kind else {
        panic!("not an instance state: {event:?}")
    };
    assert_eq!(
        (state.state.as_str(), state.connected),
        ("connected", Some(true))
    );

    let event = zapi("disconnected");
    let EventKind::InstanceState(state) = &event.kind else {
        panic!("not an instance state: {event:?}")
    };
    assert_eq!(state.state, "disconnected");
    assert_eq!(state.connected, Some(false));
    assert_eq!(
        state.description.as_deref(),
        Some("Device has been disconnected")
    );
    assert_eq!(
        event.timestamp,
        unix_seconds(1_580_163_342),
        "a time too small for milliseconds is seconds"
    );
}

#[test]
fn zapi_presence_and_new_callbacks_survive_as_unknown_with_raw_json() {
    let event = zapi("presence_chat");
    assert_unknown_kind(&event, "PresenceChatCallback");
    assert_eq!(event.raw["status"], "COMPOSING");

    let body = json!({"type": "NewCallback", "instanceId": "i1", "data": {"x": 1}});
    let event = Event::from_json(GatewayKind::ZApi, body.clone()).unwrap();
    assert_unknown_kind(&event, "NewCallback");
    assert_eq!(*event.raw, body);
}

// ---- refused bodies ----

#[test]
fn bodies_that_are_not_json_objects_are_refused_with_a_one_line_reason() {
    for gateway in ALL_GATEWAYS {
        for body in [&b""[..], b"{", b"<xml/>", b"\xff\xfe"] {
            let error = Event::parse(gateway, body).unwrap_err();
            assert!(matches!(error, ParseError::NotJson { .. }), "{error:?}");
            assert!(!error.to_string().contains('\n'));
        }
        for (body, found) in [
            ("[]", "array"),
            ("\"text\"", "string"),
            ("7", "number"),
            ("true", "boolean"),
            ("null", "null"),
        ] {
            let error = Event::parse(gateway, body.as_bytes()).unwrap_err();
            assert_eq!(error, ParseError::NotObject { found });
        }
        let event = Event::parse(gateway, b"{}").unwrap();
        assert_unknown_kind(&event, "");
    }
}

// ---- properties ----

/// Field names the parsers look for, so that generated JSON reaches their branches.
const KEYS: &[&str] = &[
    "typeWebhook",
    "instanceData",
    "idInstance",
    "typeInstance",
    "timestamp",
    "idMessage",
    "senderData",
    "chatId",
    "sender",
    "senderName",
    "senderContactName",
    "senderPhoneNumber",
    "chatName",
    "messageData",
    "typeMessage",
    "textMessageData",
    "textMessage",
    "extendedTextMessageData",
    "text",
    "stanzaId",
    "quotedMessage",
    "fileMessageData",
    "downloadUrl",
    "caption",
    "locationMessageData",
    "latitude",
    "longitude",
    "contactMessageData",
    "displayName",
    "vcard",
    "phoneNumber",
    "contacts",
    "pollMessageData",
    "options",
    "optionName",
    "votes",
    "optionVoters",
    "multipleAnswers",
    "editedMessageData",
    "deletedMessageData",
    "buttonsResponseMessage",
    "templateButtonReplyMessage",
    "listResponseMessage",
    "interactiveButtonsResponse",
    "singleSelectReply",
    "selectedRowId",
    "selectedId",
    "status",
    "sendByApi",
    "stateInstance",
    "statusInstance",
    "from",
    "statusBlock",
    "type",
    "instanceId",
    "messageId",
    "phone",
    "fromMe",
    "fromApi",
    "isGroup",
    "isEdit",
    "participantPhone",
    "connectedPhone",
    "momment",
    "moment",
    "referenceMessageId",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contact",
    "vCard",
    "phones",
    "reaction",
    "value",
    "referencedMessage",
    "poll",
    "pollVote",
    "pollMaxOptions",
    "ids",
    "error",
    "notification",
    "message",
];

/// Notification types of both gateways, and one nobody knows.
const TYPES: &[&str] = &[
    "incomingMessageReceived",
    "outgoingMessageReceived",
    "outgoingAPIMessageReceived",
    "outgoingMessageStatus",
    "stateInstanceChanged",
    "statusInstanceChanged",
    "deviceInfo",
    "incomingCall",
    "incomingBlock",
    "quotaExceeded",
    "ReceivedCallback",
    "receivedcallBack",
    "MessageStatusCallback",
    "DeliveryCallback",
    "ConnectedCallback",
    "DisconnectedCallback",
    "PresenceChatCallback",
    "somethingNew",
];

/// GREEN-API message types, and one nobody knows.
const MESSAGE_TYPES: &[&str] = &[
    "textMessage",
    "extendedTextMessage",
    "quotedMessage",
    "imageMessage",
    "videoMessage",
    "documentMessage",
    "audioMessage",
    "stickerMessage",
    "locationMessage",
    "contactMessage",
    "contactsArrayMessage",
    "reactionMessage",
    "pollMessage",
    "pollUpdateMessage",
    "editedMessage",
    "deletedMessage",
    "buttonsResponseMessage",
    "templateButtonsReplyMessage",
    "templateButtonReplyMessage",
    "listResponseMessage",
    "interactiveButtonsResponse",
    "groupInviteMessage",
];

/// Values that mean something to a parser or to the vCard reader.
const VALUES: &[&str] = &[
    "whatsapp",
    "v3",
    "{{SWE001}}",
    "READ",
    "RECEIVED",
    "sent",
    "authorized",
    "79001234567@c.us",
    "-10000000000000",
    "5544999999999",
    "BEGIN:VCARD\nFN:A\nTEL;waid=7900:+7\nEND:VCARD",
    "FN;ENCODING=QUOTED-PRINTABLE:=D0=\n=92=",
    "N:\\;;\\",
    "TEL;waid=:=",
    "item1.TEL:\n ",
    "",
];

fn word() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        prop::sample::select(TYPES),
        prop::sample::select(MESSAGE_TYPES),
        prop::sample::select(VALUES),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|number| json!(number)),
        1 => ".{0,12}".prop_map(Value::from),
        2 => word().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(KEYS).prop_map(str::to_owned),
            1 => "[a-zA-Z]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..7)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// A notification-shaped object: a known type and message type, with generated payloads under
/// the parsers' field names.
fn notification() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(TYPES),
        prop::sample::select(MESSAGE_TYPES),
        known_fields(),
        known_fields(),
    )
        .prop_map(|(kind, message_kind, mut object, mut message_data)| {
            message_data.insert("typeMessage".into(), message_kind.into());
            object.insert("typeWebhook".into(), kind.into());
            object.insert("type".into(), kind.into());
            object.insert("messageData".into(), Value::Object(message_data));
            Value::Object(object)
        })
}

/// Generated values under the parsers' field names.
fn known_fields() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..10).prop_map(|fields| {
        fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    })
}

/// Lines of vCards, well-formed and not, joined by any of the line ends cards arrive with.
fn vcard_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        prop::sample::select(
            &[
                "BEGIN:VCARD",
                "VERSION:2.1",
                "END:VCARD",
                "FN:Anna Smit",
                "FN:",
                "N:Smit;Anna;;;",
                "N:\\;;\\",
                "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:;=D0=92=D0=B0=",
                "=D1=81=D1=8F;;;",
                "FN;QUOTED-PRINTABLE:=E2=82",
                "FN;QUOTED-PRINTABLE:=",
                "=",
                "item1.TEL;waid=79001234567:+7 900 123-45-67",
                "TEL;waid=:",
                "TEL;type=CELL:8 (900)",
                " folded",
                "\t",
                ":",
                ";;;",
                "",
            ][..]
        )
        .prop_map(str::to_owned),
        ".{0,20}",
    ];
    let end = prop::sample::select(&["\n", "\r\n", "\\n", "\r"][..]);
    (prop::collection::vec(line, 0..12), end).prop_map(|(lines, end)| lines.join(end))
}

/// Every fixture of both gateways, as JSON.
fn fixtures() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut fixtures = Vec::new();
    for gateway in ["green_api", "zapi"] {
        for entry in std::fs::read_dir(root.join(gateway)).expect("fixture folder") {
            let body = std::fs::read(entry.expect("fixture entry").path()).expect("fixture");
            fixtures.push(serde_json::from_slice(&body).expect("fixtures are JSON"));
        }
    }
    fixtures
}

/// A real notification with some of its values, at any depth, replaced by generated ones.
fn mutated_fixture() -> impl Strategy<Value = Value> {
    let mutations = prop::collection::vec((any::<prop::sample::Index>(), json_value()), 1..4);
    (prop::sample::select(fixtures()), mutations).prop_map(|(mut value, mutations)| {
        for (index, replacement) in mutations {
            let mut paths = Vec::new();
            collect_pointers(&value, String::new(), &mut paths);
            let path = index.get(&paths).clone();
            if let Some(slot) = value.pointer_mut(&path) {
                *slot = replacement;
            }
        }
        value
    })
}

/// The JSON pointer of every value inside `value`, and of `value` itself (the empty pointer).
fn collect_pointers(value: &Value, pointer: String, pointers: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                let key = key.replace('~', "~0").replace('/', "~1");
                collect_pointers(field, format!("{pointer}/{key}"), pointers);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_pointers(item, format!("{pointer}/{index}"), pointers);
            }
        }
        _ => {}
    }
    pointers.push(pointer);
}

/// Parses `value` on every gateway; an object always becomes an event that keeps it whole.
fn parses_everywhere(value: &Value) -> Result<(), TestCaseError> {
    let body = serde_json::to_vec(value).expect("a generated value serialises");
    // Floats may come back a unit off after a round trip: compare with what the body says.
    let sent: Value = serde_json::from_slice(&body).expect("serde_json reads its own output");
    for gateway in ALL_GATEWAYS {
        prop_assert_eq!(
            Event::from_json(gateway, value.clone()).is_ok(),
            value.is_object()
        );
        let parsed = Event::parse(gateway, &body);
        prop_assert_eq!(parsed.is_ok(), value.is_object());
        if let Ok(event) = parsed {
            prop_assert_eq!(&*event.raw, &sent);
            // Read from the text (one pass, for GREEN-API text messages) or through a `Value`:
            // the same event, and the text as sent.
            prop_assert_eq!(
                &event,
                &Event::from_json(gateway, sent.clone()).expect("an object is an event")
            );
            prop_assert_eq!(event.raw.as_str().as_bytes(), &body[..]);
            let _ = (
                event.chat(),
                event.message_id(),
                event.status_text(),
                event.kind.name(),
            );
            if let Some(message) = event.message() {
                let _ = (
                    message.text(),
                    message.sender_display_name(),
                    message.content.name(),
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_a_parser(body in prop::collection::vec(any::<u8>(), 0..512)) {
        for gateway in ALL_GATEWAYS {
            let _ = Event::parse(gateway, &body);
        }
    }

    #[test]
    fn arbitrary_json_never_panics_a_parser(value in json_value()) {
        parses_everywhere(&value)?;
    }

    #[test]
    fn notification_shaped_json_never_panics_a_parser(value in notification()) {
        parses_everywhere(&value)?;
    }

    #[test]
    fn mutated_fixtures_never_panic_a_parser(value in mutated_fixture()) {
        parses_everywhere(&value)?;
    }

    #[test]
    fn arbitrary_text_never_panics_the_vcard_reader(text in any::<String>()) {
        let contact = SharedContact::from_vcard(&text);
        let unique: std::collections::HashSet<_> = contact.phones.iter().collect();
        prop_assert_eq!(unique.len(), contact.phones.len());
    }

    #[test]
    fn any_vcard_text_reads_into_digits_only_phones(vcard in vcard_text()) {
        let contact = SharedContact::from_vcard(&vcard);
        prop_assert!(contact.phones.iter().all(|phone| !phone.is_empty() && phone.bytes().all(|b| b.is_ascii_digit())));
        prop_assert_eq!(contact.vcard.as_deref(), Some(vcard.as_str()));
    }
}
