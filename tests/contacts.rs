//! The ContactBook against a mock GREEN-API: how many getContacts and getContactInfo requests
//! reach the gateway (one per miss, shared by concurrent callers, none while warm, again after
//! the time-to-live or an invalidation, again after a failure), and how `find` ranks contacts.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{INSTANCE, TOKEN, max_path, requests, whatsapp_path};
use hookbot::contacts::{ContactBook, Found};
use hookbot::gateway::{ClientSettings, Gateway, GreenApi, RateLimits, RetryPolicy};
use hookbot::{ChatId, Contact, ContactCard, Error};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The default time-to-live of the contact list.
const LIST_TTL: Duration = Duration::from_secs(5 * 60);

/// No client-side rate limit and no retry, so that every call is exactly one request.
fn settings() -> ClientSettings {
    ClientSettings::new()
        .rate_limits(RateLimits::unlimited())
        .retry(RetryPolicy::none())
}

fn whatsapp(server: &MockServer) -> Arc<dyn Gateway> {
    let client = GreenApi::whatsapp(server.uri(), INSTANCE, TOKEN)
        .settings(settings())
        .build()
        .expect("a valid WhatsApp client");
    Arc::new(client)
}

fn max(server: &MockServer) -> Arc<dyn Gateway> {
    let client = GreenApi::max(server.uri(), INSTANCE, TOKEN)
        .settings(settings())
        .build()
        .expect("a valid MAX client");
    Arc::new(client)
}

/// A WhatsApp contact list: names in Cyrillic and Latin, one with only a profile name, one
/// without any name, and a group.
fn whatsapp_contacts() -> Value {
    json!([
        {"id": "79876543210@c.us", "name": "Василиса", "contactName": "Василиса Премудрая", "type": "user"},
        {"id": "79998887766@c.us", "name": "Иван", "contactName": "Иван Царевич", "type": "user"},
        {"id": "79001112233@c.us", "name": "", "contactName": "Иванов Пётр", "type": "user"},
        {"id": "79004445566@c.us", "name": "Диван-кровать", "contactName": "", "type": "user"},
        {"id": "79005556677@c.us", "name": "", "contactName": "Иван", "type": "user"},
        {"id": "79007778899@c.us", "name": "", "contactName": "", "type": "user"},
        {"id": "5511912345678@c.us", "name": "João", "contactName": "João Silva", "type": "user"},
        {"id": "12025550123@c.us", "name": "Ivan", "contactName": "Ivan Petrov", "type": "user"},
        {"id": "120363043968066561@g.us", "name": "Иван и друзья", "contactName": "", "type": "group"}
    ])
}

/// A mock WhatsApp gateway whose getContacts answers `contacts`.
async fn whatsapp_server(contacts: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(contacts))
        .mount(&server)
        .await;
    server
}

/// A mock WhatsApp gateway listing the WhatsApp contacts, each answer `delay` late.
async fn slow_whatsapp_server(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getContacts")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(whatsapp_contacts())
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

/// Fifty tasks each finding the best match for "василиса" in `book` at once.
fn fifty_finds_of_vasilisa(book: &ContactBook) -> JoinSet<hookbot::Result<Option<Found>>> {
    let mut finds = JoinSet::new();
    for _ in 0..50 {
        let book = book.clone();
        finds.spawn(async move { book.find_best("василиса").await });
    }
    finds
}

/// A mock WhatsApp gateway whose getContactInfo answers a profile named after the asked chat.
async fn contact_info_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(whatsapp_path("getContactInfo")))
        .respond_with(|request: &Request| {
            let asked: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            let chat = asked["chatId"].as_str().unwrap_or_default().to_owned();
            ResponseTemplate::new(200).set_body_json(json!({
                "chatId": chat,
                "name": format!("name of {chat}"),
                "contactName": "",
                "avatar": "",
                "isBusiness": false
            }))
        })
        .mount(&server)
        .await;
    server
}

/// How many requests the mock received for GREEN-API `method`.
async fn count(server: &MockServer, method: &str) -> usize {
    let wanted = whatsapp_path(method);
    requests(server)
        .await
        .iter()
        .filter(|request| request.url.path() == wanted)
        .count()
}

/// The chat ids of `contacts`, in order.
fn chats(contacts: &[Contact]) -> Vec<&str> {
    contacts
        .iter()
        .map(|contact| contact.chat_id.as_str())
        .collect()
}

