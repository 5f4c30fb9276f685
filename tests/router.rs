//! Routing over real HTTP: a bot behind its webhook, its gateway a mock server. Precedence,
//! nesting, fallback, what filters found reaching the handler, replies as the gateway receives
//! them, middleware, and handler errors reaching the error hook.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, body, incoming_text};
use hookbot::bot::Bot;
use hookbot::context::Context;
use hookbot::dispatch::HandlerFailure;
use hookbot::filter;
use hookbot::gateway::Gateway;
use hookbot::instance::Instance;
use hookbot::router::{Next, Router};
use hookbot::{ContactCard, Error};
use serde_json::{Value, json};
use wiremock::{MockServer, Request};

/// What the handlers did, in order: the bot's typed state.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.entries().len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out; log {:?}",
                self.entries()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.entries()
    }
}

/// A handler that logs `name` and what its filter found.
fn logging(
    name: &'static str,
) -> impl Fn(Context<Log>) -> std::future::Ready<Result<(), Error>> + Clone {
    move |cx: Context<Log>| {
        let mut entry = name.to_owned();
        if let Some(command) = cx.command() {
            entry.push_str(&format!(" args={:?}", command.args));
        }
        if let Some(captures) = cx.captures() {
            entry.push_str(&format!(
                " id={:?}",
                captures.name("id").unwrap_or_default()
            ));
        }
        cx.state().push(entry);
        std::future::ready(Ok(()))
    }
}

/// The webhook token of the test bots.
const HOOK: &str = "router-test-hook";

async fn serve(gateway: Arc<dyn Gateway>, router: Router<Log>, log: &Log) -> Server {
    let bot = Bot::builder(router)
        .state(log.clone())
        .instances(Instance::new(gateway))
        .webhook_token(HOOK);
    Server::start(bot.build().unwrap()).await
}

async fn send(server: &Server, chat: &str, id: &str, text: &str) {
    assert_eq!(
        server
            .post("/webhook", body(&incoming_text(chat, id, text)), Some(HOOK))
            .await,
        200
    );
}

fn group_text(id: &str, text: &str) -> Value {
    let mut notification = incoming_text("120363043968066561@g.us", id, text);
    notification["senderData"]["sender"] = json!("79001234568@c.us");
    notification
}

#[tokio::test]
async fn routes_are_tried_in_order_and_the_first_match_handles() {
    let gateway = MockServer::start().await;
    let log = Log::default();
    let router = Router::new()
        .route(filter::text("ping"), logging("ping"))
        .route(filter::message(), logging("any message"))
        .route(filter::text("never"), logging("never reached"));
    let server = serve(Arc::new(common::whatsapp(&gateway.uri())), router, &log).await;
    send(&server, "79001234567@c.us", "R1", "ping").await;
    send(&server, "79001234567@c.us", "R2", "never").await;
    assert_eq!(log.wait_for(2).await, ["ping", "any message"]);
}

#[tokio::test]
async fn a_nested_router_takes_its_events_and_lets_the_rest_through() {
    let gateway = MockServer::start().await;
    let log = Log::default();
    let groups = Router::new().route(filter::command("kick"), logging("kick"));
    let router = Router::new()
        .nest(filter::group(), groups)
        .route(filter::message(), logging("outer"));
    let server = serve(Arc::new(common::whatsapp(&gateway.uri())), router, &log).await;
    server
        .post(
            "/webhook",
            body(&group_text("N1", "/kick spammer")),
            Some(HOOK),
        )
        .await;
    server
        .post("/webhook", body(&group_text("N2", "hello all")), Some(HOOK))
        .await;
    send(&server, "79001234567@c.us", "N3", "/kick spammer").await;
    let mut entries = log.wait_for(3).await;
    entries.sort();
    assert_eq!(entries, ["kick args=\"spammer\"", "outer", "outer"]);
}

#[tokio::test]
async fn the_fallback_takes_what_no_route_took() {
    let gateway = MockServer::start().await;
    let log = Log::default();
    let router = Router::new()
        .route(filter::command("help"), logging("help"))
        .fallback(logging("fallback"));
    let server = serve(Arc::new(common::whatsapp(&gateway.uri())), router, &log).await;
    send(&server, "79001234567@c.us", "F1", "what?").await;
    send(&server, "79001234567@c.us", "F2", "help").await;
    assert_eq!(log.wait_for(2).await, ["fallback", "help args=\"\""]);
}

#[tokio::test]
async fn command_arguments_and_regex_captures_reach_the_handler() {
    let gateway = MockServer::start().await;
    let log = Log::default();
    let router = Router::new()
        .route(
            filter::command("contact").aliases(["контакт"]),
            logging("contact"),
        )
        .route(filter::regex(r"^(?i)заказ (?P<id>\d+)$"), logging("order"));
    let server = serve(Arc::new(common::whatsapp(&gateway.uri())), router, &log).await;
    send(
        &server,
        "79001234567@c.us",
        "C1",
        "Контакт Василиса Премудрая",
    )
    .await;
    send(&server, "79001234567@c.us", "C2", "ЗАКАЗ 42").await;
    assert_eq!(
        log.wait_for(2).await,
        ["contact args=\"Василиса Премудрая\"", "order id=\"42\""]
    );
}

