//! GREEN-API Telegram: the client against a mock server (every method's path, verb and body,
//! every documented error, every rule checked before sending), and the contact-card bot on a
//! Telegram instance, end to end over HTTP: webhook in, the gateway's requests out.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    INSTANCE, MAX_ATTEMPTS, Server, TOKEN, assert_get, assert_json_post, assert_nothing_sent,
    only_request, requests, server_answering, server_with, telegram, telegram_path,
};
use hookbot::bots::contact_card;
use hookbot::gateway::{Gateway, GatewayKind, SendOptions, TypingKind};
use hookbot::instance::Instance;
use hookbot::{Bot, ChatId, ContactCard, ContactKind, Error, MessageId, Rule, ValidationError};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PERSON: &str = "10000000";
const SUPERGROUP: &str = "-1001234567890";
const BOT: &str = "20000000";
const WEBHOOK_TOKEN: &str = "telegram-webhook-secret";

fn fixture(name: &str) -> Value {
    let text = match name {
        "get_contacts_telegram" => include_str!("fixtures/green_api/get_contacts_telegram.json"),
        "get_contact_info_telegram" => {
            include_str!("fixtures/green_api/get_contact_info_telegram.json")
        }
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixtures are JSON")
}

async fn accepting_server() -> MockServer {
    server_answering(200, json!({"idMessage": "1500"})).await
}

/// The validation error inside `result`; fails on anything else.
fn validation<T: std::fmt::Debug>(result: hookbot::Result<T>) -> ValidationError {
    match result {
        Err(Error::Validation(validation)) => validation,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---- sendMessage ----

#[tokio::test]
async fn send_text_posts_chat_id_and_message_to_the_plain_path() {
    let server = accepting_server().await;
    let sent = telegram(&server.uri())
        .send_text(&ChatId::from(PERSON), "Привет!", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("1500"));
    assert_json_post(
        &only_request(&server).await,
        &telegram_path("sendMessage"),
        json!({"chatId": PERSON, "message": "Привет!"}),
    );
}

#[tokio::test]
async fn send_text_quotes_and_shows_typing_of_a_kind() {
    for (kind, typing_type) in [
        (TypingKind::Text, "text"),
        (TypingKind::Recording, "recording"),
        (TypingKind::ChooseContact, "choose_contact"),
    ] {
        let server = accepting_server().await;
        let options = SendOptions::new()
            .quote("1401")
            .typing(Duration::from_millis(2000))
            .typing_kind(kind);
        telegram(&server.uri())
            .send_text(&ChatId::from(SUPERGROUP), "Минуту…", &options)
            .await
            .unwrap();

        assert_json_post(
            &only_request(&server).await,
            &telegram_path("sendMessage"),
            json!({
                "chatId": SUPERGROUP,
                "message": "Минуту…",
                "quotedMessageId": "1401",
                "typingTime": 2000,
                "typingType": typing_type
            }),
        );
    }
}

#[tokio::test]
async fn send_text_to_a_phone_number_takes_the_c_us_form() {
    let server = accepting_server().await;
    telegram(&server.uri())
        .send_text(&ChatId::from("79001234567@c.us"), "hi", &SendOptions::new())
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &telegram_path("sendMessage"),
        json!({"chatId": "79001234567@c.us", "message": "hi"}),
    );
}

#[tokio::test]
async fn send_text_of_4096_characters_goes_and_of_4097_is_refused_before_sending() {
    let server = accepting_server().await;
    let client = telegram(&server.uri());
    let chat = ChatId::from(PERSON);
    client
        .send_text(&chat, &"я".repeat(4096), &SendOptions::new())
        .await
        .expect("4096 characters are Telegram's limit");
    let refused = validation(
        client
            .send_text(&chat, &"я".repeat(4097), &SendOptions::new())
            .await,
    );
    assert_eq!(
        refused,
        ValidationError {
            field: "text",
            rule: Rule::TooLong {
                max: 4096,
                actual: 4097
            }
        }
    );
    assert_eq!(requests(&server).await.len(), 1, "only the first was sent");
}

#[tokio::test]
async fn chat_ids_of_other_shapes_and_typing_out_of_bounds_are_refused_before_sending() {
    let server = accepting_server().await;
    let client = telegram(&server.uri());
    for chat in [
        "120363043968066561@g.us",
        "+79001234567",
        "@ivan_tsarevich",
        "1-2",
    ] {
        let refused = validation(
            client
                .send_text(&ChatId::from(chat), "hi", &SendOptions::new())
                .await,
        );
        assert_eq!(refused.field, "chat", "{chat}");
        assert!(
            matches!(&refused.rule, Rule::ChatIdShape { expected, actual }
                if expected.starts_with("a Telegram chat id") && actual == chat),
            "{chat}: {refused}"
        );
    }
    for typing in [999, 20001] {
        let options = SendOptions::new().typing(Duration::from_millis(typing));
        let refused = validation(
            client
                .send_text(&ChatId::from(PERSON), "hi", &options)
                .await,
        );
        assert_eq!(refused.field, "options.typing");
    }
    assert_nothing_sent(&server).await;
}

// ---- sendContact ----

/// A card with every part Telegram's sendContact can carry.
fn ivan() -> ContactCard {
    ContactCard::new()
        .phone("79998887766")
        .first_name("Иван")
        .last_name("Царевич")
        .company("Тридевятое царство")
}

#[tokio::test]
async fn send_contact_posts_a_phone_card_with_the_quote() {
    let server = accepting_server().await;
    let options = SendOptions::new().quote("1401");
    let sent = telegram(&server.uri())
        .send_contact(&ChatId::from(PERSON), &ivan(), &options)
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("1500"));
    assert_json_post(
        &only_request(&server).await,
        &telegram_path("sendContact"),
        json!({
            "chatId": PERSON,
            "contact": {
                "phoneContact": 79998887766_u64,
                "firstName": "Иван",
                "lastName": "Царевич",
                "company": "Тридевятое царство"
            },
            "quotedMessageId": "1401"
        }),
    );
}

#[tokio::test]
async fn a_middle_name_joins_the_first_name_and_typing_is_left_out_of_a_card() {
    let server = accepting_server().await;
    let card = ContactCard::new()
        .phone("79998887766")
        .first_name("Иван")
        .middle_name("Петрович");
    let options = SendOptions::new()
        .typing(Duration::from_secs(2))
        .typing_kind(TypingKind::ChooseContact);
    telegram(&server.uri())
        .send_contact(&ChatId::from(SUPERGROUP), &card, &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &telegram_path("sendContact"),
        json!({
            "chatId": SUPERGROUP,
            "contact": {"phoneContact": 79998887766_u64, "firstName": "Иван Петрович"}
        }),
    );
}

#[tokio::test]
async fn cards_telegram_cannot_share_are_refused_before_sending() {
    let server = accepting_server().await;
    let client = telegram(&server.uri());
    let chat = ChatId::from(PERSON);
    let send = |card: ContactCard| {
        let client = client.clone();
        let chat = chat.clone();
        async move { client.send_contact(&chat, &card, &SendOptions::new()).await }
    };

    let no_phone = ContactCard::new().chat_id("10000001").first_name("Иван");
    let refused = validation(send(no_phone).await);
    assert_eq!(refused.field, "card.phone");
    assert!(matches!(refused.rule, Rule::Required { why } if why.contains("Telegram")));

    let mut hidden = hookbot::Contact::new("10000002", ContactKind::User);
    hidden.contact_name = "Царевна Лягушка".into();
    hidden.phone_hidden = true;
    assert_eq!(
        validation(send(ContactCard::from(&hidden)).await),
        ValidationError {
            field: "card.phone",
            rule: Rule::PhoneHidden
        }
    );

    let too_long = ContactCard::new()
        .phone("7999888776655443")
        .first_name("Иван");
    assert_eq!(
        validation(send(too_long).await).rule,
        Rule::DigitCount {
            min: 7,
            max: 15,
            actual: 16
        }
    );
    let nameless = ContactCard::new().phone("79998887766");
    assert_eq!(validation(send(nameless).await).rule, Rule::NameRequired);
    assert_nothing_sent(&server).await;
}

// ---- getContacts, getContactInfo ----

#[tokio::test]
async fn contacts_read_kinds_usernames_and_hidden_phones() {
    let server = server_answering(200, fixture("get_contacts_telegram")).await;
    let contacts = telegram(&server.uri()).contacts().await.unwrap();

    assert_get(
        &only_request(&server).await,
        &telegram_path("getContacts"),
        None,
    );
    let summary: Vec<_> = contacts
        .iter()
        .map(|contact| {
            (
                contact.chat_id.as_str(),
                contact.kind,
                contact.phone.as_deref(),
                contact.phone_hidden,
                contact.username.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "10000000",
                ContactKind::User,
                Some("79876543210"),
                false,
                Some("vasilisa_premudraya")
            ),
            (
                "10000001",
                ContactKind::User,
                Some("79998887766"),
                false,
                Some("ivan_tsarevich")
            ),
            ("10000002", ContactKind::User, None, true, None),
            (
                BOT,
                ContactKind::Bot,
                None,
                true,
                Some("hookbot_helper_bot")
            ),
            (SUPERGROUP, ContactKind::Supergroup, None, false, None),
            (
                "-1009876543210",
                ContactKind::Channel,
                None,
                false,
                Some("hookbot_news")
            ),
            ("-4000000001", ContactKind::Group, None, false, None),
        ]
    );
    assert_eq!(contacts[2].display_name(), "Царевна Лягушка");
}

#[tokio::test]
async fn contacts_up_to_asks_for_count_on_the_plain_path() {
    let server = server_answering(200, fixture("get_contacts_telegram")).await;
    telegram(&server.uri()).contacts_up_to(3).await.unwrap();
    assert_get(
        &only_request(&server).await,
        &telegram_path("getContacts"),
        Some("count=3"),
    );
}

#[tokio::test]
async fn contact_info_posts_the_chat_id_and_reads_the_profile() {
    let server = server_answering(200, fixture("get_contact_info_telegram")).await;
    let info = telegram(&server.uri())
        .contact_info(&ChatId::from("10000001"))
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &telegram_path("getContactInfo"),
        json!({"chatId": "10000001"}),
    );
    assert_eq!(info.chat_id, ChatId::from("10000001"));
    assert_eq!(info.display_name(), "Иван Царевич");
    assert_eq!(info.phone.as_deref(), Some("79998887766"));
    assert_eq!(info.username.as_deref(), Some("ivan_tsarevich"));
    assert!(info.avatar.is_some());
}

