//! The polling intake over real HTTP: the GREEN-API client's queue calls, and a poller against
//! a mock queue (where a failure must be injected) and against the sandbox: order, delete after
//! acceptance, failures of either call, an outage, a restart in the middle of a queue, and
//! shutdown during a long poll.

mod common;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use common::{Seen, Server, capture_logs, incoming_text, on_every_event};
use hookbot::bot::Bot;
use hookbot::context::Context;
use hookbot::dispatch::{DispatchSettings, DrainReport};
use hookbot::filter;
use hookbot::gateway::{ClientSettings, GreenApi, Notification, RateLimits, RetryPolicy, ZApi};
use hookbot::intake::{Intake, PollingSettings};
use hookbot::router::Router;
use hookbot::sandbox::{Author, Sandbox, UserMessage};
use hookbot::testing::TestBot;
use hookbot::{ChatId, Error, Event};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const INSTANCE: &str = "1101000001";
const TOKEN: &str = "queue-token-5b1e";
const ANNA: &str = "79001234567@c.us";
const IVAN: &str = "79001234568@c.us";

// ---- a mock GREEN-API queue, for injected failures and exact counts ----

#[derive(Default)]
struct QueueState {
    next_receipt: u64,
    queue: VecDeque<(u64, Value)>,
    receives: usize,
    /// deleteNotification calls per receipt, failed ones included.
    delete_attempts: HashMap<u64, usize>,
    /// deleteNotification calls answered 200, per receipt.
    deleted: HashMap<u64, usize>,
    /// How many more deleteNotification calls of a receipt to answer 500.
    failing_deletes: HashMap<u64, usize>,
    /// Receipts whose deleteNotification calls are answered 400.
    refused_deletes: HashSet<u64>,
    /// How many more receiveNotification calls to answer 500.
    failing_receives: usize,
    /// How many more receiveNotification calls to answer 429 with the largest `Retry-After`,
    /// after a second of long poll.
    rate_limited_receives: usize,
    /// getSettings' `webhookUrl`.
    webhook_url: String,
}

/// GREEN-API's receiveNotification / deleteNotification over a FIFO queue: the head comes back
/// until it is deleted.
#[derive(Clone, Default)]
struct MockQueue(Arc<Mutex<QueueState>>);

impl MockQueue {
    /// Queues `body`; its receipt.
    fn push(&self, body: Value) -> u64 {
        let mut state = self.0.lock().unwrap();
        state.next_receipt += 1;
        let receipt = state.next_receipt;
        state.queue.push_back((receipt, body));
        receipt
    }

    fn fail_deletes(&self, receipt: u64, times: usize) {
        self.0
            .lock()
            .unwrap()
            .failing_deletes
            .insert(receipt, times);
    }

    /// Answers every deleteNotification of `receipt` with 400 while `refused`.
    fn refuse_deletes(&self, receipt: u64, refused: bool) {
        let mut state = self.0.lock().unwrap();
        if refused {
            state.refused_deletes.insert(receipt);
        } else {
            state.refused_deletes.remove(&receipt);
        }
    }

    fn fail_receives(&self, times: usize) {
        self.0.lock().unwrap().failing_receives = times;
    }

    fn rate_limit_receives(&self, times: usize) {
        self.0.lock().unwrap().rate_limited_receives = times;
    }

    fn receives(&self) -> usize {
        self.0.lock().unwrap().receives
    }

    fn waiting(&self) -> usize {
        self.0.lock().unwrap().queue.len()
    }

    fn delete_attempts(&self, receipt: u64) -> usize {
        let state = self.0.lock().unwrap();
        state.delete_attempts.get(&receipt).copied().unwrap_or(0)
    }

    fn deleted(&self) -> HashMap<u64, usize> {
        self.0.lock().unwrap().deleted.clone()
    }

    fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/{instance}/receiveNotification/{token}", get(mock_receive))
            .route(
                "/{instance}/deleteNotification/{token}/{receipt}",
                delete(mock_delete),
            )
            .route("/{instance}/getSettings/{token}", get(mock_settings))
            .with_state(self.clone())
    }

    /// Serves the queue on a free local port; its URL.
    async fn serve(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        self.serve_on(listener);
        url
    }

    fn serve_on(&self, listener: TcpListener) {
        let router = self.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
    }

    /// Waits (up to 10 s) until the queue is empty.
    async fn wait_empty(&self) {
        wait_until("the mock queue to empty", || self.waiting() == 0).await;
    }
}

