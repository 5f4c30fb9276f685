//! Conversations in Redis, shared by replicas: the store's round trip, idle timeouts returned
//! once across replicas, the lease that keeps one conversation on one replica at a time, and
//! bots on the test kit using it — two bots on one Redis namespace standing for two replicas.
//!
//! These tests need a Redis server: `HOOKBOT_TEST_REDIS_URL=redis://127.0.0.1:6379`. Without
//! it they print a note and pass. Each test writes under a fresh random namespace and deletes
//! it at the end. Expiry is tested with short real timeouts (Redis's clock cannot be paused),
//! waiting for the effect with generous deadlines.

#![cfg(feature = "redis")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookbot::context::Context;
use hookbot::conversation::{ConversationKey, Conversations, KeyStrategy, Storage};
use hookbot::dispatch::{FailureCause, HandlerFailure};
use hookbot::gateway::GatewayKind;
use hookbot::redis::{Leases, Redis, RedisStorage};
use hookbot::router::Router;
use hookbot::sandbox::{ChatEntry, EntryContent, UserMessage};
use hookbot::testing::TestBot;
use hookbot::{ChatId, Error, filter};
use redis::Commands;
use tokio::sync::mpsc;

#[path = "../examples/conversation.rs"]
#[allow(dead_code)]
mod example;

const IVAN: &str = "79001234568@c.us";
const VASILISA: &str = "79001234567@c.us";
const GROUP: &str = "120363043968066561@g.us";
/// How long a test waits for something that should happen soon.
const DEADLINE: Duration = Duration::from_secs(15);

/// A fresh namespace on the test server; each [`replica`](TestRedis::replica) is a connection
/// of its own to it, as another replica of the bot would have. Deletes its keys when dropped.
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

    fn replica(&self) -> Redis {
        Redis::open(self.url.as_str())
            .expect("a Redis URL")
            .namespace(&self.namespace)
    }

    fn storage<D: hookbot::conversation::ConversationState>(&self) -> RedisStorage<D> {
        RedisStorage::new(&self.replica()).poll_interval(Duration::from_millis(50))
    }

    /// A plain connection, to look at or plant keys.
    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .expect("the test Redis answers")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let mut connection = self.connection();
        let keys: Vec<String> = connection
            .scan_match::<_, String>(format!("{}:*", self.namespace))
            .map(|keys| keys.filter_map(Result::ok).collect())
            .unwrap_or_default();
        for key in keys {
            let _: redis::RedisResult<()> = connection.del(key);
        }
    }
}

fn key(sender: &str) -> ConversationKey {
    ConversationKey::new(
        GatewayKind::GreenApiWhatsApp,
        "1101000001",
        None,
        Some(sender.into()),
    )
}

mod store {
    use super::*;

    #[tokio::test]
    async fn a_saved_state_loads_back_until_removed() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let store: RedisStorage<Vec<String>> = redis.storage();
        let state = vec!["Иван".to_owned(), "a \"quoted\" name".to_owned()];
        assert_eq!(store.load(&key(IVAN)).await.unwrap(), None);
        store.save(&key(IVAN), state.clone()).await.unwrap();
        assert_eq!(store.load(&key(IVAN)).await.unwrap(), Some(state.clone()));
        assert_eq!(store.load(&key(VASILISA)).await.unwrap(), None);
        let in_chat = ConversationKey::new(
            GatewayKind::GreenApiWhatsApp,
            "1101000001",
            Some(IVAN.into()),
            Some(IVAN.into()),
        );
        assert_eq!(
            store.load(&in_chat).await.unwrap(),
            None,
            "another key of the same person"
        );

        let other_replica: RedisStorage<Vec<String>> = redis.storage();
        assert_eq!(
            other_replica.load(&key(IVAN)).await.unwrap(),
            Some(state),
            "replicas share states"
        );

