//! The dispatcher: accepted events wait in per-chat queues; one chat's events are handled one
//! at a time in arrival order, different chats concurrently, with a bound on handlers running at
//! once and on events waiting — in all, in bytes, and per chat, so that one flooding chat is
//! refused (503, the gateway delivers again later) while the others are served — and a deadline
//! for each handler, past which it is cancelled and the chat's next event is handled. A bot's
//! dispatcher is set with [`DispatchSettings`]; what it reports comes back as a
//! [`HandlerFailure`] (to the bot's error hook) and a [`DrainReport`] (when the bot stops).
//!
//! ```
//! use std::time::Duration;
//! use hookbot::dispatch::DispatchSettings;
//!
//! let settings = DispatchSettings::new()
//!     .max_in_flight(32)
//!     .capacity(5_000)
//!     .chat_capacity(50)
//!     .capacity_bytes(32 * 1024 * 1024)
//!     .handler_timeout(Duration::from_secs(30))
//!     .drain_deadline(Duration::from_secs(10));
//! # let _ = settings;
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::hash::BuildHasher;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use hashbrown::{HashTable, hash_table};
use tokio::sync::Notify;
use tokio::time::error::Elapsed;
use tracing::Instrument;

use crate::error::BoxError;
use crate::event::Event;
use crate::gateway::GatewayKind;
use crate::hashing::FoldHashing;
use crate::id::{ChatId, MessageId};
use crate::metrics::EventSeries;

/// Handlers running at once, by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Events accepted and not yet handled, by default; past it the intake answers 503.
pub const DEFAULT_CAPACITY: usize = 10_000;
/// Events of one chat accepted and not yet handled, by default; past it that chat's events
/// are refused.
pub const DEFAULT_CHAT_CAPACITY: usize = 100;
/// The size of the notifications accepted and not yet handled, by default: 64 MiB.
pub const DEFAULT_CAPACITY_BYTES: usize = 64 * 1024 * 1024;
/// How long a handler may run on one event, by default.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a shutdown waits for accepted events, by default.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// How a bot's accepted events are handled: how many handlers run at once, how many events
/// may wait (in all, in bytes, per chat), how long a handler may take, and how long a shutdown
/// waits for them. Give it to [`BotBuilder::dispatch`](crate::bot::BotBuilder::dispatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct DispatchSettings {
    max_in_flight: usize,
    capacity: usize,
    chat_capacity: usize,
    capacity_bytes: usize,
    handler_timeout: Duration,
    drain_deadline: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            capacity: DEFAULT_CAPACITY,
            chat_capacity: DEFAULT_CHAT_CAPACITY,
            capacity_bytes: DEFAULT_CAPACITY_BYTES,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            drain_deadline: DEFAULT_DRAIN_DEADLINE,
        }
    }
}

impl DispatchSettings {
    /// [`DEFAULT_MAX_IN_FLIGHT`] handlers at once; [`DEFAULT_CAPACITY`] events waiting or
    /// running, [`DEFAULT_CHAT_CAPACITY`] of one chat, [`DEFAULT_CAPACITY_BYTES`] in all;
    /// [`DEFAULT_HANDLER_TIMEOUT`] per handler; [`DEFAULT_DRAIN_DEADLINE`] to drain.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most this many events of one chat wait or run (at least 1); past it that chat's
    /// events are refused like those of a full queue, and the other chats' still accepted.
    pub fn chat_capacity(mut self, events: usize) -> Self {
        self.chat_capacity = events.max(1);
        self
    }

    /// At most this many bytes of notifications (their raw JSON) wait or run (at least 1); past
    /// it events are refused like those of a full queue. One event is always taken into an
    /// empty queue, whatever its size.
    pub fn capacity_bytes(mut self, bytes: usize) -> Self {
        self.capacity_bytes = bytes.max(1);
        self
    }

    /// How long a handler may run on one event; past it the handler is cancelled, the failure
    /// reported to the [error hook](crate::bot::BotBuilder::on_error) as
    /// [`FailureCause::TimedOut`], and the chat's next event handled.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// At most this many handlers run at once (at least 1).
    pub fn max_in_flight(mut self, handlers: usize) -> Self {
        self.max_in_flight = handlers.max(1);
        self
    }