/// Moves tokio's clock `by` forward at once, then lets it run on in real time.
///
/// The book judges freshness on tokio's clock, so a test need not sleep through a
/// time-to-live. It does not use `start_paused`: a paused clock jumps to the next timer
/// whenever the runtime waits on I/O, and the mock server answers over real sockets on other
/// threads, so the client's request time-out would fire at once. Pausing only for the jump
/// keeps every request on real time.
async fn skip(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

// ---- caching of the contact list ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_finds_on_a_cold_cache_make_one_request() {
    let server = slow_whatsapp_server(Duration::from_millis(200)).await;
    let book = ContactBook::new(whatsapp(&server));

    let mut finds = fifty_finds_of_vasilisa(&book);
    while let Some(found) = finds.join_next().await {
        let best = found.expect("no panic").expect("the list loads");
        assert_eq!(
            best.map(|contact| contact.contact_name.clone()),
            Some("Василиса Премудрая".into())
        );
    }

    assert_eq!(count(&server, "getContacts").await, 1);
}

#[tokio::test]
async fn a_warm_cache_makes_no_request() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));
    book.find("иван").await.unwrap();
    assert_eq!(count(&server, "getContacts").await, 1);

    assert_eq!(book.all().await.unwrap().len(), 9);
    book.find("ivan").await.unwrap();
    book.find_best("+7 987 654 32 10").await.unwrap();
    book.clone().find("joão").await.unwrap();

    assert_eq!(count(&server, "getContacts").await, 1);
}

#[tokio::test]
async fn the_list_is_loaded_again_after_its_ttl() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));
    book.find("иван").await.unwrap();

    skip(LIST_TTL - Duration::from_secs(1)).await;
    book.find("иван").await.unwrap();
    assert_eq!(count(&server, "getContacts").await, 1, "still fresh");

    skip(Duration::from_secs(2)).await;
    book.find("иван").await.unwrap();
    book.find("иван").await.unwrap();
    assert_eq!(
        count(&server, "getContacts").await,
        2,
        "stale: loaded once more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_finds_on_a_stale_list_make_one_more_request() {
    let server = slow_whatsapp_server(Duration::from_millis(200)).await;
    let book = ContactBook::builder(whatsapp(&server))
        .list_ttl(Duration::from_millis(1))
        .build();
    book.all().await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;

    let mut finds = fifty_finds_of_vasilisa(&book);
    while let Some(found) = finds.join_next().await {
        let best = found.expect("no panic").expect("the list loads");
        assert!(best.is_some(), "found in the reloaded list");
    }

    assert_eq!(
        count(&server, "getContacts").await,
        2,
        "one load, one reload"
    );
}

#[tokio::test]
async fn a_caller_that_gives_up_mid_load_leaves_the_load_to_the_next() {
    let server = slow_whatsapp_server(Duration::from_millis(300)).await;
    let book = ContactBook::new(whatsapp(&server));

    let abandoned = tokio::time::timeout(Duration::from_millis(20), book.all()).await;
    assert!(abandoned.is_err(), "the first caller gave up");
    let listed = book.all().await.expect("the next caller loads the list");

    assert_eq!(listed.len(), whatsapp_contacts().as_array().unwrap().len());
}

#[tokio::test]
async fn a_custom_list_ttl_is_honoured() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::builder(whatsapp(&server))
        .list_ttl(Duration::from_secs(30))
        .build();
    book.all().await.unwrap();

    skip(Duration::from_secs(31)).await;
    book.all().await.unwrap();

    assert_eq!(count(&server, "getContacts").await, 2);
}

#[tokio::test]
async fn invalidate_makes_the_next_look_up_load_the_list() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));
    book.all().await.unwrap();

    book.invalidate().await;
    book.all().await.unwrap();
    book.all().await.unwrap();

    assert_eq!(count(&server, "getContacts").await, 2);
}

#[tokio::test]
async fn the_best_match_is_the_list_s_own_entry_and_outlives_a_reload() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));
    let found = book.find_best("василиса").await.unwrap().expect("found");
    let listed = book.all().await.unwrap();
    assert!(std::ptr::eq(&*found, &listed[0]), "shared, not copied");
    assert_eq!(found, listed[0]);
    assert_eq!(format!("{found:?}"), format!("{:?}", listed[0]));
    assert_eq!(ContactCard::from(&found), listed[0].to_card());

    server.reset().await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "79876543210@c.us", "name": "", "contactName": "Василиса Прекрасная", "type": "user"}
        ])))
        .mount(&server)
        .await;
    book.invalidate().await;
    let reloaded = book.find_best("василиса").await.unwrap().expect("found");
    assert_eq!(&*reloaded.contact_name, "Василиса Прекрасная");
    assert_eq!(&*found.contact_name, "Василиса Премудрая");
    assert_ne!(found, reloaded);
}

