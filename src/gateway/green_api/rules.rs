//! GREEN-API's documented rules, one row per messenger: text limits, chat-id shapes, how a
//! contact card is shared, which options each send takes.
//!
//! The one home of these facts: the [`GreenApi`](super::GreenApi) client checks a request
//! against its messenger's row before sending it, and the sandbox checks what it receives
//! against the same row. A new messenger is one more [`Platform`] and one more row.
//!
//! ```
//! use hookbot::sandbox::Platform;
//!
//! assert_eq!(Platform::Max.max_text_chars(), 4000);
//! assert!(Platform::Max.is_group("-10000000000000"));
//! assert!(Platform::WhatsApp.is_person("79001234567@c.us"));
//! assert_eq!(Platform::Telegram.max_text_chars(), 4096);
//! assert!(Platform::Telegram.is_group("-1001234567890"));
//! ```

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use crate::error::ValidationError;
use crate::gateway::validate::{self, is_digits};
use crate::gateway::{Capabilities, GatewayKind, PollLimits};
use crate::id::ChatId;

/// GREEN-API's limit on a request's JSON body, on every messenger: a larger one is answered
/// 500 `request entity too large`.
pub(crate) const MAX_BODY_BYTES: usize = 100 * 1024;
/// sendFileByUpload's limit on a file, on every messenger: 100 MB.
pub(crate) const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// `typingTime` bounds on every messenger, in milliseconds.
pub(crate) const TYPING_TIME_MS: (u64, u64) = (1000, 20000);
/// receiveNotification's `receiveTimeout` bounds, in seconds.
pub(crate) const RECEIVE_TIMEOUT_S: (u64, u64) = (5, 60);
/// receiveNotification's `receiveTimeout` when the request gives none, in seconds.
pub(crate) const DEFAULT_RECEIVE_TIMEOUT_S: u64 = 5;

/// Which GREEN-API messenger an instance runs, each with its own rules (chat-id shapes, text
/// limits, contact cards): what a [`GreenApi`](crate::gateway::GreenApi) client checks before
/// sending, and what a [`Sandbox`](crate::sandbox::Sandbox) emulates (answering both path
/// forms, `/waInstance…` and `/v3/waInstance…`, whichever it is).
///
/// ```
/// use hookbot::sandbox::Platform;
///
/// assert_eq!("telegram".parse(), Ok(Platform::Telegram));
/// assert_eq!(Platform::Telegram.messenger(), "Telegram");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Platform {
    /// WhatsApp: chat ids `79001234567@c.us` and `120363043968066561@g.us`, texts up to 20000
    /// characters, contact cards by phone number.
    #[default]
    WhatsApp,
    /// MAX (v3): numeric chat ids (negative for groups), texts up to 4000 characters, contact
    /// cards by the chat id of a contact in the instance's contact list.
    Max,
    /// Telegram: numeric chat ids (negative for groups, supergroups and channels; sends also
    /// take a phone number as `digits@c.us`), texts up to 4096 characters, contact cards by
    /// phone number, quoting, and a kind of typing indicator.
    Telegram,
}

/// One messenger's row of the table: what its requests must keep.
#[derive(Debug)]
pub(crate) struct Rules {
    /// The gateway kind of the messenger's clients and notifications.
    pub(crate) kind: GatewayKind,
    /// The platform's name in `HOOKBOT_SANDBOX_PLATFORM` and the sandbox's API.
    pub(crate) name: &'static str,
    /// The messenger's name, as people write it.
    pub(crate) messenger: &'static str,
    /// `instanceData.typeInstance` in the messenger's notifications.
    pub(crate) type_instance: &'static str,
    /// The path segment before `waInstance{id}` in the messenger's URLs, if any.
    pub(crate) path_prefix: Option<&'static str>,
    /// The longest text message (sendMessage `message`), in characters.
    pub(crate) max_text_chars: usize,
    /// How the messenger writes chat ids.
    pub(crate) chat_ids: ChatIds,
    /// Whether sends also take a phone number as WhatsApp writes a person, `digits@c.us`
    /// (Telegram, for compatibility); look-ups never do.
    pub(crate) phone_chats: bool,
    /// The chat-id shapes, as a validation error names them.
    pub(crate) chat_id_shape: &'static str,
    /// How sendContact names the contact it shares.
    pub(crate) cards: Cards,
    /// Why a card without what [`cards`](Rules::cards) needs cannot be sent.
    pub(crate) card_needs: &'static str,
    /// Whether sendMessage takes `quotedMessageId`.
    pub(crate) quote_text: bool,
    /// Whether sendContact takes `quotedMessageId`.
    pub(crate) quote_contact: bool,
    /// Whether sendContact takes `typingTime` (sendMessage always does).
    pub(crate) typing_contact: bool,
    /// Whether sendMessage takes `typingType`, the kind of typing indicator.
    pub(crate) typing_type: bool,
    /// Whether sendFileByUrl, sendLocation and sendPoll take `quotedMessageId`.
    pub(crate) quote_media: bool,
    /// What sendPoll takes, and how it writes the options.
    pub(crate) polls: PollLimits,
    /// How sendPoll writes the options.
    pub(crate) poll_options: PollOptions,
    /// Whether sendInteractiveButtons and sendInteractiveButtonsReply exist (beta).
    pub(crate) buttons: bool,
    /// downloadFile calls per second.
    pub(crate) downloads_per_second: NonZeroU32,
    /// Whether sendTyping exists.
    pub(crate) send_typing: bool,
    /// Whether readChat exists.
    pub(crate) read_chat: bool,
    /// Whether forwardMessages exists.
    pub(crate) forward_messages: bool,
}

