//! Accepted notifications and their claims: appended (claim and entry in one step: one
//! journal's record, or one step of the writer's batch), read back at start in the order
//! they were accepted, deleted once handled; expired claims purged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::batches::{Record, Stored};
use super::claims::Key;
use super::writer::{Batch, Message, Op, Request};
use super::{DurableStore, StoreError};
use crate::dedupe::DedupeKey;
use crate::error::Result;
use crate::event::{Event, RawJson};

/// The place of an accepted notification in the order the store accepted them: larger is
/// later, and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Seq(pub(super) i64);

/// What became of an appended notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Committed, under this sequence number; [`DurableStore::finish`] it once handled.
    Queued(Seq),
    /// A copy of one accepted within the claim retention: nothing written.
    Duplicate,
    /// The store holds its most unhandled notifications (by count or bytes): nothing written,
    /// nothing claimed.
    Full,
}

/// An accepted notification that was not finished: to handle again at start.
#[derive(Debug, Clone)]
pub(crate) struct Unfinished {
    /// Its place in the accept order.
    pub(crate) seq: Seq,
    /// The event, with the instance it was accepted for.
    pub(crate) event: Event,
}

impl DurableStore {
    /// Claims `event` against duplicates and keeps it until [`finish`](DurableStore::finish)ed;
    /// answers once it is kept (written to the journal, or committed by the writer).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the batch could not be committed (a
    /// full disk, an I/O error): nothing of it was written, and the gateway should deliver
    /// again.
    #[cfg(test)]
    pub(crate) async fn append(&self, event: &Event) -> Result<Appended> {
        self.hand_over(event).await?.await
    }

    /// Keeps `event` ([`append`](DurableStore::append)) and gives the answer: with
    /// [`Durability::Process`](super::Durability::Process) written to the journal at once on
    /// this task (answered when the write returned), unless the writer thread is committing;
    /// else handed to the writer, waiting for room in its channel. Dropped before it returns,
    /// it handed nothing over; once it returned, the append is kept (or refused) whether or
    /// not the answer is awaited.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the store is closed.
    pub(crate) async fn hand_over(&self, event: &Event) -> Result<Committing> {
        let append = Append {
            gateway: event.gateway.as_str(),
            instance: event.instance.clone(),
            notification: event.raw.clone(),
            claim: DedupeKey::of(event).map(DedupeKey::to_bytes),
        };
        if let Some(shared) = &self.inner.journal
            && let Some(mut core) = shared.for_append()
        {
            let (answer, wake) = match core.as_mut() {
                Some(core) => core.append_to_journal(&append),
                None => (Err(StoreError::Closed.into()), false),
            };
            drop(core);
            if wake && let Some(sender) = &self.inner.sender {
                let _ = sender.try_send(Message::Finished);
            }
            return Ok(Committing(Some(Waited::Done(answer))));
        }
        let (reply, answer) = oneshot::channel();
        self.send(Message::Append(Request::new(append, reply)))
            .await?;
        Ok(Committing(Some(Waited::Writer(answer))))
    }

    /// Deletes a handled entry in the writer's next batch of requests, or within 10 ms when
    /// none comes; it does not wait for the commit (a crash before it replays the entry at the
    /// next start), so the dispatcher's completion, which cannot wait, calls it. Only the first
    /// entry of each lot wakes the writer; when its channel is full, the writer is about to
    /// commit and takes the entry along.
    pub(crate) fn finish(&self, seq: Seq) {
        if self.inner.finished.add(seq)
            && let Some(sender) = &self.inner.sender
        {
            let _ = sender.try_send(Message::Finished);
        }
    }

    /// Takes back an entry that was appended but could not be handed to its handler (the
    /// dispatcher refused it): deletes the entry and its `claim`, so that the gateway's next
    /// delivery is accepted anew. Answers once that is committed.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the batch could not be committed: the
    /// entry stays, and is handled at the next start.
    pub(crate) async fn withdraw(&self, seq: Seq, claim: Option<DedupeKey>) -> Result<()> {
        self.run(Withdraw {
            seq,
            claim: claim.map(DedupeKey::to_bytes),
        })
        .await
    }

    /// Answers once everything handed to the writer thread before it is committed, and the
    /// entries finished before it deleted (an append committed on the runtime is answered by
    /// its own commit).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the batch could not be committed.
    pub(crate) async fn flush(&self) -> Result<()> {
        self.run(Flush).await
    }

    /// Up to `limit` unfinished entries accepted after `after` (all when `None`), in the order
    /// they were accepted, with their events. An entry that no longer reads as an event (it
    /// names a gateway this version does not know) is logged and finished.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the store cannot be read.
    pub(crate) async fn unfinished(
        &self,
        after: Option<Seq>,
        limit: usize,
    ) -> Result<Vec<Unfinished>> {
        let limit = limit.max(1);
        let mut after = after.unwrap_or(Seq(0));
        let mut unfinished = Vec::new();
        while unfinished.len() < limit {
            let page = self
                .run(ReadEntries {
                    after,
                    limit: limit - unfinished.len(),
                })
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in page {
                match entry.decode() {
                    Some(event) => unfinished.push(Unfinished {
                        seq: entry.seq,
                        event,
                    }),
                    None => {
                        tracing::error!(seq = entry.seq.0, gateway = %entry.gateway, "an entry of the store does not read as a notification; it is dropped");
                        self.finish(entry.seq);
                    }
                }
            }
        }
        Ok(unfinished)
    }
}

/// An append handed over: what became of it, once it is kept.
#[derive(Debug)]
pub(crate) struct Committing(Option<Waited>);

#[derive(Debug)]
enum Waited {
    /// Written to the journal (or refused) already.
    Done(Result<Appended>),
    /// Handed to the writer thread.
    Writer(oneshot::Receiver<Result<Appended>>),
}

impl Future for Committing {
    type Output = Result<Appended>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let closed = || Err(StoreError::Closed.into());
        match &mut self.0 {
            Some(Waited::Writer(answer)) => Pin::new(answer)
                .poll(cx)
                .map(|answer| answer.unwrap_or_else(|_| closed())),
            Some(Waited::Done(_)) => match self.0.take() {
                Some(Waited::Done(answer)) => Poll::Ready(answer),
                _ => Poll::Ready(closed()),
            },
            None => Poll::Ready(closed()),
        }
    }
}

/// Claims a notification and keeps it, in one step: a duplicate writes nothing, and neither
/// does a full store. It shares the event's text rather than copying it.
pub(super) struct Append {
    pub(super) gateway: &'static str,
    pub(super) instance: Arc<str>,
    pub(super) notification: RawJson,
    pub(super) claim: Option<Key>,
}

