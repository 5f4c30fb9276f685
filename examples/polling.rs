//! A bot that polls instead of serving a webhook: for a laptop or a private network that the
//! gateway cannot reach. It pulls GREEN-API's notification queue (receiveNotification, then
//! deleteNotification once the event is accepted) and answers every text with the same text.
//!
//! ```sh
//! # against GREEN-API: clear the instance's webhook URL in the console first
//! HOOKBOT_INTAKE=polling HOOKBOT_GATEWAY=green-api HOOKBOT_API_URL=https://7105.api.greenapi.com \
//! HOOKBOT_INSTANCE=1101000001 HOOKBOT_TOKEN=... cargo run --example polling
//!
//! # or with no gateway: the local sandbox keeps its notifications queued and the bot polls it
//! HOOKBOT_INTAKE=polling cargo run --example polling
//! ```
//!
//! The gateway comes from the environment as for any bot; the intake is chosen in code (one
//! line: `.polling(...)`), so `HOOKBOT_INTAKE` is not needed here. Only `GET /healthz` (and in
//! sandbox mode the sandbox's pages) are served.

use std::time::Duration;

use hookbot::intake::{Intake, PollingSettings};
use hookbot::prelude::*;

async fn echo(cx: Context) -> hookbot::Result<()> {
    if let Some(text) = cx.text() {
        cx.reply(text).quote().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let router = Router::new().route(filter::incoming() & filter::content("text"), echo);
    let report = Bot::from_env(router)?
        .intake(Intake::Polling(
            PollingSettings::new().receive_timeout(Duration::from_secs(30)),
        ))
        .run()
        .await?;
    tracing::info!(unfinished = report.unfinished, "stopped");
    Ok(())
}
