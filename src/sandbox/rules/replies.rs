//! The checks of GREEN-API's reply methods beyond text and contact cards (files, locations,
//! polls, buttons, forwards, typing, read marks). Which methods a messenger has, its poll
//! limits and the button limits are read from the client's
//! [rules table](crate::gateway::green_api::rules) and its checks, so that the emulator and
//! the client never disagree.

use serde_json::{Map, Value};

use super::{Checked, invalid, quoted_message_id, send_target, typing_time};
use crate::gateway::green_api::rules::{PollOptions, TYPING_TIME_MS};
use crate::gateway::validate::{MAX_BUTTON_LABEL_CHARS, MAX_BUTTONS};
use crate::id::{ChatId, MessageId};
use crate::sandbox::Platform;
use crate::sandbox::chat::{SentButton, SentButtons, SentFile, SentLocation, SentPoll, Typing};

/// A reply method of GREEN-API beyond sendMessage and sendContact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyMethod {
    SendFileByUrl,
    SendFileByUpload,
    SendLocation,
    SendPoll,
    SendInteractiveButtons,
    SendInteractiveButtonsReply,
    ForwardMessages,
    SendTyping,
    ReadChat,
}

impl ReplyMethod {
    /// Every reply method, with its name as GREEN-API writes it.
    const ALL: [(ReplyMethod, &'static str); 9] = [
        (ReplyMethod::SendFileByUrl, "sendFileByUrl"),
        (ReplyMethod::SendFileByUpload, "sendFileByUpload"),
        (ReplyMethod::SendLocation, "sendLocation"),
        (ReplyMethod::SendPoll, "sendPoll"),
        (
            ReplyMethod::SendInteractiveButtons,
            "sendInteractiveButtons",
        ),
        (
            ReplyMethod::SendInteractiveButtonsReply,
            "sendInteractiveButtonsReply",
        ),
        (ReplyMethod::ForwardMessages, "forwardMessages"),
        (ReplyMethod::SendTyping, "sendTyping"),
        (ReplyMethod::ReadChat, "readChat"),
    ];

    /// The method `name` (any letter case) names, when `platform` has it (the rules table
    /// says which: buttons are WhatsApp's only, MAX documents no readChat, Telegram no
    /// sendTyping, readChat or forwardMessages). A method a messenger lacks is answered as any
    /// unknown method (404).
    pub(crate) fn of(platform: Platform, name: &str) -> Option<ReplyMethod> {
        let method = Self::ALL
            .into_iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(name))?
            .0;
        let rules = platform.rules();
        let has = match method {
            ReplyMethod::SendInteractiveButtons | ReplyMethod::SendInteractiveButtonsReply => {
                rules.buttons
            }
            ReplyMethod::ReadChat => rules.read_chat,
            ReplyMethod::SendTyping => rules.send_typing,
            ReplyMethod::ForwardMessages => rules.forward_messages,
            _ => true,
        };
        has.then_some(method)
    }

    /// The method's name as GREEN-API writes it.
    pub(crate) fn name(self) -> &'static str {
        Self::ALL
            .into_iter()
            .find(|(method, _)| *method == self)
            .map_or("", |(_, name)| name)
    }
}

/// A checked send of one of the reply kinds: the chat, what it holds, the message it quotes.
#[derive(Debug)]
pub(crate) struct Reply<T> {
    pub(crate) chat: ChatId,
    pub(crate) content: T,
    pub(crate) quoted: Option<MessageId>,
}

/// sendFileByUrl: `chatId`, `urlFile` (an http(s) URL), `fileName` (with an extension),
/// optional `caption` (within the platform's text length) and `quotedMessageId`.
pub(crate) fn send_file_by_url(
    platform: Platform,
    body: &Map<String, Value>,
) -> Checked<Reply<SentFile>> {
    let chat = send_target(platform, body, "chatId")?;
    let url = required_text(body, "urlFile")?;
    if !is_web_url(&url) {
        return Err(invalid(format!(
            "urlFile must be an http(s) URL, is {url:?}"
        )));
    }
    let file = SentFile {
        url,
        file_name: file_name(required_text(body, "fileName")?)?,
        caption: caption(platform, optional_text(body, "caption")?)?,
    };
    typing_time(body)?;
    Ok(Reply {
        chat,
        content: file,
        quoted: quoted_message_id(body)?,
    })
}

