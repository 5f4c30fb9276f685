//! One lock per conversation key, held from loading a state until the handler is done, so that
//! two events of one conversation never run at once — also when they come through different
//! chats' queues (a per-sender key).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OwnedMutexGuard;

use super::ConversationKey;

/// The locks of the keys in use; a key's entry lives while someone holds or waits for it.
#[derive(Default)]
pub(crate) struct KeyLocks {
    by_key: Mutex<HashMap<ConversationKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// A held key; dropping it lets the next waiter in.
pub(crate) struct KeyGuard {
    locks: Arc<KeyLocks>,
    key: ConversationKey,
    held: Option<OwnedMutexGuard<()>>,
}

impl KeyLocks {
    /// Waits until `key` is free, then holds it.
    pub(crate) async fn lock(self: &Arc<Self>, key: ConversationKey) -> KeyGuard {
        let lock = self.entries().entry(key.clone()).or_default().clone();
        KeyGuard {
            locks: self.clone(),
            key,
            held: Some(lock.lock_owned().await),
        }
    }

    /// Keys held or waited for.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.entries().len()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<ConversationKey, Arc<tokio::sync::Mutex<()>>>> {
        self.by_key
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        drop(self.held.take());
        let mut entries = self.locks.entries();
        // Only the table's own reference left: nobody holds or waits for the key.
        if entries
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::conversation::test_key as key;

    #[tokio::test(start_paused = true)]
    async fn a_held_key_makes_the_next_holder_wait_and_other_keys_do_not() {
        let locks = Arc::new(KeyLocks::default());
        let first = locks.lock(key("a")).await;
        let _other = locks.lock(key("b")).await;
        let waiting = tokio::spawn({
            let locks = locks.clone();
            async move { locks.lock(key("a")).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            !waiting.is_finished(),
            "the second holder got in while the first held"
        );
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(locks.in_use(), 2);
        drop(second);
        assert_eq!(locks.in_use(), 1, "a key nobody holds is forgotten");
    }
}
