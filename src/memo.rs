//! Memos: small data a handler keeps per key for a while — the chats it greeted, the chats in
//! which a person took over — in the bot's [store](crate::store): in memory, in Redis, or in
//! the embedded durable store, where it survives a restart.
//!
//! ```no_run
//! use std::time::Duration;
//! use hookbot::context::Context;
//!
//! async fn greet(cx: Context) -> hookbot::Result<()> {
//!     let Some(chat) = cx.chat() else { return Ok(()) };
//!     let greeted = cx.memo::<()>("greeted").ttl(Duration::from_secs(24 * 60 * 60));
//!     if greeted.get(chat.as_str()).await?.is_none() {
//!         greeted.put(chat.as_str(), &()).await?;
//!         cx.reply("Hello! We answer within the hour.").quote().await?;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! A memo from [`Scope::memo`](crate::context::Scope::memo) belongs to the event's instance:
//! the same key on two instances of one bot is two entries. Values are kept as JSON, at most
//! [`MAX_VALUE_BYTES`] each, and a store keeps at most
//! [`MAX_MEMO_ENTRIES`](crate::durable::MAX_MEMO_ENTRIES) over all memos: past it, the entry
//! written longest ago is dropped, with a warning. A value that no longer reads as the memo's
//! type (it changed in a new release) reads as absent.

mod memory;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::durable::{self, DurableStore, MAX_VALUE_BYTES, StoreError};
use crate::error::{Error, Result};

use memory::MemoryTable;

/// A named map of keys to values of type `V`, each entry kept for the memo's
/// [`ttl`](Memo::ttl) or until removed, in the bot's store. Get one from a handler's context
/// with [`cx.memo(name)`](crate::context::Scope::memo); cheap to make and to clone.
pub struct Memo<V> {
    backend: Backend<V>,
    /// What the keys are prefixed with: the instance the memo belongs to.
    scope: Arc<str>,
}

enum Backend<V> {
    Memory {
        table: Arc<MemoryTable>,
        name: Arc<str>,
        ttl: Option<Duration>,
    },
    Durable(durable::Memo<V>),
    #[cfg(feature = "redis")]
    Redis {
        memos: Arc<crate::redis::memo::RedisMemos>,
        name: Arc<str>,
        ttl: Option<Duration>,
    },
}

impl<V> Memo<V> {
    /// Forgets each entry `ttl` after it was last put (by default entries live until removed
    /// or dropped for room). It applies to the entries put from now on.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.backend = match self.backend {
            Backend::Memory { table, name, .. } => Backend::Memory {
                table,
                name,
                ttl: Some(ttl),
            },
            Backend::Durable(memo) => Backend::Durable(memo.ttl(ttl)),
            #[cfg(feature = "redis")]
            Backend::Redis { memos, name, .. } => Backend::Redis {
                memos,
                name,
                ttl: Some(ttl),
            },
        };
        self
    }

    /// The stored key of `key`.
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.scope)
    }
}

impl<V: Serialize + DeserializeOwned> Memo<V> {
    /// The value kept under `key`, unless absent or expired.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the store cannot be read.
    pub async fn get(&self, key: &str) -> Result<Option<V>> {
        let key = self.key(key);
        match &self.backend {
            Backend::Memory { table, name, .. } => {
                Ok(table.get(name, &key).and_then(|value| read(name, &value)))
            }
            Backend::Durable(memo) => memo.get(&key).await,
            #[cfg(feature = "redis")]
            Backend::Redis { memos, name, .. } => Ok(memos
                .get(name, &key)
                .await?
                .and_then(|value| read(name, &value))),
        }
    }

    /// Keeps `value` under `key`, replacing what was there, for the memo's time to live.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when `value` cannot be written as JSON or is over
    /// [`MAX_VALUE_BYTES`] as JSON, or the store cannot keep it.
    pub async fn put(&self, key: &str, value: &V) -> Result<()> {
        let key = self.key(key);
        match &self.backend {
            Backend::Memory { table, name, ttl } => {
                table.put(name, &key, write(value)?, *ttl);
                Ok(())
            }
            Backend::Durable(memo) => memo.put(&key, value).await,
            #[cfg(feature = "redis")]
            Backend::Redis { memos, name, ttl } => {
                memos.put(name, &key, &write(value)?, *ttl).await
            }
        }
    }

    /// Forgets `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the store cannot forget it.
    pub async fn remove(&self, key: &str) -> Result<()> {
        let key = self.key(key);
        match &self.backend {
            Backend::Memory { table, name, .. } => {
                table.remove(name, &key);
                Ok(())
            }
            Backend::Durable(memo) => memo.remove(&key).await,
            #[cfg(feature = "redis")]
            Backend::Redis { memos, name, .. } => memos.remove(name, &key).await,
        }
    }
}

/// `value` as JSON, within the size every store takes.
fn write<V: Serialize>(value: &V) -> Result<String> {
    let json = serde_json::to_string(value).map_err(|error| Error::storage(Box::new(error)))?;
    if json.len() > MAX_VALUE_BYTES {
        return Err(StoreError::TooLarge {
            size: json.len(),
            limit: MAX_VALUE_BYTES,
        }
        .into());
    }
    Ok(json)
}

/// The value of `json`, or `None` (with a warning) when it does not read as `V`.
fn read<V: DeserializeOwned>(memo: &str, json: &str) -> Option<V> {
    serde_json::from_str(json)
        .inspect_err(|error| {
            tracing::warn!(%memo, %error, "a kept value does not read as the memo's type; taken as absent");
        })
        .ok()
}

