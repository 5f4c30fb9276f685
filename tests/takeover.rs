//! Owner takeover as a layer of any bot's router, over real HTTP: the owner's message from the
//! phone pauses the bot in that chat; the bot's own API messages do not.

mod common;

use std::time::Duration;

use common::{Seen, Server, TOKEN, body, offline_bot};
use hookbot::gateway::GatewayKind;
use hookbot::takeover::Takeover;
use hookbot::testing::TestBot;
use hookbot::{Context, Direction, Router, filter};
use reqwest::StatusCode;
use serde_json::json;

#[path = "../examples/takeover.rs"]
#[allow(dead_code)]
mod example;

/// A Z-API `ReceivedCallback` in the private chat of `phone`.
fn received(phone: &str, id: &str, text: &str, from_me: bool, from_api: bool) -> Vec<u8> {
    body(&json!({
        "type": "ReceivedCallback", "instanceId": common::ZAPI_INSTANCE, "messageId": id,
        "phone": phone, "fromMe": from_me, "fromApi": from_api, "isGroup": false,
        "momment": 1632228638000_u64, "senderName": "Ana", "text": {"message": text}
    }))
}

/// A router that records every message but the owner's, paused by a takeover of an hour: the
/// owner's messages reach the layer with no route of their own.
fn paused_router(seen: &Seen) -> Router {
    let seen = seen.clone();
    let record = move |cx: Context| {
        seen.push(cx.event().clone());
        async { Ok::<_, hookbot::Error>(()) }
    };
    Router::new()
        .route(
            filter::message_where(|message| message.direction != Direction::SentFromPhone),
            record,
        )
        .layer(Takeover::new(Duration::from_secs(3600)))
}

#[tokio::test]
async fn on_zapi_from_me_without_from_api_pauses_the_chat_and_from_api_does_not() {
    let seen = Seen::default();
    let bot = offline_bot(GatewayKind::ZApi, paused_router(&seen), TOKEN);
    let server = Server::start(bot.build().unwrap()).await;
    let path = format!("/webhook/{TOKEN}");
    let ana = "5544999999999";
    let bia = "5544988888888";
    for notification in [
        received(ana, "A1", "sent by the bot", true, true),
        received(ana, "A2", "ana asks", false, false),
        received(bia, "B1", "the owner answers", true, false),
        received(bia, "B2", "bia thanks", false, false),
        received(bia, "B3", "the bot again", true, true),
    ] {
        assert_eq!(server.post(&path, notification, None).await, StatusCode::OK);
    }
    // A chat's events are handled in order: once the bot's last message in Bia's chat is seen,
    // her message before it was handled — and left alone.
    seen.wait_for(|texts| texts.len() >= 3).await;
    let mut texts = seen.texts();
    texts.sort();
    assert_eq!(texts, ["ana asks", "sent by the bot", "the bot again"]);
}

/// A GREEN-API notification of a message the instance sent in `chat`: `outgoingMessageReceived`
/// (the owner, from the phone) or `outgoingAPIMessageReceived` (the bot, through the API).
fn sent(type_webhook: &str, chat: &str, id: &str, text: &str) -> serde_json::Value {
    json!({
        "typeWebhook": type_webhook,
        "instanceData": {"idInstance": 1101000001, "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1700000000, "idMessage": id,
        "senderData": {"chatId": chat, "sender": "79990000000@c.us"},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
    })
}

#[tokio::test]
async fn on_green_api_the_owners_message_pauses_only_its_chat() {
    let seen = Seen::default();
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, paused_router(&seen), TOKEN);
    let server = Server::start(bot.build().unwrap()).await;
    let (vasilisa, ivan) = ("79001234567@c.us", "79001234568@c.us");
    for notification in [
        sent("outgoingMessageReceived", vasilisa, "OWNER1", "I'm here"),
        common::incoming_text(vasilisa, "IN1", "left alone"),
        sent(
            "outgoingAPIMessageReceived",
            vasilisa,
            "API1",
            "the bot's own",
        ),
        common::incoming_text(ivan, "IN2", "another chat"),
    ] {
        assert_eq!(
            server
                .post("/webhook", body(&notification), Some(TOKEN))
                .await,
            StatusCode::OK
        );
    }
    // Vasilisa's events are handled in order: once the bot's own message is seen, hers before
    // it was handled.
    seen.wait_for(|texts| texts.len() >= 2).await;
    let mut texts = seen.texts();
    texts.sort();
    assert_eq!(texts, ["another chat", "the bot's own"]);
}

#[tokio::test]
async fn the_example_tells_each_chat_once_and_steps_aside_when_the_owner_writes() {
    let mut bot = TestBot::start(example::router()).await;
    let (vasilisa, ivan) = ("79001234567@c.us", "79001234568@c.us");
    let asked = bot.send(vasilisa, "hello?").await;
    let notice = bot.reply(vasilisa).await;
    assert_eq!(notice.quoted, Some(asked));
    assert_eq!(
        common::text(&notice),
        "We are away right now and will answer soon."
    );
    bot.send(vasilisa, "hello??").await;
    bot.expect_no_reply(vasilisa, Duration::from_millis(300))
        .await;

    bot.deliver(sent(
        "outgoingMessageReceived",
        ivan,
        "OWNER1",
        "Ivan, one minute",
    ))
    .await;
    bot.send(ivan, "ok").await;
    bot.expect_no_reply(ivan, Duration::from_millis(300)).await;
}
