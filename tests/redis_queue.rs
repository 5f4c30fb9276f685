//! The Redis backend's durable shared queue over real HTTP and a real Redis: a notification is
//! in Redis before the 200, redeliveries are handled once, each chat in order; several bot
//! processes share one queue, and a killed one's events are handled by the others; a stopped
//! Redis means 503 and nothing lost; the polling intake works on it.
//!
//! Every test needs `HOOKBOT_TEST_REDIS_URL` (and the outage test `redis-server` on the PATH);
//! without it, it returns at once with a note. Each test works in a fresh key namespace, and
//! removes its keys at the end.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use common::{Seen, Server, body, incoming_text, offline_bot, on_every_event, recording};
use hookbot::bot::Bot;
use hookbot::context::Context;
use hookbot::dispatch::DispatchSettings;
use hookbot::filter;
use hookbot::gateway::{ClientSettings, GatewayKind, GreenApi, RateLimits, RetryPolicy, ZApi};
use hookbot::instance::{Instance, Instances};
use hookbot::redis::{Redis, RedisQueue};
use hookbot::router::Router;
use hookbot::sandbox::EntryContent;
use hookbot::testing::TestBot;
use hookbot::{Event, Secret};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const WEBHOOK_TOKEN: &str = "replica-webhook-token-3f1a";
const INSTANCE: &str = "1101000001";
const API_TOKEN: &str = "replica-api-token-9c2d";
/// How long a test waits for what it expects before it fails.
const PATIENCE: Duration = Duration::from_secs(60);
/// The replicas' lease in these tests: short, so that a killed replica's partitions move soon;
/// long enough that a busy machine renews in time.
const LEASE: Duration = Duration::from_secs(3);

/// The shared test server's URL, or `None` (with a note) when the tests should skip.
fn redis_url() -> Option<String> {
    let url = std::env::var("HOOKBOT_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty());
    if url.is_none() {
        eprintln!("note: HOOKBOT_TEST_REDIS_URL is unset; skipping this Redis test");
    }
    url
}

fn fresh_namespace() -> String {
    format!("hookbot-test-{:016x}", rand::random::<u64>())
}

/// Deletes every key of `namespace`.
async fn forget_namespace(url: &str, namespace: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(&keys)
            .query_async::<()>(&mut connection)
            .await
            .unwrap();
    }
}

/// Waits until `done` holds, or fails with `what`.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the queue holds no entry: every accepted event was handled and acknowledged.
async fn until_empty(queue: &RedisQueue) {
    eventually("the queue to empty", || async {
        queue.depth().await.is_ok_and(|depth| depth == 0)
    })
    .await;
}

/// A bot on `queue` whose handler records each event in `seen`.
fn recording_webhook(queue: RedisQueue, seen: &Seen) -> Bot {
    offline_bot(
        GatewayKind::GreenApiWhatsApp,
        recording(seen),
        WEBHOOK_TOKEN,
    )
    .store(queue)
    .build()
    .unwrap()
}

/// Serves `bot`'s routes only: notifications are accepted, and none is handled.
async fn serve_intake_only(bot: &Bot) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = bot.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn post_to(url: &str, notification: &Value) -> Result<StatusCode, reqwest::Error> {
    reqwest::Client::new()
        .post(format!("{url}/webhook"))
        .bearer_auth(WEBHOOK_TOKEN)
        .header("content-type", "application/json")
        .body(body(notification))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map(|answer| answer.status())
}

fn chat(n: usize) -> String {
    format!("7900{n:07}@c.us")
}

