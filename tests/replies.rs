//! The reply kit on every gateway against a mock server: files by URL, locations and polls —
//! typing indicators, read marks, forwards and the generic call — the exact path and JSON body
//! sent, quoting where the gateway quotes, each broken rule refused
//! before anything is sent, and what a gateway cannot send refused as unsupported.

mod common;

use common::{
    assert_json_post, assert_nothing_sent, max, max_path, only_request, server_answering, telegram,
    telegram_path, whatsapp, whatsapp_path, zapi, zapi_path,
};
use hookbot::event::MediaKind;
use std::time::Duration;

use hookbot::gateway::{Gateway, GatewayKind, SendOptions, TypingKind};
use hookbot::reply::{Button, Buttons, File, Location, Poll, Upload};
use hookbot::{ChatId, Error, MessageId, Rule, ValidationError};
use serde_json::json;
use wiremock::MockServer;

const PERSON: &str = "79001234567@c.us";
const TG_GROUP: &str = "-1001234567890";

async fn green_api_server() -> MockServer {
    server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await
}

async fn zapi_server() -> MockServer {
    server_answering(200, json!({"zaapId": "Z1", "messageId": "M1", "id": "M1"})).await
}

fn menu() -> File {
    File::new("https://example.com/files/menu.pdf", "menu.pdf").caption("Today's menu")
}

fn lunch() -> Poll {
    Poll::new("Lunch?", ["Soup", "Salad"])
}

fn quoting() -> SendOptions {
    SendOptions::new().quote("BAE5F4886F6F2D05")
}

fn invalid(error: Error) -> ValidationError {
    match error {
        Error::Validation(invalid) => invalid,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---- GREEN-API WhatsApp ----

#[tokio::test]
async fn whatsapp_send_file_posts_send_file_by_url_with_name_caption_and_quote() {
    let server = green_api_server().await;
    let sent = whatsapp(&server.uri())
        .send_file(&ChatId::from(PERSON), &menu(), &quoting())
        .await
        .unwrap();
    assert_eq!(sent.id.as_str(), "3EB0C767D097B7C7C030");
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendFileByUrl"),
        json!({"chatId": PERSON, "urlFile": "https://example.com/files/menu.pdf",
               "fileName": "menu.pdf", "caption": "Today's menu",
               "quotedMessageId": "BAE5F4886F6F2D05"}),
    );
}

#[tokio::test]
async fn whatsapp_send_location_posts_coordinates_name_and_address() {
    let server = green_api_server().await;
    let shop = Location::new(55.7539, 37.6208)
        .name("The shop")
        .address("Red Square, 1");
    whatsapp(&server.uri())
        .send_location(&ChatId::from(PERSON), &shop, &SendOptions::new())
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendLocation"),
        json!({"chatId": PERSON, "latitude": 55.7539, "longitude": 37.6208,
               "nameLocation": "The shop", "address": "Red Square, 1"}),
    );
}

#[tokio::test]
async fn whatsapp_send_poll_posts_named_options_and_multiple_answers() {
    let server = green_api_server().await;
    whatsapp(&server.uri())
        .send_poll(
            &ChatId::from(PERSON),
            &lunch().multiple_answers(true),
            &quoting(),
        )
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendPoll"),
        json!({"chatId": PERSON, "message": "Lunch?",
               "options": [{"optionName": "Soup"}, {"optionName": "Salad"}],
               "multipleAnswers": true, "quotedMessageId": "BAE5F4886F6F2D05"}),
    );
}

#[tokio::test]
async fn a_single_answer_poll_leaves_multiple_answers_out() {
    let server = green_api_server().await;
    whatsapp(&server.uri())
        .send_poll(&ChatId::from(PERSON), &lunch(), &SendOptions::new())
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendPoll"),
        json!({"chatId": PERSON, "message": "Lunch?",
               "options": [{"optionName": "Soup"}, {"optionName": "Salad"}]}),
    );
}

// ---- each rule refused before sending ----

