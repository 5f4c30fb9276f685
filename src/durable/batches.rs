//! Accepted notifications as the file keeps them: one row of the `batches` table per group
//! commit, holding that batch's notifications packed in one blob, rather than a row (three
//! texts, an insert and later a delete, each rewriting B-tree pages) per notification.
//!
//! A notification's [`Seq`] is its row's id and its place in the row, so the accept order is
//! the rows' order and then the places'; the ids come from an `AUTOINCREMENT` table and are never
//! reused. Which notifications of a row are handled the writer keeps in memory: a row whose
//! notifications are all handled is deleted, and a row only partly handled records which are in
//! a small row of `handled` (a bitmap), written in the same commit that a deletion would have
//! been, so that a crash hands out a handled notification no more than before. The writer reads
//! every row's sizes when the store opens: the bounds (notifications, bytes) stay exact.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::entries::Seq;
use super::journal::Entry;
use crate::event::RawJson;

/// Bits of a [`Seq`] that number a notification in its row.
const PLACE_BITS: u32 = 10;
/// Notifications one row holds at most (at least as many as one batch of requests).
const ROW_EVENTS: usize = 1 << PLACE_BITS;
/// Bytes past which a batch's notifications go on in a row of their own (in the same commit),
/// so that a row stays far below SQLite's largest blob.
const ROW_BYTES: usize = 32 << 20;

impl Seq {
    /// The notification at `place` in row `row`.
    fn new(row: i64, place: usize) -> Self {
        Self((row << PLACE_BITS) | place as i64)
    }

    /// Its row.
    fn row(self) -> i64 {
        self.0 >> PLACE_BITS
    }

    /// Its place in the row.
    fn place(self) -> usize {
        (self.0 & (ROW_EVENTS as i64 - 1)) as usize
    }
}

/// A notification as a row keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record<'a> {
    /// The gateway's name ([`GatewayKind::as_str`](crate::gateway::GatewayKind::as_str)).
    pub(super) gateway: &'a str,
    /// The instance it was accepted for.
    pub(super) instance: &'a str,
    /// Its JSON text.
    pub(super) notification: &'a str,
}

impl Record<'_> {
    /// Appends the record to `blob`: each text after its length (the gateway's in one byte,
    /// the others in four, little-endian).
    pub(super) fn encode(&self, blob: &mut Vec<u8>) {
        let gateway = &self.gateway.as_bytes()[..self.gateway.len().min(u8::MAX.into())];
        blob.push(gateway.len() as u8);
        blob.extend_from_slice(gateway);
        for text in [self.instance, self.notification] {
            blob.extend_from_slice(&(text.len() as u32).to_le_bytes());
            blob.extend_from_slice(text.as_bytes());
        }
    }

    /// The size of the notification of `blob` when it holds exactly one record (a journal's
    /// row), else `None`.
    pub(super) fn size_of_one(blob: &[u8]) -> Option<u32> {
        match Record::decode_all(blob)?.as_slice() {
            [record] => Some(record.notification.len() as u32),
            _ => None,
        }
    }

    /// The records of a row's `blob`, or `None` when it is not one.
    fn decode_all(mut blob: &[u8]) -> Option<Vec<Record<'_>>> {
        let mut records = Vec::new();
        while !blob.is_empty() {
            let (gateway, rest) = take(blob, usize::from(blob[0]), 1)?;
            let (instance, rest) = take_text(rest)?;
            let (notification, rest) = take_text(rest)?;
            records.push(Record {
                gateway,
                instance,
                notification,
            });
            blob = rest;
        }
        Some(records)
    }
}

/// A text of `length` bytes after `skip` bytes of `blob`, and what follows it.
fn take(blob: &[u8], length: usize, skip: usize) -> Option<(&str, &[u8])> {
    let end = skip.checked_add(length)?;
    let text = std::str::from_utf8(blob.get(skip..end)?).ok()?;
    Some((text, &blob[end..]))
}