#[tokio::test]
async fn accepted_notification_is_in_redis_before_the_200_and_handled_once() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    let seen = Seen::default();
    let webhook = recording_webhook(queue.clone(), &seen);
    let intake = serve_intake_only(&webhook).await;

    let notification = incoming_text(&chat(1), "M-1", "hello");
    assert_eq!(
        post_to(&intake, &notification).await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(queue.depth().await.unwrap(), 1, "in Redis before the 200");
    assert_eq!(
        post_to(&intake, &notification).await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(queue.depth().await.unwrap(), 1, "a copy is not appended");

    let server = Server::start(webhook).await;
    seen.wait_for(|texts| !texts.is_empty()).await;
    until_empty(&queue).await;
    assert_eq!(seen.texts(), ["hello"]);
    server.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

/// A Z-API callback that names no instance belongs to the instance of its path token; it still
/// does once it went through the shared queue.
#[tokio::test]
async fn a_zapi_callback_naming_no_instance_keeps_its_instance_through_the_queue() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let redis = Redis::open(url.as_str()).unwrap().namespace(&namespace);
    let green_api = GreenApi::whatsapp("http://127.0.0.1:1", INSTANCE, API_TOKEN)
        .build()
        .unwrap();
    let zapi = ZApi::builder("http://127.0.0.1:1", "Z1", "z-token")
        .build()
        .unwrap();
    let instances = Instances::new([
        Instance::builder(Arc::new(green_api))
            .webhook_token(WEBHOOK_TOKEN)
            .build(),
        Instance::builder(Arc::new(zapi))
            .name("zapi")
            .webhook_token("z-hook")
            .build(),
    ])
    .unwrap();
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let router = Router::new().route(
        filter::incoming(),
        |cx: Context<Arc<Mutex<Vec<String>>>>| async move {
            let label = cx.instance().label().to_owned();
            cx.state().lock().unwrap().push(label);
            Ok::<(), hookbot::Error>(())
        },
    );
    let bot = Bot::builder(router)
        .state(handled.clone())
        .instances(instances)
        .store(redis.clone())
        .build()
        .unwrap();
    let server = common::Server::start(bot).await;
    let callback = json!({
        "type": "ReceivedCallback", "messageId": "Z-1", "phone": "5544999999999",
        "fromMe": false, "isGroup": false, "momment": 1_632_228_638_000_u64,
        "senderName": "Ana", "text": {"message": "olá"}
    });
    assert_eq!(
        server.post("/webhook/z-hook", body(&callback), None).await,
        StatusCode::OK
    );
    eventually("the callback to be handled", || async {
        !handled.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(*handled.lock().unwrap(), ["zapi"]);
    server.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

/// A replica that shuts down keeps its partitions while its handlers finish, however long
/// the drain takes: no other replica claims the entries still being handled and handles them
/// again.
#[tokio::test]
async fn a_draining_replica_keeps_its_partitions_until_its_handlers_finish() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let lease = Duration::from_millis(500);
    let queue = |name: &str| {
        RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace))
            .partitions(1)
            .lease(lease)
            .replica(name)
    };
    let (seen, gate) = (Seen::default(), Arc::new(tokio::sync::Semaphore::new(0)));
    let handler = {
        let (seen, gate) = (seen.clone(), gate.clone());
        move |event: Event| {
            let (seen, gate) = (seen.clone(), gate.clone());
            async move {
                seen.push(event);
                let _finish = gate.acquire().await;
                Ok::<_, std::convert::Infallible>(())
            }
        }
    };
    let draining = offline_bot(
        GatewayKind::GreenApiWhatsApp,
        on_every_event(handler),
        WEBHOOK_TOKEN,
    )
    .store(queue("draining"))
    .dispatch(DispatchSettings::new().drain_deadline(Duration::from_secs(60)))
    .build()
    .unwrap();
    let draining = Server::start(draining).await;
    let notification = incoming_text(&chat(1), "M-1", "hello");
    assert_eq!(
        draining
            .post("/webhook", body(&notification), Some(WEBHOOK_TOKEN))
            .await,
        StatusCode::OK
    );
    seen.wait_for(|texts| !texts.is_empty()).await;
    let stopped = draining.stop();

    let next_seen = Seen::default();
    let next_queue = queue("next");
    let next = Server::start(recording_webhook(next_queue.clone(), &next_seen)).await;
    // Several leases go by while the handler is still at work.
    tokio::time::sleep(lease * 6).await;
    assert_eq!(
        lease_holders(&url, &namespace).await,
        HashMap::from([("draining".to_owned(), 1)]),
        "the draining replica gave its partition up"
    );
    assert!(
        next_seen.texts().is_empty(),
        "another replica handled an entry still being handled"
    );

    gate.add_permits(1);
    stopped.await.unwrap().unwrap();
    until_empty(&next_queue).await;
    assert_eq!(seen.texts(), ["hello"]);
    assert!(next_seen.texts().is_empty());
    next.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

/// An append that fails leaves no claim behind: the gateway's next delivery is appended, not
/// answered as a duplicate of an event that was never queued.
#[tokio::test]
async fn a_failed_append_claims_nothing_and_the_next_delivery_is_queued() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue =
        RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace)).partitions(1);
    let seen = Seen::default();
    let intake = serve_intake_only(&recording_webhook(queue.clone(), &seen)).await;
    // A stream whose last id is the largest there is takes no new entry: XADD fails.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let stream = format!("{namespace}:queue:0");
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("18446744073709551615-18446744073709551615")
        .arg("junk")
        .arg("1")
        .query_async(&mut connection)
        .await
        .unwrap();

    let notification = incoming_text(&chat(1), "M-1", "hello");
    assert_eq!(
        post_to(&intake, &notification).await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    redis::cmd("DEL")
        .arg(&stream)
        .query_async::<()>(&mut connection)
        .await
        .unwrap();
    assert_eq!(
        post_to(&intake, &notification).await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(queue.depth().await.unwrap(), 1, "the redelivery was queued");
    forget_namespace(&url, &namespace).await;
}

#[tokio::test]
async fn five_deliveries_are_handled_once_and_each_chat_in_order() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    let seen = Seen::default();
    let server = Server::start(recording_webhook(queue.clone(), &seen)).await;

    let sending = (0..4).map(|c| {
        let url = server.url.clone();
        tokio::spawn(async move {
            for m in 0..10 {
                let notification = incoming_text(&chat(c), &format!("M-{c}-{m}"), &format!("{m}"));
                for _ in 0..5 {
                    assert_eq!(post_to(&url, &notification).await.unwrap(), StatusCode::OK);
                }
            }
        })
    });
    for sender in sending {
        sender.await.unwrap();
    }
    seen.wait_for(|texts| texts.len() >= 40).await;
    until_empty(&queue).await;

    assert_each_chat_once_in_order(texts_by_chat(&seen).iter(), 4, 10);
    server.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

/// A replica whose dispatcher has room for far fewer events than a read returns: each read
/// submits what fits and the rest is read again later, from where the dispatcher refused;
/// every event is handled once, each chat's in order.
#[tokio::test]
async fn a_dispatcher_with_little_room_takes_the_rest_on_later_reads_once_and_in_order() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    queue_while_nobody_reads(&queue, 24, 3).await;

    let seen = Seen::default();
    let narrow = offline_bot(
        GatewayKind::GreenApiWhatsApp,
        recording(&seen),
        WEBHOOK_TOKEN,
    )
    .store(queue.clone())
    .dispatch(DispatchSettings::new().capacity(2).max_in_flight(1))
    .build()
    .unwrap();
    let server = Server::start(narrow).await;
    seen.wait_for(|texts| texts.len() >= 72).await;
    until_empty(&queue).await;
    assert_each_chat_once_in_order(texts_by_chat(&seen).iter(), 24, 3);
    server.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

/// A replica whose dispatcher refuses what it read because the chat is full (its handler is
/// stuck, more of its messages wait in the stream) pauses before reading them again, rather
/// than reading and being refused in a loop against Redis until the handler finishes; then
/// every message is handled once, in order. Its reads are counted by a proxy in front of
/// Redis, which sees only this replica's connections.
#[tokio::test]
async fn entries_refused_for_a_full_chat_are_not_read_again_in_a_loop() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    queue_while_nobody_reads(&queue, 1, 10).await;

    let (proxy_url, reads) = counting_proxy(&url, b"XREAD").await;
    let (seen, gate) = (Seen::default(), Arc::new(tokio::sync::Semaphore::new(0)));
    let stuck = offline_bot(
        GatewayKind::GreenApiWhatsApp,
        common::gated(&seen, &gate),
        WEBHOOK_TOKEN,
    )
    .store(RedisQueue::new(
        Redis::open(proxy_url.as_str())
            .unwrap()
            .namespace(&namespace),
    ))
    .dispatch(DispatchSettings::new().chat_capacity(2))
    .build()
    .unwrap();
    let server = Server::start(stuck).await;
    seen.wait_for(|texts| !texts.is_empty()).await;
    let before = reads.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = reads.load(Ordering::Relaxed) - before;
    assert!(
        during < 100,
        "{during} reads in half a second while the chat was full"
    );

    gate.add_permits(10);
    seen.wait_for(|texts| texts.len() >= 10).await;
    until_empty(&queue).await;
    assert_each_chat_once_in_order(texts_by_chat(&seen).iter(), 1, 10);
    server.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

/// Queues `messages` texts ("0", "1", …) from each of `chats` chats in `queue` through a
/// webhook whose bot does not read the queue, taking turns between the chats.
async fn queue_while_nobody_reads(queue: &RedisQueue, chats: usize, messages: usize) {
    let filling = recording_webhook(queue.clone(), &Seen::default());
    let intake = serve_intake_only(&filling).await;
    for m in 0..messages {
        for c in 0..chats {
            let notification = incoming_text(&chat(c), &format!("M-{c}-{m}"), &format!("{m}"));
            assert_eq!(
                post_to(&intake, &notification).await.unwrap(),
                StatusCode::OK
            );
        }
    }
    assert_eq!(queue.depth().await.unwrap(), chats * messages);
}

/// Waits until the replicas of `namespace` hold every partition between them (the first
/// replica started: all of them).
async fn until_every_partition_is_held(url: &str, namespace: &str) {
    eventually("every partition to be held", || async {
        lease_holders(url, namespace).await.values().sum::<usize>()
            == usize::from(hookbot::redis::DEFAULT_PARTITIONS)
    })
    .await;
}

/// A TCP proxy in front of the Redis at `url`: the URL to reach Redis through it, and how
/// many times `command` appeared in what its clients sent (a command split across two reads
/// may be missed: a lower bound).
async fn counting_proxy(url: &str, command: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    let mut proxied = reqwest::Url::parse(url).unwrap();
    let target = format!(
        "{}:{}",
        proxied.host_str().unwrap(),
        proxied.port().unwrap_or(6379)
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    proxied.set_ip_host(address.ip()).unwrap();
    proxied.set_port(Some(address.port())).unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(&target).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let upstream = async {
                    let mut buffer = vec![0; 64 * 1024];
                    loop {
                        let read = client_read.read(&mut buffer).await.unwrap_or(0);
                        if read == 0 {
                            break;
                        }
                        let seen = buffer[..read]
                            .windows(command.len())
                            .filter(|window| window.eq_ignore_ascii_case(command))
                            .count();
                        counted.fetch_add(seen, Ordering::Relaxed);
                        if server_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                };
                let downstream = tokio::io::copy(&mut server_read, &mut client_write);
                tokio::select! {
                    () = upstream => {}
                    _ = downstream => {}
                }
            });
        }
    });
    (proxied.to_string(), count)
}