        store.remove(&key(IVAN)).await.unwrap();
        assert_eq!(store.load(&key(IVAN)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_removed_state_does_not_time_out() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let store: RedisStorage<u32> = redis.storage().idle_timeout(Duration::from_millis(100));
        store.save(&key(IVAN), 1).await.unwrap();
        store.remove(&key(IVAN)).await.unwrap();
        let expired = tokio::time::timeout(Duration::from_millis(800), store.expired()).await;
        assert!(expired.is_err(), "{expired:?}");
    }

    #[tokio::test]
    async fn an_idle_conversation_is_returned_exactly_once_by_replicas_polling_together() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let timeout = Duration::from_millis(300);
        let first: RedisStorage<u32> = redis.storage().idle_timeout(timeout);
        let second: RedisStorage<u32> = redis.storage().idle_timeout(timeout);
        let people: Vec<String> = (0..20).map(|n| format!("7900000{n:04}@c.us")).collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let pollers = [first.clone(), second.clone()].map(|store| {
            let seen = seen.clone();
            tokio::spawn(async move {
                loop {
                    let expired = store.expired().await.unwrap();
                    seen.lock().unwrap().push(expired);
                }
            })
        });
        for (n, person) in people.iter().enumerate() {
            let store = if n % 2 == 0 { &first } else { &second };
            store.save(&key(person), n as u32).await.unwrap();
        }

        let started = tokio::time::Instant::now();
        while seen.lock().unwrap().len() < people.len() && started.elapsed() < DEADLINE {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Time for a second return of any of them, were there one.
        tokio::time::sleep(Duration::from_millis(500)).await;
        pollers.iter().for_each(|poller| poller.abort());

        let mut seen = seen.lock().unwrap().clone();
        seen.sort_by_key(|(_, n)| *n);
        let expected: Vec<(ConversationKey, u32)> = people
            .iter()
            .enumerate()
            .map(|(n, person)| (key(person), n as u32))
            .collect();
        assert_eq!(seen, expected);
        assert_eq!(first.load(&key(&people[0])).await.unwrap(), None);
    }

    #[tokio::test]
    async fn loading_restarts_the_timeout() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let store: RedisStorage<u32> = redis.storage().idle_timeout(Duration::from_millis(1500));
        store.save(&key(IVAN), 7).await.unwrap();
        let poller = tokio::spawn({
            let store = store.clone();
            async move { store.expired().await.unwrap() }
        });
        // Active for three timeouts: loaded every 100 ms.
        for _ in 0..45 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(store.load(&key(IVAN)).await.unwrap(), Some(7));
        }
        assert!(!poller.is_finished(), "timed out while active");
        let expired = tokio::time::timeout(DEADLINE, poller).await;
        assert_eq!(
            expired.expect("timed out once idle").unwrap(),
            (key(IVAN), 7)
        );
    }

    #[tokio::test]
    async fn a_load_after_the_timeout_starts_anew_and_the_old_state_still_expires() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let store: RedisStorage<u32> = redis.storage().idle_timeout(Duration::from_millis(200));
        store.save(&key(IVAN), 5).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(store.load(&key(IVAN)).await.unwrap(), None);
        store.save(&key(IVAN), 6).await.unwrap();
        let expired = tokio::time::timeout(DEADLINE, store.expired()).await;
        assert_eq!(expired.expect("returned").unwrap(), (key(IVAN), 5));
        assert_eq!(store.load(&key(IVAN)).await.unwrap(), Some(6));
    }

    #[tokio::test]
    async fn a_state_that_no_longer_reads_as_the_type_starts_anew() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let old: RedisStorage<String> = redis.storage();
        old.save(&key(IVAN), "asking name".to_owned())
            .await
            .unwrap();
        let new: RedisStorage<u32> = redis.storage();
        assert_eq!(new.load(&key(IVAN)).await.unwrap(), None);
    }
}

mod lease {
    use super::*;

    #[tokio::test]
    async fn a_held_conversation_keeps_other_replicas_out_until_dropped_also_past_its_ttl() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let first: RedisStorage<u32> = redis.storage().lease_ttl(Duration::from_millis(300));
        let second: RedisStorage<u32> = redis.storage().lease_ttl(Duration::from_millis(300));
        let held = first.lease(&key(IVAN)).await.unwrap();
        assert!(held.is_some(), "a Redis store leases its conversations");
        let in_chat = ConversationKey::new(
            GatewayKind::GreenApiWhatsApp,
            "1101000001",
            Some(IVAN.into()),
            Some(IVAN.into()),
        );
        let chat_spanning_only = first.clone().leases(Leases::ChatSpanning);
        assert!(
            chat_spanning_only.lease(&in_chat).await.unwrap().is_none(),
            "a conversation within one chat needs no lease when chats go to one replica at a time"
        );
        let other = second
            .lease(&key(VASILISA))
            .await
            .unwrap()
            .expect("another conversation is free");

