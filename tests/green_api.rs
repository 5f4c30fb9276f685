//! The GREEN-API clients (WhatsApp and MAX) against a mock server: for every method, the exact
//! path, verb, headers and JSON body sent — optional fields absent when unset — and the parsed
//! answer. Request and answer examples are the ones of GREEN-API's documentation.

mod common;

use std::time::Duration;

use common::{
    assert_get, assert_json_post, assert_nothing_sent, max, max_path, only_request,
    server_answering, whatsapp, whatsapp_path,
};
use hookbot::gateway::{Gateway, GatewayKind, SendOptions};
use hookbot::{ChatId, ContactCard, ContactKind, Error, MessageId, Rule, ValidationError};
use serde_json::{Value, json};

/// The card of GREEN-API's WhatsApp sendContact example.
fn artem() -> ContactCard {
    ContactCard::new()
        .phone("79001234568")
        .first_name("Артем")
        .middle_name("Петрович")
        .last_name("Евпаторийский")
        .company("Велосипед")
}

/// The `contact` object of GREEN-API's WhatsApp sendContact example.
fn artem_json() -> Value {
    json!({
        "phoneContact": 79001234568_u64,
        "firstName": "Артем",
        "middleName": "Петрович",
        "lastName": "Евпаторийский",
        "company": "Велосипед"
    })
}

fn fixture(name: &str) -> Value {
    let text = match name {
        "get_contacts_whatsapp" => include_str!("fixtures/green_api/get_contacts_whatsapp.json"),
        "get_contacts_max" => include_str!("fixtures/green_api/get_contacts_max.json"),
        "get_contact_info_whatsapp" => {
            include_str!("fixtures/green_api/get_contact_info_whatsapp.json")
        }
        "get_contact_info_max" => include_str!("fixtures/green_api/get_contact_info_max.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixtures are JSON")
}

// ---- WhatsApp: sendMessage ----

#[tokio::test]
async fn whatsapp_send_text_posts_chat_id_and_message_only() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let sent = whatsapp(&server.uri())
        .send_text(
            &ChatId::from("11001234567@c.us"),
            "I use GREEN-API to send this message to you!",
            &SendOptions::new(),
        )
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("3EB0C767D097B7C7C030"));
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendMessage"),
        json!({
            "chatId": "11001234567@c.us",
            "message": "I use GREEN-API to send this message to you!"
        }),
    );
}

#[tokio::test]
async fn whatsapp_send_text_with_quote_and_typing_sends_quoted_message_id_and_typing_time() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let options = SendOptions::new()
        .quote("361B0E63F2FDF95903B6A9C9A102F34B")
        .typing(Duration::from_millis(3000));
    whatsapp(&server.uri())
        .send_text(
            &ChatId::from("120363043968066561@g.us"),
            "Привет!",
            &options,
        )
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendMessage"),
        json!({
            "chatId": "120363043968066561@g.us",
            "message": "Привет!",
            "quotedMessageId": "361B0E63F2FDF95903B6A9C9A102F34B",
            "typingTime": 3000
        }),
    );
}

#[tokio::test]
async fn delay_is_left_out_of_green_api_send_text() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let options = SendOptions::new().delay(Duration::from_secs(5));
    whatsapp(&server.uri())
        .send_text(&ChatId::from("11001234567@c.us"), "hi", &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendMessage"),
        json!({"chatId": "11001234567@c.us", "message": "hi"}),
    );
}

// ---- WhatsApp: sendContact ----

#[tokio::test]
async fn whatsapp_send_contact_posts_the_documented_card() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let sent = whatsapp(&server.uri())
        .send_contact(
            &ChatId::from("11001234567@c.us"),
            &artem(),
            &SendOptions::new(),
        )
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("3EB0C767D097B7C7C030"));
    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendContact"),
        json!({"chatId": "11001234567@c.us", "contact": artem_json()}),
    );
}

#[tokio::test]
async fn whatsapp_send_contact_to_a_group_posts_the_group_chat_id() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    whatsapp(&server.uri())
        .send_contact(
            &ChatId::from("120363043968066561@g.us"),
            &artem(),
            &SendOptions::new(),
        )
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendContact"),
        json!({"chatId": "120363043968066561@g.us", "contact": artem_json()}),
    );
}

#[tokio::test]
async fn whatsapp_send_contact_with_quote_posts_quoted_message_id() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let options = SendOptions::new().quote("361B0E63F2FDF95903B6A9C9A102F34B");
    whatsapp(&server.uri())
        .send_contact(&ChatId::from("11001234567@c.us"), &artem(), &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendContact"),
        json!({
            "chatId": "11001234567@c.us",
            "quotedMessageId": "361B0E63F2FDF95903B6A9C9A102F34B",
            "contact": artem_json()
        }),
    );
}

