//! Lenient reading of notification JSON, shared by the gateways' webhook parsers.
//!
//! Every reader takes a JSON pointer (`/senderData/chatId`) and treats a missing field and a
//! field of the wrong type alike: as absent. None of them can panic, whatever the input.
//!
//! The pointers are the parsers' own constants, without `~` escapes, so they are walked
//! segment by segment without the allocations of [`Value::pointer`]'s unescaping: the parsers
//! read a dozen fields of every notification.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// A time in unix milliseconds below this is taken for seconds: 10^11 ms is March 1973, while
/// 10^11 s is the year 5138, so no real notification is ambiguous.
const SECONDS_BELOW: u64 = 100_000_000_000;

/// What an absent field reads as.
pub(crate) static NULL: Value = Value::Null;

/// The value at `pointer` (`""` is `value` itself; each `/segment` is an object's key or an
/// array's index), or `None` when there is none. Like [`Value::pointer`], for pointers
/// without `~` escapes.
fn lookup<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(value);
    }
    pointer
        .strip_prefix('/')?
        .split('/')
        .try_fold(value, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(list) => list.get(index(segment)?),
            _ => None,
        })
}

/// An array index as a JSON pointer writes it: digits, no leading zero (but `0` itself).
fn index(segment: &str) -> Option<usize> {
    if segment.starts_with('+') || (segment.len() > 1 && segment.starts_with('0')) {
        return None;
    }
    segment.parse().ok()
}

/// The value at `pointer`, or `null` when there is none.
pub(crate) fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    lookup(value, pointer).unwrap_or(&NULL)
}

/// The text at `pointer`: a string as it is, a number written out in decimal; `None` when it
/// is absent, empty, or of another type.
pub(crate) fn text(value: &Value, pointer: &str) -> Option<String> {
    match lookup(value, pointer)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The string at `pointer`, borrowed; empty when it is absent or not a string. For comparing
/// with names, where a copy would be thrown away.
pub(crate) fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    lookup(value, pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The text at `pointer` (as [`text`] reads it) as an identifier: a string is copied once,
/// straight into the identifier.
pub(crate) fn id<T>(value: &Value, pointer: &str) -> Option<T>
where
    T: for<'a> From<&'a str> + From<String>,
{
    match lookup(value, pointer)? {
        Value::String(text) if !text.is_empty() => Some(T::from(text.as_str())),
        Value::Number(number) => Some(T::from(number.to_string())),
        _ => None,
    }
}

/// The text at `pointer`, or an empty string.
pub(crate) fn string(value: &Value, pointer: &str) -> String {
    text(value, pointer).unwrap_or_default()
}

/// The first of `pointers` that holds text.
pub(crate) fn first_text(value: &Value, pointers: &[&str]) -> Option<String> {
    pointers.iter().find_map(|pointer| text(value, pointer))
}

/// The boolean at `pointer`; the strings `"true"` and `"false"` count too.
pub(crate) fn flag(value: &Value, pointer: &str) -> Option<bool> {
    match lookup(value, pointer)? {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The finite number at `pointer`, also when written as a string.
pub(crate) fn number(value: &Value, pointer: &str) -> Option<f64> {
    let number = match lookup(value, pointer)? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    number.filter(|number: &f64| number.is_finite())
}

/// The non-negative integer at `pointer`, also when written as a string of digits.
pub(crate) fn unsigned(value: &Value, pointer: &str) -> Option<u64> {
    match lookup(value, pointer)? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The items of the array at `pointer`; none when it is absent or not an array.
pub(crate) fn items<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    lookup(value, pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The time `seconds` after the unix epoch; `None` when it cannot be represented.
pub(crate) fn unix_seconds(seconds: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// The time `millis` milliseconds after the unix epoch, or seconds when the figure is too
/// small to be milliseconds of this era (some callbacks send seconds under a milliseconds
/// name).
pub(crate) fn unix_millis(millis: u64) -> Option<SystemTime> {
    if millis < SECONDS_BELOW {
        unix_seconds(millis)
    } else {
        UNIX_EPOCH.checked_add(Duration::from_millis(millis))
    }
}

/// Keeps the ASCII digits of `text`: `+7 900 123-45-67` becomes `79001234567`.
pub(crate) fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn readers_treat_a_wrong_type_as_absent() {
        let value = json!({"a": {"s": "x", "n": 12, "b": true, "e": "", "l": [1, 2], "f": 1.5}});
        assert_eq!(text(&value, "/a/s").as_deref(), Some("x"));
        assert_eq!(text(&value, "/a/n").as_deref(), Some("12"));
        assert_eq!(text(&value, "/a/e"), None);
        assert_eq!(str_at(&value, "/a/s"), "x");
        assert_eq!(id::<String>(&value, "/a/s").as_deref(), Some("x"));
        assert_eq!(id::<String>(&value, "/a/n").as_deref(), Some("12"));
        assert_eq!(id::<String>(&value, "/a/e"), None);
        assert_eq!(str_at(&value, "/a/n"), "");
        assert_eq!(str_at(&value, "/missing"), "");
        assert_eq!(text(&value, "/a/b"), None);
        assert_eq!(text(&value, "/a/l/0").as_deref(), Some("1"));
        assert_eq!(text(&value, "/a/l/9"), None);
        assert_eq!(text(&value, "/missing/deeper"), None);
        assert_eq!(flag(&value, "/a/b"), Some(true));
        assert_eq!(flag(&value, "/a/s"), None);
        assert_eq!(number(&value, "/a/f"), Some(1.5));
        assert_eq!(unsigned(&value, "/a/f"), None);
        assert_eq!(unsigned(&value, "/a/n"), Some(12));
        assert_eq!(items(&value, "/a/l").len(), 2);
        assert!(items(&value, "/a/s").is_empty());
    }

    #[test]
    fn lookup_walks_pointers_as_serde_json_does() {
        let value = json!({"a": {"b": [10, {"c": "x"}], "": 1}, "0": 2});
        for pointer in [
            "",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1/c",
            "/a/b/01",
            "/a/b/+1",
            "/a/b/2",
            "/a/",
            "/0",
            "/missing",
            "a",
            "/a/b/1/c/d",
        ] {
            assert_eq!(lookup(&value, pointer), value.pointer(pointer), "{pointer}");
        }
    }

    #[test]
    fn times_out_of_range_are_absent_and_small_millis_are_seconds() {
        assert_eq!(unix_seconds(u64::MAX), None);
        assert_eq!(unix_millis(1_632_228_638_000), unix_seconds(1_632_228_638));
        assert_eq!(unix_millis(1_580_163_342), unix_seconds(1_580_163_342));
    }

    #[test]
    fn digits_keeps_only_digits() {
        assert_eq!(digits("+7 (900) 123-45-67"), "79001234567");
        assert_eq!(digits("tel:"), "");
    }
}
