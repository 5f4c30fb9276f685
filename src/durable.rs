//! The embedded durable store: what a single bot must not lose when its process is killed —
//! the notifications it accepted and has not handled yet, its duplicate claims, its
//! conversations and the small data its handlers keep — in one SQLite database in a data
//! directory of its own.
//!
//! ```no_run
//! use std::time::Duration;
//! use hookbot::conversation::Conversations;
//! use hookbot::durable::{Durability, SqliteStorage, DurableStore, StoreSettings};
//!
//! # fn run() -> hookbot::Result<()> {
//! let store = DurableStore::open("hookbot-data", StoreSettings::new().durability(Durability::Process))?;
//! let conversations: Conversations<u32> =
//!     Conversations::new(SqliteStorage::new(&store).idle_timeout(Duration::from_secs(10 * 60)));
//! let greeted = store.memo::<u64>("greeted").ttl(Duration::from_secs(24 * 60 * 60));
//! # let _ = (conversations, greeted); Ok(()) }
//! ```
//!
//! # Why SQLite
//!
//! In WAL mode a commit is in the write-ahead log when it returns, so a killed process loses
//! nothing it committed without an fsync per commit ("transactions are durable across
//! application crashes regardless of the synchronous setting"); `synchronous=FULL` adds the
//! fsync that also survives power loss ([`Durability::PowerLoss`]). redb keeps a commit across a
//! crash only with `Durability::Immediate`, an fsync per commit (its cheaper commits are rolled
//! back to the last durable one when the file is opened again), and fjall has an open bug in
//! which writes halt after a killed process (fjall-rs/fjall#257); SQLite is also the most
//! tested of the three, bundled here (no system library).
//!
//! # How it works
//!
//! With [`Durability::Process`] an accepted notification is written to the intake's journal
//! (`hookbot.journal`, see `journal`) with one `write` on the request's own task, under the
//! store's lock, and answered as soon as the write returned: the operating system holds it
//! then, which is what a commit without an fsync gives too, and the request never waits for
//! another's commit. Duplicates and the bounds are decided in memory first; what memory knows
//! changes only once the write succeeded (a failed write is cut back and refuses only its
//! request). Handled notifications ride along as markers in the next record. The writer
//! thread folds the journal into the database as the first step of every commit it makes, and
//! commits at the latest 50 ms after the first unfolded append: the rows of the journal's
//! notifications not handled yet (written from memory: an append keeps its notification until
//! the fold or its handling, shared with the event the dispatcher holds, so the fold never reads
//! the file back), the markers of the database's rows, and the journal's claims (one row); the
//! fold raises `batches`' sequence past the journal's last row, the mark of what the database
//! holds. The journal is two files: after the commit the appends switch to the other (empty)
//! one, and the writer empties the folded one outside the lock (overwrites its records with
//! zeros, keeping its pages for the appends to write over rather than have the system allocate
//! and free them). At open both files are replayed into memory in the order of their records'
//! ids (records at or below the mark skipped: a crash came between a fold's commit and the
//! emptying) up to a record torn by a killed process (never answered) or damaged by a power
//! loss (or whose id goes back), which ends it, and folded (from the records read) before the
//! store serves.
//!
//! Everything else goes to a writer thread fed by a bounded channel, which shares the
//! connection behind the lock: it takes every request that arrived while it was busy and
//! commits them in one transaction (while it is busy, the first request of a batch waits
//! 100 µs for the others), then answers each; with [`Durability::PowerLoss`], whose commits
//! fsync, it commits the notifications too; an append that finds it committing under
//! [`Durability::Process`] it writes to the journal after that commit (rather than the append
//! wait for the lock on a worker). Handled notifications not taken by
//! a journal's record are deleted with the next commit (or within 10 ms when none comes; a
//! handled notification joins a list the next commit takes, and only the first of each lot
//! wakes the writer), expired claims are purged in bounded chunks, and freed pages
//! are given back to the file system (`auto_vacuum=INCREMENTAL`). A batch's accepted
//! notifications are one row (packed; a notification's number is the row's id and its place in
//! it; a journal's notification is a row of its own), and so are its claims (their keys
//! packed, one expiry), found by key in an index the
//! writer holds in memory: a batch runs two inserts rather than two per notification, and
//! appends to the end of its tables rather than rewriting a random page per claim. Which
//! notifications of a row are handled the writer counts in memory; a row all handled is
//! deleted, a row partly handled records which in a small row of its own, in the commit that
//! would have deleted them.
//!
//! [`Durability::Process`] is `synchronous=NORMAL`, not `OFF`: both keep every commit across a
//! killed process (the log's pages are in the operating system's hands when a commit returns),
//! but `OFF` also drops the fsyncs at checkpoints, after which a power loss may leave a corrupt
//! file (which the store refuses at start) rather than lose only the last commits. Those fsyncs
//! are a checkpointer thread's, which copies the log into the database every 50 ms while
//! commits come, and restarts the copied log (whose header's fsync the next write pays), so
//! that the writer does not wait for them.
//!
//! The directory holds `hookbot.sqlite3` (with its `-wal` and `-shm` files), the journal's
//! `hookbot.journal` and `hookbot.journal-2`, and `hookbot.lock`, which a running store holds
//! with an OS file lock. The lock file, rather than SQLite's exclusive locking mode, is taken
//! before the database is touched, so that a second bot refuses at once with a message naming
//! the directory (not "database is locked" at its first write); the kernel drops it when the
//! process dies, even by `SIGKILL`; and the database stays readable by other connections (the
//! `sqlite3` shell, a test).

