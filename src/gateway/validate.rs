//! The documented rules a request must keep before it is sent. Each check names the field it
//! looked at, so that the error says what to fix.

use std::time::Duration;

use crate::contact::ContactCard;
use crate::error::{Rule, ValidationError};
use crate::id::ChatId;
use crate::reply;

type Checked<T> = Result<T, ValidationError>;

/// Text that is not empty and has at most `max_chars` characters.
pub(crate) fn text(field: &'static str, text: &str, max_chars: usize) -> Checked<()> {
    if text.trim().is_empty() {
        return Err(ValidationError::new(field, Rule::Empty));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(ValidationError::new(
            field,
            Rule::TooLong {
                max: max_chars,
                actual: chars,
            },
        ));
    }
    Ok(())
}

/// A phone number of digits only, `min..=max` of them.
pub(crate) fn phone(field: &'static str, phone: &str, min: usize, max: usize) -> Checked<()> {
    if phone.is_empty() || !is_digits(phone) {
        return Err(ValidationError::new(field, Rule::DigitsOnly));
    }
    if !(min..=max).contains(&phone.len()) {
        return Err(ValidationError::new(
            field,
            Rule::DigitCount {
                min,
                max,
                actual: phone.len(),
            },
        ));
    }
    Ok(())
}

/// A card that can be shared by phone: refused when it has no phone because the contact hides
/// it (GREEN-API MAX and Telegram `phoneNumber: 0`), which no other field can make up for.
pub(crate) fn phone_shown(field: &'static str, card: &ContactCard) -> Checked<()> {
    if card.phone.is_none() && card.phone_hidden {
        Err(ValidationError::new(field, Rule::PhoneHidden))
    } else {
        Ok(())
    }
}

/// A duration of whole milliseconds within `min..=max` ms; returns the milliseconds.
pub(crate) fn millis(field: &'static str, value: Duration, min: u64, max: u64) -> Checked<u64> {
    let whole = value.subsec_nanos().is_multiple_of(1_000_000);
    let millis = u64::try_from(value.as_millis()).unwrap_or(u64::MAX);
    in_range(field, value, whole, millis, ("ms", min, max))
}

/// A duration of whole seconds within `min..=max` s; returns the seconds.
pub(crate) fn seconds(field: &'static str, value: Duration, min: u64, max: u64) -> Checked<u64> {
    in_range(
        field,
        value,
        value.subsec_nanos() == 0,
        value.as_secs(),
        ("s", min, max),
    )
}

fn in_range(
    field: &'static str,
    value: Duration,
    whole: bool,
    amount: u64,
    (unit, min, max): (&'static str, u64, u64),
) -> Checked<u64> {
    if whole && (min..=max).contains(&amount) {
        Ok(amount)
    } else {
        Err(ValidationError::new(
            field,
            Rule::DurationRange {
                unit,
                min,
                max,
                actual: value,
            },
        ))
    }
}

/// A chat id that `accepts` allows; `expected` describes the allowed shapes in the error.
pub(crate) fn chat_id(
    field: &'static str,
    chat: &ChatId,
    accepts: impl FnOnce(&str) -> bool,
    expected: &'static str,
) -> Checked<()> {
    if accepts(chat.as_str()) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            Rule::ChatIdShape {
                expected,
                actual: chat.to_string(),
            },
        ))
    }
}

/// A chat id of a person, not a group.
pub(crate) fn individual_chat(field: &'static str, chat: &ChatId) -> Checked<()> {
    if chat.is_group() {
        Err(ValidationError::new(field, Rule::IndividualChatOnly))
    } else {
        Ok(())
    }
}

/// Whether `text` is one or more ASCII digits.
pub(crate) fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// An absolute `http` or `https` URL.
pub(crate) fn http_url(field: &'static str, url: &str) -> Checked<()> {
    let parsed = url::Url::parse(url).ok();
    if parsed.is_some_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host()) {
        Ok(())
    } else {
        Err(ValidationError::new(field, Rule::HttpUrl))
    }
}

