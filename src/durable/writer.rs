//! The store's writer thread and the core it shares with the journal's appends: a thread that takes
//! the requests that arrived while it was busy, commits them in one transaction and only then
//! answers them (group commit) — every request but the appends of a store whose commits do not
//! fsync, which are written to the [`Journal`] on the runtime ([`Core::append_to_journal`]). Every
//! commit first folds the journal into the database; the writer commits at the latest `FOLD_DELAY`
//! after the first unfolded append. Whoever writes holds the core's lock ([`Shared`]); while the
//! writer does, appends come to its channel rather than wait, so the writer empties the folded file
//! outside it ([`Files`]). Handled entries are deleted with the next commit, or ride along as
//! markers in the next journal's record, or are deleted within `FINISH_DELAY` when neither comes:
//! they wait in a list, with the time they are due by, which the writer reads without the core's
//! lock. Only a lot that finds the writer waiting without a deadline wakes it. Between batches it
//! tidies up: expired claims and memos are purged in bounded chunks, and freed space is given back.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::batches::{Batches, Kept, Record, Tally};
use super::checkpointer::Checkpointer;
use super::claims::{Claims, Key};
use super::directory::Held;
use super::entries::{self, Append, Appended, Seq};
use super::journal::{self, Entry, Files, Journal};
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
/// pauses between commits still made the writer commit deletions of its own.) They count
/// against the store's bounds until then, and a crash before replays them, as it would any
/// entry not yet deleted.
const FINISH_DELAY: Duration = Duration::from_millis(10);
/// How long the journal's records wait for the writer's next commit to fold them into the
/// database (a commit that comes sooner folds them sooner): the journal's file, and the
/// memory its rows hold, stay small, and a fold costs one transaction per this interval.
const FOLD_DELAY: Duration = Duration::from_millis(50);
/// A journal's record buffer larger than this is not kept for the next append.
const SPARE_BYTES: usize = 1 << 20;
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
pub(super) struct Finished(Mutex<Lot>, Delays);

/// How long handled entries wait for their deletion, and the journal for its fold, when no
/// commit comes sooner.
#[derive(Debug, Clone, Copy)]
pub(super) struct Delays {
    finish: Duration,
    fold: Duration,
}

impl Default for Delays {
    /// `FINISH_DELAY` and `FOLD_DELAY`.
    fn default() -> Self {
        Self {
            finish: FINISH_DELAY,
            fold: FOLD_DELAY,
        }
    }
}

impl Delays {
    /// Nothing is deleted or folded before a request's commit, a flush or the store's close
    /// comes: a test looks at the journal in between.
    #[cfg(test)]
    pub(super) fn held() -> Self {
        Self {
            finish: Duration::from_secs(3600),
            fold: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Default)]
struct Lot {
    seqs: Vec<Seq>,
    /// When the writer deletes them at the latest, if no commit took them before.
    due: Option<Instant>,
    /// When the writer folds the journal at the latest, if no commit did before.
    fold: Option<Instant>,
    /// The writer waits for requests without a deadline: the next lot must wake it.
    idle: bool,
}

impl Finished {
    /// An empty list, due after `delays`.
    pub(super) fn new(delays: Delays) -> Self {
        Self(Mutex::default(), delays)
    }

    /// Adds `seq` (due within `FINISH_DELAY` when it starts a lot); `true` when the writer
    /// must be told.
    pub(super) fn add(&self, seq: Seq) -> bool {
        let mut lot = self.lock();
        lot.seqs.push(seq);
        if lot.due.is_none() {
            lot.due = Some(Instant::now() + self.1.finish);
        }
        std::mem::take(&mut lot.idle)
    }

    /// Swaps the list for `spare` (empty): what was finished is in `spare` then; the commit
    /// that takes it folds the journal too.
    fn take(&self, spare: &mut Vec<Seq>) {
        let mut lot = self.lock();
        std::mem::swap(&mut lot.seqs, spare);
        lot.due = None;
        lot.fold = None;
    }

    /// [`take`](Finished::take) for a journal's record, whose markers they become, in the
    /// same lock: the fold is due within `FOLD_DELAY` (when this starts it); `true` when the
    /// writer must be told.
    fn take_for_record(&self, spare: &mut Vec<Seq>) -> bool {
        let mut lot = self.lock();
        std::mem::swap(&mut lot.seqs, spare);
        lot.due = None;
        if lot.fold.is_none() {
            lot.fold = Some(Instant::now() + self.1.fold);
        }
        std::mem::take(&mut lot.idle)
    }