    /// At most this many events wait or run (at least 1); past it the webhook answers 503, and
    /// the poller leaves notifications in the gateway's queue for later. On a shared store
    /// (Redis), the events this replica has read and not yet handled.
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(1);
        self
    }

    /// How long a shutdown waits for the accepted events to be handled.
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.drain_deadline = deadline;
        self
    }
}

/// What handles an accepted event: the bot's router (see [`Routing`](crate::router)).
pub(crate) trait Handler: Send + Sync + 'static {
    /// Handles one event. The future may borrow the handler: the dispatcher keeps it while
    /// the future runs, so that nothing shared need be counted per event to make one.
    fn handle(
        &self,
        event: Event,
    ) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + '_>>;
}

/// Which event failed: enough to find it in the logs and in the gateway's history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventIdentity {
    /// The gateway it came from.
    pub gateway: GatewayKind,
    /// The instance it came from.
    pub instance: Arc<str>,
    /// The kind's short name (`message`, `status`, ...).
    pub kind: &'static str,
    /// Its chat, if it has one.
    pub chat: Option<ChatId>,
    /// Its message id, if it has one.
    pub message_id: Option<MessageId>,
}

impl EventIdentity {
    /// The identity of `event`.
    pub fn of(event: &Event) -> Self {
        Self {
            gateway: event.gateway,
            instance: event.instance.clone(),
            kind: event.kind.name(),
            chat: event.chat().cloned(),
            message_id: event.message_id().cloned(),
        }
    }
}

impl fmt::Display for EventIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on {}/{}",
            self.kind,
            self.message_id.as_ref().map_or("-", |id| id.as_str()),
            self.gateway,
            self.instance
        )?;
        if let Some(chat) = &self.chat {
            write!(f, " in {chat}")?;
        }
        Ok(())
    }
}

/// A handler that returned an error or panicked.
#[derive(Debug)]
#[non_exhaustive]
pub struct HandlerFailure {
    /// The event it was handling.
    pub event: EventIdentity,
    /// What went wrong.
    pub error: FailureCause,
}

/// Why a handler failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum FailureCause {
    /// It returned this error.
    Error(BoxError),
    /// It panicked with this message.
    Panic(String),
    /// It ran past the [handler deadline](DispatchSettings::handler_timeout), this long, and
    /// was cancelled.
    TimedOut(Duration),
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureCause::Error(error) => write!(f, "{error}"),
            FailureCause::Panic(message) => write!(f, "panicked: {message}"),
            FailureCause::TimedOut(after) => {
                write!(f, "cancelled: still running after {after:?}")
            }
        }
    }
}

/// Why the dispatcher did not take an event; the intake answers 503 and the gateway delivers
/// it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Rejected {
    /// As many events (or bytes) as the capacity allows are waiting.
    #[error("the bot is overloaded: its queue is full")]
    Full,
    /// As many events of the event's chat as the chat capacity allows are waiting.
    #[error("the chat's queue is full")]
    ChatFull,
    /// The dispatcher is draining for shutdown.
    #[error("the bot is shutting down")]
    ShuttingDown,
}

/// What was left when a drain's deadline passed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Events accepted but not handled by the deadline.
    pub unfinished: usize,
}

/// The hook called with each handler failure.
pub(crate) type ErrorHook = Arc<dyn Fn(HandlerFailure) + Send + Sync>;

/// Per-chat ordered queues feeding a handler. Cheap to clone; clones share the queues.
///
/// Handlers run in worker tasks, at most [`max_in_flight`](DispatchSettings::max_in_flight)
/// of them: a worker takes a chat whose turn came, handles its next event, and takes the next
/// chat waiting — the same again if no other waits. Workers are spawned as they are needed
/// and kept, waiting for work, until the last clone of the dispatcher is dropped.
#[derive(Clone)]
pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    /// Dropped with the last clone: ends the waiting workers.
    _workers: Arc<Workers>,
}

struct Shared {
    handler: Arc<dyn Handler>,
    on_error: Option<ErrorHook>,
    settings: DispatchSettings,
    closed: AtomicBool,
    queues: Mutex<Queues>,
    drained: Notify,
}

