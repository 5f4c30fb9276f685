//! A `contacts` page read straight from its bytes into [`Contact`]s: no `serde_json::Value`
//! tree per entry, strings borrowed from the body until a contact keeps them.
//!
//! The rules are those of one entry read on its own: an entry that is not an object, or whose
//! `phone`, `name`, `short`, `notify`, `vname`, `imgUrl` or `about` is neither text nor `null`,
//! is skipped (and logged at debug level), as is one without a phone; the rest of the page is
//! kept, and counted (a page shorter than asked for is the last).

use serde::Deserialize;
use serde::de::MapAccess;

use super::contact_from_answer;
use crate::contact::Contact;
use crate::gateway::contact_entry::{self, EntryReader, FieldKey, Loose, NotText};

/// One `contacts` entry: its contact, or `None` when the entry is skipped.
pub(super) type ListedContact = contact_entry::ListedContact<ContactsEntry>;

/// The text fields of an entry the contact is made of.
#[derive(Default)]
pub(super) struct EntryFields {
    /// The chat id (a phone number, or a group's id).
    pub(super) phone: Option<String>,
    /// The phone-book name.
    pub(super) name: Option<String>,
    /// The phone-book short name.
    pub(super) short: Option<String>,
    /// The person's own name.
    pub(super) notify: Option<String>,
    /// The business name.
    pub(super) vname: Option<String>,
}

/// The entry's keys that must be text; every other key is read past.
#[derive(Deserialize, Clone, Copy)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Field {
    Phone,
    Name,
    Short,
    Notify,
    Vname,
    ImgUrl,
    About,
    #[serde(other)]
    Other,
}

/// How a `contacts` entry that is an object is read.
pub(super) struct ContactsEntry;

impl EntryReader for ContactsEntry {
    const LIST: &'static str = "contacts";

    fn read_object<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Contact>, A::Error> {
        let mut fields = EntryFields::default();
        if !contact_entry::read_fields(map, |field: Field, value| fields.set(field, value))? {
            tracing::debug!("contacts entry skipped: a text field is not text");
            return Ok(None);
        }
        Ok(contact_from_answer(fields))
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

impl EntryFields {
    /// Keeps one field's text (the last of a repeated key wins); `Err` when it is not text
    /// (`imgUrl` and `about` are checked, not kept).
    fn set(&mut self, field: Field, value: Loose<'_>) -> Result<(), NotText> {
        let text = value.text()?;
        match field {
            Field::Phone => self.phone = text,
            Field::Name => self.name = text,
            Field::Short => self.short = text,
            Field::Notify => self.notify = text,
            Field::Vname => self.vname = text,
            Field::ImgUrl | Field::About | Field::Other => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::gateway::zapi::ContactAnswer;

    /// The parse this module replaced, kept as the oracle: each entry read into a `Value`, then
    /// into the `contacts/{phone}` answer's struct.
    fn through_values(body: &str) -> Vec<Contact> {
        let entries: Vec<Value> = serde_json::from_str(body).expect("a list");
        entries
            .into_iter()
            .filter(Value::is_object)
            .filter_map(|entry| serde_json::from_value::<ContactAnswer>(entry).ok())
            .filter_map(|entry| {
                contact_from_answer(EntryFields {
                    phone: entry.phone,
                    name: entry.name,
                    short: entry.short,
                    notify: entry.notify,
                    vname: entry.vname,
                })
            })
            .collect()
    }

    fn direct(body: &str) -> Vec<Contact> {
        let entries: Vec<ListedContact> = serde_json::from_str(body).expect("a list");
        entries.into_iter().filter_map(|entry| entry.0).collect()
    }

    /// The answer's shape in gateways.md, and entries each rule skips or bends.
    const FIXTURES: &[&str] = &[
        r#"[{"name":"Ivan T","short":"Ivan","notify":"Ivan","vname":null,"phone":"5511999999999"},
            {"name":null,"short":null,"notify":"Loja","vname":"Loja Ltda","phone":"5511888888888"},
            {"name":"Family","phone":"120363025343218750-group"}]"#,
        r#"[null, 5, "x", true, [1,2], {}, {"name":"no phone"}, {"phone":""},
            {"phone":"1","name":5}, {"phone":"2","imgUrl":7}, {"phone":"3","about":{}},
            {"phone":"4","notify":"first","notify":"second"}, {"phone":"5","name":1,"name":"fixed"},
            {"phone":"6","short":"esc\"aped \u0416","extra":{"deep":[{"a":null}]}},
            {"phone":null,"name":"n"}, {"phone":7}, {"phone":"8","vname":"v"}]"#,
    ];

    #[test]
    fn the_direct_parse_equals_the_value_parse_on_the_reference_shapes() {
        for body in FIXTURES {
            assert_eq!(direct(body), through_values(body), "{body}");
        }
        let parsed = direct(FIXTURES[0]);
        assert_eq!(parsed.len(), 3);
        assert_eq!((&*parsed[1].name, &*parsed[1].contact_name), ("Loja", ""));
    }

    #[test]
    fn every_entry_of_a_page_counts_skipped_or_not() {
        let entries: Vec<ListedContact> = serde_json::from_str(FIXTURES[1]).expect("a list");
        assert_eq!(entries.len(), 17);
    }

    #[test]
    fn a_body_that_is_not_a_list_is_an_error() {
        assert!(serde_json::from_str::<Vec<ListedContact>>(r#"{"phone":"1"}"#).is_err());
        assert!(serde_json::from_str::<Vec<ListedContact>>(r#"[{"phone":"1""#).is_err());
    }

    proptest! {
        #[test]
        fn the_direct_parse_equals_the_value_parse_on_any_entries(
            entries in contact_entry::any_entries(
                vec!["phone", "name", "short", "notify", "vname", "imgUrl", "about", "other"],
                prop_oneof![Just(String::new()), "[0-9]{0,13}(-group|@lid)?", "\\PC{0,8}"].boxed(),
                "phone",
            )
        ) {
            let body = contact_entry::list_body(&entries);
            prop_assert_eq!(direct(&body), through_values(&body), "{}", body);
        }
    }
}