        let waiting = tokio::spawn(async move { second.lease(&key(IVAN)).await.map(|_| ()) });
        // Three times the lease's time-to-live: renewals keep it.
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(
            !waiting.is_finished(),
            "another replica got in while the first held the conversation"
        );
        drop(held);
        tokio::time::timeout(DEADLINE, waiting)
            .await
            .expect("the next replica gets in once the first is done")
            .unwrap()
            .unwrap();
        drop(other);
    }

    #[tokio::test]
    async fn the_lease_of_a_replica_that_died_lapses_after_its_ttl() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let lease_key = format!(
            "{}:conversations:lease:[\"green-api\",\"1101000001\",null,\"{IVAN}\"]",
            redis.namespace
        );
        // A holder that will never renew nor give it up.
        let _: () = redis
            .connection()
            .set_options(
                &lease_key,
                "dead-replica",
                redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(500)),
            )
            .unwrap();
        let store: RedisStorage<u32> = redis.storage();
        let lease = tokio::time::timeout(DEADLINE, store.lease(&key(IVAN)))
            .await
            .expect("the dead replica's lease lapses");
        assert!(lease.unwrap().is_some());
        let holder: Option<String> = redis.connection().get(&lease_key).unwrap();
        assert_ne!(holder.as_deref(), Some("dead-replica"));
    }
}

/// A counter per conversation: each message is answered with the count so far, after a pause
/// that gives a racing event every chance to read the same old count.
async fn count(cx: Context<(), u32>) -> hookbot::Result<()> {
    let seen = cx.conversation().get();
    tokio::time::sleep(Duration::from_millis(30)).await;
    cx.conversation().set(seen + 1).await?;
    let sender = &cx.message().expect("a message").sender;
    cx.reply(format!("{sender} {seen}")).await?;
    Ok(())
}

fn counter() -> Router<(), u32> {
    Router::new().route(filter::incoming() & filter::content("text"), count)
}

async fn counting_replica(storage: RedisStorage<u32>) -> TestBot {
    TestBot::builder()
        .start_configured(counter(), (), |bot| {
            bot.conversations(Conversations::new(storage).key(KeyStrategy::PerSender))
        })
        .await
}

/// The counts in `replies`, sorted.
fn counts(replies: &[ChatEntry]) -> Vec<u32> {
    let mut counts: Vec<u32> = replies
        .iter()
        .map(|reply| {
            common::text(reply)
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    counts.sort_unstable();
    counts
}

#[tokio::test]
async fn one_sender_in_two_chats_on_two_replicas_never_sees_the_same_old_state() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let mut private_replica = counting_replica(redis.storage()).await;
    let mut group_replica = counting_replica(redis.storage()).await;
    two_chats_on_two_replicas(&mut private_replica, &mut group_replica).await;
}

#[tokio::test]
async fn leasing_only_chat_spanning_conversations_still_keeps_a_per_sender_one_on_one_replica() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let storage = || redis.storage().leases(Leases::ChatSpanning);
    let mut private_replica = counting_replica(storage()).await;
    let mut group_replica = counting_replica(storage()).await;
    two_chats_on_two_replicas(&mut private_replica, &mut group_replica).await;
}

/// One sender writes to two replicas at once, in their private chat on one and in a group on
/// the other; every count is seen exactly once.
async fn two_chats_on_two_replicas(private_replica: &mut TestBot, group_replica: &mut TestBot) {
    let messages = 6;
    for _ in 0..messages {
        tokio::join!(
            private_replica.send(IVAN, "private"),
            group_replica.send_message(UserMessage::text(IVAN, "group").in_group(GROUP)),
        );
    }
    let mut replies = private_replica.replies(IVAN, messages).await;
    replies.extend(group_replica.replies(GROUP, messages).await);
    assert_eq!(
        counts(&replies),
        (0..2 * messages as u32).collect::<Vec<_>>(),
        "each count seen exactly once across the replicas"
    );
}

#[tokio::test]
async fn a_conversation_goes_on_across_replicas() {
    let Some(redis) = TestRedis::new() else {
        return;
    };
    let mut first = counting_replica(redis.storage()).await;
    let mut second = counting_replica(redis.storage()).await;
    first.send(VASILISA, "hi").await;
    assert_eq!(
        common::text(&first.reply(VASILISA).await),
        format!("{VASILISA} 0")
    );
    second.send(VASILISA, "hi").await;
    assert_eq!(
        common::text(&second.reply(VASILISA).await),
        format!("{VASILISA} 1")
    );
}

