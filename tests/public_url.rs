//! `HOOKBOT_PUBLIC_URL`: on start, a webhook bot points its instance at itself, against a mock
//! gateway over real HTTP. GREEN-API: getSettings, setSettings only when something differs;
//! Z-API: update-webhook-received with the token in the URL and update-notify-sent-by-me. The
//! instance's state is read and a state that stops the bot from working is a plain warning;
//! nothing stops the bot from starting, and no secret reaches a log line.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{
    INSTANCE, Server, TOKEN, ZAPI_INSTANCE, capture_logs, fast_settings, requests, whatsapp_path,
    zapi_path,
};
use hookbot::bot::Bot;
use hookbot::config::Config;
use hookbot::gateway::{GreenApi, ZApi};
use hookbot::instance::{Instance, InstanceConfig, Instances};
use hookbot::{Error, Router};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PUBLIC_URL: &str = "https://bot.example.org/hooks";
const WEBHOOK_TOKEN: &str = "hook-5d1e-9a7f";

/// What the bot must write on a GREEN-API instance.
fn wanted_settings() -> Value {
    json!({
        "webhookUrl": "https://bot.example.org/hooks/webhook",
        "webhookUrlToken": WEBHOOK_TOKEN,
        "incomingWebhook": "yes",
        "outgoingMessageWebhook": "yes",
    })
}

/// A mock GREEN-API whose getSettings answers `settings` and whose state is `state`.
async fn green_api(settings: Value, state: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getSettings")))
        .respond_with(ResponseTemplate::new(200).set_body_json(settings))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(whatsapp_path("setSettings")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"saveSettings": true})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getStateInstance")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"stateInstance": state})))
        .mount(&server)
        .await;
    server
}

/// A bot of the WhatsApp instance at `uri`, with the public URL.
fn green_api_bot(uri: &str) -> Bot {
    let client = GreenApi::whatsapp(uri, INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .unwrap();
    Bot::builder(Router::<()>::new())
        .gateway(client)
        .webhook_token(WEBHOOK_TOKEN)
        .public_url(PUBLIC_URL.parse().unwrap())
        .build()
        .unwrap()
}

/// The requests to `path` the mock received.
async fn requests_to(server: &MockServer, to: &str) -> Vec<Request> {
    requests(server)
        .await
        .into_iter()
        .filter(|request| request.url.path() == to)
        .collect()
}

/// Waits (up to 10 s) until the mock received a request to `to`.
async fn wait_for_request(server: &MockServer, to: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while requests_to(server, to).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no request to {to}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn json_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// Asserts that no secret of the tests is in `logs`.
fn assert_no_secret(logs: &str) {
    for secret in [TOKEN, WEBHOOK_TOKEN] {
        assert!(!logs.contains(secret), "a secret was logged:\n{logs}");
    }
}

#[tokio::test]
async fn green_api_settings_are_written_on_start_when_they_differ() {
    let (logs, _guard) = capture_logs("info");
    let server = green_api(
        json!({"webhookUrl": "", "webhookUrlToken": "", "incomingWebhook": "yes",
               "outgoingMessageWebhook": "no", "outgoingAPIMessageWebhook": "yes",
               "delaySendMessagesMilliseconds": 1000}),
        "authorized",
    )
    .await;
    let bot = Server::start(green_api_bot(&server.uri())).await;
    wait_for_request(&server, &whatsapp_path("getStateInstance")).await;

    let written = requests_to(&server, &whatsapp_path("setSettings")).await;
    assert_eq!(written.len(), 1);
    assert_eq!(json_body(&written[0]), wanted_settings());
    let logs = logs.text();
    assert!(
        logs.contains("https://bot.example.org/hooks/webhook"),
        "{logs}"
    );
    assert!(logs.contains("up to 5 minutes"), "{logs}");
    assert!(!logs.contains("WARN"), "{logs}");
    assert_no_secret(&logs);
    bot.stop().await.unwrap().unwrap();
}

#[tokio::test]
async fn green_api_settings_already_right_are_not_written_again() {
    let (logs, _guard) = capture_logs("info");
    let mut settings = wanted_settings();
    settings["outgoingAPIMessageWebhook"] = json!("no");
    let server = green_api(settings, "authorized").await;
    let bot = Server::start(green_api_bot(&server.uri())).await;
    wait_for_request(&server, &whatsapp_path("getStateInstance")).await;

    assert_eq!(
        requests_to(&server, &whatsapp_path("getSettings"))
            .await
            .len(),
        1
    );
    assert!(
        requests_to(&server, &whatsapp_path("setSettings"))
            .await
            .is_empty()
    );
    assert!(
        logs.text()
            .contains("already posts its notifications to this bot")
    );
    bot.stop().await.unwrap().unwrap();
}

#[tokio::test]
async fn an_instance_that_cannot_work_is_a_plain_warning_and_the_bot_still_serves() {
    for (state, advice) in [
        ("notAuthorized", "scan the QR code"),
        ("blocked", "the messenger blocked the number"),
        ("starting", "the instance is starting"),
        ("yellowCard", "reboot the instance"),
        ("sleepMode", "the phone is off or offline"),
    ] {
        let (logs, _guard) = capture_logs("info");
        let server = green_api(wanted_settings(), state).await;
        let bot = Server::start(green_api_bot(&server.uri())).await;
        wait_for_request(&server, &whatsapp_path("getStateInstance")).await;
        // The state is logged after the answer is read: wait for the line.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !logs.text().contains(advice) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{state}: {}",
                logs.text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let logs = logs.text();
        assert!(logs.contains("WARN") && logs.contains(state), "{logs}");
        let health = reqwest::get(format!("{}/healthz", bot.url)).await.unwrap();
        assert_eq!(health.status(), 200, "{state}");
        bot.stop().await.unwrap().unwrap();
    }
}

/// A mock Z-API: the webhook settings answer `update_status`, the status is `connected`.
async fn zapi(update_status: u16, connected: bool) -> MockServer {
    let server = MockServer::start().await;
    let update = if update_status == 200 {
        ResponseTemplate::new(200).set_body_json(json!({"value": true}))
    } else {
        // A gateway that quotes what it was sent, token and all.
        ResponseTemplate::new(update_status).set_body_string(format!(
            "{{\"error\":\"cannot reach {PUBLIC_URL}/webhook/{WEBHOOK_TOKEN}\"}}"
        ))
    };
    for setting in ["update-webhook-received", "update-notify-sent-by-me"] {
        Mock::given(method("PUT"))
            .and(path(zapi_path(setting)))
            .respond_with(update.clone())
            .mount(&server)
            .await;
    }
    let error = if connected {
        "You are already connected."
    } else {
        "You are not connected."
    };
    Mock::given(method("GET"))
        .and(path(zapi_path("status")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"connected": connected, "error": error, "smartphoneConnected": connected}),
        ))
        .mount(&server)
        .await;
    server
}