impl Op for Append {
    type Output = Appended;

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<Appended> {
        if let Some(key) = &self.claim
            && batch
                .claims
                .expiry(key)
                .is_some_and(|expires| expires > batch.now)
        {
            return Ok(Appended::Duplicate);
        }
        let notification = self.notification.as_str();
        let size = notification.len() as u64;
        let counts = &*batch.counts;
        if counts.entries >= batch.limits.max_events
            || counts.bytes.saturating_add(size) > batch.limits.max_bytes
        {
            return Ok(Appended::Full);
        }
        let seq = batch.batches.push(
            batch.tx,
            &Record {
                gateway: self.gateway,
                instance: &self.instance,
                notification,
            },
        )?;
        if let Some(key) = self.claim {
            let expires = batch.now.saturating_add(batch.limits.claim_retention);
            batch.claims.claim(key, expires);
        }
        batch.counts.entries += 1;
        batch.counts.bytes += size;
        Ok(Appended::Queued(seq))
    }
}

/// Deletes an entry and its claim, which a refused notification leaves behind.
struct Withdraw {
    seq: Seq,
    claim: Option<Key>,
}

impl Op for Withdraw {
    type Output = ();

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<()> {
        delete(batch, &mut [self.seq])?;
        if let Some(key) = &self.claim {
            batch.claims.release(batch.tx, key)?;
        }
        Ok(())
    }
}

/// Nothing: a request whose answer says that what came before it is committed.
struct Flush;

impl Op for Flush {
    type Output = ();

    fn apply(&self, _: &mut Batch<'_>) -> rusqlite::Result<()> {
        Ok(())
    }
}

/// Deletes the `finished` entries (those already gone are skipped) and gives back their room.
pub(super) fn delete(batch: &mut Batch<'_>, finished: &mut [Seq]) -> rusqlite::Result<()> {
    if finished.is_empty() {
        return Ok(());
    }
    let freed = batch.batches.finish(batch.tx, finished)?;
    batch.counts.entries = batch.counts.entries.saturating_sub(freed.events);
    batch.counts.bytes = batch.counts.bytes.saturating_sub(freed.bytes);
    Ok(())
}

/// Entries accepted after `after`, at most `limit`, in accept order.
struct ReadEntries {
    after: Seq,
    limit: usize,
}

impl Op for ReadEntries {
    type Output = Vec<Stored>;

    fn apply(&self, batch: &mut Batch<'_>) -> rusqlite::Result<Vec<Stored>> {
        batch.batches.read(batch.tx, self.after, self.limit)
    }
}

impl Stored {
    /// The event the entry holds, or `None` when it does not read as one. The event keeps the
    /// instance it was accepted for, also when the notification names none (a Z-API callback
    /// is its path token's instance).
    fn decode(&self) -> Option<Event> {
        Event::restore(&self.gateway, &self.notification, &self.instance)
    }
}

#[cfg(test)]
mod tests {
    use crate::gateway::GatewayKind;
    use std::collections::HashSet;
    use std::process::Stdio;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::task::JoinHandle;

    use super::*;
    use crate::durable::batches::row_of;
    use crate::durable::test_support::{
        T0, claims, count, crash_image, open, open_held, peek, text, unhandled, writer_settings,
    };
    use crate::durable::writer::CHANNEL_CAPACITY;
    use crate::durable::{Clock, Durability, StoreSettings};

    /// How long a test waits for what it expects before it fails.
    const PATIENCE: Duration = Duration::from_secs(60);
    const ANNA: &str = "79001234567@c.us";

    fn queued(appended: Appended) -> Seq {
        match appended {
            Appended::Queued(seq) => seq,
            other => panic!("expected Queued, got {other:?}"),
        }
    }

    /// Appends Anna's messages `M{n}` for each of `numbers`, then checks that the next one finds
    /// the store full (`why` says whose room it is); their numbers.
    async fn append_until_full(
        store: &DurableStore,
        numbers: std::ops::RangeInclusive<usize>,
        why: &str,
    ) -> Vec<Seq> {
        let next = numbers.end() + 1;
        let mut seqs = Vec::new();
        for n in numbers {
            let event = text(ANNA, &format!("M{n}"), "hi");
            seqs.push(queued(store.append(&event).await.unwrap()));
        }
        let event = text(ANNA, &format!("M{next}"), "hi");
        assert_eq!(store.append(&event).await.unwrap(), Appended::Full, "{why}");
        seqs
    }

    fn ids(unfinished: &[Unfinished]) -> Vec<String> {
        unfinished
            .iter()
            .map(|entry| entry.event.message_id().expect("a message").to_string())
            .collect()
    }

    /// A step that holds the writer inside its batch until released.
    struct Gate {
        reached: std::sync::mpsc::Receiver<()>,
        release: std::sync::mpsc::Sender<()>,
        done: JoinHandle<crate::Result<()>>,
    }

    impl Gate {
        fn enter(store: &DurableStore) -> Self {
            let (reached_tx, reached) = std::sync::mpsc::channel();
            let (release, released) = std::sync::mpsc::channel::<()>();
            let store = store.clone();
            let done = tokio::spawn(async move {
                store
                    .run_step(move |_| {
                        let _ = reached_tx.send(());
                        let _ = released.recv();
                        Ok(())
                    })
                    .await
            });
            Self {
                reached,
                release,
                done,
            }
        }

        /// Waits (blocking this thread) until the writer runs the gate.
        fn wait_reached(&self) {
            self.reached
                .recv_timeout(PATIENCE)
                .expect("the writer reaches the gate");
        }

        async fn open(self) {
            self.release.send(()).expect("the gate waits");
            self.done.await.unwrap().expect("the gate's batch commits");
        }
    }

