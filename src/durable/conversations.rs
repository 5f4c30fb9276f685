//! Conversation states in the store: each state as JSON with the wall-clock time of its last
//! activity, so that a conversation left idle while the bot was down times out after the
//! restart (by the idle timeout the bot has then).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::writer::{Batch, Op};
use super::{DurableStore, MAX_VALUE_BYTES, Millis, StoreError, millis};
use crate::conversation::{ConversationKey, ConversationState, Storage};
use crate::error::BoxError;

/// How long a conversation may stay idle by default before it ends: 30 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How often [`Storage::expired`] looks for timed-out conversations at most, by default,
/// while none is due sooner.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Conversations a store keeps at most (timed-out ones not yet returned by
/// [`Storage::expired`] included); past it the one idle longest is dropped, with a warning,
/// without its timeout hook.
pub const MAX_CONVERSATIONS: u64 = 100_000;

/// The shortest sleep between two looks for timed-out conversations.
const MIN_POLL: Duration = Duration::from_millis(5);

/// Conversation states in a [`DurableStore`]: they survive a restart, and so do their idle timeouts
/// (kept in wall-clock time). Cheap to clone.
///
/// ```no_run
/// use std::time::Duration;
/// use hookbot::conversation::{Conversations, KeyStrategy};
/// use hookbot::durable::{SqliteStorage, DurableStore, StoreSettings};
///
/// # fn run() -> hookbot::Result<()> {
/// let store = DurableStore::open("hookbot-data", StoreSettings::new())?;
/// let conversations: Conversations<u32> =
///     Conversations::new(SqliteStorage::new(&store).idle_timeout(Duration::from_secs(5 * 60)))
///         .key(KeyStrategy::PerSender);
/// # let _ = conversations; Ok(()) }
/// ```
///
/// A conversation idle past the timeout (no load, no save; default 30 minutes, measured from
/// its last activity by the timeout the storage has now) ends, and [`Storage::expired`]
/// returns it once, also when it timed out while the bot was down. A saved
/// state that no longer reads as `D` (the type changed in a new release) is dropped with a
/// warning, and the conversation starts anew. A state is at most [`MAX_VALUE_BYTES`] of JSON,
/// and the store keeps at most [`MAX_CONVERSATIONS`].
pub struct SqliteStorage<D> {
    store: DurableStore,
    idle_timeout: Duration,
    poll_interval: Duration,
    _state: PhantomData<fn() -> D>,
}

impl<D> Clone for SqliteStorage<D> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            idle_timeout: self.idle_timeout,
            poll_interval: self.poll_interval,
            _state: PhantomData,
        }
    }
}

impl<D: ConversationState> SqliteStorage<D> {
    /// Conversations in `store`, with the defaults: 30 minutes idle timeout, timeouts looked
    /// for every second at most.
    pub fn new(store: &DurableStore) -> Self {
        Self {
            store: store.clone(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            _state: PhantomData,
        }
    }

    /// Ends conversations idle for `timeout` (default 30 minutes).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Looks for timed-out conversations at least this often (default 1 s); sooner when the
    /// next one is due sooner.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(MIN_POLL);
        self
    }

    /// Takes out one timed-out conversation, or says how long until the next is due.
    async fn pop_expired(&self) -> crate::Result<Popped> {
        self.store
            .run(PopExpired {
                idle_timeout: millis(self.idle_timeout),
            })
            .await
    }
}

#[async_trait]
impl<D: ConversationState> Storage<D> for SqliteStorage<D> {
    async fn load(&self, key: &ConversationKey) -> Result<Option<D>, BoxError> {
        let state = self
            .store
            .run(Load {
                name: key.to_name(),
                idle_timeout: millis(self.idle_timeout),
            })
            .await?;
        let Some(state) = state else { return Ok(None) };
        match serde_json::from_str(&state) {
            Ok(state) => Ok(Some(state)),
            Err(error) => {
                tracing::warn!(conversation = %key, %error, "a saved conversation state does not read as the bot's state type; starting anew");
                Ok(None)
            }
        }
    }