/// A text after its four-byte length, and what follows it.
fn take_text(blob: &[u8]) -> Option<(&str, &[u8])> {
    let length = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?);
    take(blob, usize::try_from(length).ok()?, 4)
}

/// What the writer knows of a committed row with unhandled notifications.
#[derive(Debug, Clone)]
struct Row {
    /// Each notification's size in bytes.
    sizes: Vec<u32>,
    /// Which are handled.
    done: Handled,
}

/// Which notifications of a row are handled: a bitmap, and how many are not.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Handled {
    /// A bit per notification, by place: set once it is handled.
    bits: Vec<u64>,
    /// How many are not handled.
    left: usize,
    /// Whether the row has a row of `handled` in the file.
    recorded: bool,
}

impl Handled {
    /// A row of `events` notifications none of which is handled yet.
    fn none(events: usize) -> Self {
        Self {
            bits: vec![0; events.div_ceil(64)],
            left: events,
            recorded: false,
        }
    }

    /// Whether the notification at `place` is handled.
    fn is_done(&self, place: usize) -> bool {
        self.bits
            .get(place / 64)
            .is_some_and(|word| word & (1 << (place % 64)) != 0)
    }

    /// Marks `place` handled; whether it was not.
    fn mark(&mut self, place: usize) -> bool {
        let Some(word) = self.bits.get_mut(place / 64) else {
            return false;
        };
        let bit = 1 << (place % 64);
        if *word & bit != 0 {
            return false;
        }
        *word |= bit;
        self.left -= 1;
        true
    }

    /// The bitmap as `handled` keeps it: its words, little-endian.
    fn to_blob(&self) -> Vec<u8> {
        self.bits
            .iter()
            .flat_map(|word| word.to_le_bytes())
            .collect()
    }

    /// The bitmap `blob` of `handled` for a row of `events`: only its first `events` bits count.
    fn from_blob(blob: &[u8], events: usize) -> Self {
        let mut done = Self::none(events);
        for (n, byte) in blob.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 && n * 8 + bit < events {
                    done.mark(n * 8 + bit);
                }
            }
        }
        done.recorded = true;
        done
    }
}

/// An amount of notifications and their bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tally {
    /// Notifications handled.
    pub(super) events: u64,
    /// Their bytes.
    pub(super) bytes: u64,
}

/// The rows of `batches`, as the writer knows them, and the running batch's new row.
#[derive(Debug, Default)]
pub(super) struct Batches {
    /// Committed rows with unhandled notifications, by id.
    rows: BTreeMap<i64, Row>,
    /// The id of the next row.
    next: i64,
    /// The running batch's notifications, for the row of id `pending_id`.
    pending: Vec<u8>,
    pending_sizes: Vec<u32>,
    pending_id: i64,
    /// Rows the running batch wrote, known once it is committed.
    written: Vec<(i64, Row)>,
    /// What the running batch changed of the committed rows' handled notifications.
    staged: HashMap<i64, Handled>,
    /// The rows up to this id are in the file; those after it are the journal's (one
    /// notification each), in `journal` until the next fold writes them.
    folded: i64,
    /// The journal's rows not yet folded, by id from `journal_first` on (handled or not: the
    /// last is the fold's mark); the unhandled ones' blobs kept in memory (or, replayed at open,
    /// in the records the open read).
    journal: Vec<Slot>,
    /// The id of `journal`'s first row.
    journal_first: i64,
    /// `folded` before the running batch's fold raised it, to restore if the batch fails.
    folded_before: Option<i64>,
}

/// What the writer knows of a journal's row (one notification) until the fold writes it.
#[derive(Debug, Clone)]
struct Slot {
    /// The notification's size in bytes.
    size: u32,
    /// Whether it is handled (its marker in the journal).
    done: bool,
    /// The notification while it is unhandled, when it was appended by this process (one
    /// replayed at open is only in the journal's file).
    kept: Option<Kept>,
}

