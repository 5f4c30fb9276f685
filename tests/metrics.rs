//! `GET /metrics` over real HTTP: events by gateway, instance and kind, the handler's latency,
//! the queue depth, gateway calls by method and status, contact cache hits and misses; valid
//! Prometheus text, without a secret in it.
//!
//! The recorder is global to this test process and the tests run in parallel: each test has
//! instance ids of its own, and asserts only on its own series.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use common::{Server, body};
use hookbot::BoxError;
use hookbot::bot::Bot;
use hookbot::bots::contact_card;
use hookbot::contacts::ContactBook;
use hookbot::context::Context;
use hookbot::gateway::{
    ClientSettings, Gateway, GreenApi, RateLimits, RetryPolicy, SendOptions, ZApi,
};
use hookbot::instance::{Instance, Instances};
use hookbot::router::Router;
use hookbot::testing::TestBot;
use hookbot::{ChatId, filter};
use regex::Regex;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const API_TOKEN: &str = "metrics-api-token-9c1e5b7d2a";
const WEBHOOK_TOKEN: &str = "metrics-webhook-token-4f8a0e6c3b";
const CHAT: &str = "79001234567@c.us";

/// One sample line: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Every sample of a scrape, each line checked against the Prometheus text format.
struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    /// Parses `text`; panics on the first line that is not a comment, blank or a sample.
    fn parse(text: String) -> Self {
        let sample =
            Regex::new(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)(?: -?[0-9]+)?$").unwrap();
        let comment =
            Regex::new(r"^# (?:HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (?:counter|gauge|histogram|summary|untyped))$")
                .unwrap();
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.is_empty() || comment.is_match(line) {
                continue;
            }
            let parts = sample
                .captures(line)
                .unwrap_or_else(|| panic!("not a Prometheus sample line: {line:?}"));
            let value = match &parts[3] {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                number => number
                    .parse()
                    .unwrap_or_else(|_| panic!("not a sample value in {line:?}")),
            };
            samples.push(Sample {
                name: parts[1].to_owned(),
                labels: parts
                    .get(2)
                    .map_or_else(BTreeMap::new, |labels| parse_labels(labels.as_str(), line)),
                value,
            });
        }
        Self { text, samples }
    }

    /// The sum of the samples named `name` whose labels include all of `labels`; 0 when none.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|sample| sample.name == name)
            .filter(|sample| {
                labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(value))
            })
            .map(|sample| sample.value)
            .sum()
    }

    /// Whether any sample named `name` has exactly the label keys `keys`.
    fn has_label_keys(&self, name: &str, keys: &[&str]) -> bool {
        self.samples.iter().any(|sample| {
            sample.name == name
                && sample
                    .labels
                    .keys()
                    .map(String::as_str)
                    .eq(keys.iter().copied())
        })
    }
}

/// `key="value",...` (a trailing comma allowed), each value's escapes undone.
fn parse_labels(labels: &str, line: &str) -> BTreeMap<String, String> {
    let label = Regex::new(r#"^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(?:,|$)"#).unwrap();
    let mut parsed = BTreeMap::new();
    let mut rest = labels;
    while !rest.is_empty() {
        let parts = label
            .captures(rest)
            .unwrap_or_else(|| panic!("malformed labels in {line:?}"));
        let value = parts[2]
            .replace("\\n", "\n")
            .replace("\\\"", "\"")
            .replace("\\\\", "\\");
        parsed.insert(parts[1].to_owned(), value);
        rest = &rest[parts[0].len()..];
    }
    parsed
}

/// One HTTP client for every scrape (building one is slow in a debug build).
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(reqwest::Client::new);

/// `GET {base}/metrics`: 200, Prometheus text.
async fn scrape(base: &str) -> Scrape {
    let response = CLIENT.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    Scrape::parse(response.text().await.unwrap())
}

/// Scrapes `base` until `done` holds (up to 10 s), and returns that scrape.
async fn scrape_until(base: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let scraped = scrape(base).await;
        if done(&scraped) {
            return scraped;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; the last scrape:\n{}",
            scraped.text
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Serves [`hookbot::metrics::router`] alone on a free local port; its base URL.
async fn serve_metrics() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hookbot::metrics::router()).await });
    url
}

