//! Filters: which events a route handles. They compose with [`Filter::and`] (`&`),
//! [`Filter::or`] (`|`) and `!`, and some of them hand what they found to the handler:
//! a command's arguments ([`Command`]), a regex's [`Captures`].
//!
//! ```
//! use hookbot::filter;
//!
//! // `/contact ivan`, `contact ivan`, `Контакт иван` in a private chat, not sent by the bot itself.
//! let contact = filter::command("contact").aliases(["контакт", "contato"]).into_filter()
//!     & filter::private()
//!     & !filter::from_me();
//! let help = filter::text_ignore_case("help") | filter::command("start").into_filter();
//! # let _ = (contact, help);
//! ```

use std::fmt;
use std::ops::{BitAnd, BitOr, Not};
use std::sync::Arc;

use regex::Regex;

use crate::contact::PeerKind;
use crate::event::{Direction, Event, EventKind, Message};
use crate::fold::{fold, has_cyrillic, key};
use crate::id::ChatId;

type Test = dyn Fn(&Event, &mut Matched) -> bool + Send + Sync;

/// A test on an [`Event`]; cheap to clone.
#[derive(Clone)]
pub struct Filter {
    test: Arc<Test>,
}

/// What the filters of a matching route found: a command and its arguments, regex captures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Matched {
    /// The command a [`command`] filter matched.
    pub command: Option<Command>,
    /// The groups a [`regex()`] filter captured.
    pub captures: Option<Captures>,
}

impl Filter {
    /// A filter from a test that may record what it found.
    fn new(test: impl Fn(&Event, &mut Matched) -> bool + Send + Sync + 'static) -> Self {
        Self {
            test: Arc::new(test),
        }
    }

    /// Whether `event` passes; what the filter found goes into `matched`.
    pub fn matches(&self, event: &Event, matched: &mut Matched) -> bool {
        (self.test)(event, matched)
    }

    /// Passes when both pass; keeps what both found.
    #[must_use]
    pub fn and(self, other: impl Into<Filter>) -> Filter {
        let other = other.into();
        Filter::new(move |event, matched| {
            self.matches(event, matched) && other.matches(event, matched)
        })
    }

    /// Passes when either passes (tried in order); keeps what the passing one found.
    #[must_use]
    pub fn or(self, other: impl Into<Filter>) -> Filter {
        let other = other.into();
        Filter::new(move |event, matched| {
            let mut first = matched.clone();
            if self.matches(event, &mut first) {
                *matched = first;
                return true;
            }
            other.matches(event, matched)
        })
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Filter")
    }
}

impl<F: Into<Filter>> BitAnd<F> for Filter {
    type Output = Filter;

    fn bitand(self, other: F) -> Filter {
        self.and(other)
    }
}

impl<F: Into<Filter>> BitOr<F> for Filter {
    type Output = Filter;

    fn bitor(self, other: F) -> Filter {
        self.or(other)
    }
}

/// `!filter` passes when `filter` does not; it finds nothing.
impl Not for Filter {
    type Output = Filter;

    fn not(self) -> Filter {
        Filter::new(move |event, _| !self.matches(event, &mut Matched::default()))
    }
}

/// Every event.
pub fn any() -> Filter {
    Filter::new(|_, _| true)
}

/// Any test on the event.
pub fn func(test: impl Fn(&Event) -> bool + Send + Sync + 'static) -> Filter {
    Filter::new(move |event, _| test(event))
}

/// A test on the event's message; events without one do not pass.
pub fn message_where(test: impl Fn(&Message) -> bool + Send + Sync + 'static) -> Filter {
    Filter::new(move |event, _| event.message().is_some_and(&test))
}

/// Messages, in either direction.
pub fn message() -> Filter {
    message_where(|_| true)
}

/// Messages the instance received.
pub fn incoming() -> Filter {
    message_where(|message| message.direction == Direction::Incoming)
}

/// Messages the instance sent, from the phone or through the API.
pub fn from_me() -> Filter {
    message_where(Message::is_outgoing)
}

