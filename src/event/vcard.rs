//! Reading vCards (2.1, 3.0 and 4.0) as far as a shared contact needs: its name and phones.
//!
//! Gateways pass on the card the sender's phone wrote, so the reader is forgiving: CRLF or LF
//! line ends (or a literal `\n` when a card was escaped twice), folded lines, property groups
//! (`item1.TEL`), quoted-printable values of old phones, and lines it does not understand,
//! which it skips. It reads a card in one pass: a card with many phones costs no more per
//! phone than one with a few.

use std::collections::HashSet;

/// What a vCard says about the contact.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct VCard {
    /// `FN`, else the parts of `N` in reading order; may be empty.
    pub(crate) name: String,
    /// The digits of each `TEL`, WhatsApp's `waid` parameter first; no duplicates.
    pub(crate) phones: Vec<String>,
}

/// Reads the name and the phones of a vCard.
pub(crate) fn parse(text: &str) -> VCard {
    let mut formatted_name = None;
    let mut structured_name = None;
    let mut phones = Phones::default();
    for line in logical_lines(text) {
        let Some(property) = Property::read(&line) else {
            continue;
        };
        match property.name.to_ascii_uppercase().as_str() {
            "FN" => formatted_name = formatted_name.or_else(|| non_empty(property.text())),
            "N" => structured_name = structured_name.or_else(|| non_empty(property.full_name())),
            "TEL" => phones.add(property.phone()),
            _ => {}
        }
    }
    VCard {
        name: formatted_name.or(structured_name).unwrap_or_default(),
        phones: phones.into_vec(),
    }
}

/// Phone numbers in the order first seen, each once, none empty.
#[derive(Debug, Default)]
pub(crate) struct Phones {
    listed: Vec<String>,
    seen: HashSet<String>,
}

impl Phones {
    /// The phones of `listed`, kept as they are, to add more to.
    pub(crate) fn from_vec(listed: Vec<String>) -> Self {
        let seen = listed.iter().cloned().collect();
        Self { listed, seen }
    }

    /// Adds `phone` unless it is empty or already listed.
    pub(crate) fn add(&mut self, phone: String) {
        if !phone.is_empty() && !self.seen.contains(&phone) {
            self.seen.insert(phone.clone());
            self.listed.push(phone);
        }
    }

    /// The phones, in the order first seen.
    pub(crate) fn into_vec(self) -> Vec<String> {
        self.listed
    }
}

/// One content line: `group.NAME;param;param:value`.
struct Property<'a> {
    name: &'a str,
    params: Vec<&'a str>,
    value: String,
}

impl<'a> Property<'a> {
    /// Splits a content line; `None` for a line without a `:`.
    fn read(line: &'a str) -> Option<Self> {
        let (head, value) = line.split_once(':')?;
        let mut parts = head.split(';');
        let name = parts.next().unwrap_or_default();
        let name = name.rsplit('.').next().unwrap_or(name).trim();
        let params: Vec<&str> = parts.map(str::trim).collect();
        let value = if params.iter().any(|param| is_quoted_printable(param)) {
            decode_quoted_printable(value)
        } else {
            value.to_owned()
        };
        Some(Self {
            name,
            params,
            value,
        })
    }

    /// The value as text, escapes resolved.
    fn text(&self) -> String {
        unescape(&self.value).trim().to_owned()
    }

    /// `N` (`family;given;additional;prefix;suffix`) as a name in reading order.
    fn full_name(&self) -> String {
        let parts = components(&self.value);
        let part = |index: usize| parts.get(index).map_or("", |part| part.trim());
        [part(3), part(1), part(2), part(0), part(4)]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The digits of a `TEL`: the `waid` parameter when it has any, else the number's.
    fn phone(&self) -> String {
        let waid = self.params.iter().find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("waid")
                .then(|| digits(value))
        });
        waid.filter(|waid| !waid.is_empty())
            .unwrap_or_else(|| digits(&self.value))
    }
}

/// The card's lines with folding undone: a line that starts with a space or a tab continues
/// the previous one, and so does the line after a quoted-printable value ending in `=`.
fn logical_lines(text: &str) -> Vec<String> {
    let separator = if !text.contains('\n') && text.contains("\\n") {
        "\\n"
    } else {
        "\n"
    };
    let mut lines: Vec<String> = Vec::new();
    for line in text.split(separator) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let folded = line.strip_prefix(|c: char| c == ' ' || c == '\t');
        match (lines.last_mut(), folded) {
            (Some(last), Some(rest)) => last.push_str(rest),
            (Some(last), None) if has_soft_break(last) => {
                last.pop();
                last.push_str(line);
            }
            _ => lines.push(line.to_owned()),
        }
    }
    lines
}

/// Whether a quoted-printable line goes on in the next one.
fn has_soft_break(line: &str) -> bool {
    line.ends_with('=')
        && line
            .split_once(':')
            .is_some_and(|(head, _)| head.split(';').any(is_quoted_printable))
}

/// `ENCODING=QUOTED-PRINTABLE`, or vCard 2.1's bare `QUOTED-PRINTABLE`.
fn is_quoted_printable(param: &str) -> bool {
    let value = param.split_once('=').map_or(param, |(_, value)| value);
    value.trim().eq_ignore_ascii_case("QUOTED-PRINTABLE")
}