/// A file by URL: an http(s) URL, a file name with an extension, a caption of at most
/// `max_caption_chars` characters.
pub(crate) fn file(file: &reply::File, max_caption_chars: usize) -> Checked<()> {
    http_url("file.url", &file.url)?;
    if !reply::has_extension(&file.file_name) {
        return Err(ValidationError::new("file.file_name", Rule::FileExtension));
    }
    if let Some(caption) = &file.caption {
        text("file.caption", caption, max_caption_chars)?;
    }
    Ok(())
}

/// An upload: a file name with an extension, a caption of at most `max_caption_chars`
/// characters.
pub(crate) fn upload(upload: &reply::Upload, max_caption_chars: usize) -> Checked<()> {
    if !reply::has_extension(&upload.file_name) {
        return Err(ValidationError::new(
            "upload.file_name",
            Rule::FileExtension,
        ));
    }
    if let Some(caption) = &upload.caption {
        text("upload.caption", caption, max_caption_chars)?;
    }
    Ok(())
}

/// A location: latitude within ±90 degrees, longitude within ±180.
pub(crate) fn location(location: &reply::Location) -> Checked<()> {
    degrees("location.latitude", location.latitude, 90)?;
    degrees("location.longitude", location.longitude, 180)
}

fn degrees(field: &'static str, value: f64, max: u8) -> Checked<()> {
    if value.is_finite() && value.abs() <= f64::from(max) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            Rule::Degrees {
                max,
                actual: value.to_string(),
            },
        ))
    }
}

