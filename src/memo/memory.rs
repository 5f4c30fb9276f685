//! The memos of a bot whose store is in memory: one bounded table for all of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::durable::MAX_MEMO_ENTRIES;

/// Every entry of a bot's memos in memory: JSON values by (memo, key), each with its expiry,
/// at most a capacity of them; past it, the entry written longest ago is dropped.
#[derive(Debug)]
pub(crate) struct MemoryTable {
    capacity: usize,
    entries: Mutex<Entries>,
}

/// A memo's name and an entry's key.
type Key = (String, String);

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<Key, Entry>,
    /// The keys in the order they were last written, by a counter.
    written: BTreeMap<u64, Key>,
    next: u64,
}

#[derive(Debug)]
struct Entry {
    value: String,
    expires: Option<Instant>,
    written: u64,
}

impl Default for MemoryTable {
    fn default() -> Self {
        Self::with_capacity(usize::try_from(MAX_MEMO_ENTRIES).unwrap_or(usize::MAX))
    }
}

impl MemoryTable {
    /// A table of at most `capacity` entries.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }

    /// The value of `memo`'s `key`, unless absent or expired (an expired one is dropped).
    pub(crate) fn get(&self, memo: &str, key: &str) -> Option<String> {
        let mut entries = self.lock();
        let key = (memo.to_owned(), key.to_owned());
        let entry = entries.by_key.get(&key)?;
        if entry
            .expires
            .is_some_and(|expires| expires <= Instant::now())
        {
            entries.remove(&key);
            return None;
        }
        Some(entry.value.clone())
    }

    /// Keeps `value` under `memo`'s `key` for `ttl` (for ever when `None`).
    pub(crate) fn put(&self, memo: &str, key: &str, value: String, ttl: Option<Duration>) {
        let expires = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
        let mut entries = self.lock();
        let key = (memo.to_owned(), key.to_owned());
        entries.remove(&key);
        while entries.by_key.len() >= self.capacity {
            let Some((_, oldest)) = entries.written.pop_first() else {
                break;
            };
            entries.by_key.remove(&oldest);
            tracing::warn!(memo = %oldest.0, "memo entry dropped: the memos are full");
        }
        let written = entries.next;
        entries.next += 1;
        entries.written.insert(written, key.clone());
        entries.by_key.insert(
            key,
            Entry {
                value,
                expires,
                written,
            },
        );
    }

    /// Forgets `memo`'s `key`.
    pub(crate) fn remove(&self, memo: &str, key: &str) {
        self.lock().remove(&(memo.to_owned(), key.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while the lock was held cannot leave the table inconsistent in a way that
        // matters more than losing it: go on with what it holds.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Entries {
    fn remove(&mut self, key: &Key) {
        if let Some(entry) = self.by_key.remove(key) {
            self.written.remove(&entry.written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    #[tokio::test(start_paused = true)]
    async fn an_entry_lives_for_its_ttl() {
        let table = MemoryTable::default();
        table.put("greeted", "anna", "1".into(), Some(DAY));
        table.put("greeted", "ivan", "2".into(), None);
        tokio::time::advance(DAY - Duration::from_secs(1)).await;
        assert_eq!(table.get("greeted", "anna").as_deref(), Some("1"));
        assert_eq!(table.get("other", "anna"), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(table.get("greeted", "anna"), None);
        assert_eq!(table.get("greeted", "ivan").as_deref(), Some("2"));
        assert_eq!(table.lock().by_key.len(), 1, "the expired entry is dropped");
        assert_eq!(table.lock().written.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_table_drops_the_entry_written_longest_ago() {
        let table = MemoryTable::with_capacity(2);
        table.put("m", "old", "1".into(), None);
        table.put("m", "recent", "2".into(), None);
        table.put("m", "old", "3".into(), None);
        table.put("m", "new", "4".into(), None);
        assert_eq!(table.get("m", "recent"), None, "written longest ago");
        assert_eq!(table.get("m", "old").as_deref(), Some("3"));
        assert_eq!(table.get("m", "new").as_deref(), Some("4"));
        table.remove("m", "old");
        assert_eq!(table.get("m", "old"), None);
        let entries = table.lock();
        assert_eq!((entries.by_key.len(), entries.written.len()), (1, 1));
    }
}