#[tokio::test]
async fn each_broken_rule_of_a_file_is_refused_before_sending() {
    let server = green_api_server().await;
    let client = whatsapp(&server.uri());
    let chat = ChatId::from(PERSON);
    let cases = [
        (
            File::new("ftp://example.com/menu.pdf", "menu.pdf"),
            "file.url",
            Rule::HttpUrl,
        ),
        (File::new("menu.pdf", "menu.pdf"), "file.url", Rule::HttpUrl),
        (
            File::new("https://example.com/menu", "menu"),
            "file.file_name",
            Rule::FileExtension,
        ),
        (
            menu().caption("x".repeat(1025)),
            "file.caption",
            Rule::TooLong {
                max: 1024,
                actual: 1025,
            },
        ),
    ];
    for (file, field, rule) in cases {
        let error = invalid(
            client
                .send_file(&chat, &file, &SendOptions::new())
                .await
                .unwrap_err(),
        );
        assert_eq!((error.field, error.rule), (field, rule));
    }
    let error = invalid(
        client
            .send_file(&ChatId::from("not a chat"), &menu(), &SendOptions::new())
            .await
            .unwrap_err(),
    );
    assert_eq!(error.field, "chat");
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn coordinates_out_of_range_are_refused_before_sending() {
    let server = green_api_server().await;
    let client = whatsapp(&server.uri());
    let chat = ChatId::from(PERSON);
    let cases = [
        (Location::new(90.5, 0.0), "location.latitude", 90),
        (Location::new(f64::NAN, 0.0), "location.latitude", 90),
        (Location::new(0.0, -180.1), "location.longitude", 180),
        (Location::new(0.0, f64::INFINITY), "location.longitude", 180),
    ];
    for (location, field, max) in cases {
        let error = invalid(
            client
                .send_location(&chat, &location, &SendOptions::new())
                .await
                .unwrap_err(),
        );
        assert_eq!(error.field, field);
        assert!(
            matches!(error.rule, Rule::Degrees { max: m, .. } if m == max),
            "{error}"
        );
    }
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn each_broken_rule_of_a_poll_is_refused_before_sending() {
    let server = green_api_server().await;
    let client = whatsapp(&server.uri());
    let chat = ChatId::from(PERSON);
    let thirteen: Vec<String> = (1..=13).map(|n| format!("option {n}")).collect();
    let cases = [
        (Poll::new("", ["a", "b"]), "poll.question", Rule::Empty),
        (
            Poll::new("q".repeat(256), ["a", "b"]),
            "poll.question",
            Rule::TooLong {
                max: 255,
                actual: 256,
            },
        ),
        (
            Poll::new("Lunch?", ["Soup"]),
            "poll.options",
            Rule::Count {
                min: 2,
                max: 12,
                actual: 1,
            },
        ),
        (
            Poll::new("Lunch?", thirteen),
            "poll.options",
            Rule::Count {
                min: 2,
                max: 12,
                actual: 13,
            },
        ),
        (
            Poll::new("Lunch?", ["Soup", "Salad", "Soup"]),
            "poll.options",
            Rule::Duplicate {
                value: "Soup".into(),
            },
        ),
        (
            Poll::new("Lunch?", ["Soup", " "]),
            "poll.options",
            Rule::Empty,
        ),
    ];
    for (poll, field, rule) in cases {
        let error = invalid(
            client
                .send_poll(&chat, &poll, &SendOptions::new())
                .await
                .unwrap_err(),
        );
        assert_eq!((error.field, error.rule), (field, rule));
    }
    assert_nothing_sent(&server).await;
}

// ---- GREEN-API MAX ----

#[tokio::test]
async fn max_sends_files_and_locations_on_v3_paths_without_the_undocumented_quote() {
    let server = green_api_server().await;
    let client = max(&server.uri());
    let chat = ChatId::from("10000000");
    client.send_file(&chat, &menu(), &quoting()).await.unwrap();
    client
        .send_location(&chat, &Location::new(1.5, 2.5), &quoting())
        .await
        .unwrap();
    let received = common::requests(&server).await;
    assert_json_post(
        &received[0],
        &max_path("sendFileByUrl"),
        json!({"chatId": "10000000", "urlFile": "https://example.com/files/menu.pdf",
               "fileName": "menu.pdf", "caption": "Today's menu"}),
    );
    assert_json_post(
        &received[1],
        &max_path("sendLocation"),
        json!({"chatId": "10000000", "latitude": 1.5, "longitude": 2.5}),
    );
    assert!(!client.capabilities().quote_media);
}

#[tokio::test]
async fn max_polls_take_200_characters_and_no_multiple_answers() {
    let server = green_api_server().await;
    let client = max(&server.uri());
    let chat = ChatId::from("-10000000000000");
    let error = client
        .send_poll(&chat, &lunch().multiple_answers(true), &SendOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unsupported {
                gateway: GatewayKind::GreenApiMax,
                ..
            }
        ),
        "{error:?}"
    );
    let error = invalid(
        client
            .send_poll(
                &chat,
                &Poll::new("q".repeat(201), ["a", "b"]),
                &SendOptions::new(),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        error.rule,
        Rule::TooLong {
            max: 200,
            actual: 201
        }
    );
    assert_nothing_sent(&server).await;
    assert!(!client.capabilities().polls.multiple_answers);

    client
        .send_poll(&chat, &lunch(), &SendOptions::new())
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &max_path("sendPoll"),
        json!({"chatId": "-10000000000000", "message": "Lunch?",
               "options": [{"optionName": "Soup"}, {"optionName": "Salad"}]}),
    );
}

// ---- GREEN-API Telegram ----

#[tokio::test]
async fn telegram_polls_go_to_groups_only_with_plain_string_options() {
    let server = green_api_server().await;
    let client = telegram(&server.uri());
    let error = invalid(
        client
            .send_poll(&ChatId::from("10000000"), &lunch(), &SendOptions::new())
            .await
            .unwrap_err(),
    );
    assert_eq!((error.field, error.rule), ("chat", Rule::GroupChatOnly));
    assert_nothing_sent(&server).await;
    assert!(client.capabilities().polls.groups_only);

    client
        .send_poll(&ChatId::from(TG_GROUP), &lunch(), &quoting())
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &telegram_path("sendPoll"),
        json!({"chatId": TG_GROUP, "message": "Lunch?", "options": ["Soup", "Salad"],
               "type": "regular", "quotedMessageId": "BAE5F4886F6F2D05"}),
    );
}

