//! Group commit of the queue's appends: the notifications accepted while one batch is on its
//! way to Redis are gathered and appended together, in one script call
//! ([`RedisQueue::append`]), and each caller learns what became of its own notification once
//! its batch is in Redis.
//!
//! One task per queue sends the batches, one at a time, in the order the notifications came
//! (so two of one chat keep their order). A lone notification is sent at once; batches only
//! gather what arrived meanwhile. The task's inbox is bounded: when it is full, callers wait
//! for room (each is an HTTP request the server already bounds).
//!
//! With a [`Feed`], the appended events go on to this replica's consumer from memory: each
//! call sends the cursors of the partitions the consumer reads, and where the script found
//! nothing after a cursor, the consumer submits the events appended there without reading
//! them back.

use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use super::consumer::Feed;
use super::queue::{Appended, RedisQueue};
use crate::dispatch::EventIdentity;
use crate::event::Event;

/// Notifications in one batch, at most.
const MAX_BATCH: usize = 256;
/// Bytes of notifications in one batch, past which it gathers no more (a batch of one may be
/// larger).
const MAX_BATCH_BYTES: usize = 1 << 20;
/// Notifications waiting for the next batch, at most; past it callers wait.
const INBOX: usize = 4 * MAX_BATCH;

/// The queue's appends, gathered into batches by a task started on first use.
pub(crate) struct GroupCommit {
    queue: RedisQueue,
    feed: Option<Feed>,
    inbox: OnceLock<mpsc::Sender<Message>>,
}

/// Why a notification may not have been appended: its batch's script call failed (Redis out
/// of reach, or it answered an error), or the batching task is gone. When only the answer was
/// lost, it was appended all the same: the gateway's next delivery is then a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// What the task's inbox takes.
enum Message {
    /// A notification to append (boxed: a flush is small), and where to say what became of
    /// it.
    Append(Box<Event>, oneshot::Sender<Result<Appended, Unavailable>>),
    /// Answered once everything sent before it is answered.
    Flush(oneshot::Sender<()>),
}

impl GroupCommit {
    /// The appends of `queue`.
    pub(crate) fn new(queue: RedisQueue) -> Self {
        Self {
            queue,
            feed: None,
            inbox: OnceLock::new(),
        }
    }

    /// Hands the appended events to `feed` too.
    pub(crate) fn feeding(mut self, feed: Feed) -> Self {
        self.feed = Some(feed);
        self
    }

    /// Appends `event` with whatever else arrives meanwhile; what became of it once its batch
    /// is in Redis. Call it within a tokio runtime.
    pub(crate) async fn append(&self, event: Event) -> Result<Appended, Unavailable> {
        let (answer, answered) = oneshot::channel();
        self.inbox()
            .send(Message::Append(Box::new(event), answer))
            .await
            .map_err(|_| Unavailable)?;
        answered.await.map_err(|_| Unavailable)?
    }