#[tokio::test]
async fn contact_info_of_a_group_or_a_phone_number_is_refused_before_sending() {
    let server = accepting_server().await;
    let client = telegram(&server.uri());
    assert_eq!(
        validation(client.contact_info(&ChatId::from(SUPERGROUP)).await).rule,
        Rule::IndividualChatOnly
    );
    assert!(matches!(
        validation(client.contact_info(&ChatId::from("79001234567@c.us")).await).rule,
        Rule::ChatIdShape { .. }
    ));
    assert_nothing_sent(&server).await;
}

// ---- the notification queue ----

#[tokio::test]
async fn receive_and_delete_notification_use_the_plain_paths_and_the_body_is_a_telegram_event() {
    let server = MockServer::start().await;
    let body: Value =
        serde_json::from_str(include_str!("fixtures/green_api/telegram_bot_text.json")).unwrap();
    Mock::given(method("GET"))
        .and(path(telegram_path("receiveNotification")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"receiptId": 7, "body": body})),
        )
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{}/7", telegram_path("deleteNotification"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": true})))
        .mount(&server)
        .await;
    let client = telegram(&server.uri());
    let queue = client
        .notification_queue()
        .expect("GREEN-API keeps a queue");
    assert_eq!(queue.kind(), GatewayKind::GreenApiTelegram);

    let notification = queue
        .receive_notification(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("a notification");
    assert_eq!(notification.receipt_id, 7);
    let event = hookbot::Event::from_json(queue.kind(), notification.body).unwrap();
    assert!(event.message().is_some_and(hookbot::Message::is_from_bot));
    assert!(queue.delete_notification(7).await.unwrap());

    let received = requests(&server).await;
    assert_get(
        &received[0],
        &telegram_path("receiveNotification"),
        Some("receiveTimeout=5"),
    );
    assert_eq!(received[1].method.as_str(), "DELETE");
}

