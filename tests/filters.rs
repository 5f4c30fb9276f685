//! Every filter, on events parsed from real notification JSON (and, where a filter folds text,
//! against the contact search, which folds the same way).

mod common;

use std::sync::Arc;

use common::whatsapp_path;
use hookbot::contacts::ContactBook;
use hookbot::filter::{self, Filter, Matched};
use hookbot::gateway::GatewayKind;
use hookbot::{Event, PeerKind};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PRIVATE: &str = "79001234567@c.us";
const GROUP: &str = "120363043968066561@g.us";
const MEMBER: &str = "79001234568@c.us";

fn notification(type_webhook: &str, chat: &str, sender: &str, message_data: Value) -> Event {
    let value = json!({
        "typeWebhook": type_webhook,
        "instanceData": {"idInstance": 1101000001, "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1588091580, "idMessage": "M1",
        "senderData": {"chatId": chat, "sender": sender, "senderName": "Tester"},
        "messageData": message_data
    });
    Event::from_json(GatewayKind::GreenApiWhatsApp, value).unwrap()
}

fn text_in(chat: &str, sender: &str, text: &str) -> Event {
    notification(
        "incomingMessageReceived",
        chat,
        sender,
        json!({"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}),
    )
}

fn text(text: &str) -> Event {
    text_in(PRIVATE, PRIVATE, text)
}

fn passes(filter: &Filter, event: &Event) -> bool {
    filter.matches(event, &mut Matched::default())
}

fn matched(filter: &Filter, event: &Event) -> Option<Matched> {
    let mut matched = Matched::default();
    filter.matches(event, &mut matched).then_some(matched)
}

#[test]
fn exact_text_ignores_surrounding_white_space_but_not_case() {
    let help = filter::text("help");
    assert!(passes(&help, &text(" help\n")));
    assert!(!passes(&help, &text("Help")));
    assert!(!passes(&help, &text("help me")));
}

#[test]
fn text_ignore_case_folds_every_script() {
    let help = filter::text_ignore_case("ПОМОЩЬ");
    assert!(passes(&help, &text("помощь")));
    assert!(passes(&help, &text("Помощь")));
    assert!(!passes(&help, &text("помощ")));
    assert!(passes(&filter::text_ignore_case("ÉCOLE"), &text("école")));
    assert!(passes(
        &filter::text_ignore_case("STRASSE"),
        &text("Straße")
    ));
}

#[test]
fn text_ignore_case_ignores_diacritics_and_punctuation_as_the_contact_search_does() {
    let artem = filter::text_ignore_case("артем");
    assert!(passes(&artem, &text("Артём")));
    assert!(passes(&artem, &text("АРТЁМ!")));
    assert!(!passes(&artem, &text("Артёмка")));
    let two_words = filter::text_ignore_case("Jean-Luc");
    assert!(passes(&two_words, &text("jean luc")));
    assert!(!passes(&two_words, &text("jeanluc")));
}

#[test]
fn text_ignore_case_matches_the_other_script_by_transliteration() {
    let help = filter::text_ignore_case("ПОМОЩЬ");
    assert!(passes(&help, &text("pomoshch")));
    assert!(passes(&help, &text("Pomosch!")));
    assert!(!passes(&help, &text("pomosh ka")));
    let thanks = filter::text_ignore_case("spasibo");
    assert!(passes(&thanks, &text("Спасибо")));
    assert!(!passes(&thanks, &text("спасибочки")));
    // Within one script the spelling must be the same: transliteration is across scripts only.
    assert!(!passes(&filter::text_ignore_case("add"), &text("ad")));
    assert!(!passes(&filter::text_ignore_case("Анна"), &text("Ана")));
}

#[test]
fn text_ignore_case_of_symbols_matches_the_same_symbols_only() {
    let thumbs_up = filter::text_ignore_case("👍");
    assert!(passes(&thumbs_up, &text(" 👍 ")));
    assert!(!passes(&thumbs_up, &text("❤️")));
    assert!(!passes(&thumbs_up, &text("👍👍")));
}

#[tokio::test]
async fn a_filter_and_the_contact_search_agree_that_artem_is_artyom() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "79001234567@c.us", "name": "", "contactName": "Артём", "type": "user"}
        ])))
        .mount(&server)
        .await;
    let contacts = ContactBook::new(Arc::new(common::whatsapp(&server.uri())));
    let found = contacts.find_best("артем").await.unwrap();
    assert_eq!(
        found.map(|contact| contact.contact_name.clone()),
        Some("Артём".into())
    );
    assert!(passes(&filter::text_ignore_case("артем"), &text("Артём")));
}

