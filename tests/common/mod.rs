//! What the tests share: fixed credentials, clients pointed at a mock server with fast retries
//! and no client-side rate limits, and the requests the mock received; bots on a free local
//! port talked to over real HTTP, the handlers that record what they saw, and the sandbox's
//! texts.

// Each test file uses its own part of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookbot::bot::{BotBuilder, NoState};
use hookbot::dispatch::DrainReport;
use hookbot::gateway::{
    ClientSettings, Gateway, GatewayKind, GreenApi, RateLimits, RetryPolicy, ZApi,
};
use hookbot::instance::Instance;
use hookbot::sandbox::ChatEntry;
use hookbot::{Bot, BoxError, Context, Event, Router};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// GREEN-API `idInstance`.
pub const INSTANCE: &str = "1101000001";
/// GREEN-API `apiTokenInstance`, and the Z-API instance token.
pub const TOKEN: &str = "d75b3a66374942c5b3c019c698abc2067e151558acbd412345";
/// Z-API instance id.
pub const ZAPI_INSTANCE: &str = "3C4A1B2C3D4E5F6A7B8C9D0E1F2A3B4C";
/// Z-API account `Client-Token`.
pub const CLIENT_TOKEN: &str = "F7c2e9a41b5d3e8f6a0c4b2d9e1f7a3c5S";
/// Attempts the test clients make before giving up on a retryable failure.
pub const MAX_ATTEMPTS: usize = 3;

/// Three attempts a few milliseconds apart, no client-side rate limits.
pub fn fast_settings() -> ClientSettings {
    ClientSettings::new()
        .retry(
            RetryPolicy::new()
                .max_attempts(MAX_ATTEMPTS as u32)
                .initial_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5)),
        )
        .rate_limits(RateLimits::unlimited())
}

/// A GREEN-API WhatsApp client of [`INSTANCE`] at `uri`.
pub fn whatsapp(uri: &str) -> GreenApi {
    GreenApi::whatsapp(uri, INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid WhatsApp client")
}

/// A GREEN-API MAX client of [`INSTANCE`] at `uri`.
pub fn max(uri: &str) -> GreenApi {
    GreenApi::max(uri, INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid MAX client")
}

/// A GREEN-API Telegram client of [`INSTANCE`] at `uri`.
pub fn telegram(uri: &str) -> GreenApi {
    GreenApi::telegram(uri, INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid Telegram client")
}

/// A Z-API client of [`ZAPI_INSTANCE`] at `uri`, without a client token.
pub fn zapi(uri: &str) -> ZApi {
    ZApi::builder(uri, ZAPI_INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid Z-API client")
}

/// A Z-API client of [`ZAPI_INSTANCE`] at `uri` that sends [`CLIENT_TOKEN`].
pub fn zapi_with_client_token(uri: &str) -> ZApi {
    ZApi::builder(uri, ZAPI_INSTANCE, TOKEN)
        .client_token(CLIENT_TOKEN)
        .settings(fast_settings())
        .build()
        .expect("a valid Z-API client")
}

/// `/waInstance{id}/{method}/{token}`.
pub fn whatsapp_path(method: &str) -> String {
    format!("/waInstance{INSTANCE}/{method}/{TOKEN}")
}

/// `/waInstance{id}/{method}/{token}`: Telegram's paths are WhatsApp's.
pub fn telegram_path(method: &str) -> String {
    whatsapp_path(method)
}

/// `/v3/waInstance{id}/{method}/{token}`.
pub fn max_path(method: &str) -> String {
    format!("/v3/waInstance{INSTANCE}/{method}/{TOKEN}")
}

/// `/instances/{id}/token/{token}/{method}`.
pub fn zapi_path(method: &str) -> String {
    format!("/instances/{ZAPI_INSTANCE}/token/{TOKEN}/{method}")
}

/// A mock server that answers every request with `status` and the JSON `body`.
pub async fn server_answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

/// Every request the mock received, in order.
pub async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

/// The one request the mock received; fails if it received another number.
pub async fn only_request(server: &MockServer) -> Request {
    let mut received = requests(server).await;
    assert_eq!(received.len(), 1, "expected exactly one request");
    received.remove(0)
}

/// Fails unless the mock received no request at all.
pub async fn assert_nothing_sent(server: &MockServer) {
    let received = requests(server).await;
    assert!(
        received.is_empty(),
        "expected no request, got {}: {:?}",
        received.len(),
        received.iter().map(|r| r.url.path()).collect::<Vec<_>>()
    );
}

/// Asserts a JSON POST to exactly `path`, without a query, whose body is exactly `body`.
pub fn assert_json_post(request: &Request, path: &str, body: Value) {
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), path);
    assert_eq!(request.url.query(), None);
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/json")
    );
    let sent: Value = serde_json::from_slice(&request.body).expect("the body is JSON");
    assert_eq!(sent, body);
}

/// Asserts a GET of exactly `path` with exactly `query` and no body.
pub fn assert_get(request: &Request, path: &str, query: Option<&str>) {
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), path);
    assert_eq!(request.url.query(), query);
    assert!(request.body.is_empty(), "a GET carries no body");
}