async fn mock_receive(
    State(queue): State<MockQueue>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    assert!(query.contains_key("receiveTimeout"), "{query:?}");
    let (head, rate_limited) = {
        let mut state = queue.0.lock().unwrap();
        state.receives += 1;
        if state.failing_receives > 0 {
            state.failing_receives -= 1;
            return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
        }
        let rate_limited = state.rate_limited_receives > 0;
        state.rate_limited_receives = state.rate_limited_receives.saturating_sub(1);
        (state.queue.front().cloned(), rate_limited)
    };
    if rate_limited {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let wait = [(header::RETRY_AFTER, u64::MAX.to_string())];
        return (StatusCode::TOO_MANY_REQUESTS, wait).into_response();
    }
    match head {
        Some((receipt, body)) => Json(json!({"receiptId": receipt, "body": body})).into_response(),
        None => {
            // A short long poll: the queue stayed empty.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Json(Value::Null).into_response()
        }
    }
}

async fn mock_settings(State(queue): State<MockQueue>) -> Json<Value> {
    let url = queue.0.lock().unwrap().webhook_url.clone();
    Json(json!({"webhookUrl": url, "webhookUrlToken": "", "outgoingWebhook": "yes"}))
}

async fn mock_delete(
    State(queue): State<MockQueue>,
    Path((_instance, _token, receipt)): Path<(String, String, u64)>,
) -> Response {
    let mut state = queue.0.lock().unwrap();
    *state.delete_attempts.entry(receipt).or_default() += 1;
    if state.refused_deletes.contains(&receipt) {
        return (StatusCode::BAD_REQUEST, "bad receipt").into_response();
    }
    if let Some(failing) = state.failing_deletes.get_mut(&receipt)
        && *failing > 0
    {
        *failing -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
    }
    let before = state.queue.len();
    state.queue.retain(|(id, _)| *id != receipt);
    let found = state.queue.len() != before;
    *state.deleted.entry(receipt).or_default() += 1;
    Json(json!({"result": found})).into_response()
}

// ---- helpers ----

/// Waits (up to 10 s) until `done` holds.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A client of the queue at `url`: no client-side limits, `retry` as given.
fn client(url: &str, retry: RetryPolicy) -> GreenApi {
    GreenApi::whatsapp(url, INSTANCE, TOKEN)
        .settings(
            ClientSettings::new()
                .rate_limits(RateLimits::unlimited())
                .retry(retry),
        )
        .build()
        .unwrap()
}

/// A client of the sandbox at `url`, like [`client`].
fn sandbox_client(sandbox: &Sandbox, url: &str) -> GreenApi {
    GreenApi::whatsapp(url, sandbox.instance(), sandbox.token().clone())
        .settings(
            ClientSettings::new()
                .rate_limits(RateLimits::unlimited())
                .retry(fast_retry()),
        )
        .build()
        .unwrap()
}

/// Retries a few milliseconds apart.
fn fast_retry() -> RetryPolicy {
    RetryPolicy::new()
        .max_attempts(2)
        .initial_delay(Duration::from_millis(2))
        .max_delay(Duration::from_millis(5))
}

/// Long polls of 5 s (the least GREEN-API allows), backoff from 5 ms up to 50 ms.
fn quick_polling() -> PollingSettings {
    PollingSettings::new()
        .receive_timeout(Duration::from_secs(5))
        .backoff(Duration::from_millis(5), Duration::from_millis(50))
}

/// A router whose handler records every event, and fails on the text `fail`.
fn recording(seen: &Seen) -> Router {
    let seen = seen.clone();
    on_every_event(move |event: Event| {
        let failed = event.message().and_then(|m| m.text()) == Some("fail");
        seen.push(event);
        async move {
            if failed {
                return Err(std::io::Error::other("the handler failed"));
            }
            Ok(())
        }
    })
}

/// A polling bot running until [`stop`](Running::stop).
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<hookbot::Result<DrainReport>>,
}

impl Running {
    /// A bot of `router` polling `gateway`'s queue with [`quick_polling`].
    async fn start(gateway: GreenApi, router: Router) -> Self {
        Self::start_with(gateway, router, DispatchSettings::new()).await
    }