// ---- documented errors ----

/// The error of a Telegram text send to a mock answering `template`, and how many requests the
/// mock received.
async fn send_error(template: ResponseTemplate) -> (Error, usize) {
    let server = server_with(template).await;
    let error = telegram(&server.uri())
        .send_text(&ChatId::from(PERSON), "hi", &SendOptions::new())
        .await
        .expect_err("the gateway answered an error");
    (error, requests(&server).await.len())
}

/// The error of a Telegram getContacts to a mock answering `template`, and how many requests
/// the mock received.
async fn look_up_error(template: ResponseTemplate) -> (Error, usize) {
    let server = server_with(template).await;
    let error = telegram(&server.uri())
        .contacts()
        .await
        .expect_err("the gateway answered an error");
    (error, requests(&server).await.len())
}

fn answer(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"message": message}))
}

#[tokio::test]
async fn refusals_map_to_their_errors_and_are_not_retried() {
    let (error, attempts) = send_error(answer(400, "instance account not authorized")).await;
    assert!(matches!(error, Error::NotAuthorized), "{error}");
    assert_eq!(attempts, 1);

    let (error, attempts) = send_error(answer(
        400,
        "Validation failed. Details: 'chatId' must be a valid chat id",
    ))
    .await;
    assert!(
        matches!(&error, Error::Gateway { status: 400, body } if body.contains("Validation failed")),
        "{error}"
    );
    assert_eq!(attempts, 1);

    let (error, attempts) = send_error(ResponseTemplate::new(401)).await;
    assert!(matches!(error, Error::Unauthorized), "{error}");
    assert_eq!(attempts, 1);

    let (error, attempts) = send_error(ResponseTemplate::new(403)).await;
    assert!(matches!(error, Error::Forbidden), "{error}");
    assert_eq!(attempts, 1);

    let quota = json!({"invokeStatus": {"method": "sendMessage", "used": 200, "total": 200,
        "status": "QUOTE_EXCEEDED", "description": "Monthly quota has been exceeded"}});
    let (error, attempts) = send_error(ResponseTemplate::new(466).set_body_json(quota)).await;
    assert!(
        matches!(&error, Error::QuotaExceeded { method: Some(method), used: Some(200), total: Some(200), .. } if method == "sendMessage"),
        "{error}"
    );
    assert_eq!(attempts, 1);

    let (error, attempts) = send_error(answer(500, "request entity too large")).await;
    assert!(
        matches!(error, Error::PayloadTooLarge { size: None, .. }),
        "{error}"
    );
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn a_starting_instance_and_rate_limits_are_retried_then_reported() {
    let (error, attempts) = send_error(answer(400, "instance in starting process try later")).await;
    assert!(matches!(error, Error::InstanceStarting), "{error}");
    assert_eq!(attempts, MAX_ATTEMPTS);

    let (error, attempts) = send_error(ResponseTemplate::new(429)).await;
    assert!(matches!(error, Error::RateLimited { .. }), "{error}");
    assert_eq!(attempts, MAX_ATTEMPTS);
}

#[tokio::test]
async fn gateway_trouble_on_a_look_up_is_retried_then_reported() {
    for status in [499, 500, 502] {
        let (error, attempts) = look_up_error(ResponseTemplate::new(status)).await;
        assert!(
            matches!(error, Error::Gateway { status: got, .. } if got == status),
            "{status}: {error}"
        );
        assert!(error.is_retryable());
        assert_eq!(attempts, MAX_ATTEMPTS, "{status}");
    }
}

#[tokio::test]
async fn a_send_whose_answer_was_lost_is_found_in_the_telegram_journal_and_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(telegram_path("sendMessage")))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Mock::given(method("GET"))
        .and(path(telegram_path("lastOutgoingMessages")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "type": "outgoing", "idMessage": "1501", "timestamp": now,
            "typeMessage": "textMessage", "chatId": PERSON, "textMessage": "hi",
            "sendByApi": true
        }])))
        .mount(&server)
        .await;

    let sent = telegram(&server.uri())
        .send_text(&ChatId::from(PERSON), "hi", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("1501"));
    let sends = requests(&server)
        .await
        .iter()
        .filter(|request| request.url.path() == telegram_path("sendMessage"))
        .count();
    assert_eq!(sends, 1, "found in the journal: not sent again");
}