/// The events waiting per chat. A chat has an entry exactly while it has an event waiting for
/// its turn or being handled; its queue holds the events behind that one.
#[derive(Default)]
struct Queues {
    /// Found by the hash of a chat's key: an event's chat by the key's parts in the event, a
    /// turn's chat by its number.
    chats: HashTable<ChatQueue>,
    hashing: FoldHashing,
    /// The number of the next chat given an entry.
    next_chat: u64,
    /// Chats whose turn came, in order, each with the event to handle next; taken by workers.
    turns: VecDeque<Turn>,
    /// Worker tasks running.
    workers: usize,
    /// The workers waiting for a turn, in the order they began to: each one's ticket (see
    /// [`Worker`]) and how to wake it. Each turn given wakes the one that began last (its
    /// memory is the likeliest still in cache); the rest wait on.
    idle: Vec<(u64, Waker)>,
    /// The ticket of the next worker to wait.
    next_ticket: u64,
    /// No dispatcher is left to submit events: workers end once no turn is left.
    abandoned: bool,
    /// Accepted events not yet handled: waiting, or being handled.
    pending: usize,
    /// The raw size of those events, in bytes.
    pending_bytes: usize,
}

/// Ends a dispatcher's waiting workers when the last clone of the dispatcher is dropped.
struct Workers(Arc<Shared>);

impl Drop for Workers {
    fn drop(&mut self) {
        let mut queues = self.0.lock();
        queues.abandoned = true;
        let idle = std::mem::take(&mut queues.idle);
        drop(queues);
        for (_, worker) in idle {
            worker.wake();
        }
    }
}

/// Counts a worker task out however it ends (a runtime shutting down drops it), and takes it
/// off the waiting workers if it waited.
struct Worker<'a> {
    shared: &'a Shared,
    /// While the worker waits (or may still be listed as waiting): its place among
    /// [`Queues::idle`], whose tickets only grow.
    ticket: Option<u64>,
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        let mut queues = self.shared.lock();
        queues.workers -= 1;
        queues.unlist(self.ticket);
    }
}

impl Queues {
    /// Where the worker holding `ticket` is listed among the waiting ones, if it is.
    fn listed(&self, ticket: Option<u64>) -> Option<usize> {
        let ticket = ticket?;
        self.idle
            .binary_search_by_key(&ticket, |(listed, _)| *listed)
            .ok()
    }

    /// Takes the worker holding `ticket` off the waiting ones, if it is listed.
    fn unlist(&mut self, ticket: Option<u64>) {
        if let Some(at) = self.listed(ticket) {
            self.idle.remove(at);
        }
    }
}

/// What a backlog is told once an event's handler finished (succeeded, or failed and was
/// reported): a durable backlog forgets the event then.
pub(crate) type Done = Box<dyn FnOnce() + Send>;

/// An accepted event, its raw size, its metric series, and what to call once its handler
/// finished.
struct Job {
    event: Event,
    size: usize,
    counted: &'static EventSeries,
    done: Option<Done>,
}

/// One ordered queue: per chat of an instance; instance-level events share the instance's.
struct QueueKey {
    gateway: GatewayKind,
    instance: Arc<str>,
    chat: Option<ChatId>,
}

impl QueueKey {
    fn of(event: &Event) -> Self {
        Self {
            gateway: event.gateway,
            instance: event.instance.clone(),
            chat: event.chat().cloned(),
        }
    }

    /// The hash of `event`'s key, from the event's own parts: no key is made (nor its shared
    /// instance id counted) to find an event's chat.
    fn hash(hashing: &FoldHashing, event: &Event) -> u64 {
        let chat = event.chat().map(ChatId::as_str);
        hashing.hash_one((event.gateway, &*event.instance, chat))
    }

    /// Whether `event` belongs to this queue.
    fn holds(&self, event: &Event) -> bool {
        self.gateway == event.gateway
            && *self.instance == *event.instance
            && self.chat.as_ref().map(ChatId::as_str) == event.chat().map(ChatId::as_str)
    }
}

/// A chat with an event waiting for its turn or being handled, and the events behind it.
struct ChatQueue {
    key: QueueKey,
    at: ChatAt,
    waiting: VecDeque<Job>,
}

/// Where a chat's entry is: its key's hash and its number, unique among the entries made.
/// Workers find the chat of the event they handled by it.
#[derive(Clone, Copy)]
struct ChatAt {
    hash: u64,
    number: u64,
}