#[tokio::test]
async fn telegram_sends_a_file_quoting() {
    let server = green_api_server().await;
    telegram(&server.uri())
        .send_file(&ChatId::from("10000000"), &menu(), &quoting())
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &telegram_path("sendFileByUrl"),
        json!({"chatId": "10000000", "urlFile": "https://example.com/files/menu.pdf",
               "fileName": "menu.pdf", "caption": "Today's menu",
               "quotedMessageId": "BAE5F4886F6F2D05"}),
    );
}

// ---- Z-API ----

#[tokio::test]
async fn zapi_sends_each_kind_of_file_to_its_method() {
    let server = zapi_server().await;
    let client = zapi(&server.uri());
    let chat = ChatId::from("5544999999999");
    let files = [
        File::new("https://example.com/a/photo.jpg", "photo.jpg").caption("Look"),
        File::new("https://example.com/a/clip.mp4", "clip.mp4"),
        File::new("https://example.com/a/note.ogg", "note.ogg"),
        menu(),
    ];
    for file in &files {
        let sent = client.send_file(&chat, file, &quoting()).await.unwrap();
        assert_eq!(sent.id.as_str(), "M1");
    }
    let received = common::requests(&server).await;
    assert_json_post(
        &received[0],
        &zapi_path("send-image"),
        json!({"phone": "5544999999999", "image": "https://example.com/a/photo.jpg", "caption": "Look"}),
    );
    assert_json_post(
        &received[1],
        &zapi_path("send-video"),
        json!({"phone": "5544999999999", "video": "https://example.com/a/clip.mp4"}),
    );
    assert_json_post(
        &received[2],
        &zapi_path("send-audio"),
        json!({"phone": "5544999999999", "audio": "https://example.com/a/note.ogg"}),
    );
    assert_json_post(
        &received[3],
        &zapi_path("send-document/pdf"),
        json!({"phone": "5544999999999", "document": "https://example.com/files/menu.pdf",
               "fileName": "menu.pdf", "caption": "Today's menu"}),
    );
}

#[tokio::test]
async fn zapi_refuses_a_sticker_as_unsupported() {
    let server = zapi_server().await;
    let sticker = File::new("https://example.com/s.webp", "s.webp").kind(MediaKind::Sticker);
    let error = zapi(&server.uri())
        .send_file(
            &ChatId::from("5544999999999"),
            &sticker,
            &SendOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unsupported {
                gateway: GatewayKind::ZApi,
                what: "a sticker"
            }
        ),
        "{error:?}"
    );
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn zapi_send_location_posts_string_coordinates_and_requires_title_and_address() {
    let server = zapi_server().await;
    let client = zapi(&server.uri());
    let chat = ChatId::from("5544999999999");
    let error = invalid(
        client
            .send_location(&chat, &Location::new(1.5, 2.5), &SendOptions::new())
            .await
            .unwrap_err(),
    );
    assert_eq!(error.field, "location.name");
    assert!(matches!(error.rule, Rule::Required { .. }));
    assert_nothing_sent(&server).await;

    let shop = Location::new(-23.5, -46.25)
        .name("Loja")
        .address("Av. Paulista, 1");
    client
        .send_location(&chat, &shop, &SendOptions::new())
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &zapi_path("send-location"),
        json!({"phone": "5544999999999", "title": "Loja", "address": "Av. Paulista, 1",
               "latitude": "-23.5", "longitude": "-46.25"}),
    );
}

