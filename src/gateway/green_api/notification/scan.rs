//! A hand-written scan of the notification bots get most: a text message (`typeMessage`
//! `textMessage`, `extendedTextMessage` or `quotedMessage`), read from its bytes in one pass
//! into the few fields hookbot models, with no [`Value`](serde_json::Value) tree and no serde
//! machinery on the way (less code to run, and less to fetch into the instruction cache).
//!
//! The scan takes only what it is sure of: an object of valid JSON whose fields it reads are
//! strings, unsigned integers or `null` (its objects objects or `null`), no key it reads given
//! twice, keys without escapes, numbers it skips plain integers, nesting at most
//! [`MAX_DEPTH`] deep. For anything else it gives up (`None`) and the caller reads the
//! notification through a `Value` ([`parse`](super::parse)), the definition of the format;
//! for what it takes, the scan gives the same event (the tests check it over every fixture
//! and a generated corpus).

use std::borrow::Cow;

use crate::event::Direction;

/// How deep the scan follows the arrays and objects it skips.
const MAX_DEPTH: usize = 32;

/// The fields of a text message notification, as the scan read them.
#[derive(Default)]
pub(super) struct TextNotification<'a> {
    /// Who sent it, by `typeWebhook`; `None` when that names no message.
    pub(super) direction: Option<Direction>,
    /// `instanceData.idInstance`.
    pub(super) id_instance: Scalar<'a>,
    /// `instanceData.typeInstance`.
    pub(super) type_instance: Scalar<'a>,
    /// `timestamp`.
    pub(super) timestamp: Scalar<'a>,
    /// `idMessage`.
    pub(super) id_message: Scalar<'a>,
    /// `senderData`.
    pub(super) sender: SenderData<'a>,
    /// Where the text sits, by `messageData.typeMessage`; `None` when that names no text
    /// message.
    pub(super) kind: Option<TextKind>,
    /// `messageData.textMessageData.textMessage`.
    pub(super) text_message: Scalar<'a>,
    /// `messageData.quotedMessage.stanzaId`.
    pub(super) quoted_stanza_id: Scalar<'a>,
    /// `messageData.extendedTextMessageData`.
    pub(super) extended: ExtendedText<'a>,
}

/// `senderData`.
#[derive(Default)]
pub(super) struct SenderData<'a> {
    pub(super) chat_id: Scalar<'a>,
    pub(super) chat_name: Scalar<'a>,
    pub(super) sender: Scalar<'a>,
    pub(super) sender_name: Scalar<'a>,
    pub(super) sender_contact_name: Scalar<'a>,
    pub(super) sender_phone_number: Scalar<'a>,
    pub(super) sender_type: Scalar<'a>,
    pub(super) chat_type: Scalar<'a>,
}

/// `extendedTextMessageData`.
#[derive(Default)]
pub(super) struct ExtendedText<'a> {
    pub(super) text: Scalar<'a>,
    pub(super) text_message: Scalar<'a>,
    pub(super) stanza_id: Scalar<'a>,
}

/// Where a text message's text sits, by its `typeMessage`.
#[derive(Clone, Copy)]
pub(super) enum TextKind {
    /// `textMessage`: `textMessageData.textMessage`.
    Plain,
    /// `extendedTextMessage` or `quotedMessage`: `extendedTextMessageData.text`, else its
    /// `textMessage`.
    Extended,
}

/// A field's value as the scan reads it: what the pointer readers of
/// [`json`](crate::gateway::json) make of a string, an unsigned integer, or `null`.
#[derive(Debug, Default)]
pub(super) enum Scalar<'a> {
    /// Absent, or `null`.
    #[default]
    Absent,
    /// A string (borrowed from the text when it has no escapes).
    Str(Cow<'a, str>),
    /// An unsigned integer.
    Num(u64),
}

