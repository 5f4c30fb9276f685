//! A bot on the embedded durable store, over real HTTP: what it acknowledged survives a
//! `SIGKILL` and is handled after the restart (each chat in order, twice only within the
//! documented window), a redelivery after the restart is still a duplicate, conversations go
//! on after a restart, a full store answers 503, and a bad data directory, a corrupt store or a
//! second bot on the same directory is refused at start with the path named.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use common::{Server, body, gated, incoming_text, offline_bot};
use hookbot::bot::Bot;
use hookbot::config::Config;
use hookbot::context::Context;
use hookbot::durable::{StoreError, StoreSettings};
use hookbot::filter;
use hookbot::gateway::{ClientSettings, GatewayKind, GreenApi, RateLimits, RetryPolicy};
use hookbot::router::Router;
use hookbot::store::Store;
use hookbot::testing::TestBot;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;
use tokio::time::Instant;

#[path = "../examples/conversation.rs"]
#[allow(dead_code)]
mod example;

const WEBHOOK_TOKEN: &str = "durable-webhook-token-7b1e";
const INSTANCE: &str = "1101000001";
const API_TOKEN: &str = "durable-api-token-4d8a";
const DATABASE: &str = "hookbot.sqlite3";
/// How long a test waits for what it expects before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Posts `notification` to `url`'s webhook with the bot's token.
async fn post_to(url: &str, notification: &Value) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{url}/webhook"))
        .bearer_auth(WEBHOOK_TOKEN)
        .header("content-type", "application/json")
        .body(body(notification))
        .send()
        .await
        .unwrap()
        .status()
}

/// Waits until `done` holds, failing after [`PATIENCE`].
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The [`StoreError`] behind `error`.
fn store_error(error: &hookbot::Error) -> &StoreError {
    let hookbot::Error::Storage { source } = error else {
        panic!("expected a storage error, got {error:?}");
    };
    source
        .downcast_ref::<StoreError>()
        .unwrap_or_else(|| panic!("expected a StoreError, got {source:?}"))
}

/// The store in `directory`, once the bot that held it let it go (a stopped bot's store
/// closes when its last handler task ends).
async fn reopened(directory: &Path) -> Store {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match Store::durable(directory) {
            Ok(store) => return store,
            Err(error) if matches!(store_error(&error), StoreError::Locked { .. }) => {
                assert!(Instant::now() < deadline, "the store is never released");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("the store does not reopen: {error}"),
        }
    }
}