#[tokio::test]
async fn zapi_send_poll_posts_named_options_and_one_answer_unless_several() {
    let server = zapi_server().await;
    let client = zapi(&server.uri());
    let chat = ChatId::from("5544999999999");
    client
        .send_poll(&chat, &lunch(), &SendOptions::new())
        .await
        .unwrap();
    client
        .send_poll(&chat, &lunch().multiple_answers(true), &SendOptions::new())
        .await
        .unwrap();
    let received = common::requests(&server).await;
    assert_json_post(
        &received[0],
        &zapi_path("send-poll"),
        json!({"phone": "5544999999999", "message": "Lunch?",
               "poll": [{"name": "Soup"}, {"name": "Salad"}], "pollMaxOptions": 1}),
    );
    assert_json_post(
        &received[1],
        &zapi_path("send-poll"),
        json!({"phone": "5544999999999", "message": "Lunch?",
               "poll": [{"name": "Soup"}, {"name": "Salad"}]}),
    );
}

// ---- typing, read marks, forwards ----

fn unsupported(error: Error, on: GatewayKind) {
    assert!(
        matches!(error, Error::Unsupported { gateway, .. } if gateway == on),
        "{error:?}"
    );
}

#[tokio::test]
async fn whatsapp_send_typing_posts_typing_time_and_type() {
    let server = server_answering(200, json!({})).await;
    let client = whatsapp(&server.uri());
    client
        .send_typing(
            &ChatId::from(PERSON),
            Duration::from_secs(3),
            Some(TypingKind::Recording),
        )
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendTyping"),
        json!({"chatId": PERSON, "typingTime": 3000, "typingType": "recording"}),
    );
}

