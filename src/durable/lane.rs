//! Appends committed on the runtime, by a leader among the waiting requests (group commit
//! without a thread hop: RocksDB's write thread, MySQL's binlog group commit). A request whose
//! append finds no commit under way leads: it takes the appends waiting in the lane (at most
//! [`MAX_LEAD`] in all), commits them with its own in one transaction on its own worker, answers
//! the others, and hands the lead on to the first request that arrived meanwhile, whose task
//! then commits the next batch — so a leader's answer never waits behind the stream of appends
//! that follows it. The others wait without a thread of their own: their answers are wakes from
//! a runtime worker, and nothing crosses to the writer thread and back.
//!
//! The commit is SQLite's in WAL with `synchronous=NORMAL`: it writes the log, it does not
//! fsync, so it holds the worker about as long as a write of the batch's pages, a fraction of
//! a millisecond for a bounded batch (see [`MAX_LEAD`]) — longer only when SQLite waits for
//! the checkpointer's restart of the log, at most one worker at a time (one leader). The
//! store's other requests (finished entries' deletions without appends, withdrawals, reads,
//! conversations, memos, tidying) stay on the writer thread, which shares the connection
//! behind a lock; a leader that finds the writer thread holding it leaves its worker to other
//! tasks until it is free, rather than wait on it. A waiting request's answer is a place in
//! the lane (a slot reused by the requests after it) and its task's waker, not a channel of
//! its own: the batch a leader answers allocates nothing, and frees nothing, per request.
//! All appends of a store with
//! [`Durability::PowerLoss`](super::Durability::PowerLoss), whose commits fsync, go to the
//! writer thread, and so do appends that find the lane full.
//!
//! A leader commits inside one poll of its request, so it is never dropped halfway. A request
//! dropped while it waits is committed all the same (its append was handed over); one dropped
//! after the lead was handed to it, before it took it, leads in its drop, so that the appends
//! behind it are answered.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::sync::oneshot;

use super::StoreError;
use super::entries::{Append, Appended};
use super::writer::{self, Core, Op, Shared};
use crate::error::Result;

/// Appends one leader commits at most, its own included. Measured with the benchmark's
/// notifications (64 requests at a time, batches of about fifty, a loaded 2-core machine), a
/// commit held its worker 150–185 µs at the median and 235–290 µs at the 90th percentile; the
/// 99th (4–7 ms) is a commit waiting for the checkpointer's restart of the log, not its size.
const MAX_LEAD: usize = 64;

/// Times a new leader yields to the tasks ready on its worker before it commits: their
/// requests' appends join its commit. Committing at once made batches of one or two under a
/// load of 64 requests (a commit costs about as much for one append as for fifty), one yield
/// hardly more; four made batches of about fifty and cost the CPU of one commit per batch.
const COMPANY_YIELDS: usize = 4;

/// Appends waiting in the lane at most; past it an append goes to the writer thread, whose
/// channel makes it wait for room.
const MAX_WAITING: usize = 4096;

/// The appends waiting for a leader's commit, and whether one is under way.
pub(super) struct Lane {
    core: Arc<Shared>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Waiting>,
    /// A request leads, or has been handed the lead: appends wait for it.
    leading: bool,
    /// Where each waiting request finds its turn: one per request from its hand-over until it
    /// took its turn (or, gone, was given it), then another's.
    slots: Vec<Slot>,
    /// Places in `slots` free for the next request.
    free: Vec<usize>,
    /// The batch a leader commits, empty between commits: its memory serves the next one.
    batch: Vec<Waiting>,
    /// The wakers of a batch's requests, woken once the lane is unlocked; empty between
    /// commits.
    wakers: Vec<Waker>,
}

/// An append waiting in the lane, and where its request is told.
struct Waiting {
    append: Append,
    output: Option<Appended>,
    slot: usize,
}

/// Where a waiting request finds its turn.
#[derive(Default)]
struct Slot {
    turn: Option<Turn>,
    /// Its task, to wake when the turn comes.
    waker: Option<Waker>,
    /// Its request is gone: whoever gives the turn frees the slot instead.
    gone: bool,
}

/// What a waiting append is told.
enum Turn {
    /// What became of it.
    Answer(Result<Appended>),
    /// To lead the next commit, its own append (given back) first.
    Lead(Append),
}

