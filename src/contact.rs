//! What the gateways say about people: [`Contact`] (an entry of the instance's contact list),
//! [`ContactInfo`] (one chat's profile) and [`ContactCard`] (what a bot shares in a chat).

use crate::id::ChatId;

/// One entry of the instance's contact list, as `getContacts` (GREEN-API) or `contacts`
/// (Z-API) returns it.
///
/// Names may be empty: the gateways leave them blank when the person hid them or was never
/// saved. [`display_name`](Contact::display_name) picks the best one there is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Contact {
    /// The contact's chat.
    pub chat_id: ChatId,
    /// The name the person gave themselves (profile name); may be empty.
    pub name: Box<str>,
    /// The name saved in the instance's phone book; may be empty.
    pub contact_name: Box<str>,
    /// The phone number, digits only, when the gateway tells it.
    pub phone: Option<Box<str>>,
    /// Whether the gateway said the person hides their phone number (GREEN-API MAX and
    /// Telegram `phoneNumber: 0`): such a contact cannot be shared as a card by phone number.
    pub phone_hidden: bool,
    /// The Telegram username, without the `@` (`ivan_tsarevich`), when the account has one.
    pub username: Option<Box<str>>,
    /// A person, a bot, or a chat of many.
    pub kind: ContactKind,
}

/// What kind of account or chat an id names: a person, a bot, or a chat of many (a group, a
/// supergroup, a channel).
///
/// GREEN-API Telegram tells it for each contact (`getContacts` `type`) and for a message's
/// sender and chat (`senderData.senderType`, `senderData.chatType`, see
/// [`Message::sender_kind`](crate::Message::sender_kind)); the other gateways tell persons from
/// groups in their contact lists only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerKind {
    /// A person's account; a private chat with one.
    User,
    /// A bot's account; a private chat with one.
    Bot,
    /// A group chat.
    Group,
    /// A Telegram supergroup: a large group (its id starts with `-100`).
    Supergroup,
    /// A Telegram channel: a chat its admins broadcast to.
    Channel,
}

/// The kind of a [`Contact`]: the kinds of [`PeerKind`], under the name the contact list has
/// always used.
pub type ContactKind = PeerKind;

impl PeerKind {
    /// Every kind, in the order [`name`](PeerKind::name) lists them.
    const ALL: [PeerKind; 5] = [
        PeerKind::User,
        PeerKind::Bot,
        PeerKind::Group,
        PeerKind::Supergroup,
        PeerKind::Channel,
    ];

    /// `user`, `bot`, `group`, `supergroup` or `channel`: GREEN-API's word for the kind.
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::User => "user",
            PeerKind::Bot => "bot",
            PeerKind::Group => "group",
            PeerKind::Supergroup => "supergroup",
            PeerKind::Channel => "channel",
        }
    }

    /// The kind [`name`](PeerKind::name) calls `name`; `None` for another word.
    pub(crate) fn of_name(name: &str) -> Option<PeerKind> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether it is a chat of many — a group, a supergroup or a channel — rather than one
    /// account (a person or a bot).
    pub fn is_group(self) -> bool {
        matches!(
            self,
            PeerKind::Group | PeerKind::Supergroup | PeerKind::Channel
        )
    }
}

impl Contact {
    /// Builds a contact; the fields a gateway does not know stay empty.
    pub fn new(chat_id: impl Into<ChatId>, kind: ContactKind) -> Self {
        Self {
            chat_id: chat_id.into(),
            name: Box::default(),
            contact_name: Box::default(),
            phone: None,
            phone_hidden: false,
            username: None,
            kind,
        }
    }

    /// The phone-book name, else the profile name, else the phone number, else the chat id.
    pub fn display_name(&self) -> &str {
        best_name(
            &self.contact_name,
            &self.name,
            self.phone.as_deref(),
            &self.chat_id,
        )
    }