impl<V> Clone for Memo<V> {
    fn clone(&self) -> Self {
        let backend = match &self.backend {
            Backend::Memory { table, name, ttl } => Backend::Memory {
                table: table.clone(),
                name: name.clone(),
                ttl: *ttl,
            },
            Backend::Durable(memo) => Backend::Durable(memo.clone()),
            #[cfg(feature = "redis")]
            Backend::Redis { memos, name, ttl } => Backend::Redis {
                memos: memos.clone(),
                name: name.clone(),
                ttl: *ttl,
            },
        };
        Self {
            backend,
            scope: self.scope.clone(),
        }
    }
}

impl<V> fmt::Debug for Memo<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Memo");
        match &self.backend {
            Backend::Memory { name, ttl, .. } => debug
                .field("store", &"memory")
                .field("name", name)
                .field("ttl", ttl),
            Backend::Durable(memo) => debug.field("store", memo),
            #[cfg(feature = "redis")]
            Backend::Redis { name, ttl, .. } => debug
                .field("store", &"redis")
                .field("name", name)
                .field("ttl", ttl),
        };
        debug.field("scope", &self.scope).finish()
    }
}

/// Where a bot's memos live: what its [`Store`](crate::store::Store) gives the handlers.
#[derive(Clone, Debug)]
pub(crate) enum Memos {
    /// In this process, in one bounded table.
    Memory(Arc<MemoryTable>),
    /// In the embedded durable store.
    Durable(DurableStore),
    /// In Redis, shared by the replicas.
    #[cfg(feature = "redis")]
    Redis(Arc<crate::redis::memo::RedisMemos>),
}

impl Memos {
    /// Memos in a table of this process of their own.
    pub(crate) fn in_memory() -> Self {
        Self::Memory(Arc::default())
    }

    /// The memo `name`, its keys prefixed with `scope`.
    pub(crate) fn memo<V>(&self, name: &str, scope: Arc<str>) -> Memo<V> {
        let backend = match self {
            Self::Memory(table) => Backend::Memory {
                table: table.clone(),
                name: name.into(),
                ttl: None,
            },
            Self::Durable(store) => Backend::Durable(store.memo(name)),
            #[cfg(feature = "redis")]
            Self::Redis(memos) => Backend::Redis {
                memos: memos.clone(),
                name: name.into(),
                ttl: None,
            },
        };
        Memo { backend, scope }
    }
}

/// The memos of the replicas of a bot on this Redis (under its namespace).
#[cfg(feature = "redis")]
impl From<&crate::redis::Redis> for Memos {
    fn from(redis: &crate::redis::Redis) -> Self {
        Self::Redis(Arc::new(crate::redis::memo::RedisMemos::new(redis)))
    }
}

/// The memos of a bot on the embedded durable store: they survive a restart.
impl From<DurableStore> for Memos {
    fn from(store: DurableStore) -> Self {
        Self::Durable(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::test_support::{T0, open};
    use crate::durable::{Clock, StoreSettings};

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    const ANNA: &str = "79001234567@c.us";

    #[tokio::test]
    async fn each_scope_keeps_its_own_entries_and_a_value_reads_only_as_its_type() {
        let memos = Memos::in_memory();
        let first = memos.memo::<u32>("greeted", "green-api/1/".into());
        let second = memos.memo::<u32>("greeted", "green-api/2/".into());
        first.put(ANNA, &7).await.unwrap();
        assert_eq!(first.get(ANNA).await.unwrap(), Some(7));
        assert_eq!(second.get(ANNA).await.unwrap(), None);
        let as_text = memos.memo::<String>("greeted", "green-api/1/".into());
        assert_eq!(as_text.get(ANNA).await.unwrap(), None);
        first.remove(ANNA).await.unwrap();
        assert_eq!(first.get(ANNA).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_value_over_the_limit_is_refused_by_the_memory_store_too() {
        let notes = Memos::in_memory().memo::<String>("notes", "".into());
        let error = notes
            .put(ANNA, &"x".repeat(MAX_VALUE_BYTES))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
        assert_eq!(notes.get(ANNA).await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_memory_entry_lives_for_the_memos_ttl() {
        let greeted = Memos::in_memory().memo::<()>("greeted", "".into()).ttl(DAY);
        greeted.put(ANNA, &()).await.unwrap();
        tokio::time::advance(DAY - Duration::from_secs(1)).await;
        assert_eq!(greeted.get(ANNA).await.unwrap(), Some(()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(greeted.get(ANNA).await.unwrap(), None);
    }

    #[tokio::test]
    async fn memos_on_a_durable_store_survive_a_reopen_for_their_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let greeted = |store| {
            Memos::from(store)
                .memo::<()>("greeted", "green-api/1/".into())
                .ttl(DAY)
        };
        greeted(open(dir.path(), StoreSettings::new(), &clock))
            .put(ANNA, &())
            .await
            .unwrap();
        clock.advance(DAY - Duration::from_secs(1));
        let store = open(dir.path(), StoreSettings::new(), &clock);
        assert_eq!(
            store
                .memo::<()>("greeted")
                .get(&format!("green-api/1/{ANNA}"))
                .await
                .unwrap(),
            Some(()),
            "kept under the scoped key"
        );
        let memo = greeted(store);
        assert_eq!(memo.get(ANNA).await.unwrap(), Some(()));
        clock.advance(Duration::from_secs(1));
        assert_eq!(memo.get(ANNA).await.unwrap(), None);
    }
}
