//! Folding text for comparison in any letter case and any script: what the contact search
//! matches names with, and what the case-insensitive [filters](crate::filter) match texts with,
//! so that a query and a filter agree on what is "the same text".
//!
//! The folded form is Unicode's compatibility caseless matching (full case folding by the
//! `caseless` crate, so `ß` matches `ss` and `ς` matches `σ`; compatibility decomposition, so
//! full-width letters and ligatures match their plain forms) without diacritics (`ё` matches
//! `е`, `ã` matches `a`). Everything that is not a letter or a digit separates words, and the
//! words are joined by single spaces.
//!
//! Across scripts, folded texts compare by their [transliteration key](key): a Latin spelling
//! of a Cyrillic name and the name itself have the same key.

mod transliteration;

pub(crate) use transliteration::{has_cyrillic, key};

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `text` folded for comparison: its words, case-folded, without diacritics, joined by single
/// spaces.
pub(crate) fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    fold_into(text, &mut folded);
    folded
}

/// Appends the folded form of `text` (see [`fold`]) to `out`.
pub(crate) fn fold_into(text: &str, out: &mut String) {
    let start = out.len();
    let mut gap = false;
    for c in text.chars() {
        fold_char(c, |c| {
            if !c.is_alphanumeric() {
                gap = true;
                return;
            }
            if gap && out.len() > start {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        });
    }
}

/// Emits the folded form of one character: zero, one or more characters. ASCII and the
/// Russian alphabet without `Й` take a shortcut to the result of [`fold_fully`] (the
/// `fast_path_agrees` test checks every such character).
fn fold_char(c: char, mut emit: impl FnMut(char)) {
    match fold_fast(c) {
        Some(folded) => emit(folded),
        None => fold_fully(c).for_each(emit),
    }
}

/// The folded form of one character: Unicode's compatibility caseless matching (D146:
/// decomposition, case folding, compatibility decomposition, case folding), with the combining
/// marks dropped afterwards. Character by character gives the same result as the whole text at
/// once, because the only context normalisation uses is the order of combining marks, which
/// are dropped.
fn fold_fully(c: char) -> impl Iterator<Item = char> {
    std::iter::once(c)
        .nfd()
        .default_case_fold()
        .nfkd()
        .default_case_fold()
        .filter(|&c| !is_combining_mark(c))
}

/// The folded form of ASCII and of `А`–`я` except `Й` and `й` (which decompose), else `None`.
fn fold_fast(c: char) -> Option<char> {
    match c {
        _ if c.is_ascii() => Some(c.to_ascii_lowercase()),
        'Й' | 'й' => None,
        'А'..='Я' => char::from_u32(u32::from(c) + 0x20),
        'а'..='я' => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_ignores_case_in_every_script() {
        assert_eq!(fold("Василиса ПРЕМУДРАЯ"), "василиса премудрая");
        assert_eq!(fold("ΟΔΥΣΣΕΥΣ"), fold("οδυσσευς"));
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("İstanbul"), "istanbul");
    }

    #[test]
    fn fold_drops_diacritics_and_compatibility_forms() {
        assert_eq!(fold("Артём"), "артем");
        assert_eq!(fold("João Conceição"), "joao conceicao");
        assert_eq!(fold("Ｊｏｈｎ"), "john");
        assert_eq!(fold("ﬁona"), "fiona");
    }

    #[test]
    fn fast_path_agrees() {
        for c in ('\0'..='\u{7f}').chain('\u{400}'..='\u{4ff}') {
            if let Some(fast) = fold_fast(c) {
                assert_eq!(fast.to_string(), fold_fully(c).collect::<String>(), "{c:?}");
            }
        }
        assert_eq!(fold_fast('Я'), Some('я'));
        assert_eq!(fold_fast('Й'), None);
    }

    #[test]
    fn fold_separates_words_by_one_space() {
        assert_eq!(fold("  Jean-Luc  O'Neil ❤️ "), "jean luc o neil");
        assert_eq!(fold("🙂 — !"), "");
        assert_eq!(fold("Office 2024"), "office 2024");
    }

    #[test]
    fn folding_is_idempotent() {
        for text in [
            "Артём Евпаторийский",
            "Straße",
            "  Jean-Luc  O'Neil ❤️ ",
            "ﬁona",
        ] {
            assert_eq!(fold(&fold(text)), fold(text), "{text:?}");
        }
    }

    #[test]
    fn fold_into_appends_to_what_is_there() {
        let mut out = String::from("x|");
        fold_into("АРТЁМ", &mut out);
        assert_eq!(out, "x|артем");
    }
}