#[tokio::test]
async fn a_typing_time_out_of_range_or_an_unsupported_typing_is_refused_before_sending() {
    let server = server_answering(200, json!({})).await;
    let error = invalid(
        whatsapp(&server.uri())
            .send_typing(&ChatId::from(PERSON), Duration::from_secs(21), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.field, "duration");
    assert!(matches!(error.rule, Rule::DurationRange { .. }));
    let telegram = telegram(&server.uri());
    assert!(!telegram.capabilities().typing);
    let error = telegram
        .send_typing(&ChatId::from("10000000"), Duration::from_secs(2), None)
        .await
        .unwrap_err();
    unsupported(error, GatewayKind::GreenApiTelegram);
    let error = zapi(&server.uri())
        .send_typing(&ChatId::from("5544999999999"), Duration::from_secs(2), None)
        .await
        .unwrap_err();
    unsupported(error, GatewayKind::ZApi);
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn max_send_typing_posts_on_its_v3_path() {
    let server = server_answering(200, json!({})).await;
    max(&server.uri())
        .send_typing(&ChatId::from("10000000"), Duration::from_secs(1), None)
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &max_path("sendTyping"),
        json!({"chatId": "10000000", "typingTime": 1000}),
    );
}

#[tokio::test]
async fn whatsapp_mark_read_posts_read_chat_with_the_message() {
    let server = server_answering(200, json!({"setRead": true})).await;
    let client = whatsapp(&server.uri());
    client
        .mark_read(
            &ChatId::from(PERSON),
            Some(&MessageId::from("BAE5F4886F6F2D05")),
        )
        .await
        .unwrap();
    client.mark_read(&ChatId::from(PERSON), None).await.unwrap();
    let received = common::requests(&server).await;
    assert_json_post(
        &received[0],
        &whatsapp_path("readChat"),
        json!({"chatId": PERSON, "idMessage": "BAE5F4886F6F2D05"}),
    );
    assert_json_post(
        &received[1],
        &whatsapp_path("readChat"),
        json!({"chatId": PERSON}),
    );
}

#[tokio::test]
async fn read_marks_where_undocumented_or_without_a_message_on_zapi_are_refused() {
    let server = server_answering(200, json!({})).await;
    let max = max(&server.uri());
    assert!(!max.capabilities().mark_read);
    let error = max
        .mark_read(&ChatId::from("10000000"), None)
        .await
        .unwrap_err();
    unsupported(error, GatewayKind::GreenApiMax);
    let error = invalid(
        zapi(&server.uri())
            .mark_read(&ChatId::from("5544999999999"), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.field, "message");
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn zapi_mark_read_posts_read_message() {
    let server = server_answering(200, json!({})).await;
    zapi(&server.uri())
        .mark_read(
            &ChatId::from("5544999999999"),
            Some(&MessageId::from("3EB0A1B2")),
        )
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &zapi_path("read-message"),
        json!({"phone": "5544999999999", "messageId": "3EB0A1B2"}),
    );
}

#[tokio::test]
async fn whatsapp_forward_posts_forward_messages_and_reads_the_copies() {
    let server = server_answering(200, json!({"messages": ["COPY1", "COPY2"]})).await;
    let forwarded = whatsapp(&server.uri())
        .forward(
            &ChatId::from("79001234568@c.us"),
            &ChatId::from(PERSON),
            &[MessageId::from("ORIG1"), MessageId::from("ORIG2")],
        )
        .await
        .unwrap();
    let ids: Vec<&str> = forwarded.iter().map(|sent| sent.id.as_str()).collect();
    assert_eq!(ids, ["COPY1", "COPY2"]);
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("forwardMessages"),
        json!({"chatId": "79001234568@c.us", "chatIdFrom": PERSON, "messages": ["ORIG1", "ORIG2"]}),
    );
}

#[tokio::test]
async fn zapi_forwards_each_message_with_forward_message() {
    let server = zapi_server().await;
    let forwarded = zapi(&server.uri())
        .forward(
            &ChatId::from("5544988888888"),
            &ChatId::from("5544999999999"),
            &[MessageId::from("A1"), MessageId::from("A2")],
        )
        .await
        .unwrap();
    assert_eq!(forwarded.len(), 2);
    let received = common::requests(&server).await;
    for (request, id) in received.iter().zip(["A1", "A2"]) {
        assert_json_post(
            request,
            &zapi_path("forward-message"),
            json!({"phone": "5544988888888", "messageId": id, "messagePhone": "5544999999999"}),
        );
    }
}

#[tokio::test]
async fn forwarding_nothing_or_where_undocumented_is_refused_before_sending() {
    let server = green_api_server().await;
    let error = invalid(
        whatsapp(&server.uri())
            .forward(&ChatId::from(PERSON), &ChatId::from(PERSON), &[])
            .await
            .unwrap_err(),
    );
    assert_eq!((error.field, error.rule), ("messages", Rule::Empty));
    let error = telegram(&server.uri())
        .forward(
            &ChatId::from("10000000"),
            &ChatId::from("10000001"),
            &[MessageId::from("1")],
        )
        .await
        .unwrap_err();
    unsupported(error, GatewayKind::GreenApiTelegram);
    assert_nothing_sent(&server).await;
}

// ---- the generic call ----

#[tokio::test]
async fn call_method_gets_or_posts_any_method_and_returns_its_json() {
    let server = server_answering(200, json!({"stateInstance": "authorized"})).await;
    let client = whatsapp(&server.uri());
    let state = client.call_method("getStateInstance", None).await.unwrap();
    assert_eq!(state, json!({"stateInstance": "authorized"}));
    client
        .call_method(
            "checkWhatsapp",
            Some(&json!({"phoneNumber": 79001234567_u64})),
        )
        .await
        .unwrap();
    let received = common::requests(&server).await;
    common::assert_get(&received[0], &whatsapp_path("getStateInstance"), None);
    assert_json_post(
        &received[1],
        &whatsapp_path("checkWhatsapp"),
        json!({"phoneNumber": 79001234567_u64}),
    );
}

#[tokio::test]
async fn zapi_call_method_takes_a_path() {
    let server = server_answering(200, json!({"name": "Ana"})).await;
    let answer = zapi(&server.uri())
        .call_method("contacts/5544999999999", None)
        .await
        .unwrap();
    assert_eq!(answer["name"], "Ana");
    common::assert_get(
        &only_request(&server).await,
        &zapi_path("contacts/5544999999999"),
        None,
    );
}

#[tokio::test]
async fn a_method_name_that_could_leave_its_path_is_refused_before_sending() {
    let server = green_api_server().await;
    for method in ["", "../getSettings", "a/b", "get?x=1", "a b", "%2e%2e"] {
        let error = invalid(
            whatsapp(&server.uri())
                .call_method(method, None)
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (error.field, error.rule),
            ("method", Rule::MethodName),
            "{method}"
        );
    }
    for method in ["a//b", "/chats", "..", "chats/"] {
        let error = invalid(
            zapi(&server.uri())
                .call_method(method, None)
                .await
                .unwrap_err(),
        );
        assert_eq!(error.rule, Rule::MethodName, "{method}");
    }
    assert_nothing_sent(&server).await;
}

// ---- buttons ----

fn order() -> Buttons {
    Buttons::new("Your order is ready. Pick it up?")
        .header("Order 42")
        .footer("Shop")
        .button(Button::reply("yes", "Yes, now"))
        .button(Button::reply("later", "Later"))
}

#[tokio::test]
async fn whatsapp_reply_buttons_post_send_interactive_buttons_reply() {
    let server = green_api_server().await;
    whatsapp(&server.uri())
        .send_buttons(&ChatId::from(PERSON), &order(), &quoting())
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendInteractiveButtonsReply"),
        json!({"chatId": PERSON, "header": "Order 42", "body": "Your order is ready. Pick it up?",
               "footer": "Shop", "quotedMessageId": "BAE5F4886F6F2D05",
               "buttons": [{"buttonId": "yes", "buttonText": "Yes, now"},
                           {"buttonId": "later", "buttonText": "Later"}]}),
    );
}