#[test]
fn the_client_reports_telegrams_kind_and_capabilities() {
    let client = telegram("http://127.0.0.1:9");
    assert_eq!(client.kind(), GatewayKind::GreenApiTelegram);
    assert_eq!(client.instance(), INSTANCE);
    let can = client.capabilities();
    assert_eq!(can.max_text_chars, 4096);
    assert!(can.quote_text && can.quote_contact && can.typing_text && can.typing_kind);
    assert!(!can.typing_contact && !can.delay);
    let shown = format!("{client:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
}

// ---- the contact-card bot on a Telegram instance ----

/// A mock Telegram instance with the contact list of the fixture, accepting sends.
async fn telegram_instance() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(telegram_path("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("get_contacts_telegram")))
        .mount(&server)
        .await;
    for send in ["sendMessage", "sendContact"] {
        Mock::given(method("POST"))
            .and(path(telegram_path(send)))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"idMessage": "1600"})))
            .mount(&server)
            .await;
    }
    server
}

/// A Telegram `incomingMessageReceived` text in `chat` (of `chat_type`) from `sender` (of
/// `sender_type`).
fn telegram_text(
    (chat, chat_type): (&str, &str),
    (sender, sender_type): (&str, &str),
    id: &str,
    text: &str,
) -> Value {
    json!({
        "typeWebhook": "incomingMessageReceived",
        "instanceData": {"idInstance": INSTANCE.parse::<u64>().unwrap(), "wid": "39990000", "typeInstance": "telegram"},
        "timestamp": 1705521510,
        "idMessage": id,
        "senderData": {
            "chatId": chat, "chatName": "", "sender": sender, "senderName": "",
            "senderContactName": "", "senderPhoneNumber": 0,
            "chatType": chat_type, "senderType": sender_type
        },
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
    })
}