#[test]
fn command_arguments_are_split_off_in_any_case_and_alias() {
    let contact: Filter = filter::command("contact")
        .aliases(["контакт", "contato"])
        .into();
    for (said, args) in [
        ("/contact Василиса", "Василиса"),
        ("contact ivan petrov", "ivan petrov"),
        ("КОНТАКТ  василиса ", "василиса"),
        ("Contato", ""),
    ] {
        let found = matched(&contact, &text(said)).unwrap_or_else(|| panic!("{said}"));
        assert_eq!(found.command.unwrap().args, args, "{said}");
    }
    assert!(!passes(&contact, &text("contacts")));
    assert!(!passes(&contact, &text("my contact")));
    let prefixed: Filter = filter::command("start").bare(false).into();
    assert!(passes(&prefixed, &text("/start")));
    assert!(!passes(&prefixed, &text("start")));
}

#[test]
fn regex_captures_are_recorded() {
    let order = filter::regex(r"^order (?P<id>\d+)(?: (\w+))?$");
    let found = matched(&order, &text("order 42 urgent"))
        .unwrap()
        .captures
        .unwrap();
    assert_eq!(found.get(0), Some("order 42 urgent"));
    assert_eq!(found.name("id"), Some("42"));
    assert_eq!(found.get(2), Some("urgent"));
    assert!(!passes(&order, &text("order x")));
    let cyrillic = filter::regex(r"(?i)^заказ (\d+)$");
    assert_eq!(
        matched(&cyrillic, &text("ЗАКАЗ 7"))
            .unwrap()
            .captures
            .unwrap()
            .get(1),
        Some("7")
    );
}

#[test]
fn chat_sender_private_and_group() {
    let in_group = text_in(GROUP, MEMBER, "hi");
    let private = text(" hi");
    assert!(passes(&filter::group(), &in_group) && !passes(&filter::group(), &private));
    assert!(passes(&filter::private(), &private) && !passes(&filter::private(), &in_group));
    assert!(passes(&filter::chat(GROUP), &in_group) && !passes(&filter::chat(GROUP), &private));
    assert!(
        passes(&filter::sender(MEMBER), &in_group) && !passes(&filter::sender(MEMBER), &private)
    );
}

#[test]
fn direction_kind_and_content() {
    let outgoing = notification(
        "outgoingMessageReceived",
        PRIVATE,
        "79990000000@c.us",
        json!({"typeMessage": "textMessage", "textMessageData": {"textMessage": "sent from the phone"}}),
    );
    assert!(passes(&filter::from_me(), &outgoing) && !passes(&filter::incoming(), &outgoing));
    assert!(passes(&filter::incoming(), &text("x")) && !passes(&filter::from_me(), &text("x")));

    let location = notification(
        "incomingMessageReceived",
        PRIVATE,
        PRIVATE,
        json!({"typeMessage": "locationMessage", "locationMessageData": {"latitude": 55.7, "longitude": 37.6}}),
    );
    assert!(
        passes(&filter::content("location"), &location)
            && !passes(&filter::content("text"), &location)
    );
    assert!(passes(&filter::content("text"), &text("x")));

    let call = Event::from_json(
        GatewayKind::GreenApiWhatsApp,
        json!({"typeWebhook": "incomingCall", "instanceData": {"idInstance": 1, "wid": "", "typeInstance": "whatsapp"}, "timestamp": 1, "idMessage": "C1", "from": PRIVATE, "status": "offer"}),
    )
    .unwrap();
    assert!(passes(&filter::kind("call"), &call) && !passes(&filter::message(), &call));
    assert!(passes(&filter::message(), &text("x")) && !passes(&filter::kind("call"), &text("x")));
}