#[tokio::test]
async fn whatsapp_action_buttons_post_send_interactive_buttons_with_their_types() {
    let server = green_api_server().await;
    let actions = Buttons::new("Reach us")
        .button(Button::url("site", "Website", "https://example.com"))
        .button(Button::call("call", "Call", "79001234567"))
        .button(Button::copy("code", "Copy code", "PROMO10"));
    whatsapp(&server.uri())
        .send_buttons(&ChatId::from(PERSON), &actions, &SendOptions::new())
        .await
        .unwrap();
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendInteractiveButtons"),
        json!({"chatId": PERSON, "body": "Reach us", "buttons": [
            {"type": "url", "buttonId": "site", "buttonText": "Website", "url": "https://example.com"},
            {"type": "call", "buttonId": "call", "buttonText": "Call", "phoneNumber": "79001234567"},
            {"type": "copy", "buttonId": "code", "buttonText": "Copy code", "copyCode": "PROMO10"}]}),
    );
}

#[tokio::test]
async fn each_broken_rule_of_buttons_and_each_unsupported_case_is_refused_before_sending() {
    let server = green_api_server().await;
    let client = whatsapp(&server.uri());
    let chat = ChatId::from(PERSON);
    let four = (1..=4).fold(Buttons::new("Pick"), |buttons, n| {
        buttons.button(Button::reply(n.to_string(), n.to_string()))
    });
    let cases = [
        (Buttons::new("Pick"), "buttons.buttons", "count"),
        (four, "buttons.buttons", "count"),
        (
            Buttons::new("Pick").button(Button::reply("a", "x".repeat(26))),
            "button.label",
            "too long",
        ),
        (
            Buttons::new("Pick")
                .button(Button::reply("a", "A"))
                .button(Button::reply("a", "B")),
            "button.id",
            "duplicate",
        ),
        (
            Buttons::new("Pick").button(Button::url("a", "A", "javascript:alert(1)")),
            "button.url",
            "url",
        ),
        (
            Buttons::new("Pick").button(Button::call("a", "A", "+7 900")),
            "button.phone",
            "digits",
        ),
        (
            Buttons::new("").button(Button::reply("a", "A")),
            "buttons.text",
            "empty",
        ),
    ];
    for (buttons, field, what) in cases {
        let error = invalid(
            client
                .send_buttons(&chat, &buttons, &SendOptions::new())
                .await
                .unwrap_err(),
        );
        assert_eq!(error.field, field, "{what}");
    }
    let mixed = Buttons::new("Pick")
        .button(Button::reply("a", "A"))
        .button(Button::url("b", "B", "https://example.com"));
    let error = client
        .send_buttons(&chat, &mixed, &SendOptions::new())
        .await
        .unwrap_err();
    unsupported(error, GatewayKind::GreenApiWhatsApp);
    for (gateway, chat, kind) in [
        (max(&server.uri()), "10000000", GatewayKind::GreenApiMax),
        (
            telegram(&server.uri()),
            "10000000",
            GatewayKind::GreenApiTelegram,
        ),
    ] {
        assert!(!gateway.capabilities().buttons);
        let error = gateway
            .send_buttons(&ChatId::from(chat), &order(), &SendOptions::new())
            .await
            .unwrap_err();
        unsupported(error, kind);
    }
    let copy = Buttons::new("Pick").button(Button::copy("c", "Copy", "X"));
    let error = zapi(&server.uri())
        .send_buttons(&ChatId::from("5544999999999"), &copy, &SendOptions::new())
        .await
        .unwrap_err();
    unsupported(error, GatewayKind::ZApi);
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn zapi_sends_reply_buttons_as_a_button_list_and_actions_as_button_actions() {
    let server = zapi_server().await;
    let client = zapi(&server.uri());
    let chat = ChatId::from("5544999999999");
    client
        .send_buttons(&chat, &order(), &SendOptions::new())
        .await
        .unwrap();
    let actions = Buttons::new("Reach us")
        .header("Shop")
        .button(Button::url("site", "Website", "https://example.com"))
        .button(Button::call("call", "Call", "5544999999999"))
        .button(Button::reply("later", "Later"));
    client
        .send_buttons(&chat, &actions, &SendOptions::new())
        .await
        .unwrap();
    let received = common::requests(&server).await;
    assert_json_post(
        &received[0],
        &zapi_path("send-button-list"),
        json!({"phone": "5544999999999", "message": "Your order is ready. Pick it up?",
               "buttonList": {"buttons": [{"id": "yes", "label": "Yes, now"},
                                          {"id": "later", "label": "Later"}]}}),
    );
    assert_json_post(
        &received[1],
        &zapi_path("send-button-actions"),
        json!({"phone": "5544999999999", "message": "Reach us", "title": "Shop", "buttonActions": [
            {"id": "site", "type": "URL", "url": "https://example.com", "label": "Website"},
            {"id": "call", "type": "CALL", "phone": "5544999999999", "label": "Call"},
            {"id": "later", "type": "REPLY", "label": "Later"}]}),
    );
}

// ---- received files ----

#[tokio::test]
async fn download_url_posts_download_file_and_reads_the_url() {
    let url = "https://do-media-7105.fra1.digitaloceanspaces.com/7105000000/a.jpg";
    let server = server_answering(200, json!({"downloadUrl": url})).await;
    let found = whatsapp(&server.uri())
        .download_url(&ChatId::from(PERSON), &MessageId::from("BAE5F4886F9A6B28"))
        .await
        .unwrap();
    assert_eq!(found, url);
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("downloadFile"),
        json!({"chatId": PERSON, "idMessage": "BAE5F4886F9A6B28"}),
    );
    let error = zapi(&server.uri())
        .download_url(&ChatId::from("5544999999999"), &MessageId::from("A1"))
        .await
        .unwrap_err();
    unsupported(error, GatewayKind::ZApi);
}

