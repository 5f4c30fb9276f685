//! Runs a bot on a free local port and talks to it over real HTTP.

// Each test file uses its own part of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookbot::bot::{BotBuilder, NoState};
use hookbot::dispatch::DrainReport;
use hookbot::gateway::{Gateway, GatewayKind, GreenApi, ZApi};
use hookbot::instance::Instance;
use hookbot::{Bot, BoxError, Context, Event, Router};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