/// The JSON bodies of the requests to `method`, in order.
fn bodies(received: &[Request], method: &str) -> Vec<Value> {
    received
        .iter()
        .filter(|request| request.url.path() == telegram_path(method))
        .map(|request| serde_json::from_slice(&request.body).expect("a JSON body"))
        .collect()
}

/// The one body of `bodies` sent to `chat`.
fn to_chat(bodies: &[Value], chat: &str) -> Value {
    let mut found = bodies.iter().filter(|body| body["chatId"] == chat);
    let body = found
        .next()
        .unwrap_or_else(|| panic!("nothing sent to {chat}: {bodies:?}"));
    assert!(found.next().is_none(), "one send to {chat}: {bodies:?}");
    body.clone()
}

#[tokio::test]
async fn contact_card_bot_on_telegram_answers_people_with_quoted_cards_and_texts_and_never_a_bot() {
    let server = telegram_instance().await;
    let instance = Instance::new(Arc::new(telegram(&server.uri())));
    let bot = Bot::builder(contact_card::router())
        .instances(instance)
        .webhook_token(WEBHOOK_TOKEN)
        .build()
        .unwrap();
    let bot = Server::start(bot).await;

    let asks = [
        // By username, in a private chat.
        telegram_text(
            (PERSON, "user"),
            (PERSON, "user"),
            "1401",
            "contact @ivan_tsarevich",
        ),
        // By name, in a supergroup (a negative id).
        telegram_text(
            (SUPERGROUP, "supergroup"),
            ("10000001", "user"),
            "2201",
            "контакт Василиса",
        ),
        // A contact hiding their phone, by name, in another private chat.
        telegram_text(
            ("10000001", "user"),
            ("10000001", "user"),
            "1402",
            "contact лягушка",
        ),
        // A bot asking: acknowledged, never answered.
        telegram_text((BOT, "bot"), (BOT, "bot"), "1403", "contact ivan"),
        // A bot in the supergroup too.
        telegram_text(
            (SUPERGROUP, "supergroup"),
            (BOT, "bot"),
            "2202",
            "contact alice",
        ),
    ];
    for ask in &asks {
        let status = bot
            .post("/webhook", common::body(ask), Some(WEBHOOK_TOKEN))
            .await;
        assert_eq!(status, 200, "acknowledged: {ask}");
    }
    let report = bot.stop().await.unwrap().unwrap();
    assert_eq!(report.unfinished, 0, "every accepted event handled");

    let received = requests(&server).await;
    let cards = bodies(&received, "sendContact");
    let texts = bodies(&received, "sendMessage");
    assert_eq!(cards.len(), 2, "{cards:?}");
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(
        to_chat(&cards, PERSON),
        json!({
            "chatId": PERSON,
            "contact": {"phoneContact": 79998887766_u64, "firstName": "Иван Царевич"},
            "quotedMessageId": "1401"
        })
    );
    assert_eq!(
        to_chat(&cards, SUPERGROUP),
        json!({
            "chatId": SUPERGROUP,
            "contact": {"phoneContact": 79876543210_u64, "firstName": "Василиса Премудрая"},
            "quotedMessageId": "2201"
        })
    );
    assert_eq!(
        to_chat(&texts, "10000001"),
        json!({
            "chatId": "10000001",
            "message": "Царевна Лягушка hides their phone number, so their card cannot be shared.",
            "quotedMessageId": "1402"
        })
    );
    assert!(
        received.iter().all(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            body["chatId"] != BOT && body["quotedMessageId"] != "2202"
        }),
        "nothing answers a bot"
    );
    let lists = received
        .iter()
        .filter(|request| request.url.path() == telegram_path("getContacts"))
        .count();
    assert_eq!(lists, 1, "the contact list is fetched once and cached");
}

