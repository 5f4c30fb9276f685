//! Small durable data for handlers: named maps of keys to values, each entry with an optional
//! time to live, in the store's database.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::writer::{Batch, Counts, Op, PURGE_CHUNK};
use super::{DurableStore, MAX_VALUE_BYTES, Millis, StoreError, millis};
use crate::error::Result;

/// Memo entries a store keeps at most, over all memos; past it the entry written longest ago
/// is dropped, with a warning.
pub const MAX_MEMO_ENTRIES: u64 = 100_000;

/// A small durable map of keys (a chat id, a user's id) to values of type `V`, kept in a
/// [`DurableStore`] under a name: what a bot must remember across restarts, such as when it last
/// greeted each chat. Each entry lives for the memo's [`ttl`](Memo::ttl), or until removed.
///
/// ```no_run
/// use std::time::{Duration, SystemTime};
/// use hookbot::durable::{DurableStore, StoreSettings};
///
/// # async fn run() -> hookbot::Result<()> {
/// let store = DurableStore::open("hookbot-data", StoreSettings::new())?;
/// let greeted = store.memo::<SystemTime>("greeted").ttl(Duration::from_secs(24 * 60 * 60));
/// if greeted.get("79001234567@c.us").await?.is_none() {
///     // greet, then:
///     greeted.put("79001234567@c.us", &SystemTime::now()).await?;
/// }
/// # Ok(()) }
/// ```
///
/// Values are kept as JSON, at most [`MAX_VALUE_BYTES`] each; the store keeps at most
/// [`MAX_MEMO_ENTRIES`] over all memos. A value that no longer reads as `V` (the type changed
/// in a new release) reads as absent, with a warning. Cheap to clone.
pub struct Memo<V> {
    store: DurableStore,
    name: Arc<str>,
    ttl: Option<Duration>,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for Memo<V> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            name: self.name.clone(),
            ttl: self.ttl,
            _value: PhantomData,
        }
    }
}

impl<V> Memo<V> {
    /// The memo `name` of `store`, its entries kept until removed.
    pub(super) fn new(store: DurableStore, name: &str) -> Self {
        Self {
            store,
            name: name.into(),
            ttl: None,
            _value: PhantomData,
        }
    }

    /// Forgets each entry `ttl` after it was last put (by default entries live until
    /// removed). It applies to the entries put from now on.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl<V: Serialize + DeserializeOwned> Memo<V> {
    /// The value kept under `key`, unless absent or expired.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the store cannot be read.
    pub async fn get(&self, key: &str) -> Result<Option<V>> {
        let value = self
            .store
            .run(Get {
                memo: self.name.clone(),
                key: key.to_owned(),
            })
            .await?;
        let Some(value) = value else { return Ok(None) };
        match serde_json::from_str(&value) {
            Ok(value) => Ok(Some(value)),
            Err(error) => {
                tracing::warn!(memo = %self.name, %error, "a kept value does not read as the memo's type; taken as absent");
                Ok(None)
            }
        }
    }

    /// Keeps `value` under `key`, replacing what was there, for the memo's time to live.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when `value` is over [`MAX_VALUE_BYTES`] as
    /// JSON, or cannot be written as JSON, or the store cannot commit it.
    pub async fn put(&self, key: &str, value: &V) -> Result<()> {
        let value =
            serde_json::to_string(value).map_err(|error| crate::Error::storage(Box::new(error)))?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge {
                size: value.len(),
                limit: MAX_VALUE_BYTES,
            }
            .into());
        }
        self.store
            .run(Put {
                memo: self.name.clone(),
                key: key.to_owned(),
                value,
                ttl: self.ttl.map(millis),
            })
            .await
    }

    /// Forgets `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the store cannot commit it.
    pub async fn remove(&self, key: &str) -> Result<()> {
        self.store
            .run(Remove {
                memo: self.name.clone(),
                key: key.to_owned(),
            })
            .await
    }
}

impl<V> fmt::Debug for Memo<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memo")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The value under a key, unless absent or expired (an expired one is deleted).
struct Get {
    memo: Arc<str>,
    key: String,
}