/// A mock that answers every request with `template`.
pub async fn server_with(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

/// Serves `router` on a free local port; its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// The text of a sandbox chat entry; fails on any other content.
pub fn text(entry: &ChatEntry) -> &str {
    entry
        .text()
        .unwrap_or_else(|| panic!("expected a text, got {:?}", entry.content))
}

// ---- bots on a free local port ----

/// A receiver serving on a local port until [`stop`](Server::stop).
pub struct Server {
    pub url: String,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<hookbot::Result<DrainReport>>,
}

impl Server {
    /// Serves `bot` until stopped.
    pub async fn start(bot: Bot) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(bot.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self { url, stop, serving }
    }

    /// Posts `body` to `path` with `Authorization: Bearer <token>` when a token is given.
    pub async fn post(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        token: Option<&str>,
    ) -> StatusCode {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().status()
    }

    /// Starts the shutdown; await the handle for the drain's report.
    pub fn stop(self) -> JoinHandle<hookbot::Result<DrainReport>> {
        self.stop.send(()).unwrap();
        self.serving
    }
}

/// The events a test handler saw, in the order it saw them.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<Event>>>);

impl Seen {
    pub fn push(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }

    /// The texts of the messages seen so far.
    pub fn texts(&self) -> Vec<String> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter_map(|event| Some(event.message()?.text()?.to_owned()))
            .collect()
    }

    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until `done` holds for the texts seen.
    pub async fn wait_for(&self, done: impl Fn(&[String]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(&self.texts()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out; seen {:?}",
                self.texts()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A router whose one handler runs `handle` on every event.
pub fn on_every_event<F, Fut, E>(handle: F) -> Router
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    let handle = Arc::new(handle);
    Router::new().fallback(move |cx: Context| {
        let handle = handle.clone();
        async move { handle(cx.event().clone()).await }
    })
}

/// A router whose one handler records every event.
pub fn recording(seen: &Seen) -> Router {
    let seen = seen.clone();
    on_every_event(move |event| {
        seen.push(event);
        async { Ok::<_, std::convert::Infallible>(()) }
    })
}

/// A router whose one handler records each event, then waits for a permit of `gate`.
pub fn gated(seen: &Seen, gate: &Arc<Semaphore>) -> Router {
    let (seen, gate) = (seen.clone(), gate.clone());
    on_every_event(move |event| {
        seen.push(event);
        let gate = gate.clone();
        async move {
            gate.acquire().await?.forget();
            Ok::<_, tokio::sync::AcquireError>(())
        }
    })
}

/// An instance of `kind` (id 1101000001) whose client points at a closed local port: for bots
/// whose handlers send nothing.
pub fn offline(kind: GatewayKind) -> Instance {
    const NOWHERE: &str = "http://127.0.0.1:9";
    let gateway: Arc<dyn Gateway> = match kind {
        GatewayKind::ZApi => Arc::new(
            ZApi::builder(NOWHERE, "1101000001", "token")
                .build()
                .unwrap(),
        ),
        GatewayKind::GreenApiMax => Arc::new(
            GreenApi::max(NOWHERE, "1101000001", "token")
                .build()
                .unwrap(),
        ),
        GatewayKind::GreenApiTelegram => Arc::new(
            GreenApi::telegram(NOWHERE, "1101000001", "token")
                .build()
                .unwrap(),
        ),
        _ => Arc::new(
            GreenApi::whatsapp(NOWHERE, "1101000001", "token")
                .build()
                .unwrap(),
        ),
    };
    Instance::new(gateway)
}

/// A bot of `router` serving an [`offline`] instance of `kind` whose webhook takes `token`.
pub fn offline_bot(kind: GatewayKind, router: Router, token: &str) -> BotBuilder<(), (), NoState> {
    Bot::builder(router)
        .instances(offline(kind))
        .webhook_token(token)
}

/// A GREEN-API `incomingMessageReceived` notification with a text message.
pub fn incoming_text(chat: &str, id: &str, text: &str) -> Value {
    json!({
        "typeWebhook": "incomingMessageReceived",
        "instanceData": {"idInstance": 1101000001, "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1588091580,
        "idMessage": id,
        "senderData": {"chatId": chat, "sender": chat, "chatName": "Tester", "senderName": "Tester"},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
    })
}

/// JSON bytes of `value`, to post.
pub fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// Log lines captured by [`capture_logs`], as written (no colours).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines `filter` (an `EnvFilter` directive: `"info"`, `"hookbot=warn"`) lets through,
/// written on this thread while the guard lives — so by the tasks of a current-thread test
/// runtime too.
pub fn capture_logs(filter: &str) -> (Logs, tracing::subscriber::DefaultGuard) {
    listen_everywhere();
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// Gives the process a global subscriber that listens to everything and writes nothing.
/// `tracing` caches per call site whether any subscriber listens, asked on the thread that
/// reaches the call site first: without a listener everywhere, a test that logs with no
/// subscriber of its own could mark a call site "never" for the whole process, and a test
/// capturing that line on another thread would miss it.
fn listen_everywhere() {
    static LISTENING: std::sync::Once = std::sync::Once::new();
    LISTENING.call_once(|| {
        // Another test of the file may have set a global subscriber: it listens too.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}
