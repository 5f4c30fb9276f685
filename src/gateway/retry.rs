//! When and how long to wait before trying a failed request again.

use std::time::Duration;

use crate::backoff::Backoff;

/// Retries with exponential backoff and jitter, bounded in attempts and in total time.
///
/// Only [retryable](crate::Error::is_retryable) failures are retried: HTTP 429, 499, 500, 502,
/// 503, 504, "instance in starting process", time-outs and connection errors. A `Retry-After`
/// header is honoured (the wait is at least that long; a longer one than
/// [`MAX_RETRY_AFTER`](super::MAX_RETRY_AFTER) is read as that). Validation errors, 401, 403,
/// 466, redirects and other 4xx answers are returned at once.
///
/// # A send is not repeated when it may have gone out
///
/// Look-ups (contacts, contact info, settings, the notification queue) change nothing at the
/// gateway and are retried as above. A send (every method that sends a message) is repeated
/// only after a failure that proves the gateway did not take it: no connection was made
/// (refused, DNS, TLS), HTTP 429, or a 4xx refusal such as "instance in starting process".
/// After a failure that proves nothing — a time-out once the request was on its way, a
/// connection lost mid-exchange, HTTP 499 or 5xx — another attempt could deliver the message
/// twice, so:
///
/// - **GREEN-API** keeps a journal of what the instance sent. The client waits the delay a
///   retry would, then reads it (`lastOutgoingMessages`): a record of this message (same chat,
///   same text or contact's phone, sent through the API since the first attempt) is the send's
///   result, and its id is returned without sending again; no record of it, and the send is
///   repeated; a journal it cannot read or reach, or records it cannot tell apart: the failure
///   is reported as [`Error::SendUnconfirmed`](crate::Error::SendUnconfirmed).
/// - **Z-API** keeps no such journal: the failure is reported as
///   [`Error::SendUnconfirmed`](crate::Error::SendUnconfirmed) at once.
///
/// GREEN-API documents that a message may take up to 2 minutes to show in its journal, so a
/// message the gateway took moments before the time-out can be missing from it and go out
/// twice: the check narrows that window, it does not close it. With [`RetryPolicy::none`] a
/// send is never repeated (its journal is still read, to return the id of a message that did
/// go out). With [`at_least_once_sends`](RetryPolicy::at_least_once_sends) sends are retried
/// like look-ups, for messages where a duplicate is better than a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    max_elapsed: Duration,
    at_least_once_sends: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
            at_least_once_sends: false,
        }
    }
}

impl RetryPolicy {
    /// Five attempts, first wait 0.5 s, doubling up to 10 s, giving up after 60 s in all; a
    /// send that may have gone out is repeated only when the gateway's journal shows it did
    /// not.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single attempt: failures are returned as they are.
    pub fn none() -> Self {
        Self::default().max_attempts(1)
    }

    /// How many attempts at most, the first included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait before the first retry; each further wait doubles it.
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest wait between two attempts, unless the gateway's `Retry-After` asks for more.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// No retry starts after this much time has passed since the first attempt.
    #[must_use]
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// With `true`, a send is retried like a look-up after any retryable failure, also when it
    /// may have gone out: the chat may then get the message twice, but a message the gateway
    /// lost is sent again. Off by default.
    #[must_use]
    pub fn at_least_once_sends(mut self, at_least_once: bool) -> Self {
        self.at_least_once_sends = at_least_once;
        self
    }

    /// Whether a send that may have gone out is retried anyway.
    pub(crate) fn repeats_unconfirmed_sends(&self) -> bool {
        self.at_least_once_sends
    }

    /// The wait before attempt `failed_attempts + 1`, or `None` to give up.
    ///
    /// The [backoff](Backoff) is `initial_delay · 2^(failed_attempts − 1)`, capped at
    /// `max_delay`, of which a random half is kept ("equal jitter") so that many clients do not
    /// retry in step; a `retry_after` from the gateway raises the wait to at least that.
    pub(crate) fn delay(
        &self,
        failed_attempts: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if failed_attempts >= self.max_attempts {
            return None;
        }
        let jittered = Backoff::new(self.initial_delay, self.max_delay)
            .after(failed_attempts.saturating_sub(1))
            .next();
        let wait = retry_after.map_or(jittered, |after| after.max(jittered));
        (elapsed.saturating_add(wait) <= self.max_elapsed).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new()
            .max_attempts(5)
            .initial_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(400))
            .max_elapsed(Duration::from_secs(10))
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        for (failed, full) in [(1, 100), (2, 200), (3, 400), (4, 400)] {
            let wait = policy().delay(failed, Duration::ZERO, None).unwrap();
            let full = Duration::from_millis(full);
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {failed}: {wait:?}"
            );
        }
    }

    #[test]
    fn gives_up_after_max_attempts() {
        assert!(policy().delay(5, Duration::ZERO, None).is_none());
        assert!(RetryPolicy::none().delay(1, Duration::ZERO, None).is_none());
    }

    #[test]
    fn retry_after_raises_the_wait() {
        let wait = policy().delay(1, Duration::ZERO, Some(Duration::from_secs(3)));
        assert_eq!(wait, Some(Duration::from_secs(3)));
    }

    #[test]
    fn huge_settings_and_counts_do_not_overflow() {
        let policy = RetryPolicy::new()
            .max_attempts(u32::MAX)
            .initial_delay(Duration::MAX)
            .max_delay(Duration::MAX)
            .max_elapsed(Duration::MAX);
        assert!(policy.delay(u32::MAX - 1, Duration::MAX, None).is_some());
        assert!(
            policy
                .delay(1, Duration::MAX, Some(Duration::MAX))
                .is_some()
        );
    }

    #[test]
    fn the_longest_retry_after_gives_up_without_overflowing() {
        let wait = policy().delay(1, Duration::from_secs(9), Some(Duration::MAX));
        assert_eq!(wait, None);
    }

    #[test]
    fn gives_up_when_the_wait_would_pass_max_elapsed() {
        assert!(
            policy()
                .delay(1, Duration::from_secs(9), Some(Duration::from_secs(2)))
                .is_none()
        );
    }
}
