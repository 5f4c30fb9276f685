//! A replica's consumer of the queue: it holds leases on a fair share of the partitions, reads
//! their streams (`XREAD`, on a connection of its own) while the local [`Dispatcher`] has
//! room, submits each entry's event, and once its handler finished deletes the entry (`XDEL`).
//! An entry stays in its stream until it is handled, so a stream is exactly its partition's
//! unhandled events (its length is the partition's depth) and needs no consumer group: the
//! holder reads each partition on from the last entry it submitted, and a replica that takes a
//! partition reads it from the start, so the entries the previous holder left come first and a
//! chat's events stay in order across replicas.
//!
//! While no other replica is live, the replica's own appends to the partitions it reads come
//! from memory ([`Feed`]): the append script checks that nothing came after the partition's
//! cursor, the events are submitted in order and the cursor moved past them (a read that
//! returns them all the same skips what is up to the cursor); and reads do not block, since
//! each of those appends would wake a blocked read and have its entries sent back.
//!
//! Delivery is at least once: a replica that dies between a handler's effect (a reply) and the
//! entry's deletion leaves the entry in its stream, and the next holder handles it again.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use xxhash_rust::xxh3::xxh3_64;

use super::lease::{Leases, fair_share, renewal_period};
use super::queue::{Entry, RedisQueue, StreamId, StreamsRead};
use crate::backoff::Backoff;
use crate::dispatch::{Dispatcher, DrainReport, Rejected};
use crate::event::Event;
use crate::shutdown::{Shutdown, Trigger};

/// Entries read at once from one stream, at most.
const MAX_BATCH: usize = 100;
/// The longest a read waits for new entries.
const MAX_BLOCK: Duration = Duration::from_millis(500);
/// The shortest a read waits for new entries.
const MIN_BLOCK: Duration = Duration::from_millis(10);
/// The wait before looking again when there is nothing to read, or no room — also for a
/// chat, when the dispatcher refused an entry read: the same entries read again at once would
/// only be refused again until a handler finishes.
const IDLE: Duration = Duration::from_millis(20);
/// The wait before looking again when there was nothing to read, while this replica is the
/// only live one: only a replica that started since the last heartbeat appends what this
/// one does not take from memory (or is woken for).
const ALONE_IDLE: Duration = Duration::from_millis(100);
/// The wait after a failed Redis command; it doubles with each further failure.
const ERROR_PAUSE: Duration = Duration::from_millis(250);
/// The longest wait after failed Redis commands.
const MAX_ERROR_PAUSE: Duration = Duration::from_secs(4);
/// How many times the acknowledgements left at shutdown are tried.
const FINAL_ACK_ATTEMPTS: u32 = 3;

/// One replica's consumer; [`start`](Consumer::start) it, then [`shutdown`](Consumer::shutdown).
pub(crate) struct Consumer {
    shared: Arc<Shared>,
    handled: Mutex<Option<mpsc::UnboundedReceiver<Handled>>>,
    running: Mutex<Option<Running>>,
}

/// The consumer's two tasks and their stop switches.
struct Running {
    stop_reading: Trigger,
    reading: JoinHandle<()>,
    stop_acking: Trigger,
    acking: JoinHandle<()>,
}

struct Shared {
    queue: RedisQueue,
    dispatcher: Dispatcher,
    leases: Leases,
    /// Where partitions are tried first when taking some: spreads the replicas' first picks.
    offset: u16,
    partitions: Mutex<BTreeMap<u16, Partition>>,
    handled: mpsc::UnboundedSender<Handled>,
    /// No other replica is live (as of the last heartbeat): this replica's own appends to its
    /// partitions are taken from memory ([`Feed`]), and its reads do not block, since a
    /// blocked read would be woken, and answered, by those very appends.
    alone: AtomicBool,
    /// Asks the read loop to read at once: an append taken from memory left entries to read.
    wake: Notify,
}

/// What this replica knows of one partition.
struct Partition {
    /// It holds the partition's lease.
    leased: bool,
    /// It gives the lease up once the partition's entries in flight are acknowledged.
    shedding: bool,
    /// The id of the last entry submitted (or skipped) since the lease was taken: reads go on
    /// after it, and skip what a read answered up to it (taken from memory meanwhile).
    /// `0-0` once taken: everything its stream holds is still to handle.
    cursor: StreamId,
    /// Entries submitted to the dispatcher and not yet acknowledged.
    in_flight: HashSet<StreamId>,
}