// ---- the context's helpers, in a bot over HTTP ----

/// A bot whose handler marks the chat read, shows typing, forwards the message to
/// [`FORWARD_TO`] and answers with the message's download URL.
fn helpers_bot(gateway: &MockServer) -> hookbot::Bot {
    async fn handle(cx: hookbot::Context) -> hookbot::Result<()> {
        cx.mark_read().await?;
        cx.typing(Duration::from_secs(1), None).await?;
        cx.forward_to(FORWARD_TO).await?;
        let url = cx.download_url().await?.unwrap_or_else(|| "none".into());
        cx.reply(url).await?;
        Ok(())
    }
    hookbot::Bot::builder(hookbot::Router::new().fallback(handle))
        .instances(hookbot::instance::Instance::new(std::sync::Arc::new(
            whatsapp(&gateway.uri()),
        )))
        .webhook_token("secret")
        .build()
        .unwrap()
}

const FORWARD_TO: &str = "79001234568@c.us";

#[tokio::test]
async fn context_helpers_mark_read_type_forward_and_download_the_triggering_message() {
    let url = "https://do-media-7105.fra1.digitaloceanspaces.com/7105000000/asked.jpg";
    let gateway = server_answering(
        200,
        json!({"downloadUrl": url, "idMessage": "S", "messages": ["F"]}),
    )
    .await;
    let bot = common::Server::start(helpers_bot(&gateway)).await;
    let mut image: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/green_api/incoming_image.json")).unwrap();
    image["messageData"]["fileMessageData"]
        .as_object_mut()
        .unwrap()
        .remove("downloadUrl");
    let status = bot
        .post("/webhook", common::body(&image), Some("secret"))
        .await;
    assert_eq!(status, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while common::requests(&gateway).await.len() < 5 {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent = common::requests(&gateway).await;
    let id = "BAE5F4886F9A6B28";
    assert_json_post(
        &sent[0],
        &whatsapp_path("readChat"),
        json!({"chatId": PERSON, "idMessage": id}),
    );
    assert_json_post(
        &sent[1],
        &whatsapp_path("sendTyping"),
        json!({"chatId": PERSON, "typingTime": 1000}),
    );
    assert_json_post(
        &sent[2],
        &whatsapp_path("forwardMessages"),
        json!({"chatId": FORWARD_TO, "chatIdFrom": PERSON, "messages": [id]}),
    );
    assert_json_post(
        &sent[3],
        &whatsapp_path("downloadFile"),
        json!({"chatId": PERSON, "idMessage": id}),
    );
    assert_json_post(
        &sent[4],
        &whatsapp_path("sendMessage"),
        json!({"chatId": PERSON, "message": url}),
    );
    bot.stop().await.unwrap().unwrap();
}

// ---- uploads ----

/// The part `name` of a multipart body: its headers and its content.
fn part<'a>(body: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let start = body.find(&format!("Content-Disposition: form-data; name=\"{name}\""))?;
    let rest = &body[start..];
    let (headers, content) = rest.split_once("\r\n\r\n")?;
    let end = content.find("\r\n--")?;
    Some((headers, &content[..end]))
}

fn report_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, b"%PDF-1.7 the report").unwrap();
    path
}

