//! The sandbox gateway over real HTTP: hookbot's own GREEN-API client against it (WhatsApp, MAX
//! and Telegram), each documented refusal, webhook delivery (bearer token, order, the same notification
//! again after a failure), the receiveNotification queue, and the JSON API of the web chat.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hookbot::gateway::Gateway;
use hookbot::gateway::{
    ClientSettings, GatewayKind, GreenApi, RateLimits, RetryPolicy, SendOptions, TypingKind,
};
use hookbot::sandbox::{Author, EntryContent, Platform, Sandbox, SharedCard, UserMessage};
use hookbot::{ChatId, ContactCard, ContactKind, Error, Event, MessageId, PeerKind, Rule};
use serde_json::{Value, json};

const VASILISA: &str = "79001234567@c.us";
const IVAN: &str = "79001234568@c.us";
const GROUP: &str = "120363043968066561@g.us";

// ---- helpers ----

/// A sandbox of `platform` on a free port: (sandbox, base URL).
async fn sandbox_on(platform: Platform) -> (Sandbox, String) {
    let sandbox = Sandbox::builder().platform(platform).build();
    let url = common::serve(sandbox.router()).await;
    (sandbox, url)
}

/// hookbot's client of the sandbox at `url`, with no rate limits or retries.
fn client(sandbox: &Sandbox, url: &str) -> GreenApi {
    let builder = match sandbox.platform() {
        Platform::Max => GreenApi::max(url, sandbox.instance(), sandbox.token().clone()),
        Platform::Telegram => GreenApi::telegram(url, sandbox.instance(), sandbox.token().clone()),
        _ => GreenApi::whatsapp(url, sandbox.instance(), sandbox.token().clone()),
    };
    builder
        .settings(
            ClientSettings::new()
                .rate_limits(RateLimits::unlimited())
                .retry(RetryPolicy::none()),
        )
        .build()
        .unwrap()
}

/// `{url}/waInstance{id}/{method}/{token}` of the sandbox's own credentials.
fn method_url(sandbox: &Sandbox, url: &str, method: &str) -> String {
    format!(
        "{url}/waInstance{}/{method}/{}",
        sandbox.instance(),
        sandbox.token().expose()
    )
}

/// POSTs raw bytes; the status and the JSON answer (`null` when not JSON).
async fn post_raw(url: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
    let answer = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn post_json(url: &str, body: &Value) -> (StatusCode, Value) {
    post_raw(url, serde_json::to_vec(body).unwrap()).await
}

async fn get_json(url: &str) -> (StatusCode, Value) {
    let answer = reqwest::get(url).await.unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The `message` of a GREEN-API refusal, checked to be one line.
fn refusal_message(answer: &Value) -> String {
    let message = answer["message"].as_str().expect("a message").to_owned();
    assert!(!message.contains('\n'), "one line: {message:?}");
    message
}

/// The error texts in `chat`'s history.
fn errors_in(sandbox: &Sandbox, chat: &str) -> Vec<String> {
    sandbox
        .history(&ChatId::from(chat))
        .iter()
        .filter_map(|entry| entry.error().map(str::to_owned))
        .collect()
}

/// One notification a receiver got: its `Authorization` header and its JSON.
type Delivery = (Option<String>, Value);

/// A webhook receiver that answers the statuses of `answers` in turn (200 once they run out)
/// and keeps what it received.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Delivery>>>,
    answers: Arc<Mutex<Vec<StatusCode>>>,
}

impl Receiver {
    async fn start(answers: Vec<StatusCode>) -> (Self, String) {
        let receiver = Receiver {
            answers: Arc::new(Mutex::new(answers.into_iter().rev().collect())),
            ..Receiver::default()
        };
        let state = receiver.clone();
        let router = axum::Router::new().route(
            "/webhook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    let token = headers
                        .get("authorization")
                        .map(|value| value.to_str().unwrap().to_owned());
                    let body = serde_json::from_slice(&body).unwrap();
                    state.received.lock().unwrap().push((token, body));
                    state
                        .answers
                        .lock()
                        .unwrap()
                        .pop()
                        .unwrap_or(StatusCode::OK)
                }
            }),
        );
        let url = common::serve(router).await;
        (receiver, format!("{url}/webhook"))
    }

    fn received(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until `count` notifications came.
    async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        for _ in 0..1000 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {count} notifications, got {:#?}", self.received());
    }
}

// ---- hookbot's client against the sandbox ----

#[tokio::test]
async fn whatsapp_client_sends_text_and_quoted_contact_and_the_history_shows_them() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let gateway = client(&sandbox, &url);
    let chat = ChatId::from(VASILISA);
    let asked = sandbox
        .send(UserMessage::text(VASILISA, "contact иван"))
        .await
        .unwrap();

    let text = gateway
        .send_text(&chat, "Сейчас найду", &SendOptions::new())
        .await
        .unwrap();
    let card = ContactCard::new()
        .phone("79001234568")
        .first_name("Иван")
        .last_name("Царевич");
    let contact = gateway
        .send_contact(&chat, &card, &SendOptions::new().quote(asked.clone()))
        .await
        .unwrap();

    let history = sandbox.history(&chat);
    assert_eq!(history.len(), 3, "{history:#?}");
    assert_eq!(history[0].author, Author::Person(chat.clone()));
    assert_eq!(history[1].id, text.id);
    assert_eq!(history[1].author, Author::Bot);
    assert_eq!(history[1].text(), Some("Сейчас найду"));
    assert_eq!(history[2].id, contact.id);
    assert_eq!(history[2].quoted, Some(asked.clone()));
    assert_eq!(history[2].quoted_text.as_deref(), Some("contact иван"));
    assert_eq!(
        history[2].content,
        EntryContent::Contact(SharedCard {
            phone_contact: Some(79001234568),
            first_name: Some("Иван".into()),
            last_name: Some("Царевич".into()),
            ..SharedCard::default()
        })
    );
    assert_eq!(text.id.as_str().len(), 32);
    assert_ne!(text.id, contact.id);

    let (status, entries) = get_json(&format!("{url}/sandbox/messages?chat={VASILISA}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        entries[2],
        json!({"id": contact.id, "chat": VASILISA, "from": "bot", "type": "contact",
               "contact": {"phoneContact": 79001234568_u64, "firstName": "Иван", "lastName": "Царевич"},
               "quoted": asked, "quotedText": "contact иван", "timestamp": entries[2]["timestamp"]})
    );
    assert_eq!(entries[0]["from"], VASILISA);
    assert_eq!(entries[1]["type"], "text");
}