    /// The writer found nothing to commit: no fold is due (a record refused after
    /// [`take_for_record`](Finished::take_for_record) may have started one).
    fn nothing_to_fold(&self) {
        let mut lot = self.lock();
        lot.fold = None;
        if lot.seqs.is_empty() {
            lot.due = None;
        }
    }

    /// Puts back `seqs`, taken by a journal's record that was not written: due as new ones.
    fn restore(&self, seqs: &mut Vec<Seq>) {
        let mut lot = self.lock();
        lot.seqs.append(seqs);
        if !lot.seqs.is_empty() && lot.due.is_none() {
            lot.due = Some(Instant::now() + self.1.finish);
        }
    }

    /// Records were written to the journal by the writer: the fold is due within
    /// `FOLD_DELAY` (when this starts it).
    fn journaled(&self) -> bool {
        let mut lot = self.lock();
        if lot.fold.is_none() {
            lot.fold = Some(Instant::now() + self.1.fold);
        }
        std::mem::take(&mut lot.idle)
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
        let due = match (lot.due, lot.fold) {
            (Some(due), Some(fold)) => Some(due.min(fold)),
            (due, fold) => due.or(fold),
        };
        lot.idle = due.is_none();
        due
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

/// The connection, the journal and what is known of the database, which the writer thread
/// and the requests appending to the journal share behind one lock (`None` once the store
/// closed).
pub(super) struct Shared {
    core: Mutex<Option<Core>>,
    /// The writer thread holds the lock, or is about to (a commit, a round of tidying).
    writing: AtomicBool,
}

impl Shared {
    /// The core for a journal's append, or `None` while the writer thread commits (the
    /// append then goes to the writer, which writes it to the journal after its commit,
    /// rather than wait for the commit on a worker).
    pub(super) fn for_append(&self) -> Option<MutexGuard<'_, Option<Core>>> {
        if self.writing.load(Ordering::Relaxed) {
            return None;
        }
        Some(lock(self))
    }
}

#[cfg(test)]
impl Shared {
    /// The journal's next write fails, as on a full disk.
    pub(super) fn fail_next_journal_write(&self) {
        if let Some(core) = lock(self).as_mut() {
            core.journal.fail_next = true;
        }
    }