mod batches;
mod checkpointer;
mod claims;
mod conversations;
mod directory;
mod entries;
mod journal;
mod memo;
mod schema;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use crate::dedupe::DEFAULT_RETENTION;
use crate::error::BoxError;
use crate::error::{Error, Result};

pub use conversations::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_POLL_INTERVAL, MAX_CONVERSATIONS, SqliteStorage,
};
pub(crate) use entries::{Appended, Committing, Seq};
pub use memo::{MAX_MEMO_ENTRIES, Memo};

use writer::{Delays, Finished, Message, Op, Request};

/// Unhandled notifications a store keeps at most by default, like the Redis queue's
/// capacity; past it (or past [`DEFAULT_MAX_BYTES`]) the intake answers 503.
pub const DEFAULT_MAX_EVENTS: u64 = 100_000;
/// Bytes of unhandled notifications a store keeps at most by default: 256 MiB. Typical
/// notifications (1–3 KB) reach [`DEFAULT_MAX_EVENTS`] first; this bound keeps a flood of
/// large ones (up to the webhook's 1 MiB body limit) from filling the disk.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Duplicate claims a store keeps at most, like the in-memory store's
/// [`DEFAULT_CAPACITY`](crate::dedupe::DEFAULT_CAPACITY): past it the oldest go first.
pub const MAX_CLAIMS: u64 = crate::dedupe::DEFAULT_CAPACITY;

/// The largest conversation state or memo value a store keeps, as JSON: 16 KiB.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

/// How durable a commit is, and what it costs: see [`StoreSettings::durability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Survives a killed or crashed process: a notification is in the store's journal, in the
    /// operating system's hands, before its 200 (no fsync per notification); the journal is
    /// folded into the database within 50 ms, whose log (WAL, `synchronous=NORMAL`) is fsynced
    /// at its checkpoints. A power loss or a crash of the operating system may lose the last
    /// notifications (about the last 100 ms).
    #[default]
    Process,
    /// Survives power loss too (`synchronous=FULL`: an fsync per commit, shared by every
    /// request of a batch).
    PowerLoss,
}

/// What a [`DurableStore`] is opened with. `StoreSettings::new()` has the defaults.
///
/// ```
/// use std::time::Duration;
/// use hookbot::durable::{Durability, StoreSettings};
///
/// let settings = StoreSettings::new()
///     .durability(Durability::PowerLoss)
///     .max_events(10_000)
///     .max_bytes(64 * 1024 * 1024)
///     .claim_retention(Duration::from_secs(6 * 60 * 60));
/// # let _ = settings;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct StoreSettings {
    durability: Durability,
    max_events: u64,
    max_bytes: u64,
    claim_retention: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self::new()
    }
}