fn zapi_bot(uri: &str) -> Bot {
    let client = ZApi::builder(uri, ZAPI_INSTANCE, TOKEN)
        .settings(fast_settings())
        .build()
        .unwrap();
    let instance = Instance::builder(Arc::new(client))
        .webhook_token(WEBHOOK_TOKEN)
        .public_url(PUBLIC_URL.parse().unwrap())
        .build();
    Bot::builder(Router::<()>::new())
        .instances(instance)
        .build()
        .unwrap()
}

#[tokio::test]
async fn zapi_webhook_is_written_with_the_token_in_the_url_and_the_owners_messages_on() {
    let (logs, _guard) = capture_logs("info");
    let server = zapi(200, false).await;
    let bot = Server::start(zapi_bot(&server.uri())).await;
    wait_for_request(&server, &zapi_path("status")).await;

    let received = requests_to(&server, &zapi_path("update-webhook-received")).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        json_body(&received[0]),
        json!({"value": format!("{PUBLIC_URL}/webhook/{WEBHOOK_TOKEN}")})
    );
    let sent_by_me = requests_to(&server, &zapi_path("update-notify-sent-by-me")).await;
    assert_eq!(json_body(&sent_by_me[0]), json!({"notifySentByMe": true}));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !logs.text().contains("scan the QR code in the Z-API panel") {
        assert!(tokio::time::Instant::now() < deadline, "{}", logs.text());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_no_secret(&logs.text());
    bot.stop().await.unwrap().unwrap();
}

