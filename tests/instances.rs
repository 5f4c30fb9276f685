//! Several instances in one bot, over real HTTP: each notification reaches its own instance's
//! handlers and replies go out through that instance's client (GREEN-API by `idInstance` and
//! bearer token, Z-API by its webhook path token); unknown instances and wrong tokens are
//! refused; dedupe and contacts are per instance; the instances file and `HOOKBOT_INSTANCES`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Server, body, incoming_text};
use hookbot::BoxError;
use hookbot::bot::Bot;
use hookbot::config::Config;
use hookbot::context::{Context, TimedOut};
use hookbot::conversation::{ConversationKey, Conversations, Storage};
use hookbot::gateway::{
    ClientSettings, DEFAULT_GREEN_API_TELEGRAM_URL, GatewayConfig, GatewayKind, GreenApi,
    RateLimits, RetryPolicy, SendOptions, ZApi,
};
use hookbot::instance::{Instance, InstanceConfig, Instances};
use hookbot::intake::{Intake, PollingSettings};
use hookbot::router::Router;
use hookbot::sandbox::{Author, ChatEntry, Sandbox, UserMessage};
use hookbot::{Error, filter};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const A_ID: &str = "1101000001";
const B_ID: &str = "1101000002";
const Z_ID: &str = "3C4A1B2C3D4E5F6A7B8C9D0E1F2A3B4C";
const A_HOOK: &str = "hook-a-5d1e";
const B_HOOK: &str = "hook-b-93c0";
const Z_HOOK: &str = "hook-z-0b7f";
const CHAT: &str = "79001234567@c.us";

fn settings() -> ClientSettings {
    ClientSettings::new()
        .rate_limits(RateLimits::unlimited())
        .retry(RetryPolicy::new().initial_delay(Duration::from_millis(10)))
}

/// A wiremock GREEN-API WhatsApp instance `id` with token `token` that accepts sendMessage
/// and lists `contacts`.
async fn green_api_server(id: &str, token: &str, contacts: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/waInstance{id}/sendMessage/{token}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"idMessage": "SENT1"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/waInstance{id}/getContacts/{token}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(contacts))
        .mount(&server)
        .await;
    server
}

/// A wiremock Z-API instance that accepts send-text.
async fn zapi_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/instances/{Z_ID}/token/z-token/send-text")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"zaapId": "Z1", "messageId": "M1"})),
        )
        .mount(&server)
        .await;
    server
}

fn green_api_instance(
    server: &MockServer,
    id: &str,
    token: &str,
    name: &str,
    hook: &str,
) -> Instance {
    let gateway = GreenApi::whatsapp(server.uri(), id, token)
        .settings(settings())
        .build()
        .unwrap();
    Instance::builder(Arc::new(gateway))
        .name(name)
        .webhook_token(hook)
        .build()
}

fn zapi_instance(server: &MockServer) -> Instance {
    let gateway = ZApi::builder(server.uri(), Z_ID, "z-token")
        .settings(settings())
        .build()
        .unwrap();
    Instance::builder(Arc::new(gateway))
        .name("zapi")
        .webhook_token(Z_HOOK)
        .build()
}

/// What the handlers saw: the instance's name and the text, in order.
#[derive(Clone, Default)]
struct Handled(Arc<Mutex<Vec<(String, String)>>>);

impl Handled {
    fn all(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<(String, String)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.all().len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out; handled {:?}",
                self.all()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.all()
    }
}

/// Records the instance and text, and answers `<instance name>: <text>`.
async fn answer(cx: Context<Handled>) -> hookbot::Result<()> {
    let text = cx.text().unwrap_or_default().to_owned();
    let name = cx.instance().label().to_owned();
    cx.state()
        .0
        .lock()
        .unwrap()
        .push((name.clone(), text.clone()));
    cx.reply(format!("{name}: {text}")).await?;
    Ok(())
}

fn answering() -> Router<Handled> {
    Router::new().route(filter::incoming(), answer)
}

/// The bodies of the sends `server` received.
async fn sent(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| {
            let path = request.url.path();
            path.contains("/sendMessage/") || path.ends_with("/send-text")
        })
        .filter_map(|request| serde_json::from_slice(&request.body).ok())
        .collect()
}