/// A journal's notification as its row holds it, kept in memory by the append until the fold
/// writes the row or the notification is handled: its parts are shared with the event the
/// dispatcher holds, so keeping them copies nothing, and the fold does not read the journal's
/// file back.
#[derive(Debug, Clone)]
pub(super) struct Kept {
    pub(super) gateway: &'static str,
    pub(super) instance: Arc<str>,
    pub(super) notification: RawJson,
}

impl Kept {
    /// The row's record.
    fn record(&self) -> Record<'_> {
        Record {
            gateway: self.gateway,
            instance: &self.instance,
            notification: self.notification.as_str(),
        }
    }
}

/// A row's blob larger than this is not kept for the next batch (the memory goes back).
const SPARE_BYTES: usize = 1 << 20;

impl Batches {
    /// What `connection`'s database holds, with how many notifications (and bytes) are
    /// unhandled; an error names a row that does not read as one.
    pub(super) fn load(connection: &Connection) -> rusqlite::Result<(Self, Tally)> {
        let mut rows = BTreeMap::new();
        let mut statement = connection.prepare("SELECT id, events FROM batches ORDER BY id")?;
        let mut query = statement.query([])?;
        while let Some(row) = query.next()? {
            let id: i64 = row.get(0)?;
            let sizes = decode(id, row.get_ref(1)?.as_blob()?)?
                .iter()
                .map(|record| record.notification.len() as u32)
                .collect::<Vec<_>>();
            let done = Handled::none(sizes.len());
            rows.insert(id, Row { sizes, done });
        }
        let mut statement = connection.prepare("SELECT batch, done FROM handled")?;
        let mut query = statement.query([])?;
        while let Some(row) = query.next()? {
            let id: i64 = row.get(0)?;
            if let Some(kept) = rows.get_mut(&id) {
                kept.done = Handled::from_blob(row.get_ref(1)?.as_blob()?, kept.sizes.len());
            }
        }
        rows.retain(|_, row| row.done.left > 0);
        let last: Option<i64> = connection
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'batches'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let next = last
            .unwrap_or(0)
            .max(rows.last_key_value().map_or(0, |(id, _)| *id))
            + 1;
        let mut kept = Tally::default();
        for row in rows.values() {
            kept.events += row.done.left as u64;
            kept.bytes += row
                .sizes
                .iter()
                .enumerate()
                .filter(|(place, _)| !row.done.is_done(*place))
                .map(|(_, size)| u64::from(*size))
                .sum::<u64>();
        }
        let batches = Self {
            rows,
            next,
            pending_id: next,
            folded: next - 1,
            ..Self::default()
        };
        Ok((batches, kept))
    }

    /// The id the next journaled row takes.
    pub(super) fn next_id(&self) -> i64 {
        self.next
    }

    /// Keeps the journal's row `id` (its notification's size `size`), written to the journal:
    /// known from now on, written to the file by the next fold (from `kept`, or from the
    /// journal's record when it was replayed).
    pub(super) fn journaled(&mut self, id: i64, size: u32, kept: Option<Kept>) -> Seq {
        if self.journal.is_empty() {
            self.journal_first = id;
        }
        // Ids the journal did not take (none between two folds) stand as handled.
        let place = usize::try_from(id - self.journal_first).unwrap_or(0);
        self.journal.resize(
            place,
            Slot {
                size: 0,
                done: true,
                kept: None,
            },
        );
        self.journal.push(Slot {
            size,
            done: false,
            kept,
        });
        self.next = id + 1;
        self.pending_id = self.next;
        Seq::new(id, 0)
    }

    /// The journal's row `id`, if it is one.
    fn slot(&self, id: i64) -> Option<&Slot> {
        self.journal
            .get(usize::try_from(id - self.journal_first).ok()?)
    }

