//! A send is never repeated when its first attempt may have reached the gateway — unless the
//! gateway's own journal (GREEN-API `lastOutgoingMessages`) shows it did not; look-ups and sends
//! that provably never arrived are retried as before; at-least-once sends are an opt-in. All
//! over real HTTP against a mock gateway, which counts what reached it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    INSTANCE, MAX_ATTEMPTS, TOKEN, ZAPI_INSTANCE, fast_settings, requests, whatsapp, whatsapp_path,
    zapi,
};
use hookbot::gateway::{ClientSettings, Gateway, GreenApi, RetryPolicy, SendOptions, ZApi};
use hookbot::{ChatId, ContactCard, Error, MessageId};
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CHAT: &str = "79001234567@c.us";
/// How long the slow mock takes to answer: far past the clients' time-out.
const SLOW: Duration = Duration::from_secs(5);
/// The clients' time-out in these tests.
const TIMEOUT: Duration = Duration::from_millis(100);

fn chat() -> ChatId {
    ChatId::from(CHAT)
}

/// The tests' clients, timing out after [`TIMEOUT`].
fn impatient() -> ClientSettings {
    fast_settings().timeout(TIMEOUT)
}

fn impatient_whatsapp(uri: &str) -> GreenApi {
    GreenApi::whatsapp(uri, INSTANCE, TOKEN)
        .settings(impatient())
        .build()
        .unwrap()
}

fn impatient_zapi(uri: &str, retry: RetryPolicy) -> ZApi {
    ZApi::builder(uri, ZAPI_INSTANCE, TOKEN)
        .settings(impatient().retry(retry))
        .build()
        .unwrap()
}

/// Three attempts a few milliseconds apart, as the common clients', with `at_least_once`.
fn fast_retry() -> RetryPolicy {
    RetryPolicy::new()
        .max_attempts(MAX_ATTEMPTS as u32)
        .initial_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
}

/// Mounts `template` for the GREEN-API `method` (`verb` on its path); `times` limits how often
/// it answers.
async fn green_api(
    server: &MockServer,
    verb: &str,
    gateway_method: &str,
    template: ResponseTemplate,
    times: Option<u64>,
) {
    let mock = Mock::given(method(verb))
        .and(path(whatsapp_path(gateway_method)))
        .respond_with(template);
    let mock = match times {
        Some(times) => mock.up_to_n_times(times),
        None => mock,
    };
    mock.mount(server).await;
}

/// A sendMessage that answers only after [`SLOW`].
async fn slow_send_message(server: &MockServer, times: Option<u64>) {
    let template = ResponseTemplate::new(200)
        .set_body_json(json!({"idMessage": "LATE"}))
        .set_delay(SLOW);
    green_api(server, "POST", "sendMessage", template, times).await;
}

/// The journal (lastOutgoingMessages) answering `entries`.
async fn journal(server: &MockServer, entries: Value) {
    let template = ResponseTemplate::new(200).set_body_json(entries);
    green_api(server, "GET", "lastOutgoingMessages", template, None).await;
}

/// The requests the mock received for the GREEN-API `method`.
async fn calls_of(server: &MockServer, gateway_method: &str) -> Vec<Request> {
    requests(server)
        .await
        .into_iter()
        .filter(|request| request.url.path() == whatsapp_path(gateway_method))
        .collect()
}

/// Unix seconds now.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A journal entry of a text the API sent to `chat` at `timestamp`.
fn sent_text(id: &str, chat: &str, text: &str, timestamp: u64) -> Value {
    json!({
        "type": "outgoing", "idMessage": id, "timestamp": timestamp, "statusMessage": "sent",
        "typeMessage": "textMessage", "chatId": chat, "textMessage": text, "sendByApi": true
    })
}

/// The cause inside an [`Error::SendUnconfirmed`]; fails on anything else.
fn unconfirmed(error: Error) -> Error {
    match error {
        Error::SendUnconfirmed { cause } => *cause,
        other => panic!("expected an unconfirmed send, got {other:?}"),
    }
}

// ---- a send that may have gone out is not repeated ----