#[tokio::test]
async fn whatsapp_card_leaves_unset_and_blank_names_out() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let card = ContactCard::new()
        .phone("790012345681")
        .first_name("Василиса")
        .last_name("  ");
    whatsapp(&server.uri())
        .send_contact(
            &ChatId::from("11001234567@c.us"),
            &card,
            &SendOptions::new(),
        )
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendContact"),
        json!({
            "chatId": "11001234567@c.us",
            "contact": {"phoneContact": 790012345681_u64, "firstName": "Василиса"}
        }),
    );
}

#[tokio::test]
async fn whatsapp_card_without_phone_takes_it_from_a_c_us_chat_id() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let card = ContactCard::new()
        .chat_id("79001234568@c.us")
        .company("Велосипед");
    whatsapp(&server.uri())
        .send_contact(
            &ChatId::from("11001234567@c.us"),
            &card,
            &SendOptions::new(),
        )
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendContact"),
        json!({
            "chatId": "11001234567@c.us",
            "contact": {"phoneContact": 79001234568_u64, "company": "Велосипед"}
        }),
    );
}

#[tokio::test]
async fn typing_on_whatsapp_send_contact_is_left_out() {
    let server = server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let options = SendOptions::new().typing(Duration::from_secs(2));
    whatsapp(&server.uri())
        .send_contact(&ChatId::from("11001234567@c.us"), &artem(), &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("sendContact"),
        json!({"chatId": "11001234567@c.us", "contact": artem_json()}),
    );
}

// ---- WhatsApp: getContacts, getContactInfo ----

#[tokio::test]
async fn whatsapp_contacts_gets_the_whole_list_and_reads_each_entry() {
    let server = server_answering(200, fixture("get_contacts_whatsapp")).await;
    let contacts = whatsapp(&server.uri()).contacts().await.unwrap();

    assert_get(
        &only_request(&server).await,
        &whatsapp_path("getContacts"),
        None,
    );
    assert_eq!(contacts.len(), 3);

    let person = &contacts[0];
    assert_eq!(person.chat_id, ChatId::from("79001234567@c.us"));
    assert_eq!(&*person.name, "Артем");
    assert_eq!(&*person.contact_name, "Артем Евпаторийский");
    assert_eq!(person.phone.as_deref(), Some("79001234567"));
    assert_eq!(person.kind, ContactKind::User);

    let group = &contacts[1];
    assert_eq!(group.chat_id, ChatId::from("120363043968066561@g.us"));
    assert_eq!(&*group.name, "Велосипедисты");
    assert_eq!(&*group.contact_name, "");
    assert_eq!(group.phone, None);
    assert_eq!(group.kind, ContactKind::Group);

    let hidden = &contacts[2];
    assert_eq!(hidden.chat_id, ChatId::from("120650379300963@lid"));
    assert_eq!(hidden.phone, None, "a @lid id is not a phone number");
    assert_eq!(hidden.kind, ContactKind::User);
}

#[tokio::test]
async fn whatsapp_contacts_up_to_asks_for_count() {
    let server = server_answering(200, fixture("get_contacts_whatsapp")).await;
    let contacts = whatsapp(&server.uri()).contacts_up_to(50).await.unwrap();

    assert_get(
        &only_request(&server).await,
        &whatsapp_path("getContacts"),
        Some("count=50"),
    );
    assert_eq!(contacts.len(), 3);
}

#[tokio::test]
async fn whatsapp_contact_info_posts_the_chat_id_and_reads_the_profile() {
    let server = server_answering(200, fixture("get_contact_info_whatsapp")).await;
    let info = whatsapp(&server.uri())
        .contact_info(&ChatId::from("79001234568@c.us"))
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &whatsapp_path("getContactInfo"),
        json!({"chatId": "79001234568@c.us"}),
    );
    assert_eq!(info.chat_id, ChatId::from("79001234568@c.us"));
    assert_eq!(info.name, "Велосипед");
    assert_eq!(info.contact_name, "Артем Евпаторийский");
    assert_eq!(info.phone.as_deref(), Some("79001234568"));
    assert_eq!(
        info.avatar.as_deref(),
        Some("https://pps.whatsapp.net/v/t61.24694-24/123456789_n.jpg")
    );
    assert_eq!(info.email.as_deref(), Some("artem@velosiped.example"));
    assert_eq!(info.description.as_deref(), Some("Велосипеды и запчасти"));
    assert!(info.is_business);
}

