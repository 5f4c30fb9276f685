//! The echo bot: answers each text it receives with the same text.

use crate::context::Context;
use crate::filter;
use crate::router::Router;

/// Texts received (not the bot's own) are answered with the same text.
pub fn router() -> Router {
    Router::new().route(filter::incoming() & filter::content("text"), echo)
}

async fn echo(cx: Context) -> crate::Result<()> {
    if let Some(text) = cx.text() {
        cx.reply(text).await?;
    }
    Ok(())
}
