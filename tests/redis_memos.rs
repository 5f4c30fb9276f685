//! Memos in Redis: the auto-reply bot on a Redis store remembers whom it greeted and where the
//! owner took over across a restart (a new replica on the same namespace), over real HTTP.
//!
//! These tests need a Redis server: `HOOKBOT_TEST_REDIS_URL=redis://127.0.0.1:6379`. Without
//! it they print a note and pass. Each test writes under a fresh random namespace and deletes
//! it at the end.

#![cfg(feature = "redis")]

mod common;

use std::time::Duration;

use hookbot::bots::auto_reply::{self, AutoReply};
use hookbot::redis::Redis;
use hookbot::sandbox::ChatEntry;
use hookbot::testing::TestBot;
use redis::Commands;
use serde_json::json;

const VASILISA: &str = "79001234567@c.us";
const IVAN: &str = "79001234568@c.us";
const STRANGER: &str = "79005550000@c.us";

/// A fresh namespace on the test server; deletes its keys when dropped.
struct TestRedis {
    url: String,
    namespace: String,
}

impl TestRedis {
    /// `None` (with a note) when `HOOKBOT_TEST_REDIS_URL` is unset.
    fn new() -> Option<Self> {
        let Ok(url) = std::env::var("HOOKBOT_TEST_REDIS_URL") else {
            eprintln!("skipped: set HOOKBOT_TEST_REDIS_URL to run the Redis tests");
            return None;
        };
        let namespace = format!("hookbot-test-{:016x}", rand::random::<u64>());
        Some(Self { url, namespace })
    }

    fn redis(&self) -> Redis {
        Redis::open(self.url.as_str())
            .expect("a Redis URL")
            .namespace(&self.namespace)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let Ok(mut connection) =
            redis::Client::open(self.url.as_str()).and_then(|client| client.get_connection())
        else {
            return;
        };
        let keys: Vec<String> = connection
            .scan_match::<_, String>(format!("{}:*", self.namespace))
            .map(|keys| keys.filter_map(Result::ok).collect())
            .unwrap_or_default();
        for key in keys {
            let _: redis::RedisResult<()> = connection.del(key);
        }
    }
}

/// The auto-reply bot with an hour's cooldown on a store in `redis`.
async fn auto_reply_bot(redis: &TestRedis) -> TestBot {
    let state = AutoReply::new(
        auto_reply::share_card("79001234570", Some("Bob Smith")),
        Duration::from_secs(3600),
    );
    let store = redis.redis();
    TestBot::builder()
        .start_configured(state.router(), state, move |bot| bot.store(store))
        .await
}

#[tokio::test]
async fn the_auto_reply_bot_on_redis_remembers_greetings_and_takeovers_across_a_restart() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let mut bot = auto_reply_bot(&redis).await;
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
    // The owner's message accepted: the stop drains it, or leaves it queued for the next
    // replica, handled before anything newer in its chat.
    while bot.sandbox().queued() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bot.stop().await;

    let mut bot = auto_reply_bot(&redis).await;
    bot.send(VASILISA, "I'm back").await;
    bot.send(IVAN, "Спасибо").await;
    let asked = bot.send(STRANGER, "hello").await;
    assert_eq!(bot.replies(STRANGER, 2).await[1].quoted, Some(asked));
    bot.expect_no_reply(VASILISA, Duration::from_millis(300))
        .await;
    bot.expect_no_reply(IVAN, Duration::from_millis(100)).await;
}