#[tokio::test]
async fn a_hidden_phone_is_answered_with_the_name_and_the_username_in_the_commands_language() {
    let server = telegram_instance().await;
    // The fixture's hidden-phone contact has no username: give it one.
    let mut contacts = fixture("get_contacts_telegram");
    contacts[2]["username"] = json!("@tsarevna_lyagushka");
    Mock::given(method("GET"))
        .and(path(telegram_path("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(contacts))
        .with_priority(1)
        .mount(&server)
        .await;
    let instance = Instance::new(Arc::new(telegram(&server.uri())));
    let bot = Bot::builder(contact_card::router())
        .instances(instance)
        .webhook_token(WEBHOOK_TOKEN)
        .build()
        .unwrap();
    let bot = Server::start(bot).await;
    let ask = telegram_text(
        (PERSON, "user"),
        (PERSON, "user"),
        "1404",
        "контакт @tsarevna_lyagushka",
    );
    let status = bot
        .post("/webhook", common::body(&ask), Some(WEBHOOK_TOKEN))
        .await;
    assert_eq!(status, 200);
    bot.stop().await.unwrap().unwrap();

    let received = requests(&server).await;
    assert!(bodies(&received, "sendContact").is_empty());
    assert_eq!(
        bodies(&received, "sendMessage"),
        [json!({
            "chatId": PERSON,
            "message": "Царевна Лягушка (@tsarevna_lyagushka) скрывает номер телефона: карточку отправить нельзя.",
            "quotedMessageId": "1404"
        })]
    );
}