#[tokio::test]
async fn a_failed_setup_is_a_warning_without_the_token_and_the_bot_still_serves() {
    let (logs, _guard) = capture_logs("info");
    let server = zapi(400, true).await;
    let bot = Server::start(zapi_bot(&server.uri())).await;
    wait_for_request(&server, &zapi_path("status")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !logs.text().contains("instance state") {
        assert!(tokio::time::Instant::now() < deadline, "{}", logs.text());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let logs = logs.text();
    assert!(
        logs.contains("could not point the instance's notifications at this bot"),
        "{logs}"
    );
    assert!(
        logs.contains("cannot reach"),
        "the gateway's words are kept: {logs}"
    );
    assert_no_secret(&logs);
    let health = reqwest::get(format!("{}/healthz", bot.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    bot.stop().await.unwrap().unwrap();
}

/// The configuration of these variables, with the store in memory (no data directory in the
/// working directory).
fn config(vars: &[(&str, &str)]) -> hookbot::Result<Config> {
    let mut vars: HashMap<&str, &str> = vars.iter().copied().collect();
    vars.entry("HOOKBOT_STORE").or_insert("memory");
    Config::from_vars(|name| vars.get(name).map(|value| (*value).to_owned()))
}

#[tokio::test]
async fn hookbot_public_url_points_a_bot_from_the_environment_at_itself() {
    let server = green_api(json!({}), "authorized").await;
    let uri = server.uri();
    let config = config(&[
        ("HOOKBOT_GATEWAY", "green-api"),
        ("HOOKBOT_API_URL", &uri),
        ("HOOKBOT_INSTANCE", INSTANCE),
        ("HOOKBOT_TOKEN", TOKEN),
        ("HOOKBOT_WEBHOOK_TOKEN", WEBHOOK_TOKEN),
        ("HOOKBOT_PUBLIC_URL", PUBLIC_URL),
        ("HOOKBOT_LOOKUP_RATE", "0"),
    ])
    .unwrap();
    let bot = Bot::builder(Router::<()>::new())
        .config(config)
        .unwrap()
        .build()
        .unwrap();
    let bot = Server::start(bot).await;
    wait_for_request(&server, &whatsapp_path("setSettings")).await;
    let written = requests_to(&server, &whatsapp_path("setSettings")).await;
    assert_eq!(json_body(&written[0]), wanted_settings());
    bot.stop().await.unwrap().unwrap();
}

#[tokio::test]
async fn an_instances_entry_has_its_own_public_url_over_the_bots() {
    let server = green_api(json!({}), "authorized").await;
    let uri = server.uri();
    let entries = InstanceConfig::from_toml(&format!(
        "[[instance]]\ngateway = \"green-api\"\nurl = \"{uri}\"\nid = \"{INSTANCE}\"\ntoken = \"{TOKEN}\"\nwebhook_token = \"{WEBHOOK_TOKEN}\"\npublic_url = \"https://sales.example.org/\"\n"
    ))
    .unwrap();
    let instances = Instances::connect(&entries, &fast_settings()).unwrap();
    let bot = Bot::builder(Router::<()>::new())
        .instances(instances)
        .public_url(PUBLIC_URL.parse().unwrap())
        .build()
        .unwrap();
    let bot = Server::start(bot).await;
    wait_for_request(&server, &whatsapp_path("setSettings")).await;
    let written = requests_to(&server, &whatsapp_path("setSettings")).await;
    assert_eq!(
        json_body(&written[0])["webhookUrl"],
        "https://sales.example.org/webhook"
    );
    bot.stop().await.unwrap().unwrap();
}

#[test]
fn a_wrong_public_url_is_refused_naming_the_variable_or_the_entry() {
    let error = config(&[("HOOKBOT_PUBLIC_URL", "bot.example.org")]).unwrap_err();
    let Error::Config { variable, reason } = &error else {
        panic!("not a configuration error: {error}");
    };
    assert_eq!(*variable, "HOOKBOT_PUBLIC_URL");
    assert!(
        reason.starts_with("must be the bot's public base URL"),
        "{reason}"
    );

    let error = config(&[
        ("HOOKBOT_PUBLIC_URL", PUBLIC_URL),
        ("HOOKBOT_INTAKE", "polling"),
    ])
    .unwrap_err();
    assert!(
        matches!(&error, Error::Config { variable: "HOOKBOT_PUBLIC_URL", reason } if reason.contains("webhook intake")),
        "{error}"
    );

    let error = InstanceConfig::from_toml(&format!(
        "[[instance]]\nname = \"sales\"\ngateway = \"green-api\"\nid = \"1\"\ntoken = \"{TOKEN}\"\npublic_url = \"https://x.example/?key=s3cr3t\"\n"
    ))
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("instance 1 (\"sales\"): `public_url` must be the bot's public base URL"),
        "{message}"
    );
    assert!(!message.contains("s3cr3t"), "{message}");
}