impl Lane {
    /// A lane committing through `core`.
    pub(super) fn new(core: Arc<Shared>) -> Arc<Self> {
        Arc::new(Self {
            core,
            state: Mutex::new(State::default()),
        })
    }

    /// Hands `append` over: commits it now (leading) when no commit is under way, else queues
    /// it for the leader. Gives it back when the lane is full.
    pub(super) fn hand_over(self: &Arc<Self>, append: Append) -> Result<Committing, Append> {
        let mut state = self.lock();
        if !state.leading {
            state.leading = true;
            return Ok(Committing(Waited::leading(Arc::clone(self), append)));
        }
        if state.waiting.len() >= MAX_WAITING {
            return Err(append);
        }
        let slot = state.slot();
        state.waiting.push_back(Waiting {
            append,
            output: None,
            slot,
        });
        Ok(Committing(Waited::Lane {
            lane: Arc::clone(self),
            slot,
        }))
    }

    /// [`lead_with`](Lane::lead_with) the connection once the writer thread lets go of it
    /// (blocking this thread meanwhile: for a request dropped while it led).
    fn lead(&self, append: Append) -> Result<Appended> {
        self.lead_with(writer::lock(&self.core), append)
    }

    /// Commits `append` with the appends waiting through `core`, answers them, and hands the
    /// lead on; what became of `append`.
    fn lead_with(&self, core: MutexGuard<'_, Option<Core>>, append: Append) -> Result<Appended> {
        let answer = self.commit(core, &append);
        // An append whose request is gone is committed here rather than handed the lead.
        let mut orphan = self.hand_on();
        while let Some(append) = orphan {
            let _ = self.commit(writer::lock(&self.core), &append);
            orphan = self.hand_on();
        }
        answer
    }

    /// Commits `append` and the first appends waiting in one transaction through `core`,
    /// answers those; what became of `append`. The connection is taken before the appends:
    /// those that arrived while the writer thread held it join.
    fn commit(&self, mut core: MutexGuard<'_, Option<Core>>, append: &Append) -> Result<Appended> {
        let mut batch = Batch::take(self);
        let mut output = None;
        let committed = match core.as_mut() {
            Some(core) => core.commit_with(|step| {
                output = Some(append.apply(step)?);
                for waiting in &mut batch.waiting {
                    waiting.output = Some(waiting.append.apply(step)?);
                }
                Ok(())
            }),
            None => Err(StoreError::Closed.into()),
        };
        drop(core);
        self.answer(&committed, batch.release());
        outcome(&committed, output)
    }

    /// Answers the requests of `batch`, which was `committed` or not, and keeps its memory for
    /// the next.
    fn answer(&self, committed: &Result<()>, mut batch: Vec<Waiting>) {
        let mut wakers = {
            let mut state = self.lock();
            let mut wakers = std::mem::take(&mut state.wakers);
            for waiting in batch.drain(..) {
                let answer = Turn::Answer(outcome(committed, waiting.output));
                // A request that stopped waiting does not want the answer.
                if let Ok(Some(waker)) = state.give(waiting.slot, answer) {
                    wakers.push(waker);
                }
            }
            state.batch = batch;
            wakers
        };
        for waker in wakers.drain(..) {
            waker.wake();
        }
        self.lock().wakers = wakers;
    }

    /// Hands the lead to the first append waiting, or ends it when none is; the append to
    /// commit next when the first one's request is gone.
    fn hand_on(&self) -> Option<Append> {
        let given = {
            let mut state = self.lock();
            let Some(next) = state.waiting.pop_front() else {
                state.leading = false;
                return None;
            };
            state.give(next.slot, Turn::Lead(next.append))
        };
        match given {
            Ok(waker) => {
                if let Some(waker) = waker {
                    waker.wake();
                }
                None
            }
            Err(Turn::Lead(append)) => Some(append),
            // What was given comes back as it was.
            Err(Turn::Answer(_)) => None,
        }
    }

