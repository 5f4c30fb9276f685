//! Receives a gateway's notifications and logs each event: the webhook, deduplication and
//! per-chat dispatch with a handler that only logs — and the bot's routes merged into an
//! application's own axum router, beside the application's pages.
//!
//! ```sh
//! HOOKBOT_WEBHOOK_TOKEN=secret cargo run --example webhook
//! # in another shell: a GREEN-API notification, sent twice (the second is a duplicate)
//! for i in 1 2; do curl -s -H 'Authorization: Bearer secret' -d '{"typeWebhook":"incomingMessageReceived",
//!   "instanceData":{"idInstance":1101000001,"wid":"79990000000@c.us","typeInstance":"whatsapp"},
//!   "timestamp":1588091580,"idMessage":"F7AEC1B7086ECDC7E6E45923F5EDB825",
//!   "senderData":{"chatId":"79001234567@c.us","sender":"79001234567@c.us","senderName":"Ivan"},
//!   "messageData":{"typeMessage":"textMessage","textMessageData":{"textMessage":"hello"}}}' \
//!   http://127.0.0.1:8080/webhook; done
//! curl -s http://127.0.0.1:8080/about
//! ```
//!
//! The gateway is `HOOKBOT_GATEWAY` (with no gateway set, the local sandbox); for Z-API the
//! token is the last path segment: `http://127.0.0.1:8080/webhook/secret`.

use axum::routing::get;
use hookbot::prelude::*;

/// Logs the event, whatever it is.
async fn log(cx: Context) -> hookbot::Result<()> {
    match cx.message() {
        Some(message) => tracing::info!(text = ?message.text(), "message from {}", message.sender),
        None => tracing::info!(kind = cx.event().kind.name(), "event"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let router = Router::new().fallback(log);
    let app = axum::Router::new().route("/about", get(|| async { "a bot and its app\n" }));
    let report = Bot::from_env(router)?
        .routes(app)
        .on_error(|failure| eprintln!("handler failed on {}: {}", failure.event, failure.error))
        .run()
        .await?;
    tracing::info!(unfinished = report.unfinished, "stopped");
    Ok(())
}
