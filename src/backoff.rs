//! Waits between tries after failures: bounded exponential backoff with equal jitter.
//!
//! After `n` failures in a row the wait is drawn from the upper half of
//! `min(initial · 2ⁿ⁻¹, max)`, so that it grows with each failure, never passes `max`, and many
//! clients that failed together do not try again in step. A success starts over.

use std::time::Duration;

use rand::Rng;

/// Bounded exponential backoff with equal jitter: the waits after failures in a row, started
/// over by [`reset`](Backoff::reset).
///
/// All arithmetic saturates: no initial wait, maximum or count of failures overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Waits from `initial` (after the first failure), doubling with each further failure, up
    /// to `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            failures: 0,
        }
    }

    /// The same backoff after `failures` failures in a row.
    pub(crate) fn after(mut self, failures: u32) -> Self {
        self.failures = failures;
        self
    }

    /// Counts one more failure and returns the wait before the next try: a random duration
    /// from half the [ceiling](Backoff::ceiling) to the whole of it.
    pub(crate) fn next(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        half + rand::rng().random_range(Duration::ZERO..=ceiling - half)
    }

    /// Starts over after a success: the next wait is drawn from the initial one.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The longest the next wait can be: `initial · 2^failures`, at most `max`.
    fn ceiling(&self) -> Duration {
        let doubled = match 1_u32.checked_shl(self.failures) {
            Some(factor) => self.initial.saturating_mul(factor),
            None if self.initial.is_zero() => Duration::ZERO,
            None => Duration::MAX,
        };
        doubled.min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_ceiling_doubles_from_the_initial_wait_up_to_the_max() {
        let mut backoff = Backoff::new(100 * MS, 400 * MS);
        for ceiling in [100, 200, 400, 400, 400] {
            assert_eq!(backoff.ceiling(), ceiling * MS);
            backoff.next();
        }
    }

    #[test]
    fn each_wait_is_within_the_upper_half_of_its_ceiling() {
        let mut backoff = Backoff::new(100 * MS, 400 * MS);
        for full in [100, 200, 400, 400, 400] {
            let wait = backoff.next();
            let full = full * MS;
            assert!(wait >= full / 2 && wait <= full, "{wait:?} for {full:?}");
        }
    }

    #[test]
    fn reset_starts_over_from_the_initial_wait() {
        let mut backoff = Backoff::new(100 * MS, 10_000 * MS);
        for _ in 0..10 {
            backoff.next();
        }
        backoff.reset();
        assert_eq!(backoff.ceiling(), 100 * MS);
        assert!(backoff.next() <= 100 * MS);
    }

    #[test]
    fn after_counts_failures_already_had() {
        assert_eq!(Backoff::new(MS, 1000 * MS).after(3).ceiling(), 8 * MS);
        assert_eq!(
            Backoff::new(MS, 1000 * MS).after(0),
            Backoff::new(MS, 1000 * MS)
        );
    }

    #[test]
    fn a_max_below_the_initial_wait_caps_every_wait() {
        let mut backoff = Backoff::new(500 * MS, 200 * MS);
        assert_eq!(backoff.ceiling(), 200 * MS);
        assert!(backoff.next() <= 200 * MS);
    }

    #[test]
    fn no_input_overflows() {
        for initial in [Duration::ZERO, Duration::from_nanos(1), Duration::MAX] {
            for max in [Duration::ZERO, Duration::from_secs(1), Duration::MAX] {
                for failures in [0, 1, 31, 32, 33, 64, u32::MAX - 1, u32::MAX] {
                    let mut backoff = Backoff::new(initial, max).after(failures);
                    let ceiling = backoff.ceiling();
                    assert!(ceiling <= max, "{initial:?} {max:?} {failures}");
                    let wait = backoff.next();
                    assert!(wait >= ceiling / 2 && wait <= ceiling);
                    backoff.next();
                }
            }
        }
    }

    #[test]
    fn the_ceiling_never_shrinks_as_failures_grow() {
        let backoff = Backoff::new(Duration::from_nanos(1), Duration::MAX);
        let ceilings: Vec<Duration> = [0, 1, 30, 31, 32, 40, u32::MAX]
            .into_iter()
            .map(|failures| backoff.after(failures).ceiling())
            .collect();
        assert!(ceilings.is_sorted(), "{ceilings:?}");
        assert_eq!(ceilings.last(), Some(&Duration::MAX));
    }

    #[test]
    fn a_zero_initial_wait_never_waits() {
        let mut backoff = Backoff::new(Duration::ZERO, Duration::MAX).after(u32::MAX);
        assert_eq!(backoff.next(), Duration::ZERO);
    }
}
