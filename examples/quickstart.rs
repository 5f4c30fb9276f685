//! The smallest bot: answers every text it receives with the same text, quoting it.
//!
//! ```sh
//! HOOKBOT_GATEWAY=green-api HOOKBOT_API_URL=https://7105.api.greenapi.com \
//! HOOKBOT_INSTANCE=1101000001 HOOKBOT_TOKEN=... HOOKBOT_WEBHOOK_TOKEN=... \
//! cargo run --example quickstart
//! ```
//!
//! Then point the instance's webhook URL at `http://<this host>:8080/webhook`.

use hookbot::prelude::*;

async fn echo(cx: Context) -> hookbot::Result<()> {
    if let Some(text) = cx.text() {
        cx.reply(text).quote().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let router = Router::new().route(filter::incoming() & filter::content("text"), echo);
    Bot::from_env(router)?.run().await?;
    Ok(())
}