#[tokio::test]
async fn whatsapp_contact_info_with_empty_fields_leaves_them_unset() {
    let server = server_answering(
        200,
        json!({
            "avatar": "", "name": "", "contactName": "", "email": "", "category": "",
            "description": "", "products": [], "chatId": "79001234568@c.us", "lastSeen": null,
            "isBusiness": false
        }),
    )
    .await;
    let info = whatsapp(&server.uri())
        .contact_info(&ChatId::from("79001234568@c.us"))
        .await
        .unwrap();

    assert_eq!(info.name, "");
    assert_eq!(info.contact_name, "");
    assert_eq!(info.avatar, None);
    assert_eq!(info.email, None);
    assert_eq!(info.description, None);
    assert!(!info.is_business);
    assert_eq!(info.display_name(), "79001234568");
}

// ---- MAX: sendMessage ----

#[tokio::test]
async fn max_send_text_posts_to_the_v3_path() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let sent = max(&server.uri())
        .send_text(&ChatId::from("10000000"), "Привет!", &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("1762333029830"));
    assert_json_post(
        &only_request(&server).await,
        &max_path("sendMessage"),
        json!({"chatId": "10000000", "message": "Привет!"}),
    );
}

#[tokio::test]
async fn max_send_text_with_typing_sends_typing_time() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let options = SendOptions::new().typing(Duration::from_secs(20));
    max(&server.uri())
        .send_text(&ChatId::from("-10000000000000"), "Всем привет", &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &max_path("sendMessage"),
        json!({"chatId": "-10000000000000", "message": "Всем привет", "typingTime": 20000}),
    );
}

#[tokio::test]
async fn quote_on_max_send_text_is_left_out() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let options = SendOptions::new().quote("1762333029000");
    max(&server.uri())
        .send_text(&ChatId::from("10000000"), "ответ", &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &max_path("sendMessage"),
        json!({"chatId": "10000000", "message": "ответ"}),
    );
}

// ---- MAX: sendContact ----

#[tokio::test]
async fn max_send_contact_posts_the_documented_card() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let card = ContactCard::new().chat_id("10000000");
    let sent = max(&server.uri())
        .send_contact(&ChatId::from("10000000"), &card, &SendOptions::new())
        .await
        .unwrap();

    assert_eq!(sent.id, MessageId::from("1762333029830"));
    assert_json_post(
        &only_request(&server).await,
        &max_path("sendContact"),
        json!({"chatId": "10000000", "contact": {"chatId": "10000000"}}),
    );
}

#[tokio::test]
async fn max_card_sends_only_the_contact_chat_id() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let card = ContactCard::new()
        .chat_id("10000000")
        .phone("79876543210")
        .first_name("Василиса")
        .last_name("Премудрая")
        .company("Терем")
        .description("всё знает");
    max(&server.uri())
        .send_contact(&ChatId::from("-10000000000000"), &card, &SendOptions::new())
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &max_path("sendContact"),
        json!({"chatId": "-10000000000000", "contact": {"chatId": "10000000"}}),
    );
}

#[tokio::test]
async fn max_send_contact_with_typing_sends_typing_time() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let card = ContactCard::new().chat_id("10000001");
    let options = SendOptions::new().typing(Duration::from_millis(1000));
    max(&server.uri())
        .send_contact(&ChatId::from("10000000"), &card, &options)
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &max_path("sendContact"),
        json!({"chatId": "10000000", "contact": {"chatId": "10000001"}, "typingTime": 1000}),
    );
}

#[tokio::test]
async fn quote_on_max_send_contact_is_left_out() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let card = ContactCard::new().chat_id("10000001");
    let options = SendOptions::new().quote("1762333029000");
    let sent = max(&server.uri())
        .send_contact(&ChatId::from("10000000"), &card, &options)
        .await;

    assert!(sent.is_ok(), "a quote is dropped, not an error: {sent:?}");
    assert_json_post(
        &only_request(&server).await,
        &max_path("sendContact"),
        json!({"chatId": "10000000", "contact": {"chatId": "10000001"}}),
    );
}

#[tokio::test]
async fn max_card_without_chat_id_is_refused_before_sending() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let card = ContactCard::new()
        .phone("79876543210")
        .first_name("Василиса");
    let error = max(&server.uri())
        .send_contact(&ChatId::from("10000000"), &card, &SendOptions::new())
        .await
        .unwrap_err();

    match error {
        Error::Validation(ValidationError {
            field: "card.chat_id",
            rule: Rule::Required { .. },
        }) => {}
        other => panic!("expected card.chat_id to be required, got {other:?}"),
    }
    assert_nothing_sent(&server).await;
}

