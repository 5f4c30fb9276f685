//! What a typing indicator shows.

/// What a chat shows while a text is on its way, instead of plain "typing…": one of the
/// messenger's chat actions. Give it with [`SendOptions::typing_kind`](super::SendOptions::typing_kind),
/// usually beside a [typing time](super::SendOptions::typing).
///
/// GREEN-API Telegram takes it on sendMessage (`typingType`, one of Telegram's chat actions);
/// the other gateways show plain typing, and leave the kind out (see
/// [`Capabilities::typing_kind`](super::Capabilities::typing_kind)).
///
/// ```
/// use std::time::Duration;
/// use hookbot::gateway::{SendOptions, TypingKind};
///
/// let options = SendOptions::new()
///     .typing(Duration::from_secs(2))
///     .typing_kind(TypingKind::ChooseContact);
/// assert_eq!(options.typing_kind, Some(TypingKind::ChooseContact));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TypingKind {
    /// "typing…", as without a kind.
    Text,
    /// "recording a voice message…".
    Recording,
    /// "choosing a contact…": before a contact card is shared.
    ChooseContact,
}
