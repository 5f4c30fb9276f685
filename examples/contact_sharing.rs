//! Contact sharing with quotes: `contact <name>` looks the name up in the instance's contact list
//! (cached; one gateway call however many people ask at once) and answers with the best match's
//! contact card, quoting the request.
//!
//! On GREEN-API MAX the card is sent without the quote: MAX's sendContact documents no quoting
//! (see `gateway.capabilities()`).
//!
//! ```sh
//! HOOKBOT_INSTANCE=1101000001 HOOKBOT_TOKEN=... cargo run --example contact_sharing
//! ```

use hookbot::prelude::*;

async fn share_contact(cx: Context) -> hookbot::Result<()> {
    let query = cx.args().trim();
    if query.is_empty() {
        cx.reply("Whose contact? Send: contact <name>")
            .quote()
            .await?;
        return Ok(());
    }
    match cx.contacts().find_best(query).await? {
        Some(found) => cx.reply_contact(&found).quote().await?,
        None => {
            cx.reply(format!("No contact matches {query:?}."))
                .quote()
                .await?
        }
    };
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    let router = Router::new().route(
        filter::command("contact") & filter::incoming(),
        share_contact,
    );
    Bot::from_env(router)?.run().await?;
    Ok(())
}