#[tokio::test]
async fn max_card_of_a_group_is_refused_before_sending() {
    let server = server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let card = ContactCard::new().chat_id("-10000000000000");
    let error = max(&server.uri())
        .send_contact(&ChatId::from("10000000"), &card, &SendOptions::new())
        .await
        .unwrap_err();

    match error {
        Error::Validation(validation) => assert_eq!(
            validation,
            ValidationError {
                field: "card.chat_id",
                rule: Rule::IndividualChatOnly
            }
        ),
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_nothing_sent(&server).await;
}

// ---- MAX: getContacts, getContactInfo ----

#[tokio::test]
async fn max_contacts_reads_phone_numbers_and_zero_as_hidden() {
    let server = server_answering(200, fixture("get_contacts_max")).await;
    let contacts = max(&server.uri()).contacts().await.unwrap();

    assert_get(&only_request(&server).await, &max_path("getContacts"), None);
    let read: Vec<_> = contacts
        .iter()
        .map(|contact| {
            (
                contact.chat_id.as_str(),
                &*contact.name,
                &*contact.contact_name,
                contact.phone.as_deref(),
                contact.kind,
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (
                "10000000",
                "Василиса",
                "Василиса Премудрая",
                Some("79876543210"),
                ContactKind::User
            ),
            (
                "10000001",
                "Иван",
                "Иван Царевич",
                Some("79998887766"),
                ContactKind::User
            ),
            (
                "10000002",
                "Лягушка",
                "Царевна Лягушка",
                None,
                ContactKind::User
            ),
        ]
    );
}

#[tokio::test]
async fn max_contacts_up_to_asks_for_count_on_the_v3_path() {
    let server = server_answering(200, fixture("get_contacts_max")).await;
    max(&server.uri()).contacts_up_to(2).await.unwrap();

    assert_get(
        &only_request(&server).await,
        &max_path("getContacts"),
        Some("count=2"),
    );
}

#[tokio::test]
async fn max_contact_info_posts_the_chat_id_and_reads_the_documented_profile() {
    let server = server_answering(200, fixture("get_contact_info_max")).await;
    let info = max(&server.uri())
        .contact_info(&ChatId::from("10000000"))
        .await
        .unwrap();

    assert_json_post(
        &only_request(&server).await,
        &max_path("getContactInfo"),
        json!({"chatId": "10000000"}),
    );
    assert_eq!(info.chat_id, ChatId::from("10000000"));
    assert_eq!(info.name, "Ходабрыш Пробешёлов");
    assert_eq!(info.contact_name, "Ходабрыш Пробешёлов");
    assert_eq!(info.phone.as_deref(), Some("79876543210"));
    assert_eq!(
        info.avatar.as_deref(),
        Some(
            "https://i.oneme.ru/i?r=BTE2sh_eZW7g8kugOdIm2Not8_NnztwA3vQTnG7UnQg66d1tkit94ОАfZR8Ps9urfic"
        )
    );
    assert_eq!(info.email, None);
    assert!(!info.is_business);
}

#[tokio::test]
async fn max_contact_info_without_account_has_no_phone() {
    let server = server_answering(
        200,
        json!({"avatar": "", "name": "", "contactName": "", "chatId": "10000002", "lastSeen": null, "phoneNumber": 0}),
    )
    .await;
    let info = max(&server.uri())
        .contact_info(&ChatId::from("10000002"))
        .await
        .unwrap();

    assert_eq!(info.phone, None);
    assert_eq!(info.avatar, None);
    assert_eq!(info.display_name(), "10000002");
}

// ---- URLs and identity ----

#[tokio::test]
async fn api_url_with_a_trailing_slash_or_a_path_prefix_keeps_the_method_path() {
    let server = server_answering(200, json!([])).await;
    let prefixed = format!("{}/green/", server.uri());
    whatsapp(&format!("{}/", server.uri()))
        .contacts()
        .await
        .unwrap();
    max(&prefixed).contacts().await.unwrap();

    let received = common::requests(&server).await;
    assert_eq!(received.len(), 2);
    assert_get(&received[0], &whatsapp_path("getContacts"), None);
    assert_get(
        &received[1],
        &format!("/green{}", max_path("getContacts")),
        None,
    );
}

#[test]
fn clients_report_their_kind_instance_and_capabilities() {
    let whatsapp = whatsapp("http://127.0.0.1:9");
    let max = max("http://127.0.0.1:9");
    assert_eq!(whatsapp.kind(), GatewayKind::GreenApiWhatsApp);
    assert_eq!(max.kind(), GatewayKind::GreenApiMax);
    assert_eq!(whatsapp.instance(), common::INSTANCE);

    let (wa, mx) = (whatsapp.capabilities(), max.capabilities());
    assert_eq!((wa.max_text_chars, mx.max_text_chars), (20000, 4000));
    assert!(wa.quote_text && wa.quote_contact && wa.typing_text && !wa.typing_contact);
    assert!(!mx.quote_text && !mx.quote_contact && mx.typing_text && mx.typing_contact);
    assert!(!wa.delay && !mx.delay);
}
