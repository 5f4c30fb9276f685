//! The front door of a bot on the open internet, over real HTTP: no anonymous webhook on a real
//! gateway (a binary refuses to start, the opt-out warns), half-sent requests and idle
//! connections cut off while `/healthz` answers, a stopping server that answers the request in
//! hand and closes every connection (cutting one past its grace), one flooding chat refused
//! while another is served, a handler past its deadline cancelled and reported while its chat moves on, the
//! largest `Retry-After` on a reply leaving the bot running, and a sandbox that takes no
//! cross-site writes. Arbitrary bytes and JSON posted to the webhook never break it.

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{
    Seen, Server, body, capture_logs, gated, incoming_text, offline, offline_bot, on_every_event,
};
use hookbot::config::Config;
use hookbot::dispatch::{DispatchSettings, FailureCause, HandlerFailure};
use hookbot::gateway::GatewayKind;
use hookbot::instance::Instance;
use hookbot::intake::Intake;
use hookbot::sandbox::Sandbox;
use hookbot::server::ServerSettings;
use hookbot::{Bot, Context, Error, Event, Router};
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use wiremock::ResponseTemplate;

const HOOK: &str = "front-door-webhook-token";
const ANNA: &str = "70000000001@c.us";
const BORIS: &str = "70000000002@c.us";

/// Posts a notification with the webhook token; the status and the answer's text.
async fn post(url: &str, notification: &Value) -> (StatusCode, String) {
    let answer = reqwest::Client::new()
        .post(format!("{url}/webhook"))
        .bearer_auth(HOOK)
        .header("content-type", "application/json")
        .body(body(notification))
        .send()
        .await
        .unwrap();
    (answer.status(), answer.text().await.unwrap())
}

async fn health(url: &str) -> StatusCode {
    reqwest::get(format!("{url}/healthz"))
        .await
        .unwrap()
        .status()
}

/// A router with no routes and no state.
fn plain() -> Router {
    Router::new()
}

/// The configuration error of a failed build.
fn config_error(built: hookbot::Result<Bot>) -> (&'static str, String) {
    match built {
        Err(Error::Config { variable, reason }) => (variable, reason),
        Err(other) => panic!("not a configuration error: {other}"),
        Ok(_) => panic!("the bot was built"),
    }
}

// ---- no anonymous webhooks ----

#[tokio::test]
async fn a_webhook_on_a_real_gateway_without_a_token_is_refused_with_how_to_set_one() {
    let green_api = Bot::builder(plain())
        .instances(offline(GatewayKind::GreenApiWhatsApp))
        .build();
    let (variable, reason) = config_error(green_api);
    assert_eq!(variable, "HOOKBOT_WEBHOOK_TOKEN");
    assert!(reason.contains("webhookUrlToken"), "{reason}");
    assert!(
        reason.contains("HOOKBOT_ALLOW_ANONYMOUS_WEBHOOK"),
        "{reason}"
    );

    let zapi = Bot::builder(plain())
        .instances(offline(GatewayKind::ZApi))
        .build();
    let (variable, reason) = config_error(zapi);
    assert_eq!(variable, "HOOKBOT_WEBHOOK_TOKEN");
    assert!(reason.contains("/webhook/<token>"), "{reason}");
}

#[tokio::test]
async fn an_instances_file_entry_without_a_webhook_token_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("instances.toml");
    std::fs::write(
        &file,
        r#"
[[instance]]
gateway = "green-api"
url = "http://127.0.0.1:9"
id = "1101000001"
token = "api-token-one"
webhook_token = "hook-secret-one"

[[instance]]
name = "support"
gateway = "green-api-max"
url = "http://127.0.0.1:9"
id = "3100000002"
token = "api-token-two"
"#,
    )
    .unwrap();
    let path = file.to_str().unwrap().to_owned();
    let config = Config::from_vars(|name| match name {
        "HOOKBOT_INSTANCES" => Some(path.clone()),
        "HOOKBOT_STORE" => Some("memory".to_owned()),
        _ => None,
    });
    let built = Bot::builder(plain())
        .config(config.unwrap())
        .unwrap()
        .build();
    let (variable, reason) = config_error(built);
    assert_eq!(variable, "HOOKBOT_INSTANCES");
    assert!(reason.contains("instance 2 (\"support\""), "{reason}");
    assert!(reason.contains("`webhook_token` is required"), "{reason}");
    assert!(!reason.contains("api-token") && !reason.contains("hook-secret"));
}

