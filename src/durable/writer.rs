//! The store's writer thread and the connection it shares with the lane's leaders: a thread
//! that takes the requests that arrived while it was busy, commits them in one transaction and
//! only then answers them (group commit) — every request but the appends of a store whose
//! commits do not fsync, which the [`Lane`](super::lane::Lane) commits on the runtime. Whoever
//! commits holds the connection's lock ([`Shared`]). Handled entries are deleted with the next
//! commit (a leader's or the writer's), or within `FINISH_DELAY` when none comes: they wait in
//! a list the next commit takes, with the time they are due by, which the writer reads without
//! the connection's lock — it takes the lock only to commit, so while leaders commit appends it
//! leaves the deletions to them and never holds up their commits. Only a lot that finds the
//! writer waiting without a deadline wakes it. Between
//! batches it tidies up: expired claims and memos are purged in bounded chunks, and freed
//! space is given back.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::batches::{Batches, Tally};
use super::checkpointer::Checkpointer;
use super::claims::Claims;
use super::directory::Held;
use super::entries::{self, Append, Seq};
use super::schema::{self, Database};
use super::{Clock, MAX_CLAIMS, Millis, StoreError, StoreSettings, memo, millis};
use crate::error::{Error, Result};

/// Requests waiting for the writer at most; past it callers wait for room.
pub(super) const CHANNEL_CAPACITY: usize = 4096;
/// Messages one transaction takes at most, so that a batch's callers are answered soon.
const MAX_BATCH: usize = 1024;
/// How long handled entries wait for requests to share their deletion's commit: under load
/// the next batch of requests takes them along; a store without requests commits them after
/// this. (Each committed alone, they made four commits in five; at 2 ms, a loaded machine's
/// pauses between leaders' commits still made the writer commit deletions of its own, holding
/// the connection while leaders waited for it.) They count against the store's bounds until
/// then, and a crash before replays them, as it would any entry not yet deleted.
const FINISH_DELAY: Duration = Duration::from_millis(10);
/// How long the first request of a batch waits for company while the store is busy (its last
/// batch had several requests): the callers answered by the last commit send their next
/// requests a moment later, and without the wait the first of them took a commit of its own
/// (batches of 1, 63, 1, 63 … under a load of 64), as costly in writes as a full one.
const COMPANY_WAIT: Duration = Duration::from_micros(100);
/// How long handled entries wait after their deletion failed, before it is tried again on its
/// own (the next batch of requests tries it sooner).
const FINISH_RETRY: Duration = Duration::from_secs(1);
/// How often the writer tidies up, at least while it is busy.
const TIDY_INTERVAL: Duration = Duration::from_secs(60);
/// Rows one purge statement deletes at most, and such statements one round runs at most:
/// a round of purging holds the writer a few milliseconds.
pub(super) const PURGE_CHUNK: i64 = 1000;
const PURGE_CHUNKS_PER_ROUND: usize = 10;

/// What the writer is handed.
pub(super) enum Message {
    /// An append, answered after its batch is committed: the common request, carried without
    /// a box of its own (which the writer would free on the memory of the caller's thread).
    Append(Request<Append>),
    /// Any other request, answered after its batch is committed.
    Request(Box<dyn Pending>),
    /// The [`Finished`] list has entries due by a time the writer did not know of: it reads
    /// it again.
    Finished,
}

/// Handled entries waiting for their deletion, which the writer takes with its next batch
/// (unanswered: a crash before that commit replays them, as the delivery guarantee allows).
/// A handler's completion adds its entry without waking the writer — only the first entry of
/// a lot that finds the writer waiting without a deadline sends it [`Message::Finished`].
#[derive(Debug, Default)]
pub(super) struct Finished(Mutex<Lot>);

#[derive(Debug, Default)]
struct Lot {
    seqs: Vec<Seq>,
    /// When the writer deletes them at the latest, if no commit took them before.
    due: Option<Instant>,
    /// The writer waits for requests without a deadline: the next lot must wake it.
    idle: bool,
}

impl Finished {
    /// Adds `seq` (due within `FINISH_DELAY` when it starts a lot); `true` when the writer
    /// must be told.
    pub(super) fn add(&self, seq: Seq) -> bool {
        let mut lot = self.lock();
        lot.seqs.push(seq);
        if lot.due.is_none() {
            lot.due = Some(Instant::now() + FINISH_DELAY);
        }
        std::mem::take(&mut lot.idle)
    }