impl Op for Get {
    type Output = Option<String>;

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<Option<String>> {
        let found: Option<(String, Option<Millis>)> = batch
            .tx
            .prepare_cached("SELECT value, expires FROM memos WHERE memo = ?1 AND key = ?2")?
            .query_row(params![&*self.memo, self.key], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        match found {
            Some((_, Some(expires))) if expires <= batch.now => {
                delete(batch, &self.memo, &self.key)?;
                Ok(None)
            }
            Some((value, _)) => Ok(Some(value)),
            None => Ok(None),
        }
    }
}

/// Keeps a value under a key.
struct Put {
    memo: Arc<str>,
    key: String,
    value: String,
    ttl: Option<Millis>,
}

impl Op for Put {
    type Output = ();

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<()> {
        let now = batch.now;
        let expires = self.ttl.map(|ttl| now.saturating_add(ttl));
        let row = params![&*self.memo, self.key, self.value, now, expires];
        let updated = batch
            .tx
            .prepare_cached(
                "UPDATE memos SET value = ?3, written = ?4, expires = ?5
                 WHERE memo = ?1 AND key = ?2",
            )?
            .execute(row)?;
        if updated > 0 {
            return Ok(());
        }
        if batch.counts.memos >= MAX_MEMO_ENTRIES {
            drop_oldest(batch)?;
        }
        batch
            .tx
            .prepare_cached(
                "INSERT INTO memos (memo, key, value, written, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(row)?;
        batch.counts.memos += 1;
        Ok(())
    }
}

/// Makes room for one entry: drops the one written longest ago.
fn drop_oldest(batch: &mut Batch<'_>) -> rusqlite::Result<()> {
    let dropped: Option<String> = batch
        .tx
        .prepare_cached(
            "DELETE FROM memos WHERE (memo, key) =
             (SELECT memo, key FROM memos ORDER BY written LIMIT 1) RETURNING memo",
        )?
        .query_row([], |row| row.get(0))
        .optional()?;
    if let Some(memo) = dropped {
        tracing::warn!(%memo, "memo entry dropped: the store is full");
        batch.counts.memos = batch.counts.memos.saturating_sub(1);
    }
    Ok(())
}

/// Forgets a key.
struct Remove {
    memo: Arc<str>,
    key: String,
}

impl Op for Remove {
    type Output = ();

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<()> {
        delete(batch, &self.memo, &self.key)
    }
}

/// Deletes `memo`'s `key`.
fn delete(batch: &mut Batch<'_>, memo: &str, key: &str) -> rusqlite::Result<()> {
    let deleted = batch
        .tx
        .prepare_cached("DELETE FROM memos WHERE memo = ?1 AND key = ?2")?
        .execute(params![memo, key])?;
    batch.counts.memos = batch.counts.memos.saturating_sub(deleted as u64);
    Ok(())
}

/// Purges one chunk of expired entries; whether more are left.
pub(super) fn purge(
    connection: &Connection,
    counts: &mut Counts,
    now: Millis,
) -> rusqlite::Result<bool> {
    let purged = connection
        .prepare_cached(
            "DELETE FROM memos WHERE (memo, key) IN
             (SELECT memo, key FROM memos WHERE expires <= ?1 LIMIT ?2)",
        )?
        .execute(params![now, PURGE_CHUNK])? as u64;
    counts.memos = counts.memos.saturating_sub(purged);
    Ok(purged == PURGE_CHUNK as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::test_support::{T0, count, open, peek};
    use crate::durable::{Clock, StoreSettings};

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    const ANNA: &str = "79001234567@c.us";

    #[tokio::test]
    async fn a_value_survives_a_reopen_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            store.memo::<u64>("greeted").put(ANNA, &42).await.unwrap();
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let greeted = store.memo::<u64>("greeted");
        assert_eq!(greeted.get(ANNA).await.unwrap(), Some(42));
        assert_eq!(store.memo::<u64>("other").get(ANNA).await.unwrap(), None);
        greeted.put(ANNA, &43).await.unwrap();
        assert_eq!(greeted.get(ANNA).await.unwrap(), Some(43));
        greeted.remove(ANNA).await.unwrap();
        assert_eq!(greeted.get(ANNA).await.unwrap(), None);
        assert_eq!(count(dir.path(), "SELECT count(*) FROM memos"), 0);
    }

    #[tokio::test]
    async fn an_entry_lives_for_its_ttl_on_the_wall_clock_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            let greeted = store.memo::<bool>("greeted").ttl(DAY);
            greeted.put(ANNA, &true).await.unwrap();
        }
        clock.advance(DAY - Duration::from_secs(1));
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let greeted = store.memo::<bool>("greeted").ttl(DAY);
        assert_eq!(greeted.get(ANNA).await.unwrap(), Some(true));
        clock.advance(Duration::from_secs(1));
        assert_eq!(greeted.get(ANNA).await.unwrap(), None);
        assert_eq!(
            count(dir.path(), "SELECT count(*) FROM memos"),
            0,
            "deleted"
        );
        greeted.put(ANNA, &true).await.unwrap();
        assert_eq!(greeted.get(ANNA).await.unwrap(), Some(true), "a new day");
    }

    #[tokio::test]
    async fn a_value_over_the_limit_is_refused_and_one_of_another_type_reads_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let notes = store.memo::<String>("notes");
        let error = notes
            .put(ANNA, &"x".repeat(MAX_VALUE_BYTES))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
        assert_eq!(notes.get(ANNA).await.unwrap(), None);
        notes.put(ANNA, &"text".to_owned()).await.unwrap();
        assert_eq!(store.memo::<u64>("notes").get(ANNA).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_full_store_drops_the_entry_written_longest_ago() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let memo = store.memo::<u8>("m");
        memo.put("old", &1).await.unwrap();
        clock.advance(Duration::from_secs(1));
        memo.put("recent", &2).await.unwrap();
        store
            .run_step(|batch| {
                batch.counts.memos = MAX_MEMO_ENTRIES;
                Ok(())
            })
            .await
            .unwrap();
        memo.put("new", &3).await.unwrap();
        assert_eq!(memo.get("old").await.unwrap(), None);
        assert_eq!(memo.get("recent").await.unwrap(), Some(2));
        assert_eq!(memo.get("new").await.unwrap(), Some(3));
    }

    #[tokio::test]
    async fn expired_entries_are_purged_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), StoreSettings::new(), &Clock::manual(T0)));
        let mut connection = peek(dir.path());
        let expired = PURGE_CHUNK + 10;
        let tx = connection.transaction().unwrap();
        for n in 0..expired + 3 {
            let expires = if n < expired { Some(T0) } else { None };
            tx.execute(
                "INSERT INTO memos (memo, key, value, written, expires) VALUES ('m', ?1, '1', ?2, ?3)",
                params![n.to_string(), T0, expires],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let mut counts = Counts {
            memos: (expired + 3) as u64,
            ..Counts::default()
        };
        assert!(purge(&connection, &mut counts, T0).unwrap());
        assert!(!purge(&connection, &mut counts, T0).unwrap());
        assert_eq!(counts.memos, 3);
        assert_eq!(count(dir.path(), "SELECT count(*) FROM memos"), 3);
    }
}