/// Messages a bot wrote, as the gateway tells ([`Message::is_from_bot`]; GREEN-API Telegram
/// `senderType: "bot"`).
///
/// A bot that answers every message answers other bots too, and two such bots answer each
/// other for ever. The ready bots ([`bots`](crate::bots)) leave bots' messages alone; a router
/// of your own takes them like any other until told otherwise:
///
/// ```
/// use hookbot::filter;
///
/// // People only: what the ready bots answer.
/// let people = filter::incoming() & !filter::from_bot();
/// // Bots, on purpose: a route of their own.
/// let bots = filter::incoming() & filter::from_bot();
/// # let _ = (people, bots);
/// ```
pub fn from_bot() -> Filter {
    message_where(Message::is_from_bot)
}

/// Messages whose sender is of this kind, as the gateway tells ([`Message::sender_kind`]).
pub fn sender_kind(kind: PeerKind) -> Filter {
    message_where(move |message| message.sender_kind == Some(kind))
}

/// Messages in a chat of this kind, as the gateway tells ([`Message::chat_kind`]):
/// `filter::chat_kind(PeerKind::Supergroup)`, `filter::chat_kind(PeerKind::Channel)`.
pub fn chat_kind(kind: PeerKind) -> Filter {
    message_where(move |message| message.chat_kind == Some(kind))
}

/// Delivery status changes.
pub fn status() -> Filter {
    func(|event| matches!(event.kind, EventKind::Status(_)))
}

/// Events of the kind named as [`EventKind::name`] names it (`message`, `status`,
/// `instance_state`, `call`, `block`, `unknown`).
pub fn kind(name: &'static str) -> Filter {
    func(move |event| event.kind.name() == name)
}

/// Messages whose content is of the kind named as [`Content::name`](crate::Content::name) names it (`text`,
/// `contacts`, `image`, `location`, ...).
pub fn content(name: &'static str) -> Filter {
    message_where(move |message| message.content.name() == name)
}

/// Events in this chat.
pub fn chat(chat: impl Into<ChatId>) -> Filter {
    let chat = chat.into();
    func(move |event| event.chat() == Some(&chat))
}

/// Messages from this sender (in any chat).
pub fn sender(sender: impl Into<ChatId>) -> Filter {
    let sender = sender.into();
    message_where(move |message| message.sender == sender)
}

/// Messages in a private (one-to-one) chat.
pub fn private() -> Filter {
    message_where(|message| !message.is_group)
}

/// Messages in a group chat.
pub fn group() -> Filter {
    message_where(|message| message.is_group)
}

/// Messages whose text is exactly `text` (white space around it ignored).
pub fn text(text: impl Into<String>) -> Filter {
    let text = text.into();
    message_where(move |message| {
        message
            .text()
            .is_some_and(|said| said.trim() == text.trim())
    })
}

/// Messages whose text is `text` in any letter case, in any script (`ПОМОЩЬ` is `помощь`),
/// compared as the contact search compares names: without diacritics (`артем` is `Артём`),
/// and with punctuation and white space only separating the words (`Help!` is `help`); a
/// text in the other of Cyrillic and Latin matches by transliteration (`хелп` is `help`,
/// `spasibo` is `спасибо`).
pub fn text_ignore_case(text: impl Into<String>) -> Filter {
    let text = comparable(&text.into());
    let text_key = key(&text);
    let cyrillic = has_cyrillic(&text);
    message_where(move |message| {
        message.text().is_some_and(|said| {
            let said = comparable(said);
            said == text || (has_cyrillic(&said) != cyrillic && key(&said) == text_key)
        })
    })
}

/// Messages whose text matches `pattern`; the captures reach the handler as [`Captures`].
///
/// # Panics
///
/// When `pattern` is not a valid regular expression: a route's pattern is part of the program,
/// like an axum route's path. Use [`regex_of`] with a compiled [`Regex`] to handle the error.
pub fn regex(pattern: &str) -> Filter {
    let regex = Regex::new(pattern)
        .unwrap_or_else(|error| panic!("invalid regex in filter::regex: {error}"));
    regex_of(regex)
}