    async fn save(&self, key: &ConversationKey, state: D) -> Result<(), BoxError> {
        let state = serde_json::to_string(&state)?;
        if state.len() > MAX_VALUE_BYTES {
            return Err(Box::new(StoreError::TooLarge {
                size: state.len(),
                limit: MAX_VALUE_BYTES,
            }));
        }
        self.store
            .run(Save {
                name: key.to_name(),
                state,
            })
            .await?;
        Ok(())
    }

    async fn remove(&self, key: &ConversationKey) -> Result<(), BoxError> {
        self.store
            .run(Remove {
                name: key.to_name(),
            })
            .await?;
        Ok(())
    }

    async fn expired(&self) -> Result<(ConversationKey, D), BoxError> {
        loop {
            let wait = match self.pop_expired().await? {
                Popped::Expired { name, state } => {
                    let key = ConversationKey::from_name(&name)?;
                    let state = serde_json::from_str(&state).map_err(|error| {
                        format!("the timed-out conversation {key} has a state that does not read as the bot's state type: {error}")
                    })?;
                    return Ok((key, state));
                }
                Popped::Wait(wait) => Duration::from_millis(wait.max(0).unsigned_abs())
                    .clamp(MIN_POLL, self.poll_interval),
                Popped::Empty => self.poll_interval,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl<D> fmt::Debug for SqliteStorage<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("store", &self.store)
            .field("idle_timeout", &self.idle_timeout)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

/// The state saved under a name, its timeout restarted; a state found timed out is moved
/// aside for [`Storage::expired`] to return, and is not returned.
struct Load {
    name: String,
    idle_timeout: Millis,
}

impl Op for Load {
    type Output = Option<String>;

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<Option<String>> {
        let tx = batch.tx;
        let found: Option<(String, Millis)> = tx
            .prepare_cached("SELECT state, active FROM conversations WHERE name = ?1")?
            .query_row([&self.name], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((state, active)) = found else {
            return Ok(None);
        };
        if active.saturating_add(self.idle_timeout) <= batch.now {
            tx.prepare_cached("INSERT INTO timed_out (name, state) VALUES (?1, ?2)")?
                .execute(params![self.name, state])?;
            tx.prepare_cached("DELETE FROM conversations WHERE name = ?1")?
                .execute([&self.name])?;
            return Ok(None);
        }
        tx.prepare_cached("UPDATE conversations SET active = ?2 WHERE name = ?1")?
            .execute(params![self.name, batch.now])?;
        Ok(Some(state))
    }
}

/// Keeps a state under a name and (re)starts its timeout.
struct Save {
    name: String,
    state: String,
}

impl Op for Save {
    type Output = ();

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<()> {
        let updated = batch
            .tx
            .prepare_cached("UPDATE conversations SET state = ?2, active = ?3 WHERE name = ?1")?
            .execute(params![self.name, self.state, batch.now])?;
        if updated > 0 {
            return Ok(());
        }
        if batch.counts.conversations >= MAX_CONVERSATIONS {
            drop_idlest(batch)?;
        }
        batch
            .tx
            .prepare_cached("INSERT INTO conversations (name, state, active) VALUES (?1, ?2, ?3)")?
            .execute(params![self.name, self.state, batch.now])?;
        batch.counts.conversations += 1;
        Ok(())
    }
}

/// Makes room for one conversation: drops the oldest timed-out one, or else the one idle
/// longest.
fn drop_idlest(batch: &mut Batch<'_>) -> rusqlite::Result<()> {
    let tx = batch.tx;
    let dropped: Option<String> = tx
        .prepare_cached(
            "DELETE FROM timed_out WHERE id = (SELECT min(id) FROM timed_out) RETURNING name",
        )?
        .query_row([], |row| row.get(0))
        .optional()?;
    let dropped = match dropped {
        Some(name) => Some(name),
        None => tx
            .prepare_cached(
                "DELETE FROM conversations WHERE name =
                 (SELECT name FROM conversations ORDER BY active LIMIT 1) RETURNING name",
            )?
            .query_row([], |row| row.get(0))
            .optional()?,
    };
    if let Some(name) = dropped {
        tracing::warn!(conversation = %name, "conversation dropped: the store is full");
        batch.counts.conversations = batch.counts.conversations.saturating_sub(1);
    }
    Ok(())
}

/// Forgets the state saved under a name.
struct Remove {
    name: String,
}

impl Op for Remove {
    type Output = ();

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<()> {
        let removed = batch
            .tx
            .prepare_cached("DELETE FROM conversations WHERE name = ?1")?
            .execute([&self.name])?;
        batch.counts.conversations = batch.counts.conversations.saturating_sub(removed as u64);
        Ok(())
    }
}

/// Takes out the first conversation moved aside by a load, or else the one idle longest if
/// it has been idle for the timeout.
struct PopExpired {
    idle_timeout: Millis,
}

/// What one look for timed-out conversations found.
enum Popped {
    /// A conversation that timed out: its name and its state's JSON.
    Expired { name: String, state: String },
    /// None yet; the next is due in this many milliseconds.
    Wait(Millis),
    /// No conversation is kept.
    Empty,
}

impl Op for PopExpired {
    type Output = Popped;

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<Popped> {
        let tx = batch.tx;
        let aside: Option<(String, String)> = tx
            .prepare_cached(
                "DELETE FROM timed_out WHERE id = (SELECT min(id) FROM timed_out)
                 RETURNING name, state",
            )?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((name, state)) = aside {
            batch.counts.conversations = batch.counts.conversations.saturating_sub(1);
            return Ok(Popped::Expired { name, state });
        }
        let idlest: Option<(String, String, Millis)> = tx
            .prepare_cached(
                "SELECT name, state, active FROM conversations ORDER BY active LIMIT 1",
            )?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        let Some((name, state, active)) = idlest else {
            return Ok(Popped::Empty);
        };
        let deadline = active.saturating_add(self.idle_timeout);
        if deadline > batch.now {
            return Ok(Popped::Wait(deadline - batch.now));
        }
        tx.prepare_cached("DELETE FROM conversations WHERE name = ?1")?
            .execute([&name])?;
        batch.counts.conversations = batch.counts.conversations.saturating_sub(1);
        Ok(Popped::Expired { name, state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::test_support::{T0, count, open};
    use crate::durable::{Clock, StoreSettings};
    use crate::gateway::GatewayKind;

    const TIMEOUT: Duration = Duration::from_secs(30 * 60);
    /// How long a test waits for what it expects before it fails.
    const PATIENCE: Duration = Duration::from_secs(60);

    /// The key of `sender` across chats on a test instance.
    fn key(sender: &str) -> ConversationKey {
        ConversationKey::new(
            GatewayKind::GreenApiWhatsApp,
            "1",
            None,
            Some(sender.into()),
        )
    }

    fn storage(store: &DurableStore) -> SqliteStorage<u32> {
        SqliteStorage::new(store)
            .idle_timeout(TIMEOUT)
            .poll_interval(Duration::from_millis(5))
    }

    /// The conversation that timed out, if one did by now.
    async fn expired_now(storage: &SqliteStorage<u32>) -> Option<(ConversationKey, u32)> {
        match storage.pop_expired().await.unwrap() {
            Popped::Expired { name, state } => Some((
                ConversationKey::from_name(&name).unwrap(),
                serde_json::from_str(&state).unwrap(),
            )),
            Popped::Wait(_) | Popped::Empty => None,
        }
    }

    #[tokio::test]
    async fn a_saved_state_loads_back_after_a_reopen_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            storage(&store).save(&key("a"), 7).await.unwrap();
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let storage = storage(&store);
        assert_eq!(storage.load(&key("a")).await.unwrap(), Some(7));
        assert_eq!(storage.load(&key("b")).await.unwrap(), None);
        storage.remove(&key("a")).await.unwrap();
        assert_eq!(storage.load(&key("a")).await.unwrap(), None);
        clock.advance(TIMEOUT * 2);
        assert_eq!(
            expired_now(&storage).await,
            None,
            "a removed state does not time out"
        );
    }

    #[tokio::test]
    async fn a_conversation_idle_while_the_bot_was_down_times_out_once_after_the_restart() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            storage(&store).save(&key("a"), 1).await.unwrap();
        }
        clock.advance(TIMEOUT - Duration::from_secs(1));
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let storage = storage(&store);
        assert!(matches!(
            storage.pop_expired().await.unwrap(),
            Popped::Wait(1000)
        ));
        clock.advance(Duration::from_secs(1));
        let expired = tokio::time::timeout(PATIENCE, storage.expired()).await;
        assert_eq!(expired.expect("it times out").unwrap(), (key("a"), 1));
        assert_eq!(storage.load(&key("a")).await.unwrap(), None);
        assert_eq!(expired_now(&storage).await, None, "returned once");
    }

    #[tokio::test]
    async fn a_waiting_expired_call_returns_when_the_timeout_comes() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let storage = storage(&store);
        let waiting = tokio::spawn({
            let storage = storage.clone();
            async move { storage.expired().await.unwrap() }
        });
        storage.save(&key("late"), 3).await.unwrap();
        clock.advance(TIMEOUT);
        let woken = tokio::time::timeout(PATIENCE, waiting).await;
        assert_eq!(woken.expect("it returns").unwrap(), (key("late"), 3));
    }

    #[tokio::test]
    async fn loading_and_saving_restart_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let storage = storage(&store);
        storage.save(&key("a"), 1).await.unwrap();
        clock.advance(TIMEOUT / 2);
        storage.load(&key("a")).await.unwrap();
        clock.advance(TIMEOUT / 2);
        storage.save(&key("a"), 2).await.unwrap();
        clock.advance(TIMEOUT - Duration::from_secs(1));
        assert_eq!(
            expired_now(&storage).await,
            None,
            "active within the timeout"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(expired_now(&storage).await, Some((key("a"), 2)));
    }

    #[tokio::test]
    async fn a_load_after_the_timeout_starts_anew_and_the_old_state_still_expires() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let storage = storage(&store);
        storage.save(&key("a"), 5).await.unwrap();
        clock.advance(TIMEOUT);
        assert_eq!(storage.load(&key("a")).await.unwrap(), None);
        storage.save(&key("a"), 6).await.unwrap();
        assert_eq!(expired_now(&storage).await, Some((key("a"), 5)));
        assert_eq!(storage.load(&key("a")).await.unwrap(), Some(6));
        assert_eq!(expired_now(&storage).await, None);
    }

    #[tokio::test]
    async fn a_state_that_no_longer_reads_as_the_type_starts_anew() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        SqliteStorage::<String>::new(&store)
            .save(&key("a"), "not a number".to_owned())
            .await
            .unwrap();
        assert_eq!(storage(&store).load(&key("a")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_state_over_the_limit_is_refused_and_nothing_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let storage = SqliteStorage::<String>::new(&store);
        let error = storage
            .save(&key("a"), "x".repeat(MAX_VALUE_BYTES))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
        assert_eq!(storage.load(&key("a")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_full_store_drops_the_conversation_idle_longest() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let storage = storage(&store);
        storage.save(&key("old"), 1).await.unwrap();
        clock.advance(Duration::from_secs(60));
        storage.save(&key("recent"), 2).await.unwrap();
        store
            .run_step(|batch| {
                batch.counts.conversations = MAX_CONVERSATIONS;
                Ok(())
            })
            .await
            .unwrap();
        storage.save(&key("new"), 3).await.unwrap();
        assert_eq!(storage.load(&key("old")).await.unwrap(), None);
        assert_eq!(storage.load(&key("recent")).await.unwrap(), Some(2));
        assert_eq!(storage.load(&key("new")).await.unwrap(), Some(3));
        assert_eq!(count(dir.path(), "SELECT count(*) FROM conversations"), 2);
    }

    #[test]
    fn a_name_gives_its_key_back_and_garbage_is_an_error() {
        for key in [
            ConversationKey::new(
                GatewayKind::ZApi,
                "A/B",
                Some("a\"/,b".into()),
                Some("-".into()),
            ),
            ConversationKey::new(
                GatewayKind::GreenApiMax,
                "1",
                Some("120363043968066561@g.us".into()),
                None,
            ),
            key("79001234567@c.us"),
        ] {
            assert_eq!(ConversationKey::from_name(&key.to_name()).unwrap(), key);
        }
        assert!(ConversationKey::from_name("[\"telegram\",\"1\",null,null]").is_err());
        assert!(ConversationKey::from_name("not json").is_err());
    }
}