    /// Swaps the list for `spare` (empty): what was finished is in `spare` then.
    fn take(&self, spare: &mut Vec<Seq>) {
        let mut lot = self.lock();
        std::mem::swap(&mut lot.seqs, spare);
        lot.due = None;
    }

    /// Puts back `seqs`, whose deletion failed: due again after `FINISH_RETRY`.
    fn put_back(&self, seqs: &mut Vec<Seq>) {
        let mut lot = self.lock();
        lot.seqs.append(seqs);
        lot.due = Some(Instant::now() + FINISH_RETRY);
    }

    /// When the writer is to delete the entries; `None` when there are none, and then the
    /// writer, which waits without a deadline, is woken by the next lot.
    fn due(&self) -> Option<Instant> {
        let mut lot = self.lock();
        lot.idle = lot.due.is_none();
        lot.due
    }

    fn is_empty(&self) -> bool {
        self.lock().seqs.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lot> {
        // A list of numbers cannot be left half-changed.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One step of a batch, run inside its transaction.
pub(super) trait Op: Send + 'static {
    /// What the caller is answered once the batch is committed.
    type Output: Send + 'static;

    /// Runs the step. An error fails (rolls back) the whole batch.
    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<Self::Output>;
}

/// What an [`Op`] sees of its batch.
pub(super) struct Batch<'a> {
    /// The connection, inside the batch's transaction.
    pub(super) tx: &'a Connection,
    /// The wall-clock time of the batch.
    pub(super) now: Millis,
    /// What the store holds, as the batch changes it.
    pub(super) counts: &'a mut Counts,
    /// The duplicate claims, as the batch changes them.
    pub(super) claims: &'a mut Claims,
    /// The accepted notifications' rows, as the batch changes them.
    pub(super) batches: &'a mut Batches,
    /// What the store may hold.
    pub(super) limits: &'a Limits,
}

/// How much of each kind the store holds: kept by the writer (the only one that writes), read
/// once at open, restored when a batch fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Unhandled entries.
    pub(super) entries: u64,
    /// Bytes of their notifications.
    pub(super) bytes: u64,
    /// Conversation states, timed out or not.
    pub(super) conversations: u64,
    /// Memo entries, expired or not.
    pub(super) memos: u64,
}

/// What the store may hold, from its [`StoreSettings`].
#[derive(Debug, Clone)]
pub(super) struct Limits {
    pub(super) max_events: u64,
    pub(super) max_bytes: u64,
    pub(super) claim_retention: Millis,
}

/// A request in the channel: its step, and whom to answer.
pub(super) trait Pending: Send {
    /// Runs the step in `batch`.
    fn apply(&mut self, batch: &mut Batch<'_>) -> rusqlite::Result<()>;
    /// Answers the caller: the step's output if the batch was `committed`, else its error.
    fn answer(self: Box<Self>, committed: &Result<()>);
}

/// An [`Op`], its output once run, and its caller.
pub(super) struct Request<O: Op> {
    op: O,
    output: Option<O::Output>,
    reply: oneshot::Sender<Result<O::Output>>,
}

impl<O: Op> Request<O> {
    /// `op`, to be answered on `reply`.
    pub(super) fn new(op: O, reply: oneshot::Sender<Result<O::Output>>) -> Self {
        Self {
            op,
            output: None,
            reply,
        }
    }
}

impl<O: Op> Pending for Request<O> {
    fn apply(&mut self, batch: &mut Batch<'_>) -> rusqlite::Result<()> {
        self.output = Some(self.op.apply(batch)?);
        Ok(())
    }

    fn answer(self: Box<Self>, committed: &Result<()>) {
        (*self).reply(committed);
    }
}

impl<O: Op> Request<O> {
    /// Answers the caller: the step's output if the batch was `committed`, else its error.
    fn reply(self, committed: &Result<()>) {
        let answer = match (committed, self.output) {
            (Ok(()), Some(output)) => Ok(output),
            (Err(error), _) => Err(error.clone()),
            // Committed without running: cannot happen, every request of a batch runs first.
            (Ok(()), None) => Err(StoreError::Closed.into()),
        };
        // A caller that stopped waiting does not want the answer.
        let _ = self.reply.send(answer);
    }
}

/// A request of a batch.
enum Job {
    Append(Request<Append>),
    Other(Box<dyn Pending>),
}

impl Job {
    fn apply(&mut self, batch: &mut Batch<'_>) -> rusqlite::Result<()> {
        match self {
            Job::Append(request) => request.apply(batch),
            Job::Other(request) => request.apply(batch),
        }
    }

