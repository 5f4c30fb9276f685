//! The echo bot: answers each text it receives from a person with the same text.

use super::from_people;
use crate::context::Context;
use crate::filter;
use crate::router::Router;

/// Texts received from people (not the bot's own, not another bot's) are answered with the
/// same text.
pub fn router() -> Router {
    Router::new().route(from_people() & filter::content("text"), echo)
}

async fn echo(cx: Context) -> crate::Result<()> {
    if let Some(text) = cx.text() {
        cx.reply(text).await?;
    }
    Ok(())
}