    /// The notification `seq`'s size and whether it is handled, if it is known.
    fn state(&self, seq: Seq) -> Option<(u32, bool)> {
        let id = seq.row();
        if id > self.folded_mark() {
            return self
                .slot(id)
                .filter(|_| seq.place() == 0)
                .map(|slot| (slot.size, slot.done));
        }
        let row = self.rows.get(&id)?;
        let size = *row.sizes.get(seq.place())?;
        Some((size, row.done.is_done(seq.place())))
    }

    /// The last id of the file's rows before the running batch's fold: after it, a row is
    /// the journal's.
    fn folded_mark(&self) -> i64 {
        self.folded_before.unwrap_or(self.folded)
    }

    /// What marking `seqs` handled would free (numbers already handled, or of no row, free
    /// nothing).
    pub(super) fn freeable(&self, seqs: &[Seq]) -> Tally {
        let mut free = Tally::default();
        for seq in seqs {
            if let Some((size, false)) = self.state(*seq) {
                free.events += 1;
                free.bytes += u64::from(size);
            }
        }
        free
    }

    /// Marks the handled `seqs`, whose markers are in the journal: the journal's rows are
    /// marked (a row handled before the fold never reaches the file), the file's rows are
    /// changed in memory and put in `later`, for the next fold to write
    /// ([`write_marked`](Batches::write_marked)); what was freed.
    pub(super) fn forget(&mut self, seqs: &[Seq], later: &mut Vec<Seq>) -> Tally {
        let mut freed = Tally::default();
        for seq in seqs {
            let id = seq.row();
            if id > self.folded {
                let place = usize::try_from(id - self.journal_first).ok();
                if let Some(slot) = place.and_then(|place| self.journal.get_mut(place))
                    && seq.place() == 0
                    && !slot.done
                {
                    slot.done = true;
                    slot.kept = None;
                    freed.events += 1;
                    freed.bytes += u64::from(slot.size);
                }
                continue;
            }
            let Some(row) = self.rows.get_mut(&id) else {
                continue;
            };
            let Some(size) = row.sizes.get(seq.place()).copied() else {
                continue;
            };
            if !row.done.mark(seq.place()) {
                continue;
            }
            freed.events += 1;
            freed.bytes += u64::from(size);
            later.push(*seq);
            if row.done.left == 0 {
                self.rows.remove(&id);
            }
        }
        freed
    }