/// The configuration of a bot on a GREEN-API at `api_url`, with `vars` besides.
fn gateway_config(api_url: &str, vars: &[(&str, &str)]) -> hookbot::Result<Config> {
    let mut all: HashMap<String, String> = [
        ("HOOKBOT_GATEWAY", "green-api"),
        ("HOOKBOT_API_URL", api_url),
        ("HOOKBOT_INSTANCE", INSTANCE),
        ("HOOKBOT_TOKEN", API_TOKEN),
        ("HOOKBOT_WEBHOOK_TOKEN", WEBHOOK_TOKEN),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    all.extend(
        vars.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    Config::from_vars(|name| all.get(name).cloned())
}

fn quiet() -> Router {
    Router::new().fallback(|_: Context| async { Ok::<_, hookbot::Error>(()) })
}

// ---- a bot process killed and started again ----

/// What the mock GREEN-API received: `(chat, text)` of each sendMessage, in arrival order.
#[derive(Clone, Default)]
struct Sent(Arc<Mutex<Vec<(String, String)>>>);

impl Sent {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn texts(&self) -> Vec<String> {
        let sent = self.0.lock().unwrap();
        sent.iter().map(|(_, text)| text.clone()).collect()
    }

    fn by_chat(&self) -> HashMap<String, Vec<String>> {
        let mut by_chat: HashMap<String, Vec<String>> = HashMap::new();
        for (chat, text) in self.0.lock().unwrap().iter() {
            by_chat.entry(chat.clone()).or_default().push(text.clone());
        }
        by_chat
    }
}

/// A slow GREEN-API: records each sendMessage as it arrives, answers it after `delay`.
async fn slow_green_api(delay: Duration) -> (String, Sent) {
    async fn send_message(
        State((sent, delay)): State<(Sent, Duration)>,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        let chat = body["chatId"].as_str().unwrap_or_default().to_owned();
        let text = body["message"].as_str().unwrap_or_default().to_owned();
        let id = {
            let mut sent = sent.0.lock().unwrap();
            sent.push((chat, text));
            sent.len()
        };
        tokio::time::sleep(delay).await;
        Json(json!({"idMessage": format!("BOT{id}")}))
    }
    let sent = Sent::default();
    let app = axum::Router::new()
        .route("/{instance}/sendMessage/{token}", post(send_message))
        .with_state((sent.clone(), delay));
    (common::serve(app).await, sent)
}

/// A bot process: this test binary running [`durable_bot_process`].
struct BotProcess {
    url: String,
    process: Child,
}

impl BotProcess {
    /// Starts a bot on the store in `directory`, sending through the GREEN-API at `gateway`.
    async fn start(directory: &Path, gateway: &str) -> Self {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "durable_bot_process", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env("HOOKBOT_TEST_DURABLE_DIR", directory)
            .env("HOOKBOT_TEST_DURABLE_GATEWAY", gateway)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let url = loop {
            let line = tokio::time::timeout(PATIENCE, lines.next_line())
                .await
                .expect("the bot starts")
                .unwrap()
                .expect("the bot prints its address");
            // The test harness starts the line with the test's name.
            if let Some((_, url)) = line.split_once("BOT LISTENING ") {
                break url.trim().to_owned();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { url, process }
    }

    /// `SIGKILL`s the bot and waits until it is gone.
    async fn kill(mut self) {
        self.process.kill().await.unwrap();
    }
}

/// Run by the crash test in a child process (`HOOKBOT_TEST_DURABLE_DIR` set): a bot on the
/// durable store in that directory whose handler echoes each text through the mock gateway.
/// Serves until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a bot process that the crash test starts"]
async fn durable_bot_process() {
    let Ok(directory) = std::env::var("HOOKBOT_TEST_DURABLE_DIR") else {
        return;
    };
    let gateway_url = std::env::var("HOOKBOT_TEST_DURABLE_GATEWAY").unwrap();
    let settings = ClientSettings::new()
        .rate_limits(RateLimits::unlimited())
        .retry(RetryPolicy::new().initial_delay(Duration::from_millis(10)));
    let gateway = GreenApi::whatsapp(gateway_url, INSTANCE, API_TOKEN)
        .settings(settings)
        .build()
        .unwrap();
    let router = Router::new().route(filter::incoming(), |cx: Context| async move {
        let text = cx.text().unwrap_or_default().to_owned();
        cx.reply(text).await.map(drop)
    });
    let bot = Bot::builder(router)
        .gateway(gateway)
        .webhook_token(WEBHOOK_TOKEN)
        .store(Store::durable(directory).unwrap())
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("BOT LISTENING http://{}", listener.local_addr().unwrap());
    bot.serve(listener, std::future::pending()).await.unwrap();
}

/// The `n`th test chat.
fn chat(n: usize) -> String {
    format!("7900000{n:04}@c.us")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_is_handled_after_a_kill_each_chat_in_order() {
    const CHATS: usize = 4;
    const PER_CHAT: usize = 15;
    let directory = tempfile::tempdir().unwrap();
    // Each send takes 200 ms: a chat's fifteen replies take three seconds, so most are
    // still waiting when the bot is killed right after the last 200.
    let (gateway, sent) = slow_green_api(Duration::from_millis(200)).await;
    let notification =
        |n: usize, m: usize| incoming_text(&chat(n), &format!("M{n}-{m}"), &format!("{n}-{m}"));

    let first = BotProcess::start(directory.path(), &gateway).await;
    for m in 0..PER_CHAT {
        for n in 0..CHATS {
            assert_eq!(
                post_to(&first.url, &notification(n, m)).await,
                StatusCode::OK
            );
        }
    }
    first.kill().await;
    let before_restart = sent.len();
    assert!(
        before_restart < CHATS * PER_CHAT,
        "the kill left nothing to recover ({before_restart} sent)"
    );

    let second = BotProcess::start(directory.path(), &gateway).await;
    eventually("every acknowledged event handled", async || {
        let texts = sent.texts();
        (0..CHATS).all(|n| (0..PER_CHAT).all(|m| texts.contains(&format!("{n}-{m}"))))
    })
    .await;

    // A redelivery of a notification accepted before the kill is still a duplicate: it is
    // acknowledged, and the chat's next message is answered without it coming first.
    let chat_sent = sent.by_chat()[&chat(0)].len();
    assert_eq!(
        post_to(&second.url, &notification(0, 0)).await,
        StatusCode::OK
    );
    assert_eq!(
        post_to(&second.url, &notification(0, PER_CHAT)).await,
        StatusCode::OK
    );
    let last = format!("0-{PER_CHAT}");
    eventually("the next message answered", async || {
        sent.texts().contains(&last)
    })
    .await;
    second.kill().await;

    let by_chat = sent.by_chat();
    let mut twice = 0;
    for n in 0..CHATS {
        let texts = &by_chat[&chat(n)];
        let mut firsts: Vec<&String> = Vec::new();
        for text in texts {
            if firsts.contains(&text) {
                twice += 1;
            } else {
                firsts.push(text);
            }
        }
        let expected: Vec<String> = (0..PER_CHAT).map(|m| format!("{n}-{m}")).collect();
        let in_order: Vec<&String> = firsts.iter().copied().take(PER_CHAT).collect();
        assert_eq!(
            in_order,
            expected.iter().collect::<Vec<_>>(),
            "chat {n} in order"
        );
        if n == 0 {
            assert_eq!(
                texts.len(),
                chat_sent + 1,
                "the redelivery is not handled again"
            );
        }
    }
    println!("{before_restart} replies sent before the kill; {twice} sent twice");
    // The window: a reply the mock received whose handler had not finished (at most one per
    // chat), or had finished without its deletion committed, when the process died.
    assert!(
        twice <= 2 * CHATS,
        "{twice} replies sent twice: more than the window allows"
    );
}

// ---- restarts, bounds and bad conditions in one process ----

#[tokio::test]
async fn conversations_in_the_durable_store_go_on_after_a_restart() {
    const VASILISA: &str = "79001234567@c.us";
    let directory = tempfile::tempdir().unwrap();
    let store = Store::durable(directory.path()).unwrap();
    let mut bot = TestBot::builder()
        .start_configured(example::router(), (), |bot| bot.store(store))
        .await;
    bot.send(VASILISA, "card").await;
    assert!(common::text(&bot.reply(VASILISA).await).starts_with("Whose card"));
    bot.stop().await;

    let store = reopened(directory.path()).await;
    let mut bot = TestBot::builder()
        .start_configured(example::router(), (), |bot| bot.store(store))
        .await;
    bot.send(VASILISA, "Ivan Petrov").await;
    assert_eq!(
        common::text(&bot.reply(VASILISA).await),
        "The phone number of Ivan Petrov, with the country code?"
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_full_store_answers_503_until_a_handled_event_makes_room() {
    let directory = tempfile::tempdir().unwrap();
    let seen = common::Seen::default();
    let gate = Arc::new(Semaphore::new(0));
    let store = Store::durable_with(directory.path(), StoreSettings::new().max_events(2)).unwrap();
    let bot = offline_bot(
        GatewayKind::GreenApiWhatsApp,
        gated(&seen, &gate),
        WEBHOOK_TOKEN,
    )
    .store(store)
    .build()
    .unwrap();
    let server = Server::start(bot).await;
    let third = incoming_text("79001234567@c.us", "M3", "three");
    for (id, text) in [("M1", "one"), ("M2", "two")] {
        let notification = incoming_text("79001234567@c.us", id, text);
        assert_eq!(post_to(&server.url, &notification).await, StatusCode::OK);
    }
    assert_eq!(
        post_to(&server.url, &third).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "a full store refuses, it drops nothing"
    );

    gate.add_permits(2);
    eventually("the refused notification accepted", async || {
        post_to(&server.url, &third).await == StatusCode::OK
    })
    .await;
    gate.add_permits(1);
    seen.wait_for(|texts| texts == ["one", "two", "three"])
        .await;
    server.stop().await.unwrap().unwrap();
}

#[tokio::test]
async fn a_bot_on_a_real_gateway_keeps_its_store_in_the_data_directory_and_a_second_is_refused() {
    let parent = tempfile::tempdir().unwrap();
    let directory = parent.path().join("card-bot-data");
    let data_dir = directory.to_str().unwrap();
    let config = || gateway_config("http://127.0.0.1:9", &[("HOOKBOT_DATA_DIR", data_dir)]);

    let first = Bot::builder(quiet()).config(config().unwrap()).unwrap();
    assert!(
        directory.join(DATABASE).is_file(),
        "the store is created at start"
    );

    let error = Bot::builder(quiet())
        .config(config().unwrap())
        .err()
        .expect("refused");
    assert!(matches!(store_error(&error), StoreError::Locked { .. }));
    let message = error.to_string();
    assert!(
        message.contains(data_dir) && message.contains("in use by another bot"),
        "{message}"
    );
    drop(first);

    // With HOOKBOT_STORE=memory, or on the sandbox, nothing is written.
    let elsewhere = parent.path().join("memory");
    let memory = elsewhere.to_str().unwrap();
    let vars = [("HOOKBOT_DATA_DIR", memory), ("HOOKBOT_STORE", "memory")];
    let _memory = Bot::builder(quiet())
        .config(gateway_config("http://127.0.0.1:9", &vars).unwrap())
        .unwrap();
    let sandbox = Config::from_vars(|name| (name == "HOOKBOT_DATA_DIR").then(|| memory.to_owned()));
    let _sandbox = Bot::builder(quiet()).config(sandbox.unwrap()).unwrap();
    assert!(
        !elsewhere.exists(),
        "a memory store writes no data directory"
    );
}

#[tokio::test]
async fn a_data_directory_that_cannot_be_created_is_refused_at_start_with_its_path() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let directory = file.join("data");
    let vars = [("HOOKBOT_DATA_DIR", directory.to_str().unwrap())];

    let error = Bot::builder(quiet())
        .config(gateway_config("http://127.0.0.1:9", &vars).unwrap())
        .err()
        .expect("refused");
    assert!(matches!(
        store_error(&error),
        StoreError::CreateDirectory { .. }
    ));
    let message = error.to_string();
    assert!(message.contains(directory.to_str().unwrap()), "{message}");
}

#[tokio::test]
async fn a_corrupt_store_is_refused_at_start_with_its_path() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join(DATABASE);
    std::fs::write(&database, vec![0x5a; 8192]).unwrap();
    let vars = [("HOOKBOT_DATA_DIR", directory.path().to_str().unwrap())];

    let error = Bot::builder(quiet())
        .config(gateway_config("http://127.0.0.1:9", &vars).unwrap())
        .err()
        .expect("refused");
    assert!(matches!(store_error(&error), StoreError::Corrupt { .. }));
    let message = error.to_string();
    assert!(message.contains(database.to_str().unwrap()), "{message}");
}
