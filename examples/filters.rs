//! Filters and routes: commands with arguments in three languages, a regex with named captures,
//! a nested router for groups, and a fallback. Routes are tried in order; the first whose filter
//! passes handles the event.
//!
//! ```sh
//! HOOKBOT_INSTANCE=1101000001 HOOKBOT_TOKEN=... cargo run --example filters
//! ```

use hookbot::prelude::*;

/// `/help`, `help`, `помощь` in any case.
async fn help(cx: Context) -> hookbot::Result<()> {
    cx.reply("Commands: contact <name>, order <number>").await?;
    Ok(())
}

/// `contact ivan`, `/контакт иван`, `contato ana`: the arguments come split off.
async fn contact(cx: Context) -> hookbot::Result<()> {
    cx.reply(format!("You asked for {:?}", cx.args()))
        .quote()
        .await?;
    Ok(())
}

/// `order 42`: the regex's named group reaches the handler.
async fn order(cx: Context) -> hookbot::Result<()> {
    let number = cx
        .captures()
        .and_then(|captures| captures.name("number"))
        .unwrap_or_default();
    cx.reply(format!("Order {number} is on its way"))
        .quote()
        .await?;
    Ok(())
}

/// In groups, only `/kick` is answered.
async fn kick(cx: Context) -> hookbot::Result<()> {
    cx.reply(format!("(would remove {})", cx.args())).await?;
    Ok(())
}

/// Whatever no route took, in private chats.
async fn fallback(cx: Context) -> hookbot::Result<()> {
    if cx
        .message()
        .is_some_and(|message| !message.is_group && !message.is_outgoing())
    {
        cx.reply("Sorry, I did not get that. Send help.").await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let groups = Router::new().route(filter::command("kick").bare(false), kick);
    let router = Router::new()
        .nest(filter::group(), groups)
        .route(
            filter::command("help") | filter::text_ignore_case("помощь"),
            help,
        )
        .route(
            filter::command("contact").aliases(["контакт", "contato"]) & filter::private(),
            contact,
        )
        .route(filter::regex(r"(?i)^order (?P<number>\d+)$"), order)
        .fallback(fallback);
    Bot::from_env(router)?.run().await?;
    Ok(())
}