    /// Waits until every append asked for before is answered: at shutdown.
    pub(crate) async fn flush(&self) {
        let Some(inbox) = self.inbox.get() else {
            return;
        };
        let (done, flushed) = oneshot::channel();
        if inbox.send(Message::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    /// The task's inbox, the task started first if need be.
    fn inbox(&self) -> &mpsc::Sender<Message> {
        self.inbox.get_or_init(|| {
            let (inbox, messages) = mpsc::channel(INBOX);
            tokio::spawn(commit_loop(self.queue.clone(), self.feed.clone(), messages));
            inbox
        })
    }
}

/// Sends batches until every sender is gone.
async fn commit_loop(queue: RedisQueue, feed: Option<Feed>, mut messages: mpsc::Receiver<Message>) {
    let mut batch = Batch::default();
    while let Some(first) = messages.recv().await {
        batch.take(first);
        while !batch.is_full() {
            match messages.try_recv() {
                Ok(next) => batch.take(next),
                Err(_) => break,
            }
        }
        batch.commit(&queue, feed.as_ref()).await;
    }
}

/// The notifications gathered for one script call, and the flushes waiting on them.
#[derive(Default)]
struct Batch {
    events: Vec<Event>,
    answers: Vec<oneshot::Sender<Result<Appended, Unavailable>>>,
    bytes: usize,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn take(&mut self, message: Message) {
        match message {
            Message::Append(event, answer) => {
                self.bytes += event.raw.as_str().len();
                self.events.push(*event);
                self.answers.push(answer);
            }
            Message::Flush(done) => self.flushes.push(done),
        }
    }

    fn is_full(&self) -> bool {
        self.events.len() >= MAX_BATCH || self.bytes >= MAX_BATCH_BYTES
    }

    /// Appends the batch, answers each caller, hands the appended events to `feed`, then
    /// answers the flushes; leaves the batch empty.
    async fn commit(&mut self, queue: &RedisQueue, feed: Option<&Feed>) {
        if !self.events.is_empty() {
            let partitions: Vec<u16> = self
                .events
                .iter()
                .map(|event| queue.partition_of(event))
                .collect();
            let cursors =
                feed.map_or_else(Vec::new, |feed| feed.cursors(partitions.iter().copied()));
            match queue.append(&self.events, &partitions, &cursors).await {
                Ok(appends) => {
                    let mut appended = Vec::new();
                    for (((event, answer), (outcome, id)), partition) in self
                        .events
                        .drain(..)
                        .zip(self.answers.drain(..))
                        .zip(appends.outcomes)
                        .zip(partitions)
                    {
                        log(&event, outcome);
                        let _ = answer.send(Ok(outcome));
                        if let Some(id) = id
                            && !cursors.is_empty()
                        {
                            appended.push((partition, id, event));
                        }
                    }
                    if let Some(feed) = feed
                        && !cursors.is_empty()
                    {
                        feed.take(&cursors, &appends.clear, appended);
                    }
                }
                Err(error) => {
                    tracing::error!(%error, events = self.events.len(), "the Redis queue is unavailable");
                    for answer in self.answers.drain(..) {
                        let _ = answer.send(Err(Unavailable));
                    }
                }
            }
        }
        self.events.clear();
        self.bytes = 0;
        for done in self.flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Logs what is worth it of `event`'s `outcome`.
fn log(event: &Event, outcome: Appended) {
    match outcome {
        Appended::Duplicate => tracing::debug!(
            event = %EventIdentity::of(event),
            "duplicate notification acknowledged, not handled again"
        ),
        Appended::Refused => tracing::error!(
            event = %EventIdentity::of(event),
            "Redis refused to append the notification"
        ),
        Appended::Queued | Appended::Full => {}
    }
}

#[cfg(test)]
mod tests {
    use futures_util::future::join_all;

    use super::*;
    use crate::dedupe::DedupeKey;
    use crate::gateway::GatewayKind;
    use crate::redis::Redis;

    fn text(chat: &str, id: &str) -> Event {
        Event::from_json(
            GatewayKind::GreenApiWhatsApp,
            serde_json::json!({
                "typeWebhook": "incomingMessageReceived",
                "instanceData": {"idInstance": 1, "wid": "", "typeInstance": "whatsapp"},
                "timestamp": 1, "idMessage": id,
                "senderData": {"chatId": chat, "sender": chat, "senderName": "Anna"},
                "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": id}}
            }),
        )
        .unwrap()
    }

    /// A queue under a fresh namespace of the test server, its keys deleted when dropped;
    /// `None` (with a note) when the Redis tests are off (`HOOKBOT_TEST_REDIS_URL` unset).
    struct TestQueue {
        url: String,
        queue: RedisQueue,
    }

    impl TestQueue {
        fn new(configure: impl FnOnce(RedisQueue) -> RedisQueue) -> Option<Self> {
            let Ok(url) = std::env::var("HOOKBOT_TEST_REDIS_URL") else {
                eprintln!("note: HOOKBOT_TEST_REDIS_URL is unset; skipping this Redis test");
                return None;
            };
            let namespace = format!("hookbot-test-{:016x}", rand::random::<u64>());
            let redis = Redis::open(url.as_str()).unwrap().namespace(&namespace);
            Some(Self {
                url,
                queue: configure(RedisQueue::new(redis)),
            })
        }

        /// The message ids in `event`'s partition's stream, in stream order.
        async fn ids_beside(&self, event: &Event) -> Vec<String> {
            let stream = self.queue.stream(self.queue.partition_of(event));
            let super::super::queue::Entries(entries) = redis::cmd("XRANGE")
                .arg(stream)
                .arg("-")
                .arg("+")
                .query_async(&mut self.queue.redis().connection())
                .await
                .unwrap();
            entries
                .into_iter()
                .map(|entry| entry.event.unwrap())
                .map(|event| event.message_id().unwrap().to_string())
                .collect()
        }

        async fn is_claimed(&self, event: &Event) -> bool {
            let key =
                super::super::dedupe::claim_key(self.queue.redis(), &DedupeKey::of(event).unwrap());
            redis::cmd("EXISTS")
                .arg(key)
                .query_async(&mut self.queue.redis().connection())
                .await
                .unwrap()
        }
    }

    impl Drop for TestQueue {
        fn drop(&mut self) {
            let pattern = self.queue.redis().key("*");
            if let Ok(mut connection) =
                redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
            {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(pattern)
                    .query(&mut connection)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: redis::RedisResult<()> =
                        redis::cmd("DEL").arg(keys).query(&mut connection);
                }
            }
        }
    }

    /// Appends `events` through `appends`, all asked for before the first batch leaves (the
    /// test's runtime runs the batching task only once every append waits): one batch.
    async fn in_one_batch(
        appends: &GroupCommit,
        events: &[Event],
    ) -> Vec<Result<Appended, Unavailable>> {
        join_all(events.iter().cloned().map(|event| appends.append(event))).await
    }

    #[tokio::test]
    async fn one_batch_answers_each_notification_and_keeps_each_chats_order() {
        let Some(test) = TestQueue::new(|queue| queue.partitions(4)) else {
            return;
        };
        let appends = GroupCommit::new(test.queue.clone());
        let (anna, boris) = ("79001111111@c.us", "79002222222@c.us");
        let events = [
            text(anna, "A1"),
            text(boris, "B1"),
            text(anna, "A2"),
            text(anna, "A1"),
            text(boris, "B2"),
            text(anna, "A3"),
            text(boris, "B2"),
        ];
        let outcomes = in_one_batch(&appends, &events).await;
        use Appended::{Duplicate, Queued};
        assert_eq!(
            outcomes,
            [Queued, Queued, Queued, Duplicate, Queued, Queued, Duplicate].map(Ok)
        );
        let anna_ids = test.ids_beside(&events[0]).await;
        let boris_ids = test.ids_beside(&events[1]).await;
        let of = |ids: &[String], prefix: char| -> Vec<String> {
            ids.iter()
                .filter(|id| id.starts_with(prefix))
                .cloned()
                .collect()
        };
        assert_eq!(of(&anna_ids, 'A'), ["A1", "A2", "A3"]);
        assert_eq!(of(&boris_ids, 'B'), ["B1", "B2"]);
        assert_eq!(test.queue.depth().await.unwrap(), 5);
    }

    /// A notification of `instance` of type `kind` (`whatsapp`, `telegram`), with a message
    /// id (claimed) or, without `id`, a state change (no claim).
    fn of_instance(kind: &str, instance: u64, chat: &str, id: Option<&str>) -> Event {
        let mut json = serde_json::json!({
            "typeWebhook": "incomingMessageReceived",
            "instanceData": {"idInstance": instance, "wid": "", "typeInstance": kind},
            "timestamp": 1, "idMessage": id,
            "senderData": {"chatId": chat, "sender": chat, "senderName": "Anna"},
            "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": "hi"}}
        });
        if id.is_none() {
            json = serde_json::json!({
                "typeWebhook": "stateInstanceChanged",
                "instanceData": {"idInstance": instance, "wid": "", "typeInstance": kind},
                "timestamp": 1, "stateInstance": "authorized"
            });
        }
        Event::from_json(GatewayKind::GreenApiWhatsApp, json).unwrap()
    }

    #[tokio::test]
    async fn a_batch_of_several_gateways_and_instances_keeps_each_notifications_own() {
        let Some(test) = TestQueue::new(|queue| queue.partitions(3)) else {
            return;
        };
        let appends = GroupCommit::new(test.queue.clone());
        let events: Vec<Event> = (0..12)
            .map(|n| {
                let kind = if n % 3 == 0 { "telegram" } else { "whatsapp" };
                let chat = format!("7900{n:07}@c.us");
                let id = format!("M{n}");
                of_instance(kind, 1 + n % 2, &chat, (n % 4 != 3).then_some(id.as_str()))
            })
            .collect();
        let outcomes = in_one_batch(&appends, &events).await;
        assert!(
            outcomes
                .iter()
                .all(|outcome| *outcome == Ok(Appended::Queued))
        );
        let mut stored = Vec::new();
        for partition in 0..3 {
            let super::super::queue::Entries(entries) = redis::cmd("XRANGE")
                .arg(test.queue.stream(partition))
                .arg("-")
                .arg("+")
                .query_async(&mut test.queue.redis().connection())
                .await
                .unwrap();
            stored.extend(
                entries
                    .into_iter()
                    .map(|entry| (partition, entry.event.unwrap())),
            );
        }
        assert_eq!(stored.len(), events.len());
        for event in &events {
            let (partition, kept) = stored
                .iter()
                .find(|(_, kept)| kept.raw.as_str() == event.raw.as_str())
                .expect("each notification is in a stream");
            assert_eq!(
                (kept.gateway, &*kept.instance),
                (event.gateway, &*event.instance)
            );
            assert_eq!(
                *partition,
                test.queue.partition_of(event),
                "in its own stream"
            );
        }
        let gateways: std::collections::HashSet<_> =
            events.iter().map(|event| event.gateway).collect();
        assert_eq!(gateways.len(), 2, "the batch mixes gateways");
        // Appended again: the claimed ones are duplicates, the state changes (no claim) are not.
        let again = in_one_batch(&appends, &events).await;
        for (event, outcome) in events.iter().zip(again) {
            let expected = if DedupeKey::of(event).is_some() {
                Appended::Duplicate
            } else {
                Appended::Queued
            };
            assert_eq!(outcome, Ok(expected));
        }
    }

    #[tokio::test]
    async fn a_batch_after_redis_lost_its_scripts_loads_the_script_again() {
        let Some(test) = TestQueue::new(|queue| queue) else {
            return;
        };
        let appends = GroupCommit::new(test.queue.clone());
        let first = [text("79001111111@c.us", "A1")];
        assert_eq!(in_one_batch(&appends, &first).await, [Ok(Appended::Queued)]);
        let _: String = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut test.queue.redis().connection())
            .await
            .unwrap();
        let second = [text("79001111111@c.us", "A2")];
        assert_eq!(
            in_one_batch(&appends, &second).await,
            [Ok(Appended::Queued)]
        );
        assert_eq!(test.ids_beside(&second[0]).await, ["A1", "A2"]);
    }

    #[tokio::test]
    async fn a_full_partition_inside_a_batch_refuses_only_what_does_not_fit() {
        let Some(test) = TestQueue::new(|queue| queue.partitions(1).capacity(2)) else {
            return;
        };
        let appends = GroupCommit::new(test.queue.clone());
        let events = [
            text("79001111111@c.us", "A1"),
            text("79002222222@c.us", "B1"),
            text("79003333333@c.us", "C1"),
            text("79001111111@c.us", "A1"),
        ];
        let outcomes = in_one_batch(&appends, &events).await;
        use Appended::{Duplicate, Full, Queued};
        assert_eq!(outcomes, [Queued, Queued, Full, Duplicate].map(Ok));
        assert_eq!(test.ids_beside(&events[0]).await, ["A1", "B1"]);
        assert!(
            !test.is_claimed(&events[2]).await,
            "a full queue claims nothing"
        );
    }

    #[tokio::test]
    async fn an_append_redis_refuses_fails_only_its_own_notification() {
        let Some(test) = TestQueue::new(|queue| queue.partitions(2)) else {
            return;
        };
        let chats: Vec<Event> = (0..100)
            .map(|n| text(&format!("7900{n:07}@c.us"), &format!("M{n}")))
            .collect();
        let on = |partition| {
            chats
                .iter()
                .find(|event| test.queue.partition_of(event) == partition)
                .unwrap()
                .clone()
        };
        let (poisoned, healthy) = (on(0), on(1));
        // A stream whose last id is the largest there is takes no new entry: XADD fails.
        let _: String = redis::cmd("XADD")
            .arg(test.queue.stream(0))
            .arg("18446744073709551615-18446744073709551615")
            .arg("junk")
            .arg("1")
            .query_async(&mut test.queue.redis().connection())
            .await
            .unwrap();

        let appends = GroupCommit::new(test.queue.clone());
        let outcomes = in_one_batch(&appends, &[poisoned.clone(), healthy.clone()]).await;
        assert_eq!(outcomes, [Ok(Appended::Refused), Ok(Appended::Queued)]);
        assert!(
            !test.is_claimed(&poisoned).await,
            "a refused append claims nothing"
        );
        assert!(test.is_claimed(&healthy).await);
    }

    #[tokio::test]
    async fn every_notification_of_a_batch_that_cannot_reach_redis_is_unavailable() {
        // Nothing listens on port 1.
        let queue = RedisQueue::new(Redis::open("redis://127.0.0.1:1").unwrap());
        let appends = GroupCommit::new(queue);
        let events = [
            text("79001111111@c.us", "A1"),
            text("79002222222@c.us", "B1"),
            text("79001111111@c.us", "A2"),
        ];
        let outcomes = in_one_batch(&appends, &events).await;
        assert_eq!(outcomes, [Err(Unavailable); 3]);
        // Nothing is left waiting: a flush comes back at once.
        appends.flush().await;
    }

    #[tokio::test]
    async fn a_flush_waits_for_the_appends_asked_for_before_it() {
        let Some(test) = TestQueue::new(|queue| queue) else {
            return;
        };
        let appends = GroupCommit::new(test.queue.clone());
        let events: Vec<Event> = (0..20)
            .map(|n| text(&format!("7900{n:07}@c.us"), &format!("M{n}")))
            .collect();
        let mut asked = std::pin::pin!(join_all(
            events.into_iter().map(|event| appends.append(event))
        ));
        // Polled once: every append is in the inbox, none answered yet.
        tokio::select! {
            biased;
            _ = &mut asked => panic!("answered before the batching task ran"),
            () = std::future::ready(()) => {}
        }
        appends.flush().await;
        assert_eq!(
            test.queue.depth().await.unwrap(),
            20,
            "flushed: all appended"
        );
        let outcomes = asked.await;
        assert!(
            outcomes
                .iter()
                .all(|outcome| *outcome == Ok(Appended::Queued))
        );
    }
}
