//! The auto-reply bot against a mock GREEN-API, over real HTTP: what the gateway receives —
//! the greeting and the card both quoting the first message — and a greeting that could not be
//! sent is not remembered.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Server, TOKEN, body, incoming_text, whatsapp, whatsapp_path};
use hookbot::Bot;
use hookbot::bots::auto_reply::{self, AutoReply};
use hookbot::instance::Instance;
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const VASILISA: &str = "79001234567@c.us";

/// A gateway that refuses the first `sendMessage` (400: not retried) and answers everything
/// else with a sent message's id.
async fn gateway_refusing_the_first_greeting() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(whatsapp_path("sendMessage")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "refused"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"idMessage": "SENT1"})))
        .mount(&server)
        .await;
    server
}

/// The JSON bodies of the requests to `method`, in order.
fn bodies(requests: &[Request], method: &str) -> Vec<Value> {
    requests
        .iter()
        .filter(|request| request.url.path() == whatsapp_path(method))
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect()
}

/// Waits (up to 10 s) until `done` holds for the requests the gateway received.
async fn wait_for(gateway: &MockServer, done: impl Fn(&[Request]) -> bool) -> Vec<Request> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let requests = common::requests(gateway).await;
        if done(&requests) {
            return requests;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; received {:?}",
            requests.iter().map(|r| r.url.path()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn the_card_quotes_the_first_message_and_a_failed_greeting_is_not_remembered() {
    let gateway = gateway_refusing_the_first_greeting().await;
    let failures = Arc::new(AtomicUsize::new(0));
    let state = AutoReply::new(
        auto_reply::share_card("79001234570", Some("Bob Smith")),
        Duration::from_secs(3600),
    );
    let counted = failures.clone();
    let bot = Bot::builder(state.router())
        .state(state)
        .instances(Instance::new(Arc::new(whatsapp(&gateway.uri()))))
        .webhook_token(TOKEN)
        .on_error(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let server = Server::start(bot).await;

    let post = |id: &str, text: &str| {
        let notification = body(&incoming_text(VASILISA, id, text));
        let server = &server;
        async move { server.post("/webhook", notification, Some(TOKEN)).await }
    };
    assert_eq!(post("IN1", "hello").await, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while failures.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the failure was not reported"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    assert_eq!(post("IN2", "anyone there?").await, 200);
    let requests = wait_for(&gateway, |requests| {
        !bodies(requests, "sendContact").is_empty()
    })
    .await;
    let greetings = bodies(&requests, "sendMessage");
    assert_eq!(greetings.len(), 2, "greeted again after the failure");
    assert_eq!(greetings[0]["quotedMessageId"], "IN1");
    assert_eq!(greetings[1]["quotedMessageId"], "IN2");
    let cards = bodies(&requests, "sendContact");
    assert_eq!(cards.len(), 1);
    assert_eq!(
        cards[0]["quotedMessageId"], "IN2",
        "the card quotes the message"
    );
    assert_eq!(cards[0]["contact"]["phoneContact"], 79001234570_u64);
}