#[tokio::test]
async fn a_zapi_send_answered_after_the_time_out_reaches_the_gateway_once() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(SLOW))
        .mount(&server)
        .await;

    let error = impatient_zapi(&server.uri(), fast_retry())
        .send_text(&ChatId::from("5544999999999"), "olá", &SendOptions::new())
        .await
        .unwrap_err();

    assert!(error.to_string().contains("may have been sent"), "{error}");
    assert!(!error.is_retryable(), "the caller is not told to try again");
    assert!(matches!(unconfirmed(error), Error::Timeout));
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_green_api_send_answered_after_the_time_out_is_not_repeated_when_the_journal_fails() {
    let server = MockServer::start().await;
    slow_send_message(&server, None).await;
    let broken = ResponseTemplate::new(500).set_body_string("journal down");
    green_api(&server, "GET", "lastOutgoingMessages", broken, None).await;

    let error = impatient_whatsapp(&server.uri())
        .send_text(&chat(), "hello", &SendOptions::new())
        .await
        .unwrap_err();

    assert!(matches!(unconfirmed(error), Error::Timeout));
    assert_eq!(calls_of(&server, "sendMessage").await.len(), 1);
    assert_eq!(
        calls_of(&server, "lastOutgoingMessages").await.len(),
        MAX_ATTEMPTS,
        "the journal is a look-up: retried"
    );
}

#[tokio::test]
async fn gateway_trouble_on_a_send_is_not_repeated() {
    for status in [499, 500, 502, 503, 504] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).set_body_string("upstream trouble"))
            .mount(&server)
            .await;
        let card = ContactCard::new().phone("5544988887777").first_name("Ana");

        let error = zapi(&server.uri())
            .send_contact(&ChatId::from("5544999999999"), &card, &SendOptions::new())
            .await
            .unwrap_err();

        let cause = unconfirmed(error);
        assert!(
            matches!(cause, Error::Gateway { status: got, .. } if got == status),
            "{status}: {cause:?}"
        );
        assert_eq!(requests(&server).await.len(), 1, "HTTP {status}");
    }
}

#[tokio::test]
async fn a_502_on_a_green_api_send_with_an_unreadable_journal_is_not_repeated() {
    let server = MockServer::start().await;
    let bad_gateway = ResponseTemplate::new(502).set_body_string("Bad Gateway");
    green_api(&server, "POST", "sendMessage", bad_gateway, None).await;
    journal(&server, json!({"not": "a list"})).await;

    let error = whatsapp(&server.uri())
        .send_text(&chat(), "hello", &SendOptions::new())
        .await
        .unwrap_err();

    assert!(matches!(
        unconfirmed(error),
        Error::Gateway { status: 502, .. }
    ));
    assert_eq!(calls_of(&server, "sendMessage").await.len(), 1);
}

// ---- GREEN-API's journal decides ----

#[tokio::test]
async fn a_send_the_journal_shows_unsent_is_repeated() {
    let server = MockServer::start().await;
    slow_send_message(&server, Some(1)).await;
    let sent = ResponseTemplate::new(200).set_body_json(json!({"idMessage": "SECOND"}));
    green_api(&server, "POST", "sendMessage", sent, None).await;
    // Other messages only: another chat, another text, one from the phone, one from before.
    journal(
        &server,
        json!([
            sent_text("A", "79009999999@c.us", "hello", now()),
            sent_text("B", CHAT, "goodbye", now()),
            {"idMessage": "C", "timestamp": now(), "typeMessage": "textMessage", "chatId": CHAT,
             "textMessage": "hello", "sendByApi": false},
            sent_text("D", CHAT, "hello", now() - 3600),
            {"idMessage": "E", "timestamp": now(), "typeMessage": "imageMessage", "chatId": CHAT,
             "downloadUrl": "https://example.com/a.jpg", "sendByApi": true},
        ]),
    )
    .await;

    let sent = impatient_whatsapp(&server.uri())
        .send_text(&chat(), "hello", &SendOptions::new())
        .await
        .unwrap();

    // The gateway's journal said the first attempt never arrived: the retry is the one send.
    assert_eq!(sent.id, MessageId::from("SECOND"));
    assert_eq!(calls_of(&server, "sendMessage").await.len(), 2);
    let asked = calls_of(&server, "lastOutgoingMessages").await;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].method.as_str(), "GET");
    assert_eq!(asked[0].url.query(), Some("minutes=2"));
}

