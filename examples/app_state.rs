//! Typed application state: every handler gets `cx.state()` as the type the bot was built with,
//! checked at compile time (no runtime type map).
//!
//! ```sh
//! HOOKBOT_INSTANCE=1101000001 HOOKBOT_TOKEN=... cargo run --example app_state
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use hookbot::prelude::*;

/// What every handler shares.
struct App {
    greeting: String,
    served: AtomicU64,
}

async fn greet(cx: Context<App>) -> hookbot::Result<()> {
    let app = cx.state();
    let count = app.served.fetch_add(1, Ordering::Relaxed) + 1;
    let name = cx
        .message()
        .map(|message| message.sender_display_name())
        .unwrap_or("there");
    cx.reply(format!(
        "{}, {name}! You are visitor number {count}.",
        app.greeting
    ))
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let app = App {
        greeting: "Hello".to_owned(),
        served: AtomicU64::new(0),
    };
    let router = Router::new().route(filter::incoming() & filter::private(), greet);
    Bot::from_env(router)?.state(app).run().await?;
    Ok(())
}