    fn answer(self, committed: &Result<()>) {
        match self {
            Job::Append(request) => request.reply(committed),
            Job::Other(request) => request.answer(committed),
        }
    }
}

/// The connection and what is known of the database, which the writer thread and the
/// leaders of the [`Lane`](super::lane::Lane) share behind one lock (`None` once the store
/// closed): whoever holds it commits a batch.
pub(super) type Shared = Mutex<Option<Core>>;

/// Locks `shared`. A panic inside a commit leaves the transaction rolled back by its drop and
/// the counts as the batch changed them, as the writer thread's panic always did.
pub(super) fn lock(shared: &Shared) -> MutexGuard<'_, Option<Core>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`lock`], or `None` while someone else (the writer thread) holds the connection.
pub(super) fn try_lock(shared: &Shared) -> Option<MutexGuard<'_, Option<Core>>> {
    match shared.try_lock() {
        Ok(core) => Some(core),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// The database's connection and what the store knows of it.
pub(super) struct Core {
    connection: Connection,
    path: PathBuf,
    limits: Limits,
    counts: Counts,
    claims: Claims,
    batches: Batches,
    clock: Clock,
    /// Handled entries not yet deleted.
    finished: Arc<Finished>,
    /// The list [`Finished`] is swapped with, empty between batches.
    spare: Vec<Seq>,
    /// Copies the log into the database, off the committing thread.
    checkpointer: Checkpointer,
}

/// The writer thread's state.
struct Writer {
    core: Arc<Shared>,
    /// Handled entries, and when they are due for deletion.
    finished: Arc<Finished>,
    /// Times the writer's waits for requests while handled entries wait for their deletion.
    timer: tokio::runtime::Runtime,
    /// When to tidy up next.
    next_tidy: Instant,
    /// Held until the connection is closed.
    held: Held,
}

/// Reads what `database` holds and starts its writer on `receiver`; the thread, and the
/// connection's lock for the [`Lane`](super::lane::Lane).
///
/// # Errors
///
/// [`StoreError`] when the database cannot be read, or the thread not started.
pub(super) fn spawn(
    database: Database,
    held: Held,
    settings: &StoreSettings,
    clock: Clock,
    receiver: mpsc::Receiver<Message>,
    finished: Arc<Finished>,
) -> Result<(JoinHandle<()>, Arc<Shared>)> {
    let (batches, unfinished) =
        Batches::load(&database.connection).map_err(|error| database.error(error))?;
    let counts = count(&database.connection, unfinished).map_err(|error| database.error(error))?;
    let claims = Claims::load(&database.connection).map_err(|error| database.error(error))?;
    tracing::info!(
        store = %database.path.display(),
        unfinished = counts.entries,
        claims = claims.len(),
        conversations = counts.conversations,
        "the store is open"
    );
    let checkpointer = Checkpointer::spawn(&database, settings.durability)?;
    let path = database.path.clone();
    let failed = |error: std::io::Error| StoreError::Database {
        path: path.clone(),
        source: Box::new(error),
    };
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(failed)?;
    let core = Arc::new(Mutex::new(Some(Core {
        path: database.path,
        connection: database.connection,
        limits: Limits {
            max_events: settings.max_events,
            max_bytes: settings.max_bytes,
            claim_retention: millis(settings.claim_retention),
        },
        counts,
        claims,
        batches,
        clock,
        finished: Arc::clone(&finished),
        spare: Vec::new(),
        checkpointer,
    })));
    let writer = Writer {
        core: Arc::clone(&core),
        finished,
        timer,
        next_tidy: Instant::now(),
        held,
    };
    let thread = std::thread::Builder::new()
        .name("hookbot-store".to_owned())
        .spawn(move || writer.run(receiver))
        .map_err(failed)?;
    Ok((thread, core))
}

/// What the database holds now, its `unfinished` notifications counted already.
fn count(connection: &Connection, unfinished: Tally) -> rusqlite::Result<Counts> {
    let number = |sql: &str| -> rusqlite::Result<u64> {
        connection.query_row(sql, [], |row| row.get::<_, i64>(0).map(|n| n.max(0) as u64))
    };
    Ok(Counts {
        entries: unfinished.events,
        bytes: unfinished.bytes,
        conversations: number(
            "SELECT (SELECT count(*) FROM conversations) + (SELECT count(*) FROM timed_out)",
        )?,
        memos: number("SELECT count(*) FROM memos")?,
    })
}

impl Writer {
    /// Commits batches until every sender is gone, then deletes what was finished, checkpoints
    /// the log, and closes the database before releasing the directory.
    fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        let mut requests = Vec::new();
        let mut busy = false;
        loop {
            let first = match self.finished.due() {
                None => receiver.blocking_recv(),
                Some(deadline) => {
                    let deadline = tokio::time::Instant::from_std(deadline);
                    // The timer is made inside the runtime, which it needs.
                    let next = self.timer.block_on(async {
                        tokio::time::timeout_at(deadline, receiver.recv()).await
                    });
                    match next {
                        Ok(message) => message,
                        Err(_) => {
                            // Not due any more when a commit took them meanwhile.
                            if self.finished.due().is_some_and(|due| due <= Instant::now()) {
                                self.commit_batch(&mut requests);
                            }
                            self.tidy_when_due();
                            continue;
                        }
                    }
                }
            };
            let Some(first) = first else { break };
            self.take(first, &mut requests);
            if busy && !requests.is_empty() {
                std::thread::sleep(COMPANY_WAIT);
            }
            for _ in 1..MAX_BATCH {
                let Ok(message) = receiver.try_recv() else {
                    break;
                };
                self.take(message, &mut requests);
            }
            if requests.is_empty() {
                continue;
            }
            busy = requests.len() > 1;
            self.commit_batch(&mut requests);
            self.tidy_when_due();
        }
        self.close();
    }

    fn take(&mut self, message: Message, requests: &mut Vec<Job>) {
        match message {
            Message::Append(request) => requests.push(Job::Append(request)),
            Message::Request(request) => requests.push(Job::Other(request)),
            // The loop reads the deadline again.
            Message::Finished => {}
        }
    }

    /// Commits `requests` (and the finished entries) as one batch, and answers them.
    fn commit_batch(&mut self, requests: &mut Vec<Job>) {
        match lock(&self.core).as_mut() {
            // Nothing to do: the finished entries went with a leader's commit meanwhile.
            Some(core) if requests.is_empty() && core.finished.is_empty() => {}
            Some(core) => core.commit_batch(requests),
            None => {
                for request in requests.drain(..) {
                    request.answer(&Err(StoreError::Closed.into()));
                }
            }
        }
    }

    /// Tidies up when it is time: purges expired claims and memos and gives free space back, a
    /// bounded amount per round; when more is left, the round after the next batch goes on.
    fn tidy_when_due(&mut self) {
        if Instant::now() < self.next_tidy {
            return;
        }
        let Some(tidied) = lock(&self.core).as_mut().map(Core::tidy) else {
            return;
        };
        let interval = match tidied {
            Ok(true) => Duration::ZERO,
            Ok(false) => TIDY_INTERVAL,
            Err(error) => {
                tracing::warn!(%error, "the store could not purge or reclaim space; trying again later");
                TIDY_INTERVAL
            }
        };
        self.next_tidy = Instant::now() + interval;
    }

    /// Deletes the last finished entries, stops the checkpointer, checkpoints the log into the
    /// database, and closes the database, then releases the directory.
    fn close(self) {
        let Writer { core, held, .. } = self;
        let Some(mut core) = lock(&core).take() else {
            return;
        };
        if !core.finished.is_empty() {
            core.commit_batch(&mut Vec::new());
        }
        let Core {
            connection,
            path,
            checkpointer,
            ..
        } = core;
        drop(checkpointer);
        if let Err(error) = connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!(error = %schema::classify(&path, error), "the store's log was not checkpointed at close; it is replayed at the next open");
        }
        if let Err((_, error)) = connection.close() {
            tracing::warn!(error = %schema::classify(&path, error), "the store's database did not close cleanly");
        }
        drop(held);
    }
}