impl StoreSettings {
    /// [`Durability::Process`], [`DEFAULT_MAX_EVENTS`], [`DEFAULT_MAX_BYTES`], and claims kept
    /// for [`DEFAULT_RETENTION`] (24 h, as long as GREEN-API keeps a notification).
    pub fn new() -> Self {
        Self {
            durability: Durability::Process,
            max_events: DEFAULT_MAX_EVENTS,
            max_bytes: DEFAULT_MAX_BYTES,
            claim_retention: DEFAULT_RETENTION,
        }
    }

    /// How durable each commit is (default [`Durability::Process`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// At most this many unhandled notifications are kept (default [`DEFAULT_MAX_EVENTS`]);
    /// past it the intake answers 503 and the gateway delivers again later.
    pub fn max_events(mut self, events: u64) -> Self {
        self.max_events = events;
        self
    }

    /// At most this many bytes of unhandled notifications (their JSON text) are kept
    /// (default [`DEFAULT_MAX_BYTES`]); past it the intake answers 503.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// How long a notification's claim is kept against duplicates (default 24 h).
    pub fn claim_retention(mut self, retention: Duration) -> Self {
        self.claim_retention = retention;
        self
    }
}

/// Why a store failed, named by its path; it reaches callers as [`Error::Storage`], whose
/// source it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory does not exist and cannot be created.
    #[error("the data directory {path} cannot be created: {source}")]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the data directory (its lock file, the database) cannot be written.
    #[error("{path} cannot be written: {reason}")]
    NotWritable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another store (another bot, or another store in this process) holds the directory.
    #[error(
        "the data directory {path} is in use by another bot (it holds {path}/hookbot.lock); stop it, or give this bot a directory of its own"
    )]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The database was written by a newer version of hookbot, which this one cannot read.
    #[error(
        "{path} was written by a newer hookbot (schema version {found}; this version reads up to {supported}); run the newer version, or move the directory away"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this version reads.
        supported: i64,
    },
    /// The file is corrupt, or is not a hookbot store.
    #[error("{path} is corrupt or not a hookbot store: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite found.
        reason: String,
    },
    /// A read or a commit failed (a full disk, a file made read-only, an I/O error); nothing
    /// of the failed batch was written, and the store goes on once the condition clears.
    #[error("{path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: BoxError,
    },
    /// A value to keep is larger than the store takes.
    #[error("a value of {size} bytes is over the store's limit of {limit} bytes")]
    TooLarge {
        /// Its size, as JSON.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The store's writer has stopped (the store is being dropped).
    #[error("the store is closed")]
    Closed,
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::storage(Box::new(error))
    }
}

/// The embedded durable store of one bot: a SQLite database in a directory that it holds for
/// itself while open. Cheap to clone; the clones share one writer, and the store closes (its
/// last batch committed, the directory released) when the last clone, [`SqliteStorage`] or
/// [`Memo`] of it is dropped.
#[derive(Clone)]
pub struct DurableStore {
    inner: Arc<Inner>,
}