/// Messages whose text matches `regex`; the captures reach the handler as [`Captures`].
pub fn regex_of(regex: Regex) -> Filter {
    Filter::new(move |event, matched| {
        let Some(text) = event.message().and_then(Message::text) else {
            return false;
        };
        let Some(found) = regex.captures(text) else {
            return false;
        };
        matched.captures = Some(Captures::new(&regex, &found));
        true
    })
}

/// A command: `/name args` or, by default, a bare `name args`; the name in any letter case.
/// Turn it into a [`Filter`] with [`into_filter`](CommandFilter::into_filter) or `.into()`.
pub fn command(name: impl Into<String>) -> CommandFilter {
    CommandFilter {
        names: vec![comparable(&name.into())],
        prefixes: vec!['/'],
        bare: true,
    }
}

/// A command filter under construction: its names, prefixes and whether a bare word counts.
#[derive(Debug, Clone)]
#[must_use]
pub struct CommandFilter {
    names: Vec<String>,
    prefixes: Vec<char>,
    bare: bool,
}

impl CommandFilter {
    /// More names for the same command (other languages, short forms).
    pub fn aliases(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.names
            .extend(names.into_iter().map(|name| comparable(&name.into())));
        self
    }

    /// The characters that may start the command (default `/`).
    pub fn prefixes(mut self, prefixes: impl IntoIterator<Item = char>) -> Self {
        self.prefixes = prefixes.into_iter().collect();
        self
    }

    /// Whether the name without a prefix counts too (default: yes).
    pub fn bare(mut self, bare: bool) -> Self {
        self.bare = bare;
        self
    }

    /// The filter.
    pub fn into_filter(self) -> Filter {
        Filter::new(move |event, matched| {
            let Some(text) = event.message().and_then(Message::text) else {
                return false;
            };
            let Some(command) = self.parse(text) else {
                return false;
            };
            matched.command = Some(command);
            true
        })
    }

    /// The command in `text`, if it is one of this filter's.
    fn parse(&self, text: &str) -> Option<Command> {
        let text = text.trim_start();
        let (prefix, rest) = match text.chars().next() {
            Some(first) if self.prefixes.contains(&first) => {
                (Some(first), &text[first.len_utf8()..])
            }
            _ if self.bare => (None, text),
            _ => return None,
        };
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, args) = rest.split_at(end);
        let name = self.name_of(word.split('@').next().unwrap_or(word))?;
        Some(Command {
            name,
            prefix,
            args: args.trim().to_owned(),
        })
    }

    /// The name of this filter's that `word` is, compared as [`comparable`] texts. A word of
    /// ASCII letters and digits is its own folded form in lower case, so it is compared
    /// without being folded (a router tries each command filter on the same word).
    fn name_of(&self, word: &str) -> Option<String> {
        if !word.is_empty() && word.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            let name = self
                .names
                .iter()
                .find(|name| name.eq_ignore_ascii_case(word));
            return name.cloned();
        }
        let name = comparable(word);
        self.names.contains(&name).then_some(name)
    }
}

impl From<CommandFilter> for Filter {
    fn from(command: CommandFilter) -> Filter {
        command.into_filter()
    }
}

impl<F: Into<Filter>> BitAnd<F> for CommandFilter {
    type Output = Filter;

    fn bitand(self, other: F) -> Filter {
        self.into_filter().and(other)
    }
}

impl<F: Into<Filter>> BitOr<F> for CommandFilter {
    type Output = Filter;

    fn bitor(self, other: F) -> Filter {
        self.into_filter().or(other)
    }
}

/// A command a [`command`] filter matched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Command {
    /// The command's name as matched, folded as [`text_ignore_case`] folds texts (`contact`).
    pub name: String,
    /// The prefix it was written with, `None` for a bare command.
    pub prefix: Option<char>,
    /// Everything after the name, trimmed.
    pub args: String,
}

