//! Owner takeover: when the account's owner writes in a chat from the phone, the bot leaves
//! that chat alone for a while, so that it does not talk over a person.
//!
//! ```
//! use std::time::Duration;
//! use hookbot::prelude::*;
//! use hookbot::takeover::Takeover;
//!
//! async fn answer(cx: Context) -> hookbot::Result<()> {
//!     cx.reply("Thanks! We will answer shortly.").await?;
//!     Ok(())
//! }
//!
//! let router: Router = Router::new()
//!     .route(filter::incoming() & filter::private(), answer)
//!     .layer(Takeover::new(Duration::from_secs(60 * 60)));
//! # let _ = router;
//! ```
//!
//! The owner's message is a message the instance sent from the phone or another linked
//! device ([`Direction::SentFromPhone`]: GREEN-API `outgoingMessageReceived`, Z-API `fromMe`
//! without `fromApi`), never one the bot sent through the API. The gateways notify them only
//! when told to: GREEN-API's `outgoingMessageWebhook`, Z-API's `notifySentByMe`.
//! The pause is kept in the bot's store, in the memo [`MEMO`](Takeover::MEMO), so it survives a
//! restart on a durable store.

use std::time::Duration;

use crate::context::Context;
use crate::conversation::ConversationState;
use crate::event::{Direction, Event};
use crate::router::{BoxFuture, Middleware, Next};

/// A router layer that pauses the bot in a chat for a cooldown each time the owner writes
/// there from the phone: the person's messages in a paused chat reach no handler. Messages in
/// other chats, and events other than received messages, go on as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Takeover {
    cooldown: Duration,
}

impl Takeover {
    /// The memo the paused chats are kept in, per instance: a chat's entry lives for the
    /// cooldown after the owner's last message.
    pub const MEMO: &'static str = "takeover";

    /// Pauses a chat for `cooldown` after each message of the owner's in it.
    pub fn new(cooldown: Duration) -> Self {
        Self { cooldown }
    }
}

/// Whether `event` is a message the owner wrote from the phone.
fn from_phone(event: &Event) -> bool {
    event
        .message()
        .is_some_and(|message| message.direction == Direction::SentFromPhone)
}

impl<S: Send + Sync + 'static, D: ConversationState> Middleware<S, D> for Takeover {
    fn call(&self, cx: Context<S, D>, next: Next<S, D>) -> BoxFuture {
        let cooldown = self.cooldown;
        Box::pin(async move {
            let Some(message) = cx.message() else {
                return next.run(cx).await;
            };
            let paused = cx.memo::<()>(Self::MEMO).ttl(cooldown);
            let chat = message.chat.as_str();
            match message.direction {
                Direction::SentFromPhone => {
                    paused.put(chat, &()).await?;
                    tracing::info!(%chat, ?cooldown, "the owner wrote from the phone; the bot leaves the chat alone");
                }
                Direction::Incoming if paused.get(chat).await?.is_some() => {
                    tracing::debug!(%chat, "the owner took the chat over; message left alone");
                    return Ok(());
                }
                _ => {}
            }
            next.run(cx).await
        })
    }

    fn watches(&self, event: &Event) -> bool {
        from_phone(event)
    }
}