struct Inner {
    directory: PathBuf,
    sender: Option<mpsc::Sender<Message>>,
    /// Where appends are written to the journal on the runtime; `None` when commits fsync.
    journal: Option<Arc<writer::Shared>>,
    /// Handled entries, waiting for the writer's next batch to delete them.
    finished: Arc<Finished>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl DurableStore {
    /// Opens the store in `directory`, creating the directory and the database if needed, and
    /// holds the directory until the store is dropped. It blocks while it checks the file:
    /// call it before serving (or in `spawn_blocking`).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] with a [`StoreError`] naming the path: the directory cannot be
    /// created or written, another bot holds it, the database is corrupt or was written by a
    /// newer hookbot.
    pub fn open(directory: impl AsRef<Path>, settings: StoreSettings) -> Result<Self> {
        Self::open_with(
            directory.as_ref(),
            settings,
            Clock::default(),
            Delays::default(),
        )
    }

    /// [`open`](DurableStore::open), with `clock` telling the wall-clock time and `delays`
    /// the writer's.
    fn open_with(
        directory: &Path,
        settings: StoreSettings,
        clock: Clock,
        delays: Delays,
    ) -> Result<Self> {
        let held = directory::hold(directory)?;
        let database = schema::open(&held.database_path(), settings.durability)?;
        let (sender, receiver) = mpsc::channel(writer::CHANNEL_CAPACITY);
        let finished = Arc::new(Finished::new(delays));
        let (writer, core) = writer::spawn(
            database,
            held,
            &settings,
            clock,
            receiver,
            Arc::clone(&finished),
        )?;
        let journal = (settings.durability == Durability::Process).then_some(core);
        Ok(Self {
            inner: Arc::new(Inner {
                directory: directory.to_owned(),
                sender: Some(sender),
                journal,
                finished,
                writer: Some(writer),
            }),
        })
    }

    /// The data directory.
    pub fn directory(&self) -> &Path {
        &self.inner.directory
    }

    /// A [`Memo`] named `name`: a small durable map of keys to `V`, kept in this store.
    pub fn memo<V>(&self, name: &str) -> Memo<V> {
        Memo::new(self.clone(), name)
    }

    /// Runs `op` in the writer's next batch and answers once that batch is committed.
    async fn run<O: Op>(&self, op: O) -> Result<O::Output> {
        let (reply, answer) = oneshot::channel();
        self.send(Message::Request(Box::new(Request::new(op, reply))))
            .await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Hands `message` to the writer, waiting for room in its channel.
    async fn send(&self, message: Message) -> Result<()> {
        let sender = self.inner.sender.as_ref().ok_or(StoreError::Closed)?;
        sender.send(message).await.map_err(|_| StoreError::Closed)?;
        Ok(())
    }
}

impl Drop for Inner {
    /// Closes the writer's channel and waits for it to commit what it holds and release the
    /// directory.
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(directory = %self.directory.display(), "the store's writer panicked");
        }
    }
}

impl fmt::Debug for DurableStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableStore")
            .field("directory", &self.inner.directory)
            .finish_non_exhaustive()
    }
}

/// Wall-clock time in milliseconds since the Unix epoch: deadlines and expiries kept in the
/// store must mean the same after a restart, which tokio's clock does not.
pub(crate) type Millis = i64;

/// Where a store reads the wall-clock time: the system's, or in tests one they move by hand.
#[derive(Clone, Default)]
pub(crate) struct Clock {
    manual: Option<Arc<std::sync::atomic::AtomicI64>>,
}

impl Clock {
    /// Now, in milliseconds since the Unix epoch.
    pub(crate) fn now(&self) -> Millis {
        match &self.manual {
            Some(now) => now.load(std::sync::atomic::Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, millis),
        }
    }

    /// A clock standing at `start` until [`advance`](Clock::advance)d.
    #[cfg(test)]
    pub(crate) fn manual(start: Millis) -> Self {
        Self {
            manual: Some(Arc::new(std::sync::atomic::AtomicI64::new(start))),
        }
    }