/// The longest caption under a file, in characters, on every messenger: Telegram's own limit,
/// and the length above which WhatsApp captions have been reported to fail.
pub(crate) const MAX_CAPTION_CHARS: usize = 1024;

/// How sendPoll writes its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollOptions {
    /// `options: [{optionName}]`, `multipleAnswers` (WhatsApp, MAX).
    Named,
    /// `options: ["..."]`, `type: "regular"` (Telegram).
    Plain,
}

/// How a messenger writes chat ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChatIds {
    /// WhatsApp's: a person `digits@c.us`, a group `digits@g.us` (or the older
    /// `digits-digits@g.us`), a privacy id `digits@lid`.
    WhatsApp,
    /// Numbers: a person's positive (`10000000`), a group's negative (`-10000000000000`).
    Signed,
}

/// How sendContact names the contact it shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cards {
    /// `contact: {phoneContact, firstName?, middleName?, lastName?, company?}`: an integer
    /// phone number of `digits` (min, max) digits, and at least one of the names.
    ByPhone {
        /// The fewest and the most digits of `phoneContact`.
        digits: (usize, usize),
        /// Whether `contact` takes `middleName`; without it, a middle name follows the first
        /// name in `firstName`.
        middle_name: bool,
    },
    /// `contact: {chatId}`: a person in the instance's contact list.
    ByChatId,
}

/// GREEN-API for WhatsApp.
static WHATSAPP: Rules = Rules {
    kind: GatewayKind::GreenApiWhatsApp,
    name: "whatsapp",
    messenger: "WhatsApp",
    type_instance: "whatsapp",
    path_prefix: None,
    max_text_chars: 20000,
    chat_ids: ChatIds::WhatsApp,
    phone_chats: false,
    chat_id_shape: "a WhatsApp chat id: digits@c.us, digits@g.us or digits@lid",
    cards: Cards::ByPhone {
        digits: (11, 12),
        middle_name: true,
    },
    card_needs: "GREEN-API WhatsApp shares a contact by phone number",
    quote_text: true,
    quote_contact: true,
    typing_contact: false,
    typing_type: false,
    quote_media: true,
    polls: PollLimits {
        max_question_chars: 255,
        options: (2, 12),
        multiple_answers: true,
        groups_only: false,
    },
    poll_options: PollOptions::Named,
    buttons: true,
    downloads_per_second: NonZeroU32::new(5).expect("5 is not zero"),
    send_typing: true,
    read_chat: true,
    forward_messages: true,
};

/// GREEN-API for MAX: quoting is not documented for it, so it is never sent.
static MAX: Rules = Rules {
    kind: GatewayKind::GreenApiMax,
    name: "max",
    messenger: "MAX",
    type_instance: "v3",
    path_prefix: Some("v3"),
    max_text_chars: 4000,
    chat_ids: ChatIds::Signed,
    phone_chats: false,
    chat_id_shape: "a MAX chat id: digits, negative for a group",
    cards: Cards::ByChatId,
    card_needs: "GREEN-API MAX shares a contact by its chat id",
    quote_text: false,
    quote_contact: false,
    typing_contact: true,
    typing_type: false,
    quote_media: false,
    // MAX documents `allowToChangeAnswer` on polls, not `multipleAnswers`.
    polls: PollLimits {
        max_question_chars: 200,
        options: (2, 12),
        multiple_answers: false,
        groups_only: false,
    },
    poll_options: PollOptions::Named,
    // sendTyping and ForwardMessages are documented for MAX; readChat and buttons are not.
    buttons: false,
    downloads_per_second: NonZeroU32::new(1).expect("1 is not zero"),
    send_typing: true,
    read_chat: false,
    forward_messages: true,
};