    /// Appends waiting for a leader.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// The lane's slots, and how many of them are free.
    #[cfg(test)]
    fn slots(&self) -> (usize, usize) {
        let state = self.lock();
        (state.slots.len(), state.free.len())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A queue and a flag, changed in single steps.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// A free slot for a request that starts waiting.
    fn slot(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::default());
            self.slots.len() - 1
        })
    }

    /// Gives `turn` to the request waiting on `slot`: its task to wake (none before its first
    /// poll); the turn back when the request is gone, its slot freed.
    fn give(&mut self, slot: usize, turn: Turn) -> Result<Option<Waker>, Turn> {
        let place = &mut self.slots[slot];
        if place.gone {
            place.gone = false;
            self.free.push(slot);
            return Err(turn);
        }
        place.turn = Some(turn);
        Ok(place.waker.take())
    }

    /// The turn given to the request on `slot`, its slot freed; or `None`, and `waker` is
    /// woken when it comes.
    fn take(&mut self, slot: usize, waker: &Waker) -> Option<Turn> {
        let place = &mut self.slots[slot];
        let Some(turn) = place.turn.take() else {
            if !place
                .waker
                .as_ref()
                .is_some_and(|known| known.will_wake(waker))
            {
                place.waker = Some(waker.clone());
            }
            return None;
        };
        place.waker = None;
        self.free.push(slot);
        Some(turn)
    }

    /// The request on `slot` is gone: the turn it was given (its slot freed), or `None` when
    /// none was yet (whoever gives it frees the slot).
    fn leave(&mut self, slot: usize) -> Option<Turn> {
        let place = &mut self.slots[slot];
        place.waker = None;
        let Some(turn) = place.turn.take() else {
            place.gone = true;
            return None;
        };
        self.free.push(slot);
        Some(turn)
    }
}

/// The appends a leader commits with its own, taken out of the lane. Should the leader unwind
/// before it answers them (a panic in the commit, whose transaction then rolls back), their
/// requests are answered that the store is closed and the lead is handed on: without that they,
/// and every append after them, would wait for good.
struct Batch<'a> {
    lane: &'a Lane,
    waiting: Vec<Waiting>,
}

impl<'a> Batch<'a> {
    /// The first appends waiting in `lane`, at most [`MAX_LEAD`] − 1 (the leader's own is
    /// the last), in the lane's reused memory.
    fn take(lane: &'a Lane) -> Self {
        let mut state = lane.lock();
        let taken = state.waiting.len().min(MAX_LEAD - 1);
        let mut waiting = std::mem::take(&mut state.batch);
        waiting.extend(state.waiting.drain(..taken));
        Self { lane, waiting }
    }

    /// The appends, for the leader to answer: the batch no longer answers them itself.
    fn release(mut self) -> Vec<Waiting> {
        std::mem::take(&mut self.waiting)
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let closed = Err(StoreError::Closed.into());
        self.lane.answer(&closed, std::mem::take(&mut self.waiting));
        // An append handed back here is one whose request is gone: never answered, so the
        // gateway delivers it again.
        let _ = self.lane.hand_on();
    }
}

/// What an append's batch answers it: its output if `committed`, else the error.
fn outcome(committed: &Result<()>, output: Option<Appended>) -> Result<Appended> {
    match (committed, output) {
        (Ok(()), Some(output)) => Ok(output),
        (Err(error), _) => Err(error.clone()),
        // Committed without running: cannot happen, every append of a batch runs first.
        (Ok(()), None) => Err(StoreError::Closed.into()),
    }
}

/// An append handed over: what became of it, once its batch is committed.
#[derive(Debug)]
pub(crate) struct Committing(Waited);

enum Waited {
    /// Committed already (it led), or handed to the writer thread.
    Done(Option<Result<Appended>>),
    /// Handed to the writer thread.
    Writer(oneshot::Receiver<Result<Appended>>),
    /// Waiting in the lane, told on `slot`.
    Lane { lane: Arc<Lane>, slot: usize },
    /// Leading the next commit, once the worker ran the tasks ready before it (whose appends
    /// join the commit).
    Leading {
        lane: Arc<Lane>,
        own: Option<Append>,
        /// The yields before the commit; `None` once they are over.
        pause: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    },
}

impl Waited {
    fn leading(lane: Arc<Lane>, own: Append) -> Self {
        Waited::Leading {
            lane,
            own: Some(own),
            pause: Some(Box::pin(async {
                for _ in 0..COMPANY_YIELDS {
                    tokio::task::yield_now().await;
                }
            })),
        }
    }
}

impl Committing {
    /// An append the writer thread answers on `answer`.
    pub(super) fn writer(answer: oneshot::Receiver<Result<Appended>>) -> Self {
        Self(Waited::Writer(answer))
    }
}