    /// Like [`start`](Running::start), with these dispatch settings.
    async fn start_with(gateway: GreenApi, router: Router, dispatch: DispatchSettings) -> Self {
        let bot = Bot::builder(router)
            .gateway(gateway)
            .intake(Intake::Polling(quick_polling()))
            .dispatch(dispatch.drain_deadline(Duration::from_secs(5)))
            .build()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bot.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    async fn stop(self) -> DrainReport {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("the poller stops")
            .unwrap()
            .unwrap()
    }
}

/// Counts the receiveNotification calls a router answers.
fn counting_receives(router: axum::Router, receives: Arc<AtomicUsize>) -> axum::Router {
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let receives = receives.clone();
        async move {
            if request.uri().path().contains("/receiveNotification/") {
                receives.fetch_add(1, Ordering::SeqCst);
            }
            next.run(request).await
        }
    }))
}

/// What the bots of a test saw, and the gate their handler waits at after recording.
#[derive(Clone)]
struct Gated {
    seen: Seen,
    gate: Arc<Semaphore>,
}

async fn gated_handler(cx: Context<Gated>) -> hookbot::Result<()> {
    cx.state().seen.push(cx.event().clone());
    cx.state()
        .gate
        .acquire()
        .await
        .expect("the gate stays open")
        .forget();
    Ok(())
}

async fn echo(cx: Context) -> hookbot::Result<()> {
    if let Some(text) = cx.text() {
        cx.reply(text).await?;
    }
    Ok(())
}

async fn failing(_cx: Context) -> hookbot::Result<()> {
    Err(Error::Config {
        variable: "TEST",
        reason: "the handler failed on purpose".to_owned(),
    })
}

// ---- the client's queue calls ----

#[tokio::test]
async fn webhook_url_reads_get_settings_and_an_empty_url_means_the_queue() {
    let server = MockServer::start().await;
    let settings = |url: &str| {
        ResponseTemplate::new(200)
            .set_body_json(json!({"webhookUrl": url, "delaySendMessagesMilliseconds": 1000}))
    };
    Mock::given(method("GET"))
        .and(path(format!("/waInstance{INSTANCE}/getSettings/{TOKEN}")))
        .respond_with(settings("https://bot.example/webhook"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/waInstance{INSTANCE}/getSettings/{TOKEN}")))
        .respond_with(settings(""))
        .mount(&server)
        .await;
    let client = client(&server.uri(), RetryPolicy::none());
    assert_eq!(
        client.webhook_url().await.unwrap().as_deref(),
        Some("https://bot.example/webhook")
    );
    assert_eq!(client.webhook_url().await.unwrap(), None);
}

#[tokio::test]
async fn a_poller_warns_when_the_instance_posts_to_a_webhook_and_not_otherwise() {
    for webhook_url in ["https://bot.example/webhook?secret=s3cr3t", ""] {
        let (logs, _guard) = capture_logs("warn");
        let queue = MockQueue::default();
        queue.0.lock().unwrap().webhook_url = webhook_url.to_owned();
        let url = queue.serve().await;
        let seen = Seen::default();
        let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;
        wait_until("a receive after the settings check", || {
            queue.receives() > 0
        })
        .await;
        poller.stop().await;
        let logs = logs.text();
        assert_eq!(
            logs.contains("has a webhook URL set"),
            !webhook_url.is_empty(),
            "{webhook_url:?}: {logs}"
        );
        assert!(!logs.contains("s3cr3t"), "the URL is not logged: {logs}");
    }
}

#[tokio::test]
async fn receive_notification_long_polls_and_reads_a_notification_or_null() {
    let server = MockServer::start().await;
    let body = incoming_text(ANNA, "A1", "привет");
    Mock::given(method("GET"))
        .and(path(format!(
            "/waInstance{INSTANCE}/receiveNotification/{TOKEN}"
        )))
        .and(query_param("receiveTimeout", "20"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"receiptId": 7, "body": body})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/waInstance{INSTANCE}/receiveNotification/{TOKEN}"
        )))
        .and(query_param("receiveTimeout", "5"))
        .respond_with(ResponseTemplate::new(200).set_body_string("null"))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server.uri(), RetryPolicy::none());

    let received = client
        .receive_notification(Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(received, Some(Notification::new(7, body)));
    let empty = client
        .receive_notification(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(empty, None);
}

#[tokio::test]
async fn receive_timeout_outside_5_to_60_seconds_is_refused_unsent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("null"))
        .expect(0)
        .mount(&server)
        .await;
    let client = client(&server.uri(), RetryPolicy::none());
    for timeout in [
        Duration::from_secs(4),
        Duration::from_secs(61),
        Duration::from_millis(5500),
    ] {
        let error = client.receive_notification(timeout).await.unwrap_err();
        assert!(
            matches!(&error, Error::Validation(invalid) if invalid.field == "receive_timeout"),
            "{timeout:?}: {error}"
        );
    }
}

