//! Conversations, tested with the test kit over real HTTP: each key strategy, state routes, the
//! race cases (one sender in two chats, two senders in one group), timeouts and their hook, a
//! failing store, a store's lease against other replicas (held while loading, handling and in
//! the timeout hook; a failing one reported), and the dialogue example.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hookbot::BoxError;
use hookbot::context::{Context, TimedOut};
use hookbot::conversation::{
    ConversationKey, Conversations, KeyStrategy, Lease, MemoryStorage, Storage,
};
use hookbot::dispatch::{FailureCause, HandlerFailure};
use hookbot::router::Router;
use hookbot::sandbox::{ChatEntry, EntryContent, UserMessage};
use hookbot::testing::TestBot;
use hookbot::{Error, filter};
use serde_json::json;
use tokio::sync::mpsc;

#[path = "../examples/conversation.rs"]
#[allow(dead_code)]
mod example;

const VASILISA: &str = "79001234567@c.us";
const IVAN: &str = "79001234568@c.us";
const GROUP: &str = "120363043968066561@g.us";

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

async fn counting_bot(strategy: KeyStrategy) -> TestBot {
    TestBot::builder()
        .start_configured(counter(), (), |bot| {
            bot.conversations(Conversations::in_memory().key(strategy))
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

fn in_group(from: &str, text: &str) -> UserMessage {
    UserMessage::text(from, text).in_group(GROUP)
}

#[tokio::test]
async fn one_sender_in_two_chats_never_sees_the_same_old_state() {
    let mut bot = counting_bot(KeyStrategy::PerSender).await;
    for _ in 0..4 {
        bot.send(IVAN, "private").await;
        bot.send_message(in_group(IVAN, "group")).await;
    }
    let mut replies = bot.replies(IVAN, 4).await;
    replies.extend(bot.replies(GROUP, 4).await);
    assert_eq!(counts(&replies), (0..8).collect::<Vec<_>>());
}

#[tokio::test]
async fn two_senders_in_one_group_each_have_their_own_conversation_by_default() {
    let mut bot = TestBot::start(counter()).await;
    for _ in 0..3 {
        bot.send_message(in_group(IVAN, "hi")).await;
        bot.send_message(in_group(VASILISA, "hi")).await;
    }
    let replies = bot.replies(GROUP, 6).await;
    for sender in [IVAN, VASILISA] {
        let theirs: Vec<&str> = replies
            .iter()
            .map(common::text)
            .filter(|text| text.starts_with(sender))
            .collect();
        assert_eq!(
            theirs,
            [0, 1, 2].map(|n| format!("{sender} {n}")),
            "{sender}"
        );
    }
    bot.send(IVAN, "private").await;
    assert_eq!(
        common::text(&bot.reply(IVAN).await),
        format!("{IVAN} 0"),
        "the private chat is another conversation"
    );
}

#[tokio::test]
async fn two_senders_in_one_group_share_the_chats_conversation_per_chat() {
    let mut bot = counting_bot(KeyStrategy::PerChat).await;
    for _ in 0..3 {
        bot.send_message(in_group(IVAN, "hi")).await;
        bot.send_message(in_group(VASILISA, "hi")).await;
    }
    let replies = bot.replies(GROUP, 6).await;
    assert_eq!(counts(&replies), (0..6).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_per_sender_conversation_follows_the_person_into_a_group() {
    let mut bot = counting_bot(KeyStrategy::PerSender).await;
    bot.send(IVAN, "private").await;
    assert_eq!(common::text(&bot.reply(IVAN).await), format!("{IVAN} 0"));
    bot.send_message(in_group(IVAN, "group")).await;
    assert_eq!(common::text(&bot.reply(GROUP).await), format!("{IVAN} 1"));
}

mod states {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    enum Quiz {
        #[default]
        Idle,
        Asked,
    }

    async fn ask(cx: Context<(), Quiz>) -> hookbot::Result<()> {
        cx.conversation().set(Quiz::Asked).await?;
        cx.reply("2 + 2?").await?;
        Ok(())
    }

    async fn answer(cx: Context<(), Quiz>) -> hookbot::Result<()> {
        cx.conversation().end().await?;
        let verdict = if cx.text() == Some("4") {
            "right"
        } else {
            "wrong"
        };
        cx.reply(verdict).await?;
        Ok(())
    }

    async fn unrouted(cx: Context<(), Quiz>) -> hookbot::Result<()> {
        cx.reply(format!("no route; state {:?}", cx.conversation().get()))
            .await?;
        Ok(())
    }

    fn router() -> Router<(), Quiz> {
        Router::new()
            .route(filter::command("quiz"), ask)
            .in_state(
                |state| *state == Quiz::Asked,
                Router::new().route(filter::regex("^[0-9]+$"), answer),
            )
            .fallback(unrouted)
    }

    #[tokio::test]
    async fn a_state_route_takes_messages_only_in_its_state() {
        let mut bot = TestBot::start(router()).await;
        bot.send(IVAN, "4").await;
        assert_eq!(common::text(&bot.reply(IVAN).await), "no route; state Idle");
        bot.send(IVAN, "quiz").await;
        assert_eq!(common::text(&bot.reply(IVAN).await), "2 + 2?");
        bot.send(IVAN, "4").await;
        assert_eq!(common::text(&bot.reply(IVAN).await), "right");
        bot.send(IVAN, "4").await;
        assert_eq!(
            common::text(&bot.reply(IVAN).await),
            "no route; state Idle",
            "the conversation ended"
        );
    }

    #[tokio::test]
    async fn a_state_route_that_takes_nothing_falls_through_to_the_next_routes() {
        let mut bot = TestBot::start(router()).await;
        bot.send(IVAN, "quiz").await;
        bot.reply(IVAN).await;
        bot.send(IVAN, "four").await;
        assert_eq!(
            common::text(&bot.reply(IVAN).await),
            "no route; state Asked"
        );
        bot.send(IVAN, "5").await;
        assert_eq!(common::text(&bot.reply(IVAN).await), "wrong");
    }
}

mod example_dialogue {
    use super::*;

    async fn start() -> TestBot {
        TestBot::builder()
            .start_configured(example::router(), (), |bot| {
                bot.on_conversation_timeout(example::timed_out)
            })
            .await
    }

    #[tokio::test]
    async fn the_dialogue_collects_a_name_and_a_phone_and_answers_with_the_card_quoting_the_first_message()
     {
        let mut bot = start().await;
        let first = bot.send(VASILISA, "card").await;
        assert!(common::text(&bot.reply(VASILISA).await).starts_with("Whose card"));
        bot.send(VASILISA, "Ivan Petrov").await;
        assert_eq!(
            common::text(&bot.reply(VASILISA).await),
            "The phone number of Ivan Petrov, with the country code?"
        );
        bot.send(VASILISA, "call me maybe").await;
        let refused = bot.reply(VASILISA).await;
        assert!(
            common::text(&refused).starts_with("That number cannot go on a card (card.phone"),
            "{refused:?}"
        );
        bot.send(VASILISA, "+7 900 765-43-21").await;
        let reply = bot.reply(VASILISA).await;
        assert_eq!(reply.quoted, Some(first));
        let EntryContent::Contact(card) = &reply.content else {
            panic!("expected a card, got {reply:?}");
        };
        assert_eq!(card.first_name.as_deref(), Some("Ivan Petrov"));
        assert_eq!(card.phone_contact, Some(79007654321));
        bot.send(VASILISA, "+7 900 765-43-21").await;
        bot.expect_no_reply(VASILISA, Duration::from_millis(300))
            .await;
    }

    #[tokio::test]
    async fn cancel_ends_the_dialogue_at_any_step() {
        let mut bot = start().await;
        bot.send(IVAN, "/card").await;
        bot.reply(IVAN).await;
        bot.send(IVAN, "cancel").await;
        assert_eq!(common::text(&bot.reply(IVAN).await), "Cancelled.");
        bot.send(IVAN, "Ivan").await;
        bot.expect_no_reply(IVAN, Duration::from_millis(300)).await;
    }

    #[tokio::test]
    async fn an_idle_dialogue_times_out_and_the_person_is_told_quoting_the_first_message() {
        let mut bot = TestBot::builder()
            .start_configured(example::router(), (), |bot| {
                bot.conversations(Conversations::new(MemoryStorage::with_limits(
                    Duration::from_millis(200),
                    100,
                )))
                .on_conversation_timeout(example::timed_out)
            })
            .await;
        let first = bot.send_message(in_group(IVAN, "card")).await;
        bot.reply(GROUP).await;
        let told = bot.reply(GROUP).await;
        assert!(
            common::text(&told).starts_with("No answer for a while"),
            "{told:?}"
        );
        assert_eq!(told.quoted, Some(first));
        bot.send_message(in_group(IVAN, "Ivan")).await;
        bot.expect_no_reply(GROUP, Duration::from_millis(300)).await;
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

async fn next_failure(reported: &mut mpsc::UnboundedReceiver<HandlerFailure>) -> HandlerFailure {
    tokio::time::timeout(Duration::from_secs(10), reported.recv())
        .await
        .expect("a failure reported in time")
        .expect("the hook is alive")
}

#[tokio::test]
async fn a_failing_timeout_hook_is_reported_with_the_conversation() {
    async fn failing(_: TimedOut<(), u32>) -> hookbot::Result<()> {
        Err(Error::NoConversation)
    }
    let (on_error, mut reported) = failures();
    let mut bot = TestBot::builder()
        .start_configured(counter(), (), |bot| {
            bot.conversations(Conversations::new(MemoryStorage::with_limits(
                Duration::from_millis(100),
                100,
            )))
            .on_conversation_timeout(failing)
            .on_error(on_error)
        })
        .await;
    bot.send(IVAN, "hi").await;
    bot.reply(IVAN).await;
    let failure = next_failure(&mut reported).await;
    assert_eq!(failure.event.kind, "conversation_timeout");
    assert_eq!(
        failure.event.chat.as_ref().map(|chat| chat.as_str()),
        Some(IVAN)
    );
}

/// A store that fails to load or to save, as told.
#[derive(Clone, Default)]
struct BrokenStorage {
    saves_fail: bool,
    loads: Arc<Mutex<usize>>,
}

#[async_trait]
impl Storage<u32> for BrokenStorage {
    async fn load(&self, _: &ConversationKey) -> Result<Option<u32>, BoxError> {
        *self.loads.lock().unwrap() += 1;
        if self.saves_fail {
            Ok(None)
        } else {
            Err("the store is down".into())
        }
    }

    async fn save(&self, _: &ConversationKey, _: u32) -> Result<(), BoxError> {
        Err("the store is read-only".into())
    }

    async fn remove(&self, _: &ConversationKey) -> Result<(), BoxError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_store_that_cannot_load_makes_the_event_fail_and_be_reported() {
    let (on_error, mut reported) = failures();
    let storage = BrokenStorage::default();
    let mut bot = TestBot::builder()
        .start_configured(counter(), (), |bot| {
            bot.conversations(Conversations::new(storage.clone()))
                .on_error(on_error)
        })
        .await;
    let asked = bot.send(IVAN, "hi").await;
    let failure = next_failure(&mut reported).await;
    assert_eq!(failure.event.message_id, Some(asked));
    let FailureCause::Error(error) = &failure.error else {
        panic!("expected an error, got {:?}", failure.error);
    };
    assert_eq!(error.to_string(), "the store failed: the store is down");
    assert_eq!(*storage.loads.lock().unwrap(), 1);
    bot.expect_no_reply(IVAN, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_store_that_cannot_save_gives_the_handler_a_typed_error_and_keeps_the_old_state() {
    async fn save(cx: Context<(), u32>) -> hookbot::Result<()> {
        let answer = match cx.conversation().set(1).await {
            Err(Error::Storage { source }) => format!("not saved: {source}"),
            other => format!("unexpected: {other:?}"),
        };
        cx.reply(format!("{answer}; state {}", cx.conversation().get()))
            .await?;
        Ok(())
    }
    let storage = BrokenStorage {
        saves_fail: true,
        ..BrokenStorage::default()
    };
    let mut bot = TestBot::builder()
        .start_configured(Router::new().route(filter::incoming(), save), (), |bot| {
            bot.conversations(Conversations::new(storage))
        })
        .await;
    bot.send(IVAN, "hi").await;
    assert_eq!(
        common::text(&bot.reply(IVAN).await),
        "not saved: the store is read-only; state 0"
    );
}

#[tokio::test]
async fn an_event_that_is_not_a_message_belongs_to_no_conversation() {
    let (seen, mut results) = mpsc::unbounded_channel();
    let on_status = move |cx: Context<(), u32>| {
        let seen = seen.clone();
        async move {
            let key = cx.conversation().key().cloned();
            let set = cx.conversation().set(5).await;
            let _ = seen.send((key, set));
            Ok::<_, Error>(())
        }
    };
    let bot = TestBot::start(Router::new().route(filter::status(), on_status)).await;
    bot.deliver(json!({
        "typeWebhook": "outgoingMessageStatus",
        "instanceData": {"idInstance": 1101000001, "wid": "79001234560@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1700000000,
        "idMessage": "BAE5F4886F6F2D05",
        "status": "delivered",
        "chatId": IVAN,
        "sendByApi": true
    }))
    .await;
    let (key, set) = tokio::time::timeout(Duration::from_secs(10), results.recv())
        .await
        .expect("the status handled in time")
        .expect("the handler ran");
    assert_eq!(key, None);
    assert!(matches!(set, Err(Error::NoConversation)), "{set:?}");
}

#[tokio::test]
async fn a_bot_with_conversations_hands_out_its_timeouts_once_for_a_self_served_router() {
    let gateway = hookbot::gateway::GreenApi::whatsapp("http://127.0.0.1:9", "1101000001", "token")
        .build()
        .unwrap();
    let gateway: Arc<dyn hookbot::gateway::Gateway> = Arc::new(gateway);
    let instance = hookbot::instance::Instance::new(gateway);
    let mut with = hookbot::Bot::builder(counter())
        .instances(instance.clone())
        .webhook_token("hook")
        .build()
        .unwrap();
    assert!(with.conversation_timeouts().is_some());
    assert!(with.conversation_timeouts().is_none(), "taken once");
    let plain: Router = Router::new().route(filter::incoming(), |_: Context| async {
        Ok::<_, Error>(())
    });
    let mut without = hookbot::Bot::builder(plain)
        .instances(instance)
        .webhook_token("hook")
        .build()
        .unwrap();
    assert!(without.conversation_timeouts().is_none());
}

/// A store whose timeout report fails once, then reports one timed-out conversation.
#[derive(Clone, Default)]
struct FlakyTimeouts {
    asked: Arc<Mutex<usize>>,
}

#[async_trait]
impl Storage<u32> for FlakyTimeouts {
    async fn load(&self, _: &ConversationKey) -> Result<Option<u32>, BoxError> {
        Ok(None)
    }

    async fn save(&self, _: &ConversationKey, _: u32) -> Result<(), BoxError> {
        Ok(())
    }

    async fn remove(&self, _: &ConversationKey) -> Result<(), BoxError> {
        Ok(())
    }

    async fn expired(&self) -> Result<(ConversationKey, u32), BoxError> {
        let asked = {
            let mut asked = self.asked.lock().unwrap();
            *asked += 1;
            *asked
        };
        match asked {
            1 => Err("the store is down".into()),
            2 => Ok((
                ConversationKey::new(
                    hookbot::gateway::GatewayKind::GreenApiWhatsApp,
                    "1101000001",
                    Some(IVAN.into()),
                    Some(IVAN.into()),
                ),
                7,
            )),
            _ => std::future::pending().await,
        }
    }
}

#[tokio::test]
async fn a_store_that_fails_to_report_timeouts_is_asked_again() {
    async fn tell(timed_out: TimedOut<(), u32>) -> hookbot::Result<()> {
        timed_out
            .reply(format!("timed out in {}", timed_out.conversation_state()))
            .await?;
        Ok(())
    }
    let storage = FlakyTimeouts::default();
    let mut bot = TestBot::builder()
        .start_configured(counter(), (), |bot| {
            bot.conversations(Conversations::new(storage.clone()))
                .on_conversation_timeout(tell)
        })
        .await;
    assert_eq!(common::text(&bot.reply(IVAN).await), "timed out in 7");
    // The first ask failed; the reply came from the second.
    assert!(*storage.asked.lock().unwrap() >= 2);
}

/// A store in memory that leases its keys as a shared store would, and records what ran while
/// a lease was held.
#[derive(Clone)]
struct LeasingStorage {
    inner: MemoryStorage<u32>,
    /// Leases held now.
    held: Arc<Mutex<usize>>,
    /// Leases held at each load, in order.
    held_at_load: Arc<Mutex<Vec<usize>>>,
    /// Whether taking a lease fails.
    fails: bool,
}

impl LeasingStorage {
    fn new(idle_timeout: Duration) -> Self {
        Self {
            inner: MemoryStorage::with_limits(idle_timeout, 100),
            held: Arc::default(),
            held_at_load: Arc::default(),
            fails: false,
        }
    }

    fn held(&self) -> usize {
        *self.held.lock().unwrap()
    }
}

/// Counts itself out of [`LeasingStorage::held`] when dropped.
struct HeldLease(Arc<Mutex<usize>>);

impl Drop for HeldLease {
    fn drop(&mut self) {
        *self.0.lock().unwrap() -= 1;
    }
}

#[async_trait]
impl Storage<u32> for LeasingStorage {
    async fn load(&self, key: &ConversationKey) -> Result<Option<u32>, BoxError> {
        self.held_at_load.lock().unwrap().push(self.held());
        self.inner.load(key).await
    }

    async fn save(&self, key: &ConversationKey, state: u32) -> Result<(), BoxError> {
        self.inner.save(key, state).await
    }

    async fn remove(&self, key: &ConversationKey) -> Result<(), BoxError> {
        self.inner.remove(key).await
    }

    async fn expired(&self) -> Result<(ConversationKey, u32), BoxError> {
        self.inner.expired().await
    }

    async fn lease(&self, _: &ConversationKey) -> Result<Option<Lease>, BoxError> {
        if self.fails {
            return Err("the lease store is down".into());
        }
        *self.held.lock().unwrap() += 1;
        Ok(Some(Lease::new(HeldLease(self.held.clone()))))
    }
}

#[tokio::test]
async fn a_stores_lease_is_held_from_before_loading_until_the_handler_and_the_timeout_hook_are_done()
 {
    let storage = LeasingStorage::new(Duration::from_millis(200));
    let during = storage.clone();
    let handler = move |cx: Context<(), u32>| {
        let during = during.clone();
        async move {
            cx.conversation().set(1).await?;
            cx.reply(format!("leases held: {}", during.held())).await?;
            Ok::<_, Error>(())
        }
    };
    let during = storage.clone();
    let hook = move |timed_out: TimedOut<(), u32>| {
        let during = during.clone();
        async move {
            timed_out
                .reply(format!("timed out; leases held: {}", during.held()))
                .await?;
            Ok::<_, Error>(())
        }
    };
    let mut bot = TestBot::builder()
        .start_configured(
            Router::new().route(filter::incoming(), handler),
            (),
            |bot| {
                bot.conversations(Conversations::new(storage.clone()))
                    .on_conversation_timeout(hook)
            },
        )
        .await;
    bot.send(IVAN, "hi").await;
    assert_eq!(common::text(&bot.reply(IVAN).await), "leases held: 1");
    assert_eq!(
        common::text(&bot.reply(IVAN).await),
        "timed out; leases held: 1"
    );
    assert_eq!(*storage.held_at_load.lock().unwrap(), [1]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while storage.held() != 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(storage.held(), 0, "given up when done");
}

#[tokio::test]
async fn a_lease_the_store_cannot_give_makes_the_event_fail_and_be_reported() {
    let (on_error, mut reported) = failures();
    let storage = LeasingStorage {
        fails: true,
        ..LeasingStorage::new(Duration::from_secs(60))
    };
    let mut bot = TestBot::builder()
        .start_configured(counter(), (), |bot| {
            bot.conversations(Conversations::new(storage.clone()))
                .on_error(on_error)
        })
        .await;
    let asked = bot.send(IVAN, "hi").await;
    let failure = next_failure(&mut reported).await;
    assert_eq!(failure.event.message_id, Some(asked));
    let FailureCause::Error(error) = &failure.error else {
        panic!("expected an error, got {:?}", failure.error);
    };
    assert!(
        matches!(error.downcast_ref::<Error>(), Some(Error::Storage { .. })),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the store failed: the lease store is down"
    );
    assert!(
        storage.held_at_load.lock().unwrap().is_empty(),
        "nothing loaded without the lease"
    );
    bot.expect_no_reply(IVAN, Duration::from_millis(200)).await;
}