impl Scalar<'_> {
    /// The text, as [`json::text`](crate::gateway::json::text) reads it: a non-empty string,
    /// or the number written out in decimal.
    pub(super) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Scalar::Str(text) if !text.is_empty() => Some(Cow::Borrowed(&**text)),
            Scalar::Num(number) => Some(Cow::Owned(number.to_string())),
            _ => None,
        }
    }

    /// The text as [`json::string`](crate::gateway::json::string) reads it: empty when there
    /// is none.
    pub(super) fn string(&self) -> String {
        self.text().map(Cow::into_owned).unwrap_or_default()
    }

    /// The text as an identifier, as [`json::id`](crate::gateway::json::id) reads it.
    pub(super) fn id<T>(&self) -> Option<T>
    where
        T: for<'b> From<&'b str> + From<String>,
    {
        match self {
            Scalar::Str(text) if !text.is_empty() => Some(T::from(&**text)),
            Scalar::Num(number) => Some(T::from(number.to_string())),
            _ => None,
        }
    }

    /// The string, borrowed; empty when it is none (as
    /// [`json::str_at`](crate::gateway::json::str_at) reads it).
    pub(super) fn as_str(&self) -> &str {
        match self {
            Scalar::Str(text) => text,
            _ => "",
        }
    }

    /// The non-negative integer, also when written as a string of digits (as
    /// [`json::unsigned`](crate::gateway::json::unsigned) reads it).
    pub(super) fn unsigned(&self) -> Option<u64> {
        match self {
            Scalar::Num(number) => Some(*number),
            Scalar::Str(text) => text.trim().parse().ok(),
            Scalar::Absent => None,
        }
    }
}

/// Scans `text` for the fields of a text message notification; `None` for anything the scan
/// is not sure of (see the [module](self)). Another notification, or another message, reads
/// with no [`direction`](TextNotification::direction) or no [`kind`](TextNotification::kind).
pub(super) fn text_message(text: &str) -> Option<TextNotification<'_>> {
    let mut reader = Reader { text, at: 0 };
    let mut notification = TextNotification::default();
    let mut seen = Seen::default();
    reader.space();
    reader.object(|reader, key| match key {
        "typeWebhook" => {
            seen.first(0)?;
            notification.direction = direction(reader.scalar()?.as_str());
            Some(())
        }
        "instanceData" => {
            seen.first(1)?;
            reader.instance_data(&mut notification)
        }
        "timestamp" => reader.field(&mut seen, 2, &mut notification.timestamp),
        "idMessage" => reader.field(&mut seen, 3, &mut notification.id_message),
        "senderData" => {
            seen.first(4)?;
            reader.sender_data(&mut notification.sender)
        }
        "messageData" => {
            seen.first(5)?;
            reader.message_data(&mut notification)
        }
        _ => reader.skip(0),
    })?;
    reader.space();
    (reader.at == text.len()).then_some(notification)
}

/// The direction of a message notification's `typeWebhook`; `None` for any other type.
fn direction(type_webhook: &str) -> Option<Direction> {
    match type_webhook {
        "incomingMessageReceived" => Some(Direction::Incoming),
        "outgoingMessageReceived" => Some(Direction::SentFromPhone),
        "outgoingAPIMessageReceived" => Some(Direction::SentByApi),
        _ => None,
    }
}

/// Where a `typeMessage` puts a text message's text; `None` for any other type.
fn text_kind(type_message: &str) -> Option<TextKind> {
    match type_message {
        "textMessage" => Some(TextKind::Plain),
        "extendedTextMessage" | "quotedMessage" => Some(TextKind::Extended),
        _ => None,
    }
}

/// The keys of one object read so far, by their place in the object's list; a key read twice
/// gives up the scan (a `Value` keeps the last, the scan would keep the first).
#[derive(Default)]
struct Seen(u16);

impl Seen {
    /// `None` when the key at `place` was read before.
    fn first(&mut self, place: u8) -> Option<()> {
        let bit = 1 << place;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first.then_some(())
    }
}

/// The bytes of `word` (eight bytes, little-endian) that end a string's plain run — a `"`, a
/// `\\` or a control character — as their high bits; 0 when none does. The lowest bit set is
/// exactly the first such byte's (the bit tricks "has a zero byte" and "has a byte less than"
/// may mark bytes after it too).
fn run_ends(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH_BITS: u64 = ONES << 7;
    let zero_bytes = |word: u64| word.wrapping_sub(ONES) & !word & HIGH_BITS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS;
    zero_bytes(word ^ (ONES * u64::from(b'"')))
        | zero_bytes(word ^ (ONES * u64::from(b'\\')))
        | below_space
}