#[tokio::test]
async fn a_polling_bot_needs_no_webhook_token() {
    let built = Bot::builder(plain())
        .instances(offline(GatewayKind::GreenApiWhatsApp))
        .intake(Intake::polling())
        .build();
    assert!(built.is_ok());
}

/// The variables of a GREEN-API bot whose gateway is nowhere, and no webhook token; it keeps
/// its store in memory (no data directory in the working directory).
fn anonymous_vars(name: &str) -> Option<String> {
    let value = match name {
        "HOOKBOT_GATEWAY" => "green-api",
        "HOOKBOT_STORE" => "memory",
        "HOOKBOT_API_URL" => "http://127.0.0.1:9",
        "HOOKBOT_INSTANCE" => "1101000001",
        "HOOKBOT_TOKEN" => "api-token-secret",
        "HOOKBOT_LISTEN" => "127.0.0.1:0",
        _ => return None,
    };
    Some(value.to_owned())
}

#[test]
fn a_bot_binary_without_a_webhook_token_does_not_start() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_echo-bot"))
        .env_clear()
        .envs(
            [
                "HOOKBOT_GATEWAY",
                "HOOKBOT_API_URL",
                "HOOKBOT_INSTANCE",
                "HOOKBOT_TOKEN",
                "HOOKBOT_LISTEN",
            ]
            .map(|name| (name, anonymous_vars(name).unwrap())),
        )
        .env("HOOKBOT_STORE", "memory")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the bot started without a webhook token");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(!status.success());
    assert!(printed.contains("HOOKBOT_WEBHOOK_TOKEN"), "{printed}");
    assert!(!printed.contains("api-token-secret"), "{printed}");
}

#[tokio::test]
async fn the_loud_opt_out_serves_an_anonymous_webhook_and_warns() {
    let (allowed, refused) = (
        |name: &str| match name {
            "HOOKBOT_ALLOW_ANONYMOUS_WEBHOOK" => Some("yes-i-understand".to_owned()),
            other => anonymous_vars(other),
        },
        |name: &str| match name {
            "HOOKBOT_ALLOW_ANONYMOUS_WEBHOOK" => Some("yes".to_owned()),
            other => anonymous_vars(other),
        },
    );
    let Err(Error::Config { variable, .. }) = Config::from_vars(refused) else {
        panic!("only the loud value opts out");
    };
    assert_eq!(variable, "HOOKBOT_ALLOW_ANONYMOUS_WEBHOOK");

    let (captured, guard) = capture_logs("hookbot=warn");
    let bot = Bot::builder(plain())
        .config(Config::from_vars(allowed).unwrap())
        .unwrap()
        .build()
        .unwrap();
    drop(guard);
    let logs = captured.text();
    assert!(
        logs.contains("WARN") && logs.contains("ANONYMOUS WEBHOOK"),
        "{logs}"
    );

    let server = Server::start(bot).await;
    let status = server
        .post("/webhook", body(&incoming_text(ANNA, "A1", "hi")), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await.unwrap().unwrap();
}

// ---- slow and idle peers ----

/// Reads until the server closes the connection (or resets it); what it answered. Fails if the
/// connection is still open after `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut answer = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut answer)).await {
        Ok(_) => answer,
        Err(_) => panic!("the connection is still open after {within:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_half_sent_and_idle_connections_are_closed_while_healthz_answers() {
    let deadline = Duration::from_millis(500);
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, plain(), HOOK).server(
        ServerSettings::new()
            .header_read_timeout(deadline)
            .body_timeout(deadline),
    );
    let server = Server::start(bot.build().unwrap()).await;
    let address = server.url.trim_start_matches("http://").to_owned();

    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(TcpStream::connect(&address).await.unwrap());
    }
    let mut half_headers = Vec::new();
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"POST /webhook HTTP/1.1\r\nHost: bot\r\nContent-Le")
            .await
            .unwrap();
        half_headers.push(stream);
    }
    let mut half_bodies = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /webhook HTTP/1.1\r\nHost: bot\r\nAuthorization: Bearer {HOOK}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"typeWebhook\""
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        half_bodies.push(stream);
    }
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
        .await
        .unwrap();

    assert_eq!(health(&server.url).await, StatusCode::OK);

    // Ten times the configured deadline, and well below the defaults.
    let within = Duration::from_secs(5);
    for stream in silent.iter_mut().chain(&mut half_headers) {
        closed_by_server(stream, within).await;
    }
    for stream in &mut half_bodies {
        let answer = closed_by_server(stream, within).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let answer = closed_by_server(&mut idle, within).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "one answer, then closed"
    );
    assert_eq!(health(&server.url).await, StatusCode::OK);
    server.stop().await.unwrap().unwrap();
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, plain(), HOOK).server(
        ServerSettings::new()
            .max_connections(1)
            .header_read_timeout(Duration::from_millis(300)),
    );
    let server = Server::start(bot.build().unwrap()).await;
    let address = server.url.trim_start_matches("http://").to_owned();
    // The one slot is taken by a silent connection until the header deadline closes it; the
    // health check waits for the slot and is then answered.
    let mut silent = TcpStream::connect(&address).await.unwrap();
    assert_eq!(health(&server.url).await, StatusCode::OK);
    closed_by_server(&mut silent, Duration::from_secs(5)).await;
    server.stop().await.unwrap().unwrap();
}

