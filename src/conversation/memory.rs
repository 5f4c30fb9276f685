//! Conversation states in memory: a moka cache bounded in number, and idle timeouts kept on
//! tokio's clock (so that tests can pause it).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use moka::notification::RemovalCause;
use moka::sync::Cache;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{ConversationKey, ConversationState, Storage};
use crate::error::BoxError;

/// How long a conversation may stay idle by default before it ends.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How many conversations the store keeps by default; past it, the least used go first.
pub const DEFAULT_MAX_CONVERSATIONS: u64 = 100_000;

/// Conversation states in this process's memory, bounded in number; a conversation idle past
/// the timeout (no message, no change) ends and is returned by [`Storage::expired`]. Cheap to
/// clone; clones share the states.
pub struct MemoryStorage<D> {
    shared: Arc<Shared<D>>,
}

struct Shared<D> {
    entries: Cache<ConversationKey, Entry<D>>,
    idle_timeout: Duration,
    timers: Mutex<Timers<D>>,
    changed: Notify,
}

#[derive(Clone)]
struct Entry<D> {
    state: D,
    timer: Timer,
}

/// When a state ends, and a number that tells this saving of the key from later ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    deadline: Instant,
    sequence: u64,
}

/// The keys by when they end. Guarded by one lock with the entries' changes, so that a key's
/// timer and its entry always agree.
struct Timers<D> {
    by_deadline: BTreeMap<Timer, ConversationKey>,
    /// Timed-out conversations found by a load before [`Storage::expired`] returned them.
    due: VecDeque<(ConversationKey, D)>,
    next_sequence: u64,
}

impl<D> Default for Timers<D> {
    fn default() -> Self {
        Self {
            by_deadline: BTreeMap::new(),
            due: VecDeque::new(),
            next_sequence: 0,
        }
    }
}

impl<D> Clone for MemoryStorage<D> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<D: ConversationState> Default for MemoryStorage<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: ConversationState> MemoryStorage<D> {
    /// A store with the defaults: 30 minutes idle timeout, 100 000 conversations.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONVERSATIONS)
    }

    /// A store ending conversations idle for `idle_timeout`, keeping at most
    /// `max_conversations` (the least used go first, with a warning: they end without the
    /// timeout hook).
    pub fn with_limits(idle_timeout: Duration, max_conversations: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_conversations)
            .eviction_listener(|key: Arc<ConversationKey>, _, cause| {
                if cause == RemovalCause::Size {
                    tracing::warn!(conversation = %key, "conversation dropped: the store is full");
                }
            })
            .build();
        Self {
            shared: Arc::new(Shared {
                entries,
                idle_timeout,
                timers: Mutex::default(),
                changed: Notify::new(),
            }),
        }
    }

    /// Conversations kept now.
    pub fn len(&self) -> u64 {
        self.shared.entries.run_pending_tasks();
        self.shared.entries.entry_count()
    }

    /// Whether no conversation is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<D: ConversationState> Shared<D> {
    /// Keeps `state` for `key` with a fresh timer.
    fn put(&self, timers: &mut Timers<D>, key: &ConversationKey, state: D) {
        if let Some(old) = self.entries.get(key) {
            timers.by_deadline.remove(&old.timer);
        }
        let timer = Timer {
            deadline: Instant::now()
                .checked_add(self.idle_timeout)
                .unwrap_or_else(far_future),
            sequence: timers.next_sequence,
        };
        timers.next_sequence += 1;
        timers.by_deadline.insert(timer, key.clone());
        self.entries.insert(key.clone(), Entry { state, timer });
        self.changed.notify_one();
    }

    /// Takes out the earliest conversation whose timer has run out, or says when the next one
    /// runs out (`None`: no timer is set).
    fn take_expired(&self) -> Result<(ConversationKey, D), Option<Instant>> {
        let mut timers = self.lock_timers();
        if let Some(expired) = timers.due.pop_front() {
            return Ok(expired);
        }
        while let Some((&timer, _)) = timers.by_deadline.first_key_value() {
            if timer.deadline > Instant::now() {
                return Err(Some(timer.deadline));
            }
            let (_, key) = timers.by_deadline.pop_first().expect("seen just above");
            // The entry may have been dropped for room, or saved again since.
            if let Some(entry) = self.entries.get(&key).filter(|entry| entry.timer == timer) {
                self.entries.invalidate(&key);
                return Ok((key, entry.state));
            }
        }
        Err(None)
    }

    fn lock_timers(&self) -> MutexGuard<'_, Timers<D>> {
        self.timers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A deadline no conversation reaches (for a timeout too long to add to now).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 60 * 60)
}