    /// Moves a manual clock on by `by`.
    #[cfg(test)]
    pub(crate) fn advance(&self, by: Duration) {
        if let Some(now) = &self.manual {
            now.fetch_add(millis(by), std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// `duration` in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

/// What the store's unit tests share: a store on a hand-moved clock, a step run inside the
/// writer's batch, a second connection to the database, events.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    use super::writer::{Batch, Op};
    use super::{Clock, Delays, DurableStore, Millis, StoreSettings};
    use crate::event::Event;
    use crate::gateway::GatewayKind;

    /// A wall-clock time to start tests at.
    pub(crate) const T0: Millis = 1_750_000_000_000;

    /// A store's settings whose appends go through the writer thread (its commits fsync), not
    /// the journal: a test can hold a batch open while they queue up behind it, or let a
    /// request go away while its append is being committed.
    pub(crate) fn writer_settings() -> StoreSettings {
        StoreSettings::new().durability(super::Durability::PowerLoss)
    }

    /// The store in `directory`, on `clock`.
    pub(crate) fn open(directory: &Path, settings: StoreSettings, clock: &Clock) -> DurableStore {
        DurableStore::open_with(directory, settings, clock.clone(), Delays::default())
            .expect("the store opens")
    }

    /// [`open`], whose writer neither deletes handled entries nor folds the journal before
    /// a request, a flush or the close comes.
    pub(crate) fn open_held(
        directory: &Path,
        settings: StoreSettings,
        clock: &Clock,
    ) -> DurableStore {
        DurableStore::open_with(directory, settings, clock.clone(), Delays::held())
            .expect("the store opens")
    }

    /// A copy of the store in `directory` as a killed process would leave it (the database,
    /// its log and the journal's files; the writer is idle), in a directory of its own.
    pub(crate) fn crash_image(directory: &Path) -> tempfile::TempDir {
        let image = tempfile::tempdir().expect("a directory");
        let [journal, other] = super::directory::JOURNAL_FILES;
        for file in [
            super::directory::DATABASE_FILE,
            "hookbot.sqlite3-wal",
            journal,
            other,
        ] {
            let from = directory.join(file);
            if from.exists() {
                std::fs::copy(&from, image.path().join(file)).expect("the file copies");
            }
        }
        image
    }

    /// A step of a test, run by the writer inside a batch.
    pub(crate) struct Run<F>(pub(crate) F);

    impl<F, T> Op for Run<F>
    where
        F: Fn(&mut Batch<'_>) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        type Output = T;

        fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<T> {
            (self.0)(batch)
        }
    }

    impl DurableStore {
        /// Runs `step` in the writer's next batch.
        pub(in crate::durable) async fn run_step<F, T>(&self, step: F) -> crate::Result<T>
        where
            F: Fn(&mut Batch<'_>) -> rusqlite::Result<T> + Send + 'static,
            T: Send + 'static,
        {
            self.run(Run(step)).await
        }
    }

    /// A connection of its own to the database in `directory`, as another process would have.
    pub(crate) fn peek(directory: &Path) -> rusqlite::Connection {
        rusqlite::Connection::open(directory.join(super::directory::DATABASE_FILE))
            .expect("the database opens")
    }

    /// What `sql` counts, read by a connection of its own.
    pub(crate) fn count(directory: &Path, sql: &str) -> i64 {
        peek(directory)
            .query_row(sql, [], |row| row.get(0))
            .expect("the count reads")
    }

    /// Unhandled notifications the database in `directory` holds, read by a connection of its
    /// own.
    pub(crate) fn unhandled(directory: &Path) -> i64 {
        let (_, unhandled) =
            super::batches::Batches::load(&peek(directory)).expect("the rows read");
        unhandled.events as i64
    }

    /// Claims (expired or not) the database in `directory` holds, read by a connection of its
    /// own.
    pub(crate) fn claims(directory: &Path) -> i64 {
        super::claims::Claims::load(&peek(directory))
            .expect("the claims read")
            .len() as i64
    }

    /// A GREEN-API text message `id` in `chat`, as received.
    pub(crate) fn text(chat: &str, id: &str, text: &str) -> Event {
        let notification = serde_json::json!({
            "typeWebhook": "incomingMessageReceived",
            "instanceData": {"idInstance": 1101000001, "wid": "79990000000@c.us", "typeInstance": "whatsapp"},
            "timestamp": 1588091580,
            "idMessage": id,
            "senderData": {"chatId": chat, "sender": chat, "senderName": "Anna"},
            "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}
        });
        Event::parse(
            GatewayKind::GreenApiWhatsApp,
            notification.to_string().as_bytes(),
        )
        .expect("a valid notification")
    }
}