#[tokio::test]
async fn whatsapp_client_reads_the_seeded_contacts_and_contact_info() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let gateway = client(&sandbox, &url);

    let contacts = gateway.contacts().await.unwrap();
    assert_eq!(contacts, sandbox.contacts());
    let by_id = |id: &str| contacts.iter().find(|c| c.chat_id.as_str() == id).unwrap();
    assert_eq!(&*by_id(VASILISA).contact_name, "Василиса Премудрая");
    assert_eq!(&*by_id(VASILISA).name, "Василиса");
    assert_eq!(by_id("79001234569@c.us").display_name(), "Alice Johnson");
    let nameless = by_id("79001234571@c.us");
    assert!(nameless.name.is_empty() && nameless.contact_name.is_empty());
    assert_eq!(by_id("79001234572@c.us").display_name(), "Царевна Лягушка");
    assert_eq!(by_id(GROUP).kind, ContactKind::Group);
    assert_eq!(&*by_id(GROUP).name, "Hookbot testers");
    assert_eq!(gateway.contacts_up_to(2).await.unwrap().len(), 2);

    let info = gateway.contact_info(&ChatId::from(IVAN)).await.unwrap();
    assert_eq!(info.name, "Иван");
    assert_eq!(info.contact_name, "Иван Царевич");
    assert_eq!(info.phone.as_deref(), Some("79001234568"));
    let stranger = gateway
        .contact_info(&ChatId::from("79009999999@c.us"))
        .await
        .unwrap();
    assert_eq!(stranger.display_name(), "79009999999");

    let (status, listed) = get_json(&format!("{url}/sandbox/contacts")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed[0],
        json!({"chatId": VASILISA, "name": "Василиса", "contactName": "Василиса Премудрая",
               "phone": "79001234567", "type": "user"})
    );
    assert_eq!(listed[6]["type"], "group");
    assert_eq!(listed[6]["phone"], Value::Null);
}

#[tokio::test]
async fn max_client_sends_and_reads_contacts_on_v3_paths() {
    let (sandbox, url) = sandbox_on(Platform::Max).await;
    let gateway = client(&sandbox, &url);

    let contacts = gateway.contacts().await.unwrap();
    assert_eq!(contacts, sandbox.contacts());
    assert_eq!(contacts[0].chat_id.as_str(), "10000000");
    assert_eq!(&*contacts[0].contact_name, "Василиса Премудрая");
    assert_eq!(contacts[0].phone.as_deref(), Some("79001234567"));
    assert_eq!(contacts[5].phone, None, "a hidden phone is 0 on the wire");

    let chat = ChatId::from("10000000");
    let card = ContactCard::new().chat_id("10000001").first_name("Иван");
    let sent = gateway
        .send_contact(&chat, &card, &SendOptions::new())
        .await
        .unwrap();
    gateway
        .send_text(&chat, &"я".repeat(4000), &SendOptions::new())
        .await
        .unwrap();
    let history = sandbox.history(&chat);
    assert_eq!(history[0].id, sent.id);
    assert_eq!(
        history[0].card().unwrap().chat_id,
        Some(ChatId::from("10000001"))
    );
    assert_eq!(history[1].text().unwrap().chars().count(), 4000);

    let info = gateway
        .contact_info(&ChatId::from("10000001"))
        .await
        .unwrap();
    assert_eq!(info.contact_name, "Иван Царевич");
    assert_eq!(info.phone.as_deref(), Some("79001234568"));
}

#[tokio::test]
async fn telegram_client_reads_kinds_usernames_and_hidden_phones_and_sends_quoted_cards() {
    let (sandbox, url) = sandbox_on(Platform::Telegram).await;
    let gateway = client(&sandbox, &url);

    let contacts = gateway.contacts().await.unwrap();
    assert_eq!(contacts, sandbox.contacts());
    let kind_of = |id: &str| {
        contacts
            .iter()
            .find(|contact| contact.chat_id.as_str() == id)
            .map(|contact| contact.kind)
    };
    assert_eq!(kind_of("20000000"), Some(ContactKind::Bot));
    assert_eq!(kind_of("-1001234567890"), Some(ContactKind::Supergroup));
    let frog = &contacts[5];
    assert!(frog.phone.is_none() && frog.phone_hidden);
    assert_eq!(frog.username.as_deref(), Some("tsarevna_lyagushka"));

    let chat = ChatId::from("-1001234567890");
    let asked = sandbox
        .send(UserMessage::text("10000000", "contact ivan").in_group("-1001234567890"))
        .await
        .unwrap();
    let options = SendOptions::new()
        .quote(asked.clone())
        .typing(Duration::from_secs(1))
        .typing_kind(TypingKind::ChooseContact);
    let card = ContactCard::new()
        .phone("79001234568")
        .first_name("Иван")
        .middle_name("Петрович");
    gateway.send_contact(&chat, &card, &options).await.unwrap();
    gateway
        .send_text(&chat, &"я".repeat(4096), &options)
        .await
        .unwrap();
    let history = sandbox.history(&chat);
    assert_eq!(history[1].quoted.as_ref(), Some(&asked));
    let shared = history[1].card().unwrap();
    assert_eq!(shared.phone_contact, Some(79001234568));
    assert_eq!(shared.first_name.as_deref(), Some("Иван Петрович"));
    assert_eq!(history[2].quoted.as_ref(), Some(&asked));
    assert_eq!(history[2].text().unwrap().chars().count(), 4096);

    let refused = gateway
        .send_contact(
            &ChatId::from("10000000"),
            &ContactCard::from(frog),
            &SendOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Validation(invalid) if invalid.rule == Rule::PhoneHidden),
        "{refused}"
    );

    let info = gateway
        .contact_info(&ChatId::from("10000001"))
        .await
        .unwrap();
    assert_eq!(info.contact_name, "Иван Царевич");
    assert_eq!(info.username.as_deref(), Some("ivan_tsarevich"));
}