mod example_dialogue {
    use super::*;

    #[tokio::test]
    async fn the_dialogue_runs_on_redis_and_an_idle_one_times_out_once_with_the_person_told() {
        let Some(redis) = TestRedis::new() else {
            return;
        };
        let storage = || {
            Conversations::new(
                RedisStorage::new(&redis.replica())
                    .idle_timeout(Duration::from_millis(500))
                    .poll_interval(Duration::from_millis(50)),
            )
        };
        let start = |conversations| {
            TestBot::builder().start_configured(example::router(), (), move |bot| {
                bot.conversations(conversations)
                    .on_conversation_timeout(example::timed_out)
            })
        };
        let mut bot = start(storage()).await;
        // Another replica watching the same timeouts: the person is told once.
        let other = start(storage()).await;

        let first = bot.send(VASILISA, "card").await;
        assert!(common::text(&bot.reply(VASILISA).await).starts_with("Whose card"));
        bot.send(VASILISA, "Ivan Petrov").await;
        assert_eq!(
            common::text(&bot.reply(VASILISA).await),
            "The phone number of Ivan Petrov, with the country code?"
        );
        bot.send(VASILISA, "+7 900 765-43-21").await;
        let reply = bot.reply(VASILISA).await;
        assert_eq!(reply.quoted, Some(first));
        let EntryContent::Contact(card) = &reply.content else {
            panic!("expected a card, got {reply:?}");
        };
        assert_eq!(card.first_name.as_deref(), Some("Ivan Petrov"));

        let started = bot.send(IVAN, "card").await;
        bot.reply(IVAN).await;
        // Both replicas' sandboxes record the bot's messages; the one that took the timeout
        // told the person through its own.
        let mut told = Vec::new();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while told.is_empty() && tokio::time::Instant::now() < deadline {
            for sandbox in [bot.sandbox(), other.sandbox()] {
                told.extend(
                    sandbox
                        .history(&ChatId::from(IVAN))
                        .into_iter()
                        .filter(|entry| {
                            matches!(&entry.content, EntryContent::Text(text) if text.starts_with("No answer"))
                        }),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut again = 0;
        for sandbox in [bot.sandbox(), other.sandbox()] {
            again += sandbox
                .history(&ChatId::from(IVAN))
                .iter()
                .filter(|entry| matches!(&entry.content, EntryContent::Text(text) if text.starts_with("No answer")))
                .count();
        }
        assert_eq!(told.len(), 1, "told in time: {told:?}");
        assert_eq!(again, 1, "told once");
        assert_eq!(told[0].quoted, Some(started));
    }
}

/// The failures the bot reported, in a channel.
fn failures() -> (
    impl Fn(HandlerFailure) + Send + Sync + 'static,
    mpsc::UnboundedReceiver<HandlerFailure>,
) {
    let (report, reported) = mpsc::unbounded_channel();
    (
        move |failure| {
            let _ = report.send(failure);
        },
        reported,
    )
}

#[tokio::test]
async fn a_conversation_that_cannot_be_leased_makes_the_event_fail_and_be_reported() {
    // Nothing listens on port 1: Redis is unreachable.
    let unreachable = Redis::open("redis://127.0.0.1:1").unwrap();
    let (on_error, mut reported) = failures();
    let mut bot = TestBot::builder()
        .start_configured(counter(), (), |bot| {
            bot.conversations(Conversations::new(RedisStorage::new(&unreachable)))
                .on_error(on_error)
        })
        .await;
    let asked = bot.send(IVAN, "hi").await;
    let failure = tokio::time::timeout(DEADLINE, reported.recv())
        .await
        .expect("reported in time")
        .expect("the hook is alive");
    assert_eq!(failure.event.message_id, Some(asked));
    let FailureCause::Error(error) = &failure.error else {
        panic!("expected an error, got {:?}", failure.error);
    };
    assert!(
        matches!(error.downcast_ref::<Error>(), Some(Error::Storage { .. })),
        "{error:?}"
    );
    bot.expect_no_reply(IVAN, Duration::from_millis(200)).await;
}