/// GREEN-API for Telegram: plain paths; Telegram's numeric chat ids, and a phone number as
/// `digits@c.us` where a message is sent to one; contact cards by phone number as on WhatsApp
/// (`{phoneContact, firstName?, lastName?, company?}`: no middle name; a phone number of 7 to
/// 15 digits, E.164's range, as GREEN-API documents no bound for Telegram); `typingType` on
/// texts. Its rate limits are WhatsApp's for every method hookbot calls (the default
/// [`RateLimits`](crate::gateway::RateLimits)): sendContact 50/s, getContacts and
/// getContactInfo 1/s each, sendPoll 50/s, downloadFile 5/s.
static TELEGRAM: Rules = Rules {
    kind: GatewayKind::GreenApiTelegram,
    name: "telegram",
    messenger: "Telegram",
    type_instance: "telegram",
    path_prefix: None,
    max_text_chars: 4096,
    chat_ids: ChatIds::Signed,
    phone_chats: true,
    chat_id_shape: "a Telegram chat id: digits, negative for a group; sends also take a phone number as digits@c.us",
    cards: Cards::ByPhone {
        digits: (7, 15),
        middle_name: false,
    },
    card_needs: "GREEN-API Telegram shares a contact by phone number",
    quote_text: true,
    quote_contact: true,
    typing_contact: false,
    typing_type: true,
    quote_media: true,
    // Telegram's sendPoll: groups only, plain-string options, no multiple answers documented.
    polls: PollLimits {
        max_question_chars: 255,
        options: (2, 12),
        multiple_answers: false,
        groups_only: true,
    },
    poll_options: PollOptions::Plain,
    // Buttons, sendTyping, readChat and forwardMessages are not documented for Telegram.
    buttons: false,
    downloads_per_second: NonZeroU32::new(5).expect("5 is not zero"),
    send_typing: false,
    read_chat: false,
    forward_messages: false,
};

impl Platform {
    /// Every messenger, in the order notifications are matched against them.
    pub const ALL: [Platform; 3] = [Platform::WhatsApp, Platform::Max, Platform::Telegram];

    /// The messenger's row of the table.
    pub(crate) fn rules(self) -> &'static Rules {
        match self {
            Platform::WhatsApp => &WHATSAPP,
            Platform::Max => &MAX,
            Platform::Telegram => &TELEGRAM,
        }
    }

    /// `whatsapp`, `max` or `telegram`: the platform's name in `HOOKBOT_SANDBOX_PLATFORM` and
    /// in the sandbox's `GET /sandbox/instance` (read back by [`str::parse`]).
    pub fn name(self) -> &'static str {
        self.rules().name
    }

    /// The messenger's name as people write it: `WhatsApp`, `MAX` or `Telegram`.
    pub fn messenger(self) -> &'static str {
        self.rules().messenger
    }

    /// The messenger whose notifications carry `instanceData.typeInstance` = `type_instance`.
    pub(crate) fn of_type_instance(type_instance: &str) -> Option<Platform> {
        Self::ALL
            .into_iter()
            .find(|platform| platform.rules().type_instance == type_instance)
    }

    /// The gateway kind a client of this platform uses.
    pub fn gateway_kind(self) -> GatewayKind {
        self.rules().kind
    }

    /// The longest text message, in characters: 20000 on WhatsApp, 4000 on MAX, 4096 on
    /// Telegram.
    pub fn max_text_chars(self) -> usize {
        self.rules().max_text_chars
    }

    /// Whether `id` is a person's chat id: `digits@c.us` on WhatsApp, positive digits on MAX
    /// and Telegram.
    pub fn is_person(self, id: &str) -> bool {
        self.rules().chat_ids.is_person(id)
    }

    /// Whether `id` is a group chat id: `digits@g.us` (or `digits-digits@g.us`) on WhatsApp,
    /// negative digits on MAX and Telegram.
    pub fn is_group(self, id: &str) -> bool {
        self.rules().chat_ids.is_group(id)
    }

    /// Whether `id` is any chat id of the platform (WhatsApp also accepts `digits@lid`).
    pub fn is_chat(self, id: &str) -> bool {
        self.rules().chat_ids.is_chat(id)
    }
}

impl FromStr for Platform {
    type Err = UnknownPlatform;