impl Default for Partition {
    fn default() -> Self {
        Self {
            leased: false,
            shedding: false,
            cursor: StreamId::START,
            in_flight: HashSet::new(),
        }
    }
}

/// An entry whose handler finished: to delete.
struct Handled {
    partition: u16,
    id: StreamId,
}

impl Consumer {
    /// A consumer of `queue` feeding `dispatcher`, under a fresh replica id.
    pub(crate) fn new(queue: RedisQueue, dispatcher: Dispatcher) -> Self {
        let id = match queue.replica_name() {
            Some(name) => name.to_owned(),
            None => format!("{:016x}", rand::random::<u64>()),
        };
        let offset = (xxh3_64(id.as_bytes()) % u64::from(queue.partition_count())) as u16;
        let (handled, receiver) = mpsc::unbounded_channel();
        let shared = Shared {
            leases: Leases::new(queue.clone(), id),
            queue,
            dispatcher,
            offset,
            partitions: Mutex::default(),
            handled,
            alone: AtomicBool::new(false),
            wake: Notify::new(),
        };
        Self {
            shared: Arc::new(shared),
            handled: Mutex::new(Some(receiver)),
            running: Mutex::new(None),
        }
    }

    /// The consumer's side of the queue's group commit: this replica's own appends, taken
    /// from memory.
    pub(crate) fn feed(&self) -> Feed {
        Feed(self.shared.clone())
    }