#[tokio::test]
async fn telegram_sandbox_refuses_what_telegram_refuses() {
    let (sandbox, url) = sandbox_on(Platform::Telegram).await;
    let send_message = method_url(&sandbox, &url, "sendMessage");
    let (status, answer) = post_json(
        &send_message,
        &json!({"chatId": "10000000", "message": "я".repeat(4097)}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refusal_message(&answer).contains("4096"));
    let (status, answer) = post_json(
        &send_message,
        &json!({"chatId": "10000000", "message": "hi", "typingType": ["text"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refusal_message(&answer).contains("typingType"));
    let (status, _) = post_json(
        &send_message,
        &json!({"chatId": "79001234567@c.us", "message": "to a phone", "typingType": "text"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "sends take the phone form");
    let (status, answer) = post_json(
        &method_url(&sandbox, &url, "sendContact"),
        &json!({"chatId": "10000000", "contact": {"phoneContact": 1234567890123456_u64, "firstName": "A"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refusal_message(&answer).contains("7 to 15 digits"));
    let (status, _) = post_json(
        &method_url(&sandbox, &url, "getContactInfo"),
        &json!({"chatId": "79001234567@c.us"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "look-ups take no phone form"
    );
    assert_eq!(errors_in(&sandbox, "10000000").len(), 3);
}

#[tokio::test]
async fn method_names_are_case_insensitive_and_both_path_forms_answer() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let body = json!({"chatId": VASILISA, "message": "hi"});
    let (status, answer) = post_json(&method_url(&sandbox, &url, "SendMessage"), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let v3 = format!("{url}/v3/waInstance1101000001/sendMessage/sandbox-token");
    let (status, _) = post_json(&v3, &body).await;
    assert_eq!(status, StatusCode::OK);
    let (status, state) = get_json(&method_url(&sandbox, &url, "getStateInstance")).await;
    assert_eq!(
        (status, state),
        (StatusCode::OK, json!({"stateInstance": "authorized"}))
    );
    assert_eq!(sandbox.history(&ChatId::from(VASILISA)).len(), 2);
}

// ---- documented refusals ----

#[tokio::test]
async fn wrong_token_is_401() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let gateway = GreenApi::whatsapp(&url, sandbox.instance(), "wrong-token")
        .settings(ClientSettings::new().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let error = gateway.contacts().await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized), "{error:?}");
    let raw = format!("{url}/waInstance{}/getContacts/wrong", sandbox.instance());
    assert_eq!(get_json(&raw).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_instance_is_403() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let gateway = GreenApi::whatsapp(&url, "1101000002", sandbox.token().clone())
        .settings(ClientSettings::new().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let error = gateway.contacts().await.unwrap_err();
    assert!(matches!(error, Error::Forbidden), "{error:?}");
}

/// POSTs `body` to `method` and checks a 400 `Validation failed. Details: ...` naming `field`,
/// shown as an error entry in `chat`.
async fn assert_validation_refusal(method: &str, body: Value, field: &str, chat: &str) {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let (status, answer) = post_json(&method_url(&sandbox, &url, method), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = refusal_message(&answer);
    assert!(
        message.starts_with("Validation failed. Details: "),
        "{message}"
    );
    assert!(message.contains(field), "{message} names {field}");
    assert_eq!(
        errors_in(&sandbox, chat),
        vec![format!("{method} refused: {message}")]
    );
}

#[tokio::test]
async fn send_message_with_a_malformed_chat_id_is_400() {
    let body = json!({"chatId": "79001234567", "message": "hi"});
    assert_validation_refusal("sendMessage", body, "chatId", "79001234567").await;
}

#[tokio::test]
async fn send_message_with_an_empty_message_is_400() {
    let body = json!({"chatId": VASILISA, "message": ""});
    assert_validation_refusal("sendMessage", body, "message", VASILISA).await;
}

#[tokio::test]
async fn send_message_over_20000_characters_is_400() {
    let body = json!({"chatId": VASILISA, "message": "ж".repeat(20001)});
    assert_validation_refusal("sendMessage", body, "20000", VASILISA).await;
}

#[tokio::test]
async fn send_message_over_4000_characters_on_max_is_400() {
    let (sandbox, url) = sandbox_on(Platform::Max).await;
    let body = json!({"chatId": "10000000", "message": "ж".repeat(4001)});
    let (status, answer) = post_json(&method_url(&sandbox, &url, "sendMessage"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refusal_message(&answer).contains("4000"));
}

#[tokio::test]
async fn send_contact_with_a_10_digit_phone_is_400() {
    let body = json!({"chatId": VASILISA, "contact": {"phoneContact": 7900123456_u64, "firstName": "Иван"}});
    assert_validation_refusal("sendContact", body, "phoneContact", VASILISA).await;
}

#[tokio::test]
async fn send_contact_without_any_name_is_400() {
    let body = json!({"chatId": VASILISA, "contact": {"phoneContact": 79001234568_u64}});
    assert_validation_refusal("sendContact", body, "firstName", VASILISA).await;
}

#[tokio::test]
async fn send_message_with_typing_time_999_is_400() {
    let body = json!({"chatId": VASILISA, "message": "hi", "typingTime": 999});
    assert_validation_refusal("sendMessage", body, "typingTime", VASILISA).await;
}

#[tokio::test]
async fn json_over_100_kb_is_500_request_entity_too_large() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let body = json!({"chatId": VASILISA, "message": "x".repeat(101 * 1024)});
    let (status, answer) = post_json(&method_url(&sandbox, &url, "sendMessage"), &body).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(refusal_message(&answer), "request entity too large");
    assert_eq!(
        errors_in(&sandbox, VASILISA),
        vec!["sendMessage refused: request entity too large".to_owned()]
    );
}

#[tokio::test]
async fn max_send_contact_of_an_unknown_contact_is_400_contact_not_found() {
    let (sandbox, url) = sandbox_on(Platform::Max).await;
    let body = json!({"chatId": "10000000", "contact": {"chatId": "20000001"}});
    let (status, answer) = post_json(&method_url(&sandbox, &url, "sendContact"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refusal_message(&answer), "Contact 20000001 not found");

    let gateway = client(&sandbox, &url);
    let card = ContactCard::new().chat_id("20000002");
    let error = gateway
        .send_contact(&ChatId::from("10000000"), &card, &SendOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::ContactNotFound { chat_id } if chat_id == "20000002"),
        "{error:?}"
    );
    assert_eq!(
        errors_in(&sandbox, "10000000"),
        vec![
            "sendContact refused: Contact 20000001 not found".to_owned(),
            "sendContact refused: Contact 20000002 not found".to_owned(),
        ]
    );
}

#[tokio::test]
async fn get_contact_info_on_a_group_is_400_with_green_apis_text() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let body = json!({"chatId": GROUP});
    let (status, answer) = post_json(&method_url(&sandbox, &url, "getContactInfo"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refusal_message(&answer),
        "Validation failed. Details: The method GetContactInfo does not support group chats, to work with groups, use the GetGroupData method"
    );
    assert_eq!(errors_in(&sandbox, GROUP).len(), 1);
}

// ---- notifications ----

#[tokio::test]
async fn a_persons_message_reaches_the_webhook_with_the_bearer_token_and_parses() {
    let (receiver, webhook) = Receiver::start(vec![]).await;
    let sandbox = Sandbox::builder()
        .webhook(webhook, Some("hook-secret".into()))
        .build();
    let first = sandbox
        .send(UserMessage::text(IVAN, "привет").in_group(GROUP))
        .await
        .unwrap();
    let second = sandbox
        .send(
            UserMessage::text(IVAN, "contact василиса")
                .in_group(GROUP)
                .quoting(first.clone()),
        )
        .await
        .unwrap();

    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].0.as_deref(), Some("Bearer hook-secret"));
    let body = serde_json::to_vec(&received[1].1).unwrap();
    let event = Event::parse(GatewayKind::GreenApiWhatsApp, &body).unwrap();
    assert_eq!(event.gateway, GatewayKind::GreenApiWhatsApp);
    assert_eq!(&*event.instance, "1101000001");
    let message = event.message().expect("a message");
    assert_eq!(message.id, second);
    assert_eq!(message.chat.as_str(), GROUP);
    assert_eq!(message.chat_name, "Hookbot testers");
    assert_eq!(message.sender.as_str(), IVAN);
    assert_eq!(message.sender_name, "Иван");
    assert_eq!(message.sender_display_name(), "Иван Царевич");
    assert!(message.is_group);
    assert_eq!(message.text(), Some("contact василиса"));
    assert_eq!(message.quoted, Some(first));
    assert_eq!(
        received[1].1["messageData"]["quotedMessage"]["textMessage"],
        "привет"
    );
    assert_eq!(received[0].1["messageData"]["typeMessage"], "textMessage");
}

#[tokio::test]
async fn max_notifications_name_the_v3_instance_and_parse_as_max() {
    let (receiver, webhook) = Receiver::start(vec![]).await;
    let sandbox = Sandbox::builder()
        .platform(Platform::Max)
        .webhook(webhook, None)
        .build();
    sandbox
        .send(UserMessage::text("10000001", "hello"))
        .await
        .unwrap();
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].0, None, "no token, no header");
    let body = serde_json::to_vec(&received[0].1).unwrap();
    let event = Event::parse(GatewayKind::GreenApiWhatsApp, &body).unwrap();
    assert_eq!(event.gateway, GatewayKind::GreenApiMax);
    let message = event.message().unwrap();
    assert_eq!(message.sender.as_str(), "10000001");
    assert_eq!(message.sender_phone.as_deref(), Some("79001234568"));
    assert_eq!(message.sender_display_name(), "Иван Царевич");
}

#[tokio::test]
async fn telegram_notifications_say_the_sender_and_chat_kinds_and_parse_as_telegram() {
    let (receiver, webhook) = Receiver::start(vec![]).await;
    let sandbox = Sandbox::builder()
        .platform(Platform::Telegram)
        .webhook(webhook, None)
        .build();
    sandbox
        .send(UserMessage::text("10000001", "hello"))
        .await
        .unwrap();
    sandbox
        .send(UserMessage::text("20000000", "I am a bot").in_group("-1001234567890"))
        .await
        .unwrap();
    let received = receiver.wait_for(2).await;
    let parse = |body: &Value| {
        let body = serde_json::to_vec(body).unwrap();
        Event::parse(GatewayKind::GreenApiWhatsApp, &body).unwrap()
    };
    let private = parse(&received[0].1);
    assert_eq!(private.gateway, GatewayKind::GreenApiTelegram);
    let message = private.message().unwrap();
    assert_eq!(message.sender_phone.as_deref(), Some("79001234568"));
    assert_eq!(message.sender_kind, Some(PeerKind::User));
    assert_eq!(message.chat_kind, Some(PeerKind::User));
    let group = parse(&received[1].1);
    let message = group.message().unwrap();
    assert!(message.is_group && message.is_from_bot());
    assert_eq!(message.chat_kind, Some(PeerKind::Supergroup));
    assert_eq!(message.sender_phone, None, "a bot's phone is hidden");
    assert_eq!(message.sender_display_name(), "Hookbot Helper");
}

#[tokio::test]
async fn a_refused_notification_is_delivered_again_and_holds_back_the_next() {
    let failing = vec![
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::INTERNAL_SERVER_ERROR,
    ];
    let (receiver, webhook) = Receiver::start(failing).await;
    let sandbox = Sandbox::builder()
        .webhook(webhook, Some("t".into()))
        .retry_delay(Duration::from_millis(50))
        .build();
    let first = sandbox.send(UserMessage::text(IVAN, "one")).await.unwrap();
    let second = sandbox.send(UserMessage::text(IVAN, "two")).await.unwrap();
    let received = receiver.wait_for(4).await;
    let ids: Vec<&str> = received
        .iter()
        .map(|(_, body)| body["idMessage"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            first.as_str(),
            first.as_str(),
            first.as_str(),
            second.as_str()
        ]
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.received().len(),
        4,
        "nothing delivered twice after a 200"
    );
}

#[tokio::test]
async fn without_a_webhook_notifications_wait_in_a_fifo_queue_until_deleted() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let first = sandbox.send(UserMessage::text(IVAN, "one")).await.unwrap();
    sandbox
        .deliver(json!({"typeWebhook": "stateInstanceChanged", "stateInstance": "authorized"}))
        .await;
    let receive = format!(
        "{}?receiveTimeout=5",
        method_url(&sandbox, &url, "receiveNotification")
    );

    let (status, head) = get_json(&receive).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(head["body"]["idMessage"], first.as_str());
    let receipt = head["receiptId"].as_u64().unwrap();
    let (_, again) = get_json(&receive).await;
    assert_eq!(again, head, "not deleted: it comes back");

    let delete = |receipt: u64| {
        let url = format!(
            "{}/{receipt}",
            method_url(&sandbox, &url, "deleteNotification")
        );
        async move {
            let answer = reqwest::Client::new().delete(url).send().await.unwrap();
            answer.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(delete(receipt).await, json!({"result": true}));
    let (_, next) = get_json(&receive).await;
    assert_eq!(next["body"]["typeWebhook"], "stateInstanceChanged");
    assert_ne!(next["receiptId"].as_u64().unwrap(), receipt);
    assert_eq!(
        delete(next["receiptId"].as_u64().unwrap()).await,
        json!({"result": true})
    );
    assert_eq!(delete(receipt).await, json!({"result": false}));

    let started = tokio::time::Instant::now();
    let (status, empty) = get_json(&receive).await;
    assert_eq!((status, empty), (StatusCode::OK, Value::Null));
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "long poll waits"
    );
}

#[tokio::test]
async fn set_settings_sends_later_notifications_to_the_webhook() {
    let (receiver, webhook) = Receiver::start(vec![]).await;
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let settings = json!({"webhookUrl": webhook, "webhookUrlToken": "from-settings", "incomingWebhook": "yes"});
    let (status, answer) = post_json(&method_url(&sandbox, &url, "setSettings"), &settings).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({"saveSettings": true}))
    );
    let (_, read) = get_json(&method_url(&sandbox, &url, "getSettings")).await;
    assert_eq!(read["webhookUrl"], webhook.as_str());

    sandbox.send(UserMessage::text(IVAN, "hi")).await.unwrap();
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].0.as_deref(), Some("Bearer from-settings"));
}

// ---- the web chat's JSON API ----

#[tokio::test]
async fn posting_a_message_as_a_person_refuses_bad_input_with_a_one_line_error() {
    let (_sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let messages = format!("{url}/sandbox/messages");
    for body in [
        json!({"from": "79001234567", "text": "hi"}),
        json!({"from": GROUP, "text": "hi"}),
        json!({"from": VASILISA, "text": "  "}),
        json!({"from": VASILISA, "chat": IVAN, "text": "hi"}),
        json!({"text": "hi"}),
    ] {
        let (status, answer) = post_json(&messages, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let error = answer["error"].as_str().expect("an error");
        assert!(!error.is_empty() && !error.contains('\n'), "{error:?}");
    }
    let (status, answer) = post_raw(&messages, "not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"].is_string());
}

#[tokio::test]
async fn a_chats_messages_come_back_in_order() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let messages = format!("{url}/sandbox/messages");
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (status, answer) = post_json(
            &messages,
            &json!({"from": IVAN, "chat": GROUP, "text": text}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        ids.push(answer["idMessage"].as_str().unwrap().to_owned());
    }
    let (_, answer) = post_json(
        &messages,
        &json!({"from": VASILISA, "chat": GROUP, "text": "four", "quoted": ids[0]}),
    )
    .await;
    ids.push(answer["idMessage"].as_str().unwrap().to_owned());

    let (status, entries) = get_json(&format!("{messages}?chat={GROUP}")).await;
    assert_eq!(status, StatusCode::OK);
    let got: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids);
    assert_eq!(entries[0]["from"], IVAN);
    assert_eq!(entries[0]["text"], "one");
    assert_eq!(entries[3]["quoted"], ids[0].as_str());
    assert_eq!(entries[3]["quotedText"], "one");
    assert_eq!(sandbox.history(&ChatId::from(GROUP)).len(), 4);
    assert_eq!(
        sandbox.history(&ChatId::from(GROUP))[3].quoted,
        Some(MessageId::from(ids[0].as_str()))
    );

    let (status, answer) = get_json(&messages).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"].as_str().unwrap().contains("chat"));
}

#[tokio::test]
async fn server_sent_events_deliver_each_new_entry() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let mut events = reqwest::get(format!("{url}/sandbox/events")).await.unwrap();
    assert_eq!(events.status(), reqwest::StatusCode::OK);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let id = sandbox
        .send(UserMessage::text(VASILISA, "через SSE"))
        .await
        .unwrap();

    let mut seen = String::new();
    let read = async {
        while !seen.contains("\n\n") || !seen.contains(id.as_str()) {
            let chunk = events.chunk().await.unwrap().expect("the stream goes on");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an event within 10 s");
    assert!(seen.contains("event: message"), "{seen}");
    let data = seen
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .expect("a data line");
    let entry: Value = serde_json::from_str(data).unwrap();
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["from"], VASILISA);
    assert_eq!(entry["text"], "через SSE");
}

#[tokio::test]
async fn the_web_chat_page_is_served_at_the_root() {
    let (_sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let answer = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(answer.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn the_web_chat_learns_which_messenger_the_sandbox_emulates() {
    for platform in Platform::ALL {
        let (sandbox, url) = sandbox_on(platform).await;
        let (status, instance) = get_json(&format!("{url}/sandbox/instance")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            instance,
            json!({
                "platform": platform.name(),
                "messenger": platform.messenger(),
                "idInstance": sandbox.instance(),
            })
        );
    }
    let (_sandbox, url) = sandbox_on(Platform::Telegram).await;
    let page = reqwest::get(format!("{url}/")).await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"data-testid="messenger""#));
    assert!(page.contains("/sandbox/instance"));
    let (_, contacts) = get_json(&format!("{url}/sandbox/contacts")).await;
    let bot = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|contact| contact["chatId"] == "20000000")
        .expect("the seeded bot");
    assert_eq!(bot["type"], "bot");
    assert_eq!(bot["username"], "hookbot_helper_bot");
}

#[tokio::test]
async fn send_refuses_a_sender_that_is_not_a_person() {
    let sandbox = Sandbox::builder().build();
    let error = sandbox
        .send(UserMessage::text(GROUP, "hi"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("from"), "{error}");
    assert!(sandbox.history(&ChatId::from(GROUP)).is_empty());
}

// ---- reply kinds beyond text and contact cards (issue 18) ----

/// POSTs `body` to the sandbox's `method`; the status and the JSON answer.
async fn call(sandbox: &Sandbox, url: &str, method: &str, body: Value) -> (StatusCode, Value) {
    post_json(&method_url(sandbox, url, method), &body).await
}

/// The sandbox's `GET /sandbox/messages?chat=` answer.
async fn journal(url: &str, chat: &str) -> Vec<Value> {
    let chat = url::form_urlencoded::byte_serialize(chat.as_bytes()).collect::<String>();
    let (status, entries) = get_json(&format!("{url}/sandbox/messages?chat={chat}")).await;
    assert_eq!(status, StatusCode::OK);
    entries.as_array().expect("an array").clone()
}

/// Asserts that `method` refuses `body` with 400 `Validation failed` naming `field`, shown in
/// the chat the body names.
async fn assert_refused_on(platform: Platform, method: &str, body: Value, field: &str) {
    let (sandbox, url) = sandbox_on(platform).await;
    let chat = body["chatId"].as_str().map(str::to_owned);
    let (status, answer) = call(&sandbox, &url, method, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = refusal_message(&answer);
    assert!(
        message.starts_with("Validation failed. Details: "),
        "{message}"
    );
    assert!(message.contains(field), "{field} in {message}");
    if let Some(chat) = chat {
        let errors = errors_in(&sandbox, &chat);
        assert!(
            errors.iter().any(|error| error.starts_with(method)),
            "{errors:?}"
        );
    }
}

#[tokio::test]
async fn send_file_by_url_is_recorded_with_its_name_caption_and_quote() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let (status, answer) = call(
        &sandbox,
        &url,
        "sendFileByUrl",
        json!({"chatId": VASILISA, "urlFile": "https://example.com/menu.png",
               "fileName": "menu.png", "caption": "Today's menu", "quotedMessageId": "Q1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let entries = journal(&url, VASILISA).await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["id"], answer["idMessage"]);
    assert_eq!(entry["type"], "file");
    assert_eq!(entry["from"], "bot");
    assert_eq!(entry["quoted"], "Q1");
    assert_eq!(
        entry["file"],
        json!({"url": "https://example.com/menu.png", "fileName": "menu.png", "caption": "Today's menu"})
    );
}

#[tokio::test]
async fn send_file_by_url_refuses_what_green_api_refuses() {
    let file = |extra: Value| {
        let mut body = json!({"chatId": VASILISA, "urlFile": "https://example.com/a.pdf", "fileName": "a.pdf"});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    assert_refused_on(
        Platform::WhatsApp,
        "sendFileByUrl",
        file(json!({"urlFile": null})),
        "urlFile",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendFileByUrl",
        file(json!({"urlFile": "file:///etc/passwd"})),
        "urlFile",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendFileByUrl",
        file(json!({"fileName": "menu"})),
        "fileName",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendFileByUrl",
        file(json!({"chatId": "79001234567"})),
        "chatId",
    )
    .await;
    assert_refused_on(Platform::Max, "sendFileByUrl", json!({"chatId": "10000000", "urlFile": "https://example.com/a.pdf", "fileName": "a.pdf", "caption": "x".repeat(4001)}), "caption").await;
}

/// A multipart form with `fields` and, when given, a `file` part named `file_name`.
fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "hookbot-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    sandbox: &Sandbox,
    url: &str,
    form: (String, Vec<u8>),
    origin: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(method_url(sandbox, url, "sendFileByUpload"))
        .header("content-type", form.0)
        .body(form.1);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let answer = request.send().await.unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_uploaded_file_is_served_back_at_its_url_and_shown_in_the_chat() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let picture: &[u8] = b"\x89PNG\r\n\x1a\nnot really a picture";
    let fields = [("chatId", VASILISA), ("caption", "the menu")];
    let (status, answer) = upload(
        &sandbox,
        &url,
        form(&fields, Some(("menu.png", picture))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let file_url = answer["urlFile"].as_str().expect("urlFile").to_owned();
    assert!(file_url.starts_with(&url), "{file_url} on {url}");
    let served = reqwest::get(&file_url).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), picture);
    let entries = journal(&url, VASILISA).await;
    assert_eq!(entries[0]["id"], answer["idMessage"]);
    assert_eq!(
        entries[0]["file"],
        json!({"url": file_url, "fileName": "menu.png", "caption": "the menu"})
    );
    // A page is never served as one of the sandbox's own.
    let (_, answer) = upload(
        &sandbox,
        &url,
        form(&[("chatId", VASILISA)], Some(("x.html", b"<script>"))),
        None,
    )
    .await;
    let served = reqwest::get(answer["urlFile"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "application/octet-stream");
    assert!(
        served.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
}

#[tokio::test]
async fn uploads_over_the_limit_without_a_file_or_from_another_site_are_refused() {
    let sandbox = Sandbox::builder().upload_limit(1024).build();
    let url = common::serve(sandbox.router()).await;
    let big = vec![b'x'; 2048];
    let (status, answer) = upload(
        &sandbox,
        &url,
        form(&[("chatId", VASILISA)], Some(("big.pdf", &big))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refusal_message(&answer).contains("at most 1024 bytes"),
        "{answer}"
    );
    let (status, answer) = upload(&sandbox, &url, form(&[("chatId", VASILISA)], None), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refusal_message(&answer).contains("file is required"),
        "{answer}"
    );
    let (status, answer) = upload(
        &sandbox,
        &url,
        form(&[("chatId", VASILISA)], Some(("noext", b"x"))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refusal_message(&answer).contains("fileName"), "{answer}");
    let (status, _) = upload(
        &sandbox,
        &url,
        form(&[("chatId", VASILISA)], Some(("a.pdf", b"x"))),
        Some("http://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // sendFileByUpload takes a form, not JSON.
    let (status, answer) = call(
        &sandbox,
        &url,
        "sendFileByUpload",
        json!({"chatId": VASILISA}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refusal_message(&answer).contains("multipart/form-data"),
        "{answer}"
    );
    // Only sendFileByUpload takes a form.
    let (content_type, body) = form(&[("chatId", VASILISA), ("message", "hi")], None);
    let answer = reqwest::Client::new()
        .post(method_url(&sandbox, &url, "sendMessage"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 415);
    assert_eq!(
        errors_in(&sandbox, VASILISA).len(),
        4,
        "the refusals show in the chat"
    );
}

#[tokio::test]
async fn send_location_is_recorded_and_checked() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let (status, answer) = call(
        &sandbox,
        &url,
        "sendLocation",
        json!({"chatId": VASILISA, "latitude": 55.7539, "longitude": 37.6208,
               "nameLocation": "Red Square", "address": "Moscow"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let entries = journal(&url, VASILISA).await;
    assert_eq!(entries[0]["type"], "location");
    assert_eq!(
        entries[0]["location"],
        json!({"latitude": 55.7539, "longitude": 37.6208, "name": "Red Square", "address": "Moscow"})
    );
    assert_refused_on(
        Platform::WhatsApp,
        "sendLocation",
        json!({"chatId": VASILISA, "latitude": 91, "longitude": 0}),
        "latitude",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendLocation",
        json!({"chatId": VASILISA, "latitude": 0}),
        "longitude",
    )
    .await;
    assert_refused_on(
        Platform::Max,
        "sendLocation",
        json!({"chatId": "10000000", "latitude": "55", "longitude": 0}),
        "latitude",
    )
    .await;
}

#[tokio::test]
async fn send_poll_is_recorded_and_takes_2_to_12_unique_options() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let options = |names: &[&str]| -> Value {
        names
            .iter()
            .map(|name| json!({"optionName": name}))
            .collect()
    };
    let (status, answer) = call(
        &sandbox,
        &url,
        "sendPoll",
        json!({"chatId": VASILISA, "message": "Tea or coffee?", "options": options(&["Tea", "Coffee"]),
               "multipleAnswers": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let entries = journal(&url, VASILISA).await;
    assert_eq!(entries[0]["type"], "poll");
    assert_eq!(
        entries[0]["poll"],
        json!({"question": "Tea or coffee?", "options": ["Tea", "Coffee"], "multipleAnswers": true})
    );
    let thirteen: Vec<String> = (0..13).map(|n| n.to_string()).collect();
    let thirteen: Vec<&str> = thirteen.iter().map(String::as_str).collect();
    let poll = |question: String, names: &[&str]| json!({"chatId": VASILISA, "message": question, "options": options(names)});
    assert_refused_on(
        Platform::WhatsApp,
        "sendPoll",
        poll("Q".into(), &["only"]),
        "2 to 12",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendPoll",
        poll("Q".into(), &thirteen),
        "2 to 12",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendPoll",
        poll("Q".into(), &["Tea", "Tea"]),
        "unique",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendPoll",
        poll("x".repeat(256), &["a", "b"]),
        "255",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendPoll",
        poll(" ".into(), &["a", "b"]),
        "message",
    )
    .await;
    assert_refused_on(
        Platform::Max,
        "sendPoll",
        json!({"chatId": "10000000", "message": "x".repeat(201), "options": options(&["a", "b"])}),
        "200",
    )
    .await;
    assert_refused_on(
        Platform::Telegram,
        "sendPoll",
        json!({"chatId": "10000000", "message": "Q", "options": options(&["a", "b"])}),
        "group",
    )
    .await;
}

#[tokio::test]
async fn buttons_are_recorded_checked_and_whatsapps_only() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let (status, answer) = call(
        &sandbox,
        &url,
        "sendInteractiveButtons",
        json!({"chatId": VASILISA, "header": "Shop", "body": "Find us", "footer": "9–18",
               "buttons": [{"type": "url", "buttonId": "1", "buttonText": "Site", "url": "https://example.com"},
                           {"type": "call", "buttonText": "Call", "phoneNumber": "79001234567"},
                           {"type": "copy", "buttonText": "Promo", "copyCode": "SALE"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = call(
        &sandbox,
        &url,
        "sendInteractiveButtonsReply",
        json!({"chatId": VASILISA, "body": "Tea or coffee?",
               "buttons": [{"buttonId": "tea", "buttonText": "Tea"}, {"buttonText": "Coffee"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let entries = journal(&url, VASILISA).await;
    assert_eq!(entries[0]["type"], "buttons");
    assert_eq!(entries[0]["buttons"]["header"], "Shop");
    assert_eq!(
        entries[0]["buttons"]["buttons"][1],
        json!({"type": "call", "buttonId": "2", "buttonText": "Call", "phoneNumber": "79001234567"})
    );
    assert_eq!(
        entries[1]["buttons"]["buttons"],
        json!([{"type": "reply", "buttonId": "tea", "buttonText": "Tea"},
               {"type": "reply", "buttonId": "2", "buttonText": "Coffee"}])
    );
    let reply = |buttons: Value| json!({"chatId": VASILISA, "body": "Pick", "buttons": buttons});
    let four: Vec<Value> = (0..4)
        .map(|n| json!({"buttonText": n.to_string()}))
        .collect();
    assert_refused_on(
        Platform::WhatsApp,
        "sendInteractiveButtonsReply",
        reply(json!(four)),
        "1 to 3",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendInteractiveButtonsReply",
        reply(json!([{"buttonText": "x".repeat(26)}])),
        "25",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendInteractiveButtons",
        reply(json!([{"type": "copy", "buttonText": "Promo"}])),
        "copyCode",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendInteractiveButtons",
        reply(json!([{"type": "reply", "buttonText": "A"}])),
        "type",
    )
    .await;
    for platform in [Platform::Max, Platform::Telegram] {
        let (sandbox, url) = sandbox_on(platform).await;
        for method in ["sendInteractiveButtons", "sendInteractiveButtonsReply"] {
            let (status, _) =
                call(&sandbox, &url, method, reply(json!([{"buttonText": "A"}]))).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} on {platform:?}");
        }
    }
}

#[tokio::test]
async fn forwarded_messages_are_copied_and_marked() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let (_, sent) = call(
        &sandbox,
        &url,
        "sendLocation",
        json!({"chatId": VASILISA, "latitude": 1.5, "longitude": 2.5}),
    )
    .await;
    let (status, answer) = call(
        &sandbox,
        &url,
        "forwardMessages",
        json!({"chatId": IVAN, "chatIdFrom": VASILISA, "messages": [sent["idMessage"]]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let entries = journal(&url, IVAN).await;
    assert_eq!(answer["messages"], json!([entries[0]["id"]]));
    assert_eq!(entries[0]["forwarded"], true);
    assert_eq!(
        entries[0]["location"],
        json!({"latitude": 1.5, "longitude": 2.5})
    );
    assert_refused_on(
        Platform::WhatsApp,
        "forwardMessages",
        json!({"chatId": IVAN, "chatIdFrom": VASILISA, "messages": ["NOPE"]}),
        "NOPE",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "forwardMessages",
        json!({"chatId": IVAN, "chatIdFrom": VASILISA, "messages": []}),
        "messages",
    )
    .await;
}

#[tokio::test]
async fn typing_and_read_marks_are_recorded_as_each_messenger_takes_them() {
    let (sandbox, url) = sandbox_on(Platform::WhatsApp).await;
    let answer = reqwest::Client::new()
        .post(method_url(&sandbox, &url, "sendTyping"))
        .json(&json!({"chatId": VASILISA, "typingTime": 3000, "typingType": "recording"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer.bytes().await.unwrap().is_empty(),
        "GREEN-API answers an empty body"
    );
    let (status, answer) = call(
        &sandbox,
        &url,
        "readChat",
        json!({"chatId": VASILISA, "idMessage": "M1"}),
    )
    .await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"setRead": true})));
    let entries = journal(&url, VASILISA).await;
    assert_eq!(entries[0]["type"], "typing");
    assert_eq!(
        entries[0]["typing"],
        json!({"typingTime": 3000, "typingType": "recording"})
    );
    assert_eq!(entries[1]["type"], "read");
    assert_eq!(entries[1]["read"], json!({"idMessage": "M1"}));
    assert_refused_on(
        Platform::WhatsApp,
        "sendTyping",
        json!({"chatId": VASILISA, "typingType": "video"}),
        "typingType",
    )
    .await;
    assert_refused_on(
        Platform::WhatsApp,
        "sendTyping",
        json!({"chatId": VASILISA, "typingTime": 999}),
        "typingTime",
    )
    .await;
    assert_refused_on(
        Platform::Max,
        "sendTyping",
        json!({"chatId": "10000000"}),
        "typingTime is required",
    )
    .await;
    let (sandbox, url) = sandbox_on(Platform::Max).await;
    let (status, _) = call(
        &sandbox,
        &url,
        "sendTyping",
        json!({"chatId": "10000000", "typingTime": 2000, "typingType": "video"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&sandbox, &url, "readChat", json!({"chatId": "10000000"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "MAX documents no readChat");
}

/// A sandbox delivering to a recording bot: (sandbox, its URL, the events the bot saw, the bot).
async fn sandbox_with_a_recording_bot() -> (Sandbox, String, common::Seen, common::Server) {
    let seen = common::Seen::default();
    let bot = common::offline_bot(
        GatewayKind::GreenApiWhatsApp,
        common::recording(&seen),
        "hook-secret",
    )
    .build()
    .unwrap();
    let server = common::Server::start(bot).await;
    let sandbox = Sandbox::builder()
        .webhook(
            format!("{}/webhook", server.url),
            Some("hook-secret".into()),
        )
        .build();
    let url = common::serve(sandbox.router()).await;
    (sandbox, url, seen, server)
}

/// Waits (up to 10 s) until the bot saw `count` events.
async fn events_seen(seen: &common::Seen, count: usize) -> Vec<Event> {
    for _ in 0..2000 {
        if seen.events().len() >= count {
            return seen.events();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the bot saw {:?}", seen.events());
}

#[tokio::test]
async fn a_vote_reaches_the_bot_as_a_poll_update_notification() {
    let (sandbox, url, seen, server) = sandbox_with_a_recording_bot().await;
    let options = json!([{"optionName": "Tea"}, {"optionName": "Coffee"}, {"optionName": "Water"}]);
    let (_, poll) = call(&sandbox, &url, "sendPoll", json!({"chatId": VASILISA, "message": "Drink?", "options": options, "multipleAnswers": true})).await;
    let poll_id = poll["idMessage"].as_str().unwrap().to_owned();
    let (status, answer) = post_json(
        &format!("{url}/sandbox/votes"),
        &json!({"from": VASILISA, "poll": poll_id, "options": ["Tea", "Water"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let events = events_seen(&seen, 1).await;
    let message = events[0].message().expect("a message");
    assert_eq!(message.id.as_str(), answer["idMessage"].as_str().unwrap());
    let hookbot::Content::PollUpdate { target, poll } = &message.content else {
        panic!("not a poll update: {:?}", message.content);
    };
    assert_eq!(
        target.as_ref().map(MessageId::as_str),
        Some(poll_id.as_str())
    );
    assert_eq!(poll.name, "Drink?");
    let voters: Vec<(String, Vec<String>)> = poll
        .votes
        .iter()
        .map(|vote| {
            (
                vote.option.clone(),
                vote.voters.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        voters,
        [
            ("Tea".into(), vec![VASILISA.to_owned()]),
            ("Coffee".into(), vec![]),
            ("Water".into(), vec![VASILISA.to_owned()])
        ]
    );
    let raw: Value = serde_json::from_str(events[0].raw.as_str()).unwrap();
    assert_eq!(raw["typeWebhook"], "incomingMessageReceived");
    assert_eq!(raw["messageData"]["typeMessage"], "pollUpdateMessage");
    assert_eq!(
        raw["messageData"]["pollMessageData"]["multipleAnswers"],
        true
    );
    // Votes the poll cannot take are refused, and nothing more reaches the bot.
    for (body, reason) in [
        (
            json!({"from": VASILISA, "poll": poll_id, "options": ["Juice"]}),
            "no option",
        ),
        (
            json!({"from": VASILISA, "poll": "NOPE", "options": ["Tea"]}),
            "no poll",
        ),
        (
            json!({"from": "nobody", "poll": poll_id, "options": ["Tea"]}),
            "from",
        ),
    ] {
        let (status, answer) = post_json(&format!("{url}/sandbox/votes"), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            answer["error"].as_str().unwrap().contains(reason),
            "{answer}"
        );
    }
    let (_, single) = call(&sandbox, &url, "sendPoll", json!({"chatId": VASILISA, "message": "One?", "options": [{"optionName": "a"}, {"optionName": "b"}]})).await;
    let (status, answer) = post_json(
        &format!("{url}/sandbox/votes"),
        &json!({"from": VASILISA, "poll": single["idMessage"], "options": ["a", "b"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"].as_str().unwrap().contains("one answer"),
        "{answer}"
    );
    server.stop().await.unwrap().unwrap();
    assert_eq!(seen.events().len(), 1);
}

#[tokio::test]
async fn a_pressed_reply_button_reaches_the_bot_and_shows_in_the_chat() {
    let (sandbox, url, seen, server) = sandbox_with_a_recording_bot().await;
    let (_, buttons) = call(
        &sandbox,
        &url,
        "sendInteractiveButtonsReply",
        json!({"chatId": VASILISA, "body": "Tea or coffee?",
               "buttons": [{"buttonId": "tea", "buttonText": "Tea"}, {"buttonId": "coffee", "buttonText": "Coffee"}]}),
    )
    .await;
    let buttons_id = buttons["idMessage"].as_str().unwrap().to_owned();
    let (status, answer) = post_json(
        &format!("{url}/sandbox/presses"),
        &json!({"from": VASILISA, "message": buttons_id, "buttonId": "coffee"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let events = events_seen(&seen, 1).await;
    let message = events[0].message().expect("a message");
    assert_eq!(
        message.content,
        hookbot::Content::ButtonReply {
            id: "coffee".into(),
            text: "Coffee".into()
        }
    );
    assert_eq!(
        message.quoted.as_ref().map(MessageId::as_str),
        Some(buttons_id.as_str())
    );
    let raw: Value = serde_json::from_str(events[0].raw.as_str()).unwrap();
    assert_eq!(
        raw["messageData"],
        json!({"typeMessage": "interactiveButtonsResponse",
               "interactiveButtonsResponse": {"stanzaId": buttons_id, "selectedIndex": 1,
                                              "selectedId": "coffee", "selectedDisplayText": "Coffee"}})
    );
    let entries = journal(&url, VASILISA).await;
    assert_eq!(entries[1]["from"], VASILISA);
    assert_eq!(entries[1]["text"], "Coffee");
    assert_eq!(entries[1]["quoted"], buttons_id.as_str());
    let (status, answer) = post_json(
        &format!("{url}/sandbox/presses"),
        &json!({"from": VASILISA, "message": buttons_id, "buttonId": "juice"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"].as_str().unwrap().contains("juice"),
        "{answer}"
    );
    let (status, _) = post_json(
        &format!("{url}/sandbox/presses"),
        &json!({"from": VASILISA, "message": entries[1]["id"], "buttonId": "coffee"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a text has no buttons");
    server.stop().await.unwrap().unwrap();
    assert_eq!(seen.events().len(), 1);
}