#[tokio::test]
async fn whatsapp_upload_streams_a_multipart_body_to_the_media_host() {
    let api = green_api_server().await;
    let media = server_answering(
        200,
        json!({"idMessage": "UP1", "urlFile": "https://x/y.pdf"}),
    )
    .await;
    let client = hookbot::gateway::GreenApi::whatsapp(api.uri(), common::INSTANCE, common::TOKEN)
        .media_url(media.uri())
        .settings(common::fast_settings())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let upload = Upload::from_path(report_file(&dir)).caption("November");
    let sent = client
        .send_upload(&ChatId::from(PERSON), &upload, &quoting())
        .await
        .unwrap();
    assert_eq!(sent.id.as_str(), "UP1");
    assert_nothing_sent(&api).await;
    let request = only_request(&media).await;
    assert_eq!(request.url.path(), whatsapp_path("sendFileByUpload"));
    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = String::from_utf8(request.body.clone()).unwrap();
    assert_eq!(part(&body, "chatId").unwrap().1, PERSON);
    assert_eq!(part(&body, "fileName").unwrap().1, "report.pdf");
    assert_eq!(part(&body, "caption").unwrap().1, "November");
    assert_eq!(
        part(&body, "quotedMessageId").unwrap().1,
        "BAE5F4886F6F2D05"
    );
    let (headers, content) = part(&body, "file").unwrap();
    assert!(headers.contains("filename=\"report.pdf\""), "{headers}");
    assert!(
        headers.contains("Content-Type: application/pdf"),
        "{headers}"
    );
    assert_eq!(content, "%PDF-1.7 the report");
}

#[tokio::test]
async fn an_upload_is_streamed_again_for_a_retry_after_a_refusal() {
    use wiremock::matchers::any;
    use wiremock::{Mock, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"idMessage": "UP2"})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let sent = whatsapp(&server.uri())
        .send_upload(
            &ChatId::from(PERSON),
            &Upload::from_path(report_file(&dir)),
            &SendOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(sent.id.as_str(), "UP2");
    let received = common::requests(&server).await;
    assert_eq!(received.len(), 2);
    for request in received {
        let body = String::from_utf8(request.body).unwrap();
        assert_eq!(part(&body, "file").unwrap().1, "%PDF-1.7 the report");
    }
}

#[tokio::test]
async fn a_missing_or_too_large_file_is_refused_before_sending() {
    let server = green_api_server().await;
    let client = whatsapp(&server.uri());
    let chat = ChatId::from(PERSON);
    let dir = tempfile::tempdir().unwrap();
    let missing = Upload::from_path(dir.path().join("missing.pdf"));
    let error = client
        .send_upload(&chat, &missing, &SendOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::File { .. }), "{error:?}");
    let huge = dir.path().join("huge.mp4");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(100 * 1024 * 1024 + 1)
        .unwrap();
    let error = client
        .send_upload(&chat, &Upload::from_path(&huge), &SendOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::PayloadTooLarge { size: Some(size), limit } if size == 100 * 1024 * 1024 + 1 && limit == 100 * 1024 * 1024),
        "{error:?}"
    );
    let error = invalid(
        client
            .send_upload(
                &chat,
                &Upload::from_bytes(&b"x"[..], "noext"),
                &SendOptions::new(),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (error.field, error.rule),
        ("upload.file_name", Rule::FileExtension)
    );
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn zapi_upload_sends_the_file_as_base64_in_its_kinds_method() {
    let server = zapi_server().await;
    let client = zapi(&server.uri());
    let chat = ChatId::from("5544999999999");
    let png = Upload::from_bytes(&b"\x89PNG"[..], "chart.png").caption("Chart");
    client
        .send_upload(&chat, &png, &SendOptions::new())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    client
        .send_upload(
            &chat,
            &Upload::from_path(report_file(&dir)),
            &SendOptions::new(),
        )
        .await
        .unwrap();
    let received = common::requests(&server).await;
    assert_json_post(
        &received[0],
        &zapi_path("send-image"),
        json!({"phone": "5544999999999", "image": "data:image/png;base64,iVBORw==", "caption": "Chart"}),
    );
    assert_json_post(
        &received[1],
        &zapi_path("send-document/pdf"),
        json!({"phone": "5544999999999",
               "document": "data:application/pdf;base64,JVBERi0xLjcgdGhlIHJlcG9ydA==",
               "fileName": "report.pdf"}),
    );
}

#[tokio::test]
async fn a_file_whose_send_may_have_gone_out_is_reported_unconfirmed_not_repeated() {
    let server = server_answering(500, json!({"error": "internal"})).await;
    let error = whatsapp(&server.uri())
        .send_file(&ChatId::from(PERSON), &menu(), &SendOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::SendUnconfirmed { .. }), "{error:?}");
    assert_eq!(common::requests(&server).await.len(), 1);
}