impl Core {
    /// Runs `requests` (and deletes the finished entries) in one transaction, then answers
    /// each request, leaving `requests` empty. On failure nothing of the batch is kept, and
    /// every request is answered with the error.
    fn commit_batch(&mut self, requests: &mut Vec<Job>) {
        let committed = self.commit_with(|batch| {
            for request in requests.iter_mut() {
                request.apply(batch)?;
            }
            Ok(())
        });
        for request in requests.drain(..) {
            request.answer(&committed);
        }
    }

    /// Runs `steps` (after deleting the finished entries) in one transaction and commits it.
    /// On failure nothing of the batch is kept: the counts, claims and rows are as before,
    /// and the finished entries wait for the next batch.
    pub(super) fn commit_with(
        &mut self,
        steps: impl FnOnce(&mut Batch<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let counts = self.counts;
        let mut finished = std::mem::take(&mut self.spare);
        self.finished.take(&mut finished);
        let committed = self
            .commit(&mut finished, steps)
            .map_err(|error| Error::from(schema::classify(&self.path, error)));
        match &committed {
            Ok(()) => {
                self.checkpointer.committed();
                self.claims.commit();
                self.batches.commit();
                finished.clear();
                self.spare = finished;
            }
            Err(error) => {
                tracing::error!(%error, "the store could not commit a batch; its requests are refused");
                self.counts = counts;
                self.claims.roll_back();
                self.batches.roll_back();
                if !finished.is_empty() {
                    self.finished.put_back(&mut finished);
                }
            }
        }
        committed
    }

    fn commit(
        &mut self,
        finished: &mut [Seq],
        steps: impl FnOnce(&mut Batch<'_>) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let tx = Open::begin(&self.connection)?;
        let mut batch = Batch {
            tx: tx.0,
            now: self.clock.now(),
            counts: &mut self.counts,
            claims: &mut self.claims,
            batches: &mut self.batches,
            limits: &self.limits,
        };
        entries::delete(&mut batch, finished)?;
        steps(&mut batch)?;
        batch.batches.write(tx.0)?;
        batch.claims.write(tx.0)?;
        tx.commit()
    }

    /// One round of tidying; whether more is left to purge or to give back.
    fn tidy(&mut self) -> Result<bool> {
        self.purge_and_reclaim()
            .map_err(|error| Error::from(schema::classify(&self.path, error)))
    }

    fn purge_and_reclaim(&mut self) -> rusqlite::Result<bool> {
        let now = self.clock.now();
        let mut more = false;
        for _ in 0..PURGE_CHUNKS_PER_ROUND {
            let claims = self.claims.purge(&self.connection, now, MAX_CLAIMS)?;
            let memos = memo::purge(&self.connection, &mut self.counts, now)?;
            more = claims || memos;
            if !more {
                break;
            }
        }
        let reclaim = schema::reclaim_space(&self.connection)?;
        Ok(more || reclaim)
    }
}

/// A batch's transaction, begun and committed by statements prepared once per connection
/// (rusqlite's `Transaction` prepares `BEGIN` and `COMMIT` again for every batch); rolled back
/// when dropped uncommitted — a failed step, or a panic inside the batch.
struct Open<'c>(&'c Connection);

impl<'c> Open<'c> {
    /// Begins an `IMMEDIATE` transaction on `connection`: it takes the write lock at once.
    fn begin(connection: &'c Connection) -> rusqlite::Result<Self> {
        connection.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Self(connection))
    }