#[tokio::test]
async fn middleware_runs_around_every_handler_outermost_first() {
    let gateway = MockServer::start().await;
    let log = Log::default();
    let router = Router::new()
        .route(filter::message(), logging("handler"))
        .layer(|cx: Context<Log>, next: Next<Log>| async move {
            let log = cx.state().clone();
            log.push("outer before");
            let result = next.run(cx).await;
            log.push("outer after");
            result
        })
        .layer(|cx: Context<Log>, next: Next<Log>| async move {
            cx.state().push("inner before");
            next.run(cx).await
        });
    let server = serve(Arc::new(common::whatsapp(&gateway.uri())), router, &log).await;
    send(&server, "79001234567@c.us", "M1", "hi").await;
    assert_eq!(
        log.wait_for(4).await,
        ["outer before", "inner before", "handler", "outer after"]
    );
}

/// A handler sharing a quoted contact card.
async fn share_card(cx: Context<Log>) -> Result<(), Error> {
    let card = ContactCard::new()
        .phone("79001234568")
        .chat_id("10000001")
        .first_name("Иван")
        .last_name("Царевич");
    cx.reply_contact(card).quote().await?;
    cx.state().push("sent");
    Ok(())
}

/// The first request the mock gateway received, waiting for it.
async fn first_request(gateway: &MockServer, log: &Log) -> Request {
    log.wait_for(1).await;
    common::only_request(gateway).await
}

#[tokio::test]
async fn reply_contact_quote_on_green_api_whatsapp_sends_the_exact_body() {
    let gateway = common::server_answering(200, json!({"idMessage": "3EB0C767D097B7C7C030"})).await;
    let log = Log::default();
    let server = serve(
        Arc::new(common::whatsapp(&gateway.uri())),
        Router::new().route(filter::any(), share_card),
        &log,
    )
    .await;
    send(&server, "79001234567@c.us", "TRIGGER1", "contact ivan").await;
    let request = first_request(&gateway, &log).await;
    common::assert_json_post(
        &request,
        &common::whatsapp_path("sendContact"),
        json!({"chatId": "79001234567@c.us", "quotedMessageId": "TRIGGER1",
               "contact": {"phoneContact": 79001234568_u64, "firstName": "Иван", "lastName": "Царевич"}}),
    );
}

#[tokio::test]
async fn reply_contact_quote_on_green_api_max_sends_the_card_without_the_quote() {
    let gateway = common::server_answering(200, json!({"idMessage": "1762333029830"})).await;
    let log = Log::default();
    let server = serve(
        Arc::new(common::max(&gateway.uri())),
        Router::new().route(filter::any(), share_card),
        &log,
    )
    .await;
    let mut notification = incoming_text("10000000", "TRIGGER2", "contact ivan");
    notification["instanceData"]["typeInstance"] = json!("v3");
    server
        .post("/webhook", body(&notification), Some(HOOK))
        .await;
    let request = first_request(&gateway, &log).await;
    common::assert_json_post(
        &request,
        &common::max_path("sendContact"),
        json!({"chatId": "10000000", "contact": {"chatId": "10000001"}}),
    );
}

#[tokio::test]
async fn reply_contact_quote_on_zapi_sends_the_exact_body() {
    let gateway =
        common::server_answering(200, json!({"zaapId": "Z1", "messageId": "M1", "id": "M1"})).await;
    let log = Log::default();
    let server = serve(
        Arc::new(common::zapi(&gateway.uri())),
        Router::new().route(filter::any(), share_card),
        &log,
    )
    .await;
    let notification = json!({
        "type": "ReceivedCallback", "instanceId": common::ZAPI_INSTANCE, "messageId": "TRIGGER3",
        "phone": "5544999999999", "fromMe": false, "isGroup": false, "momment": 1632228638000_u64,
        "senderName": "Ana", "text": {"message": "contato ivan"}
    });
    server
        .post("/webhook", body(&notification), Some(HOOK))
        .await;
    let request = first_request(&gateway, &log).await;
    common::assert_json_post(
        &request,
        &common::zapi_path("send-contact"),
        json!({"phone": "5544999999999", "contactName": "Иван Царевич", "contactPhone": "79001234568", "messageId": "TRIGGER3"}),
    );
}

#[tokio::test]
async fn a_handlers_error_reaches_the_error_hook_with_the_events_identity() {
    let gateway = common::server_answering(401, json!({})).await;
    let log = Log::default();
    let failures: Arc<Mutex<Vec<HandlerFailure>>> = Arc::default();
    let router = Router::new().route(filter::any(), share_card);
    let bot = Bot::builder(router)
        .state(log.clone())
        .gateway(common::whatsapp(&gateway.uri()))
        .webhook_token(HOOK)
        .on_error({
            let failures = failures.clone();
            move |failure| failures.lock().unwrap().push(failure)
        })
        .build()
        .unwrap();
    let server = Server::start(bot).await;
    send(&server, "79001234567@c.us", "E1", "contact ivan").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while failures.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let failures = failures.lock().unwrap();
    let failure = &failures[0];
    assert_eq!(
        failure.event.message_id.as_ref().map(|id| id.as_str()),
        Some("E1")
    );
    assert_eq!(
        failure.event.chat.as_ref().map(|chat| chat.as_str()),
        Some("79001234567@c.us")
    );
    assert_eq!(failure.error.to_string(), Error::Unauthorized.to_string());
    assert!(
        log.entries().is_empty(),
        "the handler stopped at the failed send"
    );
}
