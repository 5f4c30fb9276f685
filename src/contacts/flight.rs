//! [`Flight`]: one value loaded on demand, kept for a time-to-live, with one load shared by the
//! callers that miss it together. The contact list's cache: one entry per book needs none of a
//! general cache's machinery (and none of its memory).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::metrics::CacheCounters;

/// A loaded value and when it was loaded (on tokio's clock, so that a test can pause and
/// advance time).
pub(super) struct Loaded<T> {
    /// The value.
    pub(super) value: T,
    at: Instant,
}

impl<T> Loaded<T> {
    /// `value`, loaded now.
    pub(super) fn new(value: T) -> Arc<Self> {
        Arc::new(Self {
            value,
            at: Instant::now(),
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
    current: Mutex<Arc<OnceCell<Outcome<T>>>>,
    ttl: Duration,
}

impl<T> Flight<T> {
    /// Nothing loaded yet; a value is kept for `ttl`.
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            current: Mutex::new(Arc::default()),
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
        let cell = self.cell();
        if let Some(Ok(hit)) = cell.get()
            && hit.is_fresh(self.ttl)
        {
            counts.hit();
            return Ok(Arc::clone(hit));
        }
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
        *self.lock() = Arc::default();
    }

    fn cell(&self) -> Arc<OnceCell<Outcome<T>>> {
        Arc::clone(&self.lock())
    }

    /// A new, empty load in place of `done` (stale or failed), or the one another caller has
    /// already put in its place.
    fn replace(&self, done: &Arc<OnceCell<Outcome<T>>>) -> Arc<OnceCell<Outcome<T>>> {
        let mut current = self.lock();
        if Arc::ptr_eq(&current, done) {
            *current = Arc::default();
        }
        Arc::clone(&current)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Arc<OnceCell<Outcome<T>>>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands a failed load's error to one of the callers that waited for it: they all share the
/// same `Arc<Error>`; the last holder gets the original, the others a clone.
pub(super) fn unshare(error: Arc<Error>) -> Error {
    Arc::try_unwrap(error).unwrap_or_else(|shared| (*shared).clone())
}