    /// Commits the transaction (rolled back by the drop when the commit fails).
    fn commit(self) -> rusqlite::Result<()> {
        self.0.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lot_that_finds_the_writer_without_a_deadline_wakes_it() {
        let finished = Finished::default();
        assert_eq!(
            finished.due(),
            None,
            "nothing to delete: the writer waits without one"
        );
        assert!(
            finished.add(Seq(1)),
            "the first lot wakes the waiting writer"
        );
        let due = finished.due().expect("the lot is due");
        assert!(due <= Instant::now() + FINISH_DELAY);
        assert!(
            !finished.add(Seq(2)),
            "the writer knows the deadline already"
        );
        assert_eq!(
            finished.due(),
            Some(due),
            "a later entry joins its lot's deadline"
        );
        let mut taken = Vec::new();
        finished.take(&mut taken);
        assert_eq!(taken, [Seq(1), Seq(2)]);
        assert!(
            !finished.add(Seq(3)),
            "the writer waits for the old deadline: no wake"
        );
        let next = finished.due().expect("the new lot is due");
        assert!(next >= due, "the new lot has a deadline of its own");
        taken.clear();
        finished.take(&mut taken);
        assert_eq!(taken, [Seq(3)]);
        assert_eq!(finished.due(), None);
        assert!(
            finished.add(Seq(4)),
            "the writer waits without a deadline again: woken"
        );
    }

    #[test]
    fn entries_whose_deletion_failed_are_due_again_after_the_retry_delay() {
        let finished = Finished::default();
        finished.add(Seq(1));
        let mut taken = Vec::new();
        finished.take(&mut taken);
        let failed_at = Instant::now();
        finished.put_back(&mut taken);
        assert!(taken.is_empty());
        assert!(!finished.is_empty());
        let due = finished.due().expect("due again");
        assert!(due >= failed_at + FINISH_RETRY, "retried at once");
    }
}
