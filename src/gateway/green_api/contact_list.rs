//! The `getContacts` answer read straight from its bytes into [`Contact`]s: no
//! `serde_json::Value` tree per entry, strings borrowed from the body until a contact keeps them.
//!
//! The rules are those of one entry read on its own: an entry that is not an object, or whose
//! `id`, `chatId`, `name`, `contactName` or `type` is neither text nor `null`, is skipped (and
//! logged at debug level), as is one without a chat id; the rest of the list is kept.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::MapAccess;
use serde_json::Value;

use super::contact_from_fields;
use crate::contact::Contact;
use crate::gateway::contact_entry::{self, EntryReader, FieldKey, Loose, NotText};

/// One `getContacts` entry: its contact, or `None` when the entry is skipped.
pub(super) type ListedContact = contact_entry::ListedContact<GetContactsEntry>;

/// The fields of an entry the contact is made of, as the answer has them.
#[derive(Default)]
pub(super) struct EntryFields<'de> {
    /// WhatsApp's chat id.
    pub(super) id: Option<String>,
    /// MAX's and Telegram's chat id.
    pub(super) chat_id: Option<String>,
    /// The profile name.
    pub(super) name: Option<String>,
    /// The phone-book name.
    pub(super) contact_name: Option<String>,
    /// The kind (`type`), borrowed from the body when it has no escapes.
    pub(super) kind: Option<Cow<'de, str>>,
    /// `phoneNumber`, kept only when a number or text (what the rules read).
    pub(super) phone_number: Option<Value>,
    /// `username`, kept only when a number or text.
    pub(super) username: Option<Value>,
}

/// The entry's keys the contact is made of; every other key is read past.
#[derive(Deserialize, Clone, Copy)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Field {
    Id,
    ChatId,
    Name,
    ContactName,
    #[serde(rename = "type")]
    Kind,
    PhoneNumber,
    Username,
    #[serde(other)]
    Other,
}

/// How a `getContacts` entry that is an object is read.
pub(super) struct GetContactsEntry;

impl EntryReader for GetContactsEntry {
    const LIST: &'static str = "getContacts";

    fn read_object<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Contact>, A::Error> {
        let mut fields = EntryFields::default();
        if !contact_entry::read_fields(map, |field: Field, value| fields.set(field, value))? {
            tracing::debug!("getContacts entry skipped: a text field is not text");
            return Ok(None);
        }
        Ok(contact_from_fields(fields))
    }
}

impl FieldKey for Field {
    fn position(self) -> Option<u8> {
        match self {
            Field::Other => None,
            field => Some(field as u8),
        }
    }
}

