//! Credentials that must never be printed.

use std::fmt;
use std::sync::Arc;

/// A credential (an instance token, a client token, a webhook token).
///
/// Its [`Debug`](fmt::Debug) and [`Display`](fmt::Display) print `***`, so a secret inside a
/// configuration, an error or a tracing field never leaks. Read the value with
/// [`expose`](Secret::expose) only where it is put on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of this secret in `text` with `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&*self.0, "***")
        }
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("d75b3a66374942c5b3c019c698abc2067e151558acbd412345");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(
            secret.expose(),
            "d75b3a66374942c5b3c019c698abc2067e151558acbd412345"
        );
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let secret = Secret::new("tok");
        assert_eq!(secret.redact("/a/tok/b?tok"), "/a/***/b?***");
        assert_eq!(Secret::new("").redact("unchanged"), "unchanged");
    }
}
