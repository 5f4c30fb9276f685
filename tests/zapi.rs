//! The Z-API client (Z-API and PlugzAPI) against a mock server: for every method, the exact path,
//! verb, headers and JSON body sent — optional fields absent when unset — and the parsed answer.

mod common;

use std::time::Duration;

use common::{
    CLIENT_TOKEN, ZAPI_INSTANCE, assert_get, assert_json_post, only_request, requests,
    server_answering, zapi, zapi_path, zapi_with_client_token,
};
use hookbot::gateway::{Gateway, GatewayKind, SendOptions};
use hookbot::{ChatId, ContactCard, ContactKind, Error, MessageId};
use serde_json::{Value, json};
use wiremock::matchers::query_param;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Z-API's page size in `contacts?pageSize=`; a page this full means another may follow.
const PAGE_SIZE: usize = 1000;

fn sent_answer() -> Value {
    json!({
        "zaapId": "3999984263738042930CD6ECDE9VDWSA",
        "messageId": "D241XXXX732339502B68",
        "id": "D241XXXX732339502B68"
    })
}

/// The card of PlugzAPI's send-contact example.
fn plug_message() -> ContactCard {
    ContactCard::new()
        .first_name("PlugMessage")
        .last_name("Contato")
        .phone("554498398733")
        .description("PlugMessage Mais software, menos esforço")
}

/// `count` entries of a contact list, phones numbered from `first`.
fn contact_entries(first: usize, count: usize) -> Value {
    (first..first + count)
        .map(|n| {
            json!({
                "name": format!("Contato {n}"),
                "short": "Contato",
                "notify": format!("Pessoa {n}"),
                "vname": "",
                "phone": format!("55449{n:08}")
            })
        })
        .collect()
}

// ---- send-text ----

#[tokio::test]
async fn send_text_posts_phone_and_message_only() {
    let server = server_answering(200, sent_answer()).await;
    let sent = zapi(&server.uri())
        .send_text(
            &ChatId::from("5544999999999"),
            "Welcome to *Z-API*",
            &SendOptions::new(),
        )
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("D241XXXX732339502B68"));
    assert_json_post(
        &only_request(&server).await,
        &zapi_path("send-text"),
        json!({"phone": "5544999999999", "message": "Welcome to *Z-API*"}),
    );
}

#[tokio::test]
async fn send_text_options_become_message_id_delay_message_and_delay_typing() {
    let server = server_answering(200, sent_answer()).await;
    let options = SendOptions::new()
        .quote("3EB0C767D097B7C7C030")
        .delay(Duration::from_secs(15))
        .typing(Duration::from_secs(1));
    zapi(&server.uri())
        .send_text(&ChatId::from("120363019502650977-group"), "Olá", &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &zapi_path("send-text"),
        json!({
            "phone": "120363019502650977-group",
            "message": "Olá",
            "messageId": "3EB0C767D097B7C7C030",
            "delayMessage": 15,
            "delayTyping": 1
        }),
    );
}

#[tokio::test]
async fn send_answer_without_message_id_uses_id() {
    let server = server_answering(200, json!({"zaapId": "39999842", "id": "D241XXXX7323"})).await;
    let sent = zapi(&server.uri())
        .send_text(&ChatId::from("5544999999999"), "oi", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("D241XXXX7323"));
}

#[tokio::test]
async fn send_answer_without_any_id_is_an_invalid_response() {
    let server = server_answering(200, json!({"zaapId": "39999842"})).await;
    let error = zapi(&server.uri())
        .send_text(&ChatId::from("5544999999999"), "oi", &SendOptions::new())
        .await
        .unwrap_err();

    assert!(
        matches!(error, Error::InvalidResponse { .. }),
        "got {error:?}"
    );
}

// ---- send-contact ----

#[tokio::test]
async fn send_contact_posts_the_documented_card() {
    let server = server_answering(200, sent_answer()).await;
    let sent = zapi(&server.uri())
        .send_contact(
            &ChatId::from("5511999999999"),
            &plug_message(),
            &SendOptions::new(),
        )
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("D241XXXX732339502B68"));
    assert_json_post(
        &only_request(&server).await,
        &zapi_path("send-contact"),
        json!({
            "phone": "5511999999999",
            "contactName": "PlugMessage Contato",
            "contactPhone": "554498398733",
            "contactBusinessDescription": "PlugMessage Mais software, menos esforço"
        }),
    );
}