/// Two replicas on one Redis, each chat's messages delivered to one and then the other. The
/// first holds every partition and, alone as far as its last heartbeat knows, takes its own
/// appends from memory instead of reading them back; the other's appends come between them
/// in the same partitions and must be read first. Every message is handled once, each
/// chat's in order.
#[tokio::test]
async fn two_replicas_taking_turns_at_each_chat_handle_every_message_once_and_in_order() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue = || RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    let seen = Seen::default();
    let first = Server::start(recording_webhook(queue(), &seen)).await;
    until_every_partition_is_held(&url, &namespace).await;
    let second = Server::start(recording_webhook(queue(), &seen)).await;
    const CHATS: usize = 8;
    const MESSAGES: usize = 20;

    let senders = (0..CHATS).map(|c| {
        let replicas = [first.url.clone(), second.url.clone()];
        tokio::spawn(async move {
            for m in 0..MESSAGES {
                let notification = incoming_text(&chat(c), &format!("M-{c}-{m}"), &format!("{m}"));
                let status = post_to(&replicas[m % 2], &notification).await.unwrap();
                assert_eq!(status, StatusCode::OK);
            }
        })
    });
    for sender in senders {
        sender.await.unwrap();
    }
    seen.wait_for(|texts| texts.len() >= CHATS * MESSAGES).await;
    until_empty(&queue()).await;

    assert_each_chat_once_in_order(texts_by_chat(&seen).iter(), CHATS, MESSAGES);
    second.stop().await.unwrap().unwrap();
    first.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

