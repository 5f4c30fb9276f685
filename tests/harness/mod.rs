//! Runs a webhook receiver or a whole bot on a free local port and talks to it over real HTTP.

// Each test file uses its own part of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookbot::Event;
use hookbot::bot::Bot;
use hookbot::dispatch::DrainReport;
use hookbot::webhook::Webhook;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A receiver serving on a local port until [`stop`](Server::stop).
pub struct Server {
    pub url: String,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<io::Result<DrainReport>>,
}

/// Resolves when the test stops the server.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Server {
    /// Serves `webhook` until stopped.
    pub async fn start(webhook: Webhook) -> Self {
        Self::serving(|listener, stop| webhook.serve(listener, stop)).await
    }

    /// Serves `bot` until stopped.
    pub async fn start_bot<S: Send + Sync + 'static>(bot: Bot<S>) -> Self {
        Self::serving(|listener, stop| bot.serve(listener, stop)).await
    }

    async fn serving<F, Fut>(serve: F) -> Self
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = io::Result<DrainReport>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(serve(
            listener,
            Box::pin(async move {
                let _ = stopped.await;
            }),
        ));
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

    /// Starts the shutdown; [`stopped`](Server::stopped) awaits its end.
    pub fn stop(self) -> JoinHandle<io::Result<DrainReport>> {
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
