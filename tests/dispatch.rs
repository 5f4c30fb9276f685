//! The dispatcher behind a real webhook: per-chat order, concurrency between chats, failures
//! that do not stop a chat, bounded work, and shutdown.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Seen, Server, body, incoming_text, offline_bot, on_every_event};
use hookbot::bot::{BotBuilder, NoState};
use hookbot::dispatch::{DispatchSettings, FailureCause, HandlerFailure};
use hookbot::gateway::GatewayKind;
use hookbot::{Event, Router};
use reqwest::StatusCode;
use tokio::sync::Semaphore;

fn text_of(event: &Event) -> String {
    event
        .message()
        .and_then(|message| message.text())
        .unwrap_or_default()
        .to_owned()
}

const TOKEN: &str = "dispatch-test-token";

/// A bot of `router` with the webhook token [`TOKEN`].
fn bot(router: Router) -> BotBuilder<(), (), NoState> {
    offline_bot(GatewayKind::GreenApiWhatsApp, router, TOKEN)
}

async fn serve(bot: BotBuilder<(), (), NoState>) -> Server {
    Server::start(bot.build().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chats_events_are_handled_in_order_while_another_chat_is_slow() {
    let seen = Seen::default();
    let slow_gate = Arc::new(Semaphore::new(0));
    let bot = {
        let (seen, slow_gate) = (seen.clone(), slow_gate.clone());
        bot(on_every_event(move |event: Event| {
            let (seen, slow_gate) = (seen.clone(), slow_gate.clone());
            async move {
                if event
                    .chat()
                    .is_some_and(|chat| chat.as_str() == "70000000001@c.us")
                {
                    slow_gate.acquire().await?.forget();
                }
                seen.push(event);
                Ok::<_, tokio::sync::AcquireError>(())
            }
        }))
    };
    let server = serve(bot).await;
    server
        .post(
            "/webhook",
            body(&incoming_text("70000000001@c.us", "SLOW", "slow")),
            Some(TOKEN),
        )
        .await;
    for n in 0..200 {
        let event = incoming_text("70000000002@c.us", &format!("FAST{n}"), &n.to_string());
        assert_eq!(
            server.post("/webhook", body(&event), Some(TOKEN)).await,
            StatusCode::OK
        );
    }
    seen.wait_for(|texts| texts.len() == 200).await;
    let expected: Vec<String> = (0..200).map(|n| n.to_string()).collect();
    assert_eq!(
        seen.texts(),
        expected,
        "the fast chat, in order, not held up by the slow one"
    );
    slow_gate.add_permits(1);
    seen.wait_for(|texts| texts.len() == 201).await;
}

#[tokio::test]
async fn a_panicking_or_failing_handler_is_reported_and_the_chat_goes_on() {
    let seen = Seen::default();
    let failures: Arc<Mutex<Vec<HandlerFailure>>> = Arc::default();
    let bot = {
        let (seen, failures) = (seen.clone(), failures.clone());
        bot(on_every_event(move |event: Event| {
            let seen = seen.clone();
            async move {
                match text_of(&event).as_str() {
                    "panic" => panic!("handler blew up"),
                    "fail" => Err("the database is down".into()),
                    _ => {
                        seen.push(event);
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                    }
                }
            }
        }))
        .on_error(move |failure| failures.lock().unwrap().push(failure))
    };
    let server = serve(bot).await;
    for (id, text) in [("P1", "panic"), ("P2", "fail"), ("P3", "after")] {
        server
            .post(
                "/webhook",
                body(&incoming_text("79001234567@c.us", id, text)),
                Some(TOKEN),
            )
            .await;
    }
    seen.wait_for(|texts| texts == ["after"]).await;
    let failures = failures.lock().unwrap();
    assert_eq!(failures.len(), 2);
    let panic = &failures[0];
    assert_eq!(
        panic.event.message_id.as_ref().map(|id| id.as_str()),
        Some("P1")
    );
    assert_eq!(
        panic.event.chat.as_ref().map(|chat| chat.as_str()),
        Some("79001234567@c.us")
    );
    assert_eq!(panic.event.gateway, GatewayKind::GreenApiWhatsApp);
    assert_eq!(&*panic.event.instance, "1101000001");
    assert!(matches!(&panic.error, FailureCause::Panic(message) if message == "handler blew up"));
    let error = &failures[1];
    assert_eq!(
        error.event.message_id.as_ref().map(|id| id.as_str()),
        Some("P2")
    );
    assert!(
        matches!(&error.error, FailureCause::Error(error) if error.to_string() == "the database is down")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_running_at_once_are_bounded() {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let seen = Seen::default();
    let bot = {
        let (running, most, seen) = (running.clone(), most.clone(), seen.clone());
        bot(on_every_event(move |event: Event| {
            let (running, most, seen) = (running.clone(), most.clone(), seen.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                seen.push(event);
                Ok::<_, std::convert::Infallible>(())
            }
        }))
        .dispatch(DispatchSettings::new().max_in_flight(2))
    };
    let server = serve(bot).await;
    for n in 0..8 {
        let event = incoming_text(&format!("7000000000{n}@c.us"), &format!("B{n}"), "work");
        server.post("/webhook", body(&event), Some(TOKEN)).await;
    }
    seen.wait_for(|texts| texts.len() == 8).await;
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_handles_every_queued_event_before_serve_returns() {
    let seen = Seen::default();
    let bot = {
        let seen = seen.clone();
        bot(on_every_event(move |event: Event| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                seen.push(event);
                Ok::<_, std::convert::Infallible>(())
            }
        }))
    };
    let server = serve(bot).await;
    for n in 0..30 {
        let chat = if n % 2 == 0 {
            "79001234567@c.us"
        } else {
            "79001234568@c.us"
        };
        assert_eq!(
            server
                .post(
                    "/webhook",
                    body(&incoming_text(chat, &format!("Q{n}"), "queued")),
                    Some(TOKEN)
                )
                .await,
            StatusCode::OK
        );
    }
    let report = server.stop().await.unwrap().unwrap();
    assert_eq!(report.unfinished, 0);
    let mut handled: Vec<String> = seen
        .events()
        .iter()
        .filter_map(|event| Some(event.message_id()?.to_string()))
        .collect();
    handled.sort();
    let mut expected: Vec<String> = (0..30).map(|n| format!("Q{n}")).collect();
    expected.sort();
    assert_eq!(handled, expected);
}

#[tokio::test]
async fn shutdown_past_its_deadline_returns_and_reports_what_was_left() {
    let gate = Arc::new(Semaphore::new(0));
    let bot = {
        let gate = gate.clone();
        bot(on_every_event(move |_event: Event| {
            let gate = gate.clone();
            async move {
                gate.acquire().await?.forget();
                Ok::<_, tokio::sync::AcquireError>(())
            }
        }))
    };
    let server =
        serve(bot.dispatch(DispatchSettings::new().drain_deadline(Duration::from_millis(100))))
            .await;
    for n in 0..3 {
        server
            .post(
                "/webhook",
                body(&incoming_text(
                    "79001234567@c.us",
                    &format!("L{n}"),
                    "stuck",
                )),
                Some(TOKEN),
            )
            .await;
    }
    let report = server.stop().await.unwrap().unwrap();
    assert_eq!(report.unfinished, 3);
}