impl<'de> EntryFields<'de> {
    /// Keeps one field's value (the last of a repeated key wins); `Err` when a text field is
    /// not text.
    fn set(&mut self, field: Field, value: Loose<'de>) -> Result<(), NotText> {
        match field {
            Field::Id => self.id = value.text()?,
            Field::ChatId => self.chat_id = value.text()?,
            Field::Name => self.name = value.text()?,
            Field::ContactName => self.contact_name = value.text()?,
            Field::Kind => self.kind = value.borrowed_text()?,
            Field::PhoneNumber => self.phone_number = value.scalar(),
            Field::Username => self.username = value.scalar(),
            Field::Other => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The parse this module replaced, kept as the oracle: each entry read into a `Value`, then
    /// into a struct of text fields and loose phone and username.
    fn through_values(body: &str) -> Vec<Contact> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Entry {
            id: Option<String>,
            chat_id: Option<String>,
            name: Option<String>,
            contact_name: Option<String>,
            #[serde(rename = "type")]
            kind: Option<String>,
            phone_number: Option<Value>,
            username: Option<Value>,
        }
        let entries: Vec<Value> = serde_json::from_str(body).expect("a list");
        entries
            .into_iter()
            .filter_map(|entry| serde_json::from_value::<Entry>(entry).ok())
            .filter_map(|entry| {
                contact_from_fields(EntryFields {
                    id: entry.id,
                    chat_id: entry.chat_id,
                    name: entry.name,
                    contact_name: entry.contact_name,
                    kind: entry.kind.map(Cow::Owned),
                    phone_number: entry.phone_number,
                    username: entry.username,
                })
            })
            .collect()
    }

    fn direct(body: &str) -> Vec<Contact> {
        let entries: Vec<ListedContact> = serde_json::from_str(body).expect("a list");
        entries.into_iter().filter_map(|entry| entry.0).collect()
    }

    /// The answer examples of `/work/shared/reference/` (Telegram's GetContacts page, the
    /// WhatsApp and MAX shapes of gateways.md), and entries each rule skips or bends.
    const FIXTURES: &[&str] = &[
        r#"[{"chatId":"10000000","name":"Василиса","contactName":"Василиса Премудрая","type":"user","phoneNumber":79876543210},
            {"chatId":"10000001","name":"Иван","contactName":"Иван Царевич","type":"user","phoneNumber":79998887766},
            {"chatId":"10000002","name":"Лягушка","contactName":"Царевна Лягушка","type":"user","phoneNumber":0}]"#,
        r#"[{"id":"79001234567@c.us","name":"Ivan","contactName":"Ivan T","type":"user"},
            {"id":"120363025343218750@g.us","name":"Family","contactName":"","type":"group"}]"#,
        r#"[{"chatId":"10000000","name":"A","contactName":"B","type":"user","phoneNumber":0,"username":"@ivan_tsarevich"},
            {"chatId":"-1001234567890","name":"Chan","type":"channel","phoneNumber":0,"username":7}]"#,
        r#"[null, 5, "x", true, [1,2], {}, {"name":"no id"}, {"id":"1@c.us","name":5},
            {"id":"2@c.us","type":["user"]}, {"id":"3@c.us","phoneNumber":"000"},
            {"id":"4@c.us","phoneNumber":-5}, {"id":"5@c.us","phoneNumber":7.5e10},
            {"id":"6@c.us","phoneNumber":"79001234567","extra":{"deep":[{"a":null}]}},
            {"id":"7@c.us","name":"first","name":"second"}, {"id":"8@c.us","name":1,"name":"fixed"},
            {"id":"9@c.us","name":"esc\"aped \u0416","type":"b\u006ft"},
            {"chatId":null,"id":"10@c.us","contactName":null,"username":{"a":1},"phoneNumber":[0]}]"#,
    ];

    #[test]
    fn the_direct_parse_equals_the_value_parse_on_the_reference_examples() {
        for body in FIXTURES {
            assert_eq!(direct(body), through_values(body), "{body}");
        }
        assert_eq!(direct(FIXTURES[0]).len(), 3);
        assert!(direct(FIXTURES[0])[2].phone_hidden);
    }

    #[test]
    fn a_body_that_is_not_a_list_is_an_error() {
        assert!(serde_json::from_str::<Vec<ListedContact>>(r#"{"id":"1@c.us"}"#).is_err());
        assert!(serde_json::from_str::<Vec<ListedContact>>(r#"[{"id":"1@c.us""#).is_err());
    }

    proptest! {
        #[test]
        fn the_direct_parse_equals_the_value_parse_on_any_entries(
            entries in contact_entry::any_entries(
                vec!["id", "chatId", "name", "contactName", "type", "phoneNumber", "username", "other"],
                prop_oneof![
                    Just("0".to_owned()),
                    Just("@ivan".to_owned()),
                    Just("group".to_owned()),
                    Just("-1001234567890".to_owned()),
                    "[0-9]{0,12}(@c\\.us|@g\\.us)?",
                    "\\PC{0,8}",
                ]
                .boxed(),
                "chatId",
            )
        ) {
            let body = contact_entry::list_body(&entries);
            prop_assert_eq!(direct(&body), through_values(&body), "{}", body);
        }
    }
}