/// Decodes `=XX` escapes; the bytes are read as UTF-8 (the charset of every phone today).
fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'=')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(hex_byte);
        match escaped {
            Some(escaped) => {
                decoded.push(escaped);
                index += 3;
            }
            None => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The byte two hex digits write.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    if !pair.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
}

/// Splits a structured value at the `;` that are not escaped; escapes resolved.
fn components(value: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in value.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (false, ';') => parts.push(String::new()),
            (was_escaped, c) => {
                if let Some(part) = parts.last_mut() {
                    if was_escaped {
                        part.push('\\');
                    }
                    part.push(c);
                }
                escaped = false;
            }
        }
    }
    parts.iter().map(|part| unescape(part)).collect()
}

/// Resolves vCard escapes: `\n` is a line break, `\,` `\;` `\\` the character itself.
fn unescape(text: &str) -> String {
    let mut unescaped = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            unescaped.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => unescaped.push('\n'),
            Some(other) => unescaped.push(other),
            None => unescaped.push('\\'),
        }
    }
    unescaped
}

/// The ASCII digits of `text`.
fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// `Some(text)` unless it is empty.
fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_whatsapp_card() {
        let card = parse(
            "BEGIN:VCARD\nVERSION:3.0\nN:Премудрая;Василиса;;;\nFN:Василиса Премудрая\n\
             item1.TEL;waid=79001234567:+7 900 123-45-67\nitem1.X-ABLabel:Mobile\nEND:VCARD",
        );
        assert_eq!(card.name, "Василиса Премудрая");
        assert_eq!(card.phones, ["79001234567"]);
    }

    #[test]
    fn waid_wins_over_a_local_format_and_duplicates_are_dropped() {
        let card = parse(
            "BEGIN:VCARD\nFN:Anna\nTEL;type=CELL;waid=79001234567:8 (900) 123-45-67\n\
             TEL;TYPE=HOME:+7 900 123-45-67\nTEL;type=WORK:+7 495 000-00-00\nTEL:\nEND:VCARD",
        );
        assert_eq!(card.phones, ["79001234567", "74950000000"]);
    }

    #[test]
    fn name_comes_from_n_when_fn_is_missing_or_blank() {
        let card = parse("BEGIN:VCARD\nN:Smit;Alex;J.;Dr.;\nFN: \nEND:VCARD");
        assert_eq!(card.name, "Dr. Alex J. Smit");
    }

    #[test]
    fn crlf_folding_and_escapes() {
        let card = parse(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Smith\\, Jo\r\n hn\r\nTEL;CELL:+1 555\r\n 0100\r\nEND:VCARD\r\n",
        );
        assert_eq!(card.name, "Smith, John");
        assert_eq!(card.phones, ["15550100"]);
    }

    #[test]
    fn escaped_semicolons_stay_inside_a_name_part() {
        let card = parse("BEGIN:VCARD\nN:Doe\\;Roe;Jane;;;\nEND:VCARD");
        assert_eq!(card.name, "Jane Doe;Roe");
    }

    #[test]
    fn quoted_printable_cards_of_old_phones() {
        let card = parse(
            "BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:;=D0=92=D0=B0=\n=D1=81=D1=8F;;;\n\
             FN;CHARSET=UTF-8;QUOTED-PRINTABLE:=D0=92=D0=B0=D1=81=D1=8F =3D\nTEL;CELL:+79001234567\nEND:VCARD",
        );
        assert_eq!(card.name, "Вася =");
        assert_eq!(card.phones, ["79001234567"]);
    }

    #[test]
    fn a_card_escaped_twice_is_still_read() {
        let card =
            parse(r"BEGIN:VCARD\nFN:Anna Smit\nTEL;waid=72345678910:+7 234 567 8910\nEND:VCARD");
        assert_eq!(card.name, "Anna Smit");
        assert_eq!(card.phones, ["72345678910"]);
    }

    #[test]
    fn a_card_with_50_000_phones_keeps_each_once_in_order() {
        let mut card = String::from("BEGIN:VCARD\nFN:Many\n");
        for n in 0..50_000_u64 {
            // Every phone twice: the second time in WhatsApp's format, the same digits.
            card.push_str(&format!("TEL:+{n:011}\nitem1.TEL;waid={n:011}:x\n"));
        }
        card.push_str("END:VCARD");

        let phones = parse(&card).phones;

        let expected: Vec<String> = (0..50_000_u64).map(|n| format!("{n:011}")).collect();
        assert_eq!(phones, expected);
    }

    #[test]
    fn garbage_reads_as_an_empty_card() {
        assert_eq!(parse(""), VCard::default());
        assert_eq!(
            parse("no colon here\n:\n;;;\n=\nTEL;waid=:\n"),
            VCard::default()
        );
        assert_eq!(parse("FN;ENCODING=QUOTED-PRINTABLE:=Z=\n").name, "=Z");
        assert_eq!(
            parse("FN:=E2=82"),
            VCard {
                name: "=E2=82".into(),
                phones: vec![]
            }
        );
        assert_eq!(parse("FN;QUOTED-PRINTABLE:=E2=82").name, "\u{fffd}");
    }
}
