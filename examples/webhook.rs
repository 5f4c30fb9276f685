//! Receives a gateway's notifications and prints each event: the webhook, deduplication and
//! per-chat dispatch with a handler that only logs.
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
//! ```
//!
//! The gateway is `HOOKBOT_GATEWAY` (default `green-api`: its JSON and bearer token); for Z-API
//! the token is the last path segment: `http://127.0.0.1:8080/webhook/secret`.

use hookbot::Event;
use hookbot::config::{Config, GatewayConfig};
use hookbot::dispatch::Dispatcher;
use hookbot::gateway::GatewayKind;
use hookbot::webhook::{Webhook, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let config = Config::from_env()?;
    let gateway = match &config.gateway {
        GatewayConfig::GreenApi { kind, .. } => *kind,
        GatewayConfig::ZApi { .. } => GatewayKind::ZApi,
        _ => GatewayKind::GreenApiWhatsApp,
    };

    let dispatcher = Dispatcher::builder(|event: Event| async move {
        match event.message() {
            Some(message) => {
                tracing::info!(text = ?message.text(), "message from {}", message.sender)
            }
            None => tracing::info!(kind = event.kind.name(), "event"),
        }
        Ok::<_, std::convert::Infallible>(())
    })
    .on_error(|failure| eprintln!("handler failed on {}: {}", failure.event, failure.error))
    .build();

    let mut webhook = Webhook::builder(gateway, dispatcher);
    if let Some(token) = config.webhook_token {
        webhook = webhook.token(token);
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(
        "receiving {gateway} notifications on http://{}/webhook",
        config.listen
    );
    let report = webhook.build().serve(listener, shutdown_signal()).await?;
    tracing::info!(unfinished = report.unfinished, "stopped");
    Ok(())
}