    /// The platform [`name`](Platform::name) calls `name`.
    fn from_str(name: &str) -> Result<Self, UnknownPlatform> {
        Self::ALL
            .into_iter()
            .find(|platform| platform.name() == name)
            .ok_or(UnknownPlatform)
    }
}

/// A name that is not one of the [platforms](Platform). Its message lists the names there
/// are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownPlatform;

impl std::error::Error for UnknownPlatform {}

impl fmt::Display for UnknownPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = Platform::ALL.map(Platform::name);
        write!(f, "must be one of {}", names.join(", "))
    }
}

impl Rules {
    /// What a client of the messenger can express.
    pub(crate) fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_text_chars: self.max_text_chars,
            quote_text: self.quote_text,
            quote_contact: self.quote_contact,
            typing_text: true,
            typing_kind: self.typing_type,
            typing_contact: self.typing_contact,
            delay: false,
            quote_media: self.quote_media,
            max_caption_chars: MAX_CAPTION_CHARS,
            polls: self.polls,
            buttons: self.buttons,
            typing: self.send_typing,
            mark_read: self.read_chat,
            forward: self.forward_messages,
        }
    }

    /// Whether a message can be sent to `id`: one of the messenger's chat ids, or where the
    /// messenger takes one, a phone number as `digits@c.us`.
    pub(crate) fn is_send_target(&self, id: &str) -> bool {
        self.chat_ids.is_chat(id) || (self.phone_chats && whatsapp_phone(id).is_some())
    }

    /// Checks that a message can be sent to `chat` (see [`is_send_target`](Rules::is_send_target)).
    pub(crate) fn check_chat(&self, field: &'static str, chat: &ChatId) -> Checked {
        validate::chat_id(
            field,
            chat,
            |id| self.is_send_target(id),
            self.chat_id_shape,
        )
    }

    /// Checks that `chat` is a chat id of the messenger, and a person's rather than a group's.
    pub(crate) fn check_individual_chat(&self, field: &'static str, chat: &ChatId) -> Checked {
        validate::chat_id(
            field,
            chat,
            |id| self.chat_ids.is_chat(id),
            self.chat_id_shape,
        )?;
        validate::individual_chat(field, chat)
    }
}

/// The outcome of a check: nothing, or the rule broken.
type Checked = Result<(), ValidationError>;

impl ChatIds {
    /// Whether `id` is a person's chat id.
    pub(crate) fn is_person(self, id: &str) -> bool {
        match self {
            ChatIds::WhatsApp => whatsapp_phone(id).is_some(),
            ChatIds::Signed => is_digits(id),
        }
    }

    /// Whether `id` is a group's chat id.
    pub(crate) fn is_group(self, id: &str) -> bool {
        match self {
            ChatIds::WhatsApp => id.strip_suffix("@g.us").is_some_and(is_whatsapp_group),
            ChatIds::Signed => id.strip_prefix('-').is_some_and(is_digits),
        }
    }

    /// Whether `id` is any chat id: a person's, a group's, or (WhatsApp) a privacy id.
    pub(crate) fn is_chat(self, id: &str) -> bool {
        let privacy_id =
            self == ChatIds::WhatsApp && id.strip_suffix("@lid").is_some_and(is_digits);
        self.is_person(id) || self.is_group(id) || privacy_id
    }

    /// The shape of a person's chat id, for error messages.
    pub(crate) fn person_shape(self) -> &'static str {
        match self {
            ChatIds::WhatsApp => "digits@c.us",
            ChatIds::Signed => "digits",
        }
    }

    /// The shape of a group's chat id, for error messages.
    pub(crate) fn group_shape(self) -> &'static str {
        match self {
            ChatIds::WhatsApp => "digits@g.us",
            ChatIds::Signed => "-digits",
        }
    }
}

/// The phone number of a WhatsApp person's chat id `digits@c.us`; `None` for any other id.
pub(crate) fn whatsapp_phone(id: &str) -> Option<&str> {
    id.strip_suffix("@c.us").filter(|phone| is_digits(phone))
}