#[async_trait]
impl<D: ConversationState> Storage<D> for MemoryStorage<D> {
    async fn load(&self, key: &ConversationKey) -> Result<Option<D>, BoxError> {
        let shared = &self.shared;
        let mut timers = shared.lock_timers();
        let Some(entry) = shared.entries.get(key) else {
            return Ok(None);
        };
        if entry.timer.deadline <= Instant::now() {
            // Timed out and not yet returned by `expired`: it will be, and this message
            // starts anew.
            shared.entries.invalidate(key);
            timers.by_deadline.remove(&entry.timer);
            timers.due.push_back((key.clone(), entry.state));
            shared.changed.notify_one();
            return Ok(None);
        }
        shared.put(&mut timers, key, entry.state.clone());
        Ok(Some(entry.state))
    }

    async fn save(&self, key: &ConversationKey, state: D) -> Result<(), BoxError> {
        let shared = &self.shared;
        shared.put(&mut shared.lock_timers(), key, state);
        Ok(())
    }

    async fn remove(&self, key: &ConversationKey) -> Result<(), BoxError> {
        let shared = &self.shared;
        let mut timers = shared.lock_timers();
        if let Some(old) = shared.entries.remove(key) {
            timers.by_deadline.remove(&old.timer);
        }
        Ok(())
    }

    async fn expired(&self) -> Result<(ConversationKey, D), BoxError> {
        loop {
            let changed = self.shared.changed.notified();
            match self.shared.take_expired() {
                Ok(expired) => return Ok(expired),
                Err(Some(next)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(next) => {}
                        () = changed => {}
                    }
                }
                Err(None) => changed.await,
            }
        }
    }
}

impl<D> fmt::Debug for MemoryStorage<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStorage")
            .field("conversations", &self.shared.entries.entry_count())
            .field("idle_timeout", &self.shared.idle_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::test_key as key;

    const TIMEOUT: Duration = Duration::from_secs(30 * 60);

    fn store() -> MemoryStorage<u32> {
        MemoryStorage::with_limits(TIMEOUT, 1_000)
    }

    /// `expired()`, if it returns without the clock moving.
    async fn expired_now(store: &MemoryStorage<u32>) -> Option<(ConversationKey, u32)> {
        tokio::select! {
            biased;
            expired = store.expired() => Some(expired.unwrap()),
            () = std::future::ready(()) => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_saved_state_loads_back_until_removed() {
        let store = store();
        assert_eq!(store.load(&key("a")).await.unwrap(), None);
        store.save(&key("a"), 7).await.unwrap();
        assert_eq!(store.load(&key("a")).await.unwrap(), Some(7));
        assert_eq!(store.load(&key("b")).await.unwrap(), None);
        store.remove(&key("a")).await.unwrap();
        assert_eq!(store.load(&key("a")).await.unwrap(), None);
        tokio::time::advance(TIMEOUT * 2).await;
        assert_eq!(
            expired_now(&store).await,
            None,
            "a removed state does not time out"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_conversation_expires_once_at_its_timeout() {
        let store = store();
        store.save(&key("a"), 1).await.unwrap();
        tokio::time::advance(TIMEOUT - Duration::from_secs(1)).await;
        assert_eq!(expired_now(&store).await, None);
        let started = Instant::now();
        assert_eq!(store.expired().await.unwrap(), (key("a"), 1));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(store.load(&key("a")).await.unwrap(), None);
        assert_eq!(expired_now(&store).await, None, "returned once");
    }

    #[tokio::test(start_paused = true)]
    async fn loading_and_saving_restart_the_timeout() {
        let store = store();
        store.save(&key("a"), 1).await.unwrap();
        tokio::time::advance(TIMEOUT / 2).await;
        store.load(&key("a")).await.unwrap();
        tokio::time::advance(TIMEOUT / 2).await;
        store.save(&key("a"), 2).await.unwrap();
        tokio::time::advance(TIMEOUT - Duration::from_secs(1)).await;
        assert_eq!(expired_now(&store).await, None, "active within the timeout");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(expired_now(&store).await, Some((key("a"), 2)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_load_after_the_timeout_starts_anew_and_the_old_state_still_expires() {
        let store = store();
        store.save(&key("a"), 5).await.unwrap();
        tokio::time::advance(TIMEOUT).await;
        assert_eq!(store.load(&key("a")).await.unwrap(), None);
        store.save(&key("a"), 6).await.unwrap();
        assert_eq!(expired_now(&store).await, Some((key("a"), 5)));
        assert_eq!(store.load(&key("a")).await.unwrap(), Some(6));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_expired_call_wakes_for_a_state_saved_later() {
        let store = store();
        let waiting = tokio::spawn({
            let store = store.clone();
            async move { store.expired().await.unwrap() }
        });
        tokio::task::yield_now().await;
        store.save(&key("late"), 3).await.unwrap();
        let woken = tokio::time::timeout(TIMEOUT * 2, waiting).await;
        assert_eq!(woken.expect("woken by the save").unwrap(), (key("late"), 3));
    }

    #[tokio::test]
    async fn the_store_keeps_at_most_its_bound() {
        let store = MemoryStorage::with_limits(TIMEOUT, 50);
        for n in 0..500 {
            store.save(&key(&n.to_string()), n).await.unwrap();
        }
        assert!(store.len() <= 50, "{} kept", store.len());
    }
}
