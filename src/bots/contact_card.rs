//! The contact directory bot. `contact <name>` (or `/contact`, and the command word in the
//! gateways' other markets' languages, `контакт` and `contato`) looks the name up in the
//! instance's contact list — any letter case, any script, part of a name, a phone number or a
//! Telegram username — and answers with the best match's contact card, quoting the request; with
//! no match, or a match that cannot be shared as a card (a Telegram contact hiding their phone,
//! say), a short text, quoted. `help` or `/start` answers with the usage. Replies follow the
//! language of the command word. Bots' messages are left alone (see
//! [no bot loops](super#no-bot-loops)).

use super::from_people;
use crate::contact::Contact;
use crate::context::Context;
use crate::error::{Error, Rule, ValidationError};
use crate::filter;
use crate::router::Router;

/// The bot's routes: help, and the look-up.
pub fn router() -> Router {
    Router::new()
        .route(
            from_people() & (filter::command("help") | filter::command("start")),
            help,
        )
        .route(
            from_people() & filter::command("contact").aliases(["контакт", "contato"]),
            contact,
        )
}

/// The usage, in the three languages.
pub const USAGE: &str = "I share contact cards from this number's contact list.\n\
Send: contact <name> — for example: contact Ivan\n\
Напишите: контакт <имя> · Envie: contato <nome>";

async fn help(cx: Context) -> crate::Result<()> {
    cx.reply(USAGE).await?;
    Ok(())
}

async fn contact(cx: Context) -> crate::Result<()> {
    let language = Language::of(cx.command().map_or("", |command| command.name.as_str()));
    let query = cx.args().trim();
    if query.is_empty() {
        cx.reply(language.whose_contact()).quote().await?;
        return Ok(());
    }
    let Some(found) = cx.contacts().find_best(query).await? else {
        cx.reply(language.no_match(query)).quote().await?;
        return Ok(());
    };
    match cx.reply_contact(&found).quote().await {
        Ok(_) => Ok(()),
        Err(Error::Validation(ValidationError {
            rule: Rule::PhoneHidden,
            ..
        })) => {
            cx.reply(language.hides_phone(&who(&found))).quote().await?;
            Ok(())
        }
        Err(Error::Validation(broken)) => {
            tracing::info!(%broken, contact = %found.chat_id, "the best match cannot be shared on this gateway");
            cx.reply(language.cannot_share(found.display_name()))
                .quote()
                .await?;
            Ok(())
        }
        Err(other) => Err(other),
    }
}

/// The contact's name, and its username when it has one: `Царевна Лягушка (@frog)`.
fn who(contact: &Contact) -> String {
    match &contact.username {
        Some(username) => format!("{} (@{username})", contact.display_name()),
        None => contact.display_name().to_owned(),
    }
}

/// The language of a reply: that of the command word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    English,
    Russian,
    Portuguese,
}

impl Language {
    fn of(command: &str) -> Self {
        match command {
            "контакт" => Language::Russian,
            "contato" => Language::Portuguese,
            _ => Language::English,
        }
    }

    fn whose_contact(self) -> &'static str {
        match self {
            Language::English => "Whose contact? Send: contact <name>",
            Language::Russian => "Чей контакт? Напишите: контакт <имя>",
            Language::Portuguese => "Qual contato? Envie: contato <nome>",
        }
    }

    fn no_match(self, query: &str) -> String {
        match self {
            Language::English => format!("No contact matches “{query}”."),
            Language::Russian => format!("Контакт «{query}» не найден."),
            Language::Portuguese => format!("Nenhum contato encontrado para “{query}”."),
        }
    }

    fn hides_phone(self, who: &str) -> String {
        match self {
            Language::English => {
                format!("{who} hides their phone number, so their card cannot be shared.")
            }
            Language::Russian => {
                format!("{who} скрывает номер телефона: карточку отправить нельзя.")
            }
            Language::Portuguese => {
                format!("{who} oculta o número de telefone: o cartão não pode ser enviado.")
            }
        }
    }

    fn cannot_share(self, name: &str) -> String {
        match self {
            Language::English => {
                format!("{name} is in the list, but their card cannot be shared here.")
            }
            Language::Russian => {
                format!("{name} есть в списке, но эту карточку здесь отправить нельзя.")
            }
            Language::Portuguese => {
                format!("{name} está na lista, mas o cartão não pode ser enviado aqui.")
            }
        }
    }
}
