//! Error handling: handlers return typed errors and match on hookbot's `Error` where they can
//! act on it; what they cannot handle reaches the bot's error hook with the event's identity;
//! a middleware times every handler.
//!
//! ```sh
//! HOOKBOT_INSTANCE=1101000001 HOOKBOT_TOKEN=... cargo run --example error_handling
//! ```

use std::time::Instant;

use hookbot::prelude::*;
use hookbot::router::{HandlerResult, Next};

/// Shares a card; a card the gateway cannot express is explained to the person instead.
async fn share(cx: Context) -> Result<(), Error> {
    let card = ContactCard::new().phone(cx.args()).first_name("Shared");
    match cx.reply_contact(card).quote().await {
        Ok(_) => Ok(()),
        Err(Error::Validation(broken)) => {
            cx.reply(format!("That is not a phone number I can share: {broken}"))
                .await?;
            Ok(())
        }
        Err(Error::QuotaExceeded { .. }) => {
            cx.reply("The bot's monthly quota is used up.").await?;
            Ok(())
        }
        Err(other) => Err(other),
    }
}

/// A handler that fails with its own error type: anything that converts into a boxed error.
async fn parse_number(cx: Context) -> anyhow::Result<()> {
    let number: u64 = cx.args().parse()?;
    cx.reply(format!("{number} × 2 = {}", number * 2)).await?;
    Ok(())
}

/// Logs how long each handler took.
async fn timing(cx: Context, next: Next<()>) -> HandlerResult {
    let started = Instant::now();
    let result = next.run(cx).await;
    tracing::info!(elapsed = ?started.elapsed(), ok = result.is_ok(), "handled");
    result
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let router = Router::new()
        .route(filter::command("share"), share)
        .route(filter::command("double"), parse_number)
        .layer(timing);
    Bot::from_env(router)?
        .on_error(|failure| eprintln!("could not handle {}: {}", failure.event, failure.error))
        .run()
        .await?;
    Ok(())
}