/// Waits until `server` received `count` sends, and returns them.
async fn wait_sent(server: &MockServer, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sent = sent(server).await;
        if sent.len() >= count {
            return sent;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {count} sends; got {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A GREEN-API text notification of instance `id`.
fn text_of(id: &str, message_id: &str, text: &str) -> Vec<u8> {
    let mut notification = incoming_text(CHAT, message_id, text);
    notification["instanceData"]["idInstance"] = json!(id.parse::<u64>().unwrap());
    body(&notification)
}

/// A Z-API text callback of instance `id`.
fn zapi_text(id: &str, message_id: &str, text: &str) -> Vec<u8> {
    body(&json!({
        "type": "ReceivedCallback", "instanceId": id, "messageId": message_id,
        "phone": "5544999999999", "fromMe": false, "isGroup": false,
        "momment": 1632228638000u64, "senderName": "Ana", "text": {"message": text}
    }))
}

/// Two GREEN-API instances `a` and `b` and a Z-API one, served by one bot.
struct ThreeInstances {
    a: MockServer,
    b: MockServer,
    z: MockServer,
    handled: Handled,
    bot: Server,
}

async fn three_instances() -> ThreeInstances {
    let a = green_api_server(A_ID, "token-a", json!([])).await;
    let b = green_api_server(B_ID, "token-b", json!([])).await;
    let z = zapi_server().await;
    let instances = Instances::new([
        green_api_instance(&a, A_ID, "token-a", "sales", A_HOOK),
        green_api_instance(&b, B_ID, "token-b", "support", B_HOOK),
        zapi_instance(&z),
    ])
    .unwrap();
    let handled = Handled::default();
    let bot = Bot::builder(answering())
        .state(handled.clone())
        .instances(instances);
    let bot = Server::start(bot.build().unwrap()).await;
    ThreeInstances {
        a,
        b,
        z,
        handled,
        bot,
    }
}

#[tokio::test]
async fn each_notification_reaches_its_instance_and_the_reply_goes_out_through_it() {
    let bots = three_instances().await;
    let status = bots
        .bot
        .post("/webhook", text_of(A_ID, "M-A", "for sales"), Some(A_HOOK))
        .await;
    assert_eq!(status, StatusCode::OK);
    let to_a = wait_sent(&bots.a, 1).await;
    assert_eq!(to_a[0]["chatId"], CHAT);
    assert_eq!(to_a[0]["message"], "sales: for sales");

    let status = bots
        .bot
        .post(
            "/webhook",
            text_of(B_ID, "M-B", "for support"),
            Some(B_HOOK),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let to_b = wait_sent(&bots.b, 1).await;
    assert_eq!(to_b[0]["message"], "support: for support");

    assert_eq!(
        bots.handled.wait_for(2).await,
        [
            ("sales".to_owned(), "for sales".to_owned()),
            ("support".to_owned(), "for support".to_owned())
        ]
    );
    assert_eq!(sent(&bots.a).await.len(), 1, "B's reply went out through A");
    assert!(sent(&bots.z).await.is_empty());
}

#[tokio::test]
async fn a_zapi_instance_is_found_by_its_webhook_path_token() {
    let bots = three_instances().await;
    let status = bots
        .bot
        .post(
            &format!("/webhook/{Z_HOOK}"),
            zapi_text(Z_ID, "Z-1", "olá"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let to_z = wait_sent(&bots.z, 1).await;
    assert_eq!(to_z[0]["phone"], "5544999999999");
    assert_eq!(to_z[0]["message"], "zapi: olá");
    assert_eq!(bots.handled.all(), [("zapi".to_owned(), "olá".to_owned())]);
    assert!(sent(&bots.a).await.is_empty() && sent(&bots.b).await.is_empty());
}

#[tokio::test]
async fn unknown_instances_and_wrong_tokens_are_refused_and_not_handled() {
    let bots = three_instances().await;
    let post = |path: String, body: Vec<u8>, token: Option<&'static str>| {
        let bot = &bots.bot;
        async move { bot.post(&path, body, token).await }
    };
    // GREEN-API: an instance the bot does not serve, with a valid token of another.
    let unknown = post(
        "/webhook".into(),
        text_of("1101000099", "U1", "who"),
        Some(A_HOOK),
    )
    .await;
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    // A known instance with another instance's token, with none, with a made-up one.
    let crossed = post(
        "/webhook".into(),
        text_of(B_ID, "W1", "crossed"),
        Some(A_HOOK),
    )
    .await;
    assert_eq!(crossed, StatusCode::UNAUTHORIZED);
    let missing = post("/webhook".into(), text_of(A_ID, "W2", "no token"), None).await;
    assert_eq!(missing, StatusCode::UNAUTHORIZED);
    let wrong = post(
        "/webhook".into(),
        text_of(A_ID, "W3", "wrong"),
        Some("nope"),
    )
    .await;
    assert_eq!(wrong, StatusCode::UNAUTHORIZED);
    // Z-API: an unknown path token; the right token with another instance's callback.
    let zapi_wrong = post("/webhook/nope".into(), zapi_text(Z_ID, "Z1", "x"), None).await;
    assert_eq!(zapi_wrong, StatusCode::UNAUTHORIZED);
    let zapi_other = post(
        format!("/webhook/{Z_HOOK}"),
        zapi_text("FFFF0000FFFF0000", "Z2", "other"),
        None,
    )
    .await;
    assert_eq!(zapi_other, StatusCode::NOT_FOUND);
    // A Z-API callback posted to the GREEN-API door is not any GREEN-API instance's.
    let zapi_at_green = post("/webhook".into(), zapi_text(Z_ID, "Z3", "x"), Some(A_HOOK)).await;
    assert_eq!(zapi_at_green, StatusCode::NOT_FOUND);

    // Refusals are answered before anything is queued: a later notification is the first
    // one handled, and the only send.
    let ok = post(
        "/webhook".into(),
        text_of(A_ID, "OK1", "after"),
        Some(A_HOOK),
    )
    .await;
    assert_eq!(ok, StatusCode::OK);
    wait_sent(&bots.a, 1).await;
    assert_eq!(
        bots.handled.all(),
        [("sales".to_owned(), "after".to_owned())]
    );
    assert!(sent(&bots.b).await.is_empty() && sent(&bots.z).await.is_empty());
}

#[tokio::test]
async fn a_bot_of_several_instances_answers_400_and_413_after_the_token_check() {
    let bots = three_instances().await;
    let too_large = vec![b' '; 2 * 1024 * 1024];
    let post = |path: &str, body: Vec<u8>, token: Option<&'static str>| {
        let (bot, path) = (&bots.bot, path.to_owned());
        async move { bot.post(&path, body, token).await }
    };
    assert_eq!(
        post("/webhook", too_large.clone(), Some(A_HOOK)).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        post(&format!("/webhook/{Z_HOOK}"), too_large.clone(), None).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // The token is checked before the body is read.
    assert_eq!(
        post("/webhook", too_large, Some("nope")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post("/webhook", b"not json".to_vec(), Some(B_HOOK)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(&format!("/webhook/{Z_HOOK}"), b"[1]".to_vec(), None).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post("/webhook", b"not json".to_vec(), Some("nope")).await,
        StatusCode::UNAUTHORIZED
    );
    let ok = post("/webhook", text_of(A_ID, "OK1", "after"), Some(A_HOOK)).await;
    assert_eq!(ok, StatusCode::OK);
    wait_sent(&bots.a, 1).await;
    assert_eq!(
        bots.handled.all(),
        [("sales".to_owned(), "after".to_owned())]
    );
}

#[tokio::test]
async fn the_same_message_id_on_two_instances_is_handled_on_both() {
    let bots = three_instances().await;
    for (id, hook) in [(A_ID, A_HOOK), (B_ID, B_HOOK)] {
        let status = bots
            .bot
            .post("/webhook", text_of(id, "SAME-ID", "twice"), Some(hook))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    wait_sent(&bots.a, 1).await;
    wait_sent(&bots.b, 1).await;
    // A true duplicate on A is acknowledged and not handled again.
    let again = bots
        .bot
        .post("/webhook", text_of(A_ID, "SAME-ID", "twice"), Some(A_HOOK))
        .await;
    assert_eq!(again, StatusCode::OK);
    let after = bots
        .bot
        .post("/webhook", text_of(A_ID, "NEXT", "next"), Some(A_HOOK))
        .await;
    assert_eq!(after, StatusCode::OK);
    let handled = bots.handled.wait_for(3).await;
    assert_eq!(
        handled.iter().filter(|(_, text)| text == "twice").count(),
        2,
        "{handled:?}"
    );
    assert_eq!(wait_sent(&bots.a, 2).await.len(), 2);
}

#[tokio::test]
async fn a_bot_built_on_one_client_serves_what_it_is_posted_as_before() {
    let a = green_api_server(A_ID, "token-a", json!([])).await;
    let gateway = GreenApi::whatsapp(a.uri(), A_ID, "token-a")
        .settings(settings())
        .build()
        .unwrap();
    let handled = Handled::default();
    let bot = Bot::builder(answering())
        .state(handled.clone())
        .gateway(gateway)
        .webhook_token(A_HOOK)
        .build()
        .unwrap();
    let bot = Server::start(bot).await;
    // The notification names another instance: a bot of one client does not check it.
    let status = bot
        .post("/webhook", text_of(B_ID, "L1", "lenient"), Some(A_HOOK))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        wait_sent(&a, 1).await[0]["message"],
        format!("{A_ID}: lenient")
    );
    let wrong = bot
        .post("/webhook", text_of(A_ID, "L2", "wrong"), Some(B_HOOK))
        .await;
    assert_eq!(wrong, StatusCode::UNAUTHORIZED);
}

/// Answers with the names of the instance's contacts.
async fn list_contacts(cx: Context) -> hookbot::Result<()> {
    let contacts = cx.contacts().all().await?;
    let names: Vec<&str> = contacts.iter().map(|contact| &*contact.name).collect();
    cx.reply(names.join(",")).await?;
    Ok(())
}

#[tokio::test]
async fn each_instance_has_its_own_contact_cache() {
    let a = green_api_server(
        A_ID,
        "token-a",
        json!([{"id": "79001111111@c.us", "name": "Anna", "contactName": "", "type": "user"}]),
    )
    .await;
    let b = green_api_server(
        B_ID,
        "token-b",
        json!([{"id": "79002222222@c.us", "name": "Boris", "contactName": "", "type": "user"}]),
    )
    .await;
    let instances = Instances::new([
        green_api_instance(&a, A_ID, "token-a", "a", A_HOOK),
        green_api_instance(&b, B_ID, "token-b", "b", B_HOOK),
    ])
    .unwrap();
    let router = Router::new().route(filter::incoming(), list_contacts);
    let bot = Server::start(Bot::builder(router).instances(instances).build().unwrap()).await;

    bot.post("/webhook", text_of(A_ID, "C1", "contacts"), Some(A_HOOK))
        .await;
    assert_eq!(wait_sent(&a, 1).await[0]["message"], "Anna");
    bot.post("/webhook", text_of(B_ID, "C2", "contacts"), Some(B_HOOK))
        .await;
    assert_eq!(wait_sent(&b, 1).await[0]["message"], "Boris");
    bot.post("/webhook", text_of(A_ID, "C3", "contacts"), Some(A_HOOK))
        .await;
    assert_eq!(wait_sent(&a, 2).await[1]["message"], "Anna");

    let lists = |requests: Vec<wiremock::Request>| {
        requests
            .iter()
            .filter(|request| request.url.path().contains("/getContacts/"))
            .count()
    };
    assert_eq!(
        lists(a.received_requests().await.unwrap()),
        1,
        "A's list is cached"
    );
    assert_eq!(lists(b.received_requests().await.unwrap()), 1);
}

/// A store that reports one conversation of instance B as timed out.
#[derive(Clone, Default)]
struct OneTimeout {
    reported: Arc<Mutex<bool>>,
}

#[async_trait]
impl Storage<u32> for OneTimeout {
    async fn load(&self, _: &ConversationKey) -> Result<Option<u32>, BoxError> {
        Ok(None)
    }

    async fn save(&self, _: &ConversationKey, _: u32) -> Result<(), BoxError> {
        Ok(())
    }

    async fn remove(&self, _: &ConversationKey) -> Result<(), BoxError> {
        Ok(())
    }

    async fn expired(&self) -> Result<(ConversationKey, u32), BoxError> {
        let first = !std::mem::replace(&mut *self.reported.lock().unwrap(), true);
        if !first {
            std::future::pending::<()>().await;
        }
        let key = ConversationKey::new(
            GatewayKind::GreenApiWhatsApp,
            B_ID,
            Some(CHAT.into()),
            Some(CHAT.into()),
        );
        Ok((key, 3))
    }
}

#[tokio::test]
async fn a_timed_out_conversation_is_told_through_its_own_instance() {
    async fn tell(timed_out: TimedOut<(), u32>) -> hookbot::Result<()> {
        let from = timed_out.instance().label().to_owned();
        timed_out.reply(format!("{from}: session over")).await?;
        Ok(())
    }
    let a = green_api_server(A_ID, "token-a", json!([])).await;
    let b = green_api_server(B_ID, "token-b", json!([])).await;
    let instances = Instances::new([
        green_api_instance(&a, A_ID, "token-a", "a", A_HOOK),
        green_api_instance(&b, B_ID, "token-b", "b", B_HOOK),
    ])
    .unwrap();
    let router: Router<(), u32> = Router::new();
    let bot = Bot::builder(router)
        .instances(instances)
        .conversations(Conversations::new(OneTimeout::default()))
        .on_conversation_timeout(tell)
        .build()
        .unwrap();
    let _bot = Server::start(bot).await;
    let to_b = wait_sent(&b, 1).await;
    assert_eq!(to_b[0]["chatId"], CHAT);
    assert_eq!(to_b[0]["message"], "b: session over");
    assert!(sent(&a).await.is_empty());
}

/// A sandbox served on its own port, as one GREEN-API instance.
async fn sandbox_instance(id: &str, token: &str) -> (Sandbox, Instance) {
    let sandbox = Sandbox::builder().instance(id).token(token).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = sandbox.router();
    tokio::spawn(async move { axum_serve(listener, router).await });
    let gateway = GreenApi::whatsapp(url, id, token)
        .settings(settings())
        .build()
        .unwrap();
    (
        sandbox,
        Instance::builder(Arc::new(gateway)).name(id).build(),
    )
}

/// The bot's next message on a sandbox.
async fn bot_reply(entries: &mut tokio::sync::broadcast::Receiver<ChatEntry>) -> ChatEntry {
    loop {
        let entry = tokio::time::timeout(Duration::from_secs(10), entries.recv())
            .await
            .expect("a reply within 10 s")
            .unwrap();
        if entry.author == Author::Bot {
            return entry;
        }
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
    let _ = axum::serve(listener, router).await;
}

#[tokio::test]
async fn a_polling_bot_polls_each_instance_and_replies_through_it() {
    let (sandbox_a, a) = sandbox_instance(A_ID, "token-a").await;
    let (sandbox_b, b) = sandbox_instance(B_ID, "token-b").await;
    let mut entries_a = sandbox_a.subscribe();
    let mut entries_b = sandbox_b.subscribe();
    let handled = Handled::default();
    let bot = Bot::builder(answering())
        .state(handled.clone())
        .instances(Instances::new([a, b]).unwrap())
        .intake(Intake::Polling(
            PollingSettings::new()
                .receive_timeout(Duration::from_secs(5))
                .backoff(Duration::from_millis(10), Duration::from_millis(200)),
        ))
        .build()
        .unwrap();
    let _bot = Server::start(bot).await;

    sandbox_a
        .send(UserMessage::text(CHAT, "to a"))
        .await
        .unwrap();
    sandbox_b
        .send(UserMessage::text(CHAT, "to b"))
        .await
        .unwrap();
    let from_a = bot_reply(&mut entries_a).await;
    let from_b = bot_reply(&mut entries_b).await;
    assert_eq!(from_a.text(), Some(&*format!("{A_ID}: to a")));
    assert_eq!(from_b.text(), Some(&*format!("{B_ID}: to b")));
}

const TOML: &str = r#"
[[instance]]
name = "sales"
gateway = "green-api"
url = "https://7105.api.greenapi.com"
id = "1101000001"
token = "green-secret-aaaa"
webhook_token = "hook-secret-aaaa"

[[instance]]
gateway = "green-api-max"
id = 3100000002
token = "max-secret-bbbb"

[[instance]]
name = "brasil"
gateway = "zapi"
url = "https://api.plugzapi.com.br"
id = "3C4A1B2C3D4E5F6A7B8C9D0E1F2A3B4C"
token = "zapi-secret-cccc"
webhook_token = "hook-secret-cccc"
client_token = "client-secret-dddd"
"#;

const SECRETS: [&str; 5] = [
    "green-secret-aaaa",
    "hook-secret-aaaa",
    "max-secret-bbbb",
    "zapi-secret-cccc",
    "client-secret-dddd",
];

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
}

#[test]
fn a_telegram_instance_in_the_file_connects_a_telegram_client_on_telegrams_host() {
    let configs = InstanceConfig::from_toml(
        r#"
[[instance]]
gateway = "green-api-telegram"
id = 4100000001
token = "telegram-secret-eeee"
"#,
    )
    .unwrap();
    assert_eq!(configs[0].kind(), Some(GatewayKind::GreenApiTelegram));
    assert!(matches!(
        &configs[0].gateway,
        GatewayConfig::GreenApi { api_url, .. } if api_url == DEFAULT_GREEN_API_TELEGRAM_URL
    ));
    let instances = Instances::connect(&configs, &ClientSettings::default()).unwrap();
    let telegram = instances
        .get(GatewayKind::GreenApiWhatsApp, "4100000001")
        .expect("GREEN-API's messengers share one space of ids");
    assert_eq!(telegram.kind(), GatewayKind::GreenApiTelegram);
    assert!(!format!("{instances:?}").contains("telegram-secret-eeee"));
}

#[test]
fn an_instances_file_in_toml_or_json_lists_each_instance() {
    let from_toml = InstanceConfig::from_toml(TOML).unwrap();
    let json = json!({"instance": [
        {"name": "sales", "gateway": "green-api", "url": "https://7105.api.greenapi.com",
         "id": "1101000001", "token": "green-secret-aaaa", "webhook_token": "hook-secret-aaaa"},
        {"gateway": "green-api-max", "id": 3100000002u64, "token": "max-secret-bbbb"},
        {"name": "brasil", "gateway": "zapi", "url": "https://api.plugzapi.com.br",
         "id": "3C4A1B2C3D4E5F6A7B8C9D0E1F2A3B4C", "token": "zapi-secret-cccc",
         "webhook_token": "hook-secret-cccc", "client_token": "client-secret-dddd"}
    ]});
    let from_json = InstanceConfig::from_json(&json.to_string()).unwrap();
    for configs in [from_toml, from_json] {
        let kinds: Vec<_> = configs.iter().map(InstanceConfig::kind).collect();
        assert_eq!(
            kinds,
            [
                Some(GatewayKind::GreenApiWhatsApp),
                Some(GatewayKind::GreenApiMax),
                Some(GatewayKind::ZApi)
            ]
        );
        assert_no_secret(&format!("{configs:?}"));
        let instances = Instances::connect(&configs, &ClientSettings::default()).unwrap();
        assert_no_secret(&format!("{instances:?}"));
        let labels: Vec<_> = instances.iter().map(|instance| instance.label()).collect();
        assert_eq!(labels, ["sales", "3100000002", "brasil"]);
        let max = instances
            .get(GatewayKind::GreenApiWhatsApp, "3100000002")
            .expect("WhatsApp and MAX ids share one space");
        assert_eq!(max.kind(), GatewayKind::GreenApiMax);
        assert!(max.name().is_none() && !max.has_webhook_token());
        assert!(instances.get(GatewayKind::ZApi, "1101000001").is_none());
    }
}

#[test]
fn an_instances_file_is_read_by_its_extension() {
    let dir = std::env::temp_dir().join(format!("hookbot-instances-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = dir.join("instances.toml");
    std::fs::write(&toml, TOML).unwrap();
    assert_eq!(Instances::from_file(&toml).unwrap().len(), 3);
    let yaml = dir.join("instances.yaml");
    std::fs::write(&yaml, TOML).unwrap();
    let error = Instances::from_file(&yaml).unwrap_err();
    assert!(error.to_string().contains(".toml or .json"), "{error}");
    let missing = Instances::from_file(dir.join("absent.json")).unwrap_err();
    assert!(missing.to_string().contains("cannot read"), "{missing}");
    // A syntax error says where, without quoting the line (it may hold a token).
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[[instance]]\ntoken = \"green-secret-aaaa\n").unwrap();
    let error = Instances::from_file(&broken).unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
    assert_no_secret(&error.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The config error of `toml`, checked to name HOOKBOT_INSTANCES and to hold no secret.
fn toml_error(toml: &str) -> String {
    let error = InstanceConfig::from_toml(toml)
        .and_then(|configs| Instances::connect(&configs, &ClientSettings::default()))
        .unwrap_err();
    let Error::Config { variable, reason } = &error else {
        panic!("not a config error: {error}");
    };
    assert_eq!(*variable, "HOOKBOT_INSTANCES");
    assert_no_secret(&error.to_string());
    reason.clone()
}

#[test]
fn each_mistake_in_an_instances_file_is_named_with_its_entry() {
    let entry = |fields: &str| format!("[[instance]]\nname = \"one\"\n{fields}\n");
    let cases = [
        (
            entry("id = \"1\"\ntoken = \"green-secret-aaaa\""),
            "instance 1 (\"one\"): `gateway` is missing",
        ),
        (
            entry("gateway = \"green-api\"\ntoken = \"green-secret-aaaa\""),
            "`id` is missing",
        ),
        (
            entry("gateway = \"green-api\"\nid = \"1\""),
            "`token` is missing",
        ),
        (
            entry("gateway = \"telegram\"\nid = \"1\"\ntoken = \"green-secret-aaaa\""),
            "`gateway` must be green-api, green-api-max, green-api-telegram or zapi",
        ),
        (
            entry("gateway = \"green-api\"\nid = \"1\"\ntokne = \"green-secret-aaaa\""),
            "unknown field `tokne`",
        ),
        (
            entry("gateway = \"green-api\"\nid = \"1\"\ntoken = 12345"),
            "`token` must be text",
        ),
        (
            entry(
                "gateway = \"green-api\"\nid = \"1\"\ntoken = \"max-secret-bbbb\"\nclient_token = \"client-secret-dddd\"",
            ),
            "`client_token` is for Z-API only",
        ),
        (
            entry(
                "gateway = \"green-api\"\nid = \"1\"\ntoken = \"max-secret-bbbb\"\nurl = \"ftp://x\"",
            ),
            "instance 1 (\"one\"): `url` must be an absolute http or https URL",
        ),
        ("".to_owned(), "lists no instance"),
        ("[server]\nport = 1\n".to_owned(), "unknown key `server`"),
    ];
    for (toml, expected) in cases {
        let reason = toml_error(&toml);
        assert!(reason.contains(expected), "{expected:?} not in {reason:?}");
    }
}

#[test]
fn instances_must_be_told_apart() {
    let green = |name: &str, id: &str| {
        format!(
            "[[instance]]\nname = \"{name}\"\ngateway = \"green-api\"\nid = \"{id}\"\ntoken = \"green-secret-aaaa\"\n"
        )
    };
    let zapi = |name: &str, id: &str, hook: Option<&str>| {
        let hook = hook
            .map(|hook| format!("webhook_token = \"{hook}\"\n"))
            .unwrap_or_default();
        format!(
            "[[instance]]\nname = \"{name}\"\ngateway = \"zapi\"\nid = \"{id}\"\ntoken = \"zapi-secret-cccc\"\n{hook}"
        )
    };
    let duplicate = toml_error(&format!("{}{}", green("a", "1"), green("b", "1")));
    assert!(
        duplicate.contains("instance 2 (\"b\"") && duplicate.contains("instance 1 (\"a\""),
        "{duplicate}"
    );
    // MAX and WhatsApp ids share one space.
    let max = green("b", "1").replace("green-api", "green-api-max");
    assert!(toml_error(&format!("{}{max}", green("a", "1"))).contains("the same gateway and id"));
    let shared_hook = toml_error(&format!(
        "{}{}",
        zapi("x", "X1", Some("hook-secret-cccc")),
        zapi("y", "Y1", Some("hook-secret-cccc"))
    ));
    assert!(
        shared_hook.contains("instance 2 (\"y\"") && shared_hook.contains("must be its own"),
        "{shared_hook}"
    );
    let no_hook = toml_error(&format!("{}{}", green("a", "1"), zapi("y", "Y1", None)));
    assert!(no_hook.contains("needs a `webhook_token`"), "{no_hook}");
    // The same id on two gateway families is two instances.
    let configs = InstanceConfig::from_toml(&format!(
        "{}{}",
        green("a", "1"),
        zapi("z", "1", Some("hook-secret-cccc"))
    ))
    .unwrap();
    assert_eq!(
        Instances::connect(&configs, &ClientSettings::default())
            .unwrap()
            .len(),
        2
    );
}

fn config(vars: &[(&str, &str)]) -> hookbot::Result<Config> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    Config::from_vars(|name| vars.get(name).cloned())
}

/// No mistake in an instances file is told by quoting a value, which may be a token: not a
/// syntax error, and not a field that holds a secret where another belongs.
#[test]
fn no_mistake_in_an_instances_file_quotes_a_value() {
    let entry = |fields: &str| format!("[[instance]]\n{fields}\n");
    for toml in [
        entry("gateway = \"green-api\"\nid = \"1\"\ntoken = green-secret-aaaa"),
        entry("token = \"green-secret-aaaa\"\ntoken = \"green-secret-aaaa\""),
        entry("token = \"green-secret-aaaa\" hook-secret-aaaa"),
        entry("token = 'green-secret-aaaa"),
        entry("token = \"green-secret-aaaa\\q\""),
        entry("green-secret-aaaa"),
        // The token where the gateway belongs.
        entry("gateway = \"green-secret-aaaa\"\nid = \"1\"\ntoken = \"max-secret-bbbb\""),
    ] {
        toml_error(&toml);
    }
}

#[test]
fn hookbot_instances_and_hookbot_redis_url_are_read_together() {
    let file = std::env::temp_dir().join(format!("hookbot-env-redis-{}.toml", std::process::id()));
    std::fs::write(&file, TOML).unwrap();
    let url = "redis://:hunter2-redis@redis.internal:6379/2";
    let loaded = config(&[
        ("HOOKBOT_INSTANCES", file.to_str().unwrap()),
        ("HOOKBOT_REDIS_URL", url),
        ("HOOKBOT_REDIS_NAMESPACE", "three-numbers"),
    ])
    .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(loaded.instances.len(), 3);
    assert_eq!(loaded.redis_url.as_ref().map(|url| url.expose()), Some(url));
    assert_eq!(loaded.redis_namespace.as_deref(), Some("three-numbers"));
    let debug = format!("{loaded:?}");
    assert_no_secret(&debug);
    assert!(!debug.contains("hunter2-redis"), "{debug}");
}

#[test]
fn hookbot_instances_names_the_file_and_excludes_the_single_instance_variables() {
    let file = std::env::temp_dir().join(format!("hookbot-env-{}.toml", std::process::id()));
    std::fs::write(&file, TOML).unwrap();
    let path = file.to_str().unwrap();
    let loaded = config(&[("HOOKBOT_INSTANCES", path)]).unwrap();
    assert_eq!(loaded.instances.len(), 3);
    assert_no_secret(&format!("{loaded:?}"));

    let error = config(&[
        ("HOOKBOT_INSTANCES", path),
        ("HOOKBOT_TOKEN", "max-secret-bbbb"),
    ])
    .unwrap_err();
    let Error::Config { variable, reason } = &error else {
        panic!("not a config error: {error}");
    };
    assert_eq!(*variable, "HOOKBOT_TOKEN");
    assert!(reason.contains("HOOKBOT_INSTANCES"), "{reason}");
    assert_no_secret(&error.to_string());

    // Polling cannot serve the file's Z-API instance.
    let error = config(&[("HOOKBOT_INSTANCES", path), ("HOOKBOT_INTAKE", "polling")]).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Config {
                variable: "HOOKBOT_INTAKE",
                ..
            }
        ),
        "{error}"
    );
    std::fs::remove_file(&file).unwrap();
}

/// A GREEN-API mock of instance `id` and `token` whose getContacts answers an empty list
/// after `delay`, and whose sendMessage answers at once.
async fn slow_contacts_server(id: &str, token: &str, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/waInstance{id}/getContacts/{token}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/waInstance{id}/sendMessage/{token}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"idMessage": "SENT1"})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn instances_of_a_file_share_one_http_client_yet_each_sends_with_its_own_url_token_and_timeout()
 {
    let a = slow_contacts_server(A_ID, "token-a", Duration::from_secs(2)).await;
    let b = slow_contacts_server(B_ID, "token-b", Duration::from_millis(600)).await;
    let toml = format!(
        r#"
        [[instance]]
        gateway = "green-api"
        url = "{a}"
        id = "{A_ID}"
        token = "token-a"
        timeout = "200ms"
        retries = 0

        [[instance]]
        gateway = "green-api"
        url = "{b}"
        id = "{B_ID}"
        token = "token-b"
        retries = 0
        "#,
        a = a.uri(),
        b = b.uri()
    );
    let configs = InstanceConfig::from_toml(&toml).unwrap();
    let instances = Instances::connect(&configs, &settings()).unwrap();
    let gateway = |id| {
        instances
            .get(GatewayKind::GreenApiWhatsApp, id)
            .unwrap()
            .gateway()
            .clone()
    };
    let (a_gateway, b_gateway) = (gateway(A_ID), gateway(B_ID));
    let chat = hookbot::ChatId::from(CHAT);

    a_gateway
        .send_text(&chat, "to a", &SendOptions::new())
        .await
        .unwrap();
    b_gateway
        .send_text(&chat, "to b", &SendOptions::new())
        .await
        .unwrap();
    assert_eq!(
        sent(&a).await.len(),
        1,
        "A's send reached A's URL with A's token"
    );
    assert_eq!(
        sent(&b).await.len(),
        1,
        "B's send reached B's URL with B's token"
    );

    // A's time-out is its own: A gives up on a slow answer that B, on the default time-out,
    // waits for through the same HTTP client.
    let a_error = a_gateway.contacts().await.unwrap_err();
    assert!(matches!(a_error, Error::Timeout), "{a_error}");
    assert!(b_gateway.contacts().await.unwrap().is_empty());
}