/// `digits` or `digits-digits`: a WhatsApp group id without its `@g.us`.
fn is_whatsapp_group(group: &str) -> bool {
    match group.split_once('-') {
        Some((owner, created)) => is_digits(owner) && is_digits(created),
        None => is_digits(group),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Rule;

    #[test]
    fn whatsapp_chat_ids() {
        let whatsapp = Platform::WhatsApp;
        for id in [
            "79001234567@c.us",
            "120363043968066561@g.us",
            "79001234567-1479621234@g.us",
            "120650379300963@lid",
        ] {
            assert!(whatsapp.is_chat(id), "{id}");
        }
        for id in [
            "79001234567",
            "+79001234567@c.us",
            "@c.us",
            "7900@s.whatsapp.net",
            "10000000",
            "a@g.us",
            "1-2-3@g.us",
        ] {
            assert!(!whatsapp.is_chat(id), "{id}");
        }
        assert!(whatsapp.is_person("79001234567@c.us"));
        assert!(!whatsapp.is_person("120650379300963@lid"));
        assert!(whatsapp.is_group("79001234567-1479621234@g.us"));
        assert!(!whatsapp.is_group("79001234567@c.us"));
    }

    #[test]
    fn max_chat_ids() {
        let max = Platform::Max;
        assert!(max.is_person("10000000"));
        assert!(!max.is_person("-10000000"));
        assert!(max.is_group("-10000000000000"));
        assert!(!max.is_group("10000000"));
        for id in ["79001234567@c.us", "-", "", "--1", "1-2"] {
            assert!(!max.is_chat(id), "{id:?}");
        }
    }

    #[test]
    fn whatsapp_phone_is_the_digits_of_a_person_id() {
        assert_eq!(whatsapp_phone("79001234567@c.us"), Some("79001234567"));
        assert_eq!(whatsapp_phone("7900abc@c.us"), None);
        assert_eq!(whatsapp_phone("120363043968066561@g.us"), None);
        assert_eq!(whatsapp_phone("10000000"), None);
    }

    #[test]
    fn each_platform_is_found_by_its_type_instance() {
        for platform in Platform::ALL {
            let rules = platform.rules();
            assert_eq!(
                Platform::of_type_instance(rules.type_instance),
                Some(platform)
            );
        }
        assert_eq!(Platform::of_type_instance("telegraph"), None);
    }

    #[test]
    fn each_platform_is_found_by_its_name_and_has_its_own_kind() {
        for platform in Platform::ALL {
            assert_eq!(platform.name().parse(), Ok(platform));
        }
        let kinds: std::collections::HashSet<_> = Platform::ALL.map(Platform::gateway_kind).into();
        assert_eq!(kinds.len(), Platform::ALL.len());
        assert_eq!("Telegram".parse::<Platform>(), Err(UnknownPlatform));
        assert_eq!(
            UnknownPlatform.to_string(),
            "must be one of whatsapp, max, telegram"
        );
    }

    #[test]
    fn telegram_chat_ids_are_signed_and_sends_take_a_phone() {
        let telegram = Platform::Telegram;
        assert!(telegram.is_person("10000000"));
        assert!(telegram.is_group("-1001234567890"));
        assert!(!telegram.is_chat("79001234567@c.us"));
        let rules = telegram.rules();
        let phone = ChatId::from("79001234567@c.us");
        assert!(rules.check_chat("chat", &phone).is_ok());
        assert!(
            rules
                .check_chat("chat", &ChatId::from("-1001234567890"))
                .is_ok()
        );
        assert!(matches!(
            rules
                .check_individual_chat("chat", &phone)
                .unwrap_err()
                .rule,
            Rule::ChatIdShape { .. }
        ));
        assert!(
            rules
                .check_chat("chat", &ChatId::from("120363043968066561@g.us"))
                .is_err()
        );
        assert!(!Platform::Max.rules().is_send_target("79001234567@c.us"));
    }

    #[test]
    fn every_phone_contact_fits_an_integer() {
        for platform in Platform::ALL {
            if let Cards::ByPhone {
                digits: (min, max), ..
            } = platform.rules().cards
            {
                assert!(0 < min && min <= max && max <= 19, "{platform:?}");
            }
        }
    }

    #[test]
    fn checks_name_the_field_and_the_shapes() {
        let rules = Platform::Max.rules();
        let wrong = rules
            .check_chat("chat", &ChatId::from("79001234567@c.us"))
            .unwrap_err();
        assert_eq!(wrong.field, "chat");
        assert_eq!(
            wrong.rule,
            Rule::ChatIdShape {
                expected: "a MAX chat id: digits, negative for a group",
                actual: "79001234567@c.us".into(),
            }
        );
        let group = ChatId::from("-10000000000000");
        assert!(rules.check_chat("chat", &group).is_ok());
        assert_eq!(
            rules
                .check_individual_chat("chat", &group)
                .unwrap_err()
                .rule,
            Rule::IndividualChatOnly
        );
        assert!(
            rules
                .check_individual_chat("chat", &ChatId::from("10000000"))
                .is_ok()
        );
    }
}