/// Each of `chats` chats' texts (`by_chat`) are `0`, `1`, … up to `messages`, once each and in
/// order.
fn assert_each_chat_once_in_order<'a>(
    by_chat: impl ExactSizeIterator<Item = (&'a String, &'a Vec<String>)>,
    chats: usize,
    messages: usize,
) {
    assert_eq!(by_chat.len(), chats, "chats");
    let expected: Vec<String> = (0..messages).map(|m| m.to_string()).collect();
    for (chat, texts) in by_chat {
        assert_eq!(texts, &expected, "chat {chat}: once each, in order");
    }
}

/// The texts `seen` handled, per chat, in the order handled.
fn texts_by_chat(seen: &Seen) -> BTreeMap<String, Vec<String>> {
    let mut by_chat: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in seen.events() {
        let text = event.message().and_then(|message| message.text()).unwrap();
        by_chat
            .entry(event.chat().unwrap().to_string())
            .or_default()
            .push(text.to_owned());
    }
    by_chat
}

/// Many chats deliver at once, each message twice at the same moment: the appends share
/// batches, and each delivery still gets its own answer; every message is handled once, each
/// chat's in order.
#[tokio::test]
async fn concurrent_deliveries_sharing_batches_each_get_their_answer_in_order() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    let seen = Seen::default();
    let server = Server::start(recording_webhook(queue.clone(), &seen)).await;
    const CHATS: usize = 32;
    const MESSAGES: usize = 15;

    let senders = (0..CHATS).map(|c| {
        let url = server.url.clone();
        tokio::spawn(async move {
            for m in 0..MESSAGES {
                let notification = incoming_text(&chat(c), &format!("M-{c}-{m}"), &format!("{m}"));
                let (first, copy) =
                    tokio::join!(post_to(&url, &notification), post_to(&url, &notification));
                assert_eq!(first.unwrap(), StatusCode::OK);
                assert_eq!(copy.unwrap(), StatusCode::OK);
            }
        })
    });
    for sender in senders {
        sender.await.unwrap();
    }
    seen.wait_for(|texts| texts.len() >= CHATS * MESSAGES).await;
    until_empty(&queue).await;

    assert_each_chat_once_in_order(texts_by_chat(&seen).iter(), CHATS, MESSAGES);
    server.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

#[tokio::test]
async fn a_full_queue_answers_503_and_still_acknowledges_copies() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let redis = Redis::open(url.as_str()).unwrap().namespace(&namespace);
    let queue = RedisQueue::new(redis).partitions(1).capacity(1);
    let webhook = recording_webhook(queue.clone(), &Seen::default());
    let intake = serve_intake_only(&webhook).await;

    let first = incoming_text(&chat(1), "M-1", "first");
    let second = incoming_text(&chat(2), "M-2", "second");
    assert_eq!(post_to(&intake, &first).await.unwrap(), StatusCode::OK);
    assert_eq!(
        post_to(&intake, &second).await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(post_to(&intake, &first).await.unwrap(), StatusCode::OK);
    assert_eq!(queue.depth().await.unwrap(), 1);
    forget_namespace(&url, &namespace).await;
}