    /// Writes what [`forget`](Batches::forget) changed of the file's rows `marked` in `tx`:
    /// a row all handled is deleted, another's bitmap written.
    pub(super) fn write_marked(&mut self, tx: &Connection, marked: &[Seq]) -> rusqlite::Result<()> {
        let mut last = None;
        for seq in marked {
            let id = seq.row();
            if last == Some(id) {
                continue;
            }
            last = Some(id);
            match self.rows.get_mut(&id) {
                None => {
                    tx.prepare_cached("DELETE FROM batches WHERE id = ?1")?
                        .execute([id])?;
                    tx.prepare_cached("DELETE FROM handled WHERE batch = ?1")?
                        .execute([id])?;
                }
                Some(row) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO handled (batch, done) VALUES (?1, ?2)",
                    )?
                    .execute(params![id, row.done.to_blob()])?;
                    row.done.recorded = true;
                }
            }
        }
        Ok(())
    }

    /// The first step of a fold, in its transaction `tx` (after the batch's handled entries
    /// were marked): writes the journal's rows still unhandled, from memory or, for those
    /// replayed at open, their blobs read from the journal's `records` (its payloads, in
    /// order), and raises the table's sequence past the last row, the mark of what the file
    /// holds (see `journal`). An unhandled row found in neither fails the fold.
    pub(super) fn fold<'r>(
        &mut self,
        tx: &Connection,
        records: impl Iterator<Item = &'r [u8]>,
    ) -> rusqlite::Result<()> {
        if self.journal.is_empty() {
            return Ok(());
        }
        let last = self.journal_first + self.journal.len() as i64 - 1;
        // Rows whose blob is only in the journal's file.
        let mut left = 0;
        let mut blob = Vec::new();
        for (place, slot) in self.journal.iter().enumerate() {
            let id = self.journal_first + place as i64;
            if slot.done || self.staged_done(id) {
                continue;
            }
            let Some(kept) = &slot.kept else {
                left += 1;
                continue;
            };
            blob.clear();
            kept.record().encode(&mut blob);
            tx.prepare_cached("INSERT INTO batches (id, events) VALUES (?1, ?2)")?
                .execute(params![id, blob])?;
        }
        for payload in records {
            if left == 0 {
                break;
            }
            let entry = Entry::decode(payload)
                .ok_or_else(|| unreadable("a record that does not read as a notification"))?;
            let unhandled = self
                .slot(entry.id)
                .is_some_and(|slot| !slot.done && slot.kept.is_none())
                && !self.staged_done(entry.id);
            if unhandled {
                tx.prepare_cached("INSERT INTO batches (id, events) VALUES (?1, ?2)")?
                    .execute(params![entry.id, entry.blob])?;
                left -= 1;
            }
        }
        if left > 0 {
            return Err(unreadable("no record of a notification it holds"));
        }
        raise_sequence(tx, last)?;
        // The rest of the batch finds them in the file.
        self.folded_before.get_or_insert(self.folded);
        self.folded = last;
        Ok(())
    }

    /// Whether the running batch handled the last notification of row `id`.
    fn staged_done(&self, id: i64) -> bool {
        self.staged.get(&id).is_some_and(|done| done.left == 0)
    }

    /// The last id of the file's rows: the journal's records at or below it were folded.
    pub(super) fn folded(&self) -> i64 {
        self.folded
    }

    /// Adds `record` to the running batch's row, its number.
    pub(super) fn push(&mut self, tx: &Connection, record: &Record<'_>) -> rusqlite::Result<Seq> {
        let full = self.pending_sizes.len() == ROW_EVENTS
            || self.pending.len() + record.notification.len() > ROW_BYTES;
        if full && !self.pending_sizes.is_empty() {
            self.write(tx)?;
        }
        let seq = Seq::new(self.pending_id, self.pending_sizes.len());
        record.encode(&mut self.pending);
        self.pending_sizes.push(record.notification.len() as u32);
        Ok(seq)
    }

    /// Writes the running batch's row, if it has notifications.
    pub(super) fn write(&mut self, tx: &Connection) -> rusqlite::Result<()> {
        if self.pending_sizes.is_empty() {
            return Ok(());
        }
        tx.prepare_cached("INSERT INTO batches (id, events) VALUES (?1, ?2)")?
            .execute(params![self.pending_id, self.pending])?;
        let sizes = std::mem::take(&mut self.pending_sizes);
        let done = Handled::none(sizes.len());
        self.written.push((self.pending_id, Row { sizes, done }));
        self.pending_id += 1;
        self.clear_pending();
        Ok(())
    }

    /// Empties the running batch's row, giving back an unusually large blob's memory.
    fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_sizes.clear();
        if self.pending.capacity() > SPARE_BYTES {
            self.pending = Vec::new();
        }
    }

    /// Records `finished` (sorted here) as handled in `tx`: rows all handled
    /// are deleted, the others' bitmaps written. Numbers already handled, or of no row, are
    /// skipped. What was handled, and its bytes.
    pub(super) fn finish(
        &mut self,
        tx: &Connection,
        finished: &mut [Seq],
    ) -> rusqlite::Result<Tally> {
        finished.sort_unstable();
        let mut freed = Tally::default();
        let mut seqs = finished.iter().peekable();
        while let Some(first) = seqs.next() {
            let id = first.row();
            let mut places = vec![first.place()];
            while let Some(seq) = seqs.next_if(|seq| seq.row() == id) {
                places.push(seq.place());
            }
            let (sizes, committed) = match self.rows.get(&id) {
                Some(row) if id <= self.folded_mark() => (row.sizes.as_slice(), row.done.clone()),
                _ => match self.slot(id) {
                    Some(slot) if id > self.folded_mark() => {
                        let mut done = Handled::none(1);
                        if slot.done {
                            done.mark(0);
                        }
                        (std::slice::from_ref(&slot.size), done)
                    }
                    _ => continue,
                },
            };
            let mut done = self.staged.get(&id).cloned().unwrap_or(committed);
            let mut changed = false;
            for place in places {
                if place < sizes.len() && done.mark(place) {
                    changed = true;
                    freed.events += 1;
                    freed.bytes += u64::from(sizes[place]);
                }
            }
            if !changed {
                continue;
            }
            // A journal's row (after `folded`) is not in the file: nothing to delete there.
            if id <= self.folded {
                if done.left == 0 {
                    tx.prepare_cached("DELETE FROM batches WHERE id = ?1")?
                        .execute([id])?;
                    if done.recorded {
                        tx.prepare_cached("DELETE FROM handled WHERE batch = ?1")?
                            .execute([id])?;
                    }
                } else {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO handled (batch, done) VALUES (?1, ?2)",
                    )?
                    .execute(params![id, done.to_blob()])?;
                    done.recorded = true;
                }
            }
            self.staged.insert(id, done);
        }
        Ok(freed)
    }

    /// The running batch was committed: what it wrote and changed is known from now on.
    pub(super) fn commit(&mut self) {
        // The journal's rows are the file's now (those handled before the fold never were).
        for (place, slot) in std::mem::take(&mut self.journal).into_iter().enumerate() {
            if !slot.done {
                let row = Row {
                    sizes: vec![slot.size],
                    done: Handled::none(1),
                };
                self.rows.insert(self.journal_first + place as i64, row);
            }
        }
        for (id, done) in self.staged.drain() {
            if done.left == 0 {
                self.rows.remove(&id);
            } else if let Some(row) = self.rows.get_mut(&id) {
                row.done = done;
            }
        }
        self.rows.extend(self.written.drain(..));
        self.next = self.pending_id;
        self.folded = self.next - 1;
        self.folded_before = None;
        self.clear_pending();
    }

    /// The running batch failed: nothing of it was written.
    pub(super) fn roll_back(&mut self) {
        if let Some(folded) = self.folded_before.take() {
            self.folded = folded;
        }
        self.staged.clear();
        self.written.clear();
        self.pending_id = self.next;
        self.clear_pending();
    }

    /// Up to `limit` unhandled notifications after `after`, in accept order.
    pub(super) fn read(
        &self,
        tx: &Connection,
        after: Seq,
        limit: usize,
    ) -> rusqlite::Result<Vec<Stored>> {
        let mut statement =
            tx.prepare_cached("SELECT id, events FROM batches WHERE id >= ?1 ORDER BY id")?;
        let mut query = statement.query([after.row()])?;
        let mut stored = Vec::new();
        while stored.len() < limit
            && let Some(row) = query.next()?
        {
            let id: i64 = row.get(0)?;
            if !self.rows.contains_key(&id) && self.slot(id).is_none() {
                continue;
            }
            let records = decode(id, row.get_ref(1)?.as_blob()?)?;
            for (place, record) in records.into_iter().enumerate() {
                let seq = Seq::new(id, place);
                if seq <= after || self.state(seq).is_none_or(|(_, done)| done) {
                    continue;
                }
                stored.push(Stored {
                    seq,
                    gateway: record.gateway.to_owned(),
                    instance: record.instance.to_owned(),
                    notification: record.notification.to_owned(),
                });
                if stored.len() == limit {
                    break;
                }
            }
        }
        Ok(stored)
    }
}