#[tokio::test]
async fn a_failed_load_is_returned_and_tried_again_on_the_next_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getContacts")))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(whatsapp_contacts()))
        .mount(&server)
        .await;
    let book = ContactBook::new(whatsapp(&server));

    let error = book.find("василиса").await.unwrap_err();
    assert!(
        matches!(error, Error::Gateway { status: 500, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());

    let found = book.find("василиса").await.expect("the second call loads");
    assert_eq!(chats(&found), ["79876543210@c.us"]);
    assert_eq!(count(&server, "getContacts").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_caller_sharing_a_failed_load_gets_the_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getContacts")))
        .respond_with(ResponseTemplate::new(401).set_delay(Duration::from_millis(200)))
        .mount(&server)
        .await;
    let book = ContactBook::new(whatsapp(&server));

    let mut finds = JoinSet::new();
    for _ in 0..10 {
        let book = book.clone();
        finds.spawn(async move { book.find("василиса").await });
    }
    while let Some(found) = finds.join_next().await {
        let error = found.expect("no panic").unwrap_err();
        assert!(matches!(error, Error::Unauthorized), "{error:?}");
    }
    assert_eq!(
        count(&server, "getContacts").await,
        1,
        "the failure is shared"
    );

    book.find("василиса").await.unwrap_err();
    assert_eq!(count(&server, "getContacts").await, 2, "and not cached");
}

// ---- ranking ----

#[tokio::test]
async fn names_match_in_any_case_and_script() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));

    for query in [
        "ВАСИЛИСА",
        "василиса",
        "Василиса",
        "премудр",
        "ПРЕМУДРАЯ василиса",
    ] {
        let best = book.find_best(query).await.unwrap();
        assert_eq!(
            best.map(|contact| contact.chat_id.clone()),
            Some(ChatId::from("79876543210@c.us")),
            "{query}"
        );
    }
    assert_eq!(
        chats(&book.find("joao").await.unwrap()),
        ["5511912345678@c.us"]
    );
    for query in ["пётр", "петр"] {
        assert_eq!(
            chats(&book.find(query).await.unwrap()),
            // "Ivan Petrov" by transliteration, after the name in the query's script.
            ["79001112233@c.us", "12025550123@c.us"],
            "{query}"
        );
    }
}

#[tokio::test]
async fn names_match_across_scripts_by_transliteration_after_same_script_names() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));

    for query in [
        "vasilisa",
        "Vasilissa",
        "vasilisa premudraya",
        "VASILISA PREMUDRAIA",
    ] {
        assert_eq!(
            chats(&book.find(query).await.unwrap()),
            ["79876543210@c.us"],
            "{query}"
        );
    }
    assert_eq!(
        chats(&book.find("иван петров").await.unwrap()),
        ["12025550123@c.us"]
    );
    assert_eq!(
        chats(&book.find("ivan tsarevich").await.unwrap()),
        ["79998887766@c.us"]
    );
    // The Latin name first, then the Cyrillic ones: the whole name, a word, a prefix; not
    // "Диван-кровать", where "ivan" is only inside a word.
    assert_eq!(
        chats(&book.find("IVAN").await.unwrap()),
        [
            "12025550123@c.us",
            "79005556677@c.us",
            "79998887766@c.us",
            "79001112233@c.us"
        ]
    );
}

#[tokio::test]
async fn find_returns_the_best_matches_up_to_its_limit() {
    let people: Vec<Value> = (0..30)
        .map(|n| {
            // Every third is "Иван" alone, the whole name; the rest have a surname after it.
            let name = if n % 3 == 0 { "Иван".to_owned() } else { format!("Иван {n:02}") };
            json!({"id": format!("790000000{n:02}@c.us"), "name": "", "contactName": name, "type": "user"})
        })
        .collect();
    let server = whatsapp_server(Value::Array(people)).await;
    let book = ContactBook::new(whatsapp(&server));

    let every = book.find_up_to("иван", usize::MAX).await.unwrap();
    let best = book.find("иван").await.unwrap();
    let three = book.find_up_to("иван", 3).await.unwrap();

    assert_eq!(every.len(), 30);
    assert_eq!(best.len(), hookbot::contacts::FIND_LIMIT);
    assert_eq!(best[..], every[..best.len()]);
    assert_eq!(
        chats(&three),
        ["79000000000@c.us", "79000000003@c.us", "79000000006@c.us"],
        "the whole name first, then the list's order"
    );
    assert!(book.find_up_to("иван", 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn full_name_beats_whole_word_beats_prefix_beats_substring() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));

    let found = book.find("иван").await.unwrap();

    assert_eq!(
        chats(&found),
        [
            "79005556677@c.us", // "Иван": the whole name
            "79998887766@c.us", // "Иван Царевич": a whole word
            "79001112233@c.us", // "Иванов Пётр": a word's beginning
            "79004445566@c.us", // "Диван-кровать": inside a word
            "12025550123@c.us", // "Ivan Petrov": a whole word, in the other script
        ],
        "the group \"Иван и друзья\" is not searched"
    );
}