/// A position in the notification's text.
struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    /// `instanceData`.
    fn instance_data(&mut self, notification: &mut TextNotification<'a>) -> Option<()> {
        let mut seen = Seen::default();
        self.nested(|reader, key| match key {
            "idInstance" => reader.field(&mut seen, 0, &mut notification.id_instance),
            "typeInstance" => reader.field(&mut seen, 1, &mut notification.type_instance),
            _ => reader.skip(1),
        })
    }

    /// `senderData`.
    fn sender_data(&mut self, sender: &mut SenderData<'a>) -> Option<()> {
        let mut seen = Seen::default();
        self.nested(|reader, key| {
            let (place, field) = match key {
                "chatId" => (0, &mut sender.chat_id),
                "chatName" => (1, &mut sender.chat_name),
                "sender" => (2, &mut sender.sender),
                "senderName" => (3, &mut sender.sender_name),
                "senderContactName" => (4, &mut sender.sender_contact_name),
                "senderPhoneNumber" => (5, &mut sender.sender_phone_number),
                "senderType" => (6, &mut sender.sender_type),
                "chatType" => (7, &mut sender.chat_type),
                _ => return reader.skip(1),
            };
            reader.field(&mut seen, place, field)
        })
    }

    /// `messageData`: its type, and the fields of a text message.
    fn message_data(&mut self, notification: &mut TextNotification<'a>) -> Option<()> {
        let mut seen = Seen::default();
        self.nested(|reader, key| match key {
            "typeMessage" => {
                seen.first(0)?;
                notification.kind = text_kind(reader.scalar()?.as_str());
                Some(())
            }
            "textMessageData" => {
                seen.first(1)?;
                reader.one_field("textMessage", &mut notification.text_message)
            }
            "quotedMessage" => {
                seen.first(2)?;
                reader.one_field("stanzaId", &mut notification.quoted_stanza_id)
            }
            "extendedTextMessageData" => {
                seen.first(3)?;
                let mut inner = Seen::default();
                let extended = &mut notification.extended;
                reader.nested(|reader, key| match key {
                    "text" => reader.field(&mut inner, 0, &mut extended.text),
                    "textMessage" => reader.field(&mut inner, 1, &mut extended.text_message),
                    "stanzaId" => reader.field(&mut inner, 2, &mut extended.stanza_id),
                    _ => reader.skip(2),
                })
            }
            _ => reader.skip(1),
        })
    }

    /// An object of `messageData` (or `null`) of which the scan reads only the field `name`,
    /// into `slot`.
    fn one_field(&mut self, name: &str, slot: &mut Scalar<'a>) -> Option<()> {
        let mut seen = Seen::default();
        self.nested(|reader, key| {
            if key == name {
                reader.field(&mut seen, 0, slot)
            } else {
                reader.skip(2)
            }
        })
    }

    /// Reads the field at `place` of its object into `slot`, unless it was read before.
    fn field(&mut self, seen: &mut Seen, place: u8, slot: &mut Scalar<'a>) -> Option<()> {
        seen.first(place)?;
        *slot = self.scalar()?;
        Some(())
    }

    /// An object the scan reads fields of, or `null` (then it has none).
    fn nested(&mut self, field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        match self.peek()? {
            b'n' => self.literal("null"),
            _ => self.object(field),
        }
    }

    /// An object: `field` reads (or skips) the value of each key, the reader at the value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.byte(b'{')?;
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.space();
            self.byte(b':')?;
            self.space();
            field(self, key)?;
            self.space();
            match self.next()? {
                b',' => self.space(),
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// An array the scan skips, `depth` levels down.
    fn array(&mut self, depth: usize) -> Option<()> {
        self.byte(b'[')?;
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip(depth)?;
            self.space();
            match self.next()? {
                b',' => self.space(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Skips any value the scan is sure of, `depth` levels down.
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' if depth < MAX_DEPTH => self.object(|reader, _| reader.skip(depth + 1)),
            b'[' if depth < MAX_DEPTH => self.array(depth + 1),
            b'"' => self.string().map(drop),
            b'-' => {
                self.at += 1;
                self.unsigned().map(drop)
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            _ => self.scalar().map(drop),
        }
    }

    /// A string, an unsigned integer or `null`.
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Scalar::Str),
            b'0'..=b'9' => self.unsigned().map(Scalar::Num),
            b'n' => self.literal("null").map(|()| Scalar::Absent),
            _ => None,
        }
    }

    /// An unsigned integer that fits a `u64`, without a leading zero, a fraction or an
    /// exponent.
    fn unsigned(&mut self) -> Option<u64> {
        let start = self.at;
        let mut number: u64 = 0;
        while let Some(digit) = self.peek().filter(u8::is_ascii_digit) {
            number = number
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            self.at += 1;
        }
        let digits = self.at - start;
        let leading_zero = digits > 1 && self.text.as_bytes().get(start) == Some(&b'0');
        let whole = !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        (digits > 0 && whole && !leading_zero).then_some(number)
    }

    /// A key: a string without escapes.
    fn key(&mut self) -> Option<&'a str> {
        match self.string()? {
            Cow::Borrowed(key) => Some(key),
            Cow::Owned(_) => None,
        }
    }

    /// A string, borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.byte(b'"')?;
        let plain = self.plain_run();
        match self.next()? {
            b'"' => Some(Cow::Borrowed(plain)),
            b'\\' => self.escaped(String::from(plain)).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string after its first `\`, unescaped onto `text`.
    fn escaped(&mut self, mut text: String) -> Option<String> {
        loop {
            text.push(self.escape()?);
            text.push_str(self.plain_run());
            match self.next()? {
                b'"' => return Some(text),
                b'\\' => {}
                _ => return None,
            }
        }
    }

    /// The characters of a string up to its end, its next escape or a control character
    /// (which JSON does not allow unescaped); the reader stays at that byte.
    fn plain_run(&mut self) -> &'a str {
        let start = self.at;
        let bytes = self.text.as_bytes();
        while let Some(eight) = bytes.get(self.at..self.at + 8) {
            let ends = run_ends(u64::from_le_bytes(
                eight.try_into().expect("a slice of eight bytes"),
            ));
            if ends != 0 {
                self.at += ends.trailing_zeros() as usize / 8;
                return self.text.get(start..self.at).unwrap_or_default();
            }
            self.at += 8;
        }
        while bytes
            .get(self.at)
            .is_some_and(|&byte| byte != b'"' && byte != b'\\' && byte >= 0x20)
        {
            self.at += 1;
        }
        // The run ends at an ASCII byte or the text's end: a character boundary.
        self.text.get(start..self.at).unwrap_or_default()
    }

    /// One escape after its `\`: `\n`, `\u00e9`, a surrogate pair; `None` for an invalid one.
    fn escape(&mut self) -> Option<char> {
        Some(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode(),
            _ => return None,
        })
    }

    /// The character of a `\u` escape (after its `u`), joining a surrogate pair; `None` for a
    /// lone surrogate.
    fn unicode(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            return char::from_u32(first);
        }
        self.literal("\\u")?;
        let second = self.hex4()?;
        if !(0xDC00..0xE000).contains(&second) {
            return None;
        }
        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    }

    /// Four hexadecimal digits.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        if !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// `word` exactly.
    fn literal(&mut self, word: &str) -> Option<()> {
        let found = self.text.as_bytes().get(self.at..self.at + word.len())? == word.as_bytes();
        self.at += word.len();
        found.then_some(())
    }

    /// JSON's white space.
    fn space(&mut self) {
        let bytes = self.text.as_bytes();
        while matches!(bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// `byte`, which must come next.
    fn byte(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// The next byte, taken.
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    /// The next byte, left in place.
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn run_ends_finds_the_first_byte_that_ends_a_run(
            bytes in any::<[u8; 8]>(),
            at in 0..8usize,
            end in prop::sample::select(&[b'"', b'\\', 0, 0x1f, b' ', 0x7f, 0x80, 0xff][..]),
        ) {
            let mut planted = bytes;
            planted[at] = end;
            for word in [bytes, planted] {
                let first = word
                    .iter()
                    .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20);
                let ends = run_ends(u64::from_le_bytes(word));
                let found = (ends != 0).then(|| ends.trailing_zeros() as usize / 8);
                prop_assert_eq!(found, first, "{:?}", word);
            }
        }
    }
}
