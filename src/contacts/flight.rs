//! [`Flight`]: one value loaded on demand, kept for a time-to-live, with one load shared by the
//! callers that miss it together. The contact list's cache: one entry per book needs none of a
//! general cache's machinery (and none of its memory).
//!
//! A hit reads the current load through an [`ArcSwap`]: no lock and no reference count of the
//! load is written, only the value's own count for the caller that keeps it (a bot of a
//! thousand instances reads a thousand books, each cold in the processor's caches, and every
//! write to a cold line is a miss that must own it).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::metrics::CacheCounters;

/// A loaded value and when it was loaded (on tokio's clock, so that a test can pause and
/// advance time).
///
/// The time comes first (`repr(C)` keeps it there): a hit reads it and counts one more holder,
/// so it sits on the line of the shared value's reference counts, not after a value of a few
/// hundred bytes (a bot of a thousand instances finds each book cold).
#[repr(C)]
pub(super) struct Loaded<T> {
    at: Instant,
    /// The value.
    pub(super) value: T,
}

impl<T> Loaded<T> {
    /// `value`, loaded now.
    pub(super) fn new(value: T) -> Arc<Self> {
        Arc::new(Self {
            at: Instant::now(),
            value,
        })
    }

    /// Whether it was loaded less than `ttl` ago.
    pub(super) fn is_fresh(&self, ttl: Duration) -> bool {
        self.at.elapsed() < ttl
    }
}

/// What a load gives its callers: the value, or the error each of them gets.
type Outcome<T> = std::result::Result<Arc<Loaded<T>>, Arc<Error>>;

/// One value, loaded when missing, stale or failed; see the [module docs](self).
pub(super) struct Flight<T> {
    /// The current load: empty until someone loads, then its outcome. Replaced (never reset)
    /// when stale, failed or invalidated, so that callers still waiting on the old one finish
    /// with it.
    current: ArcSwap<OnceCell<Outcome<T>>>,
    ttl: Duration,
}

impl<T> Flight<T> {
    /// Nothing loaded yet; a value is kept for `ttl`.
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            current: ArcSwap::default(),
            ttl,
        }
    }

    /// The value, loaded with `load` when missing, older than the time-to-live or failed;
    /// counted as a hit or a miss. Callers that miss together share one `load`; when it fails
    /// each of them gets the error, and the next call loads again.
    pub(super) async fn get<F>(&self, counts: &CacheCounters, load: F) -> Result<Arc<Loaded<T>>>
    where
        F: Future<Output = Result<T>>,
    {
        let cell = self.current.load();
        if let Some(Ok(hit)) = cell.get()
            && hit.is_fresh(self.ttl)
        {
            counts.hit();
            return Ok(Arc::clone(hit));
        }
        let cell = Guard::into_inner(cell);
        let cell = if cell.initialized() {
            self.replace(&cell)
        } else {
            cell
        };
        counts.miss();
        let load = async { Ok(Loaded::new(load.await.map_err(Arc::new)?)) };
        cell.get_or_init(|| load).await.clone().map_err(unshare)
    }

    /// Forgets the value: the next call loads it again.
    pub(super) fn invalidate(&self) {
        self.current.store(Arc::default());
    }

    /// A new, empty load in place of `done` (stale or failed), or the one another caller has
    /// already put in its place.
    fn replace(&self, done: &Arc<OnceCell<Outcome<T>>>) -> Arc<OnceCell<Outcome<T>>> {
        let empty = Arc::default();
        let before = self.current.compare_and_swap(done, Arc::clone(&empty));
        if Arc::ptr_eq(&before, done) {
            empty
        } else {
            Guard::into_inner(before)
        }
    }
}

/// Hands a failed load's error to one of the callers that waited for it: they all share the
/// same `Arc<Error>`; the last holder gets the original, the others a clone.
pub(super) fn unshare(error: Arc<Error>) -> Error {
    Arc::try_unwrap(error).unwrap_or_else(|shared| (*shared).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_replacing_the_same_done_load_share_one_new_load() {
        let flight = Flight::<u8>::new(Duration::ZERO);
        let done = flight.current.load_full();
        let first = flight.replace(&done);
        let second = flight.replace(&done);
        assert!(!Arc::ptr_eq(&first, &done));
        assert!(Arc::ptr_eq(&first, &second));
        assert!(Arc::ptr_eq(&first, &flight.current.load_full()));
    }

    #[test]
    fn invalidate_puts_a_new_load_in_place() {
        let flight = Flight::<u8>::new(Duration::ZERO);
        let before = flight.current.load_full();
        flight.invalidate();
        assert!(!Arc::ptr_eq(&before, &flight.current.load_full()));
    }
}