/// sendFileByUpload's form fields other than the file: `chatId`, `fileName` (else the file
/// part's own name), optional `caption` and `quotedMessageId`. The file's `url` is left empty
/// for the sandbox to fill in once it keeps the file.
pub(crate) fn send_file_by_upload(
    platform: Platform,
    fields: &Map<String, Value>,
    uploaded_name: Option<String>,
) -> Checked<Reply<SentFile>> {
    let chat = send_target(platform, fields, "chatId")?;
    let name = match optional_text(fields, "fileName")?.filter(|name| !name.trim().is_empty()) {
        Some(name) => name,
        None => uploaded_name
            .filter(|name| !name.trim().is_empty())
            .ok_or_else(|| invalid("fileName is required"))?,
    };
    let file_name = file_name(name)?;
    let file = SentFile {
        url: String::new(),
        file_name,
        caption: caption(platform, optional_text(fields, "caption")?)?,
    };
    Ok(Reply {
        chat,
        content: file,
        quoted: quoted_message_id(fields)?,
    })
}

/// sendLocation: `chatId`, `latitude` (−90 to 90) and `longitude` (−180 to 180) as numbers,
/// optional `nameLocation`, `address` and `quotedMessageId`.
pub(crate) fn send_location(
    platform: Platform,
    body: &Map<String, Value>,
) -> Checked<Reply<SentLocation>> {
    let chat = send_target(platform, body, "chatId")?;
    let location = SentLocation {
        latitude: coordinate(body, "latitude", 90.0)?,
        longitude: coordinate(body, "longitude", 180.0)?,
        name: optional_text(body, "nameLocation")?,
        address: optional_text(body, "address")?,
    };
    typing_time(body)?;
    Ok(Reply {
        chat,
        content: location,
        quoted: quoted_message_id(body)?,
    })
}

/// sendPoll: `chatId`, `message` (the question, within the messenger's limit), `options`
/// (unique, as many as the messenger takes), optional `multipleAnswers` (where the messenger
/// has it) and `quotedMessageId`. Telegram takes polls in groups only.
pub(crate) fn send_poll(platform: Platform, body: &Map<String, Value>) -> Checked<Reply<SentPoll>> {
    let chat = send_target(platform, body, "chatId")?;
    let limits = platform.rules().polls;
    if limits.groups_only && !platform.is_group(chat.as_str()) {
        return Err(invalid("sendPoll takes group chats only on Telegram"));
    }
    let question = required_text(body, "message")?;
    let max = limits.max_question_chars;
    let chars = question.chars().count();
    if chars > max {
        return Err(invalid(format!(
            "message must be at most {max} characters, has {chars}"
        )));
    }
    let multiple_answers = flag(body, "multipleAnswers")?;
    if multiple_answers && !limits.multiple_answers {
        return Err(invalid(format!(
            "multipleAnswers is not available on {}",
            platform.messenger()
        )));
    }
    let poll = SentPoll {
        question,
        options: poll_options(platform, body)?,
        multiple_answers,
    };
    if platform == Platform::Telegram {
        telegram_poll_kind(body, poll.options.len())?;
    }
    typing_time(body)?;
    Ok(Reply {
        chat,
        content: poll,
        quoted: quoted_message_id(body)?,
    })
}

/// Telegram's `type` (`regular` or `quiz`), and a quiz's `correctOptionId`: the index of one
/// of the `options` options.
fn telegram_poll_kind(body: &Map<String, Value>, options: usize) -> Checked<()> {
    let kind = optional_text(body, "type")?;
    match kind.as_deref() {
        None | Some("regular") => Ok(()),
        Some("quiz") => match body.get("correctOptionId").and_then(Value::as_u64) {
            Some(index) if usize::try_from(index).is_ok_and(|index| index < options) => Ok(()),
            _ => Err(invalid(format!(
                "correctOptionId must be the index of an option (0 to {}) in a quiz",
                options - 1
            ))),
        },
        Some(other) => Err(invalid(format!(
            "type must be regular or quiz, is {other:?}"
        ))),
    }
}