    /// Appends `count` messages of Anna (`M0`, `M1`, …), each in a task of its own.
    fn spawn_appends(
        store: &DurableStore,
        count: usize,
    ) -> Vec<JoinHandle<crate::Result<Appended>>> {
        (0..count)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move { store.append(&text(ANNA, &format!("M{n}"), "hi")).await })
            })
            .collect()
    }

    /// Asserts that none of `appends` is visible or answered yet, lets their batch commit
    /// (`commit`), then that each is answered with a number of its own and all are kept.
    async fn answered_only_after(
        dir: &std::path::Path,
        appends: Vec<JoinHandle<crate::Result<Appended>>>,
        commit: impl std::future::Future<Output = ()>,
    ) {
        assert_eq!(unhandled(dir), 0, "nothing is visible before the commit");
        assert!(
            appends.iter().all(|append| !append.is_finished()),
            "no append is answered before its batch is committed"
        );
        commit.await;
        let count = appends.len();
        let mut seqs = HashSet::new();
        for append in appends {
            seqs.insert(queued(append.await.unwrap().unwrap()));
        }
        assert_eq!(seqs.len(), count, "each append has a number of its own");
        assert_eq!(unhandled(dir), count as i64);
    }

    /// Waits until the writer's channel holds `queued` messages.
    async fn until_queued(store: &DurableStore, queued: usize) {
        let sender = store.inner.sender.as_ref().expect("open");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while CHANNEL_CAPACITY - sender.capacity() < queued {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{queued} requests never queued"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_that_find_the_writer_committing_go_to_it_and_are_answered_after_its_commit() {
        const APPENDS: usize = 20;
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        // The writer holds the core: the appends go to its channel, not to the journal.
        let busy = Gate::enter(&store);
        busy.wait_reached();
        let appends = spawn_appends(&store, APPENDS);
        until_queued(&store, APPENDS).await;
        assert!(
            appends.iter().all(|append| !append.is_finished()),
            "no append is answered while the writer commits"
        );
        assert_eq!(journal_len(dir.path()), 0, "none is written meanwhile");
        busy.open().await;
        let mut seqs = HashSet::new();
        for append in appends {
            seqs.insert(queued(append.await.unwrap().unwrap()));
        }
        assert_eq!(seqs.len(), APPENDS, "each append has a number of its own");
        assert!(
            journal_len(dir.path()) > 0,
            "the writer wrote them to the journal"
        );
        store.flush().await.unwrap();
        assert_eq!(unhandled(dir.path()), APPENDS as i64);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_append_that_finds_the_writer_committing_leaves_its_worker_to_other_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let busy = Gate::enter(&store);
        tokio::task::yield_now().await;
        busy.wait_reached();
        // Were the append to wait for the core, this runtime's one thread would stop
        // until the watchdog opens the gate.
        let watchdog_opened = Arc::new(AtomicBool::new(false));
        {
            let release = busy.release.clone();
            let opened = Arc::clone(&watchdog_opened);
            std::thread::spawn(move || {
                std::thread::sleep(PATIENCE);
                opened.store(true, Ordering::SeqCst);
                let _ = release.send(());
            });
        }
        let append = {
            let store = store.clone();
            tokio::spawn(async move { store.append(&text(ANNA, "M1", "hi")).await })
        };
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(
            !watchdog_opened.load(Ordering::SeqCst),
            "the runtime's thread waited for the writer thread"
        );
        assert!(!append.is_finished(), "answered before its commit");
        busy.open().await;
        assert!(matches!(append.await.unwrap(), Ok(Appended::Queued(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_that_arrive_together_are_committed_in_one_transaction_and_answered_after_it() {
        const APPENDS: usize = 200;
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), writer_settings(), &Clock::manual(T0));
        // The writer is busy with a first batch while the appends queue up behind it.
        let busy = Gate::enter(&store);
        busy.wait_reached();
        let appends = spawn_appends(&store, APPENDS);
        until_queued(&store, APPENDS).await;
        // Last in the next batch: holds it open after every append of it ran.
        let commit = Gate::enter(&store);
        until_queued(&store, APPENDS + 1).await;
        busy.open().await;
        commit.wait_reached();
        answered_only_after(dir.path(), appends, commit.open()).await;
    }

    #[tokio::test]
    async fn a_withdrawn_entry_gives_back_its_claim_and_its_room() {
        let dir = tempfile::tempdir().unwrap();
        let settings = StoreSettings::new().max_events(1);
        let store = open(dir.path(), settings, &Clock::manual(T0));
        let event = text(ANNA, "M1", "hi");
        let seq = queued(store.append(&event).await.unwrap());
        store.withdraw(seq, DedupeKey::of(&event)).await.unwrap();
        assert_eq!(unhandled(dir.path()), 0);
        assert_eq!(claims(dir.path()), 0);
        // The redelivery is no duplicate, and the store of one has room for it.
        queued(store.append(&event).await.unwrap());
    }

    #[tokio::test]
    async fn an_entry_finished_without_waiting_is_deleted_by_the_next_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let seq = queued(store.append(&text(ANNA, "M1", "hi")).await.unwrap());
        store.finish(seq);
        store.flush().await.unwrap();
        assert_eq!(unhandled(dir.path()), 0);
        assert!(store.unfinished(None, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_handled_entry_is_deleted_without_further_requests() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let seq = queued(store.append(&text(ANNA, "M1", "hi")).await.unwrap());
        store.finish(seq);
        let deadline = Instant::now() + PATIENCE;
        while unhandled(dir.path()) > 0 {
            assert!(Instant::now() < deadline, "the entry was never deleted");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_redelivery_is_a_duplicate_also_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let first = text(ANNA, "M1", "hi");
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            queued(store.append(&first).await.unwrap());
            assert_eq!(store.append(&first).await.unwrap(), Appended::Duplicate);
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        assert_eq!(store.append(&first).await.unwrap(), Appended::Duplicate);
        queued(store.append(&text(ANNA, "M2", "hi")).await.unwrap());
        store.flush().await.unwrap();
        assert_eq!(unhandled(dir.path()), 2);
    }

    #[tokio::test]
    async fn two_copies_in_one_batch_are_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let event = text(ANNA, "M1", "hi");
        let (a, b) = tokio::join!(store.append(&event), store.append(&event));
        let mut answers = [a.unwrap(), b.unwrap()];
        answers.sort_by_key(|answer| matches!(answer, Appended::Duplicate));
        assert!(matches!(
            answers,
            [Appended::Queued(_), Appended::Duplicate]
        ));
        store.flush().await.unwrap();
        assert_eq!(unhandled(dir.path()), 1);
    }

    /// Holds the writer busy while `requests` queue up behind it, so that they make one batch.
    async fn in_one_batch<T>(
        store: &DurableStore,
        requests: impl FnOnce() -> Vec<JoinHandle<T>>,
    ) -> Vec<T> {
        let busy = Gate::enter(store);
        busy.wait_reached();
        let handles = requests();
        until_queued(store, handles.len()).await;
        busy.open().await;
        let mut answers = Vec::new();
        for handle in handles {
            answers.push(handle.await.unwrap());
        }
        answers
    }

    fn spawn_append(store: &DurableStore, event: &Event) -> JoinHandle<crate::Result<Appended>> {
        let (store, event) = (store.clone(), event.clone());
        tokio::spawn(async move { store.append(&event).await })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copies_of_one_message_in_one_batch_are_one_entry_and_one_claim() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), writer_settings(), &Clock::manual(T0));
        let (first, second) = (text(ANNA, "M1", "hi"), text(ANNA, "M2", "hi"));
        let copies = [&first, &first, &second, &first, &second];
        let answers = in_one_batch(&store, || {
            copies
                .into_iter()
                .map(|event| spawn_append(&store, event))
                .collect()
        })
        .await;
        // The spawned appends reach the writer in any order: of each message's copies, exactly
        // one is queued, whichever came first.
        let queued_copies_of = |message: &Event| {
            copies
                .iter()
                .zip(&answers)
                .filter(|(copy, answer)| {
                    copy.message_id() == message.message_id()
                        && matches!(answer, Ok(Appended::Queued(_)))
                })
                .count()
        };
        assert_eq!(
            (queued_copies_of(&first), queued_copies_of(&second)),
            (1, 1)
        );
        assert!(
            answers
                .iter()
                .all(|answer| matches!(answer, Ok(Appended::Queued(_) | Appended::Duplicate)))
        );
        assert_eq!(unhandled(dir.path()), 2);
        assert_eq!(claims(dir.path()), 2);
        assert_eq!(store.append(&first).await.unwrap(), Appended::Duplicate);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_leaves_no_claim_behind_for_its_copies() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), writer_settings(), &Clock::manual(T0));
        let event = text(ANNA, "M1", "hi");
        let answers = in_one_batch(&store, || {
            let copies = [&event, &event].map(|event| spawn_append(&store, event));
            let failing = {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .run_step(|_| Err::<(), _>(rusqlite::Error::InvalidQuery))
                        .await
                        .map(|()| Appended::Full)
                })
            };
            copies.into_iter().chain([failing]).collect()
        })
        .await;
        assert!(answers.iter().all(Result::is_err), "{answers:?}");
        assert_eq!(claims(dir.path()), 0);
        queued(store.append(&event).await.unwrap());
        assert_eq!(store.append(&event).await.unwrap(), Appended::Duplicate);
    }

    #[tokio::test]
    async fn an_event_without_a_key_is_never_a_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let state = Event::from_json(
            GatewayKind::GreenApiWhatsApp,
            serde_json::json!({
                "typeWebhook": "stateInstanceChanged",
                "instanceData": {"idInstance": 1, "wid": "", "typeInstance": "whatsapp"},
                "timestamp": 1, "stateInstance": "authorized"
            }),
        )
        .unwrap();
        queued(store.append(&state).await.unwrap());
        queued(store.append(&state).await.unwrap());
        assert_eq!(claims(dir.path()), 0);
    }

    #[tokio::test]
    async fn a_claim_lasts_its_retention_on_the_wall_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let settings = StoreSettings::new().claim_retention(Duration::from_secs(60 * 60));
        let event = text(ANNA, "M1", "hi");
        {
            let store = open(dir.path(), settings.clone(), &clock);
            queued(store.append(&event).await.unwrap());
        }
        clock.advance(Duration::from_secs(59 * 60));
        let store = open(dir.path(), settings, &clock);
        assert_eq!(store.append(&event).await.unwrap(), Appended::Duplicate);
        clock.advance(Duration::from_secs(60));
        queued(store.append(&event).await.unwrap());
        assert_eq!(claims(dir.path()), 1);
    }

    #[tokio::test]
    async fn a_store_full_by_count_writes_nothing_until_an_entry_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(
            dir.path(),
            StoreSettings::new().max_events(2),
            &Clock::manual(T0),
        );
        let first = queued(store.append(&text(ANNA, "M1", "one")).await.unwrap());
        queued(store.append(&text(ANNA, "M2", "two")).await.unwrap());
        let third = text(ANNA, "M3", "three");
        assert_eq!(store.append(&third).await.unwrap(), Appended::Full);
        store.flush().await.unwrap();
        assert_eq!(unhandled(dir.path()), 2);
        assert_eq!(claims(dir.path()), 2, "no claim for it");

        store.finish(first);
        queued(store.append(&third).await.unwrap());
        assert_eq!(store.append(&third).await.unwrap(), Appended::Duplicate);
    }

    #[tokio::test]
    async fn a_store_full_by_bytes_writes_nothing_until_an_entry_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let first = text(ANNA, "M1", "one");
        let second = text(ANNA, "M2", "a longer text that does not fit");
        let room = (first.raw.as_str().len() + second.raw.as_str().len() - 1) as u64;
        let store = open(
            dir.path(),
            StoreSettings::new().max_bytes(room),
            &Clock::manual(T0),
        );
        let seq = queued(store.append(&first).await.unwrap());
        assert_eq!(store.append(&second).await.unwrap(), Appended::Full);
        store.flush().await.unwrap();
        assert_eq!(unhandled(dir.path()), 1);
        store.finish(seq);
        queued(store.append(&second).await.unwrap());
    }

    #[tokio::test]
    async fn unfinished_entries_come_back_in_accept_order_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            for n in 1..=5 {
                let chat = if n % 2 == 0 { ANNA } else { "79001234568@c.us" };
                let seq = queued(
                    store
                        .append(&text(chat, &format!("M{n}"), "hi"))
                        .await
                        .unwrap(),
                );
                if n == 2 {
                    store.finish(seq);
                }
            }
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let all = store.unfinished(None, 100).await.unwrap();
        assert_eq!(ids(&all), ["M1", "M3", "M4", "M5"]);
        assert!(all.windows(2).all(|pair| pair[0].seq < pair[1].seq));
        assert_eq!(all[2].event.chat().unwrap().as_str(), ANNA);

        let first_page = store.unfinished(None, 2).await.unwrap();
        assert_eq!(ids(&first_page), ["M1", "M3"]);
        let next_page = store.unfinished(Some(first_page[1].seq), 2).await.unwrap();
        assert_eq!(ids(&next_page), ["M4", "M5"]);
        assert!(
            store
                .unfinished(Some(next_page[1].seq), 2)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn finished_entries_are_gone_after_a_reopen_and_the_bounds_count_what_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let settings = StoreSettings::new().max_events(2);
        {
            let store = open(dir.path(), settings.clone(), &clock);
            let first = queued(store.append(&text(ANNA, "M1", "hi")).await.unwrap());
            queued(store.append(&text(ANNA, "M2", "hi")).await.unwrap());
            store.finish(first);
        }
        let store = open(dir.path(), settings, &clock);
        assert_eq!(ids(&store.unfinished(None, 10).await.unwrap()), ["M2"]);
        queued(store.append(&text(ANNA, "M3", "hi")).await.unwrap());
        assert_eq!(
            store.append(&text(ANNA, "M4", "hi")).await.unwrap(),
            Appended::Full,
            "the entry left from before counts"
        );
    }

    #[tokio::test]
    async fn entries_finished_together_are_deleted_in_one_batch_and_give_back_their_room() {
        let dir = tempfile::tempdir().unwrap();
        let settings = StoreSettings::new().max_events(10);
        let store = open(dir.path(), settings, &Clock::manual(T0));
        let seqs = append_until_full(&store, 1..=10, "ten kept").await;
        // Finished out of order, one twice, and one that was never appended.
        for n in [9, 2, 5, 3, 3] {
            store.finish(seqs[n - 1]);
        }
        store.finish(Seq(seqs[9].0 + 100));
        store.flush().await.unwrap();
        assert_eq!(
            ids(&store.unfinished(None, 100).await.unwrap()),
            ["M1", "M4", "M6", "M7", "M8", "M10"]
        );
        append_until_full(&store, 11..=14, "four deleted, four places given back").await;
    }

    #[tokio::test]
    async fn a_recovered_event_keeps_the_instance_it_was_accepted_for() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let mut callback = Event::from_json(
            GatewayKind::ZApi,
            serde_json::json!({"type": "ReceivedCallback", "messageId": "Z1", "phone": "5544999999999",
                "text": {"message": "oi"}}),
        )
        .unwrap();
        assert!(
            callback.instance.is_empty(),
            "the callback names no instance"
        );
        callback.instance = "3C4A1B2C".into();
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            queued(store.append(&callback).await.unwrap());
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let recovered = store.unfinished(None, 10).await.unwrap();
        assert_eq!(&*recovered[0].event.instance, "3C4A1B2C");
        assert_eq!(recovered[0].event.gateway, GatewayKind::ZApi);
        assert_eq!(recovered[0].event.raw.as_str(), callback.raw.as_str());
    }

    #[tokio::test]
    async fn an_entry_that_does_not_read_as_an_event_is_dropped_at_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            queued(store.append(&text(ANNA, "M1", "hi")).await.unwrap());
        }
        let telegram = Record {
            gateway: "telegram",
            instance: "1",
            notification: "{}",
        };
        peek(dir.path())
            .execute(
                "INSERT INTO batches (events) VALUES (?1)",
                [row_of(&[telegram])],
            )
            .unwrap();
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            queued(store.append(&text(ANNA, "M2", "hi")).await.unwrap());
            assert_eq!(
                ids(&store.unfinished(None, 10).await.unwrap()),
                ["M1", "M2"]
            );
        }
        assert_eq!(unhandled(dir.path()), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_partly_handled_gives_back_only_its_unhandled_entries_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let settings = writer_settings().max_events(5);
        let events: Vec<Event> = (1..=4)
            .map(|n| text(ANNA, &format!("M{n}"), "hi"))
            .collect();
        {
            let store = open(dir.path(), settings.clone(), &clock);
            let answers = in_one_batch(&store, || {
                events
                    .iter()
                    .map(|event| spawn_append(&store, event))
                    .collect()
            })
            .await;
            assert_eq!(count(dir.path(), "SELECT count(*) FROM batches"), 1);
            let seqs: Vec<Seq> = answers
                .iter()
                .map(|answer| queued(*answer.as_ref().unwrap()))
                .collect();
            for n in [1, 3] {
                store.finish(seqs[n]);
            }
            // A number past the row's last notification, twice: nothing.
            let past = Seq(seqs.iter().max().unwrap().0 + 1);
            store.finish(past);
            store.finish(past);
            store.flush().await.unwrap();
            assert_eq!(count(dir.path(), "SELECT count(*) FROM handled"), 1);
        }
        let store = open(dir.path(), settings, &clock);
        let left = store.unfinished(None, 10).await.unwrap();
        let mut left_ids = ids(&left);
        left_ids.sort();
        assert_eq!(left_ids, ["M1", "M3"]);
        assert_eq!(unhandled(dir.path()), 2);
        append_until_full(
            &store,
            5..=7,
            "the handled two gave back their room, not more",
        )
        .await;
        for entry in &left {
            store.finish(entry.seq);
        }
        store.flush().await.unwrap();
        assert_eq!(count(dir.path(), "SELECT count(*) FROM handled"), 0);
        assert_eq!(count(dir.path(), "SELECT count(*) FROM batches"), 3);
    }

    #[test]
    fn a_row_that_does_not_read_as_notifications_is_refused_at_open_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), StoreSettings::new(), &Clock::manual(T0)));
        peek(dir.path())
            .execute("INSERT INTO batches (events) VALUES (x'05ff')", [])
            .unwrap();
        let error = DurableStore::open(dir.path(), StoreSettings::new()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("row 1 of batches does not read"),
            "{message}"
        );
        assert!(
            message.contains(&*dir.path().to_string_lossy()),
            "names the path: {message}"
        );
    }

    #[tokio::test]
    async fn a_full_disk_refuses_the_batch_and_the_store_goes_on_once_it_clears() {
        let dir = tempfile::tempdir().unwrap();
        // The writer thread's appends, committed to the database.
        let store = open(dir.path(), writer_settings(), &Clock::manual(T0));
        queued(store.append(&text(ANNA, "M1", "hi")).await.unwrap());
        let set_max_pages = |pages: Option<i64>| {
            store.run_step(move |batch| {
                let pages = match pages {
                    Some(pages) => pages,
                    None => batch
                        .tx
                        .query_row("PRAGMA page_count", [], |row| row.get(0))?,
                };
                batch
                    .tx
                    .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |row| {
                        row.get::<_, i64>(0)
                    })
            })
        };
        // The database may not grow by a page: as on a full disk.
        set_max_pages(None).await.unwrap();
        let large = text(ANNA, "M2", &"x".repeat(200_000));
        let error = store.append(&large).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("full"), "{message}");
        assert!(
            message.contains(&*dir.path().to_string_lossy()),
            "names the path: {message}"
        );
        assert_eq!(unhandled(dir.path()), 1);
        assert_eq!(claims(dir.path()), 1);

        set_max_pages(Some(1 << 30)).await.unwrap();
        queued(store.append(&large).await.unwrap());
        assert_eq!(unhandled(dir.path()), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deletion_in_a_failed_batch_is_done_by_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), writer_settings(), &Clock::manual(T0));
        let first = queued(store.append(&text(ANNA, "M1", "hi")).await.unwrap());
        let set_max_pages = |pages: i64| {
            store.run_step(move |batch| {
                let pages = if pages > 0 {
                    pages
                } else {
                    batch
                        .tx
                        .query_row("PRAGMA page_count", [], |row| row.get(0))?
                };
                batch
                    .tx
                    .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |row| {
                        row.get::<_, i64>(0)
                    })
            })
        };
        set_max_pages(0).await.unwrap();
        // M1's deletion and an append too large for the file wait for the same batch.
        let busy = Gate::enter(&store);
        busy.wait_reached();
        store.finish(first);
        let large = text(ANNA, "M2", &"x".repeat(200_000));
        let append = {
            let (store, large) = (store.clone(), large.clone());
            tokio::spawn(async move { store.append(&large).await })
        };
        until_queued(&store, 2).await;
        busy.open().await;
        append.await.unwrap().unwrap_err();

        // The deletion was put back for a later batch: M1 is gone once the file may grow.
        set_max_pages(1 << 30).await.unwrap();
        queued(store.append(&large).await.unwrap());
        assert_eq!(ids(&store.unfinished(None, 10).await.unwrap()), ["M2"]);
    }

    #[tokio::test]
    async fn the_log_is_checkpointed_while_handled_entries_come_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let long = "x".repeat(50_000);
        for n in 0..800 {
            let seq = queued(
                store
                    .append(&text(ANNA, &format!("M{n}"), &long))
                    .await
                    .unwrap(),
            );
            store.finish(seq);
        }
        queued(store.append(&text(ANNA, "last", "hi")).await.unwrap());
        let log = std::fs::metadata(dir.path().join("hookbot.sqlite3-wal"))
            .unwrap()
            .len();
        assert!(log < 24 << 20, "40 MB went through a log of {log} bytes");
        store.flush().await.unwrap();
        assert_eq!(unhandled(dir.path()), 1);
    }

    /// The bytes of records the journal's files in `dir` hold together.
    fn journal_len(dir: &std::path::Path) -> u64 {
        journal_lengths(dir).iter().sum()
    }

    /// The bytes of records each of the journal's two files in `dir` holds.
    fn journal_lengths(dir: &std::path::Path) -> [u64; 2] {
        journal_paths(dir).map(|path| {
            assert!(path.exists(), "the journal exists");
            crate::durable::journal::record_bytes(&path) as u64
        })
    }

    /// The journal's two files in `dir`.
    fn journal_paths(dir: &std::path::Path) -> [std::path::PathBuf; 2] {
        crate::durable::directory::JOURNAL_FILES.map(|file| dir.join(file))
    }

    /// Appends Anna's messages `M{n}` for each of `numbers`; their numbers.
    async fn append_all(
        store: &DurableStore,
        numbers: std::ops::RangeInclusive<usize>,
    ) -> Vec<Seq> {
        let mut seqs = Vec::new();
        for n in numbers {
            let event = text(ANNA, &format!("M{n}"), "hi");
            seqs.push(queued(store.append(&event).await.unwrap()));
        }
        seqs
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_appends_are_each_answered_once_and_all_kept_in_their_order() {
        const TASKS: usize = 8;
        const EACH: usize = 150;
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        {
            let store = open(dir.path(), StoreSettings::new(), &clock);
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let mut seqs = Vec::new();
                        for n in 0..EACH {
                            let event =
                                text(&format!("7900{task}@c.us"), &format!("T{task}-{n}"), "hi");
                            seqs.push(queued(store.append(&event).await.unwrap()));
                        }
                        seqs
                    })
                })
                .collect();
            let mut all = HashSet::new();
            for task in tasks {
                let seqs = task.await.unwrap();
                assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "in order");
                all.extend(seqs);
            }
            assert_eq!(
                all.len(),
                TASKS * EACH,
                "each answered with a number of its own"
            );
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let left = ids(&store.unfinished(None, TASKS * EACH + 1).await.unwrap());
        assert_eq!(left.len(), TASKS * EACH, "all kept, once");
        for task in 0..TASKS {
            let own: Vec<_> = left
                .iter()
                .filter(|id| id.starts_with(&format!("T{task}-")))
                .cloned()
                .collect();
            let sent: Vec<_> = (0..EACH).map(|n| format!("T{task}-{n}")).collect();
            assert_eq!(own, sent, "each task's in its order");
        }
    }

    #[tokio::test]
    async fn a_failed_journal_write_refuses_only_its_append_and_the_next_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        {
            let store = open_held(dir.path(), StoreSettings::new(), &clock);
            append_all(&store, 1..=1).await;
            let before = journal_len(dir.path());
            assert!(before > 0, "the append is in the journal");
            store
                .inner
                .journal
                .as_ref()
                .expect("appends go to the journal")
                .fail_next_journal_write();
            let second = text(ANNA, "M2", "hi");
            let error = store.append(&second).await.unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains("hookbot.journal"),
                "names the file: {message}"
            );
            assert_eq!(journal_len(dir.path()), before, "nothing half written");
            // Its claim was not kept: the redelivery is kept, and so is the next.
            queued(store.append(&second).await.unwrap());
            append_all(&store, 3..=3).await;
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let left = store.unfinished(None, 10).await.unwrap();
        assert_eq!(ids(&left), ["M1", "M2", "M3"]);
    }

    #[tokio::test]
    async fn a_fold_writes_the_notifications_from_memory_not_from_the_journals_file() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let [path, _] = journal_paths(dir.path());
        {
            let store = open_held(dir.path(), StoreSettings::new(), &clock);
            let seqs = append_all(&store, 1..=2).await;
            // M2's marker goes with M3's record: the fold writes M1 and M3 only.
            store.finish(seqs[1]);
            append_all(&store, 3..=3).await;
            // Changed behind the store's back: the fold does not read it.
            let journal = std::fs::read(&path).unwrap();
            std::fs::write(&path, vec![0; journal.len()]).unwrap();
            store
                .flush()
                .await
                .expect("the fold writes the rows it holds");
            assert_eq!(unhandled(dir.path()), 2);
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let left = store.unfinished(None, 10).await.unwrap();
        assert_eq!(ids(&left), ["M1", "M3"]);
        assert!(
            left.iter()
                .all(|entry| entry.event.raw.as_str().contains("\"hi\"")),
            "each notification whole"
        );
    }

    #[tokio::test]
    async fn a_journal_whose_records_go_back_in_order_ends_there() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open_held(dir.path(), StoreSettings::new(), &clock);
        append_all(&store, 1..=1).await;
        let first = journal_len(dir.path()) as usize;
        append_all(&store, 2..=3).await;
        let image = crash_image(dir.path());
        drop(store);
        let [path, _] = journal_paths(image.path());
        let journal = std::fs::read(&path).unwrap();
        // All records whole, M1's moved to the end: M2 and M3 are kept, M1 ends the journal.
        let moved = [&journal[first..], &journal[..first]].concat();
        std::fs::write(&path, moved).unwrap();
        let reopened = open(image.path(), StoreSettings::new(), &clock);
        let left = reopened.unfinished(None, 10).await.unwrap();
        assert_eq!(ids(&left), ["M2", "M3"]);
        assert_eq!(
            journal_len(image.path()),
            0,
            "folded and emptied at the open"
        );
        queued(reopened.append(&text(ANNA, "M4", "hi")).await.unwrap());
        let left = reopened.unfinished(None, 10).await.unwrap();
        assert_eq!(ids(&left), ["M2", "M3", "M4"]);
    }

    #[tokio::test]
    async fn a_crash_between_the_folds_commit_and_the_journals_emptying_duplicates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open_held(dir.path(), StoreSettings::new(), &clock);
        append_all(&store, 1..=3).await;
        let journal = std::fs::read(dir.path().join("hookbot.journal")).unwrap();
        assert!(!journal.is_empty());
        store.flush().await.unwrap();
        // The writer empties the folded file outside the lock, before its next commit at the
        // latest.
        store.flush().await.unwrap();
        assert_eq!(journal_len(dir.path()), 0, "emptied after the fold");
        // The fold committed; the journal as it was before it was emptied.
        let image = crash_image(dir.path());
        std::fs::write(image.path().join("hookbot.journal"), &journal).unwrap();
        let reopened = open(image.path(), StoreSettings::new(), &clock);
        let left = reopened.unfinished(None, 10).await.unwrap();
        assert_eq!(ids(&left), ["M1", "M2", "M3"], "each entry once");
        assert_eq!(claims(image.path()), 3, "each claim once");
        assert_eq!(unhandled(image.path()), 3);
        assert_eq!(journal_len(image.path()), 0);
        let copy = text(ANNA, "M2", "hi");
        assert_eq!(reopened.append(&copy).await.unwrap(), Appended::Duplicate);
    }

    #[tokio::test]
    async fn a_failed_emptying_then_more_folds_and_reopens_lose_and_double_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        /// The store's state as a killed process would leave it, reopened: the unhandled ids,
        /// and the claims and unhandled rows of its database after the open's fold.
        async fn recovered(dir: &std::path::Path, clock: &Clock) -> (Vec<String>, i64, i64) {
            let image = crash_image(dir);
            let reopened = open(image.path(), StoreSettings::new(), clock);
            let left = ids(&reopened.unfinished(None, 10).await.unwrap());
            (left, claims(image.path()), unhandled(image.path()))
        }
        {
            let store = open_held(dir.path(), StoreSettings::new(), &clock);
            let journal = store
                .inner
                .journal
                .as_ref()
                .expect("appends go to the journal");
            journal.fail_journal_emptying(u32::MAX);
            let seqs = append_all(&store, 1..=2).await;
            store.flush().await.unwrap();
            // The folded file cannot be emptied: the appends switched to the other.
            append_all(&store, 3..=3).await;
            store.finish(seqs[0]);
            append_all(&store, 4..=4).await;
            let [folded, active] = journal_lengths(dir.path());
            assert!(folded > 0 && active > 0, "records in both files");
            let (left, claims, rows) = recovered(dir.path(), &clock).await;
            assert_eq!(left, ["M2", "M3", "M4"]);
            assert_eq!((claims, rows), (4, 3), "each claim and row once");
            // Nor by the next switch: the appends stay in their file, after folded records.
            store.flush().await.unwrap();
            append_all(&store, 5..=5).await;
            let [folded, active] = journal_lengths(dir.path());
            assert!(folded > 0 && active > 0, "records in both files");
            let (left, claims, rows) = recovered(dir.path(), &clock).await;
            assert_eq!(left, ["M2", "M3", "M4", "M5"]);
            assert_eq!((claims, rows), (5, 4));
            // The emptying works again: the next commit empties the first file, its fold
            // switches there, and the one after has the second emptied before it.
            journal.fail_journal_emptying(0);
            store.flush().await.unwrap();
            store.flush().await.unwrap();
            assert_eq!(journal_len(dir.path()), 0);
            append_all(&store, 6..=6).await;
        }
        let store = open(dir.path(), StoreSettings::new(), &clock);
        let left = ids(&store.unfinished(None, 10).await.unwrap());
        assert_eq!(left, ["M2", "M3", "M4", "M5", "M6"], "each once, in order");
        assert_eq!((claims(dir.path()), unhandled(dir.path())), (6, 5));
        let copy = text(ANNA, "M3", "hi");
        assert_eq!(store.append(&copy).await.unwrap(), Appended::Duplicate);
    }

    #[tokio::test]
    async fn recovery_reads_both_journal_files_in_id_order_and_a_cut_in_the_older_ends_there() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open_held(dir.path(), StoreSettings::new(), &clock);
        let mut ends = Vec::new();
        for n in 1..=3 {
            append_all(&store, n..=n).await;
            ends.push(journal_len(dir.path()) as usize);
        }
        let [path, _] = journal_paths(dir.path());
        let journal = std::fs::read(path).unwrap();
        let [m1, m2, m3] = [
            &journal[..ends[0]],
            &journal[ends[0]..ends[1]],
            &journal[ends[1]..],
        ];
        // Records above the database's mark in both files (a crash of the operating system
        // can leave them so: the fold's commit lost, its switch not): what the open reads.
        let recover = |files: [Vec<u8>; 2]| {
            let image = crash_image(dir.path());
            for (path, bytes) in journal_paths(image.path()).iter().zip(files) {
                std::fs::write(path, bytes).unwrap();
            }
            let clock = clock.clone();
            async move {
                let reopened = open(image.path(), StoreSettings::new(), &clock);
                queued(reopened.append(&text(ANNA, "next", "hi")).await.unwrap());
                let left = ids(&reopened.unfinished(None, 10).await.unwrap());
                drop(reopened);
                assert_eq!(
                    journal_len(image.path()),
                    0,
                    "folded and emptied at the open"
                );
                left
            }
        };
        let all = ["M1", "M2", "M3", "next"];
        assert_eq!(recover([m1.to_vec(), [m2, m3].concat()]).await, all);
        assert_eq!(
            recover([[m2, m3].concat(), m1.to_vec()]).await,
            all,
            "by the records' ids, not the files' names"
        );
        // Ids going back across the files: M2 after M3 ends the journal there.
        assert_eq!(
            recover([[m1, m3].concat(), m2.to_vec()]).await,
            ["M1", "M3", "next"]
        );
        // A bad hash in the middle of the older file: M3, in the newer, goes with it.
        let mut damaged = [m1, m2].concat();
        damaged[ends[0] + 14] ^= 0xff;
        assert_eq!(recover([m3.to_vec(), damaged]).await, ["M1", "next"]);
        // A torn tail in the newer file: cut off, the rest kept.
        let torn = [m2, &m3[..m3.len() - 1]].concat();
        assert_eq!(recover([m1.to_vec(), torn]).await, ["M1", "M2", "next"]);
    }

    #[tokio::test]
    async fn a_redelivery_after_a_reopen_that_found_its_claim_only_in_the_journal_is_a_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open_held(dir.path(), StoreSettings::new(), &clock);
        append_all(&store, 1..=2).await;
        let image = crash_image(dir.path());
        assert_eq!(
            claims(image.path()),
            0,
            "the claims are only in the journal"
        );
        let reopened = open(image.path(), StoreSettings::new(), &clock);
        for n in 1..=2 {
            let copy = text(ANNA, &format!("M{n}"), "hi");
            assert_eq!(reopened.append(&copy).await.unwrap(), Appended::Duplicate);
        }
        assert_eq!(claims(image.path()), 2, "folded at the open");
    }

    #[tokio::test]
    async fn a_handled_entry_whose_marker_reached_the_journal_is_not_handed_out_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open_held(dir.path(), StoreSettings::new(), &clock);
        // M1 and M2 in the database, M3 in the journal.
        let seqs = append_all(&store, 1..=2).await;
        store.flush().await.unwrap();
        let journaled = append_all(&store, 3..=3).await;
        // M1's and M3's markers go with M4's record.
        store.finish(seqs[0]);
        store.finish(journaled[0]);
        append_all(&store, 4..=4).await;
        let image = crash_image(dir.path());
        assert_eq!(
            unhandled(image.path()),
            2,
            "M1's deletion is only in the journal"
        );
        let reopened = open(image.path(), StoreSettings::new(), &clock);
        let left = reopened.unfinished(None, 10).await.unwrap();
        assert_eq!(ids(&left), ["M2", "M4"]);
        assert_eq!(
            unhandled(image.path()),
            2,
            "M1 deleted, M4 folded, M3 never written"
        );
    }

    #[tokio::test]
    async fn recovery_keeps_the_accept_order_across_the_databases_rows_and_the_journals() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open_held(dir.path(), StoreSettings::new(), &clock);
        append_all(&store, 1..=2).await;
        store.flush().await.unwrap();
        append_all(&store, 3..=4).await;
        store.flush().await.unwrap();
        append_all(&store, 5..=6).await;
        let image = crash_image(dir.path());
        let reopened = open(image.path(), StoreSettings::new(), &clock);
        let left = reopened.unfinished(None, 10).await.unwrap();
        assert_eq!(ids(&left), ["M1", "M2", "M3", "M4", "M5", "M6"]);
        queued(reopened.append(&text(ANNA, "M7", "hi")).await.unwrap());
        let left = reopened.unfinished(None, 10).await.unwrap();
        assert_eq!(ids(&left).last().map(String::as_str), Some("M7"));
    }

    #[tokio::test]
    async fn the_bounds_count_the_journals_entries_and_their_markers_give_back_room() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let store = open_held(dir.path(), StoreSettings::new().max_events(2), &clock);
        let seqs = append_until_full(&store, 1..=2, "two in the journal fill it").await;
        assert_eq!(unhandled(dir.path()), 0, "none is in the database");
        store.finish(seqs[1]);
        append_all(&store, 3..=3).await;
        assert_eq!(
            store.append(&text(ANNA, "M4", "hi")).await.unwrap(),
            Appended::Full
        );
        let room = text(ANNA, "M5", &"x".repeat(100));
        let bytes = room.raw.as_str().len() as u64;
        let dir = tempfile::tempdir().unwrap();
        let store = open_held(dir.path(), StoreSettings::new().max_bytes(bytes), &clock);
        queued(store.append(&room).await.unwrap());
        assert_eq!(
            store.append(&text(ANNA, "M6", "hi")).await.unwrap(),
            Appended::Full,
            "the journal's bytes count"
        );
    }

    /// Where the child of the killed-process tests keeps its store.
    const CHILD_DIRECTORY: &str = "HOOKBOT_TEST_STORE_CHILD";
    /// Set for a child whose journal's folded file is never emptied: at the kill both files
    /// hold records, and the appends stay in the second after its first fold.
    const CHILD_KEEPS_FOLDED: &str = "HOOKBOT_TEST_STORE_CHILD_KEEPS_FOLDED";
    /// Tasks of the child.
    const CHILD_TASKS: usize = 8;

    /// The child's side of the killed-process tests: appends from eight tasks until killed,
    /// printing each notification's id once its append is answered ("acknowledged"), but
    /// every third, which it marks handled ("handling", printed first) and reports "handled"
    /// once its next append is answered (by then the marker went with that record, or the
    /// deletion with a commit before it). Each task flushes after every hundredth append, so
    /// that the journal is folded whatever the timing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "run as a child process by the killed-process tests"]
    async fn child_appends_until_killed() {
        let Some(directory) = std::env::var_os(CHILD_DIRECTORY) else {
            return;
        };
        let store = DurableStore::open(&directory, StoreSettings::new()).unwrap();
        if std::env::var_os(CHILD_KEEPS_FOLDED).is_some() {
            let journal = store
                .inner
                .journal
                .as_ref()
                .expect("appends go to the journal");
            journal.fail_journal_emptying(u32::MAX);
        }
        let tasks: Vec<_> = (0..CHILD_TASKS)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut handling = None;
                    for n in 0.. {
                        let id = format!("T{task}-{n}");
                        if let Appended::Queued(seq) =
                            store.append(&text(ANNA, &id, "hi")).await.unwrap()
                        {
                            if let Some(handled) = handling.take() {
                                println!("handled {handled}");
                            }
                            if n % 3 == 0 {
                                println!("handling {id}");
                                store.finish(seq);
                                handling = Some(id);
                            } else {
                                println!("acknowledged {id}");
                            }
                        }
                        if n % 100 == 99 {
                            store.flush().await.unwrap();
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }

    /// Runs the child on a store in `dir` until it acknowledged `count` appends, then kills it
    /// (SIGKILL: no drop, no last commit, no checkpoint); what it printed.
    async fn killed_child(dir: &std::path::Path, keeps_folded: bool, count: usize) -> Printed {
        let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "durable::entries::tests::child_appends_until_killed",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIRECTORY, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if keeps_folded {
            command.env(CHILD_KEEPS_FOLDED, "1");
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Printed::default();
        let deadline = Instant::now() + PATIENCE;
        while printed.acknowledged.len() < count {
            assert!(Instant::now() < deadline, "the child stopped acknowledging");
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the child is running");
            if let Some(id) = line.strip_prefix("acknowledged ") {
                printed.acknowledged.push(id.to_owned());
            } else if let Some(id) = line.strip_prefix("handled ") {
                printed.handled.insert(id.to_owned());
            }
        }
        child.kill().await.unwrap();
        printed
    }

    /// What the child of the killed-process tests printed before it was killed.
    #[derive(Default)]
    struct Printed {
        /// Answered and not marked handled, in the order answered (those marked handled may
        /// come back or not).
        acknowledged: Vec<String>,
        /// Marked handled before a later append was answered: they must not come back.
        handled: HashSet<String>,
    }

    /// Opens the store a killed child left in `dir` and checks it against what the child
    /// printed: every acknowledged notification comes back once, each task's in its accept
    /// order, none reported handled comes back, and a redelivery is a duplicate.
    async fn check_recovered(dir: &std::path::Path, printed: &Printed) {
        let store = open(dir, StoreSettings::new(), &Clock::default());
        let recovered = ids(&store.unfinished(None, usize::MAX).await.unwrap());
        let once: HashSet<&String> = recovered.iter().collect();
        assert_eq!(once.len(), recovered.len(), "each comes back once");
        let lost: Vec<_> = printed
            .acknowledged
            .iter()
            .filter(|id| !once.contains(id))
            .collect();
        assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
        let back: Vec<_> = printed
            .handled
            .iter()
            .filter(|id| once.contains(id))
            .collect();
        assert!(back.is_empty(), "handled and back: {back:?}");
        for task in 0..CHILD_TASKS {
            let prefix = format!("T{task}-");
            let numbers: Vec<u64> = recovered
                .iter()
                .filter_map(|id| id.strip_prefix(&prefix)?.parse().ok())
                .collect();
            assert!(
                numbers.windows(2).all(|pair| pair[0] < pair[1]),
                "task {task}'s in accept order: {numbers:?}"
            );
        }
        let again = text(ANNA, &printed.acknowledged[0], "hi");
        assert_eq!(store.append(&again).await.unwrap(), Appended::Duplicate);
    }

    #[tokio::test]
    async fn acknowledged_appends_survive_a_killed_process() {
        let dir = tempfile::tempdir().unwrap();
        let printed = killed_child(dir.path(), false, 2000).await;
        assert!(!printed.handled.is_empty(), "the child handled some");
        check_recovered(dir.path(), &printed).await;
    }

    #[tokio::test]
    async fn a_process_killed_after_a_switch_before_the_folded_files_emptying_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let printed = killed_child(dir.path(), true, 2000).await;
        assert!(!printed.handled.is_empty(), "the child handled some");
        let [folded, active] = journal_lengths(dir.path());
        assert!(folded > 0, "the folded file was never emptied");
        assert!(active > 0, "the appends went on in the other file");
        check_recovered(dir.path(), &printed).await;
    }

    /// Appends per second with each durability: many concurrent appends, as a busy webhook
    /// makes them. A measurement, not a test:
    /// `cargo test --release --lib durable::entries::tests::appends_per_second -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement, run by hand"]
    async fn appends_per_second() {
        const TASKS: usize = 64;
        const PER_TASK: usize = 500;
        for durability in [Durability::Process, Durability::PowerLoss] {
            let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
            let store = open(
                dir.path(),
                StoreSettings::new().durability(durability),
                &Clock::default(),
            );
            let events: Vec<Vec<Event>> = (0..TASKS)
                .map(|task| {
                    (0..PER_TASK)
                        .map(|n| text(ANNA, &format!("T{task}-{n}"), "a short text message"))
                        .collect()
                })
                .collect();
            let started = Instant::now();
            let tasks: Vec<_> = events
                .into_iter()
                .map(|events| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        for event in events {
                            queued(store.append(&event).await.unwrap());
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let elapsed = started.elapsed();
            println!(
                "{durability:?}: {} appends in {elapsed:.2?}: {:.0} appends/s",
                TASKS * PER_TASK,
                (TASKS * PER_TASK) as f64 / elapsed.as_secs_f64()
            );
        }
    }
}