/// Retries a few milliseconds apart, no client-side rate limits.
fn fast_settings(retry: RetryPolicy) -> ClientSettings {
    ClientSettings::new()
        .retry(
            retry
                .initial_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5)),
        )
        .rate_limits(RateLimits::unlimited())
}

/// A WhatsApp client of `instance` at `uri`, trying each call up to three times.
fn whatsapp(uri: &str, instance: &str) -> GreenApi {
    GreenApi::whatsapp(uri, instance, API_TOKEN)
        .settings(fast_settings(RetryPolicy::new().max_attempts(3)))
        .build()
        .unwrap()
}

/// `/waInstance{instance}/{method}/{token}`.
fn whatsapp_path(instance: &str, method: &str) -> String {
    format!("/waInstance{instance}/{method}/{API_TOKEN}")
}

/// Mounts an answer of `status` with `body` to `method` of `instance` on `server`.
async fn answer(
    server: &MockServer,
    verb: &str,
    instance: &str,
    gateway_method: &str,
    status: u16,
    body: Value,
) {
    Mock::given(method(verb))
        .and(path(whatsapp_path(instance, gateway_method)))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

/// A GREEN-API `incomingMessageReceived` text notification of `instance`.
fn incoming_text(instance: &str, id: &str, text: &str) -> Value {
    json!({
        "typeWebhook": "incomingMessageReceived",
        "instanceData": {"idInstance": instance.parse::<u64>().unwrap(), "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1588091580,
        "idMessage": id,
        "senderData": {"chatId": CHAT, "sender": CHAT, "chatName": "Tester", "senderName": "Tester"},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
    })
}

/// A GREEN-API `outgoingMessageStatus` notification of `instance`.
fn delivered(instance: &str, id: &str) -> Value {
    json!({
        "typeWebhook": "outgoingMessageStatus",
        "chatId": CHAT,
        "instanceData": {"idInstance": instance.parse::<u64>().unwrap(), "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1705901090,
        "idMessage": id,
        "status": "delivered",
        "sendByApi": true
    })
}

/// Replies with the text; fails on `fail`.
async fn echo_or_fail(cx: Context) -> Result<(), BoxError> {
    match cx.text() {
        Some("fail") => Err("asked to fail".into()),
        Some(text) => {
            cx.reply(text).await?;
            Ok(())
        }
        None => Ok(()),
    }
}

/// A bot of `instance` on a gateway mock that accepts every sendMessage, serving its webhook.
async fn echo_bot(instance: &str) -> (Server, MockServer) {
    let gateway = MockServer::start().await;
    let sent = json!({"idMessage": "BAE5F4886F6F2D05"});
    answer(&gateway, "POST", instance, "sendMessage", 200, sent).await;
    let client = whatsapp(&gateway.uri(), instance);
    let router = Router::new().route(filter::incoming(), echo_or_fail);
    let bot = Bot::builder(router)
        .gateway(client)
        .webhook_token(WEBHOOK_TOKEN)
        .build()
        .unwrap();
    (Server::start(bot).await, gateway)
}

#[tokio::test]
async fn events_are_counted_by_gateway_instance_and_kind() {
    const INSTANCE: &str = "1101000201";
    let (server, _gateway) = echo_bot(INSTANCE).await;
    let notifications = [
        incoming_text(INSTANCE, "M1", "hello"),
        incoming_text(INSTANCE, "M1", "hello"),
        incoming_text(INSTANCE, "M2", "fail"),
        delivered(INSTANCE, "S1"),
    ];
    for notification in &notifications {
        let status = server
            .post("/webhook", body(notification), Some(WEBHOOK_TOKEN))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    let of = |kind| {
        [
            ("gateway", "green-api"),
            ("instance_id", INSTANCE),
            ("kind", kind),
        ]
    };
    let scraped = scrape_until(&server.url, |scraped| {
        let done = |kind| {
            scraped.value("hookbot_events_handled_total", &of(kind))
                + scraped.value("hookbot_events_failed_total", &of(kind))
        };
        done("message") == 2.0 && done("status") == 1.0
    })
    .await;
    let counted = |name, kind| scraped.value(name, &of(kind));
    assert_eq!(counted("hookbot_events_received_total", "message"), 3.0);
    assert_eq!(counted("hookbot_events_received_total", "status"), 1.0);
    assert_eq!(counted("hookbot_events_acknowledged_total", "message"), 3.0);
    assert_eq!(counted("hookbot_events_acknowledged_total", "status"), 1.0);
    assert_eq!(counted("hookbot_events_duplicate_total", "message"), 1.0);
    assert_eq!(counted("hookbot_events_duplicate_total", "status"), 0.0);
    assert_eq!(counted("hookbot_events_handled_total", "message"), 1.0);
    assert_eq!(counted("hookbot_events_failed_total", "message"), 1.0);
    assert_eq!(counted("hookbot_events_handled_total", "status"), 1.0);
    assert_eq!(counted("hookbot_events_failed_total", "status"), 0.0);
    assert_eq!(
        counted("hookbot_handler_duration_seconds_count", "message"),
        2.0
    );
    assert_eq!(
        counted("hookbot_handler_duration_seconds_count", "status"),
        1.0
    );
    let instance = [("gateway", "green-api"), ("instance_id", INSTANCE)];
    assert_eq!(scraped.value("hookbot_queue_depth", &instance), 0.0);
    let sent = [
        ("instance_id", INSTANCE),
        ("method", "sendMessage"),
        ("status", "200"),
    ];
    assert_eq!(scraped.value("hookbot_gateway_calls_total", &sent), 1.0);
    assert!(scraped.has_label_keys(
        "hookbot_events_received_total",
        &["gateway", "instance_id", "kind"]
    ));
}

#[tokio::test]
async fn queue_depth_counts_events_waiting_and_returns_to_zero() {
    const INSTANCE: &str = "1101000202";
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let held = gate.clone();
    let router = Router::new().route(filter::incoming(), move |_cx: Context| {
        let gate = held.clone();
        async move {
            gate.acquire().await?.forget();
            Ok::<_, tokio::sync::AcquireError>(())
        }
    });
    let client = whatsapp("http://127.0.0.1:9", INSTANCE);
    let bot = Bot::builder(router)
        .gateway(client)
        .webhook_token(WEBHOOK_TOKEN)
        .build()
        .unwrap();
    let server = Server::start(bot).await;
    for id in ["Q1", "Q2", "Q3"] {
        let notification = incoming_text(INSTANCE, id, "wait");
        server
            .post("/webhook", body(&notification), Some(WEBHOOK_TOKEN))
            .await;
    }
    let depth = [("gateway", "green-api"), ("instance_id", INSTANCE)];
    let scraped = scrape(&server.url).await;
    assert_eq!(scraped.value("hookbot_queue_depth", &depth), 3.0);

    gate.add_permits(3);
    let handled = [("instance_id", INSTANCE), ("kind", "message")];
    let scraped = scrape_until(&server.url, |scraped| {
        scraped.value("hookbot_events_handled_total", &handled) == 3.0
    })
    .await;
    assert_eq!(scraped.value("hookbot_queue_depth", &depth), 0.0);
}

#[tokio::test]
async fn gateway_calls_are_counted_per_attempt_by_method_and_status() {
    const INSTANCE: &str = "1101000203";
    let gateway = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(whatsapp_path(INSTANCE, "sendMessage")))
        .respond_with(ResponseTemplate::new(500).set_body_string("try again"))
        .up_to_n_times(1)
        .mount(&gateway)
        .await;
    answer(
        &gateway,
        "POST",
        INSTANCE,
        "sendMessage",
        200,
        json!({"idMessage": "BAE5"}),
    )
    .await;
    // The journal shows the first attempt unsent: the send is repeated.
    answer(
        &gateway,
        "GET",
        INSTANCE,
        "lastOutgoingMessages",
        200,
        json!([]),
    )
    .await;
    let client = whatsapp(&gateway.uri(), INSTANCE);
    client
        .send_text(&ChatId::from(CHAT), "hello", &SendOptions::new())
        .await
        .expect("the second attempt succeeds");

    const UNREACHABLE: &str = "1101000213";
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let unreachable = GreenApi::whatsapp(format!("http://{address}"), UNREACHABLE, API_TOKEN)
        .settings(fast_settings(RetryPolicy::none()))
        .build()
        .unwrap();
    unreachable.contacts().await.expect_err("nothing listens");

    let scraped = scrape(&serve_metrics().await).await;
    let calls = |instance, method, status| {
        let labels = [
            ("gateway", "green-api"),
            ("instance_id", instance),
            ("method", method),
            ("status", status),
        ];
        scraped.value("hookbot_gateway_calls_total", &labels)
    };
    assert_eq!(calls(INSTANCE, "sendMessage", "500"), 1.0);
    assert_eq!(calls(INSTANCE, "sendMessage", "200"), 1.0);
    assert_eq!(calls(UNREACHABLE, "getContacts", "transport"), 1.0);
    assert!(scraped.has_label_keys(
        "hookbot_gateway_calls_total",
        &["gateway", "instance_id", "method", "status"]
    ));
}

#[tokio::test]
async fn contact_cache_hits_and_misses_are_counted_per_cache() {
    const INSTANCE: &str = "1101000204";
    let gateway = MockServer::start().await;
    let contacts = json!([{"id": "79001234568@c.us", "name": "Артем", "contactName": "Артем Евпаторийский", "type": "user"}]);
    answer(&gateway, "GET", INSTANCE, "getContacts", 200, contacts).await;
    let profile = json!({"chatId": CHAT, "name": "Tester", "contactName": "", "avatar": "", "isBusiness": false});
    answer(&gateway, "POST", INSTANCE, "getContactInfo", 200, profile).await;
    let book = ContactBook::new(Arc::new(whatsapp(&gateway.uri(), INSTANCE)));
    for query in ["артем", "евпаторийский", "79001234568"] {
        assert_eq!(book.find(query).await.unwrap().len(), 1);
    }
    for _ in 0..2 {
        book.info(&ChatId::from(CHAT)).await.unwrap();
    }

    let scraped = scrape(&serve_metrics().await).await;
    let counted = |name, cache| {
        let labels = [
            ("gateway", "green-api"),
            ("instance_id", INSTANCE),
            ("cache", cache),
        ];
        scraped.value(name, &labels)
    };
    assert_eq!(
        counted("hookbot_contact_cache_misses_total", "contacts"),
        1.0
    );
    assert_eq!(counted("hookbot_contact_cache_hits_total", "contacts"), 2.0);
    assert_eq!(
        counted("hookbot_contact_cache_misses_total", "contact_info"),
        1.0
    );
    assert_eq!(
        counted("hookbot_contact_cache_hits_total", "contact_info"),
        1.0
    );
}

#[tokio::test]
async fn the_test_kit_serves_metrics_for_a_webhook_bot() {
    const INSTANCE: &str = "1101000205";
    let mut bot = TestBot::builder()
        .instance(INSTANCE)
        .start(contact_card::router(), ())
        .await;
    for query in ["contact василиса", "contact alice"] {
        bot.send("79001234568@c.us", query).await;
        bot.reply("79001234568@c.us").await;
    }

    let of = [("instance_id", INSTANCE), ("kind", "message")];
    let scraped = scrape_until(bot.url(), |scraped| {
        scraped.value("hookbot_events_handled_total", &of) == 2.0
    })
    .await;
    assert_eq!(scraped.value("hookbot_events_received_total", &of), 2.0);
    let depth = [("instance_id", INSTANCE)];
    assert_eq!(scraped.value("hookbot_queue_depth", &depth), 0.0);
    let cache = |name| scraped.value(name, &[("instance_id", INSTANCE), ("cache", "contacts")]);
    assert_eq!(cache("hookbot_contact_cache_misses_total"), 1.0);
    assert_eq!(cache("hookbot_contact_cache_hits_total"), 1.0);
    let sent = [
        ("instance_id", INSTANCE),
        ("method", "sendContact"),
        ("status", "200"),
    ];
    assert_eq!(scraped.value("hookbot_gateway_calls_total", &sent), 2.0);
}

#[tokio::test]
async fn a_polling_bot_serves_metrics_too() {
    const INSTANCE: &str = "1101000206";
    let mut bot = TestBot::builder()
        .instance(INSTANCE)
        .polling()
        .start(contact_card::router(), ())
        .await;
    bot.send("79001234568@c.us", "help").await;
    bot.reply("79001234568@c.us").await;

    let of = [("instance_id", INSTANCE), ("kind", "message")];
    // The poller counts the acknowledgement once the dispatcher took the event: the handler
    // may be done first.
    let scraped = scrape_until(bot.url(), |scraped| {
        scraped.value("hookbot_events_handled_total", &of) == 1.0
            && scraped.value("hookbot_events_acknowledged_total", &of) >= 1.0
    })
    .await;
    assert_eq!(scraped.value("hookbot_events_acknowledged_total", &of), 1.0);
    assert_eq!(scraped.value("hookbot_events_received_total", &of), 1.0);
    let received = [
        ("instance_id", INSTANCE),
        ("method", "receiveNotification"),
        ("status", "200"),
    ];
    assert!(scraped.value("hookbot_gateway_calls_total", &received) >= 1.0);
}

#[tokio::test]
async fn metrics_output_is_valid_prometheus_text_with_help_and_histogram_buckets() {
    const INSTANCE: &str = "1101000207";
    let (server, _gateway) = echo_bot(INSTANCE).await;
    let notification = incoming_text(INSTANCE, "V1", "hello");
    server
        .post("/webhook", body(&notification), Some(WEBHOOK_TOKEN))
        .await;
    let of = [("instance_id", INSTANCE), ("kind", "message")];
    let scraped = scrape_until(&server.url, |scraped| {
        scraped.value("hookbot_events_handled_total", &of) == 1.0
    })
    .await;

    // Each line of the text, the first one included, follows a line break.
    let lines = format!("\n{}", scraped.text);
    for (name, kind) in [
        ("hookbot_events_received_total", "counter"),
        ("hookbot_events_handled_total", "counter"),
        ("hookbot_handler_duration_seconds", "histogram"),
        ("hookbot_queue_depth", "gauge"),
        ("hookbot_gateway_calls_total", "counter"),
    ] {
        let help = format!("\n# HELP {name} ");
        let kind = format!("\n# TYPE {name} {kind}\n");
        assert!(lines.contains(&help), "no {help:?} in{lines}");
        assert!(lines.contains(&kind), "no {kind:?} in{lines}");
    }
    let bucket = |le| {
        let labels = [("instance_id", INSTANCE), ("kind", "message"), ("le", le)];
        scraped.value("hookbot_handler_duration_seconds_bucket", &labels)
    };
    assert_eq!(bucket("+Inf"), 1.0);
    assert_eq!(bucket("30"), 1.0);
}

#[tokio::test]
async fn no_secret_appears_in_the_metrics() {
    const INSTANCE: &str = "1101000208";
    let (server, gateway) = echo_bot(INSTANCE).await;
    answer(
        &gateway,
        "POST",
        INSTANCE,
        "getContactInfo",
        500,
        json!({"message": API_TOKEN}),
    )
    .await;
    let client = GreenApi::whatsapp(gateway.uri(), INSTANCE, API_TOKEN)
        .settings(fast_settings(RetryPolicy::none()))
        .build()
        .unwrap();
    client
        .contact_info(&ChatId::from(CHAT))
        .await
        .expect_err("the gateway answers 500");
    let notification = incoming_text(INSTANCE, "T1", "hello");
    server
        .post("/webhook", body(&notification), Some(WEBHOOK_TOKEN))
        .await;
    let wrong = incoming_text(INSTANCE, "T2", "hello");
    let refused = server
        .post(
            "/webhook",
            body(&wrong),
            Some("metrics-webhook-token-wrong"),
        )
        .await;
    assert_eq!(refused, StatusCode::UNAUTHORIZED);
    let of = [("instance_id", INSTANCE), ("kind", "message")];
    let scraped = scrape_until(&server.url, |scraped| {
        scraped.value("hookbot_events_handled_total", &of) == 1.0
    })
    .await;

    let failed = [
        ("instance_id", INSTANCE),
        ("method", "getContactInfo"),
        ("status", "500"),
    ];
    assert_eq!(scraped.value("hookbot_gateway_calls_total", &failed), 1.0);
    for secret in [
        API_TOKEN,
        WEBHOOK_TOKEN,
        "waInstance",
        "http://",
        "https://",
    ] {
        assert!(
            !scraped.text.contains(secret),
            "{secret:?} in the metrics:\n{}",
            scraped.text
        );
    }
}

/// A GREEN-API notification of instance `instance`, the `n`th of a flood: of every kind, with
/// made-up type names, statuses and states.
fn made_up(instance: u64, n: usize) -> Value {
    let envelope =
        json!({"idInstance": instance, "wid": "79990000000@c.us", "typeInstance": "whatsapp"});
    let made_up = format!("madeUp{n:04}x");
    match n % 5 {
        0 => json!({"typeWebhook": made_up, "instanceData": envelope, "timestamp": n}),
        1 => json!({
            "typeWebhook": "incomingMessageReceived", "instanceData": envelope, "timestamp": n,
            "idMessage": format!("F{n}"),
            "senderData": {"chatId": CHAT, "sender": CHAT, "chatName": "Tester", "senderName": "Tester"},
            "messageData": {"typeMessage": made_up}
        }),
        2 => json!({
            "typeWebhook": "outgoingMessageStatus", "instanceData": envelope, "timestamp": n,
            "chatId": CHAT, "idMessage": format!("F{n}"), "status": made_up, "sendByApi": true
        }),
        3 => json!({
            "typeWebhook": "stateInstanceChanged", "instanceData": envelope, "timestamp": n,
            "stateInstance": made_up
        }),
        _ => json!({
            "typeWebhook": "incomingCall", "instanceData": envelope, "timestamp": n,
            "idMessage": format!("F{n}"), "from": CHAT, "status": made_up
        }),
    }
}

#[tokio::test]
async fn notifications_of_instances_the_bot_does_not_serve_add_a_bounded_number_of_series() {
    const INSTANCE: &str = "1101000209";
    // A bot built on one client handles every notification posted with its token, whatever
    // instance it names.
    let client = whatsapp("http://127.0.0.1:9", INSTANCE);
    let bot = Bot::builder(Router::<(), ()>::new())
        .gateway(client)
        .webhook_token(WEBHOOK_TOKEN)
        .build()
        .unwrap();
    let server = Server::start(bot).await;
    const FLOOD: usize = 1000;
    let strangers: Vec<u64> = (0..FLOOD as u64)
        .map(|n| 7_300_000_000 + n * 7919)
        .collect();
    for (n, stranger) in strangers.iter().enumerate() {
        let notification = made_up(*stranger, n);
        let status = server
            .post("/webhook", body(&notification), Some(WEBHOOK_TOKEN))
            .await;
        assert_eq!(status, StatusCode::OK, "notification {n}");
    }
    let unknown = [("instance_id", hookbot::metrics::UNKNOWN_INSTANCE)];
    let scraped = scrape_until(&server.url, |scraped| {
        scraped.value("hookbot_events_handled_total", &unknown) == FLOOD as f64
    })
    .await;

    assert_eq!(
        scraped.value("hookbot_events_received_total", &unknown),
        FLOOD as f64
    );
    // Looked for in the labels, not the whole text: a stranger's number may well be part of a
    // sample's value (a histogram's sum of 0.0000073000000000001 seconds holds 7300000000).
    let labelled = |needle: &str| {
        scraped
            .samples
            .iter()
            .any(|sample| sample.labels.values().any(|value| value.contains(needle)))
    };
    for (n, stranger) in strangers.iter().enumerate() {
        let named = stranger.to_string();
        assert!(!labelled(&named), "{named} labels a series");
        let made_up = format!("madeUp{n:04}x");
        assert!(
            !scraped.text.contains(&made_up),
            "{made_up} labels a series"
        );
    }
    let kinds = [
        "message",
        "status",
        "instance_state",
        "call",
        "block",
        "unknown",
    ];
    let mut series = std::collections::BTreeSet::new();
    for sample in &scraped.samples {
        if sample.labels.get("instance_id").map(String::as_str) != Some("unknown") {
            continue;
        }
        if let Some(kind) = sample.labels.get("kind") {
            assert!(kinds.contains(&kind.as_str()), "kind {kind:?}");
        }
        series.insert(format!("{}{:?}", sample.name, sample.labels));
    }
    // Per kind: five counters and the histogram's buckets, sum and count; the queue depth;
    // whether the instance is connected.
    let histogram = hookbot::metrics::HANDLER_DURATION_BUCKETS.len() + 3;
    let bound = kinds.len() * (5 + histogram) + 2;
    assert!(
        !series.is_empty() && series.len() <= bound,
        "{} series labelled unknown, more than {bound}: {series:#?}",
        series.len()
    );
}

#[tokio::test]
async fn gateway_refusals_of_the_instance_are_counted_by_reason() {
    let gateway = MockServer::start().await;
    let refusals = [
        (
            "1101000221",
            400,
            json!({"message": "Instance account not authorized"}),
        ),
        ("1101000222", 401, json!({"message": "Unauthorized"})),
        ("1101000223", 403, json!({"message": "Forbidden"})),
        (
            "1101000224",
            466,
            json!({"invokeStatus": {"method": "sendMessage", "used": 100, "total": 100, "status": "QUOTE_EXCEEDED", "description": "plan"}}),
        ),
        (
            "1101000225",
            400,
            json!({"message": "Validation failed", "details": "chatId"}),
        ),
    ];
    for (instance, status, answer_body) in &refusals {
        answer(
            &gateway,
            "POST",
            instance,
            "sendMessage",
            *status,
            answer_body.clone(),
        )
        .await;
        whatsapp(&gateway.uri(), instance)
            .send_text(&ChatId::from(CHAT), "hello", &SendOptions::new())
            .await
            .expect_err("the gateway refuses");
    }

    let scraped = scrape(&serve_metrics().await).await;
    let refused = |instance, reason| {
        let labels = [
            ("gateway", "green-api"),
            ("instance_id", instance),
            ("reason", reason),
        ];
        let found = scraped.samples.iter().any(|sample| {
            sample.name == "hookbot_gateway_refusals_total"
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(value))
        });
        assert!(found, "no refusal series of {instance} for {reason}");
        scraped.value("hookbot_gateway_refusals_total", &labels)
    };
    let reasons = [
        "not_authorized",
        "unauthorized",
        "forbidden",
        "quota_exceeded",
    ];
    for (at, (instance, _, _)) in refusals.iter().enumerate() {
        for (reason_at, reason) in reasons.iter().enumerate() {
            let expected = if at == reason_at { 1.0 } else { 0.0 };
            assert_eq!(refused(instance, reason), expected, "{instance} {reason}");
        }
    }
    let calls = [("instance_id", "1101000221"), ("status", "400")];
    assert_eq!(scraped.value("hookbot_gateway_calls_total", &calls), 1.0);
}

#[tokio::test]
async fn instance_state_notifications_say_whether_the_instance_is_connected() {
    const INSTANCE: &str = "1101000210";
    let (server, _gateway) = echo_bot(INSTANCE).await;
    let connected = [("gateway", "green-api"), ("instance_id", INSTANCE)];
    let is_connected = |scraped: &Scrape| {
        scraped
            .samples
            .iter()
            .find(|sample| {
                sample.name == "hookbot_instance_connected"
                    && sample.labels.get("instance_id").map(String::as_str) == Some(INSTANCE)
            })
            .map(|sample| sample.value)
    };
    assert_eq!(is_connected(&scrape(&server.url).await), None);

    for (timestamp, state, expected) in [
        (1, "notAuthorized", 0.0),
        (2, "authorized", 1.0),
        (3, "blocked", 0.0),
    ] {
        let notification = json!({
            "typeWebhook": "stateInstanceChanged",
            "instanceData": {"idInstance": INSTANCE.parse::<u64>().unwrap(), "wid": "", "typeInstance": "whatsapp"},
            "timestamp": timestamp,
            "stateInstance": state
        });
        let status = server
            .post("/webhook", body(&notification), Some(WEBHOOK_TOKEN))
            .await;
        assert_eq!(status, StatusCode::OK);
        let scraped = scrape(&server.url).await;
        assert_eq!(is_connected(&scraped), Some(expected), "after {state}");
        assert_eq!(
            scraped.value("hookbot_instance_connected", &connected),
            expected
        );
    }
}

#[tokio::test]
async fn answer_statuses_the_gateways_do_not_document_are_labelled_by_class() {
    const INSTANCE: &str = "1101000211";
    let gateway = MockServer::start().await;
    for status in [418, 599, 299] {
        Mock::given(method("GET"))
            .and(path(whatsapp_path(INSTANCE, "getContacts")))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!([])))
            .up_to_n_times(1)
            .mount(&gateway)
            .await;
    }
    let client = GreenApi::whatsapp(gateway.uri(), INSTANCE, API_TOKEN)
        .settings(fast_settings(RetryPolicy::none()))
        .build()
        .unwrap();
    for _ in 0..3 {
        let _ = client.contacts().await;
    }

    let scraped = scrape(&serve_metrics().await).await;
    let calls = |status| {
        let labels = [
            ("instance_id", INSTANCE),
            ("method", "getContacts"),
            ("status", status),
        ];
        scraped.value("hookbot_gateway_calls_total", &labels)
    };
    assert_eq!((calls("4xx"), calls("5xx"), calls("2xx")), (1.0, 1.0, 1.0));
    for code in ["418", "599", "299"] {
        assert_eq!(calls(code), 0.0, "{code} labels a series");
    }
}