#[tokio::test]
async fn the_profile_name_stands_in_for_an_empty_contact_name() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));

    let found = book.find("кровать").await.unwrap();

    assert_eq!(chats(&found), ["79004445566@c.us"]);
    assert_eq!(found[0].display_name(), "Диван-кровать");
}

#[tokio::test]
async fn a_contact_without_names_is_found_by_phone() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));

    let found = book.find("79007778899").await.unwrap();

    assert_eq!(chats(&found), ["79007778899@c.us"]);
    assert_eq!(found[0].display_name(), "79007778899");
}

#[tokio::test]
async fn phone_digits_match_in_any_formatting_exact_number_first() {
    let server = whatsapp_server(json!([
        {"id": "79876543299@c.us", "name": "", "contactName": "Кощей", "type": "user"},
        {"id": "79876543210@c.us", "name": "", "contactName": "Василиса", "type": "user"},
        {"id": "79001234567@c.us", "name": "", "contactName": "Иван", "type": "user"}
    ]))
    .await;
    let book = ContactBook::new(whatsapp(&server));

    let exact = book.find("+7 (987) 654-32-10").await.unwrap();
    assert_eq!(chats(&exact), ["79876543210@c.us"]);
    let national = book.find("987 654-32-10").await.unwrap();
    assert_eq!(chats(&national), ["79876543210@c.us"]);
    let partial = book.find("+7 987 654").await.unwrap();
    assert_eq!(chats(&partial), ["79876543299@c.us", "79876543210@c.us"]);
    let best = book.find_best("79876543210").await.unwrap();
    assert_eq!(
        best.map(|contact| contact.contact_name.clone()),
        Some("Василиса".into())
    );
}

#[tokio::test]
async fn no_match_is_empty() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));

    assert!(book.find("кощей").await.unwrap().is_empty());
    assert_eq!(book.find_best("кощей").await.unwrap(), None);
    assert!(book.find("+44 20 7946 0000").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_empty_query_matches_nothing_and_loads_nothing() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));

    assert!(book.find("").await.unwrap().is_empty());
    assert_eq!(book.find_best("  ?! ").await.unwrap(), None);

    assert_eq!(count(&server, "getContacts").await, 0);
}

