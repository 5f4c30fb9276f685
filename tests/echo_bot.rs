//! `echo-bot` over real HTTP: notifications of each kind posted to its webhook, and what it
//! sent to a mock gateway (GREEN-API WhatsApp, Z-API) — the same kind back.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Server, assert_json_post, body, server_answering, whatsapp_path, zapi_path};
use hookbot::Bot;
use hookbot::bots::echo;
use hookbot::gateway::Gateway;
use hookbot::instance::Instance;
use serde_json::{Value, json};
use wiremock::{MockServer, Request};

const WEBHOOK_TOKEN: &str = "echo-webhook-secret";
const VASILISA: &str = "79001234567@c.us";
const ANA: &str = "5544999999999";

fn fixture(path: &str, id: &str) -> Value {
    let text = std::fs::read_to_string(format!("tests/fixtures/{path}.json")).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    let id_field = if path.starts_with("zapi/") {
        "messageId"
    } else {
        "idMessage"
    };
    value[id_field] = json!(id);
    value
}

async fn echo_bot(gateway: Arc<dyn Gateway>) -> Server {
    let bot = Bot::builder(echo::router())
        .instances(Instance::new(gateway))
        .webhook_token(WEBHOOK_TOKEN)
        .build()
        .unwrap();
    Server::start(bot).await
}

/// Waits (up to 10 s) until the mock has received `count` requests; they, in order.
async fn received(server: &MockServer, count: usize) -> Vec<Request> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let requests = common::requests(server).await;
        if requests.len() >= count {
            return requests;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out with {} of {count} requests",
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn echo_bot_answers_each_green_api_kind_with_the_same_kind() {
    let gateway = server_answering(200, json!({"idMessage": "SENT"})).await;
    let bot = echo_bot(Arc::new(common::whatsapp(&gateway.uri()))).await;
    let kinds = [
        "incoming_text",
        "incoming_image",
        "incoming_video",
        "incoming_audio",
        "incoming_document",
        "incoming_location",
        "incoming_contact",
        "incoming_poll",
        "incoming_sticker",
    ];
    for (at, kind) in kinds.iter().enumerate() {
        let notification = fixture(&format!("green_api/{kind}"), &format!("ID{at}"));
        let status = bot
            .post("/webhook", body(&notification), Some(WEBHOOK_TOKEN))
            .await;
        assert_eq!(status, 200, "{kind}");
    }
    let sent = received(&gateway, kinds.len()).await;
    let text_chat = fixture("green_api/incoming_text", "x")["senderData"]["chatId"].clone();
    let text =
        fixture("green_api/incoming_text", "x")["messageData"]["textMessageData"]["textMessage"]
            .clone();
    assert_json_post(
        &sent[0],
        &whatsapp_path("sendMessage"),
        json!({"chatId": text_chat, "message": text}),
    );
    let media = "https://do-media-7105.fra1.digitaloceanspaces.com/7105000000";
    assert_json_post(
        &sent[1],
        &whatsapp_path("sendFileByUrl"),
        json!({"chatId": VASILISA, "urlFile": format!("{media}/2c1b6b4f-3f5a.jpg"),
               "fileName": "2c1b6b4f-3f5a.jpg", "caption": "Визитка"}),
    );
    assert_json_post(
        &sent[2],
        &whatsapp_path("sendFileByUrl"),
        json!({"chatId": VASILISA, "urlFile": format!("{media}/9a1c.mp4"), "fileName": "9a1c.mp4"}),
    );
    assert_json_post(
        &sent[3],
        &whatsapp_path("sendFileByUrl"),
        json!({"chatId": VASILISA, "urlFile": format!("{media}/voice.oga"), "fileName": "voice.oga"}),
    );
    assert_json_post(
        &sent[4],
        &whatsapp_path("sendFileByUrl"),
        json!({"chatId": VASILISA, "urlFile": format!("{media}/price.pdf"),
               "fileName": "Прайс-лист.pdf", "caption": "Прайс"}),
    );
    assert_json_post(
        &sent[5],
        &whatsapp_path("sendLocation"),
        json!({"chatId": VASILISA, "latitude": 55.75393, "longitude": 37.620795,
               "nameLocation": "Красная площадь", "address": "Москва, Россия"}),
    );
    assert_json_post(
        &sent[6],
        &whatsapp_path("sendContact"),
        json!({"chatId": VASILISA, "contact": {"phoneContact": 79001234568_u64,
               "firstName": "Артем Евпаторийский"}}),
    );
    assert_json_post(
        &sent[7],
        &whatsapp_path("sendPoll"),
        json!({"chatId": VASILISA, "message": "Когда встречаемся?",
               "options": [{"optionName": "В субботу"}, {"optionName": "В воскресенье"}]}),
    );
    assert_json_post(
        &sent[8],
        &whatsapp_path("sendMessage"),
        json!({"chatId": VASILISA, "message": "Got a sticker; I can't echo that."}),
    );
    bot.stop().await.unwrap().unwrap();
}

#[tokio::test]
async fn echo_bot_answers_each_zapi_kind_with_the_same_kind() {
    let gateway = server_answering(200, json!({"zaapId": "Z", "messageId": "SENT"})).await;
    let bot = echo_bot(Arc::new(common::zapi(&gateway.uri()))).await;
    let kinds = [
        "received_text",
        "received_image",
        "received_document",
        "received_location",
        "received_poll",
    ];
    for (at, kind) in kinds.iter().enumerate() {
        let notification = fixture(&format!("zapi/{kind}"), &format!("ID{at}"));
        let path = format!("/webhook/{WEBHOOK_TOKEN}");
        let status = bot.post(&path, body(&notification), None).await;
        assert_eq!(status, 200, "{kind}");
    }
    let sent = received(&gateway, kinds.len()).await;
    let text = fixture("zapi/received_text", "x")["text"]["message"].clone();
    assert_json_post(
        &sent[0],
        &zapi_path("send-text"),
        json!({"phone": ANA, "message": text}),
    );
    assert_json_post(
        &sent[1],
        &zapi_path("send-image"),
        json!({"phone": ANA, "image": "https://storage.z-api.io/instances/media/image.jpeg",
               "caption": "Cartão de visita"}),
    );
    assert_json_post(
        &sent[2],
        &zapi_path("send-document/pdf"),
        json!({"phone": ANA, "document": "https://storage.z-api.io/instances/media/tabela.pdf",
               "fileName": "tabela.pdf"}),
    );
    assert_json_post(
        &sent[3],
        &zapi_path("send-location"),
        json!({"phone": ANA, "title": "Marco Zero", "address": "Praça da Sé, São Paulo",
               "latitude": "-23.55052", "longitude": "-46.633308"}),
    );
    assert_json_post(
        &sent[4],
        &zapi_path("send-poll"),
        json!({"phone": ANA, "message": "Qual a melhor API?",
               "poll": [{"name": "Z-API"}, {"name": "Outras"}]}),
    );
    bot.stop().await.unwrap().unwrap();
}
