//! The log's checkpoints, off the writer's thread: a thread with a connection of its own
//! copies what the writer committed from the write-ahead log into the database.
//!
//! A checkpoint fsyncs the log it copies and then the database, and an fsync takes time in
//! proportion to what it flushes: one of 16 MiB of log held the writer (and every request
//! waiting for it) about 20 ms. Here the checkpoints are small and `PASSIVE` (they never block
//! the writer) and run while the writer goes on committing. A log that keeps growing under
//! load is restarted once it passes [`RESTART_FRAMES`]: a `RESTART` checkpoint holds the writer
//! only while it copies and flushes the little committed since the last one, after which the
//! log is written from its start again (and `journal_size_limit` trims the file). The writer's
//! own automatic checkpoint stays as a bound should this thread fall behind.
//!
//! A checkpoint that copied the whole log leaves its restart to the next write, and the first
//! page written to a restarted log writes the log's header and fsyncs it (under
//! `synchronous=NORMAL` too): a millisecond or more that the writer paid inside nearly every
//! fold, holding the core's lock that the journal's appends need. The checkpointer restarts
//! the log itself instead, with a write of its own that changes nothing ([`restart`]), and the
//! writer's next commit appends to the restarted log.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use super::StoreError;
use super::schema::{self, Database};

/// How long the checkpointer waits after a checkpoint before the next: the log's pages that
/// many commits rewrite (a table's last page, the pages of rows deleted soon after they were
/// written) are copied once per checkpoint, not per commit, and a checkpoint's two fsyncs are
/// paid once per pause (at 10 ms the checkpoints cost about 3.6 µs of CPU per notification of
/// the benchmark; 50 ms measured up to 2 µs less). The log stays bounded by [`RESTART_FRAMES`]
/// (its file measured at most 8.6 MB under the benchmark's load; 8.0 MB at 10 ms). With
/// [`Durability::Process`](super::Durability::Process) a power loss may lose the commits of
/// the last pause and of the checkpoint under way; a killed process loses none.
const PAUSE: Duration = Duration::from_millis(50);

/// Frames past which the log is restarted rather than only copied: 8 MiB of 4 KiB pages,
/// half the writer's own automatic checkpoint, so that the writer's rarely runs.
const RESTART_FRAMES: i64 = 2048;

/// How long the checkpointer waits for a lock: a `RESTART` holds the writer while it waits
/// for the writer's transaction and then for other connections' readers (a `sqlite3` shell),
/// so it gives up soon, and the next round tries again; a [`restart`] whose write lock the
/// writer holds gives up as soon, the writer's commit restarting the log itself.
const PATIENCE: Duration = Duration::from_millis(10);

/// What the writer and the checkpointer share.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The writer committed since the last checkpoint began.
    committed: bool,
    /// The store is closing: the thread stops.
    closing: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Two flags cannot be left half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer's handle on the checkpointer thread, which it stops by dropping it.
#[derive(Debug)]
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection to `database` and starts the thread.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the connection cannot be opened, or the thread not started.
    pub(super) fn spawn(database: &Database) -> Result<Self, StoreError> {
        let connection = connect(&database.path).map_err(|error| database.error(error))?;
        let shared = Arc::new(Shared::default());
        let path = database.path.clone();
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("hookbot-checkpoint".to_owned())
                .spawn(move || run(&connection, &path, &shared))
                .map_err(|error| StoreError::Database {
                    path: database.path.clone(),
                    source: Box::new(error),
                })?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Tells the checkpointer that a batch was committed: only the first commit after a
    /// checkpoint began wakes it.
    pub(super) fn committed(&self) {
        let mut state = self.shared.lock();
        if !state.committed {
            state.committed = true;
            drop(state);
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    /// Stops the thread (after the checkpoint it runs) and waits for it to close its connection.
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the store's checkpointer panicked");
        }
    }
}

/// The checkpointer's connection, `synchronous=NORMAL` whatever the writer's durability: its
/// checkpoints fsync the log and then the database as under `FULL` (SQLite flushes a
/// checkpoint alike under both), and its only commits, the log's restarts, need no fsync of
/// their own (see [`restart`]).
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let mut connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    schema::set_busy_handler(&mut connection, Some(PATIENCE))?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(connection)
}