/// `options`: unique, non-blank names, as many as the messenger takes; objects `{optionName}`,
/// or plain names where the messenger takes those (Telegram).
fn poll_options(platform: Platform, body: &Map<String, Value>) -> Checked<Vec<String>> {
    let rules = platform.rules();
    let (min, max) = rules.polls.options;
    let items = match body.get("options") {
        None | Some(Value::Null) => return Err(invalid("options is required")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("options must be an array of {optionName}")),
    };
    if !(min..=max).contains(&items.len()) {
        return Err(invalid(format!(
            "options must have {min} to {max} items, has {}",
            items.len()
        )));
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = match (rules.poll_options, item) {
            (PollOptions::Plain, Value::String(name)) => Some(name.as_str()),
            (PollOptions::Plain, _) => None,
            (PollOptions::Named, _) => item.get("optionName").and_then(Value::as_str),
        };
        let name = match name {
            Some(name) if !name.trim().is_empty() => name.to_owned(),
            _ if rules.poll_options == PollOptions::Plain => {
                return Err(invalid("each option must be a non-blank name"));
            }
            _ => return Err(invalid("each option must be {optionName: <text>}")),
        };
        if names.contains(&name) {
            return Err(invalid(format!("options must be unique: {name:?} repeats")));
        }
        names.push(name);
    }
    Ok(names)
}

/// sendInteractiveButtons (`copy`, `call` and `url` buttons) or, with `reply`,
/// sendInteractiveButtonsReply (reply buttons): `chatId`, `body` (within the platform's text
/// length), optional `header` and `footer`, `buttons` (1–3, labels of at most 25 characters).
pub(crate) fn send_buttons(
    platform: Platform,
    body: &Map<String, Value>,
    reply: bool,
) -> Checked<Reply<SentButtons>> {
    let chat = send_target(platform, body, "chatId")?;
    let text = required_text(body, "body")?;
    let max = platform.max_text_chars();
    let chars = text.chars().count();
    if chars > max {
        return Err(invalid(format!(
            "body must be at most {max} characters, has {chars}"
        )));
    }
    let items = match body.get("buttons") {
        None | Some(Value::Null) => return Err(invalid("buttons is required")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("buttons must be an array")),
    };
    if items.is_empty() || items.len() > MAX_BUTTONS {
        return Err(invalid(format!(
            "buttons must have 1 to {MAX_BUTTONS} items, has {}",
            items.len()
        )));
    }
    let mut buttons = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(invalid("each button must be an object"));
        };
        buttons.push(button(item, index, reply)?);
    }
    let sent = SentButtons {
        header: optional_text(body, "header")?,
        body: text,
        footer: optional_text(body, "footer")?,
        buttons,
    };
    Ok(Reply {
        chat,
        content: sent,
        quoted: quoted_message_id(body)?,
    })
}

/// One button: `buttonText` (1–25 characters), `buttonId` (else its position from 1); for
/// sendInteractiveButtons a `type` of `copy` (with `copyCode`), `call` (with `phoneNumber`)
/// or `url` (with `url`).
fn button(item: &Map<String, Value>, index: usize, reply: bool) -> Checked<SentButton> {
    let text =
        required_text(item, "buttonText").map_err(|_| invalid("each button needs buttonText"))?;
    let chars = text.chars().count();
    if chars > MAX_BUTTON_LABEL_CHARS {
        return Err(invalid(format!(
            "buttonText must be at most {MAX_BUTTON_LABEL_CHARS} characters, has {chars}"
        )));
    }
    let id = optional_text(item, "buttonId")?
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| (index + 1).to_string());
    let mut button = SentButton {
        kind: "reply".to_owned(),
        button_id: id,
        button_text: text,
        ..SentButton::default()
    };
    if reply {
        return Ok(button);
    }
    let kind = optional_text(item, "type")?.unwrap_or_default();
    match kind.as_str() {
        "copy" => button.copy_code = Some(required_text(item, "copyCode")?),
        "call" => button.phone_number = Some(required_text(item, "phoneNumber")?),
        "url" => {
            let url = required_text(item, "url")?;
            if !is_web_url(&url) {
                return Err(invalid(format!("url must be an http(s) URL, is {url:?}")));
            }
            button.url = Some(url);
        }
        _ => {
            return Err(invalid(format!(
                "button type must be copy, call or url, is {kind:?}"
            )));
        }
    }
    button.kind = kind;
    Ok(button)
}