/// A chat's turn: the event of it to handle next.
struct Turn {
    chat: ChatAt,
    job: Job,
}

impl Dispatcher {
    /// A dispatcher feeding `handler` within `settings`, reporting failures to `on_error`.
    pub(crate) fn new(
        handler: impl Handler,
        settings: DispatchSettings,
        on_error: Option<ErrorHook>,
    ) -> Self {
        let shared = Arc::new(Shared {
            handler: Arc::new(handler),
            on_error,
            settings,
            closed: AtomicBool::new(false),
            queues: Mutex::default(),
            drained: Notify::new(),
        });
        Self {
            _workers: Arc::new(Workers(Arc::clone(&shared))),
            shared,
        }
    }

    /// Accepts `event` into its chat's queue, or says why not; `done` is called once the
    /// event's handler finished (succeeded, or failed and was reported), not if the event is
    /// rejected, nor if shutdown's deadline passes first. Must be called within a tokio
    /// runtime: a worker may be spawned on it.
    pub(crate) fn submit(&self, event: Event, done: Option<Done>) -> Result<(), Rejected> {
        let counted = EventSeries::of(&event);
        self.submit_counted(event, counted, done)
    }

    /// [`submit`](Dispatcher::submit) of an event whose series are at hand: `counted`, what
    /// its handling is counted on.
    pub(crate) fn submit_counted(
        &self,
        event: Event,
        counted: &'static EventSeries,
        done: Option<Done>,
    ) -> Result<(), Rejected> {
        if self.is_closed() {
            return Err(Rejected::ShuttingDown);
        }
        let size = event.raw.as_str().len();
        let job = Job {
            event,
            size,
            counted,
            done,
        };
        let settings = &self.shared.settings;
        let mut guard = self.shared.lock();
        let queues = &mut *guard;
        let over_bytes = queues.pending > 0
            && queues.pending_bytes.saturating_add(size) > settings.capacity_bytes;
        if queues.pending >= settings.capacity || over_bytes {
            return Err(Rejected::Full);
        }
        let hash = QueueKey::hash(&queues.hashing, &job.event);
        let found =
            queues
                .chats
                .entry(hash, |chat| chat.key.holds(&job.event), |chat| chat.at.hash);
        let woken = match found {
            // One of the chat's events is being handled or has its turn; these wait behind it.
            hash_table::Entry::Occupied(mut chat) => {
                let waiting = &mut chat.get_mut().waiting;
                if waiting.len() + 1 >= settings.chat_capacity {
                    return Err(Rejected::ChatFull);
                }
                waiting.push_back(job);
                None
            }
            hash_table::Entry::Vacant(idle) => {
                let chat = ChatAt {
                    hash,
                    number: queues.next_chat,
                };
                idle.insert(ChatQueue {
                    key: QueueKey::of(&job.event),
                    at: chat,
                    waiting: VecDeque::new(),
                });
                queues.next_chat += 1;
                self.shared.give_turn(queues, Turn { chat, job })
            }
        };
        queues.pending += 1;
        queues.pending_bytes += size;
        drop(guard);
        if let Some(worker) = woken {
            worker.wake();
        }
        counted.queued();
        Ok(())
    }

    /// How many more events [`submit`](Dispatcher::submit) takes before it rejects them.
    pub(crate) fn room(&self) -> usize {
        self.shared.settings.capacity.saturating_sub(self.pending())
    }

    /// Whether the dispatcher stopped accepting events.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Events accepted and not yet handled.
    pub(crate) fn pending(&self) -> usize {
        self.shared.lock().pending
    }

    /// Stops accepting events and waits until every accepted one is handled, or the drain
    /// deadline passes; then says what was left (and logs it).
    pub(crate) async fn shutdown(&self) -> DrainReport {
        self.shared.closed.store(true, Ordering::Release);
        let deadline = self.shared.settings.drain_deadline;
        if tokio::time::timeout(deadline, self.drained()).await.is_ok() {
            return DrainReport::default();
        }
        let queues = self.shared.lock();
        let waiting: Vec<String> = (queues.turns.iter().map(|turn| &turn.job))
            .chain(queues.chats.iter().flat_map(|chat| &chat.waiting))
            .map(|job| EventIdentity::of(&job.event).to_string())
            .collect();
        tracing::warn!(
            unfinished = queues.pending,
            ?waiting,
            "shutdown deadline passed with events unhandled"
        );
        DrainReport {
            unfinished: queues.pending,
        }
    }