#[tokio::test]
async fn send_contact_options_become_message_id_and_delay_message() {
    let server = server_answering(200, sent_answer()).await;
    let options = SendOptions::new()
        .quote("3EB0C767D097B7C7C030")
        .delay(Duration::from_secs(1));
    zapi(&server.uri())
        .send_contact(&ChatId::from("5511999999999"), &plug_message(), &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &zapi_path("send-contact"),
        json!({
            "phone": "5511999999999",
            "contactName": "PlugMessage Contato",
            "contactPhone": "554498398733",
            "contactBusinessDescription": "PlugMessage Mais software, menos esforço",
            "messageId": "3EB0C767D097B7C7C030",
            "delayMessage": 1
        }),
    );
}

#[tokio::test]
async fn send_contact_without_description_leaves_it_out() {
    let server = server_answering(200, sent_answer()).await;
    let card = ContactCard::new().first_name("Ana").phone("5544999999999");
    zapi(&server.uri())
        .send_contact(&ChatId::from("5511999999999"), &card, &SendOptions::new())
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &zapi_path("send-contact"),
        json!({"phone": "5511999999999", "contactName": "Ana", "contactPhone": "5544999999999"}),
    );
}

#[tokio::test]
async fn send_contact_names_a_card_without_names_by_its_company_and_phone_from_chat_id() {
    let server = server_answering(200, sent_answer()).await;
    let card = ContactCard::new()
        .company("PlugMessage")
        .chat_id("554498398733@c.us");
    zapi(&server.uri())
        .send_contact(&ChatId::from("5511999999999"), &card, &SendOptions::new())
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &zapi_path("send-contact"),
        json!({"phone": "5511999999999", "contactName": "PlugMessage", "contactPhone": "554498398733"}),
    );
}

#[tokio::test]
async fn typing_on_send_contact_is_left_out() {
    let server = server_answering(200, sent_answer()).await;
    let options = SendOptions::new().typing(Duration::from_secs(3));
    zapi(&server.uri())
        .send_contact(&ChatId::from("5511999999999"), &plug_message(), &options)
        .await
        .unwrap();

    let body: Value = serde_json::from_slice(&only_request(&server).await.body).unwrap();
    assert_eq!(body.get("delayTyping"), None);
    assert_eq!(body.get("delayMessage"), None);
}

// ---- contacts ----

#[tokio::test]
async fn contacts_reads_every_page_until_one_is_not_full() {
    let server = MockServer::start().await;
    Mock::given(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(contact_entries(0, PAGE_SIZE)))
        .mount(&server)
        .await;
    Mock::given(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(contact_entries(PAGE_SIZE, 2)))
        .mount(&server)
        .await;

    let contacts = zapi(&server.uri()).contacts().await.unwrap();

    let received = requests(&server).await;
    assert_eq!(received.len(), 2, "a short second page is the last");
    assert_get(
        &received[0],
        &zapi_path("contacts"),
        Some("page=1&pageSize=1000"),
    );
    assert_get(
        &received[1],
        &zapi_path("contacts"),
        Some("page=2&pageSize=1000"),
    );
    assert_eq!(contacts.len(), PAGE_SIZE + 2);
    assert_eq!(contacts[0].phone.as_deref(), Some("5544900000000"));
    assert_eq!(
        contacts[PAGE_SIZE + 1].phone.as_deref(),
        Some("5544900001001")
    );
}

