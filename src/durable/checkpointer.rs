//! The log's checkpoints, off the writer's thread: a thread with a connection of its own
//! copies what the writer committed from the write-ahead log into the database.
//!
//! A checkpoint fsyncs the log it copies and then the database, and an fsync takes time in
//! proportion to what it flushes: one of 16 MiB of log held the writer (and every request
//! waiting for it) about 20 ms. Here the checkpoints are small and `PASSIVE` (they never block
//! the writer) and run while the writer goes on committing. A log that keeps growing under
//! load is restarted once it passes [`RESTART_FRAMES`]: a `RESTART` checkpoint holds the writer
//! only while it copies and flushes the little committed since the last one, after which the
//! writer's next commit writes from the log's start again (and `journal_size_limit` trims the
//! file). The writer's own automatic checkpoint stays as a bound should this thread fall behind.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::schema::{self, Database};
use super::{Durability, StoreError};

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
/// so it gives up soon, and the next round tries again.
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
    pub(super) fn spawn(database: &Database, durability: Durability) -> Result<Self, StoreError> {
        let connection =
            connect(&database.path, durability).map_err(|error| database.error(error))?;
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

/// The checkpointer's connection: its checkpoints flush as the writer's `durability` asks.
fn connect(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let mut connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    schema::set_busy_handler(&mut connection, Some(PATIENCE))?;
    connection.pragma_update(None, "synchronous", schema::synchronous(durability))?;
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
        if let Err(error) = checkpoint(connection) {
            tracing::warn!(error = %schema::classify(path, error), "the store's log could not be checkpointed; trying again after the next commit");
        }
        let state = shared.lock();
        let _ = shared
            .wake
            .wait_timeout_while(state, PAUSE, |state| !state.closing)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

/// Copies the committed log into the database; restarts the log when it passed
/// [`RESTART_FRAMES`].
fn checkpoint(connection: &Connection) -> rusqlite::Result<()> {
    let frames = run_checkpoint(connection, "PASSIVE")?;
    if frames >= RESTART_FRAMES {
        run_checkpoint(connection, "RESTART")?;
    }
    Ok(())
}

/// Runs a checkpoint of `mode`; the frames the log held when it began.
fn run_checkpoint(connection: &Connection, mode: &str) -> rusqlite::Result<i64> {
    connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        row.get(1)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::durable::directory::DATABASE_FILE;
    use crate::durable::test_support::{T0, open, text};
    use crate::durable::{Appended, Clock, StoreSettings};

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