#[tokio::test]
async fn a_text_the_journal_shows_sent_returns_its_id_without_a_second_send() {
    let server = MockServer::start().await;
    slow_send_message(&server, None).await;
    journal(
        &server,
        json!([
            sent_text("OTHER", CHAT, "something else", now()),
            sent_text("BAE5F4886F6F2D05", CHAT, "hello", now()),
        ]),
    )
    .await;

    let sent = impatient_whatsapp(&server.uri())
        .send_text(&chat(), "hello", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("BAE5F4886F6F2D05"));
    assert_eq!(calls_of(&server, "sendMessage").await.len(), 1);
}

#[tokio::test]
async fn a_link_preview_text_the_journal_shows_sent_returns_its_id() {
    let server = MockServer::start().await;
    slow_send_message(&server, None).await;
    let text = "see https://green-api.com";
    journal(
        &server,
        json!([{
            "type": "outgoing", "idMessage": "PREVIEWED", "timestamp": now(),
            "typeMessage": "extendedTextMessage", "chatId": CHAT, "sendByApi": true,
            "extendedTextMessage": {"text": text, "title": "GREEN-API"}
        }]),
    )
    .await;

    let sent = impatient_whatsapp(&server.uri())
        .send_text(&chat(), text, &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("PREVIEWED"));
    assert_eq!(calls_of(&server, "sendMessage").await.len(), 1);
}

#[tokio::test]
async fn a_contact_card_the_journal_shows_sent_returns_its_id_without_a_second_send() {
    let server = MockServer::start().await;
    let late = ResponseTemplate::new(200)
        .set_body_json(json!({"idMessage": "LATE"}))
        .set_delay(SLOW);
    green_api(&server, "POST", "sendContact", late, None).await;
    journal(
        &server,
        json!([{
            "type": "outgoing", "idMessage": "CARD1", "timestamp": now(),
            "typeMessage": "contactMessage", "chatId": CHAT, "sendByApi": true,
            "contact": {
                "displayName": "Артем",
                "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Артем\nTEL;waid=79001234568:+7 900 123-45-68\nEND:VCARD"
            }
        }]),
    )
    .await;
    let card = ContactCard::new().phone("79001234568").first_name("Артем");

    let sent = impatient_whatsapp(&server.uri())
        .send_contact(&chat(), &card, &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("CARD1"));
    assert_eq!(calls_of(&server, "sendContact").await.len(), 1);
}

#[tokio::test]
async fn journal_entries_that_cannot_be_told_apart_leave_the_send_unconfirmed() {
    let unclear = [
        // No time: it may be an older copy, or this one.
        json!({"idMessage": "A", "typeMessage": "textMessage", "chatId": CHAT, "textMessage": "hello"}),
        // A time that is no unix time.
        json!({"idMessage": "A", "timestamp": -5, "typeMessage": "textMessage", "chatId": CHAT, "textMessage": "hello"}),
        json!({"idMessage": "A", "timestamp": "soon", "typeMessage": "textMessage", "chatId": CHAT, "textMessage": "hello"}),
        // No text to compare.
        json!({"idMessage": "A", "timestamp": now(), "typeMessage": "textMessage", "chatId": CHAT}),
        // No id to return.
        json!({"timestamp": now(), "typeMessage": "textMessage", "chatId": CHAT, "textMessage": "hello"}),
        // Not an entry at all.
        json!("hello"),
    ];
    for entry in unclear {
        let server = MockServer::start().await;
        slow_send_message(&server, None).await;
        journal(&server, json!([entry])).await;

        let result = impatient_whatsapp(&server.uri())
            .send_text(&chat(), "hello", &SendOptions::new())
            .await;

        let error = result.expect_err(&entry.to_string());
        assert!(matches!(unconfirmed(error), Error::Timeout), "{entry}");
        assert_eq!(calls_of(&server, "sendMessage").await.len(), 1, "{entry}");
    }
}