#[tokio::test]
async fn contacts_stops_at_an_empty_page_after_a_full_one() {
    let server = MockServer::start().await;
    Mock::given(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(contact_entries(0, PAGE_SIZE)))
        .mount(&server)
        .await;
    Mock::given(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;

    let contacts = zapi(&server.uri()).contacts().await.unwrap();

    assert_eq!(requests(&server).await.len(), 2);
    assert_eq!(contacts.len(), PAGE_SIZE);
}

#[tokio::test]
async fn contacts_reads_names_notify_and_phone_of_each_entry() {
    let server = server_answering(
        200,
        json!([
            {"name": "Ana Souza", "short": "Ana", "notify": "Aninha", "vname": "Ana S.", "phone": "5544999999999"},
            {"name": null, "short": "Time", "notify": null, "vname": "Time vcard", "phone": "120363019502650977-group"},
            {"name": "", "short": "", "notify": "", "vname": "", "phone": ""}
        ]),
    )
    .await;
    let contacts = zapi(&server.uri()).contacts().await.unwrap();

    assert_get(
        &only_request(&server).await,
        &zapi_path("contacts"),
        Some("page=1&pageSize=1000"),
    );
    assert_eq!(contacts.len(), 2, "an entry without a phone is skipped");

    let person = &contacts[0];
    assert_eq!(person.chat_id, ChatId::from("5544999999999"));
    assert_eq!(&*person.contact_name, "Ana Souza");
    assert_eq!(&*person.name, "Aninha");
    assert_eq!(person.phone.as_deref(), Some("5544999999999"));
    assert_eq!(person.kind, ContactKind::User);

    let group = &contacts[1];
    assert_eq!(group.chat_id, ChatId::from("120363019502650977-group"));
    assert_eq!(&*group.contact_name, "Time");
    assert_eq!(&*group.name, "Time vcard");
    assert_eq!(group.phone, None);
    assert_eq!(group.kind, ContactKind::Group);
}

// ---- contacts/{phone} ----

#[tokio::test]
async fn contact_info_gets_the_contact_by_phone_and_reads_the_profile() {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/zapi/get_contact.json")).unwrap();
    let server = server_answering(200, fixture).await;
    let info = zapi(&server.uri())
        .contact_info(&ChatId::from("5544999999999"))
        .await
        .unwrap();

    assert_get(
        &only_request(&server).await,
        &zapi_path("contacts/5544999999999"),
        None,
    );
    assert_eq!(info.chat_id, ChatId::from("5544999999999"));
    assert_eq!(info.contact_name, "Ana Souza");
    assert_eq!(info.name, "Ana");
    assert_eq!(info.phone.as_deref(), Some("5544999999999"));
    assert_eq!(
        info.avatar.as_deref(),
        Some("https://pps.whatsapp.net/v/t61.24694-24/5544999999999_n.jpg")
    );
    assert_eq!(
        info.description.as_deref(),
        Some("Mais software, menos esforço")
    );
}

// ---- Client-Token and base URLs ----

/// Calls every method of `client` once against a server that answers them all.
async fn call_every_method(server: &MockServer, client: &hookbot::gateway::ZApi) {
    Mock::given(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(wiremock::matchers::path(zapi_path(
        "contacts/5544999999999",
    )))
    .respond_with(ResponseTemplate::new(200).set_body_json(json!({"phone": "5544999999999"})))
    .with_priority(1)
    .mount(server)
    .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(sent_answer()))
        .mount(server)
        .await;
    let chat = ChatId::from("5544999999999");
    let options = SendOptions::new();
    client.send_text(&chat, "oi", &options).await.unwrap();
    client
        .send_contact(&chat, &plug_message(), &options)
        .await
        .unwrap();
    client.contacts().await.unwrap();
    client.contact_info(&chat).await.unwrap();
}

#[tokio::test]
async fn client_token_header_is_sent_on_every_method_when_configured() {
    let server = MockServer::start().await;
    call_every_method(&server, &zapi_with_client_token(&server.uri())).await;

    let received = requests(&server).await;
    assert_eq!(received.len(), 4);
    for request in &received {
        assert_eq!(
            request
                .headers
                .get("client-token")
                .and_then(|value| value.to_str().ok()),
            Some(CLIENT_TOKEN),
            "{}",
            request.url.path()
        );
    }
}

#[tokio::test]
async fn no_client_token_header_is_sent_without_one() {
    let server = MockServer::start().await;
    call_every_method(&server, &zapi(&server.uri())).await;

    let received = requests(&server).await;
    assert_eq!(received.len(), 4);
    for request in &received {
        assert!(
            request.headers.get("client-token").is_none(),
            "{}",
            request.url.path()
        );
    }
}

#[tokio::test]
async fn plugzapi_base_url_with_a_path_prefix_keeps_the_prefix() {
    let server = server_answering(200, sent_answer()).await;
    let base_url = format!("{}/plugzapi/v1/", server.uri());
    zapi(&base_url)
        .send_contact(
            &ChatId::from("5511999998888"),
            &plug_message(),
            &SendOptions::new(),
        )
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_eq!(
        request.url.path(),
        format!("/plugzapi/v1{}", zapi_path("send-contact"))
    );
}

#[test]
fn client_reports_its_kind_instance_and_capabilities() {
    let client = zapi("http://127.0.0.1:9");
    assert_eq!(client.kind(), GatewayKind::ZApi);
    assert_eq!(client.instance(), ZAPI_INSTANCE);
    let capabilities = client.capabilities();
    assert!(capabilities.quote_text && capabilities.quote_contact && capabilities.delay);
    assert!(capabilities.typing_text && !capabilities.typing_contact);
}