#[tokio::test]
async fn a_replica_that_shuts_down_leaves_what_it_did_not_handle_to_the_next() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace))
        .partitions(1)
        .lease(LEASE);
    // The first replica's handler never finishes: its event is still unhandled at shutdown.
    let stuck = Seen::default();
    let router = on_every_event({
        let stuck = stuck.clone();
        move |event: Event| {
            stuck.push(event);
            std::future::pending::<Result<(), std::convert::Infallible>>()
        }
    });
    let first = offline_bot(GatewayKind::GreenApiWhatsApp, router, WEBHOOK_TOKEN)
        .store(queue.clone().replica("first"))
        .dispatch(DispatchSettings::new().drain_deadline(Duration::from_millis(200)))
        .build()
        .unwrap();
    let first = Server::start(first).await;
    let notification = incoming_text(&chat(1), "M-1", "left over");
    assert_eq!(
        post_to(&first.url, &notification).await.unwrap(),
        StatusCode::OK
    );
    stuck.wait_for(|texts| !texts.is_empty()).await;
    let report = first.stop().await.unwrap().unwrap();
    assert_eq!(report.unfinished, 1);
    assert_eq!(
        queue.depth().await.unwrap(),
        1,
        "unhandled, so still queued"
    );

    let seen = Seen::default();
    let next = Server::start(recording_webhook(queue.clone().replica("next"), &seen)).await;
    seen.wait_for(|texts| !texts.is_empty()).await;
    until_empty(&queue).await;
    assert_eq!(seen.texts(), ["left over"]);
    assert_eq!(stuck.texts(), ["left over"]);
    next.stop().await.unwrap().unwrap();
    forget_namespace(&url, &namespace).await;
}

#[tokio::test]
async fn the_polling_intake_on_redis_answers_each_message() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    let mut bot = TestBot::builder()
        .polling()
        .start_configured(hookbot::bots::echo::router(), (), |bot| {
            bot.store(queue.clone())
        })
        .await;
    for text in ["one", "two", "three"] {
        bot.send(chat(7), text).await;
    }
    let replies: Vec<EntryContent> = bot
        .replies(chat(7), 3)
        .await
        .into_iter()
        .map(|reply| reply.content)
        .collect();
    let texts = ["one", "two", "three"].map(|text| EntryContent::Text(text.to_owned()));
    assert_eq!(replies, texts);
    until_empty(&queue).await;
    bot.stop().await;
    forget_namespace(&url, &namespace).await;
}

/// A Redis server of the test's own, on a free port, with every write on disk before it is
/// answered (`appendfsync always`), so that it can be stopped and started again.
struct PrivateRedis {
    port: u16,
    dir: std::path::PathBuf,
    process: Option<Child>,
}

