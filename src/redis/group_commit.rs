//! Group commit of the queue's appends: the notifications accepted while one batch is on its
//! way to Redis are gathered and appended together, in one script call
//! ([`RedisQueue::append`]), and each caller learns what became of its own notification once
//! its batch is in Redis.
//!
//! One task per queue sends the batches, one at a time, in the order the notifications came
//! (so two of one chat keep their order). A lone notification is sent at once; batches only
//! gather what arrived meanwhile. The task's inbox is bounded: when it is full, callers wait
//! for room (each is an HTTP request the server already bounds).

use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use super::queue::{Appended, RedisQueue};
use crate::dispatch::EventIdentity;
use crate::event::Event;

/// Notifications in one batch, at most.
const MAX_BATCH: usize = 256;
/// Bytes of notifications in one batch, past which it gathers no more (a batch of one may be
/// larger).
const MAX_BATCH_BYTES: usize = 1 << 20;
/// Notifications waiting for the next batch, at most; past it callers wait.
const INBOX: usize = 4 * MAX_BATCH;

/// The queue's appends, gathered into batches by a task started on first use.
pub(crate) struct GroupCommit {
    queue: RedisQueue,
    inbox: OnceLock<mpsc::Sender<Message>>,
}

/// Why a notification was not appended: its batch's script call failed (Redis out of reach,
/// or it answered an error), or the batching task is gone. Nothing of it was claimed or kept
/// unless the same notification is delivered again and appended then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// What the task's inbox takes.
enum Message {
    /// A notification to append, and where to say what became of it.
    Append(Event, oneshot::Sender<Result<Appended, Unavailable>>),
    /// Answered once everything sent before it is answered.
    Flush(oneshot::Sender<()>),
}

impl GroupCommit {
    /// The appends of `queue`.
    pub(crate) fn new(queue: RedisQueue) -> Self {
        Self {
            queue,
            inbox: OnceLock::new(),
        }
    }

    /// Appends `event` with whatever else arrives meanwhile; what became of it once its batch
    /// is in Redis. Call it within a tokio runtime.
    pub(crate) async fn append(&self, event: Event) -> Result<Appended, Unavailable> {
        let (answer, answered) = oneshot::channel();
        self.inbox()
            .send(Message::Append(event, answer))
            .await
            .map_err(|_| Unavailable)?;
        answered.await.map_err(|_| Unavailable)?
    }

    /// Waits until every append asked for before is answered: at shutdown.
    pub(crate) async fn flush(&self) {
        let Some(inbox) = self.inbox.get() else {
            return;
        };
        let (done, flushed) = oneshot::channel();
        if inbox.send(Message::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    /// The task's inbox, the task started first if need be.
    fn inbox(&self) -> &mpsc::Sender<Message> {
        self.inbox.get_or_init(|| {
            let (inbox, messages) = mpsc::channel(INBOX);
            tokio::spawn(commit_loop(self.queue.clone(), messages));
            inbox
        })
    }
}

/// Sends batches until every sender is gone.
async fn commit_loop(queue: RedisQueue, mut messages: mpsc::Receiver<Message>) {
    let mut batch = Batch::default();
    while let Some(first) = messages.recv().await {
        batch.take(first);
        while !batch.is_full() {
            match messages.try_recv() {
                Ok(next) => batch.take(next),
                Err(_) => break,
            }
        }
        batch.commit(&queue).await;
    }
}

/// The notifications gathered for one script call, and the flushes waiting on them.
#[derive(Default)]
struct Batch {
    events: Vec<Event>,
    answers: Vec<oneshot::Sender<Result<Appended, Unavailable>>>,
    bytes: usize,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn take(&mut self, message: Message) {
        match message {
            Message::Append(event, answer) => {
                self.bytes += event.raw.as_str().len();
                self.events.push(event);
                self.answers.push(answer);
            }
            Message::Flush(done) => self.flushes.push(done),
        }
    }

    fn is_full(&self) -> bool {
        self.events.len() >= MAX_BATCH || self.bytes >= MAX_BATCH_BYTES
    }

    /// Appends the batch, answers each caller, then the flushes; leaves the batch empty.
    async fn commit(&mut self, queue: &RedisQueue) {
        if !self.events.is_empty() {
            match queue.append(&self.events).await {
                Ok(outcomes) => {
                    for ((event, answer), outcome) in
                        self.events.iter().zip(self.answers.drain(..)).zip(outcomes)
                    {
                        log(event, outcome);
                        let _ = answer.send(Ok(outcome));
                    }
                }
                Err(error) => {
                    tracing::error!(%error, events = self.events.len(), "the Redis queue is unavailable");
                    for answer in self.answers.drain(..) {
                        let _ = answer.send(Err(Unavailable));
                    }
                }
            }
        }
        self.events.clear();
        self.bytes = 0;
        for done in self.flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Logs what is worth it of `event`'s `outcome`.
fn log(event: &Event, outcome: Appended) {
    match outcome {
        Appended::Duplicate => tracing::debug!(
            event = %EventIdentity::of(event),
            "duplicate notification acknowledged, not handled again"
        ),
        Appended::Refused => tracing::error!(
            event = %EventIdentity::of(event),
            "Redis refused to append the notification"
        ),
        Appended::Queued | Appended::Full => {}
    }
}