impl Future for Committing {
    type Output = Result<Appended>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let closed = || Err(StoreError::Closed.into());
        match &mut self.0 {
            Waited::Done(answer) => Poll::Ready(answer.take().unwrap_or_else(closed)),
            Waited::Writer(answer) => Pin::new(answer)
                .poll(cx)
                .map(|answer| answer.unwrap_or_else(|_| closed())),
            Waited::Lane { lane, slot } => {
                let Some(turn) = lane.lock().take(*slot, cx.waker()) else {
                    return Poll::Pending;
                };
                match turn {
                    Turn::Answer(answer) => {
                        self.0 = Waited::Done(None);
                        Poll::Ready(answer)
                    }
                    Turn::Lead(append) => {
                        self.0 = Waited::leading(Arc::clone(lane), append);
                        self.poll(cx)
                    }
                }
            }
            Waited::Leading { lane, own, pause } => {
                if let Some(yields) = pause {
                    std::task::ready!(yields.as_mut().poll(cx));
                    *pause = None;
                }
                let Some(core) = writer::try_lock(&lane.core) else {
                    // The writer thread holds the connection (a request of its own, a round
                    // of tidying): the worker runs other tasks until it lets go.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                };
                let answer = match own.take() {
                    Some(append) => lane.lead_with(core, append),
                    None => {
                        drop(core);
                        closed()
                    }
                };
                self.0 = Waited::Done(None);
                Poll::Ready(answer)
            }
        }
    }
}

impl Drop for Committing {
    /// A request handed the lead that did not take it leads here, so that the appends behind
    /// it are answered.
    fn drop(&mut self) {
        match &mut self.0 {
            Waited::Lane { lane, slot } => {
                let turn = lane.lock().leave(*slot);
                if let Some(Turn::Lead(append)) = turn {
                    let _ = lane.lead(append);
                }
            }
            Waited::Leading { lane, own, .. } => {
                if let Some(append) = own.take() {
                    let _ = lane.lead(append);
                }
            }
            Waited::Done(_) | Waited::Writer(_) => {}
        }
    }
}

