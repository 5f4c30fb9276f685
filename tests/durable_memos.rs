//! The auto-reply bot on the durable store remembers whom it greeted and where the owner took
//! over across a restart on the same data directory, over real HTTP.

mod common;

use std::time::Duration;

use hookbot::bots::auto_reply::{self, AutoReply};
use hookbot::sandbox::ChatEntry;
use hookbot::store::Store;
use hookbot::testing::TestBot;
use serde_json::json;

const VASILISA: &str = "79001234567@c.us";
const IVAN: &str = "79001234568@c.us";
const STRANGER: &str = "79005550000@c.us";

async fn auto_reply_bot(directory: &std::path::Path) -> TestBot {
    let state = AutoReply::new(
        auto_reply::share_card("79001234570", Some("Bob Smith")),
        Duration::from_secs(3600),
    );
    let store = Store::durable(directory).unwrap();
    TestBot::builder()
        .start_configured(state.router(), state, move |bot| bot.store(store))
        .await
}

#[tokio::test]
async fn the_auto_reply_bot_on_the_durable_store_remembers_greetings_and_takeovers_across_a_restart()
 {
    let directory = tempfile::tempdir().unwrap();
    let mut bot = auto_reply_bot(directory.path()).await;
    let first = bot.send(VASILISA, "Здравствуйте!").await;
    let [_, card] = <[ChatEntry; 2]>::try_from(bot.replies(VASILISA, 2).await).unwrap();
    assert_eq!(card.quoted, Some(first));
    bot.deliver(json!({
        "typeWebhook": "outgoingMessageReceived",
        "instanceData": {"idInstance": 1101000001, "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1700000000, "idMessage": "OWNER1",
        "senderData": {"chatId": IVAN, "sender": "79990000000@c.us"},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "Иван, добрый день!"}}
    }))
    .await;
    while bot.sandbox().queued() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bot.stop().await;

    let mut bot = auto_reply_bot(directory.path()).await;
    bot.send(VASILISA, "I'm back").await;
    bot.send(IVAN, "Спасибо").await;
    let asked = bot.send(STRANGER, "hello").await;
    assert_eq!(bot.replies(STRANGER, 2).await[1].quoted, Some(asked));
    bot.expect_no_reply(VASILISA, Duration::from_millis(300))
        .await;
    bot.expect_no_reply(IVAN, Duration::from_millis(100)).await;
}