/// forwardMessages: `chatId`, `chatIdFrom` and `messages` (a non-empty array of ids).
pub(crate) fn forward_messages(
    platform: Platform,
    body: &Map<String, Value>,
) -> Checked<(ChatId, ChatId, Vec<MessageId>)> {
    let chat = send_target(platform, body, "chatId")?;
    let from = send_target(platform, body, "chatIdFrom")?;
    let ids = match body.get("messages") {
        Some(Value::Array(ids)) if !ids.is_empty() => ids,
        _ => return Err(invalid("messages must be a non-empty array of message ids")),
    };
    let ids = ids
        .iter()
        .map(|id| match id {
            Value::String(id) if !id.is_empty() => Ok(MessageId::from(id.as_str())),
            _ => Err(invalid("messages must be a non-empty array of message ids")),
        })
        .collect::<Checked<Vec<_>>>()?;
    typing_time(body)?;
    Ok((chat, from, ids))
}

/// sendTyping: `chatId`, `typingTime` (1000–20000 ms; required on MAX and Telegram) and
/// `typingType`: WhatsApp `recording` (else typing a text); MAX `text`, `recording`, `video`
/// or `image`; Telegram one of its chat actions.
pub(crate) fn send_typing(
    platform: Platform,
    body: &Map<String, Value>,
) -> Checked<(ChatId, Typing)> {
    let chat = send_target(platform, body, "chatId")?;
    typing_time(body)?;
    let typing_time = body.get("typingTime").and_then(Value::as_u64);
    if typing_time.is_none() && platform != Platform::WhatsApp {
        let (min, max) = TYPING_TIME_MS;
        return Err(invalid(format!(
            "typingTime is required: an integer from {min} to {max} (milliseconds)"
        )));
    }
    let typing_type = optional_text(body, "typingType")?.filter(|kind| !kind.is_empty());
    if let Some(kind) = &typing_type {
        let known: &[&str] = match platform {
            Platform::WhatsApp => &["recording", "text"],
            Platform::Max => &["text", "recording", "video", "image"],
            Platform::Telegram => &[],
        };
        if !known.is_empty() && !known.contains(&kind.as_str()) {
            return Err(invalid(format!(
                "typingType must be one of {}, is {kind:?}",
                known.join(", ")
            )));
        }
    }
    Ok((
        chat,
        Typing {
            typing_time,
            typing_type,
        },
    ))
}

/// readChat: `chatId` and optional `idMessage`.
pub(crate) fn read_chat(
    platform: Platform,
    body: &Map<String, Value>,
) -> Checked<(ChatId, Option<MessageId>)> {
    let chat = send_target(platform, body, "chatId")?;
    let message = optional_text(body, "idMessage")?
        .filter(|id| !id.is_empty())
        .map(MessageId::from);
    Ok((chat, message))
}

/// A required, non-blank string at `field`.
fn required_text(body: &Map<String, Value>, field: &str) -> Checked<String> {
    match body.get(field) {
        None | Some(Value::Null) => Err(invalid(format!("{field} is required"))),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Err(invalid(format!("{field} must not be empty")))
        }
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(invalid(format!("{field} must be a string"))),
    }
}

/// An optional string at `field`.
fn optional_text(body: &Map<String, Value>, field: &str) -> Checked<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(invalid(format!("{field} must be a string"))),
    }
}

/// An optional boolean at `field` (false when absent).
fn flag(body: &Map<String, Value>, field: &str) -> Checked<bool> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(_) => Err(invalid(format!("{field} must be true or false"))),
    }
}

