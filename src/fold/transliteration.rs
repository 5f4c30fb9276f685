//! The one table of transliteration between Cyrillic and Latin: a [`key`] under which a name
//! written in either script, in any of the common Russian romanisations, reads the same
//! («Василиса», "vasilisa" and "vasilissa"; «Пётр», "Petr" and "Pyotr").
//!
//! A key is built from [folded](super::fold) text in two steps: Cyrillic letters are
//! romanised by [`romanise`], then the Latin spelling is reduced by [`SPELLINGS`] to one
//! spelling per sound (`kh` and `h`, `ts` and `c`, `y`, `j` and `i`, `yo` and `e`, ...) and
//! doubled letters are written once. Keys are for comparison only: they are not readable text.

/// Latin spellings of one sound and what the key writes for them, longest first so that
/// `shch` is read before `sh`, and `sh` before `h`. A capital letter stands for a sound that
/// Latin spells with two letters (folded text has no capitals).
const SPELLINGS: &[(&str, &str)] = &[
    ("shch", "Q"),
    ("sch", "Q"),
    ("zh", "Z"),
    ("kh", "H"),
    ("ch", "T"),
    ("sh", "S"),
    ("ts", "C"),
    ("tz", "C"),
    ("yo", "e"),
    ("jo", "e"),
    ("ye", "e"),
    ("je", "e"),
    ("h", "H"),
    ("c", "C"),
    ("y", "i"),
    ("j", "i"),
    ("x", "ks"),
    ("w", "v"),
    ("q", "k"),
];

/// The common romanisation of a folded Cyrillic letter; `None` for any other character. The
/// soft and hard signs romanise to nothing; `й` and `ё` never occur, folding reads them as
/// `и` and `е`.
fn romanise(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' | 'ґ' => "g",
        'д' => "d",
        'е' | 'э' | 'є' => "e",
        'ж' => "zh",
        'з' => "z",
        'и' | 'і' => "i",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' | 'ў' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ъ' | 'ь' => "",
        'ы' => "y",
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    })
}

/// The transliteration key of `folded` text (the output of [`fold`](super::fold)): words stay
/// separated by single spaces, characters of other scripts and digits stay as they are.
pub(crate) fn key(folded: &str) -> String {
    let mut latin = String::with_capacity(folded.len());
    for c in folded.chars() {
        match romanise(c) {
            Some(roman) => latin.push_str(roman),
            None => latin.push(c),
        }
    }
    let mut key = String::with_capacity(latin.len());
    let mut rest = latin.as_str();
    while let Some(c) = rest.chars().next() {
        let spelling = SPELLINGS
            .iter()
            .find(|(spelling, _)| rest.starts_with(spelling));
        let (read, written) = match spelling {
            Some(&(spelling, written)) => (spelling.len(), written),
            None => (c.len_utf8(), &rest[..c.len_utf8()]),
        };
        for sound in written.chars() {
            if !(sound.is_alphabetic() && key.ends_with(sound)) {
                key.push(sound);
            }
        }
        rest = &rest[read..];
    }
    key
}

/// Whether folded text has a Cyrillic letter.
pub(crate) fn has_cyrillic(folded: &str) -> bool {
    folded.chars().any(|c| romanise(c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::fold;

    fn same(cyrillic: &str, latin: &str) {
        assert_eq!(
            key(&fold(cyrillic)),
            key(&fold(latin)),
            "{cyrillic} / {latin}"
        );
    }

    #[test]
    fn common_romanisations_read_the_same() {
        for (cyrillic, latin) in [
            ("Василиса Премудрая", "vasilisa premudraya"),
            ("Василиса", "Vasilissa"),
            ("Иван Петров", "ivan petrov"),
            ("Пётр", "Pyotr"),
            ("Пётр", "Petr"),
            ("Артём", "Artyom"),
            ("Юрий", "Yuri"),
            ("Юрий", "Iurii"),
            ("Дмитрий", "Dmitry"),
            ("Алексей", "Alexey"),
            ("Наталья", "Natalia"),
            ("Татьяна", "Tatyana"),
            ("Хабаров", "Habarov"),
            ("Чехов", "Chekhov"),
            ("Щукин", "Schukin"),
            ("Щукин", "Shchukin"),
            ("Жуков", "Zhukov"),
            ("Цветаева", "Cvetaeva"),
            ("Евгений", "Yevgeny"),
            ("Крылов", "Krylov"),
            ("Ксения", "Xenia"),
            ("Майя", "Maya"),
        ] {
            same(cyrillic, latin);
        }
    }

    #[test]
    fn different_names_stay_different() {
        assert_ne!(key("иван"), key("ivanov"));
        assert_ne!(key(&fold("Шура")), key("chura"));
        assert_ne!(key("петр"), key("pavel"));
    }

    #[test]
    fn words_digits_and_other_scripts_stay() {
        assert_eq!(key("office 2024"), "ofiCe 2024");
        assert_eq!(key("анна анна"), "ana ana");
        assert_eq!(key("οδυσσευς"), "οδυσευς");
    }

    #[test]
    fn cyrillic_is_told_apart() {
        assert!(has_cyrillic("ivan петров"));
        assert!(!has_cyrillic("ivan petrov 7"));
    }
}
