//! The contact list a sandbox starts with: Latin and Cyrillic names, a contact with no name at
//! all, one with only a profile name, and a group.

use super::Platform;
use crate::contact::{Contact, ContactKind};

/// One seeded person: (MAX chat id, WhatsApp phone, profile name, phone-book name, MAX shows
/// the phone).
const PEOPLE: [(&str, &str, &str, &str, bool); 6] = [
    (
        "10000000",
        "79001234567",
        "Василиса",
        "Василиса Премудрая",
        true,
    ),
    ("10000001", "79001234568", "Иван", "Иван Царевич", true),
    ("10000002", "79001234569", "Alice", "Alice Johnson", true),
    ("10000003", "79001234570", "Bob", "Bob Smith", true),
    ("10000004", "79001234571", "", "", true),
    ("10000005", "79001234572", "Царевна Лягушка", "", false),
];

/// The seeded group: (WhatsApp id, MAX id, name).
const GROUP: (&str, &str, &str) = (
    "120363043968066561@g.us",
    "-10000000000000",
    "Hookbot testers",
);

/// The WhatsApp contact list a sandbox starts with: `79001234567@c.us` "Василиса Премудрая",
/// `79001234568@c.us` "Иван Царевич", `79001234569@c.us` "Alice Johnson", `79001234570@c.us`
/// "Bob Smith", `79001234571@c.us` with no name at all, `79001234572@c.us` known only by its
/// profile name "Царевна Лягушка", and the group `120363043968066561@g.us` "Hookbot testers".
pub fn seed_contacts() -> Vec<Contact> {
    seed_contacts_for(Platform::WhatsApp)
}

/// The contact list a sandbox of `platform` starts with: on MAX the same people under numeric
/// chat ids `10000000`…`10000005` (the last one's phone hidden) and the group
/// `-10000000000000`.
pub fn seed_contacts_for(platform: Platform) -> Vec<Contact> {
    let mut contacts: Vec<Contact> = PEOPLE
        .iter()
        .map(|&(max_id, phone, name, contact_name, phone_shown)| {
            let (chat_id, phone) = match platform {
                Platform::WhatsApp => (format!("{phone}@c.us"), Some(phone)),
                Platform::Max => (max_id.to_owned(), phone_shown.then_some(phone)),
            };
            let mut contact = Contact::new(chat_id, ContactKind::User);
            contact.name = name.to_owned();
            contact.contact_name = contact_name.to_owned();
            contact.phone = phone.map(str::to_owned);
            contact
        })
        .collect();
    let (whatsapp_group, max_group, group_name) = GROUP;
    let group_id = match platform {
        Platform::WhatsApp => whatsapp_group,
        Platform::Max => max_group,
    };
    let mut group = Contact::new(group_id, ContactKind::Group);
    group.name = group_name.to_owned();
    contacts.push(group);
    contacts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_have_valid_ids_for_their_platform() {
        for platform in [Platform::WhatsApp, Platform::Max] {
            let contacts = seed_contacts_for(platform);
            assert_eq!(contacts.len(), 7);
            for contact in &contacts {
                let id = contact.chat_id.as_str();
                match contact.kind {
                    ContactKind::Group => assert!(platform.is_group(id), "{id}"),
                    _ => assert!(platform.is_person(id), "{id}"),
                }
            }
        }
    }

    #[test]
    fn the_seed_has_an_empty_name_and_a_profile_name_only_contact() {
        let contacts = seed_contacts();
        let nameless = contacts
            .iter()
            .find(|c| c.chat_id.as_str() == "79001234571@c.us")
            .unwrap();
        assert!(nameless.name.is_empty() && nameless.contact_name.is_empty());
        let frog = contacts
            .iter()
            .find(|c| c.chat_id.as_str() == "79001234572@c.us")
            .unwrap();
        assert_eq!(frog.display_name(), "Царевна Лягушка");
    }
}