impl Command {
    /// The arguments split at white space.
    pub fn arg_list(&self) -> Vec<&str> {
        self.args.split_whitespace().collect()
    }
}

/// The groups a [`regex()`] filter captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captures {
    groups: Vec<Option<String>>,
    names: Vec<(String, usize)>,
}

impl Captures {
    fn new(regex: &Regex, found: &regex::Captures<'_>) -> Self {
        let groups = found
            .iter()
            .map(|group| group.map(|group| group.as_str().to_owned()))
            .collect();
        let names = regex
            .capture_names()
            .enumerate()
            .filter_map(|(index, name)| Some((name?.to_owned(), index)))
            .collect();
        Self { groups, names }
    }

    /// Group `index` (0 is the whole match), if it took part in the match.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.groups.get(index)?.as_deref()
    }

    /// The group named `name`, if it took part in the match.
    pub fn name(&self, name: &str) -> Option<&str> {
        let (_, index) = self.names.iter().find(|(group, _)| group == name)?;
        self.get(*index)
    }
}

/// The form in which the filters compare texts and command names: [folded](fold), or, for a
/// text with no letter or digit to fold (`👍`), the text itself without white space around it.
fn comparable(text: &str) -> String {
    let folded = fold(text);
    if folded.is_empty() {
        text.trim().to_owned()
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(filter: &CommandFilter, text: &str) -> Option<Command> {
        filter.parse(text)
    }

    #[test]
    fn ascii_words_match_names_as_folding_them_would() {
        let filter = command("contact").aliases(["Help2", "контакт", "straße"]);
        for word in [
            "contact", "CONTACT", "CoNtAcT", "help2", "HELP2", "contacts", "c0ntact",
        ] {
            let folded = comparable(word);
            let expected = filter.names.contains(&folded).then_some(folded);
            assert_eq!(filter.name_of(word), expected, "{word}");
        }
        assert_eq!(filter.name_of("STRASSE").as_deref(), Some("strasse"));
        assert_eq!(filter.name_of("КОНТАКТ").as_deref(), Some("контакт"));
        assert_eq!(filter.name_of("kontakt"), None);
    }

    #[test]
    fn commands_with_prefix_bare_any_case_and_bot_suffix() {
        let filter = command("contact").aliases(["контакт", "contato"]);
        let found = parse(&filter, "/contact  Василиса Премудрая ").unwrap();
        assert_eq!(
            (found.name.as_str(), found.prefix, found.args.as_str()),
            ("contact", Some('/'), "Василиса Премудрая")
        );
        assert_eq!(parse(&filter, "КОНТАКТ иван").unwrap().args, "иван");
        assert_eq!(parse(&filter, "Contato").unwrap().args, "");
        assert_eq!(parse(&filter, "/contact@hookbot x").unwrap().args, "x");
        assert!(parse(&filter, "contacts ivan").is_none());
        assert!(parse(&filter, "say contact").is_none());
        assert!(parse(&filter.clone().bare(false), "contact ivan").is_none());
        assert!(parse(&filter.prefixes(['!']), "!contact ivan").is_some());
    }

    #[test]
    fn texts_compare_folded_and_symbols_compare_as_they_are() {
        assert_eq!(comparable("  Артём, ПРИВЕТ! "), "артем привет");
        assert_eq!(comparable(" 👍 "), "👍");
        assert_ne!(comparable("👍"), comparable("❤️"));
    }

    #[test]
    fn command_names_fold_like_texts() {
        let filter = command("Артём");
        assert_eq!(parse(&filter, "/артем hi").unwrap().name, "артем");
        assert_eq!(parse(&command("👍"), "👍 x").unwrap().args, "x");
        assert!(parse(&command("👍"), "❤️ x").is_none());
    }

    #[test]
    fn arg_list_splits_at_white_space() {
        let found = parse(&command("add"), "/add  a b\tc").unwrap();
        assert_eq!(found.arg_list(), ["a", "b", "c"]);
    }
}
