//! The client-side rate limits, on tokio's paused clock: the gateway records the virtual time
//! each request arrives at, so spacing is measured where it matters, on the server.
//!
//! The mock gateway is a small axum app spawned on the test's own runtime: a server on other
//! threads (wiremock) would let the paused clock jump ahead while the test waits on its sockets.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use common::{INSTANCE, TOKEN};
use hookbot::gateway::{ClientSettings, Gateway, GreenApi, RateLimits, RetryPolicy, SendOptions};
use hookbot::{ChatId, ContactCard};
use serde_json::{Value, json};
use tokio::time::Instant;

/// The GREEN-API method and the virtual time of every request the mock gateway received.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<(String, Instant)>>>);

impl Arrivals {
    /// When each request of `method` arrived, in order.
    fn of(&self, method: &str) -> Vec<Instant> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name == method)
            .map(|(_, at)| *at)
            .collect()
    }
}

/// Records the request and answers it as GREEN-API would.
async fn answer(State(arrivals): State<Arrivals>, uri: Uri) -> Json<Value> {
    // `/waInstance{id}/{method}/{token}`
    let method = uri.path().split('/').nth(2).unwrap_or_default().to_owned();
    arrivals
        .0
        .lock()
        .unwrap()
        .push((method.clone(), Instant::now()));
    Json(match method.as_str() {
        "getContacts" => json!([{"id": "79001234567@c.us", "name": "Анна", "type": "user"}]),
        "getContactInfo" => json!({"chatId": "79001234567@c.us", "name": "Анна"}),
        "deleteNotification" => json!({"result": true}),
        _ => json!({"idMessage": "BAE5F4886F6F2D05"}),
    })
}

/// Starts the mock gateway on the test's runtime; returns its URL and its record.
async fn start_gateway() -> (String, Arrivals) {
    let arrivals = Arrivals::default();
    let router = Router::new().fallback(answer).with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, arrivals)
}

/// A WhatsApp client with `limits`, no retries, and a time-out that the paused clock never
/// reaches while the test waits on sockets.
fn client(url: &str, limits: RateLimits) -> GreenApi {
    GreenApi::whatsapp(url, INSTANCE, TOKEN)
        .settings(
            ClientSettings::new()
                .timeout(Duration::from_secs(3600))
                .retry(RetryPolicy::none())
                .rate_limits(limits),
        )
        .build()
        .unwrap()
}

/// Fails unless each arrival is at least `gap` after the one before.
fn assert_spaced(arrivals: &[Instant], gap: Duration) {
    for pair in arrivals.windows(2) {
        let spacing = pair[1] - pair[0];
        assert!(
            spacing >= gap,
            "requests {spacing:?} apart, expected at least {gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn contact_lists_on_one_client_arrive_a_second_apart() {
    let (url, arrivals) = start_gateway().await;
    let client = client(&url, RateLimits::new());

    for _ in 0..3 {
        client.contacts().await.unwrap();
    }

    let at = arrivals.of("getContacts");
    assert_eq!(at.len(), 3);
    assert_spaced(&at, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn clones_share_the_contact_list_limit() {
    let (url, arrivals) = start_gateway().await;
    let first = client(&url, RateLimits::new());
    let second = first.clone();

    let (a, b, c) = tokio::join!(first.contacts(), second.contacts(), first.contacts_up_to(1));
    a.unwrap();
    b.unwrap();
    c.unwrap();

    let at = arrivals.of("getContacts");
    assert_eq!(at.len(), 3);
    assert_spaced(&at, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn unlimited_contact_lists_arrive_at_once() {
    let (url, arrivals) = start_gateway().await;
    let client = client(&url, RateLimits::unlimited());
    let start = Instant::now();

    for _ in 0..3 {
        client.contacts().await.unwrap();
    }

    let at = arrivals.of("getContacts");
    assert_eq!(at, [start, start, start]);
}

#[tokio::test(start_paused = true)]
async fn contact_info_has_its_own_one_per_second_limit() {
    let (url, arrivals) = start_gateway().await;
    let client = client(&url, RateLimits::new());
    let chat = ChatId::from("79001234567@c.us");
    let start = Instant::now();

    client.contacts().await.unwrap();
    client.contact_info(&chat).await.unwrap();
    client.contact_info(&chat).await.unwrap();
    client.contact_info(&chat).await.unwrap();

    assert_eq!(
        arrivals.of("getContacts"),
        [start],
        "the contact list goes at once"
    );
    let info = arrivals.of("getContactInfo");
    assert_eq!(info.len(), 3);
    assert_eq!(
        info[0], start,
        "a contact list does not hold up contact info"
    );
    assert_spaced(&info, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn fifty_sends_go_at_once_and_the_fifty_first_waits() {
    let (url, arrivals) = start_gateway().await;
    let client = client(&url, RateLimits::new());
    let chat = ChatId::from("79001234567@c.us");
    let card = ContactCard::new().phone("79001234568").first_name("Артем");
    let options = SendOptions::new();
    let start = Instant::now();

    for n in 0..25 {
        client
            .send_text(&chat, &format!("message {n}"), &options)
            .await
            .unwrap();
        client.send_contact(&chat, &card, &options).await.unwrap();
    }
    let before_limit = Instant::now();
    client
        .send_text(&chat, "one too many", &options)
        .await
        .unwrap();

    assert_eq!(
        before_limit, start,
        "fifty sends within the limit never wait"
    );
    let mut at = arrivals.of("sendMessage");
    at.extend(arrivals.of("sendContact"));
    assert_eq!(at.len(), 51);
    let last = *at.iter().max().unwrap();
    assert!(
        last - start >= Duration::from_millis(20),
        "the 51st send waited {:?}",
        last - start
    );
}

#[tokio::test(start_paused = true)]
async fn sends_do_not_wait_for_look_ups() {
    let (url, arrivals) = start_gateway().await;
    let client = client(&url, RateLimits::new());
    let chat = ChatId::from("79001234567@c.us");
    let start = Instant::now();

    client.contacts().await.unwrap();
    client.contact_info(&chat).await.unwrap();
    client
        .send_text(&chat, "hello", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(arrivals.of("sendMessage"), [start]);
}

#[tokio::test(start_paused = true)]
async fn queue_calls_have_their_own_limit_of_a_hundred_per_second() {
    let (url, arrivals) = start_gateway().await;
    let client = client(&url, RateLimits::new());
    let start = Instant::now();

    for receipt in 0..100 {
        client.delete_notification(receipt).await.unwrap();
    }
    client
        .send_text(&ChatId::from("79001234567@c.us"), "hi", &SendOptions::new())
        .await
        .unwrap();
    client.delete_notification(100).await.unwrap();

    let at = arrivals.of("deleteNotification");
    assert_eq!(at.len(), 101);
    assert!(
        at[..100].iter().all(|&arrived| arrived == start),
        "a burst of 100 goes at once"
    );
    assert!(
        at[100] >= start + Duration::from_millis(10),
        "the 101st waits its turn"
    );
    assert_eq!(
        arrivals.of("sendMessage"),
        [start],
        "sends do not wait for the queue's limit"
    );
}