    /// Starts reading and acknowledging, once; later calls do nothing. Call it within a tokio
    /// runtime.
    pub(crate) fn start(&self) {
        let Some(handled) = self
            .handled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return;
        };
        tracing::info!(
            replica = self.shared.leases.id(),
            partitions = self.shared.queue.partition_count(),
            "consuming the Redis queue"
        );
        let (stop_reading, reading_stopped) = crate::shutdown::channel();
        let (stop_acking, acking_stopped) = crate::shutdown::channel();
        let running = Running {
            stop_reading,
            reading: tokio::spawn(self.shared.clone().read_loop(reading_stopped)),
            stop_acking,
            acking: tokio::spawn(self.shared.clone().ack_loop(handled, acking_stopped)),
        };
        *self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(running);
    }

    /// Stops reading, lets the dispatcher drain within its deadline (renewing the leases
    /// meanwhile), deletes what was handled, and gives up the leases. Entries read but not
    /// handled stay in their streams, for the partitions' next holders.
    pub(crate) async fn shutdown(&self) -> DrainReport {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(running) = &running {
            running.stop_reading.pull();
        }
        let acking = match running {
            Some(running) => {
                let _ = running.reading.await;
                Some((running.stop_acking, running.acking))
            }
            None => None,
        };
        // The leases are kept while the dispatcher drains: were they left to expire, another
        // replica would claim the entries still being handled here and handle them again.
        let report = tokio::select! {
            biased;
            report = self.shared.dispatcher.shutdown() => report,
            never = self.shared.keep_leases() => match never {},
        };
        if let Some((stop_acking, acking)) = acking {
            stop_acking.pull();
            let _ = acking.await;
        }
        self.shared.leave().await;
        report
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u16, Partition>> {
        self.partitions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps the leases and reads the held partitions until `stop` is signalled.
    async fn read_loop(self: Arc<Self>, mut stop: Shutdown) {
        let mut reading = Reading {
            upkeep_at: Instant::now(),
            reader: None,
            failures: Failures::default(),
        };
        loop {
            let wait = match self.round(&mut reading, &mut stop).await {
                Round::Again => continue,
                Round::Wait(wait) => wait,
                Round::Stop => return,
            };
            tokio::select! {
                biased;
                () = self.wake.notified() => {}
                going_on = stop.pause(wait) => if !going_on { return },
            }
        }
    }

    /// One round of the read loop: the leases' upkeep when it is due, then one read (which
    /// `stop` cuts short: what it returned stays in the streams for the partitions' next
    /// holders).
    async fn round(&self, reading: &mut Reading, stop: &mut Shutdown) -> Round {
        if stop.is_signalled() {
            return Round::Stop;
        }
        if Instant::now() >= reading.upkeep_at {
            if let Err(error) = self.upkeep().await {
                tracing::warn!(%error, "could not renew the queue's leases; trying again");
            }
            reading.upkeep_at = Instant::now() + renewal_period(self.queue.lease_time());
        }
        let until_upkeep = reading.upkeep_at.saturating_duration_since(Instant::now());
        let readable = self.readable();
        let room = self.dispatcher.room();
        if readable.is_empty() || room == 0 {
            return Round::Wait(IDLE.min(until_upkeep));
        }
        // Alone, this replica's own appends come from memory; a blocked read would be woken by
        // each of them. It looks now and then instead (and when an append asks it to).
        let alone = self.alone.load(Ordering::Acquire);
        let block = (!alone).then(|| until_upkeep.clamp(MIN_BLOCK, MAX_BLOCK));
        let read = tokio::select! {
            biased;
            () = stop.signalled() => return Round::Stop,
            read = self.read(&mut reading.reader, &readable, room, block) => read,
        };
        match read {
            Ok(read) => {
                reading.failures.reset();
                let found = !read.0.is_empty();
                if self.submit_read(read) == Submitted::Refused {
                    Round::Wait(IDLE.min(until_upkeep))
                } else if alone && !found {
                    Round::Wait(ALONE_IDLE.min(until_upkeep))
                } else {
                    Round::Again
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the queue; trying again");
                // Nothing was submitted: the next read starts where this one did.
                reading.reader = None;
                Round::Wait(reading.failures.next())
            }
        }
    }

    /// Announces the replica, renews its leases, takes or sheds partitions towards its fair
    /// share, and gives up the shed ones whose entries are all acknowledged.
    async fn upkeep(&self) -> redis::RedisResult<()> {
        let live = self.leases.heartbeat().await?;
        self.alone.store(live <= 1, Ordering::Release);
        let held: Vec<u16> = self.held();
        let renewed = self.leases.renew(&held).await?;
        self.forget_lost(&held, &renewed);
        let share = fair_share(self.queue.partition_count(), live);
        self.balance(share).await?;
        self.release_shed().await
    }

    /// Renews the replica's heartbeat and held leases every renewal period, and nothing
    /// else (no partition taken or shed): what the read loop's upkeep leaves while the
    /// dispatcher drains at shutdown. Runs until dropped.
    async fn keep_leases(&self) -> std::convert::Infallible {
        let period = renewal_period(self.queue.lease_time());
        loop {
            let renewed = async {
                self.leases.heartbeat().await?;
                let held = self.held();
                let renewed = self.leases.renew(&held).await?;
                self.forget_lost(&held, &renewed);
                redis::RedisResult::Ok(())
            };
            if let Err(error) = renewed.await {
                tracing::warn!(%error, "could not renew the queue's leases while draining; trying again");
            }
            tokio::time::sleep(period).await;
        }
    }

    /// The partitions whose lease this replica holds.
    fn held(&self) -> Vec<u16> {
        let partitions = self.lock();
        partitions
            .iter()
            .filter(|(_, partition)| partition.leased)
            .map(|(number, _)| *number)
            .collect()
    }

    /// Stops reading the partitions whose lease was lost (it expired: Redis was out of reach
    /// for longer than a lease). Their entries in flight are still acknowledged when done.
    fn forget_lost(&self, held: &[u16], renewed: &[bool]) {
        let mut partitions = self.lock();
        for (number, still) in held.iter().zip(renewed) {
            if *still {
                continue;
            }
            tracing::warn!(
                partition = number,
                "lease on the partition lost; another replica may take it"
            );
            if let Some(partition) = partitions.get_mut(number) {
                partition.leased = false;
                partition.shedding = false;
            }
        }
        partitions.retain(|_, partition| partition.leased || !partition.in_flight.is_empty());
    }

    /// Sheds the partitions beyond `share`, or takes free ones up to it.
    async fn balance(&self, share: usize) -> redis::RedisResult<()> {
        let mut holding = {
            let mut partitions = self.lock();
            let mut kept: Vec<(&u16, &mut Partition)> = partitions
                .iter_mut()
                .filter(|(_, partition)| partition.leased)
                .collect();
            for (at, (number, partition)) in kept.iter_mut().enumerate() {
                let shed = at >= share;
                if shed && !partition.shedding {
                    tracing::info!(
                        partition = **number,
                        "shedding the partition for another replica"
                    );
                }
                partition.shedding = shed;
            }
            kept.len().min(share)
        };
        let count = self.queue.partition_count();
        for step in 0..count {
            if holding >= share {
                break;
            }
            let number = nth_from(self.offset, step, count);
            if self
                .lock()
                .get(&number)
                .is_some_and(|partition| partition.leased)
            {
                continue;
            }
            if self.leases.acquire(number).await? {
                tracing::info!(partition = number, "took the partition");
                let mut partitions = self.lock();
                let partition = partitions.entry(number).or_default();
                partition.leased = true;
                partition.shedding = false;
                partition.cursor = StreamId::START;
                holding += 1;
            }
        }
        Ok(())
    }

    /// Gives up the leases of shed partitions with nothing in flight.
    async fn release_shed(&self) -> redis::RedisResult<()> {
        let done: Vec<u16> = {
            let partitions = self.lock();
            partitions
                .iter()
                .filter(|(_, partition)| {
                    partition.leased && partition.shedding && partition.in_flight.is_empty()
                })
                .map(|(number, _)| *number)
                .collect()
        };
        if done.is_empty() {
            return Ok(());
        }
        self.leases.release(&done, false).await?;
        let mut partitions = self.lock();
        for number in &done {
            partitions.remove(number);
        }
        Ok(())
    }

    /// Gives up every lease and leaves the replicas, at shutdown.
    async fn leave(&self) {
        let held = self.held();
        if let Err(error) = self.leases.release(&held, true).await {
            tracing::warn!(%error, "could not give up the queue's leases; they expire by themselves");
        }
        self.lock().clear();
    }

    /// The partitions to read, each with the id to read on after: held, not being shed.
    fn readable(&self) -> Vec<(u16, StreamId)> {
        let partitions = self.lock();
        partitions
            .iter()
            .filter(|(_, partition)| partition.leased && !partition.shedding)
            .map(|(number, partition)| (*number, partition.cursor))
            .collect()
    }

    /// Reads the entries of each partition of `readable` after its cursor, waiting up to
    /// `block` for some (not at all without), on the reader's own connection (made first if
    /// need be).
    async fn read(
        &self,
        reader: &mut Option<MultiplexedConnection>,
        readable: &[(u16, StreamId)],
        room: usize,
        block: Option<Duration>,
    ) -> redis::RedisResult<StreamsRead> {
        let block = block.unwrap_or_default();
        let connection = match reader {
            Some(connection) => connection,
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(block + Duration::from_secs(2)));
                let client = self.queue.redis().client();
                reader.insert(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                )
            }
        };
        let count = (room / readable.len()).clamp(1, MAX_BATCH);
        let mut read = redis::cmd("XREAD");
        read.arg("COUNT").arg(count);
        if !block.is_zero() {
            read.arg("BLOCK")
                .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX));
        }
        read.arg("STREAMS");
        for (number, _) in readable {
            read.arg(self.queue.stream(*number));
        }
        for (_, cursor) in readable {
            read.arg(cursor);
        }
        read.query_async(connection).await
    }

    /// Submits what a read returned, stream by stream; refused when the dispatcher refused
    /// an entry of any of them.
    fn submit_read(&self, StreamsRead(streams): StreamsRead) -> Submitted {
        let mut submitted = Submitted::All;
        for (key, entries) in streams {
            let number = key
                .rsplit(':')
                .next()
                .and_then(|number| number.parse().ok());
            match number {
                Some(number) => {
                    if self.submit(number, entries) == Submitted::Refused {
                        submitted = Submitted::Refused;
                    }
                }
                None => tracing::error!(stream = key, "read a stream that is no partition"),
            }
        }
        submitted
    }

    /// Submits `entries` of partition `number` to the dispatcher in order, each to be
    /// deleted once handled; skips those up to the partition's cursor (taken from memory
    /// while the read was on its way) and those in flight already. Moves the partition's
    /// cursor past each one submitted or skipped; when the dispatcher refuses one, the rest
    /// wait and the next read starts at it.
    fn submit(&self, number: u16, entries: Vec<Entry>) -> Submitted {
        let mut partitions = self.lock();
        let partition = partitions.entry(number).or_default();
        for entry in entries {
            if partition.leased && entry.id <= partition.cursor {
                continue;
            }
            let Some(event) = entry.event else {
                tracing::error!(
                    partition = number,
                    entry = %entry.id,
                    "queue entry that is not a notification deleted unhandled"
                );
                if partition.in_flight.insert(entry.id) {
                    self.finished(number, entry.id);
                }
                partition.read_past(entry.id);
                continue;
            };
            if let Err(rejected) = self.offer(partition, number, entry.id, event) {
                tracing::debug!(partition = number, reason = %rejected, "entry left for a later read");
                return Submitted::Refused;
            }
        }
        Submitted::All
    }

    /// Submits `event`, entry `id` of `partition` (number `number`), to the dispatcher, to be
    /// deleted once handled, and moves the cursor past it; skips it (moving the cursor all the
    /// same) when it is in flight already. Called with the partitions locked, so that an
    /// entry read and the same entry taken from memory are never both submitted.
    fn offer(
        &self,
        partition: &mut Partition,
        number: u16,
        id: StreamId,
        event: Event,
    ) -> Result<(), Rejected> {
        if partition.in_flight.insert(id) {
            let handled = self.handled.clone();
            let done = Box::new(move || {
                let _ = handled.send(Handled {
                    partition: number,
                    id,
                });
            });
            if let Err(rejected) = self.dispatcher.submit(event, Some(done)) {
                partition.in_flight.remove(&id);
                return Err(rejected);
            }
        }
        partition.read_past(id);
        Ok(())
    }

    /// Queues entry `id` for acknowledgement.
    fn finished(&self, number: u16, id: StreamId) {
        let _ = self.handled.send(Handled {
            partition: number,
            id,
        });
    }

    /// Acknowledges and deletes handled entries, in batches, until `stop` is signalled; then
    /// acknowledges what is left (a few tries).
    async fn ack_loop(
        self: Arc<Self>,
        mut handled: mpsc::UnboundedReceiver<Handled>,
        mut stop: Shutdown,
    ) {
        let mut batch = Vec::new();
        let mut failures = Failures::default();
        loop {
            if batch.is_empty() {
                tokio::select! {
                    biased;
                    next = handled.recv() => match next {
                        Some(next) => batch.push(next),
                        None => return,
                    },
                    () = stop.signalled() => break,
                }
            }
            while let Ok(next) = handled.try_recv() {
                batch.push(next);
            }
            match self.ack(&batch).await {
                Ok(()) => {
                    self.forget(&batch);
                    batch.clear();
                    failures.reset();
                }
                Err(error) => {
                    tracing::warn!(%error, entries = batch.len(), "could not acknowledge handled entries; trying again");
                    if !stop.pause(failures.next()).await {
                        break;
                    }
                }
            }
        }
        while let Ok(next) = handled.try_recv() {
            batch.push(next);
        }
        self.ack_last(&batch).await;
    }

    /// Acknowledges what is left at shutdown, with a few tries.
    async fn ack_last(&self, batch: &[Handled]) {
        if batch.is_empty() {
            return;
        }
        for _ in 0..FINAL_ACK_ATTEMPTS {
            if self.ack(batch).await.is_ok() {
                self.forget(batch);
                return;
            }
            tokio::time::sleep(ERROR_PAUSE).await;
        }
        tracing::warn!(
            entries = batch.len(),
            "handled entries left unacknowledged at shutdown; their next holder handles them again"
        );
    }

    /// Deletes the entries (`XDEL`), one command per partition, in one pipeline.
    async fn ack(&self, batch: &[Handled]) -> redis::RedisResult<()> {
        let mut by_partition: BTreeMap<u16, Vec<StreamId>> = BTreeMap::new();
        for handled in batch {
            by_partition
                .entry(handled.partition)
                .or_default()
                .push(handled.id);
        }
        let mut pipe = redis::pipe();
        for (number, ids) in &by_partition {
            pipe.cmd("XDEL")
                .arg(self.queue.stream(*number))
                .arg(ids)
                .ignore();
        }
        pipe.query_async(&mut self.queue.redis().connection()).await
    }

    /// Counts acknowledged entries out of flight.
    fn forget(&self, batch: &[Handled]) {
        let mut partitions = self.lock();
        for handled in batch {
            if let Some(partition) = partitions.get_mut(&handled.partition) {
                partition.in_flight.remove(&handled.id);
            }
        }
        partitions.retain(|_, partition| partition.leased || !partition.in_flight.is_empty());
    }
}