/// Checkpoints after commits, at most one per [`PAUSE`], until the store closes.
fn run(connection: &Connection, path: &Path, shared: &Shared) {
    loop {
        {
            let mut state = shared.lock();
            while !state.committed && !state.closing {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.closing {
                return;
            }
            state.committed = false;
        }
        if let Err(error) = checkpoint(connection, shared) {
            tracing::warn!(error = %schema::classify(path, error), "the store's log could not be checkpointed; trying again after the next commit");
        }
        let state = shared.lock();
        let _ = shared
            .wake
            .wait_timeout_while(state, PAUSE, |state| !state.closing)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

/// Copies the committed log into the database (waiting for the writer's transaction when the
/// log passed [`RESTART_FRAMES`]); when that copied all of it, restarts the log.
fn checkpoint(connection: &Connection, shared: &Shared) -> rusqlite::Result<()> {
    let mut log = run_checkpoint(connection, "PASSIVE")?;
    if log.frames >= RESTART_FRAMES {
        log = run_checkpoint(connection, "RESTART")?;
    }
    if log.copied == log.frames {
        restart(connection, shared)?;
    }
    Ok(())
}

/// What a checkpoint found of the log.
struct Log {
    /// Pages the log held when the checkpoint began.
    frames: i64,
    /// Of them, those in the database when it ended.
    copied: i64,
}

/// Runs a checkpoint of `mode`.
fn run_checkpoint(connection: &Connection, mode: &str) -> rusqlite::Result<Log> {
    connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(Log {
            frames: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}

/// Restarts the log that a checkpoint copied whole, unless the writer committed since: rewrites
/// the database's first page unchanged in a transaction of the checkpointer's own, whose page is
/// the first of the restarted log, so that this thread pays the header's fsync.
///
/// - The writer committing after the checkpoint leaves pages not copied: the log does not
///   restart, and the write would only add a page. It is skipped when the writer's commit is
///   known ([`State::committed`]), asked again once the write lock is taken; a commit not told
///   yet wastes a page, which the next checkpoint copies.
/// - The writer holding the write lock (or a `sqlite3` shell writing): the transaction waits
///   [`PATIENCE`] and then gives up without an error; the writer's commit then restarts the log,
///   as it would without this.
/// - The writer meeting this transaction's lock waits for it (its busy handler tries again
///   every 100 µs, for a second at least): for the header's fsync, which it would otherwise
///   pay itself.
/// - A reader (a `sqlite3` shell) of a snapshot from before the checkpoint keeps the log from
///   restarting: the write appends a page, harmlessly.
/// - With [`Durability::PowerLoss`](super::Durability::PowerLoss) the writer's commit paid the
///   header's fsync besides its own: the same holds. The page written needs no fsync of its
///   own: it changes nothing, and the database holds, fsynced, all the log had; the writer's
///   next commit under `FULL` flushes it anyway.
/// - The store closing stops the thread after its round, restart included, before the writer's
///   last checkpoint.
fn restart(connection: &Connection, shared: &Shared) -> rusqlite::Result<()> {
    if shared.lock().committed {
        return Ok(());
    }
    let transaction = match Transaction::new_unchecked(connection, TransactionBehavior::Immediate) {
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
            return Ok(());
        }
        begun => begun?,
    };
    if shared.lock().committed {
        // Rolled back by the drop.
        return Ok(());
    }
    schema::rewrite_first_page(&transaction)?;
    transaction.commit()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::durable::directory::DATABASE_FILE;
    use crate::durable::test_support::{T0, count, open, text};
    use crate::durable::{Appended, Clock, Durability, StoreSettings};

    /// How long the test waits for the checkpoint before it fails.
    const PATIENCE: Duration = Duration::from_secs(60);

    /// Rows of notifications the database file holds without its log, read from a copy of the file alone;
    /// `None` while the copy does not read (taken in the middle of a checkpoint).
    fn entries_without_the_log(directory: &Path) -> Option<i64> {
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(
            directory.join(DATABASE_FILE),
            copy.path().join(DATABASE_FILE),
        )
        .ok()?;
        Connection::open(copy.path().join(DATABASE_FILE))
            .and_then(|connection| {
                connection.query_row("SELECT count(*) FROM batches", [], |row| row.get(0))
            })
            .ok()
    }

    /// The log's file in `directory`: its header and what follows.
    fn log_file(directory: &Path) -> Vec<u8> {
        std::fs::read(directory.join(format!("{DATABASE_FILE}-wal"))).unwrap_or_default()
    }

    /// The log's header in `directory`: its checkpoint sequence (bytes 12..16) and salts
    /// (16..24), which a restart changes.
    fn log_header(directory: &Path) -> Vec<u8> {
        log_file(directory).get(12..24).unwrap_or_default().to_vec()
    }

    /// The pages of the log in `directory`, in order: its frames up to the first whose salts
    /// are not the header's (a frame of the log before its restart).
    fn log_pages(directory: &Path) -> Vec<u32> {
        let log = log_file(directory);
        let Some(header) = log.get(..32) else {
            return Vec::new();
        };
        let page_size = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
        log[32..]
            .chunks_exact(24 + page_size)
            .take_while(|frame| frame[8..16] == header[16..24])
            .map(|frame| u32::from_be_bytes(frame[..4].try_into().unwrap()))
            .collect()
    }

    /// A new store's database in `directory`, its tables committed to the log, and the
    /// checkpointer's connection to it.
    fn created(directory: &Path) -> (Database, Connection) {
        let database =
            schema::open(&directory.join(DATABASE_FILE), Durability::Process).expect("it opens");
        let connection = connect(&database.path).expect("it connects");
        assert!(log_pages(directory).len() > 1, "the tables are in the log");
        (database, connection)
    }

    #[test]
    fn a_log_copied_whole_is_restarted_by_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, connection) = created(dir.path());
        let header = log_header(dir.path());
        checkpoint(&connection, &Shared::default()).expect("it checkpoints");
        assert_ne!(log_header(dir.path()), header, "the log was restarted");
        assert_eq!(
            log_pages(dir.path()),
            [1],
            "the restarted log holds the first page, rewritten"
        );
        assert_eq!(
            count(dir.path(), "SELECT count(*) FROM batches"),
            0,
            "the tables read"
        );
        let check: String = connection
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn a_log_the_writer_committed_to_meanwhile_is_left_to_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, connection) = created(dir.path());
        let (header, pages) = (log_header(dir.path()), log_pages(dir.path()));
        let shared = Shared::default();
        shared.lock().committed = true;
        checkpoint(&connection, &shared).expect("it checkpoints");
        assert_eq!(log_header(dir.path()), header, "the log was not restarted");
        assert_eq!(log_pages(dir.path()), pages, "nothing was written");
    }

    #[test]
    fn a_restart_that_finds_the_write_lock_taken_gives_up_without_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (database, connection) = created(dir.path());
        let (header, pages) = (log_header(dir.path()), log_pages(dir.path()));
        database
            .connection
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the writer's lock");
        checkpoint(&connection, &Shared::default()).expect("the restart gives up quietly");
        assert_eq!(log_header(dir.path()), header, "the log was not restarted");
        assert_eq!(log_pages(dir.path()), pages, "nothing was written");
    }

    #[tokio::test]
    async fn the_log_of_a_fold_is_restarted_before_the_writer_commits_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let appended = store.append(&text("79001234567@c.us", "M1", "hi")).await;
        assert!(matches!(appended, Ok(Appended::Queued(_))), "{appended:?}");
        // The fold's commit is copied into the database file, and the log restarted by the
        // checkpointer's page alone; without the restart it keeps the fold's pages until the
        // writer's next commit.
        let deadline = Instant::now() + PATIENCE;
        while entries_without_the_log(dir.path()) != Some(1) || log_pages(dir.path()) != [1] {
            assert!(Instant::now() < deadline, "the log was never restarted");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let appended = store.append(&text("79001234567@c.us", "M2", "hi")).await;
        assert!(matches!(appended, Ok(Appended::Queued(_))), "{appended:?}");
        drop(store);
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let unfinished = store.unfinished(None, 10).await.unwrap();
        assert_eq!(unfinished.len(), 2, "both notifications read back");
    }

    #[tokio::test]
    async fn a_commit_far_below_the_writers_checkpoint_reaches_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let appended = store.append(&text("79001234567@c.us", "M1", "hi")).await;
        assert!(matches!(appended, Ok(Appended::Queued(_))), "{appended:?}");
        // One page of log is far below the writer's own automatic checkpoint: only the
        // checkpointer copies it while the store is open.
        let deadline = Instant::now() + PATIENCE;
        while entries_without_the_log(dir.path()) != Some(1) {
            assert!(Instant::now() < deadline, "the log was never checkpointed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
