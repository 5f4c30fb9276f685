//! What the gateways' contact lists share when read straight from their bytes (no
//! `serde_json::Value` tree per entry): an entry that is an object is read by the gateway's
//! own [`EntryReader`], any other entry is skipped (and logged at debug level); a field's value
//! is read as far as the rules need it ([`Loose`]).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::contact::Contact;

/// How one gateway reads a contact-list entry that is an object.
pub(crate) trait EntryReader {
    /// The list's name in the gateway's API, for the log of a skipped entry.
    const LIST: &'static str;

    /// Reads the entry's fields: its contact, or `None` when a rule skips the entry.
    fn read_object<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Contact>, A::Error>;
}

/// A key of an entry's object: the field it names, or `None` for a key read past.
pub(crate) trait FieldKey: Copy {
    /// The field's place among the entry's fields (under 8), `None` for a key read past.
    fn position(self) -> Option<u8>;
}

/// Reads an entry's members, handing each field's value to `set` (the last of a repeated key
/// wins) and reading past other keys. `Ok(false)` when a field's last value was refused by `set`
/// (not text though a rule wants text): the entry is then to be skipped.
pub(crate) fn read_fields<'de, A, K>(
    mut map: A,
    mut set: impl FnMut(K, Loose<'de>) -> Result<(), NotText>,
) -> Result<bool, A::Error>
where
    A: MapAccess<'de>,
    K: Deserialize<'de> + FieldKey,
{
    // The fields whose last value was refused, one bit each.
    let mut refused = 0_u8;
    while let Some(key) = map.next_key::<K>()? {
        let Some(position) = key.position() else {
            map.next_value::<IgnoredAny>()?;
            continue;
        };
        let bit = 1 << position;
        match set(key, map.next_value::<Loose>()?) {
            Ok(()) => refused &= !bit,
            Err(NotText) => refused |= bit,
        }
    }
    Ok(refused == 0)
}

/// One contact-list entry read by `R`: its contact, or `None` when the entry is skipped.
pub(crate) struct ListedContact<R>(pub(crate) Option<Contact>, PhantomData<R>);

impl<'de, R: EntryReader> Deserialize<'de> for ListedContact<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor(PhantomData))
    }
}

struct EntryVisitor<R>(PhantomData<R>);

impl<R: EntryReader> EntryVisitor<R> {
    /// An entry that is not an object: skipped.
    fn not_an_object<E>(self) -> Result<ListedContact<R>, E> {
        tracing::debug!("{} entry skipped: not an object", R::LIST);
        Ok(ListedContact(None, PhantomData))
    }
}

impl<'de, R: EntryReader> Visitor<'de> for EntryVisitor<R> {
    type Value = ListedContact<R>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "a {} entry", R::LIST)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        self.not_an_object()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        self.not_an_object()
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        R::read_object(map).map(|contact| ListedContact(contact, PhantomData))
    }
}

/// A field the rules want as text (or `null`) is something else.
pub(crate) struct NotText;

/// Any JSON value, as much of it as the rules read: text, a number, `null`, or something else
/// (read past).
pub(crate) enum Loose<'de> {
    Null,
    Text(Cow<'de, str>),
    Number(Number),
    Other,
}

impl<'de> Loose<'de> {
    /// A text field: `Ok(None)` for `null`, `Err` (the entry is skipped) when not text.
    pub(crate) fn text(self) -> Result<Option<String>, NotText> {
        self.borrowed_text().map(|text| text.map(Cow::into_owned))
    }

    /// A text field kept borrowed.
    pub(crate) fn borrowed_text(self) -> Result<Option<Cow<'de, str>>, NotText> {
        match self {
            Loose::Null => Ok(None),
            Loose::Text(text) => Ok(Some(text)),
            Loose::Number(_) | Loose::Other => Err(NotText),
        }
    }

    /// A field the rules read as a number or text; anything else reads as absent.
    pub(crate) fn scalar(self) -> Option<Value> {
        match self {
            Loose::Text(text) => Some(Value::String(text.into_owned())),
            Loose::Number(number) => Some(Value::Number(number)),
            Loose::Null | Loose::Other => None,
        }
    }
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Loose::Number(number.into()))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Loose::Number(number.into()))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(number).map_or(Loose::Other, Loose::Number))
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Owned(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Loose::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_map(map).map(|_| Loose::Other)
    }
}

/// A contact list's JSON with an object per entry of `entries`, each of those keys and values
/// in that order (repeated keys kept): the bodies the parsers' property tests read.
#[cfg(test)]
pub(crate) fn list_body(entries: &[Vec<(&str, Value)>]) -> String {
    let object = |fields: &Vec<(&str, Value)>| {
        let members: Vec<String> = fields
            .iter()
            .map(|(key, value)| format!("{}:{value}", Value::from(*key)))
            .collect();
        format!("{{{}}}", members.join(","))
    };
    let objects: Vec<String> = entries.iter().map(object).collect();
    format!("[{}]", objects.join(","))
}

/// Any contact-list entries for the parsers' property tests: up to 5 objects of up to 7
/// members, each named from `names` and holding any JSON value — null, a boolean, a number of
/// either sign, text from `texts`, an array, or an object `{nested_key: "nested"}`.
#[cfg(test)]
pub(crate) fn any_entries(
    names: Vec<&'static str>,
    texts: proptest::strategy::BoxedStrategy<String>,
    nested_key: &'static str,
) -> impl proptest::strategy::Strategy<Value = Vec<Vec<(&'static str, Value)>>> {
    use proptest::prelude::*;
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12..1e12_f64).prop_map(Value::from),
        texts.prop_map(Value::from),
        Just(serde_json::json!([1, {"a": null}])),
        Just(serde_json::json!({ nested_key: "nested" })),
    ];
    let member = (prop::sample::select(names), value);
    prop::collection::vec(prop::collection::vec(member, 0..8), 0..6)
}