#[test]
fn and_or_not_compose_and_keep_what_the_passing_side_found() {
    let contact_in_private = filter::command("contact") & filter::private();
    assert_eq!(
        matched(&contact_in_private, &text("contact ivan"))
            .unwrap()
            .command
            .unwrap()
            .args,
        "ivan"
    );
    assert!(!passes(
        &contact_in_private,
        &text_in(GROUP, MEMBER, "contact ivan")
    ));

    let either = filter::text("a") | filter::regex(r"^b(\d)$");
    assert!(matched(&either, &text("a")).unwrap().captures.is_none());
    assert_eq!(
        matched(&either, &text("b5"))
            .unwrap()
            .captures
            .unwrap()
            .get(1),
        Some("5")
    );
    assert!(!passes(&either, &text("c")));

    let not_me = !filter::from_me();
    assert!(passes(&not_me, &text("x")));
    let custom = filter::func(|event| {
        event
            .message()
            .is_some_and(|message| message.sender_name == "Tester")
    });
    assert!(passes(&custom, &text("x")));
    assert!(passes(&filter::any(), &text("x")));
}

/// A Telegram text in `chat` (of `chat_type`) from `sender` (of `sender_type`).
fn telegram_text(chat: (&str, &str), sender: (&str, &str), text: &str) -> Event {
    let value = json!({
        "typeWebhook": "incomingMessageReceived",
        "instanceData": {"idInstance": 1101000001, "wid": "39990000", "typeInstance": "telegram"},
        "timestamp": 1588091580, "idMessage": "1401",
        "senderData": {"chatId": chat.0, "sender": sender.0, "senderName": "Tester",
                       "chatType": chat.1, "senderType": sender.1},
        "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
    });
    Event::from_json(GatewayKind::GreenApiTelegram, value).unwrap()
}

#[test]
fn from_bot_sender_kind_and_chat_kind_read_what_telegram_tells() {
    let from_bot = telegram_text(("20000000", "bot"), ("20000000", "bot"), "hi");
    let in_supergroup = telegram_text(("-1001234567890", "supergroup"), ("10000000", "user"), "hi");
    let bot = filter::from_bot();
    assert!(passes(&bot, &from_bot));
    assert!(!passes(&bot, &in_supergroup));
    assert!(!passes(&bot, &text("hi")), "WhatsApp tells no kind");
    let people = filter::incoming() & !filter::from_bot();
    assert!(!passes(&people, &from_bot));
    assert!(passes(&people, &in_supergroup));
    assert!(passes(&people, &text("hi")));

    let user = filter::sender_kind(PeerKind::User);
    assert!(passes(&user, &in_supergroup) && !passes(&user, &from_bot));
    let supergroup = filter::chat_kind(PeerKind::Supergroup);
    assert!(passes(&supergroup, &in_supergroup));
    assert!(!passes(&supergroup, &from_bot));
    assert!(passes(&filter::chat_kind(PeerKind::Bot), &from_bot));
    assert!(passes(&filter::group(), &in_supergroup), "a negative id");
}

#[tokio::test]
async fn a_router_of_your_own_routes_bots_on_purpose_with_a_filter() {
    let seen = common::Seen::default();
    let bots = seen.clone();
    let router = hookbot::Router::new().route(filter::from_bot(), move |cx: hookbot::Context| {
        let bots = bots.clone();
        async move {
            bots.push(cx.event().clone());
            Ok::<_, std::convert::Infallible>(())
        }
    });
    let bot = common::offline_bot(GatewayKind::GreenApiTelegram, router, "secret")
        .build()
        .unwrap();
    let server = common::Server::start(bot).await;
    let from_bot = telegram_text(("20000000", "bot"), ("20000000", "bot"), "ping");
    let from_person = telegram_text(("10000000", "user"), ("10000000", "user"), "pong");
    for event in [&from_person, &from_bot] {
        let status = server
            .post("/webhook", event.raw.as_str().to_owned(), Some("secret"))
            .await;
        assert_eq!(status, 200);
    }
    server.stop().await.unwrap().unwrap();
    assert_eq!(seen.texts(), ["ping"], "the bot's message, and only it");
}
