//! The auto-reply bot: the first private message of a chat — and the first again after a
//! cooldown (24 hours by default) — gets a greeting that uses the sender's name (from the
//! gateway's contact info, cached) and the contact card you share, both quoting the message.
//! Group chats are left alone, and so are bots. A chat in which the owner writes from the phone
//! is left alone for the cooldown ([`Takeover`]). Which chats were greeted, and which were taken
//! over, is kept in the bot's store ([memos](crate::memo)): on a durable store the bot greets
//! nobody twice within the cooldown across restarts.

use std::time::Duration;

use super::from_people;
use crate::config::Config;
use crate::contact::ContactCard;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::filter;
use crate::router::Router;
use crate::takeover::Takeover;

/// How long after a greeting the same chat is greeted again, by default.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(24 * 60 * 60);
/// The card shared in sandbox mode when `HOOKBOT_SHARE_CONTACT` is unset: a seeded contact.
const SANDBOX_SHARE: (&str, &str) = ("79001234568", "Иван Царевич");

/// The memo of the greeted chats, per instance (the same person writing to two numbers is
/// greeted by each): a chat's entry lives for the cooldown.
pub const GREETED: &str = "greeted";

/// The bot's state: the card to share, and the cooldown.
#[derive(Debug, Clone)]
pub struct AutoReply {
    card: ContactCard,
    cooldown: Duration,
}

impl AutoReply {
    /// Shares `card`, greeting each chat at most once per `cooldown`, and leaving a chat alone
    /// for `cooldown` after the owner wrote in it from the phone.
    pub fn new(card: ContactCard, cooldown: Duration) -> Self {
        Self { card, cooldown }
    }

    /// The bot's routes: private messages received from people (never from a bot), in chats
    /// the owner has not taken over within the cooldown.
    pub fn router(&self) -> Router<AutoReply> {
        Router::new()
            .route(from_people() & filter::private(), greet)
            .layer(Takeover::new(self.cooldown))
    }

    /// From the environment: `HOOKBOT_SHARE_CONTACT` (a chat id or a phone number),
    /// `HOOKBOT_SHARE_NAME` (the name on the card) and `HOOKBOT_COOLDOWN` (`86400`, `24h`,
    /// `30m`, `45s`). In sandbox mode an unset contact shares a seeded one.
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        let config = Config::from_env()?;
        let sandbox = config.instances.is_empty()
            && matches!(config.gateway, crate::config::GatewayConfig::Sandbox);
        let (contact, name) = match (var("HOOKBOT_SHARE_CONTACT"), var("HOOKBOT_SHARE_NAME")) {
            (Some(contact), name) => (contact, name),
            (None, _) if sandbox => (SANDBOX_SHARE.0.to_owned(), Some(SANDBOX_SHARE.1.to_owned())),
            (None, _) => {
                return Err(Error::Config {
                    variable: "HOOKBOT_SHARE_CONTACT",
                    reason: "is required: the chat id or phone number of the contact to share"
                        .to_owned(),
                });
            }
        };
        let cooldown = match var("HOOKBOT_COOLDOWN") {
            Some(text) => parse_duration(&text).ok_or_else(|| Error::Config {
                variable: "HOOKBOT_COOLDOWN",
                reason: format!("must be seconds or a number with s, m, h or d, is {text:?}"),
            })?,
            None => DEFAULT_COOLDOWN,
        };
        Ok(Self::new(
            share_card(contact.trim(), name.as_deref()),
            cooldown,
        ))
    }
}

/// The card for a chat id or a phone number: digits are both (a phone on WhatsApp and Z-API,
/// a chat id on MAX); a `digits@c.us` id gives its phone too.
pub fn share_card(contact: &str, name: Option<&str>) -> ContactCard {
    let mut card = ContactCard::new().chat_id(contact);
    let phone = contact.strip_suffix("@c.us").unwrap_or(contact);
    if !phone.is_empty() && phone.bytes().all(|byte| byte.is_ascii_digit()) {
        card = card.phone(phone);
    }
    card.first_name(name.unwrap_or(phone))
}

/// Greets the chat unless it was greeted within the cooldown: the greeting and the card, both
/// quoting the message. A chat is marked greeted before the greeting goes out (so that a
/// redelivered message is not greeted twice), and unmarked when it could not be sent.
async fn greet(cx: Context<AutoReply>) -> Result<()> {
    let Some(message) = cx.message() else {
        return Ok(());
    };
    let greeted = cx.memo::<()>(GREETED).ttl(cx.state().cooldown);
    let chat = message.chat.as_str();
    if greeted.get(chat).await?.is_some() {
        return Ok(());
    }
    greeted.put(chat, &()).await?;
    let name = sender_name(&cx).await;
    let sent = async {
        cx.reply(format!(
            "Hello, {name}! Thanks for your message. Here is who to contact:"
        ))
        .quote()
        .await?;
        cx.reply_contact(cx.state().card.clone()).quote().await
    };
    if let Err(error) = sent.await {
        if let Err(forgotten) = greeted.remove(chat).await {
            tracing::warn!(error = %forgotten, %chat, "the chat stays marked greeted");
        }
        return Err(error);
    }
    Ok(())
}

/// The sender's name: from the contact info when it has one, else from the notification.
async fn sender_name(cx: &Context<AutoReply>) -> String {
    let Some(message) = cx.message() else {
        return String::new();
    };
    match cx.contacts().info(&message.sender).await {
        Ok(info) => [info.contact_name.trim(), info.name.trim()]
            .into_iter()
            .find(|name| !name.is_empty())
            .unwrap_or(message.sender_display_name())
            .to_owned(),
        Err(error) => {
            tracing::debug!(%error, "contact info unavailable; greeting by the notification's name");
            message.sender_display_name().to_owned()
        }
    }
}

/// `86400`, `45s`, `30m`, `24h`, `7d`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (at, unit) if unit.is_ascii_alphabetic() => (&text[..at], unit),
        _ => (text, 's'),
    };
    let number: u64 = number.trim().parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return None,
    };
    Some(Duration::from_secs(number.checked_mul(seconds)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ChatId;

    #[test]
    fn cooldowns_in_seconds_or_with_a_unit() {
        assert_eq!(parse_duration("86400"), Some(DEFAULT_COOLDOWN));
        assert_eq!(parse_duration("24h"), Some(DEFAULT_COOLDOWN));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1d"), Some(DEFAULT_COOLDOWN));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5w"), None);
    }

    #[test]
    fn a_card_from_a_phone_a_whatsapp_id_or_a_max_id() {
        let card = share_card("79001234568@c.us", Some("Иван"));
        assert_eq!(
            (card.phone.as_deref(), card.first_name.as_deref()),
            (Some("79001234568"), Some("Иван"))
        );
        let card = share_card("10000001", None);
        assert_eq!(card.chat_id.as_ref().map(ChatId::as_str), Some("10000001"));
        assert_eq!(card.first_name.as_deref(), Some("10000001"));
    }
}