#[tokio::test]
async fn a_max_contact_card_is_not_repeated_for_want_of_a_journal_shape() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(SLOW))
        .mount(&server)
        .await;
    let client = GreenApi::max(server.uri(), INSTANCE, TOKEN)
        .settings(impatient())
        .build()
        .unwrap();

    let error = client
        .send_contact(
            &ChatId::from("10000000"),
            &ContactCard::new().chat_id("20000001"),
            &SendOptions::new(),
        )
        .await
        .unwrap_err();

    assert!(matches!(unconfirmed(error), Error::Timeout));
    assert_eq!(
        requests(&server).await.len(),
        1,
        "no journal asked, no repeat"
    );
}

// ---- what proves nothing arrived is retried; look-ups are retried; the opt-in ----

/// A connector layer counting the connections a client opens.
#[derive(Clone)]
struct CountConnections(Arc<AtomicUsize>);

impl<S> tower::Layer<S> for CountConnections {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            count: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct Counted<S> {
    inner: S,
    count: Arc<AtomicUsize>,
}

impl<S: tower::Service<R>, R> tower::Service<R> for Counted<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.call(request)
    }
}

#[tokio::test]
async fn a_send_whose_connection_was_refused_is_retried() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let connections = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder()
        .connector_layer(CountConnections(connections.clone()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = GreenApi::whatsapp(format!("http://{address}"), INSTANCE, TOKEN)
        .settings(fast_settings().http_client(http))
        .build()
        .unwrap();

    let error = client
        .send_text(&chat(), "hello", &SendOptions::new())
        .await
        .unwrap_err();

    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), MAX_ATTEMPTS);
}

#[tokio::test]
async fn a_rate_limited_send_is_retried_until_it_goes_out() {
    let server = MockServer::start().await;
    green_api(
        &server,
        "POST",
        "sendMessage",
        ResponseTemplate::new(429),
        Some(2),
    )
    .await;
    let sent = ResponseTemplate::new(200).set_body_json(json!({"idMessage": "THIRD"}));
    green_api(&server, "POST", "sendMessage", sent, None).await;

    let sent = whatsapp(&server.uri())
        .send_text(&chat(), "hello", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("THIRD"));
    assert_eq!(calls_of(&server, "sendMessage").await.len(), 3);
    assert!(calls_of(&server, "lastOutgoingMessages").await.is_empty());
}

#[tokio::test]
async fn at_least_once_sends_are_repeated_after_a_time_out() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(SLOW))
        .mount(&server)
        .await;

    let error = impatient_zapi(&server.uri(), fast_retry().at_least_once_sends(true))
        .send_text(&ChatId::from("5544999999999"), "olá", &SendOptions::new())
        .await
        .unwrap_err();

    assert!(matches!(error, Error::Timeout), "{error:?}");
    assert_eq!(requests(&server).await.len(), MAX_ATTEMPTS);
}

#[tokio::test]
async fn at_least_once_green_api_sends_skip_the_journal() {
    let server = MockServer::start().await;
    slow_send_message(&server, Some(1)).await;
    let sent = ResponseTemplate::new(200).set_body_json(json!({"idMessage": "AGAIN"}));
    green_api(&server, "POST", "sendMessage", sent, None).await;
    let client = GreenApi::whatsapp(server.uri(), INSTANCE, TOKEN)
        .settings(impatient().retry(fast_retry().at_least_once_sends(true)))
        .build()
        .unwrap();

    let sent = client
        .send_text(&chat(), "hello", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("AGAIN"));
    assert_eq!(calls_of(&server, "sendMessage").await.len(), 2);
    assert!(calls_of(&server, "lastOutgoingMessages").await.is_empty());
}

#[tokio::test]
async fn look_ups_are_still_retried_after_a_time_out() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(SLOW))
        .mount(&server)
        .await;

    // getContactInfo is a POST, and still a look-up.
    let error = impatient_whatsapp(&server.uri())
        .contact_info(&chat())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout), "{error:?}");
    assert_eq!(requests(&server).await.len(), MAX_ATTEMPTS);

    let zapi_server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(SLOW))
        .mount(&zapi_server)
        .await;
    let error = impatient_zapi(&zapi_server.uri(), fast_retry())
        .contact_info(&ChatId::from("5544999999999"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout), "{error:?}");
    assert_eq!(requests(&zapi_server).await.len(), MAX_ATTEMPTS);
}
