//! A conversation: `card` starts it, the bot asks for a name, then a phone number, and answers
//! with the resulting contact card, quoting the message that started it. `cancel` ends it at
//! any step; five idle minutes end it too, and the bot says so.
//!
//! ```sh
//! cargo run --example conversation    # no gateway configured: a local sandbox, open the printed URL
//! ```
//!
//! With `HOOKBOT_GATEWAY` and the other `HOOKBOT_*` variables set, it runs on that gateway.

use std::time::Duration;

use hookbot::context::TimedOut;
use hookbot::conversation::{Conversations, MemoryStorage};
use hookbot::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a person is in making a card (serialisable, so that a shared store can keep it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub enum Card {
    /// No card being made.
    #[default]
    Idle,
    /// Asked for the name; `first` is the message that started the conversation.
    AskingName { first: MessageId },
    /// Asked for the phone number.
    AskingPhone { first: MessageId, name: String },
}

impl Card {
    fn is_asking_name(&self) -> bool {
        matches!(self, Card::AskingName { .. })
    }

    fn is_asking_phone(&self) -> bool {
        matches!(self, Card::AskingPhone { .. })
    }

    fn is_going(&self) -> bool {
        !matches!(self, Card::Idle)
    }
}

type Cx = Context<(), Card>;

/// The bot's routes: `card` and `cancel` whatever the state, then one router per step.
pub fn router() -> Router<(), Card> {
    let text = || filter::incoming() & filter::content("text");
    Router::new()
        .route(filter::incoming() & filter::command("card"), start)
        .in_state(
            Card::is_going,
            Router::new().route(filter::incoming() & filter::command("cancel"), cancel),
        )
        .in_state(Card::is_asking_name, Router::new().route(text(), name))
        .in_state(Card::is_asking_phone, Router::new().route(text(), phone))
}

async fn start(cx: Cx) -> hookbot::Result<()> {
    let Some(first) = cx.event().message_id().cloned() else {
        return Ok(());
    };
    cx.conversation().set(Card::AskingName { first }).await?;
    cx.reply("Whose card shall I make? Send the name (or: cancel).")
        .await?;
    Ok(())
}

async fn name(cx: Cx) -> hookbot::Result<()> {
    let Card::AskingName { first } = cx.conversation().get() else {
        return Ok(());
    };
    let name = cx.text().unwrap_or_default().trim().to_owned();
    cx.reply(format!(
        "The phone number of {name}, with the country code?"
    ))
    .await?;
    cx.conversation()
        .set(Card::AskingPhone { first, name })
        .await
}

async fn phone(cx: Cx) -> hookbot::Result<()> {
    let Card::AskingPhone { first, name } = cx.conversation().get() else {
        return Ok(());
    };
    let digits: String = cx
        .text()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let card = ContactCard::new().phone(digits).first_name(name);
    match cx.reply_contact(card).quoting(first).await {
        Ok(_) => cx.conversation().end().await,
        // The client checks the card before sending it; a bad number stays in this step.
        Err(Error::Validation(broken)) => {
            cx.reply(format!(
                "That number cannot go on a card ({broken}). Try again?"
            ))
            .await?;
            Ok(())
        }
        Err(other) => Err(other),
    }
}

async fn cancel(cx: Cx) -> hookbot::Result<()> {
    cx.conversation().end().await?;
    cx.reply("Cancelled.").await?;
    Ok(())
}

/// Tells the person their card request timed out, quoting the message that started it.
pub async fn timed_out(timed_out: TimedOut<(), Card>) -> hookbot::Result<()> {
    let reply =
        timed_out.reply("No answer for a while, so I dropped the card. Send card to start again.");
    match timed_out.conversation_state() {
        Card::AskingName { first } | Card::AskingPhone { first, .. } => {
            reply.quoting(first.clone()).await?
        }
        Card::Idle => reply.await?,
    };
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("info,hookbot=debug")
        .init();
    Bot::from_env(router())?
        .conversations(Conversations::new(MemoryStorage::with_limits(
            Duration::from_secs(5 * 60),
            100_000,
        )))
        .on_conversation_timeout(timed_out)
        .run()
        .await?;
    Ok(())
}