// ---- stopping ----

/// Reads from `stream` until what it has read ends with `end`.
async fn read_until_it_ends_with(stream: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    let mut answer = Vec::new();
    let mut chunk = [0; 1024];
    while !answer.ends_with(end) {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("the server answers")
            .unwrap();
        assert_ne!(read, 0, "closed before the answer ended");
        answer.extend_from_slice(&chunk[..read]);
    }
    answer
}

/// A server (`hookbot::server::serve`) with `GET /quick`, answered at once, and `GET /slow`,
/// answered once `release` gives a permit (each call of it gives `started` one); the
/// server's address, what stops it, and its task.
async fn stoppable_server(
    started: &Arc<Semaphore>,
    release: &Arc<Semaphore>,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let slow = {
        let (started, release) = (started.clone(), release.clone());
        move || async move {
            started.add_permits(1);
            release.acquire().await.unwrap().forget();
            "slow"
        }
    };
    let app = axum::Router::new()
        .route("/quick", axum::routing::get(|| async { "quick" }))
        .route("/slow", axum::routing::get(slow));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let served = tokio::spawn(hookbot::server::serve(
        listener,
        app,
        ServerSettings::new(),
        stopped,
    ));
    (address, stop, served)
}

/// A connection to `address` whose `GET /slow` the server has started on (`started` told so).
async fn slow_request_started(address: &str, started: &Semaphore) -> TcpStream {
    let mut busy = TcpStream::connect(address).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: bot\r\n\r\n")
        .await
        .unwrap();
    started.acquire().await.unwrap().forget();
    busy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_answers_the_request_in_hand_and_closes_every_connection() {
    let (started, release) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
    let (address, stop, served) = stoppable_server(&started, &release).await;
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /quick HTTP/1.1\r\nHost: bot\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_it_ends_with(&mut idle, b"quick").await;
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let mut busy = slow_request_started(&address, &started).await;

    stop.send(()).unwrap();
    // The idle keep-alive connection is closed without waiting for the busy one.
    let after = closed_by_server(&mut idle, Duration::from_secs(5)).await;
    assert!(after.is_empty(), "{}", String::from_utf8_lossy(&after));
    assert!(
        TcpStream::connect(&address).await.is_err(),
        "a stopping server accepts no more connections"
    );
    release.add_permits(1);
    let answer = closed_by_server(&mut busy, Duration::from_secs(5)).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    assert!(
        answer.ends_with(b"slow"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let returned = tokio::time::timeout(Duration::from_secs(5), served).await;
    returned
        .expect("serve returns once its connections closed")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_running_past_the_stop_grace_is_cut_and_serve_returns() {
    let (started, release) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
    let (address, stop, served) = stoppable_server(&started, &release).await;
    let mut busy = slow_request_started(&address, &started).await;

    stop.send(()).unwrap();
    let returned = tokio::time::timeout(Duration::from_secs(10), served).await;
    returned
        .expect("serve returns after its grace period")
        .unwrap()
        .unwrap();
    let answer = closed_by_server(&mut busy, Duration::from_secs(5)).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    drop(release);
}

// ---- fairness ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_chat_is_refused_with_503_while_another_chat_is_accepted() {
    let (seen, gate) = (Seen::default(), Arc::new(Semaphore::new(0)));
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, gated(&seen, &gate), HOOK)
        .dispatch(DispatchSettings::new().chat_capacity(3));
    let server = Server::start(bot.build().unwrap()).await;

    for n in 0..3 {
        let flood = incoming_text(ANNA, &format!("A{n}"), &format!("anna {n}"));
        assert_eq!(post(&server.url, &flood).await.0, StatusCode::OK);
    }
    let (status, reason) = post(&server.url, &incoming_text(ANNA, "A3", "anna 3")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reason.contains("chat's queue is full"), "{reason}");
    let other = incoming_text(BORIS, "B0", "boris 0");
    assert_eq!(post(&server.url, &other).await.0, StatusCode::OK);

    gate.add_permits(10);
    seen.wait_for(|texts| texts.len() == 4).await;
    let mut texts = seen.texts();
    texts.sort();
    assert_eq!(texts, ["anna 0", "anna 1", "anna 2", "boris 0"]);
    // Drained, the chat is taken again: the gateway's redelivery is handled.
    let again = incoming_text(ANNA, "A3", "anna 3");
    assert_eq!(post(&server.url, &again).await.0, StatusCode::OK);
    seen.wait_for(|texts| texts.len() == 5).await;
    server.stop().await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_are_bounded_in_bytes() {
    let (seen, gate) = (Seen::default(), Arc::new(Semaphore::new(0)));
    let notification = |chat: &str| incoming_text(chat, &format!("{chat}-0"), "same size");
    let size = body(&notification(ANNA)).len();
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, gated(&seen, &gate), HOOK)
        .dispatch(DispatchSettings::new().capacity_bytes(2 * size + 1));
    let server = Server::start(bot.build().unwrap()).await;

    for (chat, accepted) in [(ANNA, true), (BORIS, true), ("70000000003@c.us", false)] {
        let notification = notification(chat);
        let expected = if accepted {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        assert_eq!(post(&server.url, &notification).await.0, expected, "{chat}");
    }
    gate.add_permits(10);
    seen.wait_for(|texts| texts.len() == 2).await;
    // Handled, their bytes are given back: the refused one is taken when delivered again (as
    // a gateway does, until it is accepted).
    let again = notification("70000000003@c.us");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while post(&server.url, &again).await.0 != StatusCode::OK {
        assert!(tokio::time::Instant::now() < deadline, "never taken again");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen.wait_for(|texts| texts.len() == 3).await;
    server.stop().await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_past_its_deadline_is_cancelled_reported_and_its_chat_moves_on() {
    let seen = Seen::default();
    let failures: Arc<Mutex<Vec<HandlerFailure>>> = Arc::default();
    let router = {
        let seen = seen.clone();
        on_every_event(move |event: Event| {
            let seen = seen.clone();
            async move {
                if event.message().and_then(|message| message.text()) == Some("hang") {
                    std::future::pending::<()>().await;
                }
                seen.push(event);
                Ok::<_, std::convert::Infallible>(())
            }
        })
    };
    let reported = failures.clone();
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, router, HOOK)
        .dispatch(DispatchSettings::new().handler_timeout(Duration::from_millis(200)))
        .on_error(move |failure| reported.lock().unwrap().push(failure));
    let server = Server::start(bot.build().unwrap()).await;

    assert_eq!(
        post(&server.url, &incoming_text(ANNA, "HANG1", "hang"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        post(&server.url, &incoming_text(ANNA, "NEXT1", "after"))
            .await
            .0,
        StatusCode::OK
    );
    seen.wait_for(|texts| texts == ["after"]).await;

    server.stop().await.unwrap().unwrap();
    let failures = failures.lock().unwrap();
    assert_eq!(failures.len(), 1);
    let failure = &failures[0];
    assert!(
        matches!(failure.error, FailureCause::TimedOut(after) if after == Duration::from_millis(200)),
        "{:?}",
        failure.error
    );
    assert_eq!(failure.event.message_id.as_ref().unwrap().as_str(), "HANG1");
    assert_eq!(failure.event.chat.as_ref().unwrap().as_str(), ANNA);
}

// ---- a misbehaving gateway ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_answered_with_the_largest_retry_after_fails_and_the_bot_keeps_serving() {
    let gateway = common::server_with(
        ResponseTemplate::new(429).insert_header("Retry-After", u64::MAX.to_string()),
    )
    .await;
    let failures: Arc<Mutex<Vec<HandlerFailure>>> = Arc::default();
    let reported = failures.clone();
    let router = Router::new().fallback(|cx: Context| async move {
        cx.reply("hello").await?;
        Ok::<_, Error>(())
    });
    let bot = Bot::builder(router)
        .instances(Instance::new(Arc::new(common::whatsapp(&gateway.uri()))))
        .webhook_token(HOOK)
        .on_error(move |failure| reported.lock().unwrap().push(failure));
    let server = Server::start(bot.build().unwrap()).await;

    assert_eq!(
        post(&server.url, &incoming_text(ANNA, "A1", "hi")).await.0,
        StatusCode::OK
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while failures.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failure reported"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    {
        let failures = failures.lock().unwrap();
        let FailureCause::Error(error) = &failures[0].error else {
            panic!("{:?}", failures[0].error);
        };
        let error = error.downcast_ref::<Error>().expect("a hookbot error");
        assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    }
    assert_eq!(health(&server.url).await, StatusCode::OK);
    assert_eq!(
        post(&server.url, &incoming_text(ANNA, "A2", "again"))
            .await
            .0,
        StatusCode::OK
    );
    server.stop().await.unwrap().unwrap();
}

// ---- the sandbox is local-only ----

/// Serves `sandbox` on a free local port with hookbot's server; its URL.
async fn serve_sandbox(sandbox: &Sandbox) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(hookbot::server::serve(
        listener,
        sandbox.router(),
        ServerSettings::new(),
        std::future::pending(),
    ));
    url
}

#[tokio::test]
async fn the_sandbox_refuses_cross_site_writes() {
    let sandbox = Sandbox::builder().build();
    let url = serve_sandbox(&sandbox).await;
    let host = url.trim_start_matches("http://").to_owned();
    let message = serde_json::to_vec(&json!({"from": "79001234567@c.us", "text": "hi"})).unwrap();
    let client = reqwest::Client::new();
    let send = |content_type: &'static str, headers: Vec<(&'static str, String)>| {
        let mut request = client
            .post(format!("{url}/sandbox/messages"))
            .header("content-type", content_type)
            .body(message.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { request.send().await.unwrap().status() }
    };

    // What an HTML form on another site can send.
    assert_eq!(
        send("text/plain", vec![]).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        send("application/x-www-form-urlencoded", vec![]).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let evil = ("origin", "http://evil.example".to_owned());
    assert_eq!(
        send("application/json", vec![evil]).await,
        StatusCode::FORBIDDEN
    );
    let cross_site = ("sec-fetch-site", "cross-site".to_owned());
    assert_eq!(
        send("application/json", vec![cross_site]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(sandbox.queued(), 0, "nothing refused was delivered");

    // Its own page, and scripts without an Origin.
    let own = ("origin", format!("http://{host}"));
    assert_eq!(send("application/json", vec![own]).await, StatusCode::OK);
    assert_eq!(
        send("application/json; charset=utf-8", vec![]).await,
        StatusCode::OK
    );
    assert_eq!(sandbox.queued(), 2);
}

#[tokio::test]
async fn set_settings_keeps_the_webhook_local_and_get_settings_hides_its_token() {
    let sandbox = Sandbox::builder().build();
    let url = serve_sandbox(&sandbox).await;
    let method = |name: &str| {
        format!(
            "{url}/waInstance{}/{name}/{}",
            sandbox.instance(),
            sandbox.token().expose()
        )
    };
    let client = reqwest::Client::new();
    let set = |settings: Value| {
        let request = client.post(method("setSettings")).json(&settings);
        async move { request.send().await.unwrap().status() }
    };

    let remote =
        json!({"webhookUrl": "http://bot.example.com/webhook", "webhookUrlToken": "hook-secret"});
    assert_eq!(set(remote).await, StatusCode::BAD_REQUEST);
    let local =
        json!({"webhookUrl": "http://127.0.0.1:9/webhook", "webhookUrlToken": "hook-secret"});
    assert_eq!(set(local).await, StatusCode::OK);

    let read = reqwest::get(method("getSettings"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let settings: Value = serde_json::from_str(&read).unwrap();
    assert_eq!(settings["webhookUrl"], "http://127.0.0.1:9/webhook");
    assert_eq!(settings["webhookUrlToken"], "");
    assert!(!read.contains("hook-secret"), "{read}");

    let open = Sandbox::builder().remote_webhook(true).build();
    let open_url = serve_sandbox(&open).await;
    let status = client
        .post(format!(
            "{open_url}/waInstance{}/setSettings/{}",
            open.instance(),
            open.token().expose()
        ))
        .json(&json!({"webhookUrl": "http://bot.example.com/webhook"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK, "allowed when configured");
}

// ---- arbitrary input ----

/// One bot for every property case, on a runtime of its own.
fn shared_bot() -> &'static (tokio::runtime::Runtime, String) {
    static BOT: OnceLock<(tokio::runtime::Runtime, String)> = OnceLock::new();
    BOT.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let router = Router::new().fallback(|cx: Context| async move {
            let _ = (cx.text(), cx.event().message_id(), cx.event().chat());
            Ok::<_, Error>(())
        });
        let url = runtime.block_on(async {
            let bot = offline_bot(GatewayKind::GreenApiWhatsApp, router, HOOK)
                .build()
                .unwrap();
            let server = Server::start(bot).await;
            let url = server.url.clone();
            std::mem::forget(server);
            url
        });
        (runtime, url)
    })
}

/// Posts `bytes` to the shared bot's webhook, with the token or without; the status, and
/// whether `/healthz` still answers 200.
fn post_to_shared_bot(bytes: Vec<u8>, authenticated: bool) -> (StatusCode, StatusCode) {
    let (runtime, url) = shared_bot();
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .post(format!("{url}/webhook"))
            .header("content-type", "application/json")
            .body(bytes);
        if authenticated {
            request = request.bearer_auth(HOOK);
        }
        let status = request.send().await.unwrap().status();
        (status, health(url).await)
    })
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::hash_map(".{0,12}", inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A notification whose fields are arbitrary: a known kind, or another, with any values.
fn arbitrary_notification() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just(json!("incomingMessageReceived")),
        Just(json!("outgoingMessageStatus")),
        Just(json!("stateInstanceChanged")),
        arbitrary_json(),
    ];
    (
        kind,
        arbitrary_json(),
        arbitrary_json(),
        arbitrary_json(),
        arbitrary_json(),
    )
        .prop_map(|(kind, instance, sender, message, id)| {
            json!({
                "typeWebhook": kind,
                "instanceData": instance,
                "senderData": sender,
                "messageData": message,
                "idMessage": id,
                "timestamp": 1588091580,
            })
        })
}

/// The answers the webhook may give to any input.
const ANSWERS: [StatusCode; 5] = [
    StatusCode::OK,
    StatusCode::BAD_REQUEST,
    StatusCode::UNAUTHORIZED,
    StatusCode::NOT_FOUND,
    StatusCode::SERVICE_UNAVAILABLE,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_break_the_webhook(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        authenticated in any::<bool>(),
    ) {
        let (status, health) = post_to_shared_bot(bytes, authenticated);
        prop_assert!(ANSWERS.contains(&status), "{status}");
        prop_assert_eq!(health, StatusCode::OK);
        if !authenticated {
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn arbitrary_json_never_breaks_the_webhook(
        value in prop_oneof![arbitrary_json(), arbitrary_notification()],
        authenticated in any::<bool>(),
    ) {
        let (status, health) = post_to_shared_bot(serde_json::to_vec(&value).unwrap(), authenticated);
        prop_assert!(ANSWERS.contains(&status), "{status}");
        prop_assert_eq!(health, StatusCode::OK);
    }
}