impl Partition {
    /// Moves the cursor to entry `id`, when the partition is still held.
    fn read_past(&mut self, id: StreamId) {
        if self.leased {
            self.cursor = id;
        }
    }
}

/// The consumer's side of the queue's group commit ([`Consumer::feed`]): while this replica
/// is the only live one, what it appends to a partition it reads is submitted from memory,
/// not read back, when nothing else came first. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Feed(Arc<Shared>);

impl Feed {
    /// The cursors to send with an append to `partitions`: those of the partitions among
    /// them that this replica reads, each once; none unless it is alone.
    pub(crate) fn cursors(
        &self,
        partitions: impl IntoIterator<Item = u16>,
    ) -> Vec<(u16, StreamId)> {
        if !self.0.alone.load(Ordering::Acquire) {
            return Vec::new();
        }
        let held = self.0.lock();
        let mut cursors: Vec<(u16, StreamId)> = Vec::new();
        for number in partitions {
            if cursors.iter().any(|(seen, _)| *seen == number) {
                continue;
            }
            if let Some(partition) = held.get(&number)
                && partition.leased
                && !partition.shedding
            {
                cursors.push((number, partition.cursor));
            }
        }
        cursors
    }

    /// Takes what an append sent with `cursors` appended (`appended`: each event's
    /// partition, entry id and event, in the order appended): a partition whose stream held
    /// nothing after its cursor (`clear`, per cursor) and whose cursor has not moved since has
    /// its events submitted in order, the cursor moved past each; the rest is left to the
    /// read loop, which is woken to read it.
    pub(crate) fn take(
        &self,
        cursors: &[(u16, StreamId)],
        clear: &[bool],
        appended: Vec<(u16, StreamId, Event)>,
    ) {
        // Per partition sent, the cursor its next event must find; none once it is left to
        // the read loop.
        let mut expected: Vec<(u16, Option<StreamId>)> = cursors
            .iter()
            .zip(clear)
            .map(|(&(number, cursor), &clear)| (number, clear.then_some(cursor)))
            .collect();
        let mut left = cursors.len() > clear.iter().filter(|clear| **clear).count();
        {
            let mut partitions = self.0.lock();
            for (number, id, event) in appended {
                let Some((_, expected)) = expected.iter_mut().find(|(sent, _)| *sent == number)
                else {
                    continue;
                };
                let Some(partition) = partitions.get_mut(&number) else {
                    continue;
                };
                let taken = expected.take().is_some_and(|cursor| {
                    partition.leased
                        && !partition.shedding
                        && partition.cursor == cursor
                        && self.0.offer(partition, number, id, event).is_ok()
                });
                if taken {
                    *expected = Some(id);
                } else if partition.cursor < id {
                    // Not read yet (a read that came first moved the cursor past it).
                    left = true;
                }
            }
        }
        if left {
            self.0.wake.notify_one();
        }
    }
}