/// A poll: a question of at most `max_question_chars` characters, `min..=max` options, none
/// empty, none repeated.
pub(crate) fn poll(
    poll: &reply::Poll,
    max_question_chars: usize,
    (min, max): (usize, usize),
) -> Checked<()> {
    text("poll.question", &poll.question, max_question_chars)?;
    let actual = poll.options.len();
    if !(min..=max).contains(&actual) {
        return Err(ValidationError::new(
            "poll.options",
            Rule::Count { min, max, actual },
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for option in &poll.options {
        if option.trim().is_empty() {
            return Err(ValidationError::new("poll.options", Rule::Empty));
        }
        if !seen.insert(option.as_str()) {
            return Err(ValidationError::new(
                "poll.options",
                Rule::Duplicate {
                    value: option.clone(),
                },
            ));
        }
    }
    Ok(())
}

/// A chat that `is_group` says is a group's.
pub(crate) fn group_chat(field: &'static str, is_group: bool) -> Checked<()> {
    if is_group {
        Ok(())
    } else {
        Err(ValidationError::new(field, Rule::GroupChatOnly))
    }
}

/// Message ids to act on: at least one, none empty.
pub(crate) fn message_ids(field: &'static str, ids: &[crate::id::MessageId]) -> Checked<()> {
    if ids.is_empty() || ids.iter().any(|id| id.as_str().trim().is_empty()) {
        Err(ValidationError::new(field, Rule::Empty))
    } else {
        Ok(())
    }
}

/// A method name of letters, digits, `-` and `_`; with `paths`, several such segments joined
/// by `/` (a Z-API path such as `contacts/5544999999999`).
pub(crate) fn method_name(field: &'static str, method: &str, paths: bool) -> Checked<()> {
    let segment_fits = |segment: &str| {
        !segment.is_empty()
            && segment
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    };
    let fits = if paths {
        method.split('/').all(segment_fits)
    } else {
        segment_fits(method)
    };
    if fits {
        Ok(())
    } else {
        Err(ValidationError::new(field, Rule::MethodName))
    }
}

/// The most buttons under a message.
pub(crate) const MAX_BUTTONS: usize = 3;
/// The longest button label, in characters.
pub(crate) const MAX_BUTTON_LABEL_CHARS: usize = 25;

/// Buttons: a text of at most `max_text_chars`, 1 to 3 buttons with different, non-empty
/// ids and labels of at most 25 characters, each action well-formed (an http(s) URL, a phone
/// of digits, a non-empty code).
pub(crate) fn buttons(buttons: &reply::Buttons, max_text_chars: usize) -> Checked<()> {
    text("buttons.text", &buttons.text, max_text_chars)?;
    let actual = buttons.buttons.len();
    if !(1..=MAX_BUTTONS).contains(&actual) {
        return Err(ValidationError::new(
            "buttons.buttons",
            Rule::Count {
                min: 1,
                max: MAX_BUTTONS,
                actual,
            },
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for button in &buttons.buttons {
        if button.id.trim().is_empty() {
            return Err(ValidationError::new("button.id", Rule::Empty));
        }
        if !ids.insert(button.id.as_str()) {
            return Err(ValidationError::new(
                "button.id",
                Rule::Duplicate {
                    value: button.id.clone(),
                },
            ));
        }
        text("button.label", &button.label, MAX_BUTTON_LABEL_CHARS)?;
        match &button.action {
            reply::ButtonAction::Url(url) => http_url("button.url", url)?,
            reply::ButtonAction::Call(phone) if !is_digits(phone) || phone.is_empty() => {
                return Err(ValidationError::new("button.phone", Rule::DigitsOnly));
            }
            reply::ButtonAction::Copy(code) if code.trim().is_empty() => {
                return Err(ValidationError::new("button.code", Rule::Empty));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_must_be_non_empty_and_within_the_limit_in_characters() {
        assert!(text("text", "привет", 6).is_ok());
        assert_eq!(
            text("text", "привет!", 6).unwrap_err().rule,
            Rule::TooLong { max: 6, actual: 7 }
        );
        assert_eq!(text("text", " \n", 6).unwrap_err().rule, Rule::Empty);
    }

    #[test]
    fn phone_must_be_digits_of_the_right_length() {
        assert!(phone("p", "79001234568", 11, 12).is_ok());
        assert!(phone("p", "790012345681", 11, 12).is_ok());
        assert_eq!(
            phone("p", "+79001234568", 11, 12).unwrap_err().rule,
            Rule::DigitsOnly
        );
        assert_eq!(
            phone("p", "7900 123", 11, 12).unwrap_err().rule,
            Rule::DigitsOnly
        );
        assert_eq!(phone("p", "", 11, 12).unwrap_err().rule, Rule::DigitsOnly);
        assert_eq!(
            phone("p", "7900123456", 11, 12).unwrap_err().rule,
            Rule::DigitCount {
                min: 11,
                max: 12,
                actual: 10
            }
        );
    }

    #[test]
    fn a_card_without_a_phone_is_refused_as_hidden_only_when_the_contact_hides_it() {
        let mut card = ContactCard::new().first_name("Лягушка");
        assert!(phone_shown("card.phone", &card).is_ok());
        card.phone_hidden = true;
        assert_eq!(
            phone_shown("card.phone", &card).unwrap_err(),
            ValidationError::new("card.phone", Rule::PhoneHidden)
        );
        card.phone = Some("79001234572".into());
        assert!(phone_shown("card.phone", &card).is_ok());
    }

    #[test]
    fn durations_must_be_whole_units_within_bounds() {
        assert_eq!(
            millis("t", Duration::from_millis(1000), 1000, 20000),
            Ok(1000)
        );
        assert_eq!(millis("t", Duration::from_secs(20), 1000, 20000), Ok(20000));
        assert!(millis("t", Duration::from_millis(999), 1000, 20000).is_err());
        assert!(millis("t", Duration::from_millis(20001), 1000, 20000).is_err());
        assert!(millis("t", Duration::from_micros(1_000_500), 1000, 20000).is_err());
        assert_eq!(seconds("d", Duration::from_secs(15), 1, 15), Ok(15));
        assert!(seconds("d", Duration::from_secs(16), 1, 15).is_err());
        assert!(seconds("d", Duration::ZERO, 1, 15).is_err());
        assert!(seconds("d", Duration::from_millis(1500), 1, 15).is_err());
    }
}