impl std::fmt::Debug for Waited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Waited::Done(_) => "Done",
            Waited::Writer(_) => "Writer",
            Waited::Lane { .. } => "Lane",
            Waited::Leading { .. } => "Leading",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::durable::entries::Seq;
    use crate::durable::test_support::{T0, open, text};
    use crate::durable::{Clock, DurableStore, StoreSettings};

    const ANNA: &str = "79001234567@c.us";

    fn queued(appended: Result<Appended>) -> Seq {
        match appended {
            Ok(Appended::Queued(seq)) => seq,
            other => panic!("expected Queued, got {other:?}"),
        }
    }

    /// Hands over Anna's message `M{n}`.
    async fn hand_over(store: &DurableStore, n: usize) -> Committing {
        store
            .hand_over(&text(ANNA, &format!("M{n}"), "hi"))
            .await
            .expect("handed over")
    }

    /// The ids of the messages the store in `directory` gives back after a reopen, in order.
    async fn recovered(directory: &std::path::Path) -> Vec<String> {
        let store = open(directory, StoreSettings::new(), &Clock::manual(T0));
        store
            .unfinished(None, 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.event.message_id().expect("a message").to_string())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_appends_are_each_answered_once_and_all_kept_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let appends: Vec<_> = (0..2000)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let answer = hand_over(&store, n).await.await;
                    (n, queued(answer))
                })
            })
            .collect();
        let mut answered = Vec::new();
        for append in appends {
            answered.push(append.await.unwrap());
        }
        let seqs: HashSet<Seq> = answered.iter().map(|(_, seq)| *seq).collect();
        assert_eq!(seqs.len(), 2000, "every append has a number of its own");
        drop(store);
        answered.sort_by_key(|(_, seq)| *seq);
        let in_order: Vec<String> = answered.iter().map(|(n, _)| format!("M{n}")).collect();
        assert_eq!(
            recovered(dir.path()).await,
            in_order,
            "all kept, in the order of their numbers"
        );
    }

    #[tokio::test]
    async fn a_request_dropped_while_it_holds_the_lead_commits_in_its_drop_and_answers_those_behind_it()
     {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let leader = hand_over(&store, 1).await;
        assert!(matches!(leader.0, Waited::Leading { .. }), "{leader:?}");
        let second = hand_over(&store, 2).await;
        let third = hand_over(&store, 3).await;
        assert!(matches!(second.0, Waited::Lane { .. }), "{second:?}");
        drop(leader);
        let (second, third) = (queued(second.await), queued(third.await));
        assert!(second < third);
        // The lane is free again: the next append leads.
        let next = hand_over(&store, 4).await;
        assert!(matches!(next.0, Waited::Leading { .. }), "{next:?}");
        queued(next.await);
        drop(store);
        assert_eq!(recovered(dir.path()).await, ["M1", "M2", "M3", "M4"]);
    }

    #[tokio::test]
    async fn a_request_handed_the_lead_and_dropped_before_it_took_it_leads_in_its_drop() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let leader = hand_over(&store, 0).await;
        let mut waiting = Vec::new();
        for n in 1..=MAX_LEAD + 2 {
            waiting.push(hand_over(&store, n).await);
        }
        // A request that stops waiting: its append is committed all the same.
        drop(waiting.remove(3));
        queued(leader.await);
        // The leader committed MAX_LEAD appends and handed the lead to the first one after
        // them, which is dropped without taking it.
        let mut behind = waiting.split_off(MAX_LEAD - 2);
        let handed = behind.remove(0);
        drop(handed);
        for committing in behind {
            queued(committing.await);
        }
        for committing in waiting {
            queued(committing.await);
        }
        drop(store);
        let expected: Vec<String> = (0..=MAX_LEAD + 2).map(|n| format!("M{n}")).collect();
        assert_eq!(recovered(dir.path()).await, expected);
    }

    #[tokio::test]
    async fn the_slots_of_answered_and_of_gone_requests_serve_the_requests_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let lane = Arc::clone(store.inner.lane.as_ref().expect("a lane"));
        let mut n = 0;
        for round in 0..10 {
            let leader = hand_over(&store, n).await;
            let mut waiting = Vec::new();
            for _ in 0..5 {
                n += 1;
                waiting.push(hand_over(&store, n).await);
            }
            n += 1;
            // One request stops waiting before its answer, one after its answer came.
            drop(waiting.remove(1));
            queued(leader.await);
            drop(waiting.remove(2));
            for committing in waiting {
                queued(committing.await);
            }
            assert_eq!(
                lane.slots(),
                (5, 5),
                "round {round}: every slot free, none added"
            );
        }
        drop(store);
        assert_eq!(recovered(dir.path()).await.len(), n);
    }

    #[tokio::test]
    async fn a_leader_that_panics_before_it_answers_its_batch_answers_it_closed_and_hands_on_the_lead()
     {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let lane = Arc::clone(store.inner.lane.as_ref().expect("a lane"));
        let leader = hand_over(&store, 0).await;
        let mut waiting = Vec::new();
        for n in 1..=3 {
            waiting.push(hand_over(&store, n).await);
        }
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _batch = Batch::take(&lane);
            panic!("a commit that panics");
        }));
        assert!(unwound.is_err());
        for committing in waiting {
            let answer = tokio::time::timeout(std::time::Duration::from_secs(30), committing)
                .await
                .expect("answered, not left waiting");
            assert!(
                matches!(&answer, Err(error) if error.to_string().contains("the store is closed")),
                "{answer:?}"
            );
        }
        // The lead was handed on (to nobody: the lane is empty), so the next append leads.
        drop(leader);
        let next = hand_over(&store, 4).await;
        assert!(matches!(next.0, Waited::Leading { .. }), "{next:?}");
        queued(next.await);
        drop(store);
        assert_eq!(recovered(dir.path()).await, ["M0", "M4"]);
    }

    #[tokio::test]
    async fn an_append_that_finds_the_lane_full_goes_to_the_writer_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), StoreSettings::new(), &Clock::manual(T0));
        let leader = hand_over(&store, 0).await;
        let mut waiting = Vec::new();
        for n in 1..=MAX_WAITING {
            waiting.push(hand_over(&store, n).await);
        }
        let overflow = hand_over(&store, MAX_WAITING + 1).await;
        assert!(matches!(overflow.0, Waited::Writer(_)), "{overflow:?}");
        // The writer commits it while the lane's appends wait for their leader.
        queued(overflow.await);
        queued(leader.await);
        for committing in waiting {
            queued(committing.await);
        }
        drop(store);
        let mut expected = vec![format!("M{}", MAX_WAITING + 1)];
        expected.extend((0..=MAX_WAITING).map(|n| format!("M{n}")));
        assert_eq!(recovered(dir.path()).await, expected);
    }
}
