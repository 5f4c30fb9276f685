//! Sends a text and a quoted contact card through a gateway client.
//!
//! With a gateway configured (`HOOKBOT_GATEWAY`, `HOOKBOT_API_URL`, `HOOKBOT_INSTANCE`,
//! `HOOKBOT_TOKEN`, and `HOOKBOT_TO`: the chat to write to), it sends for real. With none, it
//! starts a local stand-in for GREEN-API on a free port, sends to it over HTTP, and prints every
//! request the stand-in received (token masked): the exact wire format a real instance would
//! get. It ends with a request that breaks a documented rule, refused before sending.
//!
//! ```sh
//! cargo run --example send_contact
//! ```

use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use hookbot::config::{Config, GatewayConfig};
use hookbot::gateway::{Gateway, GreenApi, SendOptions};
use hookbot::{ChatId, ContactCard};
use serde_json::{Value, json};

/// The requests the local stand-in received: path (token masked) and JSON body.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let (gateway, chat, received) = match config.gateway.connect()? {
        Some(gateway) => {
            let to =
                std::env::var("HOOKBOT_TO").context("set HOOKBOT_TO to the chat id to write to")?;
            (gateway, ChatId::from(to), None)
        }
        None => {
            let (gateway, received) = local_stand_in().await?;
            (gateway, ChatId::from("79001234567@c.us"), Some(received))
        }
    };
    if matches!(config.gateway, GatewayConfig::Sandbox) {
        println!("No gateway configured: sending to a local GREEN-API stand-in.\n");
    }

    let text = gateway
        .send_text(&chat, "Hello from hookbot!", &SendOptions::new())
        .await?;
    println!("sent text {}", text.id);

    let card = ContactCard::new()
        .phone("79001234568")
        .chat_id("79001234568@c.us")
        .first_name("Артем")
        .last_name("Евпаторийский")
        .company("Велосипед");
    let options = SendOptions::new().quote(text.id.clone());
    let sent = gateway.send_contact(&chat, &card, &options).await?;
    println!("sent contact card {}, quoting {}", sent.id, text.id);

    let broken = ContactCard::new()
        .phone("+7 900 123-45-68")
        .first_name("Артем");
    match gateway
        .send_contact(&chat, &broken, &SendOptions::new())
        .await
    {
        Err(error) => println!("refused before sending: {error}"),
        Ok(sent) => println!("unexpectedly sent {}", sent.id),
    }

    if let Some(received) = received {
        println!("\nWhat the gateway received:");
        for (path, body) in received.lock().expect("no panics while locked").iter() {
            println!("POST {path}\n{}\n", serde_json::to_string_pretty(body)?);
        }
    }
    Ok(())
}

/// A GREEN-API WhatsApp client pointed at a local server that answers sends like GREEN-API.
async fn local_stand_in() -> anyhow::Result<(Arc<dyn Gateway>, Received)> {
    let received = Received::default();
    let app = Router::new()
        .route("/{instance}/{method}/{token}", post(record))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let gateway = GreenApi::whatsapp(url, "1101000001", "local-token").build()?;
    Ok((Arc::new(gateway), received))
}

async fn record(
    State(received): State<Received>,
    Path((instance, method, _token)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let mut received = received.lock().expect("no panics while locked");
    received.push((format!("/{instance}/{method}/***"), body));
    Json(json!({ "idMessage": format!("3EB0C767D097B7C7C03{}", received.len()) }))
}