impl PrivateRedis {
    async fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("hookbot-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self {
            port,
            dir,
            process: None,
        };
        if !redis.run().await {
            eprintln!("note: redis-server could not be started; skipping this Redis test");
            return None;
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it answers; `false` when it cannot run.
    async fn run(&mut self) -> bool {
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let Ok(process) = spawned else { return false };
        self.process = Some(process);
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut connection).await;
                if pong.is_ok() {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    async fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().await.unwrap();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn while_redis_is_down_the_receiver_answers_503_and_nothing_acknowledged_is_lost() {
    if redis_url().is_none() {
        return;
    }
    let Some(mut private) = PrivateRedis::start().await else {
        return;
    };
    let queue = RedisQueue::new(Redis::open(private.url()).unwrap()).lease(LEASE);
    let seen = Seen::default();
    let webhook = recording_webhook(queue.clone(), &seen);
    let intake = serve_intake_only(&webhook).await;

    let before = incoming_text(&chat(1), "M-before", "before");
    assert_eq!(post_to(&intake, &before).await.unwrap(), StatusCode::OK);

    private.stop().await;
    let during = incoming_text(&chat(1), "M-during", "during");
    assert_eq!(
        post_to(&intake, &during).await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    assert!(private.run().await, "redis-server starts again");
    eventually("the receiver to accept again", || async {
        post_to(&intake, &during).await.ok() == Some(StatusCode::OK)
    })
    .await;
    assert_eq!(
        queue.depth().await.unwrap(),
        2,
        "both acknowledged, both kept"
    );

    let server = Server::start(webhook).await;
    seen.wait_for(|texts| texts.len() >= 2).await;
    until_empty(&queue).await;
    assert_eq!(seen.texts(), ["before", "during"]);
    server.stop().await.unwrap().unwrap();
    private.stop().await;
}

/// Redis stops while chats deliver at full pace, batches in flight: each delivery is answered
/// 200 or 503, and every one answered 200 is handled once Redis is back (none was acknowledged
/// without being kept), each chat's in order.
#[tokio::test]
async fn redis_stopping_mid_burst_answers_503_for_what_it_did_not_keep_and_loses_no_200() {
    if redis_url().is_none() {
        return;
    }
    let Some(mut private) = PrivateRedis::start().await else {
        return;
    };
    let queue = RedisQueue::new(Redis::open(private.url()).unwrap()).lease(LEASE);
    let seen = Seen::default();
    let webhook = recording_webhook(queue.clone(), &seen);
    let intake = serve_intake_only(&webhook).await;
    const CHATS: usize = 16;

    let refused = Arc::new(tokio::sync::Semaphore::new(0));
    let senders: Vec<_> = (0..CHATS)
        .map(|c| {
            let intake = intake.clone();
            let refused = refused.clone();
            tokio::spawn(async move {
                // Sends the chat's messages one after another until one is refused; the
                // texts answered 200.
                let mut accepted = Vec::new();
                for m in 0.. {
                    let notification =
                        incoming_text(&chat(c), &format!("M-{c}-{m}"), &format!("{m}"));
                    match post_to(&intake, &notification).await.unwrap() {
                        StatusCode::OK => accepted.push(m.to_string()),
                        StatusCode::SERVICE_UNAVAILABLE => break,
                        other => panic!("unexpected answer {other}"),
                    }
                }
                refused.add_permits(1);
                (chat(c), accepted)
            })
        })
        .collect();
    eventually("the burst to get going", || async {
        queue.depth().await.is_ok_and(|depth| depth >= 100)
    })
    .await;
    private.stop().await;
    let _ = refused.acquire_many(CHATS as u32).await.unwrap();
    let mut accepted = BTreeMap::new();
    for sender in senders {
        let (chat, texts) = sender.await.unwrap();
        accepted.insert(chat, texts);
    }

    assert!(private.run().await, "redis-server starts again");
    let total: usize = accepted.values().map(Vec::len).sum();
    let server = Server::start(webhook).await;
    seen.wait_for(|texts| texts.len() >= total).await;
    until_empty(&queue).await;
    let handled = texts_by_chat(&seen);
    for (chat, texts) in &accepted {
        let got = handled.get(chat).cloned().unwrap_or_default();
        // What was answered 503 may have been appended all the same (the answer was lost):
        // the gateway delivers it again, and it is a duplicate then. Nothing answered 200 is
        // missing, and the chat's order holds.
        assert!(
            got.len() >= texts.len() && got[..texts.len()] == texts[..],
            "chat {chat}: accepted {texts:?}, handled {got:?}"
        );
    }
    server.stop().await.unwrap().unwrap();
    private.stop().await;
}

// ---- Several bot processes sharing one queue ----

/// What the mock GREEN-API received: `(chat, text)` of each sendMessage, in arrival order.
#[derive(Clone, Default)]
struct Sent(Arc<Mutex<Vec<(String, String)>>>);

impl Sent {
    fn by_chat(&self) -> HashMap<String, Vec<String>> {
        let mut by_chat: HashMap<String, Vec<String>> = HashMap::new();
        for (chat, text) in self.0.lock().unwrap().iter() {
            by_chat.entry(chat.clone()).or_default().push(text.clone());
        }
        by_chat
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A GREEN-API that answers every sendMessage and records it.
async fn mock_green_api() -> (String, Sent) {
    async fn send_message(State(sent): State<Sent>, Json(body): Json<Value>) -> Json<Value> {
        let chat = body["chatId"].as_str().unwrap_or_default().to_owned();
        let text = body["message"].as_str().unwrap_or_default().to_owned();
        let id = {
            let mut sent = sent.0.lock().unwrap();
            sent.push((chat, text));
            sent.len()
        };
        Json(json!({"idMessage": format!("BOT{id}")}))
    }
    let sent = Sent::default();
    let app = axum::Router::new()
        .route("/{instance}/sendMessage/{token}", post(send_message))
        .with_state(sent.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, sent)
}

/// One bot process: this test binary running [`replica_process`].
struct Replica {
    url: String,
    process: Child,
    /// Handlers the process started, as it announces them.
    started: Arc<AtomicUsize>,
}

impl Replica {
    async fn start(
        name: &str,
        redis: &str,
        namespace: &str,
        gateway: &str,
        sleep: Duration,
    ) -> Self {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "replica_process", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env("HOOKBOT_TEST_REPLICA", name)
            .env("HOOKBOT_TEST_REPLICA_REDIS", redis)
            .env("HOOKBOT_TEST_REPLICA_NAMESPACE", namespace)
            .env("HOOKBOT_TEST_REPLICA_GATEWAY", gateway)
            .env(
                "HOOKBOT_TEST_REPLICA_SLEEP_MS",
                sleep.as_millis().to_string(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let url = loop {
            let line = tokio::time::timeout(PATIENCE, lines.next_line())
                .await
                .expect("the replica starts")
                .unwrap()
                .expect("the replica prints its address");
            // The test harness starts the line with the test's name.
            if let Some((_, url)) = line.split_once("REPLICA LISTENING ") {
                break url.trim().to_owned();
            }
        };
        let started = Arc::new(AtomicUsize::new(0));
        tokio::spawn({
            let started = started.clone();
            async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains("REPLICA HANDLING") {
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
        Self {
            url,
            process,
            started,
        }
    }
}

/// Kills the replicas and waits until they are gone (so that none writes after the test
/// cleaned up).
async fn stop_all(replicas: Vec<Replica>) {
    for mut replica in replicas {
        replica.process.kill().await.unwrap();
    }
}

/// Run by the replica tests in a child process (`HOOKBOT_TEST_REPLICA` set): a bot on the
/// shared queue whose handler announces itself, waits `HOOKBOT_TEST_REPLICA_SLEEP_MS`, then
/// echoes the text through the mock gateway. Serves until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a bot process that the replica tests start"]
async fn replica_process() {
    let Ok(name) = std::env::var("HOOKBOT_TEST_REPLICA") else {
        return;
    };
    let var = |suffix: &str| std::env::var(format!("HOOKBOT_TEST_REPLICA_{suffix}")).unwrap();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let sleep = Duration::from_millis(var("SLEEP_MS").parse().unwrap());
    let settings = ClientSettings::new()
        .rate_limits(RateLimits::unlimited())
        .retry(RetryPolicy::new().initial_delay(Duration::from_millis(10)));
    let gateway = GreenApi::whatsapp(var("GATEWAY"), INSTANCE, API_TOKEN)
        .settings(settings)
        .build()
        .unwrap();
    let router = Router::new().route(filter::incoming(), move |cx: Context| async move {
        println!("REPLICA HANDLING");
        tokio::time::sleep(sleep).await;
        let text = cx.text().unwrap_or_default().to_owned();
        cx.reply(text).await.map(drop)
    });
    let redis = Redis::open(var("REDIS"))
        .unwrap()
        .namespace(&var("NAMESPACE"));
    let queue = RedisQueue::new(redis).lease(LEASE).replica(name);
    let bot = Bot::builder(router)
        .gateway(gateway)
        .webhook_token(Secret::new(WEBHOOK_TOKEN))
        .store(queue)
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "REPLICA LISTENING http://{}",
        listener.local_addr().unwrap()
    );
    bot.serve(listener, std::future::pending()).await.unwrap();
}

/// The holders of the queue's leases, per replica name.
async fn lease_holders(url: &str, namespace: &str) -> HashMap<String, usize> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut holders = HashMap::new();
    for partition in 0..hookbot::redis::DEFAULT_PARTITIONS {
        let holder: Option<String> = redis::cmd("GET")
            .arg(format!("{namespace}:lease:{partition}"))
            .query_async(&mut connection)
            .await
            .unwrap();
        if let Some(holder) = holder {
            *holders.entry(holder).or_default() += 1;
        }
    }
    holders
}

/// Starts three replicas and waits until they share the partitions.
async fn three_replicas(
    url: &str,
    namespace: &str,
    gateway: &str,
    sleeps: [Duration; 3],
) -> Vec<Replica> {
    let mut replicas = Vec::new();
    for (n, sleep) in sleeps.into_iter().enumerate() {
        replicas
            .push(Replica::start(&format!("replica-{n}"), url, namespace, gateway, sleep).await);
    }
    eventually("the replicas to share the partitions", || async {
        let holders = lease_holders(url, namespace).await;
        holders.len() == 3
            && holders.values().sum::<usize>() == usize::from(hookbot::redis::DEFAULT_PARTITIONS)
    })
    .await;
    replicas
}

/// Posts `notification` to a random live replica until one accepts it.
async fn deliver(replicas: &[String], notification: &Value) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let url = &replicas[rand::random_range(0..replicas.len())];
        if post_to(url, notification).await.ok() == Some(StatusCode::OK) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no replica accepted {notification}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `messages` texts to each of `chats` chats, each notification five times to random
/// replicas, the chats at once and each chat's messages in order, starting at `first`.
async fn burst(replicas: &Arc<Mutex<Vec<String>>>, chats: usize, first: usize, messages: usize) {
    let senders = (0..chats).map(|c| {
        let replicas = replicas.clone();
        tokio::spawn(async move {
            for m in first..first + messages {
                let notification = incoming_text(&chat(c), &format!("M-{c}-{m}"), &format!("{m}"));
                for _ in 0..5 {
                    let live = replicas.lock().unwrap().clone();
                    deliver(&live, &notification).await;
                }
            }
        })
    });
    for sender in senders {
        sender.await.unwrap();
    }
}

/// Each of `chats` chats got the replies `0..messages`, once each and in order.
fn assert_replied_once_in_order(sent: &Sent, chats: usize, messages: usize) {
    assert_each_chat_once_in_order(sent.by_chat().iter(), chats, messages);
    assert_eq!(sent.len(), chats * messages);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_handle_every_event_once_and_each_chat_in_order() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let (gateway, sent) = mock_green_api().await;
    let sleep = Duration::from_millis(5);
    let replicas = three_replicas(&url, &namespace, &gateway, [sleep; 3]).await;
    let urls = Arc::new(Mutex::new(
        replicas.iter().map(|replica| replica.url.clone()).collect(),
    ));

    burst(&urls, 20, 0, 10).await;
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    eventually("every reply", || async { sent.len() >= 200 }).await;
    until_empty(&queue).await;
    assert_replied_once_in_order(&sent, 20, 10);
    let handled_by: HashSet<String> = lease_holders(&url, &namespace).await.into_keys().collect();
    assert_eq!(handled_by.len(), 3, "all three replicas hold partitions");
    stop_all(replicas).await;
    forget_namespace(&url, &namespace).await;
}

/// A replica alone takes its own appends from memory, not reading them back; killed before
/// it handled them, it leaves them in their streams, and the replica started after it
/// handles each once, each chat's in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_replica_killed_leaves_what_it_took_from_memory_to_the_next() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let (gateway, sent) = mock_green_api().await;
    let never = Duration::from_secs(3600);
    let victim = Replica::start("alone", &url, &namespace, &gateway, never).await;
    until_every_partition_is_held(&url, &namespace).await;
    let urls = Arc::new(Mutex::new(vec![victim.url.clone()]));
    burst(&urls, 8, 0, 3).await;
    eventually("the victim to take entries", || async {
        victim.started.load(Ordering::SeqCst) > 0
    })
    .await;
    let mut process = victim.process;
    process.kill().await.unwrap();

    let quick = Duration::from_millis(10);
    let next = Replica::start("next", &url, &namespace, &gateway, quick).await;
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    eventually("every reply", || async { sent.len() >= 8 * 3 }).await;
    until_empty(&queue).await;
    assert_replied_once_in_order(&sent, 8, 3);
    stop_all(vec![next]).await;
    forget_namespace(&url, &namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_events_are_handled_by_the_others_once() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let (gateway, sent) = mock_green_api().await;
    // The victim's handlers never get past their sleep, so no kill can fall between a reply
    // and its acknowledgement: every event it took is still to handle when it dies.
    let never = Duration::from_secs(3600);
    let quick = Duration::from_millis(300);
    let mut replicas = three_replicas(&url, &namespace, &gateway, [quick, quick, never]).await;
    let urls = Arc::new(Mutex::new(
        replicas
            .iter()
            .map(|replica| replica.url.clone())
            .collect::<Vec<_>>(),
    ));

    burst(&urls, 32, 0, 3).await;
    let victim = replicas.pop().unwrap();
    eventually("the victim to take entries", || async {
        victim.started.load(Ordering::SeqCst) > 0
    })
    .await;
    urls.lock().unwrap().retain(|url| *url != victim.url);
    let mut process = victim.process;
    process.kill().await.unwrap();

    burst(&urls, 32, 3, 3).await;
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    eventually("every reply", || async { sent.len() >= 32 * 6 }).await;
    until_empty(&queue).await;
    assert_replied_once_in_order(&sent, 32, 6);
    stop_all(replicas).await;
    forget_namespace(&url, &namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_joining_mid_burst_take_partitions_over_in_order() {
    let Some(url) = redis_url() else { return };
    let namespace = fresh_namespace();
    let (gateway, sent) = mock_green_api().await;
    let sleep = Duration::from_millis(20);
    let first = Replica::start("replica-0", &url, &namespace, &gateway, sleep).await;
    eventually("the first replica to hold every partition", || async {
        lease_holders(&url, &namespace).await.get("replica-0")
            == Some(&usize::from(hookbot::redis::DEFAULT_PARTITIONS))
    })
    .await;
    let urls = Arc::new(Mutex::new(vec![first.url.clone()]));
    let mut replicas = vec![first];

    // While the burst goes on, two more replicas start: the first sheds partitions to them,
    // each once its entries in flight are handled.
    let sending = tokio::spawn({
        let urls = urls.clone();
        async move { burst(&urls, 20, 0, 10).await }
    });
    for name in ["replica-1", "replica-2"] {
        let replica = Replica::start(name, &url, &namespace, &gateway, sleep).await;
        urls.lock().unwrap().push(replica.url.clone());
        replicas.push(replica);
    }
    sending.await.unwrap();
    let queue = RedisQueue::new(Redis::open(url.as_str()).unwrap().namespace(&namespace));
    eventually("every reply", || async { sent.len() >= 200 }).await;
    until_empty(&queue).await;
    assert_replied_once_in_order(&sent, 20, 10);
    eventually("the three replicas to share the partitions", || async {
        lease_holders(&url, &namespace).await.len() == 3
    })
    .await;
    stop_all(replicas).await;
    forget_namespace(&url, &namespace).await;
}