    /// Resolves when no accepted event is left.
    async fn drained(&self) {
        loop {
            let notified = self.shared.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.pending() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Gives the turn to a chat that had no event waiting: to a waiting worker (whose waker
    /// it returns, to wake once the lock is let go), else to a new one while fewer than
    /// `max_in_flight` run, else to the first worker done with its event.
    #[must_use]
    fn give_turn(self: &Arc<Self>, queues: &mut Queues, turn: Turn) -> Option<Waker> {
        if let Some((_, worker)) = queues.idle.pop() {
            queues.turns.push_back(turn);
            return Some(worker);
        }
        if queues.workers < self.settings.max_in_flight {
            queues.workers += 1;
            tokio::spawn(Arc::clone(self).work(turn));
        } else {
            queues.turns.push_back(turn);
        }
        None
    }

    /// A worker: handles the event of the chat whose turn it was given, then of the next chat
    /// whose turn came, until none is left and the dispatcher is gone.
    async fn work(self: Arc<Self>, mut turn: Turn) {
        let mut worker = Worker {
            shared: &self,
            ticket: None,
        };
        loop {
            let Turn { chat, job } = turn;
            self.handle(job.event, job.counted).await;
            if let Some(done) = job.done {
                done();
            }
            turn = match self.next_turn(chat, job.size, &mut worker.ticket).await {
                Some(next) => next,
                None => return,
            };
            // Handlers that never wait would keep this worker's thread from other tasks.
            tokio::task::consume_budget().await;
        }
    }

    /// Counts one event of `chat`, `size` bytes, done, and takes the next turn, waiting for
    /// one if none has come; `None` once the dispatcher is gone and no turn is left. The count
    /// and the first look for a turn share one lock; a waiting worker is listed in
    /// [`Queues::idle`] under `ticket`, and woken by the turn given to it.
    async fn next_turn(&self, chat: ChatAt, size: usize, ticket: &mut Option<u64>) -> Option<Turn> {
        let mut finished = Some((chat, size));
        poll_fn(|cx| {
            let mut queues = self.lock();
            let turn = match finished.take() {
                Some((chat, size)) => self.finish_one(&mut queues, chat, size),
                None => queues.turns.pop_front(),
            };
            if turn.is_some() || queues.abandoned {
                queues.unlist(ticket.take());
                return Poll::Ready(turn);
            }
            match queues.listed(*ticket) {
                // Polled while still listed: it keeps its place, with the waker it has now.
                Some(at) => queues.idle[at].1.clone_from(cx.waker()),
                None => {
                    let listed = queues.next_ticket;
                    queues.next_ticket += 1;
                    queues.idle.push((listed, cx.waker().clone()));
                    *ticket = Some(listed);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Counts one event of `chat`, `size` bytes, done and takes the next turn: the chat's next
    /// event goes behind the chats waiting for their turn, and a chat left with none is
    /// retired.
    fn finish_one(&self, queues: &mut Queues, chat: ChatAt, size: usize) -> Option<Turn> {
        queues.pending -= 1;
        queues.pending_bytes -= size;
        if queues.pending == 0 {
            self.drained.notify_waiters();
        }
        let found = (queues.chats).find_entry(chat.hash, |queue| queue.at.number == chat.number);
        let next = match found {
            Ok(mut queue) => match queue.get_mut().waiting.pop_front() {
                Some(job) => Some(Turn { chat, job }),
                None => {
                    queue.remove();
                    None
                }
            },
            Err(_) => None,
        };
        match next {
            Some(next) if queues.turns.is_empty() => Some(next),
            Some(next) => {
                queues.turns.push_back(next);
                queues.turns.pop_front()
            }
            None => queues.turns.pop_front(),
        }
    }

    /// Runs the handler on one event inside the event's span, within the handler deadline;
    /// reports an error, a panic or the deadline passed.
    async fn handle(&self, event: Event, counted: &EventSeries) {
        let span = tracing::info_span!(
            "event",
            gateway = %event.gateway,
            instance = %event.instance,
            kind = event.kind.name(),
            chat = event.chat().map(tracing::field::display),
            message_id = event.message_id().map(tracing::field::display),
        );
        // Only the error hook is told which event failed once the handler took it.
        let identity = self.on_error.is_some().then(|| EventIdentity::of(&event));
        let started = Instant::now();
        let deadline = self.settings.handler_timeout;
        let handling = AssertUnwindSafe(self.handler.handle(event)).catch_unwind();
        let outcome = within(deadline, handling).instrument(span.clone()).await;
        counted.done(started, matches!(outcome, Ok(Ok(Ok(())))));
        let cause = match outcome {
            Ok(Ok(Ok(()))) => return,
            Ok(Ok(Err(error))) => FailureCause::Error(error),
            Ok(Err(panic)) => FailureCause::Panic(panic_message(panic.as_ref())),
            Err(_) => FailureCause::TimedOut(deadline),
        };
        span.in_scope(|| tracing::error!(error = %cause, "handler failed"));
        if let (Some(hook), Some(identity)) = (&self.on_error, identity) {
            hook(HandlerFailure {
                event: identity,
                error: cause,
            });
        }
    }
}

/// Runs `future` for at most `deadline`, counted from its first poll. One that is done at that
/// poll (a handler that does not wait) finishes without a timer: the deadline's timer is made
/// only for one that has to wait.
async fn within<F: Future>(deadline: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut future = pin!(future);
    match poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => tokio::time::timeout(deadline, future).await,
    }
}

/// The message a panic carried, when it is text.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::durable::test_support::text;

    const ANNA: &str = "79001234567@c.us";
    const BORIS: &str = "79007654321@c.us";

    /// Records the message id of each event it handles; the event `HOLD` waits for `gate`.
    #[derive(Clone, Default)]
    struct Record {
        handled: Arc<Mutex<Vec<String>>>,
        gate: Arc<Notify>,
    }

    impl Record {
        fn handled(&self) -> Vec<String> {
            self.handled.lock().unwrap().clone()
        }

        /// Waits (within a generous bound, so that a failure ends the test) until `count`
        /// events were handled.
        async fn until_handled(&self, count: usize) {
            for _ in 0..5_000 {
                if self.handled.lock().unwrap().len() >= count {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            panic!("only {:?} handled", self.handled());
        }
    }

    impl Handler for Record {
        fn handle(
            &self,
            event: Event,
        ) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> {
            let id = event
                .message_id()
                .map(ToString::to_string)
                .unwrap_or_default();
            let gate = Arc::clone(&self.gate);
            self.handled.lock().unwrap().push(id.clone());
            Box::pin(async move {
                if id == "HOLD" {
                    gate.notified().await;
                }
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn a_chat_with_events_waiting_takes_turns_with_the_chats_behind_it() {
        let record = Record::default();
        let settings = DispatchSettings::new().max_in_flight(1);
        let dispatcher = Dispatcher::new(record.clone(), settings, None);

        dispatcher.submit(text(ANNA, "HOLD", "1"), None).unwrap();
        record.until_handled(1).await;
        for (chat, id) in [(ANNA, "A2"), (ANNA, "A3"), (BORIS, "B1")] {
            dispatcher.submit(text(chat, id, "hi"), None).unwrap();
        }
        record.gate.notify_one();
        record.until_handled(4).await;

        assert_eq!(record.handled(), ["HOLD", "B1", "A2", "A3"]);
        assert_eq!(dispatcher.shutdown().await, DrainReport::default());
    }

    #[tokio::test]
    async fn workers_end_once_the_dispatcher_is_dropped() {
        let record = Record::default();
        let dispatcher = Dispatcher::new(record.clone(), DispatchSettings::new(), None);
        for (chat, id) in [(ANNA, "A1"), (BORIS, "B1"), (ANNA, "A2")] {
            dispatcher.submit(text(chat, id, "hi"), None).unwrap();
        }
        record.until_handled(3).await;

        drop(dispatcher);
        // The waiting workers held the dispatcher's handler; they let go of it as they end.
        for _ in 0..5_000 {
            if Arc::strong_count(&record.handled) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the dispatcher's workers still run");
    }
}