    /// A contact card that shares this contact, named by [`display_name`](Contact::display_name).
    /// A contact that hides its phone gives a card that says so
    /// ([`ContactCard::phone_hidden`]).
    pub fn to_card(&self) -> ContactCard {
        let mut card = ContactCard::new().chat_id(self.chat_id.clone());
        if let Some(phone) = &self.phone {
            card = card.phone(phone.clone());
        }
        card.phone_hidden = self.phone.is_none() && self.phone_hidden;
        card.first_name(self.display_name())
    }
}

/// One chat's profile, as `getContactInfo` (GREEN-API) or `contacts/{phone}` (Z-API) returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContactInfo {
    /// The chat the profile belongs to.
    pub chat_id: ChatId,
    /// The name the person gave themselves; may be empty.
    pub name: String,
    /// The name saved in the instance's phone book; may be empty.
    pub contact_name: String,
    /// The phone number, digits only, when the gateway tells it.
    pub phone: Option<String>,
    /// The Telegram username, without the `@`, when the account has one.
    pub username: Option<String>,
    /// A link to the profile picture.
    pub avatar: Option<String>,
    /// The profile's e-mail address (WhatsApp Business).
    pub email: Option<String>,
    /// The profile's description or "about" text.
    pub description: Option<String>,
    /// Whether the account is a business account.
    pub is_business: bool,
}

impl ContactInfo {
    /// Builds a profile; the fields a gateway does not know stay empty.
    pub fn new(chat_id: impl Into<ChatId>) -> Self {
        Self {
            chat_id: chat_id.into(),
            name: String::new(),
            contact_name: String::new(),
            phone: None,
            username: None,
            avatar: None,
            email: None,
            description: None,
            is_business: false,
        }
    }

    /// The phone-book name, else the profile name, else the phone number, else the chat id.
    pub fn display_name(&self) -> &str {
        best_name(
            &self.contact_name,
            &self.name,
            self.phone.as_deref(),
            &self.chat_id,
        )
    }
}

/// A contact card to share in a chat.
///
/// Each gateway needs different parts of it: GREEN-API WhatsApp needs a phone number (taken from
/// a `@c.us` chat id when none is set) and at least one name; GREEN-API Telegram a phone number
/// and at least one name (a middle name joins the first name: Telegram has none); GREEN-API MAX
/// needs the chat id of a contact already in the instance's contact list; Z-API needs a name
/// and a phone number.
/// A card that the chosen gateway cannot express is refused with a
/// [`ValidationError`](crate::ValidationError) before anything is sent.
///
/// ```
/// use hookbot::ContactCard;
///
/// let card = ContactCard::new()
///     .phone("79001234568")
///     .first_name("Артем")
///     .last_name("Евпаторийский")
///     .company("Велосипед");
/// assert_eq!(card.full_name(), "Артем Евпаторийский");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContactCard {
    /// The phone number, digits only, country code first, no `+`.
    pub phone: Option<String>,
    /// The contact's chat (required by GREEN-API MAX).
    pub chat_id: Option<ChatId>,
    /// First name.
    pub first_name: Option<String>,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// A short description (Z-API `contactBusinessDescription`).
    pub description: Option<String>,
    /// Whether the contact hides its phone number ([`Contact::to_card`] sets it from the
    /// gateway's word). A gateway that shares cards by phone refuses a card without a phone
    /// that says so with [`Rule::PhoneHidden`](crate::Rule::PhoneHidden), before sending.
    pub phone_hidden: bool,
}

impl ContactCard {
    /// An empty card; add at least a phone or a chat id, and a name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the phone number: digits only, country code first, no `+`.
    #[must_use]
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// Sets the contact's chat id.
    #[must_use]
    pub fn chat_id(mut self, chat_id: impl Into<ChatId>) -> Self {
        self.chat_id = Some(chat_id.into());
        self
    }