/// The fold's error when the journal's records read at open hold `what` (the file was changed
/// by something other than the store).
fn unreadable(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        1,
        rusqlite::types::Type::Blob,
        format!("the journal holds {what}").into(),
    )
}

/// Raises `batches`' sequence in `sqlite_sequence` to `last`, when it is lower.
fn raise_sequence(tx: &Connection, last: i64) -> rusqlite::Result<()> {
    let raised = tx
        .prepare_cached("UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'batches' AND seq < ?1")?
        .execute([last])?;
    if raised == 0 {
        tx.prepare_cached(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'batches', ?1
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'batches')",
        )?
        .execute([last])?;
    }
    Ok(())
}

/// An unhandled notification as read back.
pub(super) struct Stored {
    pub(super) seq: Seq,
    pub(super) gateway: String,
    pub(super) instance: String,
    pub(super) notification: String,
}

/// The records of row `id`'s `blob`; an error naming the row when it is not one (the file
/// was changed by something other than the store).
fn decode(id: i64, blob: &[u8]) -> rusqlite::Result<Vec<Record<'_>>> {
    Record::decode_all(blob)
        .filter(|records| records.len() <= ROW_EVENTS)
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Blob,
                format!("row {id} of batches does not read as accepted notifications").into(),
            )
        })
}