    /// The next `times` emptyings of the journal's folded file fail.
    pub(super) fn fail_journal_emptying(&self, times: u32) {
        if let Some(core) = lock(self).as_ref() {
            core.journal.files().fail_emptying(times);
        }
    }
}

/// Runs `work` holding the core, telling the journal's appends meanwhile to come to the writer
/// rather than wait for the lock.
fn with_core<R>(shared: &Shared, work: impl FnOnce(Option<&mut Core>) -> R) -> R {
    shared.writing.store(true, Ordering::Relaxed);
    let done = work(lock(shared).as_mut());
    shared.writing.store(false, Ordering::Relaxed);
    done
}

/// Locks `shared`. A panic inside a commit leaves the transaction rolled back by its drop and
/// the counts as the batch changed them, as the writer thread's panic always did.
fn lock(shared: &Shared) -> MutexGuard<'_, Option<Core>> {
    shared.core.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// The appends not yet folded into the database.
    journal: Journal,
    /// Handled entries of the database's rows whose markers are in the journal: the next
    /// commit deletes them.
    deferred: Vec<Seq>,
    /// A journal's record, reused.
    record: Vec<u8>,
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
    /// Appends go to the journal ([`Durability::Process`](super::Durability::Process)): those
    /// that came to the writer because it was committing are written there too, not
    /// committed (which would send the next ones to it again).
    journal_appends: bool,
    /// Such appends, taken with the batch.
    appends: Vec<Request<Append>>,
    /// The journal's files, which the writer reads ahead of the core's lock and empties
    /// outside it.
    journal: Arc<Files>,
}

/// Reads what `database` and the journal hold, folds the journal into the database, and starts
/// the writer on `receiver`; the thread, and the core's lock for the journal's appends.
///
/// # Errors
///
/// [`StoreError`] when the database or the journal cannot be read, the fold not committed,
/// or the thread not started.
pub(super) fn spawn(
    database: Database,
    held: Held,
    settings: &StoreSettings,
    clock: Clock,
    receiver: mpsc::Receiver<Message>,
    finished: Arc<Finished>,
) -> Result<(JoinHandle<()>, Arc<Shared>)> {
    let (mut batches, unfinished) =
        Batches::load(&database.connection).map_err(|error| database.error(error))?;
    let mut counts =
        count(&database.connection, unfinished).map_err(|error| database.error(error))?;
    let mut claims = Claims::load(&database.connection).map_err(|error| database.error(error))?;
    let [first, second] = held.journal_paths();
    let (journal, records) = Journal::open([&first, &second], batches.folded())?;
    let files = journal.files();
    let mut deferred = Vec::new();
    let mut known = Known {
        batches: &mut batches,
        claims: &mut claims,
        counts: &mut counts,
        deferred: &mut deferred,
    };
    let mut replayed = journal::payloads(&records);
    while let Some(record) = replayed.next() {
        if !known.replay(record, journal.path())? {
            // Whole records whose ids go back were not written in this order (stale pages a
            // crash of the system left): the journal ends there, as at damage; the open's
            // fold empties the files.
            tracing::error!(journal = %journal.path().display(), dropped = replayed.by_ref().count() + 1, "the journal's records go back in order (a crash of the operating system or a power loss); the records from there on are lost");
            break;
        }
    }
    drop(replayed);
    tracing::info!(
        store = %database.path.display(),
        unfinished = counts.entries,
        claims = claims.len(),
        conversations = counts.conversations,
        "the store is open"
    );
    let checkpointer = Checkpointer::spawn(&database)?;
    let path = database.path.clone();
    let failed = |error: std::io::Error| StoreError::Database {
        path: path.clone(),
        source: Box::new(error),
    };
    let mut core = Core {
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
        journal,
        deferred,
        record: Vec::new(),
    };
    if !core.idle() {
        // The journal's appends are folded before serving: a failure refuses the open.
        core.commit_with(&records, |_| Ok(()))?;
    }
    files.empty_folded();
    // Made after the fold: a runtime dropped on an error inside an async caller panics.
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(failed)?;
    let core = Arc::new(Shared {
        core: Mutex::new(Some(core)),
        writing: AtomicBool::new(false),
    });
    let writer = Writer {
        core: Arc::clone(&core),
        finished,
        timer,
        next_tidy: Instant::now(),
        held,
        journal_appends: settings.durability == super::Durability::Process,
        appends: Vec::new(),
        journal: files,
    };
    let thread = std::thread::Builder::new()
        .name("hookbot-store".to_owned())
        .spawn(move || writer.run(receiver))
        .map_err(failed)?;
    Ok((thread, core))
}

/// What the store knows in memory of the journal's records: changed by a record once it is
/// written (an append) or read back (at open), the same way both times.
struct Known<'a> {
    batches: &'a mut Batches,
    claims: &'a mut Claims,
    counts: &'a mut Counts,
    deferred: &'a mut Vec<Seq>,
}

