//! An "away" message that steps aside when you answer: each chat gets the notice once an hour
//! (remembered in a memo, in the bot's store), and a chat in which you write from the phone is
//! left alone for 30 minutes after your last message there (owner takeover).
//!
//! ```sh
//! cargo run --example takeover   # on the sandbox
//! HOOKBOT_INSTANCE=1101000001 HOOKBOT_TOKEN=... cargo run --example takeover
//! ```
//!
//! On a real instance, turn on the notifications of what the owner sends: GREEN-API's
//! `outgoingMessageWebhook`, Z-API's `notifySentByMe`.

use std::time::Duration;

use hookbot::prelude::*;
use hookbot::takeover::Takeover;

const HOUR: Duration = Duration::from_secs(60 * 60);

async fn away(cx: Context) -> hookbot::Result<()> {
    let Some(chat) = cx.chat() else { return Ok(()) };
    let told = cx.memo::<()>("away-notice").ttl(HOUR);
    if told.get(chat.as_str()).await?.is_some() {
        return Ok(());
    }
    told.put(chat.as_str(), &()).await?;
    cx.reply("We are away right now and will answer soon.")
        .quote()
        .await?;
    Ok(())
}

/// The away notice for private messages, paused for half an hour when you take over.
pub fn router() -> Router {
    Router::new()
        .route(filter::incoming() & filter::private(), away)
        .layer(Takeover::new(HOUR / 2))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    Bot::from_env(router())?.run().await?;
    Ok(())
}