/// A Z-API text callback of instance `instance`.
fn zapi_text(instance: &str, id: &str, phone: &str) -> Value {
    json!({
        "type": "ReceivedCallback", "instanceId": instance, "messageId": id,
        "phone": phone, "fromMe": false, "isGroup": false,
        "momment": 1632228638000u64, "senderName": "Ana", "text": {"message": "hi"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_several_instances_is_counted_exactly_under_each_instance() {
    const GREEN: [(&str, &str); 2] = [
        ("1101000241", "metrics-hook-a-61f0"),
        ("1101000242", "metrics-hook-b-2c9d"),
    ];
    const ZAPI: &str = "3C4A1B2C3D4E5F6A7B8C9D0E1F2A3B41";
    const ZAPI_HOOK: &str = "metrics-hook-z-8a4e";
    let mut instances: Vec<Instance> = GREEN
        .iter()
        .map(|(id, hook)| {
            let client = whatsapp("http://127.0.0.1:9", id);
            Instance::builder(Arc::new(client))
                .webhook_token(*hook)
                .build()
        })
        .collect();
    let zapi = ZApi::builder("http://127.0.0.1:9", ZAPI, "z-api-token")
        .build()
        .unwrap();
    instances.push(
        Instance::builder(Arc::new(zapi))
            .webhook_token(ZAPI_HOOK)
            .build(),
    );
    let bot = Bot::builder(Router::<(), ()>::new())
        .instances(Instances::new(instances).unwrap())
        .build()
        .unwrap();
    let server = Arc::new(Server::start(bot).await);

    // Tasks on both threads post at once, each notification of its own chat, every task to
    // every instance in turn.
    const TASKS: usize = 8;
    const EACH: usize = 30;
    let posting = (0..TASKS).map(|task| {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            for n in 0..EACH {
                let id = format!("B{task}-{n}");
                let phone = format!("55119{task:02}{n:05}");
                let (path, token, notification) = match (task + n) % 3 {
                    2 => (
                        format!("/webhook/{ZAPI_HOOK}"),
                        None,
                        zapi_text(ZAPI, &id, &phone),
                    ),
                    at => {
                        let (instance, hook) = GREEN[at];
                        let mut notification = incoming_text(instance, &id, "hi");
                        notification["senderData"]["chatId"] = json!(format!("{phone}@c.us"));
                        ("/webhook".to_owned(), Some(hook), notification)
                    }
                };
                let status = server.post(&path, body(&notification), token).await;
                assert_eq!(status, StatusCode::OK, "{id}");
            }
        })
    });
    for task in posting.collect::<Vec<_>>() {
        task.await.unwrap();
    }

    let each = (TASKS * EACH / 3) as f64;
    let of = |gateway, instance| {
        [
            ("gateway", gateway),
            ("instance_id", instance),
            ("kind", "message"),
        ]
    };
    let served = [
        ("green-api", GREEN[0].0),
        ("green-api", GREEN[1].0),
        ("zapi", ZAPI),
    ];
    let scraped = scrape_until(&server.url, |scraped| {
        served.iter().all(|&(gateway, instance)| {
            scraped.value("hookbot_events_handled_total", &of(gateway, instance)) == each
        })
    })
    .await;
    for (gateway, instance) in served {
        let counted = |name| scraped.value(name, &of(gateway, instance));
        assert_eq!(counted("hookbot_events_received_total"), each, "{instance}");
        assert_eq!(
            counted("hookbot_events_acknowledged_total"),
            each,
            "{instance}"
        );
        assert_eq!(counted("hookbot_events_duplicate_total"), 0.0, "{instance}");
        assert_eq!(counted("hookbot_events_failed_total"), 0.0, "{instance}");
        assert_eq!(
            counted("hookbot_handler_duration_seconds_count"),
            each,
            "{instance}"
        );
        let depth = [("gateway", gateway), ("instance_id", instance)];
        assert_eq!(scraped.value("hookbot_queue_depth", &depth), 0.0);
    }
}
