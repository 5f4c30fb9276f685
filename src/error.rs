//! The one error type of hookbot, and the validation rules a request can break.

use std::sync::Arc;
use std::time::Duration;

/// `Result` with hookbot's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Any error a handler or a store may return: what [`HandlerFailure`](crate::dispatch::HandlerFailure)
/// reports and what [`Error::Storage`] wraps.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong when hookbot talks to a gateway or to a store.
///
/// It is `Clone`, so that callers sharing one failed call (the contact book's cache) each get
/// it whole. Match on it to decide what to do: fix the request ([`Validation`](Error::Validation),
/// [`PayloadTooLarge`](Error::PayloadTooLarge), [`ContactNotFound`](Error::ContactNotFound)),
/// re-authorise ([`NotAuthorized`](Error::NotAuthorized), [`Unauthorized`](Error::Unauthorized),
/// [`Forbidden`](Error::Forbidden)), upgrade the plan ([`QuotaExceeded`](Error::QuotaExceeded)),
/// fix the API URL ([`Redirected`](Error::Redirected)), decide whether a message that may have
/// gone out is worth sending again ([`SendUnconfirmed`](Error::SendUnconfirmed)), or try later
/// ([`is_retryable`](Error::is_retryable): the client has already retried these within its
/// [`RetryPolicy`](crate::gateway::RetryPolicy)). No variant ever holds a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request broke a documented rule and was not sent.
    #[error("request not sent: {0}")]
    Validation(#[from] ValidationError),
    /// The request body is over the gateway's size limit (GREEN-API: 100 KB). `size` is known
    /// when hookbot refused to send it, unknown when the gateway refused it.
    #[error("request body over the gateway's limit of {limit} bytes{}", size.map(|size| format!(" ({size} bytes)")).unwrap_or_default())]
    PayloadTooLarge {
        /// The size of the refused body, in bytes, when known.
        size: Option<usize>,
        /// The gateway's limit, in bytes.
        limit: usize,
    },
    /// The instance's phone is not linked: scan the QR code in the gateway's console.
    #[error("instance account not authorized: link the phone in the gateway's console")]
    NotAuthorized,
    /// The instance is restarting; it answers again in a few seconds.
    #[error("the instance is starting; try again in a few seconds")]
    InstanceStarting,
    /// GREEN-API MAX shares only contacts from the instance's contact list, and this one is not
    /// there.
    #[error("contact {chat_id} is not in the instance's contact list")]
    ContactNotFound {
        /// The contact the gateway could not find.
        chat_id: String,
    },
    /// The gateway refused the instance token or the account's client token (HTTP 401, or
    /// Z-API's "null not allowed" when the client token is missing).
    #[error("the gateway refused the instance token or client token")]
    Unauthorized,
    /// The gateway refused access to the instance (HTTP 403): a wrong instance id.
    #[error("the gateway refused access to the instance (HTTP 403): check the instance id")]
    Forbidden,
    /// Too many requests (HTTP 429), still so after the client's retries.
    #[error("rate limited by the gateway (HTTP 429){}", retry_after.map(|after| format!(", retry after {after:?}")).unwrap_or_default())]
    RateLimited {
        /// How long the gateway asked to wait, when it said; at most
        /// [`MAX_RETRY_AFTER`](crate::gateway::MAX_RETRY_AFTER), whatever it said.
        retry_after: Option<Duration>,
    },
    /// A send failed in a way that does not tell whether the gateway took it (a time-out after
    /// the request went out, a connection lost mid-exchange, HTTP 5xx), and the client did not
    /// repeat it, lest the chat get the message twice. The message may or may not reach the
    /// chat. See [`RetryPolicy`](crate::gateway::RetryPolicy) for when a send is repeated.
    #[error("the message may have been sent; not repeated, lest it arrive twice: {cause}")]
    SendUnconfirmed {
        /// How the send failed.
        cause: Box<Error>,
    },
    /// The gateway answered with a redirect (HTTP 3xx), which hookbot never follows: the
    /// request carries the instance's credentials. Check the API URL.
    #[error(
        "the gateway answered HTTP {status}, a redirect, which is not followed: check the API URL"
    )]
    Redirected {
        /// The HTTP status.
        status: u16,
    },
    /// The plan's quota is used up (GREEN-API HTTP 466); the figures come from the answer's
    /// `invokeStatus` when it has them.
    #[error("quota exceeded{}", quota_details(method, used, total, description))]
    QuotaExceeded {
        /// The method whose quota is used up.
        method: Option<String>,
        /// How much of the quota is used.
        used: Option<u64>,
        /// The quota.
        total: Option<u64>,
        /// The gateway's explanation.
        description: Option<String>,
    },
    /// The gateway did not answer in time, still so after the client's retries.
    #[error("the gateway did not answer in time")]
    Timeout,
    /// The gateway could not be reached (connection refused, reset, DNS, TLS).
    #[error("could not reach the gateway: {source}")]
    Transport {
        /// What failed, without the request's URL (shared, so that the error can be cloned).
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// Any other error answer of the gateway.
    #[error("the gateway answered HTTP {status}: {body}")]
    Gateway {
        /// The HTTP status.
        status: u16,
        /// The answer's body, shortened, with credentials removed.
        body: String,
    },
    /// A setting (an environment variable, or one of the Redis server's) is missing or wrong.
    #[error("configuration: {variable} {reason}")]
    Config {
        /// The variable at fault, e.g. `HOOKBOT_TOKEN`.
        variable: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A store of the bot's (conversation states) failed.
    #[error("the store failed: {source}")]
    Storage {
        /// The store's error (shared, so that the error can be cloned).
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A conversation's state was changed while handling an event that belongs to no
    /// conversation (not a message: a status, a call, an instance's state).
    #[error("the event belongs to no conversation: it is not a message")]
    NoConversation,
    /// The bot's HTTP server failed: it could not accept connections.
    #[error("the bot's HTTP server failed: {source}")]
    Server {
        /// What failed (shared, so that the error can be cloned).
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The file to upload could not be read (missing, unreadable); nothing was sent.
    #[error("could not read the file to upload: {source}")]
    File {
        /// What failed (shared, so that the error can be cloned).
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The gateway cannot send this kind of message, or this option of it (see
    /// [`Capabilities`](crate::gateway::Capabilities)); nothing was sent.
    #[error("{gateway} cannot send {what}")]
    Unsupported {
        /// The gateway asked.
        gateway: crate::gateway::GatewayKind,
        /// What it cannot send: `a poll with multiple answers`, `a sticker`, ...
        what: &'static str,
    },
    /// The gateway answered 200 with a body hookbot cannot read.
    #[error("unexpected answer from the gateway: {reason}")]
    InvalidResponse {
        /// What did not match.
        reason: String,
    },
}

/// ` for sendMessage: 100 of 100 used (...)`, with whatever parts the gateway told.
fn quota_details(
    method: &Option<String>,
    used: &Option<u64>,
    total: &Option<u64>,
    description: &Option<String>,
) -> String {
    let mut details = String::new();
    if let Some(method) = method {
        details.push_str(&format!(" for {method}"));
    }
    if let (Some(used), Some(total)) = (used, total) {
        details.push_str(&format!(": {used} of {total} used"));
    }
    if let Some(description) = description {
        details.push_str(&format!(" ({description})"));
    }
    details
}

impl Error {
    /// A store's error.
    pub(crate) fn storage(source: BoxError) -> Self {
        Error::Storage {
            source: Arc::from(source),
        }
    }

    /// A failure of the bot's HTTP server.
    pub(crate) fn server(error: std::io::Error) -> Self {
        Error::Server {
            source: Arc::new(error),
        }
    }

    /// Whether trying the same request again later may succeed: rate limits, a starting
    /// instance, time-outs, connection errors and the gateway's own trouble (HTTP 499, 500, 502,
    /// 503, 504).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::InstanceStarting
            | Error::Timeout
            | Error::Transport { .. } => true,
            Error::Gateway { status, .. } => matches!(status, 499 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

/// A request that breaks a documented rule of its gateway: which field, which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {rule}")]
pub struct ValidationError {
    /// The field at fault, named as in hookbot's API (`card.phone`, `options.typing`, `text`).
    pub field: &'static str,
    /// The rule it breaks.
    pub rule: Rule,
}

impl ValidationError {
    pub(crate) fn new(field: &'static str, rule: Rule) -> Self {
        Self { field, rule }
    }
}

/// A documented rule of a gateway's API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rule {
    /// The field is required here; `why` says by whom.
    #[error("is required: {why}")]
    Required {
        /// Which gateway or method needs it.
        why: &'static str,
    },
    /// Only the digits 0–9: no `+`, spaces or dashes.
    #[error("must contain digits only (no `+`, spaces or dashes)")]
    DigitsOnly,
    /// A number of digits within bounds.
    #[error("must have {min} to {max} digits, has {actual}")]
    DigitCount {
        /// The fewest digits allowed.
        min: usize,
        /// The most digits allowed.
        max: usize,
        /// How many it has.
        actual: usize,
    },
    /// GREEN-API WhatsApp sendContact: at least one of first name, middle name, last name,
    /// company.
    #[error("needs at least one of first name, middle name, last name or company")]
    NameRequired,
    /// A duration within bounds, in whole units of the gateway's field.
    #[error("must be a whole number of {unit} from {min} to {max}, is {actual:?}")]
    DurationRange {
        /// The unit of the wire field (`ms`, `s`).
        unit: &'static str,
        /// The least allowed, in `unit`.
        min: u64,
        /// The most allowed, in `unit`.
        max: u64,
        /// The value given.
        actual: Duration,
    },
    /// Text must not be empty.
    #[error("must not be empty")]
    Empty,
    /// Text within a length limit, counted in characters.
    #[error("must be at most {max} characters, has {actual}")]
    TooLong {
        /// The most characters allowed.
        max: usize,
        /// How many it has.
        actual: usize,
    },
    /// A chat id in the shape its platform uses.
    #[error("must be {expected}, is {actual:?}")]
    ChatIdShape {
        /// The shapes the platform accepts.
        expected: &'static str,
        /// The id given.
        actual: String,
    },
    /// An absolute `http` or `https` URL.
    #[error("must be an absolute http or https URL")]
    HttpUrl,
    /// The method serves individual chats only.
    #[error("must be an individual chat, not a group")]
    IndividualChatOnly,
    /// The contact hides its phone number (GREEN-API MAX and Telegram `phoneNumber: 0`): it
    /// cannot be shared as a card by phone number.
    #[error("is hidden by the contact: the card cannot be shared by phone number")]
    PhoneHidden,
    /// A number of items within bounds (a poll's options).
    #[error("must have {min} to {max} items, has {actual}")]
    Count {
        /// The fewest allowed.
        min: usize,
        /// The most allowed.
        max: usize,
        /// How many it has.
        actual: usize,
    },
    /// Items that must differ from each other (a poll's options).
    #[error("must not repeat {value:?}")]
    Duplicate {
        /// The first repeated item.
        value: String,
    },
    /// A coordinate in degrees within bounds (latitude ±90, longitude ±180).
    #[error("must be a number of degrees from -{max} to {max}, is {actual}")]
    Degrees {
        /// The bound on either side of zero.
        max: u8,
        /// The value given (as text, so that the rule stays comparable).
        actual: String,
    },
    /// A file name with an extension (`menu.pdf`): the gateway tells a file's type by it.
    #[error("must end in an extension such as .pdf or .jpg")]
    FileExtension,
    /// A gateway method's name: letters, digits, `-` and `_` (Z-API: several such segments
    /// joined by `/`).
    #[error("must be a method name: letters, digits, - and _")]
    MethodName,
    /// The method serves group chats only (GREEN-API Telegram polls).
    #[error("must be a group chat: the gateway sends this to groups only")]
    GroupChatOnly,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_names_field_and_rule() {
        let error = Error::from(ValidationError::new(
            "card.phone",
            Rule::DigitCount {
                min: 11,
                max: 12,
                actual: 10,
            },
        ));
        assert_eq!(
            error.to_string(),
            "request not sent: card.phone must have 11 to 12 digits, has 10"
        );
    }

    #[test]
    fn retryable_errors_are_exactly_the_transient_ones() {
        let retryable = [
            Error::RateLimited { retry_after: None },
            Error::InstanceStarting,
            Error::Timeout,
            Error::Gateway {
                status: 499,
                body: String::new(),
            },
            Error::Gateway {
                status: 500,
                body: String::new(),
            },
            Error::Gateway {
                status: 502,
                body: String::new(),
            },
        ];
        let final_ = [
            Error::Unauthorized,
            Error::Forbidden,
            Error::NotAuthorized,
            Error::PayloadTooLarge {
                size: None,
                limit: 1,
            },
            Error::QuotaExceeded {
                method: None,
                used: Some(1),
                total: Some(1),
                description: None,
            },
            Error::Gateway {
                status: 400,
                body: String::new(),
            },
            Error::Gateway {
                status: 404,
                body: String::new(),
            },
            Error::SendUnconfirmed {
                cause: Box::new(Error::Timeout),
            },
            Error::Redirected { status: 307 },
        ];
        assert!(retryable.iter().all(Error::is_retryable));
        assert!(!final_.iter().any(Error::is_retryable));
    }
}