impl Known<'_> {
    /// Replays one record of the journal at `path`: its append, unless the database holds it
    /// already (folded before a crash emptied the journal), then its markers; `false` (and
    /// nothing changed) when its id goes back, which no append wrote.
    fn replay(&mut self, payload: &[u8], path: &std::path::Path) -> Result<bool, StoreError> {
        let corrupt = || StoreError::Corrupt {
            path: path.to_owned(),
            reason: "a record of the journal does not read as an accepted notification".to_owned(),
        };
        let entry = Entry::decode(payload).ok_or_else(corrupt)?;
        if entry.id > self.batches.folded() {
            if entry.id < self.batches.next_id() {
                // Each append took the next id.
                return Ok(false);
            }
            let size = Record::size_of_one(entry.blob).ok_or_else(corrupt)?;
            self.journaled(entry.id, size, entry.claim, entry.expires, None);
        }
        self.handled(&entry.handled);
        Ok(true)
    }

    /// The journal's row `id` (a notification of `size` bytes, its blob in the journal and,
    /// when this process appended it, `kept` in memory) and its `claim`, until `expires`:
    /// kept, and counted against the bounds.
    fn journaled(
        &mut self,
        id: i64,
        size: u32,
        claim: Option<Key>,
        expires: Millis,
        kept: Option<Kept>,
    ) -> Seq {
        let seq = self.batches.journaled(id, size, kept);
        if let Some(key) = claim {
            self.claims.claim(key, expires);
            self.claims.keep();
        }
        self.counts.entries += 1;
        self.counts.bytes += u64::from(size);
        seq
    }

    /// The entries `seqs` handled (a record's markers): their room given back.
    fn handled(&mut self, seqs: &[Seq]) {
        let freed = self.batches.forget(seqs, self.deferred);
        self.counts.entries = self.counts.entries.saturating_sub(freed.events);
        self.counts.bytes = self.counts.bytes.saturating_sub(freed.bytes);
    }
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
            if receiver.is_empty() {
                // Nothing waits for the writer: the time to empty the last fold's file.
                self.journal.empty_folded();
            }
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
            self.write_appends();
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
            Message::Append(request) if self.journal_appends => self.appends.push(request),
            Message::Append(request) => requests.push(Job::Append(request)),
            Message::Request(request) => requests.push(Job::Other(request)),
            // The loop reads the deadline again.
            Message::Finished => {}
        }
    }

    /// Writes the appends taken to the journal, before the batch's requests (a flush after
    /// them folds them), and answers them.
    fn write_appends(&mut self) {
        if self.appends.is_empty() {
            return;
        }
        let mut core = lock(&self.core);
        for request in self.appends.drain(..) {
            let answer = match core.as_mut() {
                Some(core) => core.append_to_journal(&request.op).0,
                None => Err(StoreError::Closed.into()),
            };
            // A caller that stopped waiting does not want the answer.
            let _ = request.reply.send(answer);
        }
        drop(core);
        self.finished.journaled();
    }

    /// Commits `requests` (and the finished entries, and the journal's fold) as one batch,
    /// and answers them. The last fold's file is emptied before the core's lock: the appends
    /// go on meanwhile. (The writer empties the folded file when nothing waits for it, and
    /// here at the latest, so that the switch after this fold finds it empty.)
    fn commit_batch(&mut self, requests: &mut Vec<Job>) {
        self.journal.empty_folded();
        with_core(&self.core, |core| match core {
            // Nothing to do: the finished entries went with a journal's record meanwhile.
            Some(core) if requests.is_empty() && core.idle() => core.finished.nothing_to_fold(),
            Some(core) => core.commit_batch(requests),
            None => {
                for request in requests.drain(..) {
                    request.answer(&Err(StoreError::Closed.into()));
                }
            }
        });
    }

    /// Tidies up when it is time: purges expired claims and memos and gives free space back, a
    /// bounded amount per round; when more is left, the round after the next batch goes on.
    fn tidy_when_due(&mut self) {
        if Instant::now() < self.next_tidy {
            return;
        }
        let Some(tidied) = with_core(&self.core, |core| core.map(Core::tidy)) else {
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
        let Writer {
            core,
            held,
            journal,
            ..
        } = self;
        let Some(mut core) = lock(&core).take() else {
            return;
        };
        if !core.idle() {
            core.commit_batch(&mut Vec::new());
        }
        journal.empty_folded();
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
    /// Whether a commit would do nothing: no handled entries to delete, no journal to fold.
    fn idle(&self) -> bool {
        self.finished.is_empty() && self.deferred.is_empty() && self.journal.is_empty()
    }

    /// Appends `append` to the journal with one write, under the core's lock: a duplicate
    /// or a full store writes nothing; the record carries the entries handled since the last
    /// one (their markers). What is known in memory changes only once the write returned.
    /// Also whether the writer must be told (the fold's deadline started while it waited
    /// without one).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] naming the journal when the write failed: nothing of it is in
    /// the file, and nothing changed.
    pub(super) fn append_to_journal(&mut self, append: &Append) -> (Result<Appended>, bool) {
        let now = self.clock.now();
        if let Some(key) = &append.claim
            && self.claims.expiry(key).is_some_and(|expires| expires > now)
        {
            return (Ok(Appended::Duplicate), false);
        }
        let notification = append.notification.as_str();
        let size = notification.len() as u64;
        // The entries handled since the last record go with this one, and give back their room.
        let mut handled = std::mem::take(&mut self.spare);
        let wake = self.finished.take_for_record(&mut handled);
        let free = self.batches.freeable(&handled);
        if self.counts.entries.saturating_sub(free.events) >= self.limits.max_events
            || (self.counts.bytes.saturating_sub(free.bytes)).saturating_add(size)
                > self.limits.max_bytes
        {
            self.finished.restore(&mut handled);
            self.spare = handled;
            return (Ok(Appended::Full), wake);
        }
        let id = self.batches.next_id();
        let expires = now.saturating_add(self.limits.claim_retention);
        let entry = Entry {
            id,
            claim: append.claim,
            expires,
            handled,
            blob: &[],
        };
        // The row's blob is the payload's tail, encoded in place (the fold reads it back).
        let written = self.journal.append(&mut self.record, |payload| {
            entry.encode(payload);
            Record {
                gateway: append.gateway,
                instance: &append.instance,
                notification,
            }
            .encode(payload);
        });
        let mut handled = entry.handled;
        if let Err(error) = written {
            self.finished.restore(&mut handled);
            self.spare = handled;
            let error = StoreError::Database {
                path: self.journal.path().to_owned(),
                source: Box::new(error),
            };
            tracing::error!(%error, "the store could not write a notification to its journal; it is refused");
            return (Err(error.into()), wake);
        }
        let mut known = Known {
            batches: &mut self.batches,
            claims: &mut self.claims,
            counts: &mut self.counts,
            deferred: &mut self.deferred,
        };
        let kept = Kept {
            gateway: append.gateway,
            instance: Arc::clone(&append.instance),
            notification: append.notification.clone(),
        };
        let seq = known.journaled(id, size as u32, append.claim, expires, Some(kept));
        known.handled(&handled);
        handled.clear();
        self.spare = handled;
        if self.record.capacity() > SPARE_BYTES {
            // An unusually large notification's memory goes back.
            self.record = Vec::new();
        }
        (Ok(Appended::Queued(seq)), wake)
    }

    /// Runs `requests` (and deletes the finished entries) in one transaction, then answers
    /// each request, leaving `requests` empty. On failure nothing of the batch is kept, and
    /// every request is answered with the error.
    fn commit_batch(&mut self, requests: &mut Vec<Job>) {
        let committed = self.commit_with(&[], |batch| {
            for request in requests.iter_mut() {
                request.apply(batch)?;
            }
            Ok(())
        });
        for request in requests.drain(..) {
            request.answer(&committed);
        }
    }

    /// Runs `steps` (after deleting the finished entries and folding the journal's rows and
    /// claims: the rows kept in memory, and those replayed at open from `records`, the
    /// journal's as the open read them) in one transaction and commits it, then switches the
    /// journal's appends to its other file (the writer empties the folded one outside the
    /// lock). On failure nothing of the batch is kept: the counts, claims and rows are as
    /// before (the journal's with them), and the finished entries wait for the next batch.
    fn commit_with(
        &mut self,
        records: &[u8],
        steps: impl FnOnce(&mut Batch<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let counts = self.counts;
        let mut finished = std::mem::take(&mut self.spare);
        self.finished.take(&mut finished);
        let committed = self
            .commit(&mut finished, records, steps)
            .map_err(|error| Error::from(schema::classify(&self.path, error)));
        match &committed {
            Ok(()) => {
                self.checkpointer.committed();
                self.claims.commit();
                self.batches.commit();
                finished.clear();
                self.spare = finished;
                self.deferred.clear();
                self.journal.switch();
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
        records: &[u8],
        steps: impl FnOnce(&mut Batch<'_>) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let tx = Open::begin(&self.connection)?;
        self.deferred.sort_unstable();
        self.batches.write_marked(tx.0, &self.deferred)?;
        let mut batch = Batch {
            tx: tx.0,
            now: self.clock.now(),
            counts: &mut self.counts,
            claims: &mut self.claims,
            batches: &mut self.batches,
            limits: &self.limits,
        };
        entries::delete(&mut batch, finished)?;
        batch.batches.fold(tx.0, journal::payloads(records))?;
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
    fn a_journals_record_takes_the_handled_entries_and_starts_the_fold_in_one_lock() {
        let finished = Finished::default();
        assert_eq!(finished.due(), None, "the writer waits without a deadline");
        assert!(
            finished.add(Seq(1)),
            "the first lot wakes the waiting writer"
        );
        let mut taken = Vec::new();
        let before = Instant::now();
        let wake = finished.take_for_record(&mut taken);
        assert_eq!(taken, [Seq(1)], "the markers go with the record");
        assert!(!wake, "the lot told the writer already");
        let fold = finished.due().expect("the fold is due");
        assert!(fold >= before + FOLD_DELAY && fold <= Instant::now() + FOLD_DELAY);
        taken.clear();
        assert!(!finished.take_for_record(&mut taken));
        assert_eq!(
            finished.due(),
            Some(fold),
            "a later record joins the fold's deadline"
        );
        // The record was refused (a full store): the writer finds nothing to commit.
        finished.nothing_to_fold();
        assert_eq!(finished.due(), None, "no deadline is left to spin on");
        assert!(
            finished.take_for_record(&mut taken),
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