    /// Sets the first name.
    #[must_use]
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.first_name = Some(name.into());
        self
    }

    /// Sets the middle name.
    #[must_use]
    pub fn middle_name(mut self, name: impl Into<String>) -> Self {
        self.middle_name = Some(name.into());
        self
    }

    /// Sets the last name.
    #[must_use]
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.last_name = Some(name.into());
        self
    }

    /// Sets the company.
    #[must_use]
    pub fn company(mut self, company: impl Into<String>) -> Self {
        self.company = Some(company.into());
        self
    }

    /// Sets a short description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// First, middle and last name joined by spaces, blank parts left out.
    pub fn full_name(&self) -> String {
        [&self.first_name, &self.middle_name, &self.last_name]
            .into_iter()
            .filter_map(|part| non_blank(part.as_deref()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl From<&Contact> for ContactCard {
    fn from(contact: &Contact) -> Self {
        contact.to_card()
    }
}

impl From<Contact> for ContactCard {
    fn from(contact: Contact) -> Self {
        contact.to_card()
    }
}

/// The first of the phone-book name, the profile name, the phone number and the chat id that
/// is not blank.
fn best_name<'a>(
    contact_name: &'a str,
    name: &'a str,
    phone: Option<&'a str>,
    chat_id: &'a ChatId,
) -> &'a str {
    [contact_name, name]
        .into_iter()
        .map(str::trim)
        .find(|name| !name.is_empty())
        .or(phone)
        .unwrap_or(chat_id.as_str())
}

/// `Some(text)` unless the text is absent or only white space.
pub(crate) fn non_blank(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !text.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_falls_back_from_contact_name_to_name_to_phone_to_chat_id() {
        let mut contact = Contact::new("79001234567@c.us", ContactKind::User);
        assert_eq!(contact.display_name(), "79001234567@c.us");
        contact.phone = Some("79001234567".into());
        assert_eq!(contact.display_name(), "79001234567");
        contact.name = "Вася".into();
        assert_eq!(contact.display_name(), "Вася");
        contact.contact_name = "  ".into();
        assert_eq!(contact.display_name(), "Вася");
        contact.contact_name = "Василий Петров".into();
        assert_eq!(contact.display_name(), "Василий Петров");
    }

    #[test]
    fn card_from_contact_keeps_chat_phone_and_best_name() {
        let mut contact = Contact::new("10000000", ContactKind::User);
        contact.name = "Василиса".into();
        contact.contact_name = "Василиса Премудрая".into();
        contact.phone = Some("79876543210".into());
        let card = ContactCard::from(&contact);
        assert_eq!(card.chat_id, Some(ChatId::from("10000000")));
        assert_eq!(card.phone.as_deref(), Some("79876543210"));
        assert_eq!(card.first_name.as_deref(), Some("Василиса Премудрая"));
    }

    #[test]
    fn card_of_a_contact_hiding_its_phone_says_so() {
        let mut contact = Contact::new("10000002", ContactKind::User);
        contact.contact_name = "Царевна Лягушка".into();
        contact.phone_hidden = true;
        let card = contact.to_card();
        assert!(card.phone_hidden && card.phone.is_none());
        contact.phone = Some("79998887766".into());
        assert!(!contact.to_card().phone_hidden);
    }

    #[test]
    fn peer_kinds_read_back_from_their_names() {
        for kind in PeerKind::ALL {
            assert_eq!(PeerKind::of_name(kind.name()), Some(kind));
        }
        assert_eq!(PeerKind::of_name("User"), None);
        assert_eq!(PeerKind::of_name("private"), None);
        assert!(PeerKind::Supergroup.is_group() && PeerKind::Channel.is_group());
        assert!(!PeerKind::Bot.is_group() && !PeerKind::User.is_group());
    }

    #[test]
    fn full_name_skips_blank_parts() {
        let card = ContactCard::new()
            .first_name("Anna")
            .middle_name(" ")
            .last_name("Lee");
        assert_eq!(card.full_name(), "Anna Lee");
    }
}
