//! Polls and buttons: `lunch` asks a poll; `order` asks with two reply buttons, and a pressed
//! button comes back as a button reply, answered here. A gateway without buttons (GREEN-API
//! MAX, Telegram) refuses them as unsupported: the bot then asks in plain text.
//!
//! ```sh
//! cargo run --example polls   # no gateway configured: the local sandbox
//! ```

use hookbot::prelude::*;
use hookbot::reply::{Button, Buttons, Poll};
use hookbot::{Content, Error};

async fn lunch(cx: Context) -> hookbot::Result<()> {
    let poll = Poll::new("What's for lunch?", ["Soup", "Salad", "Pasta"]);
    if cx.gateway().capabilities().polls.groups_only && !cx.message().is_some_and(|m| m.is_group) {
        cx.reply("Polls go to groups here: ask me in a group.")
            .await?;
        return Ok(());
    }
    cx.reply_poll(poll).await?;
    Ok(())
}

async fn order(cx: Context) -> hookbot::Result<()> {
    let buttons = Buttons::new("Your order is ready. Pick it up now?")
        .header("Order 42")
        .button(Button::reply("now", "Now"))
        .button(Button::reply("later", "Later"));
    match cx.reply_buttons(buttons).await {
        Err(Error::Unsupported { .. }) => {
            cx.reply("Your order is ready. Answer: now or later")
                .await?;
        }
        sent => {
            sent?;
        }
    }
    Ok(())
}

async fn pressed(cx: Context) -> hookbot::Result<()> {
    if let Some(Content::ButtonReply { id, .. }) = cx.message().map(|message| &message.content) {
        let answer = if id == "now" {
            "See you soon!"
        } else {
            "We'll keep it for you."
        };
        cx.reply(answer).quote().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let router = Router::new()
        .route(filter::command("lunch"), lunch)
        .route(filter::command("order"), order)
        .route(filter::content("button_reply"), pressed);
    Bot::from_env(router)?.run().await?;
    Ok(())
}