/// Moves the notifications of version 2's `entries` table into rows of `batches`, in their
/// order (a schema migration, in its transaction `tx`).
pub(super) fn move_entries(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut batches = Batches {
        next: 1,
        pending_id: 1,
        ..Batches::default()
    };
    let mut statement =
        tx.prepare("SELECT gateway, instance, notification FROM entries ORDER BY seq")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let record = Record {
            gateway: row.get_ref(0)?.as_str()?,
            instance: row.get_ref(1)?.as_str()?,
            notification: row.get_ref(2)?.as_str()?,
        };
        batches.push(tx, &record)?;
    }
    batches.write(tx)
}

/// A row's blob of `records`.
#[cfg(test)]
pub(super) fn row_of(records: &[Record<'_>]) -> Vec<u8> {
    let mut blob = Vec::new();
    for record in records {
        record.encode(&mut blob);
    }
    blob
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal's payload of row `id`, a notification of `text`.
    fn payload(id: i64, text: &str) -> Vec<u8> {
        let mut payload = Vec::new();
        let entry = Entry {
            id,
            claim: None,
            expires: 0,
            handled: Vec::new(),
            blob: &[],
        };
        entry.encode(&mut payload);
        Record {
            gateway: "green-api",
            instance: "1101000001",
            notification: text,
        }
        .encode(&mut payload);
        payload
    }

    #[test]
    fn a_fold_writes_the_unhandled_journal_rows_and_fails_when_a_record_is_missing() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE batches (id INTEGER PRIMARY KEY AUTOINCREMENT, events BLOB NOT NULL)",
            )
            .unwrap();
        let mut batches = Batches {
            next: 1,
            pending_id: 1,
            ..Batches::default()
        };
        batches.journaled(1, 2, None);
        let second = batches.journaled(2, 2, None);
        let records = [payload(2, "{}")];
        let error = batches
            .fold(&connection, records.iter().map(Vec::as_slice))
            .expect_err("row 1's record is not there");
        assert!(error.to_string().contains("no record"), "{error}");
        assert_eq!(batches.folded(), 0, "the mark stays");
        connection.execute("DELETE FROM batches", []).unwrap();
        // Row 1 handled (its marker in a record): only row 2 is written.
        let freed = batches.forget(&[Seq::new(1, 0)], &mut Vec::new());
        assert_eq!(freed.events, 1);
        batches
            .fold(&connection, records.iter().map(Vec::as_slice))
            .expect("row 2's record is there");
        assert_eq!(batches.folded(), 2);
        let ids: Vec<i64> = connection
            .prepare("SELECT id FROM batches")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(ids, [2]);
        batches.commit();
        assert_eq!(
            batches.freeable(&[second]).events,
            1,
            "row 2 is the file's now, unhandled"
        );
    }
}