#[tokio::test]
async fn a_max_list_with_hidden_phone_numbers_is_searched() {
    let server = MockServer::start().await;
    let list: Value =
        serde_json::from_str(include_str!("fixtures/green_api/get_contacts_max.json")).unwrap();
    Mock::given(method("GET"))
        .and(path(max_path("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(list))
        .mount(&server)
        .await;
    let book = ContactBook::new(max(&server));

    let frog = book.find_best("лягушка").await.unwrap().expect("found");
    assert_eq!(frog.chat_id, ChatId::from("10000002"));
    assert_eq!(frog.phone, None, "phoneNumber 0 is a hidden number");
    assert_eq!(
        chats(&book.find("ЦАРЕ").await.unwrap()),
        ["10000001", "10000002"]
    );
    assert_eq!(
        chats(&book.find("+7 987 654 32 10").await.unwrap()),
        ["10000000"]
    );
    let zeros = book.find("0").await.unwrap();
    assert!(
        !chats(&zeros).contains(&"10000002"),
        "a hidden number is no number"
    );
}

// ---- caching of contact info ----

#[tokio::test]
async fn info_is_cached_per_chat() {
    let server = contact_info_server().await;
    let book = ContactBook::new(whatsapp(&server));
    let vasilisa = ChatId::from("79876543210@c.us");
    let ivan = ChatId::from("79998887766@c.us");

    let first = book.info(&vasilisa).await.unwrap();
    let again = book.info(&vasilisa).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(&*first.name, "name of 79876543210@c.us");
    assert_eq!(count(&server, "getContactInfo").await, 1);

    let other = book.info(&ivan).await.unwrap();
    assert_eq!(other.chat_id, ivan);
    book.info(&ivan).await.unwrap();
    assert_eq!(count(&server, "getContactInfo").await, 2);
}

#[tokio::test]
async fn invalidate_info_forces_a_reload_of_that_chat_only() {
    let server = contact_info_server().await;
    let book = ContactBook::new(whatsapp(&server));
    let vasilisa = ChatId::from("79876543210@c.us");
    let ivan = ChatId::from("79998887766@c.us");
    book.info(&vasilisa).await.unwrap();
    book.info(&ivan).await.unwrap();

    book.invalidate_info(&vasilisa).await;
    book.info(&vasilisa).await.unwrap();
    book.info(&ivan).await.unwrap();

    assert_eq!(count(&server, "getContactInfo").await, 3);
}

#[tokio::test]
async fn info_is_loaded_again_after_its_ttl() {
    let server = contact_info_server().await;
    let book = ContactBook::builder(whatsapp(&server))
        .info_ttl(Duration::from_secs(60))
        .build();
    let chat = ChatId::from("79876543210@c.us");
    book.info(&chat).await.unwrap();

    skip(Duration::from_secs(59)).await;
    book.info(&chat).await.unwrap();
    assert_eq!(count(&server, "getContactInfo").await, 1, "still fresh");

    skip(Duration::from_secs(2)).await;
    book.info(&chat).await.unwrap();
    assert_eq!(count(&server, "getContactInfo").await, 2);
}

#[tokio::test]
async fn invalidate_all_forgets_the_list_and_every_profile() {
    let server = contact_info_server().await;
    Mock::given(method("GET"))
        .and(path(whatsapp_path("getContacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(whatsapp_contacts()))
        .mount(&server)
        .await;
    let book = ContactBook::new(whatsapp(&server));
    let chat = ChatId::from("79876543210@c.us");
    book.all().await.unwrap();
    book.info(&chat).await.unwrap();

    book.invalidate_all().await;
    book.all().await.unwrap();
    book.info(&chat).await.unwrap();

    assert_eq!(count(&server, "getContacts").await, 2);
    assert_eq!(count(&server, "getContactInfo").await, 2);
}

#[tokio::test]
async fn a_refused_info_request_is_not_cached() {
    let server = contact_info_server().await;
    let book = ContactBook::new(whatsapp(&server));
    let group = ChatId::from("120363043968066561@g.us");

    let error = book.info(&group).await.unwrap_err();
    assert!(matches!(error, Error::Validation(_)), "{error:?}");
    book.info(&group).await.unwrap_err();

    assert_eq!(count(&server, "getContactInfo").await, 0, "never sent");
}

#[test]
fn the_book_is_shareable_across_tasks() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_clone::<ContactBook>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_profile_look_ups_of_a_new_book_make_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(whatsapp_path("getContactInfo")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "chatId": "79876543210@c.us",
                    "name": "Василиса",
                    "contactName": "",
                    "avatar": "",
                    "isBusiness": false
                }))
                .set_delay(Duration::from_millis(200)),
        )
        .mount(&server)
        .await;
    let book = ContactBook::new(whatsapp(&server));
    let vasilisa = ChatId::from("79876543210@c.us");

    let mut infos = JoinSet::new();
    for _ in 0..50 {
        let (book, chat) = (book.clone(), vasilisa.clone());
        infos.spawn(async move { book.info(&chat).await });
    }
    while let Some(info) = infos.join_next().await {
        let info = info.expect("no panic").expect("the profile loads");
        assert_eq!(info.name, "Василиса");
    }

    assert_eq!(count(&server, "getContactInfo").await, 1);
}

#[tokio::test]
async fn forgetting_before_the_first_look_up_loads_nothing_and_the_book_still_loads() {
    let server = whatsapp_server(whatsapp_contacts()).await;
    let book = ContactBook::new(whatsapp(&server));
    book.invalidate().await;
    book.invalidate_info(&ChatId::from("79876543210@c.us"))
        .await;
    book.invalidate_all().await;
    assert_eq!(count(&server, "getContacts").await, 0);

    let found = book.find_best("василиса").await.unwrap();
    assert!(found.is_some());
    assert_eq!(count(&server, "getContacts").await, 1);
}
