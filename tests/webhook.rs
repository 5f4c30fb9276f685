//! The webhook receiver over real HTTP: every answer of the contract, and deduplication.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Seen, Server, body, gated, incoming_text, offline_bot, recording};
use hookbot::dedupe::{DedupeKey, DedupeStore, MemoryDedupe};
use hookbot::dispatch::DispatchSettings;
use hookbot::gateway::GatewayKind;
use hookbot::intake::{Intake, WebhookSettings};
use hookbot::store::Store;
use hookbot::{BoxError, Event};
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Semaphore;

const TOKEN: &str = "webhook-secret-7f3a";

async fn green_api_server(seen: &Seen) -> Server {
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, recording(seen), TOKEN);
    Server::start(bot.build().unwrap()).await
}

#[tokio::test]
async fn accepted_notification_is_200_and_reaches_the_handler() {
    let seen = Seen::default();
    let server = green_api_server(&seen).await;
    let status = server
        .post(
            "/webhook",
            body(&incoming_text("79001234567@c.us", "A1", "привет")),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    seen.wait_for(|texts| texts == ["привет"]).await;
}

#[tokio::test]
async fn a_bare_token_without_bearer_is_accepted() {
    let seen = Seen::default();
    let server = green_api_server(&seen).await;
    let response = reqwest::Client::new()
        .post(format!("{}/webhook", server.url))
        .header("authorization", TOKEN)
        .body(body(&incoming_text("79001234567@c.us", "A1", "bare")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    seen.wait_for(|texts| texts == ["bare"]).await;
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_and_nothing_is_handled() {
    let seen = Seen::default();
    let server = green_api_server(&seen).await;
    let missing = server
        .post(
            "/webhook",
            body(&incoming_text("79001234567@c.us", "A1", "no token")),
            None,
        )
        .await;
    let wrong = server
        .post(
            "/webhook",
            body(&incoming_text("79001234567@c.us", "A2", "wrong")),
            Some("webhook-secret-7f3b"),
        )
        .await;
    assert_eq!(missing, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, StatusCode::UNAUTHORIZED);
    // A later authorised message in the same chat is handled after anything queued before it.
    server
        .post(
            "/webhook",
            body(&incoming_text("79001234567@c.us", "A3", "right")),
            Some(TOKEN),
        )
        .await;
    seen.wait_for(|texts| !texts.is_empty()).await;
    assert_eq!(seen.texts(), ["right"]);
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_400_with_a_one_line_reason() {
    let seen = Seen::default();
    let server = green_api_server(&seen).await;
    for bad in [
        "not json at all",
        "[1, 2, 3]",
        "\"text\"",
        "{\"typeWebhook\": ",
    ] {
        let response = reqwest::Client::new()
            .post(format!("{}/webhook", server.url))
            .bearer_auth(TOKEN)
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let reason = response.text().await.unwrap();
        assert_eq!(reason.trim_end().lines().count(), 1, "{reason:?}");
        assert!(!reason.trim().is_empty());
    }
    assert!(seen.events().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let seen = Seen::default();
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, recording(&seen), TOKEN)
        .intake(Intake::Webhook(WebhookSettings::new().body_limit(1024)));
    let server = Server::start(bot.build().unwrap()).await;
    let big = incoming_text("79001234567@c.us", "A1", &"x".repeat(2000));
    assert_eq!(
        server.post("/webhook", body(&big), Some(TOKEN)).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let small = incoming_text("79001234567@c.us", "A2", "fits");
    assert_eq!(
        server.post("/webhook", body(&small), Some(TOKEN)).await,
        StatusCode::OK
    );
    seen.wait_for(|texts| texts == ["fits"]).await;
}

#[tokio::test]
async fn unknown_kind_is_200_and_reaches_the_handler_with_its_raw_json() {
    let seen = Seen::default();
    let server = green_api_server(&seen).await;
    let novel = json!({
        "typeWebhook": "brandNewWebhookType",
        "instanceData": {"idInstance": 1101000001, "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
        "timestamp": 1700000000,
        "surprise": {"nested": [1, 2, 3]}
    });
    assert_eq!(
        server.post("/webhook", body(&novel), Some(TOKEN)).await,
        StatusCode::OK
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.events().is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let event = &seen.events()[0];
    assert_eq!(event.kind.name(), "unknown");
    assert_eq!(event.raw["surprise"]["nested"][2], 3);
}

#[tokio::test]
async fn zapi_token_is_the_last_path_segment() {
    let seen = Seen::default();
    let bot = offline_bot(GatewayKind::ZApi, recording(&seen), TOKEN);
    let server = Server::start(bot.build().unwrap()).await;
    let received = |id: &str, text: &str| {
        body(&json!({
            "type": "ReceivedCallback", "instanceId": "A20DA9C0183A2D35A260F53F5D2B9244",
            "messageId": id, "phone": "5544999999999", "fromMe": false, "isGroup": false,
            "momment": 1632228638000_u64, "senderName": "name", "text": {"message": text}
        }))
    };
    assert_eq!(
        server
            .post("/webhook", received("Z1", "bare path"), None)
            .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .post("/webhook/wrong-secret", received("Z2", "wrong"), None)
            .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .post(&format!("/webhook/{TOKEN}"), received("Z3", "right"), None)
            .await,
        StatusCode::OK
    );
    seen.wait_for(|texts| !texts.is_empty()).await;
    assert_eq!(seen.texts(), ["right"]);
}

#[tokio::test]
async fn the_same_notification_sent_five_times_is_handled_once() {
    let seen = Seen::default();
    let server = green_api_server(&seen).await;
    let copy = body(&incoming_text("79001234567@c.us", "DUP1", "once"));
    for _ in 0..5 {
        assert_eq!(
            server.post("/webhook", copy.clone(), Some(TOKEN)).await,
            StatusCode::OK
        );
    }
    server
        .post(
            "/webhook",
            body(&incoming_text("79001234567@c.us", "DUP2", "sentinel")),
            Some(TOKEN),
        )
        .await;
    seen.wait_for(|texts| texts.last().is_some_and(|text| text == "sentinel"))
        .await;
    assert_eq!(seen.texts(), ["once", "sentinel"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_concurrent_copies_are_handled_once() {
    let seen = Seen::default();
    let server = Arc::new(green_api_server(&seen).await);
    let copy = body(&incoming_text("79001234567@c.us", "RACE1", "once"));
    let posts: Vec<_> = (0..5)
        .map(|_| {
            let (server, copy) = (server.clone(), copy.clone());
            tokio::spawn(async move { server.post("/webhook", copy, Some(TOKEN)).await })
        })
        .collect();
    for post in posts {
        assert_eq!(post.await.unwrap(), StatusCode::OK);
    }
    server
        .post(
            "/webhook",
            body(&incoming_text("79001234567@c.us", "RACE2", "sentinel")),
            Some(TOKEN),
        )
        .await;
    seen.wait_for(|texts| texts.last().is_some_and(|text| text == "sentinel"))
        .await;
    assert_eq!(seen.texts(), ["once", "sentinel"]);
}

#[tokio::test]
async fn each_status_of_a_message_is_handled_once() {
    let seen = Seen::default();
    let server = green_api_server(&seen).await;
    let status = |status: &str| {
        body(&json!({
            "typeWebhook": "outgoingMessageStatus", "chatId": "79001234567@c.us",
            "instanceData": {"idInstance": 1101000001, "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
            "timestamp": 1705901090, "idMessage": "ECE6BBEA514B66872790C3D9D52C5C19", "status": status, "sendByApi": true
        }))
    };
    for name in ["sent", "delivered", "delivered", "read", "sent"] {
        assert_eq!(
            server.post("/webhook", status(name), Some(TOKEN)).await,
            StatusCode::OK
        );
    }
    server
        .post(
            "/webhook",
            body(&incoming_text("79001234567@c.us", "S1", "sentinel")),
            Some(TOKEN),
        )
        .await;
    seen.wait_for(|texts| texts == ["sentinel"]).await;
    let statuses: Vec<_> = seen
        .events()
        .iter()
        .filter_map(|event| event.status_text().map(str::to_owned))
        .collect();
    assert_eq!(statuses, ["sent", "delivered", "read"]);
}

/// Claims of its own, as a store shared by replicas keeps them: counted, and unreachable on
/// demand.
#[derive(Debug, Default, Clone)]
struct OwnClaims(Arc<Claimed>);

#[derive(Debug, Default)]
struct Claimed {
    keys: Mutex<Vec<DedupeKey>>,
    calls: AtomicUsize,
    down: AtomicBool,
}

#[async_trait]
impl DedupeStore for OwnClaims {
    async fn claim(&self, key: &DedupeKey) -> Result<bool, BoxError> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        if self.0.down.load(Ordering::SeqCst) {
            return Err("claims unreachable".into());
        }
        let mut claimed = self.0.keys.lock().unwrap();
        let first = !claimed.contains(key);
        if first {
            claimed.push(*key);
        }
        Ok(first)
    }

    async fn release(&self, key: &DedupeKey) -> Result<(), BoxError> {
        self.0.keys.lock().unwrap().retain(|claimed| claimed != key);
        Ok(())
    }
}

#[tokio::test]
async fn claims_in_a_store_of_the_bots_own_are_awaited_and_its_failure_is_503() {
    let seen = Seen::default();
    let claims = OwnClaims::default();
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, recording(&seen), TOKEN)
        .store(Store::memory_with_claims(claims.clone()));
    let server = Server::start(bot.build().unwrap()).await;
    let copy = body(&incoming_text("79001234567@c.us", "OWN1", "once"));
    for _ in 0..2 {
        assert_eq!(
            server.post("/webhook", copy.clone(), Some(TOKEN)).await,
            StatusCode::OK
        );
    }
    claims.0.down.store(true, Ordering::SeqCst);
    let refused = body(&incoming_text("79001234567@c.us", "OWN2", "refused"));
    assert_eq!(
        server.post("/webhook", refused, Some(TOKEN)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    claims.0.down.store(false, Ordering::SeqCst);
    let sentinel = body(&incoming_text("79001234567@c.us", "OWN3", "sentinel"));
    server.post("/webhook", sentinel, Some(TOKEN)).await;
    seen.wait_for(|texts| texts.last().is_some_and(|text| text == "sentinel"))
        .await;
    assert_eq!(seen.texts(), ["once", "sentinel"]);
    assert_eq!(claims.0.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_memory_dedupe_given_as_the_claims_is_the_one_the_webhook_claims_in() {
    let seen = Seen::default();
    let claims = MemoryDedupe::new(Duration::from_secs(60), 100);
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, recording(&seen), TOKEN)
        .store(Store::memory_with_claims(claims.clone()));
    let server = Server::start(bot.build().unwrap()).await;
    let copy = body(&incoming_text("79001234567@c.us", "MEM1", "claimed before"));
    let event = Event::parse(GatewayKind::GreenApiWhatsApp, &copy).unwrap();
    assert!(claims.claim(&DedupeKey::of(&event).unwrap()).await.unwrap());
    assert_eq!(
        server.post("/webhook", copy, Some(TOKEN)).await,
        StatusCode::OK
    );
    let fresh = body(&incoming_text("79001234567@c.us", "MEM2", "fresh"));
    server.post("/webhook", fresh.clone(), Some(TOKEN)).await;
    seen.wait_for(|texts| texts == ["fresh"]).await;
    let event = Event::parse(GatewayKind::GreenApiWhatsApp, &fresh).unwrap();
    assert!(!claims.claim(&DedupeKey::of(&event).unwrap()).await.unwrap());
}

#[tokio::test]
async fn a_full_queue_is_503_and_the_gateways_redelivery_is_handled() {
    let seen = Seen::default();
    let gate = Arc::new(Semaphore::new(0));
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, gated(&seen, &gate), TOKEN)
        .dispatch(DispatchSettings::new().capacity(1));
    let server = Server::start(bot.build().unwrap()).await;
    let first = body(&incoming_text("79001234567@c.us", "F1", "first"));
    let second = body(&incoming_text("79001234568@c.us", "F2", "second"));
    assert_eq!(
        server.post("/webhook", first, Some(TOKEN)).await,
        StatusCode::OK
    );
    assert_eq!(
        server.post("/webhook", second.clone(), Some(TOKEN)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    gate.add_permits(1);
    seen.wait_for(|texts| texts == ["first"]).await;
    // The queue drains; the gateway's retry of the refused notification is handled, not taken for a duplicate.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.post("/webhook", second.clone(), Some(TOKEN)).await != StatusCode::OK {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gate.add_permits(1);
    seen.wait_for(|texts| texts == ["first", "second"]).await;
}

#[tokio::test]
async fn while_draining_the_webhook_and_healthz_answer_503() {
    let seen = Seen::default();
    let gate = Arc::new(Semaphore::new(0));
    let bot = offline_bot(GatewayKind::GreenApiWhatsApp, gated(&seen, &gate), TOKEN)
        .dispatch(DispatchSettings::new().capacity(100));
    let server = Server::start(bot.build().unwrap()).await;
    let url = server.url.clone();
    let health = || async {
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .status()
    };
    assert_eq!(health().await, StatusCode::OK);
    server
        .post(
            "/webhook",
            body(&incoming_text("79001234567@c.us", "D1", "in flight")),
            Some(TOKEN),
        )
        .await;
    seen.wait_for(|texts| texts == ["in flight"]).await;

    let post_late = {
        let url = url.clone();
        move || {
            let url = url.clone();
            async move {
                reqwest::Client::new()
                    .post(format!("{url}/webhook"))
                    .bearer_auth(TOKEN)
                    .body(body(&incoming_text("79001234567@c.us", "D2", "late")))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        }
    };
    let stopped = server.stop();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while health().await != StatusCode::SERVICE_UNAVAILABLE {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(post_late().await, StatusCode::SERVICE_UNAVAILABLE);
    gate.add_permits(1);
    let report = stopped.await.unwrap().unwrap();
    assert_eq!(report.unfinished, 0);
    assert_eq!(seen.texts(), ["in flight"]);
}
