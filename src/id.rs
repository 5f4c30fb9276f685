//! Identifiers of chats and messages, as the gateways write them.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps an identifier exactly as the gateway writes it.
            pub fn new(id: impl Into<Arc<str>>) -> Self {
                Self(id.into())
            }

            /// The identifier as the gateway writes it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self::new(id)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self::new(id)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id! {
    /// A chat: a person or a group, in the form of its gateway.
    ///
    /// GREEN-API WhatsApp writes `79001234567@c.us` (person), `120363043968066561@g.us` (group) or
    /// `120650379300963@lid` (privacy id); GREEN-API MAX writes numeric strings, negative for
    /// groups (`10000000`, `-10000000000000`); Z-API writes digits (`5544999999999`) or a group id
    /// (`120363019502650977-group`). Each gateway checks the shape before it sends.
    ChatId
}

string_id! {
    /// A message, unique within its chat.
    MessageId
}

impl ChatId {
    /// Whether the id names a group chat, judged by its shape on any gateway.
    pub fn is_group(&self) -> bool {
        let id = self.as_str();
        id.ends_with("@g.us") || id.ends_with("-group") || id.starts_with('-')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_are_recognised_on_every_gateway() {
        assert!(ChatId::from("120363043968066561@g.us").is_group());
        assert!(ChatId::from("79001234567-1479621234@g.us").is_group());
        assert!(ChatId::from("-10000000000000").is_group());
        assert!(ChatId::from("120363019502650977-group").is_group());
        assert!(!ChatId::from("79001234567@c.us").is_group());
        assert!(!ChatId::from("10000000").is_group());
        assert!(!ChatId::from("5544999999999").is_group());
    }

    #[test]
    fn serialises_as_a_plain_string() {
        let id = ChatId::from("79001234567@c.us");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"79001234567@c.us\"");
        assert_eq!(format!("{id:?}"), "\"79001234567@c.us\"");
    }
}
