//! The contact list a sandbox starts with: Latin and Cyrillic names, a contact with no name at
//! all, one with only a profile name, and a group; on Telegram also usernames, a bot, and a
//! supergroup for the group.

use super::Platform;
use crate::contact::{Contact, ContactKind};

/// One seeded person: (MAX and Telegram chat id, WhatsApp phone, profile name, phone-book name,
/// MAX and Telegram show the phone, Telegram username).
const PEOPLE: [(&str, &str, &str, &str, bool, &str); 6] = [
    (
        "10000000",
        "79001234567",
        "Василиса",
        "Василиса Премудрая",
        true,
        "vasilisa_premudraya",
    ),
    (
        "10000001",
        "79001234568",
        "Иван",
        "Иван Царевич",
        true,
        "ivan_tsarevich",
    ),
    (
        "10000002",
        "79001234569",
        "Alice",
        "Alice Johnson",
        true,
        "alice_j",
    ),
    (
        "10000003",
        "79001234570",
        "Bob",
        "Bob Smith",
        true,
        "bobsmith",
    ),
    ("10000004", "79001234571", "", "", true, ""),
    (
        "10000005",
        "79001234572",
        "Царевна Лягушка",
        "",
        false,
        "tsarevna_lyagushka",
    ),
];

/// The seeded group: (WhatsApp id, MAX id, Telegram supergroup id, name).
const GROUP: (&str, &str, &str, &str) = (
    "120363043968066561@g.us",
    "-10000000000000",
    "-1001234567890",
    "Hookbot testers",
);

/// The seeded Telegram bot: (chat id, profile name, username); its phone is hidden, as bots'
/// are.
const BOT: (&str, &str, &str) = ("20000000", "Hookbot Helper", "hookbot_helper_bot");

/// The WhatsApp contact list a sandbox starts with: `79001234567@c.us` "Василиса Премудрая",
/// `79001234568@c.us` "Иван Царевич", `79001234569@c.us` "Alice Johnson", `79001234570@c.us`
/// "Bob Smith", `79001234571@c.us` with no name at all, `79001234572@c.us` known only by its
/// profile name "Царевна Лягушка", and the group `120363043968066561@g.us` "Hookbot testers".
pub fn seed_contacts() -> Vec<Contact> {
    seed_contacts_for(Platform::WhatsApp)
}

/// The contact list a sandbox of `platform` starts with: on MAX the same people under numeric
/// chat ids `10000000`…`10000005` (the last one's phone hidden) and the group
/// `-10000000000000`; on Telegram the same people with usernames (`@ivan_tsarevich`, ...), the
/// bot `20000000` "Hookbot Helper" (`@hookbot_helper_bot`, phone hidden), and the supergroup
/// `-1001234567890`.
pub fn seed_contacts_for(platform: Platform) -> Vec<Contact> {
    let mut contacts: Vec<Contact> = PEOPLE
        .iter()
        .map(
            |&(numeric_id, phone, name, contact_name, phone_shown, username)| {
                let (chat_id, phone) = match platform {
                    Platform::WhatsApp => (format!("{phone}@c.us"), Some(phone)),
                    Platform::Max | Platform::Telegram => {
                        (numeric_id.to_owned(), phone_shown.then_some(phone))
                    }
                };
                let mut contact = Contact::new(chat_id, ContactKind::User);
                contact.name = name.into();
                contact.contact_name = contact_name.into();
                contact.phone = phone.map(Into::into);
                contact.phone_hidden = contact.phone.is_none();
                if platform == Platform::Telegram && !username.is_empty() {
                    contact.username = Some(username.into());
                }
                contact
            },
        )
        .collect();
    if platform == Platform::Telegram {
        let (bot_id, bot_name, bot_username) = BOT;
        let mut bot = Contact::new(bot_id, ContactKind::Bot);
        bot.name = bot_name.into();
        bot.username = Some(bot_username.into());
        bot.phone_hidden = true;
        contacts.push(bot);
    }
    let (whatsapp_group, max_group, telegram_group, group_name) = GROUP;
    let (group_id, group_kind) = match platform {
        Platform::WhatsApp => (whatsapp_group, ContactKind::Group),
        Platform::Max => (max_group, ContactKind::Group),
        Platform::Telegram => (telegram_group, ContactKind::Supergroup),
    };
    let mut group = Contact::new(group_id, group_kind);
    group.name = group_name.into();
    contacts.push(group);
    contacts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_have_valid_ids_for_their_platform() {
        for platform in Platform::ALL {
            let contacts = seed_contacts_for(platform);
            let bots = usize::from(platform == Platform::Telegram);
            assert_eq!(contacts.len(), 7 + bots);
            for contact in &contacts {
                let id = contact.chat_id.as_str();
                if contact.kind.is_group() {
                    assert!(platform.is_group(id), "{id}");
                } else {
                    assert!(platform.is_person(id), "{id}");
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

    #[test]
    fn the_telegram_seed_has_a_bot_a_hidden_phone_and_a_supergroup() {
        let contacts = seed_contacts_for(Platform::Telegram);
        let kind_of = |id: &str| {
            contacts
                .iter()
                .find(|c| c.chat_id.as_str() == id)
                .map(|c| c.kind)
        };
        assert_eq!(kind_of("20000000"), Some(ContactKind::Bot));
        assert_eq!(kind_of("-1001234567890"), Some(ContactKind::Supergroup));
        let frog = contacts
            .iter()
            .find(|c| c.chat_id.as_str() == "10000005")
            .unwrap();
        assert!(frog.phone.is_none() && frog.phone_hidden);
        assert_eq!(frog.username.as_deref(), Some("tsarevna_lyagushka"));
    }
}
