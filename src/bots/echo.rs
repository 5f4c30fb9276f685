//! The echo bot: answers each message a person sends with the same kind of message — the
//! showcase of the [reply kit](crate::reply).
//!
//! | received | answered with |
//! |---|---|
//! | text | the same text |
//! | image, video, audio, document | the same file by URL, with its file name and caption |
//! | location | the same location |
//! | contact card(s) | the same card(s) |
//! | poll | the same poll |
//! | anything else | a short text naming the kind (`Got a sticker; I can't echo that.`) |
//!
//! What the gateway refuses to send in this chat (a poll with multiple answers on GREEN-API MAX,
//! a poll in a Telegram private chat) is answered with the same short text.

use super::from_people;
use crate::context::Context;
use crate::error::Error;
use crate::event::{Content, MediaKind};
use crate::gateway::SentMessage;
use crate::reply::{File, Location, Poll};
use crate::router::Router;

/// Messages received from people (not the bot's own, not another bot's) are answered with the
/// same kind of message.
pub fn router() -> Router {
    Router::new().route(from_people(), echo)
}

async fn echo(cx: Context) -> crate::Result<()> {
    let Some(message) = cx.message() else {
        return Ok(());
    };
    let kind = message.content.name();
    let echoed = match &message.content {
        Content::Text(text) => Some(cx.reply(text.as_str()).await),
        Content::Media(media) if media.kind != MediaKind::Sticker => {
            match File::from_media(media) {
                Some(file) => Some(cx.reply_file(file).await),
                None => None,
            }
        }
        Content::Location(location) => match Location::from_received(location) {
            Some(location) => Some(cx.reply_location(location).await),
            None => None,
        },
        Content::Contacts(contacts) => Some(echo_contacts(&cx, contacts).await),
        Content::Poll(poll) => Some(cx.reply_poll(Poll::from_received(poll)).await),
        _ => None,
    };
    match echoed {
        Some(Ok(_)) => Ok(()),
        Some(Err(Error::Unsupported { .. } | Error::Validation(_))) | None => {
            cx.reply(format!("Got a {kind}; I can't echo that."))
                .await?;
            Ok(())
        }
        Some(Err(error)) => Err(error),
    }
}

/// Shares each card again; the last one's result (the first failure stops it).
async fn echo_contacts(
    cx: &Context,
    contacts: &[crate::SharedContact],
) -> crate::Result<SentMessage> {
    let mut sent = Err(Error::Unsupported {
        gateway: cx.gateway().kind(),
        what: "an empty list of contact cards",
    });
    for contact in contacts {
        sent = Ok(cx.reply_contact(contact.to_card()).await?);
    }
    sent
}