/// What the read loop carries from one round to the next.
struct Reading {
    /// When the leases are next renewed.
    upkeep_at: Instant,
    /// The reader's own connection, made when first needed and after a failure.
    reader: Option<MultiplexedConnection>,
    failures: Failures,
}

/// What the read loop does after a round.
/// Whether the dispatcher took every entry a read gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Submitted {
    /// Each entry was submitted (or skipped: in flight already, or not a notification).
    All,
    /// The dispatcher refused one: it and those after it in its stream wait for a later read.
    Refused,
}

enum Round {
    /// The next round, at once.
    Again,
    /// The next round, after this wait.
    Wait(Duration),
    /// Nothing more: the consumer is stopping.
    Stop,
}

/// Failed Redis commands in a row, and the wait they call for: a [`Backoff`] from
/// [`ERROR_PAUSE`] up to [`MAX_ERROR_PAUSE`].
struct Failures(Backoff);

impl Default for Failures {
    fn default() -> Self {
        Self(Backoff::new(ERROR_PAUSE, MAX_ERROR_PAUSE))
    }
}

impl Failures {
    /// Counts one more failure; the wait before trying again.
    fn next(&mut self) -> Duration {
        self.0.next()
    }

    fn reset(&mut self) {
        self.0.reset();
    }
}

/// The partition `step` places after `offset`, wrapping around at `count`: each of
/// `0..count` once as `step` goes over `0..count`, even past 32 768 partitions (where
/// `offset + step` does not fit a `u16`).
fn nth_from(offset: u16, step: u16, count: u16) -> u16 {
    let number = (u32::from(offset) + u32::from(step)) % u32::from(count.max(1));
    u16::try_from(number).expect("a number below a u16 count fits a u16")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_partitions_visits_each_once_even_with_the_most_partitions() {
        for (offset, count) in [(0, 16), (5, 16), (u16::MAX - 1, u16::MAX), (40_000, 50_000)] {
            let mut seen = vec![false; usize::from(count)];
            for step in 0..count {
                let number = nth_from(offset, step, count);
                assert!(number < count);
                assert!(!std::mem::replace(&mut seen[usize::from(number)], true));
            }
            assert!(seen.iter().all(|seen| *seen), "offset {offset} of {count}");
        }
    }
}
