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
    assert_eq!(by_id(VASILISA).contact_name, "Василиса Премудрая");
    assert_eq!(by_id(VASILISA).name, "Василиса");
    assert_eq!(by_id("79001234569@c.us").display_name(), "Alice Johnson");
    let nameless = by_id("79001234571@c.us");
    assert!(nameless.name.is_empty() && nameless.contact_name.is_empty());
    assert_eq!(by_id("79001234572@c.us").display_name(), "Царевна Лягушка");
    assert_eq!(by_id(GROUP).kind, ContactKind::Group);
    assert_eq!(by_id(GROUP).name, "Hookbot testers");
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
    assert_eq!(contacts[0].contact_name, "Василиса Премудрая");
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