#[tokio::test]
async fn a_long_poll_may_outlast_the_clients_time_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("null")
                .set_delay(Duration::from_millis(600)),
        )
        .mount(&server)
        .await;
    let client = GreenApi::whatsapp(server.uri(), INSTANCE, TOKEN)
        .settings(
            ClientSettings::new()
                .timeout(Duration::from_millis(100))
                .retry(RetryPolicy::none()),
        )
        .build()
        .unwrap();
    let received = client.receive_notification(Duration::from_secs(5)).await;
    assert!(matches!(received, Ok(None)), "{received:?}");
}

#[tokio::test]
async fn delete_notification_deletes_by_receipt_on_whatsapp_and_max() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/waInstance{INSTANCE}/deleteNotification/{TOKEN}/7"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": true})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/v3/waInstance{INSTANCE}/deleteNotification/{TOKEN}/8"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": false})))
        .expect(1)
        .mount(&server)
        .await;
    let whatsapp = client(&server.uri(), RetryPolicy::none());
    let max = GreenApi::max(server.uri(), INSTANCE, TOKEN)
        .build()
        .unwrap();

    assert!(whatsapp.delete_notification(7).await.unwrap());
    assert!(!max.delete_notification(8).await.unwrap());
}

#[tokio::test]
async fn queue_calls_retry_a_500() {
    let queue = MockQueue::default();
    let receipt = queue.push(incoming_text(ANNA, "A1", "hi"));
    queue.fail_receives(1);
    queue.fail_deletes(receipt, 1);
    let url = queue.serve().await;
    let client = client(&url, fast_retry());

    let received = client
        .receive_notification(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("a notification");
    assert_eq!(received.receipt_id, receipt);
    assert!(client.delete_notification(receipt).await.unwrap());
    assert_eq!(queue.receives(), 2);
    assert_eq!(queue.delete_attempts(receipt), 2);
}

// ---- the poller against a mock queue ----

#[tokio::test]
async fn notifications_are_handled_in_queue_order_and_each_deleted_once() {
    let queue = MockQueue::default();
    let texts: Vec<String> = (0..8).map(|n| format!("message {n}")).collect();
    let receipts: Vec<u64> = texts
        .iter()
        .enumerate()
        .map(|(n, text)| queue.push(incoming_text(ANNA, &format!("ID{n}"), text)))
        .collect();
    let url = queue.serve().await;
    let seen = Seen::default();
    let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;

    seen.wait_for(|seen| seen.len() == texts.len()).await;
    queue.wait_empty().await;
    let report = poller.stop().await;

    assert_eq!(seen.texts(), texts);
    let deleted = queue.deleted();
    for receipt in &receipts {
        assert_eq!(
            deleted.get(receipt),
            Some(&1),
            "receipt {receipt}: {deleted:?}"
        );
    }
    assert_eq!(deleted.len(), receipts.len());
    assert_eq!(report.unfinished, 0);
}

#[tokio::test]
async fn a_notification_the_dispatcher_refuses_stays_in_the_queue_until_accepted() {
    let queue = MockQueue::default();
    let first = queue.push(incoming_text(ANNA, "A1", "first"));
    let second = queue.push(incoming_text(ANNA, "A2", "second"));
    let url = queue.serve().await;
    let seen = Seen::default();
    let gate = Arc::new(Semaphore::new(0));
    // One event at most: while "first" is being handled, "second" is refused (queue full).
    let poller = Running::start_with(
        client(&url, fast_retry()),
        common::gated(&seen, &gate),
        DispatchSettings::new().capacity(1),
    )
    .await;

    seen.wait_for(|seen| seen == ["first"]).await;
    let receives = queue.receives();
    wait_until("\"second\" to be received and refused twice more", || {
        queue.receives() >= receives + 2
    })
    .await;
    assert_eq!(queue.delete_attempts(first), 1, "accepted, then deleted");
    assert_eq!(queue.delete_attempts(second), 0, "refused: not deleted");
    assert_eq!(queue.waiting(), 1);

    gate.add_permits(2);
    seen.wait_for(|seen| seen == ["first", "second"]).await;
    queue.wait_empty().await;
    poller.stop().await;
    assert_eq!(queue.deleted(), HashMap::from([(first, 1), (second, 1)]));
}

#[tokio::test]
async fn a_failing_handler_does_not_block_the_queue() {
    let queue = MockQueue::default();
    queue.push(incoming_text(ANNA, "A1", "fail"));
    queue.push(incoming_text(ANNA, "A2", "after the failure"));
    let url = queue.serve().await;
    let seen = Seen::default();
    let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;

    seen.wait_for(|seen| seen == ["fail", "after the failure"])
        .await;
    queue.wait_empty().await;
    poller.stop().await;
    assert!(queue.deleted().values().all(|&count| count == 1));
}

#[tokio::test]
async fn a_delete_answered_with_500_is_retried_and_the_notification_handled_once() {
    let queue = MockQueue::default();
    let first = queue.push(incoming_text(ANNA, "A1", "once"));
    let second = queue.push(incoming_text(ANNA, "A2", "next"));
    // The client tries twice per call: two failed calls, then the third call succeeds.
    queue.fail_deletes(first, 4);
    let url = queue.serve().await;
    let seen = Seen::default();
    let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;

    seen.wait_for(|seen| seen == ["once", "next"]).await;
    queue.wait_empty().await;
    poller.stop().await;

    assert_eq!(seen.texts(), ["once", "next"]);
    assert_eq!(queue.delete_attempts(first), 5);
    assert_eq!(queue.deleted(), HashMap::from([(first, 1), (second, 1)]));
}

#[tokio::test]
async fn a_delete_refused_with_400_is_given_up_after_a_bound_and_polling_goes_on() {
    let queue = MockQueue::default();
    let stuck = queue.push(incoming_text(ANNA, "A1", "stuck"));
    queue.refuse_deletes(stuck, true);
    let url = queue.serve().await;
    let seen = Seen::default();
    let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;

    // The poller receives again only once it gave the refused delete up.
    wait_until("a receive after the refused deletes", || {
        queue.receives() >= 2
    })
    .await;
    assert!(
        queue.delete_attempts(stuck) >= 5,
        "given up after the bound"
    );
    assert!(!poller.task.is_finished(), "the poller is still running");

    queue.refuse_deletes(stuck, false);
    let next = queue.push(incoming_text(ANNA, "A2", "next"));
    seen.wait_for(|seen| seen == ["stuck", "next"]).await;
    queue.wait_empty().await;
    poller.stop().await;
    assert_eq!(queue.deleted().get(&next), Some(&1));
}

#[tokio::test]
async fn receives_answered_with_500_are_retried() {
    let queue = MockQueue::default();
    queue.push(incoming_text(ANNA, "A1", "after the errors"));
    queue.fail_receives(5);
    let url = queue.serve().await;
    let seen = Seen::default();
    let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;

    seen.wait_for(|seen| seen == ["after the errors"]).await;
    queue.wait_empty().await;
    poller.stop().await;
    assert!(queue.receives() >= 6);
}

#[tokio::test]
async fn a_poller_survives_the_largest_retry_after_and_goes_on() {
    let queue = MockQueue::default();
    let receipt = queue.push(incoming_text(ANNA, "A1", "after the 429"));
    queue.rate_limit_receives(1);
    let url = queue.serve().await;
    let seen = Seen::default();
    let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;

    seen.wait_for(|seen| seen == ["after the 429"]).await;
    queue.wait_empty().await;
    assert!(!poller.task.is_finished(), "the poller is still running");
    poller.stop().await;
    assert_eq!(queue.deleted(), HashMap::from([(receipt, 1)]));
}

#[tokio::test]
async fn intake_survives_a_gateway_outage_and_resumes() {
    // A port with nothing listening on it: every call is refused until the gateway is back.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{address}");
    let seen = Seen::default();
    let poller = Running::start(client(&url, RetryPolicy::none()), recording(&seen)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !poller.task.is_finished(),
        "the poller gave up during the outage"
    );

    let queue = MockQueue::default();
    let receipt = queue.push(incoming_text(ANNA, "A1", "back again"));
    queue.serve_on(TcpListener::bind(address).await.unwrap());

    seen.wait_for(|seen| seen == ["back again"]).await;
    queue.wait_empty().await;
    poller.stop().await;
    assert_eq!(queue.deleted(), HashMap::from([(receipt, 1)]));
}

#[tokio::test]
async fn a_body_that_is_not_a_notification_is_deleted_and_the_queue_goes_on() {
    let queue = MockQueue::default();
    let junk = queue.push(json!("not an object"));
    let good = queue.push(incoming_text(ANNA, "A1", "after the junk"));
    let url = queue.serve().await;
    let seen = Seen::default();
    let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;

    seen.wait_for(|seen| seen == ["after the junk"]).await;
    queue.wait_empty().await;
    poller.stop().await;
    assert_eq!(seen.events().len(), 1);
    assert_eq!(queue.deleted(), HashMap::from([(junk, 1), (good, 1)]));
}

#[tokio::test]
async fn a_duplicate_in_the_queue_is_handled_once_and_both_copies_deleted() {
    let queue = MockQueue::default();
    let copy = incoming_text(ANNA, "SAME", "said once");
    let receipts = [
        queue.push(copy.clone()),
        queue.push(copy),
        queue.push(incoming_text(ANNA, "OTHER", "said after")),
    ];
    let url = queue.serve().await;
    let seen = Seen::default();
    let poller = Running::start(client(&url, fast_retry()), recording(&seen)).await;

    seen.wait_for(|seen| seen == ["said once", "said after"])
        .await;
    queue.wait_empty().await;
    poller.stop().await;
    assert_eq!(seen.texts(), ["said once", "said after"]);
    assert_eq!(
        queue.deleted(),
        HashMap::from(receipts.map(|receipt| (receipt, 1)))
    );
}

// ---- bots that poll ----

#[tokio::test]
async fn a_polling_bot_serves_health_but_no_webhook() {
    let queue = MockQueue::default();
    let url = queue.serve().await;
    let bot = Bot::builder(Router::<()>::new())
        .gateway(client(&url, fast_retry()))
        .intake(Intake::Polling(quick_polling()))
        .build()
        .unwrap();
    let server = Server::start(bot).await;

    let health = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let posted = server
        .post(
            "/webhook",
            common::body(&incoming_text(ANNA, "A1", "pushed")),
            None,
        )
        .await;
    assert_eq!(posted, StatusCode::NOT_FOUND);
    server.stop().await.unwrap().unwrap();
}

#[tokio::test]
async fn polling_a_gateway_without_a_queue_is_refused_with_the_reason() {
    let gateway = ZApi::builder("https://api.z-api.io", "ABC123", "tok")
        .build()
        .unwrap();
    let error = Bot::builder(Router::<()>::new())
        .gateway(gateway)
        .intake(Intake::polling())
        .build()
        .err()
        .expect("a Z-API bot cannot poll");
    assert!(
        matches!(&error, Error::Config { variable: "HOOKBOT_INTAKE", reason } if reason.contains("zapi")),
        "{error}"
    );
}

#[tokio::test]
async fn a_bot_polls_the_sandbox_in_order_and_leaves_its_queue_empty() {
    let mut bot = TestBot::builder()
        .polling()
        .start(Router::new().route(filter::incoming(), echo), ())
        .await;
    for text in ["one", "two", "three"] {
        bot.send(ANNA, text).await;
    }
    let replies = bot.replies(ANNA, 3).await;
    let texts: Vec<&str> = replies.iter().map(common::text).collect();
    assert_eq!(texts, ["one", "two", "three"]);
    wait_until("the sandbox queue to empty", || bot.sandbox().queued() == 0).await;
    bot.expect_no_reply(ANNA, Duration::from_millis(200)).await;
    assert_eq!(bot.stop().await, DrainReport::default());
}

#[tokio::test]
async fn a_failing_handler_does_not_block_the_sandbox_queue() {
    let router = Router::new()
        .route(filter::text("fail"), failing)
        .route(filter::incoming(), echo);
    let mut bot = TestBot::builder().polling().start(router, ()).await;
    bot.send(ANNA, "fail").await;
    bot.send(ANNA, "fine").await;
    bot.send(IVAN, "also fine").await;
    assert_eq!(common::text(&bot.reply(ANNA).await), "fine");
    assert_eq!(common::text(&bot.reply(IVAN).await), "also fine");
    wait_until("the sandbox queue to empty", || bot.sandbox().queued() == 0).await;
    bot.stop().await;
}

#[tokio::test]
async fn shutdown_abandons_a_long_poll_in_flight() {
    let settings = PollingSettings::new()
        .receive_timeout(Duration::from_secs(60))
        .backoff(Duration::from_millis(5), Duration::from_millis(50));
    let bot = TestBot::builder()
        .polling_with(settings)
        .start(Router::new().route(filter::incoming(), echo), ())
        .await;
    // Let the first long poll reach the (empty) sandbox queue.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let report = tokio::time::timeout(Duration::from_secs(15), bot.stop())
        .await
        .expect("a 60 s long poll does not hold the shutdown");
    assert_eq!(report.unfinished, 0);
}

#[tokio::test]
async fn nothing_is_lost_or_doubled_when_the_bot_restarts_mid_queue() {
    let sandbox = Sandbox::builder().build();
    let receives = Arc::new(AtomicUsize::new(0));
    let url = common::serve(counting_receives(sandbox.router(), receives.clone())).await;
    let texts: Vec<String> = (1..=6).map(|n| format!("message {n}")).collect();
    for text in &texts {
        sandbox
            .send(UserMessage::text(ANNA, text.as_str()))
            .await
            .unwrap();
    }
    let seen = Seen::default();
    let start = |permits: usize| {
        let gateway = sandbox_client(&sandbox, &url);
        let state = Gated {
            seen: seen.clone(),
            gate: Arc::new(Semaphore::new(permits)),
        };
        let bot = Bot::builder(Router::new().route(filter::incoming(), gated_handler))
            .state(state.clone())
            .gateway(gateway)
            .intake(Intake::Polling(quick_polling()))
            .dispatch(DispatchSettings::new().capacity(1))
            .build()
            .unwrap();
        (bot, state.gate)
    };

    // The first bot handles three messages, is stuck on the fourth, and so refuses the fifth.
    let (bot, gate) = start(3);
    let first = Server::start(bot).await;
    seen.wait_for(|seen| seen.len() == 4).await;
    let polled = receives.load(Ordering::SeqCst);
    wait_until("the fifth message to be received and refused", || {
        receives.load(Ordering::SeqCst) >= polled + 2
    })
    .await;
    assert_eq!(
        sandbox.queued(),
        2,
        "the refused fifth message and the sixth stay in the queue"
    );
    let stopping = first.stop();
    gate.add_permits(100);
    let report = stopping.await.unwrap().unwrap();
    assert_eq!(report.unfinished, 0);

    // A new bot (with a fresh, empty dedupe store) on the same queue.
    let (bot, _gate) = start(100);
    let second = Server::start(bot).await;
    wait_until("the sandbox queue to empty", || sandbox.queued() == 0).await;
    second.stop().await.unwrap().unwrap();

    assert_eq!(
        seen.texts(),
        texts,
        "every message handled exactly once, in order"
    );
    let answered: Vec<_> = sandbox
        .history(&ChatId::from(ANNA))
        .into_iter()
        .filter(|entry| matches!(entry.author, Author::Bot))
        .collect();
    assert!(answered.is_empty(), "the gated handler does not reply");
}

#[tokio::test]
async fn a_sandboxed_bot_that_polls_leaves_the_sandbox_without_a_webhook() {
    let settings_of = |sandbox: &Sandbox, url: &str| {
        format!(
            "{url}/waInstance{}/getSettings/{}",
            sandbox.instance(),
            sandbox.token().expose()
        )
    };
    for (polling, expect_webhook) in [(false, true), (true, false)] {
        let mut builder = Bot::builder(Router::<()>::new()).listen("127.0.0.1:0".parse().unwrap());
        if polling {
            builder = builder.intake(Intake::Polling(quick_polling()));
        }
        let bot = builder.build().unwrap();
        let sandbox = bot.sandbox().expect("sandbox mode").clone();
        let url = common::serve(sandbox.router()).await;
        let settings: Value = reqwest::get(settings_of(&sandbox, &url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let webhook = settings["webhookUrl"].as_str().unwrap();
        assert_eq!(
            !webhook.is_empty(),
            expect_webhook,
            "polling {polling}: {webhook:?}"
        );
    }
}