/// A required number at `field` within ±`bound`.
fn coordinate(body: &Map<String, Value>, field: &str, bound: f64) -> Checked<f64> {
    match body.get(field) {
        None | Some(Value::Null) => Err(invalid(format!("{field} is required"))),
        Some(Value::Number(number)) => number
            .as_f64()
            .filter(|value| (-bound..=bound).contains(value))
            .ok_or_else(|| invalid(format!("{field} must be from -{bound} to {bound}"))),
        Some(_) => Err(invalid(format!("{field} must be a number"))),
    }
}

/// A file name with an extension (`menu.pdf`), without path separators.
fn file_name(name: String) -> Checked<String> {
    let has_extension = name
        .rsplit_once('.')
        .is_some_and(|(stem, extension)| !stem.is_empty() && !extension.is_empty());
    if !has_extension || name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "fileName must be a file name with an extension, is {name:?}"
        )));
    }
    Ok(name)
}

/// A caption within the platform's text length.
fn caption(platform: Platform, caption: Option<String>) -> Checked<Option<String>> {
    let max = platform.max_text_chars();
    match caption {
        Some(text) if text.chars().count() > max => Err(invalid(format!(
            "caption must be at most {max} characters, has {}",
            text.chars().count()
        ))),
        caption => Ok(caption.filter(|text| !text.is_empty())),
    }
}

/// Whether `url` is an absolute http or https URL.
fn is_web_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn methods_are_found_in_any_case_where_the_messenger_has_them() {
        assert_eq!(
            ReplyMethod::of(Platform::WhatsApp, "sendpoll"),
            Some(ReplyMethod::SendPoll)
        );
        assert_eq!(ReplyMethod::SendPoll.name(), "sendPoll");
        assert!(ReplyMethod::of(Platform::WhatsApp, "sendInteractiveButtonsReply").is_some());
        assert!(ReplyMethod::of(Platform::Max, "sendInteractiveButtons").is_none());
        assert!(ReplyMethod::of(Platform::Telegram, "sendInteractiveButtonsReply").is_none());
        assert!(ReplyMethod::of(Platform::Max, "readChat").is_none());
        assert!(ReplyMethod::of(Platform::Telegram, "readChat").is_none());
        assert!(ReplyMethod::of(Platform::Telegram, "sendTyping").is_none());
        assert!(ReplyMethod::of(Platform::Max, "sendTyping").is_some());
        assert!(ReplyMethod::of(Platform::WhatsApp, "sendMessage").is_none());
    }

    #[test]
    fn file_names_need_an_extension_and_no_path() {
        assert!(file_name("menu.pdf".into()).is_ok());
        for name in [
            "menu",
            ".pdf",
            "menu.",
            "../menu.pdf",
            "a\\b.pdf",
            "a\nb.pdf",
        ] {
            assert!(file_name(name.into()).is_err(), "{name:?}");
        }
    }

    #[test]
    fn telegram_quizzes_name_a_correct_option() {
        let poll = |extra: Value| {
            let mut value = json!({"chatId": "-1001234567890", "message": "Q",
                                   "options": ["a", "b"]});
            for (key, field) in extra.as_object().unwrap() {
                value[key] = field.clone();
            }
            send_poll(Platform::Telegram, &body(value))
        };
        assert!(poll(json!({})).is_ok());
        assert!(poll(json!({"type": "quiz", "correctOptionId": 1})).is_ok());
        assert!(poll(json!({"type": "quiz", "correctOptionId": 2})).is_err());
        assert!(poll(json!({"type": "quiz"})).is_err());
        assert!(poll(json!({"type": "survey"})).is_err());
    }

    #[test]
    fn telegram_options_are_plain_names_elsewhere_objects() {
        let poll = |platform, chat: &str| {
            send_poll(
                platform,
                &body(json!({"chatId": chat, "message": "Q", "options": ["a", "b"]})),
            )
        };
        let sent = poll(Platform::Telegram, "-1001234567890").unwrap();
        assert_eq!(sent.content.options, ["a", "b"]);
        assert!(poll(Platform::WhatsApp, "120363025555555555@g.us").is_err());
    }
}
