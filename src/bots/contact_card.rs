//! The contact directory bot. `contact <name>` (or `/contact`, and the command word in the
//! gateways' other markets' languages, `контакт` and `contato`) looks the name up in the
//! instance's contact list — any letter case, any script, part of a name or a phone number — and
//! answers with the best match's contact card, quoting the request; with no match, a short text,
//! quoted. `help` or `/start` answers with the usage. Replies follow the language of the command
//! word.

use crate::context::Context;
use crate::error::Error;
use crate::filter;
use crate::router::Router;

/// The bot's routes: help, and the look-up.
pub fn router() -> Router {
    Router::new()
        .route(
            filter::incoming() & (filter::command("help") | filter::command("start")),
            help,
        )
        .route(
            filter::incoming() & filter::command("contact").aliases(["контакт", "contato"]),
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
