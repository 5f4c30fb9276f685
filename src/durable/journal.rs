//! The intake's journal: the appends of a store that does not fsync ([`Durability::Process`]),
//! each written as one record with one `write` on the request's own task, and folded into the
//! database by the writer thread's next commit (see [`Core`](super::writer::Core)).
//!
//! A record is `[length u32][xxh3 u64][payload]` (little-endian), the hash over the payload,
//! written where the file's whole records end (a file holds whole records, then zeros). A
//! write that fails is cut back (`set_len`) to where the record began.
//!
//! The journal alternates between two files, `hookbot.journal` and `hookbot.journal-2` ([`Files`]):
//! the appends go to the active one; a fold's commit, under the core's lock, switches them to the
//! other (empty: emptied after the fold before, or now), and the writer empties the folded file
//! outside the lock (when nothing waits for it, at the latest before its next commit), so that the
//! appends do not wait for it. Emptying overwrites the records with zeros, from the last back to
//! the first, and keeps the file's length: the next appends to the file write over pages the
//! operating system holds already, rather than have it find, zero and account for a new page every
//! few records and free them all again at a truncation (a file a burst made longer than
//! [`SPARE_BYTES`] is truncated instead). Every record of the file not active is at or below the
//! database's mark, and older than the active file's: a crash before or during the emptying leaves
//! records the next open skips as folded (ahead of the zeros written so far), and an emptying that
//! fails is tried again by the next switch, which does not switch while it fails (the appends go on
//! after the folded records, skipped alike). The fold does not read the file: the notifications it
//! writes are kept in memory until then (see `batches`); the records are read at open only. (A
//! hookbot from before the second file reads only the first: a directory a killed process left with
//! records in both is opened by this version once, which folds them, before an older one may take
//! it. One from before the zeroed files reads an emptied file's zeros as damage: it logs an error
//! and cuts them, losing nothing.)
//!
//! At open both files are read, each up to its first record that is torn or damaged, which is cut
//! off with everything after it in that file (zeros after the whole records are the file's emptied
//! tail: nothing is cut). A record cut short at the end of a file, or followed by zeros only, was
//! never answered (the process died inside its `write`), or is a folded record an emptying had
//! begun to overwrite. A record failing its hash with bytes other than zeros after it is damage a
//! crash of the operating system or a power loss left (pages of the file written back out of
//! order), which [`Durability::Process`] may lose: as SQLite does with its write-ahead log, the
//! journal ends there — the records before it are kept, it and what follows are cut off and
//! reported (an error in the log naming the file and the bytes lost) — rather than refuse to start
//! a bot after a power cut. The journal is the older file's records, then the newer's — the older
//! being the one whose first record has the lower id (a file with no whole record counts as the
//! older) — so "what follows" a cut in the older file is the newer file too: its records are
//! dropped and reported, unless the newer file begins at most one past the database's mark (then
//! every record the older file held, the lost ones included, is in the database already). Whole
//! records whose ids go back (each append takes the next id) end the journal likewise, at replay,
//! whichever file holds them.
//!
//! [`Durability::Process`]: super::Durability::Process

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
#[cfg(test)]
use std::sync::atomic::AtomicU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use xxhash_rust::xxh3::xxh3_64;

use super::StoreError;
use super::claims::Key;
use super::entries::Seq;

/// Bytes before a record's payload: its length and its hash.
const HEADER: usize = 4 + 8;
/// A folded file whose records are longer than this is truncated rather than overwritten with
/// zeros.
const SPARE_BYTES: usize = 16 << 20;
/// Zeros an emptying writes at once.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// The journal, open for appending (under the core's lock).
#[derive(Debug)]
pub(super) struct Journal {
    files: Arc<Files>,
    /// A failed write could not be cut back: the next append cuts it first.
    torn: bool,
    /// The next write fails, as a full disk would make it (tests only).
    #[cfg(test)]
    pub(super) fail_next: bool,
    /// How many of the next cuts back fail (tests only).
    #[cfg(test)]
    failing_cuts: u32,
}

/// The journal's two files, shared by the appends (under the core's lock) and the writer
/// thread, which empties the folded one outside the lock. Only the writer switches the files
/// (under the lock) and empties one.
#[derive(Debug)]
pub(super) struct Files {
    sides: [Side; 2],
    /// Which of `sides` the appends go to.
    active: AtomicUsize,
    /// How many of the next emptyings fail (tests only).
    #[cfg(test)]
    failing_empties: AtomicU32,
}

/// One of the journal's files.
#[derive(Debug)]
struct Side {
    file: File,
    path: PathBuf,
    /// The file's whole records' length: where the next record begins (zeros, or the file's
    /// end, follow). Stored once a record is written.
    len: AtomicU64,
}

/// A journal's file as the open found it: its bytes, and how many of them are whole records.
struct Found {
    file: File,
    path: PathBuf,
    bytes: Vec<u8>,
    whole: usize,
}

impl Found {
    /// Opens (or creates) the file at `path` and reads it.
    fn read(path: &Path) -> Result<Self, StoreError> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|error| not_writable(path, &error))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|error| not_writable(path, &error))?;
        let whole = whole_records(&bytes);
        Ok(Self {
            file,
            path: path.to_owned(),
            bytes,
            whole,
        })
    }

    /// The id of the file's first whole record, `None` when it has none (or it does not read
    /// as an entry, which replay refuses).
    fn first_id(&self) -> Option<i64> {
        let payload = record_at(&self.bytes[..self.whole], 0)?;
        Entry::decode(payload).map(|entry| entry.id)
    }

    /// Whether bytes other than zeros follow the file's whole records: a record torn or
    /// damaged, which the open cuts off (zeros are an emptied file's tail).
    fn cut_off(&self) -> bool {
        !is_zeros(&self.bytes[self.whole..])
    }

    /// Cuts the file to its first `keep` bytes.
    fn cut(&self, keep: usize) -> Result<(), StoreError> {
        self.file
            .set_len(keep as u64)
            .map_err(|error| not_writable(&self.path, &error))
    }

    /// The file, its whole records kept, as one of the journal's.
    fn into_side(self) -> Side {
        Side {
            file: self.file,
            path: self.path,
            len: AtomicU64::new(self.whole as u64),
        }
    }
}

/// [`StoreError::NotWritable`] for the journal's file at `path`.
fn not_writable(path: &Path, error: &std::io::Error) -> StoreError {
    StoreError::NotWritable {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

impl Journal {
    /// Opens (or creates) the journal's two files at `paths` and reads their records (the
    /// bytes of whole records, to be walked with [`payloads`]), the older file's first (see
    /// the module's doc), each file up to its first record that is torn or damaged, which is
    /// cut off with everything after it. The database's rows go up to `mark`. The appends go
    /// to the file of the newer records (the first when neither has one).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotWritable`] when a file cannot be opened, read or cut.
    pub(super) fn open(paths: [&Path; 2], mark: i64) -> Result<(Self, Vec<u8>), StoreError> {
        let mut found = [Found::read(paths[0])?, Found::read(paths[1])?];
        let newer = usize::from(found[1].first_id() > found[0].first_id());
        let older = 1 - newer;
        for file in &found {
            if file.cut_off() {
                report_cut(&file.path, &file.bytes, file.whole);
                file.cut(file.whole)?;
            }
        }
        let older_cut = found[older].cut_off();
        if older_cut && found[newer].first_id().is_some_and(|id| id > mark + 1) {
            let dropped = payloads(&found[newer].bytes[..found[newer].whole]).count();
            tracing::error!(journal = %found[newer].path.display(), dropped, "the journal ends at the damage in its other file (a crash of the operating system or a power loss); the records after it are lost");
            found[newer].cut(0)?;
            found[newer].whole = 0;
        }
        // The appends go on after the newest records.
        let active = if found[newer].whole == 0 && found[older].whole > 0 {
            older
        } else {
            newer
        };
        let mut records = found[older].bytes[..found[older].whole].to_vec();
        records.extend_from_slice(&found[newer].bytes[..found[newer].whole]);
        let [first, second] = found;
        let files = Files {
            sides: [first.into_side(), second.into_side()],
            active: AtomicUsize::new(active),
            #[cfg(test)]
            failing_empties: AtomicU32::new(0),
        };
        let journal = Self {
            files: Arc::new(files),
            torn: false,
            #[cfg(test)]
            fail_next: false,
            #[cfg(test)]
            failing_cuts: 0,
        };
        Ok((journal, records))
    }

    /// The files, for the writer's emptying outside the lock.
    pub(super) fn files(&self) -> Arc<Files> {
        Arc::clone(&self.files)
    }

    /// Appends one record, its payload what `payload` adds to `record` (emptied first; the
    /// caller's buffer, kept for the next), with one `write` where the whole records end; a
    /// failed write is cut back, leaving the file's records as they were.
    ///
    /// # Errors
    ///
    /// The write's error, or the cut's (then the next append cuts the file first, and fails
    /// as long as it cannot).
    pub(super) fn append(
        &mut self,
        record: &mut Vec<u8>,
        payload: impl FnOnce(&mut Vec<u8>),
    ) -> std::io::Result<()> {
        if self.torn {
            self.cut_back()?;
            self.torn = false;
        }
        record.clear();
        record.resize(HEADER, 0);
        payload(record);
        let (header, written) = record.split_at_mut(HEADER);
        header[..4].copy_from_slice(&(written.len() as u32).to_le_bytes());
        header[4..].copy_from_slice(&xxh3_64(written).to_le_bytes());
        let written = self.write(record);
        match written {
            Ok(()) => {
                let side = self.files.active();
                let len = side.len.load(Ordering::Relaxed) + record.len() as u64;
                side.len.store(len, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                self.torn = true;
                self.cut_back()?;
                self.torn = false;
                Err(error)
            }
        }
    }

    /// Cuts the active file back to its last whole record's end.
    fn cut_back(&mut self) -> std::io::Result<()> {
        #[cfg(test)]
        if self.failing_cuts > 0 {
            self.failing_cuts -= 1;
            return Err(std::io::Error::other("the cut failed (a test's)"));
        }
        let side = self.files.active();
        side.file.set_len(side.len.load(Ordering::Relaxed))
    }

    /// Writes `record` after the active file's whole records.
    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        let side = self.files.active();
        let end = side.len.load(Ordering::Relaxed);
        #[cfg(test)]
        if std::mem::take(&mut self.fail_next) {
            // Half the record reaches the file, as a full disk may leave it.
            write_at(&side.file, &record[..record.len() / 2], end)?;
            return Err(std::io::Error::other(
                "no space left on the device (a test's)",
            ));
        }
        write_at(&side.file, record, end)
    }

    /// The active file's records are in the database (a fold committed them): the appends
    /// switch to the other file, emptied first if it is not yet, and the writer empties this
    /// one outside the lock ([`Files::empty_folded`]). While the other cannot be emptied the
    /// appends stay (after records the next fold and the next open skip).
    pub(super) fn switch(&mut self) {
        if self.is_empty() {
            return;
        }
        let other = 1 - self.files.active.load(Ordering::Relaxed);
        if self.files.empty(other).is_err() {
            return;
        }
        self.files.active.store(other, Ordering::Relaxed);
        // A torn tail the cut could not take is the folded file's, emptied with it.
        self.torn = false;
    }

    /// Whether the active file holds records.
    pub(super) fn is_empty(&self) -> bool {
        self.files.active().len.load(Ordering::Relaxed) == 0
    }

    /// The active file.
    pub(super) fn path(&self) -> &Path {
        &self.files.active().path
    }
}

impl Files {
    fn active(&self) -> &Side {
        &self.sides[self.active.load(Ordering::Relaxed)]
    }

    /// Empties the file the appends switched away from, whose records are in the database
    /// (nothing when it is empty): the writer's, outside the core's lock. A failure is
    /// logged: its records stay, skipped by the next open, and the next switch empties it
    /// first.
    pub(super) fn empty_folded(&self) {
        let folded = 1 - self.active.load(Ordering::Relaxed);
        // The error is logged by `empty`; the next switch tries again.
        let _ = self.empty(folded);
    }

    /// Empties file `side`, unless it is empty already.
    fn empty(&self, side: usize) -> std::io::Result<()> {
        let side = &self.sides[side];
        let len = side.len.load(Ordering::Relaxed);
        if len == 0 {
            return Ok(());
        }
        let emptied = self.clear(&side.file, len);
        match &emptied {
            Ok(()) => side.len.store(0, Ordering::Relaxed),
            Err(error) => {
                // Its records are skipped at the next open: the database holds them.
                tracing::warn!(journal = %side.path.display(), %error, "the store's journal was folded but could not be emptied");
            }
        }
        emptied
    }

    /// Clears a file whose records take its first `len` bytes: cuts what follows them (a
    /// torn tail a failed cut left) and overwrites them with zeros from the last back, so that
    /// a crash meanwhile leaves whole records ahead of the zeros; a file of more than
    /// [`SPARE_BYTES`] of records is truncated instead, its room given back.
    fn clear(&self, file: &File, len: u64) -> std::io::Result<()> {
        #[cfg(test)]
        if self
            .failing_empties
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
        {
            return Err(std::io::Error::other("the emptying failed (a test's)"));
        }
        if len > SPARE_BYTES as u64 {
            return file.set_len(0);
        }
        if file.metadata()?.len() > len {
            file.set_len(len)?;
        }
        let mut end = len;
        while end > 0 {
            let start = end.saturating_sub(ZEROS.len() as u64);
            write_at(file, &ZEROS[..(end - start) as usize], start)?;
            end = start;
        }
        Ok(())
    }

    /// The next `times` emptyings fail (tests only).
    #[cfg(test)]
    pub(super) fn fail_emptying(&self, times: u32) {
        self.failing_empties.store(times, Ordering::Relaxed);
    }
}

/// Writes `buffer` to `file` at `offset`, without moving the file's position.
#[cfg(unix)]
fn write_at(file: &File, buffer: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buffer, offset)
}

/// Writes `buffer` to `file` at `offset` (nothing uses the file's position).
#[cfg(windows)]
fn write_at(file: &File, mut buffer: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buffer.is_empty() {
        match file.seek_write(buffer, offset)? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            written => {
                buffer = &buffer[written..];
                offset += written as u64;
            }
        }
    }
    Ok(())
}

/// Whether `bytes` are all zeros.
fn is_zeros(bytes: &[u8]) -> bool {
    bytes.iter().all(|&byte| byte == 0)
}

/// What a record says: an append (its row's id, its claim and the claim's expiry, the row's
/// blob) and the notifications handled since the last record (their markers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry<'a> {
    pub(super) id: i64,
    pub(super) claim: Option<Key>,
    pub(super) expires: i64,
    pub(super) handled: Vec<Seq>,
    pub(super) blob: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The payload: `[id i64][expires i64][0 | 1 and the key's 16 bytes][count u32][seqs i64…]
    /// [blob]`, little-endian, added to `payload`. The blob is last: an entry with an empty
    /// one, followed by a [`Record`](super::batches::Record) encoded in place, is the same.
    pub(super) fn encode(&self, payload: &mut Vec<u8>) {
        payload.extend_from_slice(&self.id.to_le_bytes());
        payload.extend_from_slice(&self.expires.to_le_bytes());
        match &self.claim {
            Some(key) => {
                payload.push(1);
                payload.extend_from_slice(key);
            }
            None => payload.push(0),
        }
        payload.extend_from_slice(&(self.handled.len() as u32).to_le_bytes());
        for seq in &self.handled {
            payload.extend_from_slice(&seq.0.to_le_bytes());
        }
        payload.extend_from_slice(self.blob);
    }

    /// The entry of `payload`, or `None` when it does not read as one.
    pub(super) fn decode(payload: &'a [u8]) -> Option<Self> {
        let (id, rest) = take_i64(payload)?;
        let (expires, rest) = take_i64(rest)?;
        let (claim, rest) = match rest.split_first()? {
            (0, rest) => (None, rest),
            (1, rest) => (Some(Key::try_from(rest.get(..16)?).ok()?), &rest[16..]),
            _ => return None,
        };
        let count = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        let mut rest = &rest[4..];
        let mut handled = Vec::with_capacity((count as usize).min(rest.len() / 8));
        for _ in 0..count {
            let (seq, after) = take_i64(rest)?;
            handled.push(Seq(seq));
            rest = after;
        }
        Some(Self {
            id,
            claim,
            expires,
            handled,
            blob: rest,
        })
    }
}

/// The payloads of the records of `bytes`, as the open read them (whole records, whose hashes
/// it checked), up to one that does not fit.
pub(super) fn payloads(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let payload = rest.get(HEADER..HEADER.checked_add(len)?)?;
        rest = &rest[HEADER + len..];
        Some(payload)
    })
}

/// A little-endian `i64` at the start of `bytes`, and what follows it.
fn take_i64(bytes: &[u8]) -> Option<(i64, &[u8])> {
    Some((
        i64::from_le_bytes(bytes.get(..8)?.try_into().ok()?),
        &bytes[8..],
    ))
}

/// How many bytes the good records at the start of `bytes` take, up to the first torn or
/// damaged one.
fn whole_records(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(payload) = record_at(bytes, at) {
        at += HEADER + payload.len();
    }
    at
}

/// Reports the bytes of `bytes` from `whole` on, about to be cut off: a last record cut short
/// (the process died in its `write`, so it was never answered) or damage (answered records may
/// be lost).
fn report_cut(path: &Path, bytes: &[u8], whole: usize) {
    let cut = bytes.len() - whole;
    if torn_at(bytes, whole) {
        tracing::warn!(journal = %path.display(), cut, "the journal's last record was cut short by a crash (never answered); it is dropped");
    } else {
        tracing::error!(journal = %path.display(), at = whole, cut, "the journal is damaged (a crash of the operating system or a power loss); the records from the damage on are lost");
    }
}

/// Whether the record at `at` is cut short: its header, or the payload it announces, runs
/// past the end of `bytes`, or zeros only follow it (a write stopped part-way over the zeros of
/// an emptied file).
fn torn_at(bytes: &[u8], at: usize) -> bool {
    let Some(header) = bytes.get(at..at + HEADER) else {
        return true;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    (at + HEADER)
        .checked_add(len)
        .and_then(|end| bytes.get(end..))
        .is_none_or(|after| !after.is_empty() && is_zeros(after))
}

/// The payload of a whole record at `at`, if one is there and its hash matches.
fn record_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let hash = u64::from_le_bytes(header[4..].try_into().ok()?);
    let start = at + HEADER;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    (xxh3_64(payload) == hash).then_some(payload)
}

/// The bytes of records the journal's file at `path` holds: its bytes up to the zeros of its
/// emptied tail (none when there is no file).
#[cfg(test)]
pub(super) fn record_bytes(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |bytes| {
        bytes
            .iter()
            .rposition(|&byte| byte != 0)
            .map_or(0, |last| last + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::directory::JOURNAL_FILES;

    /// The journal's two files in `dir`.
    fn paths(dir: &Path) -> [PathBuf; 2] {
        JOURNAL_FILES.map(|file| dir.join(file))
    }

    /// Opens the journal in `dir`, the database's rows up to `mark`: it, and its records'
    /// payloads in the order replay sees them.
    fn open(dir: &Path, mark: i64) -> (Journal, Vec<Vec<u8>>) {
        let [first, second] = paths(dir);
        let (journal, bytes) = Journal::open([&first, &second], mark).expect("the journal opens");
        let records = super::payloads(&bytes).map(<[u8]>::to_vec).collect();
        (journal, records)
    }

    /// Appends a record of `payload` to `journal`.
    fn append(journal: &mut Journal, payload: &[u8]) -> std::io::Result<()> {
        journal.append(&mut Vec::new(), |record| record.extend_from_slice(payload))
    }

    /// The payload of an entry of id `id`, its blob a text of some length.
    fn entry(id: i64) -> Vec<u8> {
        let text = format!("record {id} {}", "x".repeat(id as usize * 7));
        let mut payload = Vec::new();
        Entry {
            id,
            claim: None,
            expires: 0,
            handled: Vec::new(),
            blob: text.as_bytes(),
        }
        .encode(&mut payload);
        payload
    }

    /// The payloads of entries `ids`.
    fn entries(ids: std::ops::RangeInclusive<i64>) -> Vec<Vec<u8>> {
        ids.map(entry).collect()
    }

    /// The bytes of `records` as the journal writes them.
    fn file_of(records: &[Vec<u8>]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, none) = open(dir.path(), 0);
        assert!(none.is_empty());
        for payload in records {
            append(&mut journal, payload).unwrap();
        }
        std::fs::read(journal.path()).unwrap()
    }

    /// Writes the journal's two files in `dir`.
    fn write_files(dir: &Path, first: &[u8], second: &[u8]) {
        let [first_path, second_path] = paths(dir);
        std::fs::write(first_path, first).unwrap();
        std::fs::write(second_path, second).unwrap();
    }

    /// The bytes of records each of the journal's files in `dir` holds.
    fn lengths(dir: &Path) -> [usize; 2] {
        paths(dir).map(|path| record_bytes(&path))
    }

    /// Each of the journal's files' length in `dir`.
    fn sizes(dir: &Path) -> [usize; 2] {
        paths(dir).map(|path| std::fs::metadata(path).map_or(0, |file| file.len() as usize))
    }

    #[test]
    fn a_journal_cut_at_every_byte_of_its_last_record_opens_with_the_records_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let records = entries(1..=4);
        let bytes = file_of(&records);
        let last = HEADER + records[3].len();
        for (with, other) in [(0, 1), (1, 0)] {
            for cut in bytes.len() - last..bytes.len() {
                let mut files = [Vec::new(), Vec::new()];
                files[with] = bytes[..cut].to_vec();
                write_files(dir.path(), &files[0], &files[1]);
                let (mut journal, read) = open(dir.path(), 0);
                assert_eq!(read, records[..3], "cut at {cut} in file {with}");
                assert_eq!(
                    lengths(dir.path())[with],
                    bytes.len() - last,
                    "the torn record is cut off"
                );
                assert_eq!(
                    journal.path(),
                    paths(dir.path())[with],
                    "appends go on there"
                );
                append(&mut journal, &entry(4)).unwrap();
                drop(journal);
                assert_eq!(lengths(dir.path())[other], 0);
                let (_, read) = open(dir.path(), 0);
                assert_eq!(read, records, "a record after the cut reads");
            }
        }
    }

    #[test]
    fn zeros_after_the_records_are_an_emptied_files_tail_and_nothing_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let records = entries(1..=2);
        let bytes = [file_of(&records), vec![0; 300]].concat();
        write_files(dir.path(), &bytes, &[]);
        let (mut journal, read) = open(dir.path(), 0);
        assert_eq!(read, records);
        assert_eq!(sizes(dir.path())[0], bytes.len(), "nothing cut");
        append(&mut journal, &entry(3)).unwrap();
        drop(journal);
        assert_eq!(
            open(dir.path(), 0).1,
            entries(1..=3),
            "written over the zeros"
        );
        assert_eq!(sizes(dir.path())[0], bytes.len());
    }

    #[test]
    fn a_record_cut_short_over_an_emptied_files_zeros_is_torn_and_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let records = entries(1..=3);
        let whole = file_of(&records);
        let kept = whole.len() - HEADER - records[2].len();
        // The last record's write stopped part-way, over zeros the file held.
        for written in [2, HEADER, HEADER + 5, whole.len() - kept - 1] {
            let mut bytes = whole[..kept + written].to_vec();
            bytes.resize(whole.len() + 100, 0);
            assert!(torn_at(&bytes, kept), "cut short after {written} bytes");
            write_files(dir.path(), &bytes, &[]);
            let (_, read) = open(dir.path(), 0);
            assert_eq!(read, records[..2]);
            assert_eq!(sizes(dir.path())[0], kept, "the torn record is cut off");
        }
        // Bytes other than zeros after a record failing its hash are damage, not a tear.
        let mut damaged = whole.clone();
        damaged[kept + HEADER + 2] ^= 0xff;
        damaged.extend_from_slice(&[0, 7, 0]);
        assert!(!torn_at(&damaged, kept));
    }

    #[test]
    fn an_emptying_a_crash_stopped_leaves_whole_folded_records_ahead_of_its_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let records = entries(1..=3);
        let mut bytes = file_of(&records);
        // Zeroed from the end back to the middle of the second record.
        let second = HEADER + records[0].len();
        let zeroed_from = second + HEADER + 3;
        bytes[zeroed_from..].fill(0);
        write_files(dir.path(), &[], &bytes);
        let (_, read) = open(dir.path(), 3);
        assert_eq!(read, records[..1], "replay skips it as folded");
        assert_eq!(sizes(dir.path())[1], second);
    }

    #[test]
    fn a_folded_file_a_burst_made_longer_than_the_spare_bytes_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = open(dir.path(), 0);
        let files = journal.files();
        let large = vec![b'x'; 1 << 20];
        while lengths(dir.path())[0] <= SPARE_BYTES {
            append(&mut journal, &large).unwrap();
        }
        journal.switch();
        files.empty_folded();
        assert_eq!(sizes(dir.path())[0], 0, "its room given back");
        append(&mut journal, &entry(1)).unwrap();
        journal.switch();
        assert_eq!(journal.path(), paths(dir.path())[0]);
    }

    #[test]
    fn a_damaged_record_ends_the_journal_there_and_the_records_before_it_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = &paths(dir.path())[0];
        let records = entries(1..=3);
        let mut bytes = file_of(&records);
        // A byte of the second record's payload changed, as a power loss may leave a page.
        let second = HEADER + records[0].len();
        assert!(!torn_at(&bytes, second), "whole, but damaged");
        bytes[second + HEADER + 2] ^= 0xff;
        std::fs::write(path, &bytes).unwrap();
        let (mut journal, read) = open(dir.path(), 0);
        assert_eq!(read, records[..1]);
        assert_eq!(
            std::fs::metadata(path).unwrap().len() as usize,
            second,
            "the damaged record and those after it are cut off"
        );
        append(&mut journal, &entry(2)).unwrap();
        drop(journal);
        let (_, read) = open(dir.path(), 0);
        assert_eq!(read, [records[0].clone(), entry(2)]);
        // Damage in the last record ends the journal before it too.
        let mut bytes = file_of(&records);
        let third = bytes.len() - records[2].len();
        bytes[third] ^= 0xff;
        std::fs::write(path, &bytes).unwrap();
        assert_eq!(open(dir.path(), 0).1, records[..2]);
    }

    #[test]
    fn the_older_files_records_come_first_whichever_file_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let (older, newer) = (entries(1..=3), entries(4..=5));
        for (first, second, newer_side) in [(&older, &newer, 1), (&newer, &older, 0)] {
            write_files(dir.path(), &file_of(first), &file_of(second));
            let (mut journal, read) = open(dir.path(), 0);
            assert_eq!(read, entries(1..=5), "in id order, not the files' order");
            assert_eq!(
                journal.path(),
                paths(dir.path())[newer_side],
                "the appends go on after the newest records"
            );
            append(&mut journal, &entry(6)).unwrap();
            drop(journal);
            assert_eq!(open(dir.path(), 0).1, entries(1..=6));
        }
    }

    #[test]
    fn damage_in_the_older_file_ends_the_journal_there_unless_the_newer_begins_past_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        let older = entries(1..=3);
        let mut damaged = file_of(&older);
        let second = HEADER + older[0].len();
        damaged[second + HEADER + 2] ^= 0xff;
        let newer = file_of(&entries(4..=5));
        // The database's rows end before the lost records: the newer file's are lost too.
        write_files(dir.path(), &newer, &damaged);
        let (mut journal, read) = open(dir.path(), 0);
        assert_eq!(read, entries(1..=1), "the journal ends at the damage");
        assert_eq!(lengths(dir.path()), [0, second], "both files cut there");
        assert_eq!(
            journal.path(),
            paths(dir.path())[1],
            "appends go after record 1"
        );
        append(&mut journal, &entry(2)).unwrap();
        drop(journal);
        assert_eq!(open(dir.path(), 0).1, entries(1..=2));
        // The database holds rows up to 3: what the damage took was folded; 4 and 5 are kept.
        write_files(dir.path(), &newer, &damaged);
        let (_, read) = open(dir.path(), 3);
        assert_eq!(read, [entry(1), entry(4), entry(5)]);
        assert_eq!(lengths(dir.path()), [newer.len(), second]);
        // A torn tail in the older file is a cut like damage: past the mark, it ends there.
        let torn = &file_of(&older)[..damaged.len() - 1];
        write_files(dir.path(), torn, &newer);
        assert_eq!(open(dir.path(), 0).1, entries(1..=2));
        write_files(dir.path(), torn, &newer);
        assert_eq!(
            open(dir.path(), 3).1,
            [entry(1), entry(2), entry(4), entry(5)]
        );
        // Damage in the newer file ends it there, the older file's records all kept.
        let mut newer_damaged = newer.clone();
        newer_damaged[newer.len() - 1] ^= 0xff;
        write_files(dir.path(), &file_of(&older), &newer_damaged);
        assert_eq!(open(dir.path(), 0).1, entries(1..=4));
    }

    #[test]
    fn a_fold_switches_the_appends_to_the_other_file_and_the_folded_one_is_emptied_after() {
        let dir = tempfile::tempdir().unwrap();
        let [first, second] = paths(dir.path());
        let (mut journal, _) = open(dir.path(), 0);
        let files = journal.files();
        append(&mut journal, &entry(1)).unwrap();
        append(&mut journal, &entry(2)).unwrap();
        let folded = file_of(&entries(1..=2)).len();
        journal.switch();
        assert_eq!(journal.path(), second);
        assert_eq!(lengths(dir.path())[0], folded, "not emptied under the lock");
        append(&mut journal, &entry(3)).unwrap();
        files.empty_folded();
        assert_eq!(lengths(dir.path())[0], 0, "emptied after it");
        assert_eq!(sizes(dir.path())[0], folded, "zeros, its pages kept");
        assert_eq!(
            std::fs::read(&second).unwrap(),
            file_of(&entries(3..=3)),
            "the other file from its start"
        );
        journal.switch();
        assert_eq!(journal.path(), first, "back to the first, emptied");
        // Written over the zeros from the file's start; the zeros after it are no record.
        append(&mut journal, &entry(4)).unwrap();
        assert_eq!(
            &std::fs::read(&first).unwrap()[..file_of(&entries(4..=4)).len()],
            file_of(&entries(4..=4))
        );
        assert_eq!(sizes(dir.path())[0], folded);
        files.empty_folded();
        drop(journal);
        drop(files);
        assert_eq!(open(dir.path(), 3).1, entries(4..=4));
        assert_eq!(sizes(dir.path())[0], folded, "nothing cut at the open");
    }

    #[test]
    fn a_failed_emptying_keeps_the_appends_in_their_file_until_the_other_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let [first, second] = paths(dir.path());
        let (mut journal, _) = open(dir.path(), 0);
        let files = journal.files();
        append(&mut journal, &entry(1)).unwrap();
        journal.switch();
        files.fail_emptying(2);
        files.empty_folded();
        append(&mut journal, &entry(2)).unwrap();
        assert_eq!(std::fs::read(&first).unwrap(), file_of(&entries(1..=1)));
        // The next switch cannot empty the first file either: the appends stay in the second.
        journal.switch();
        assert_eq!(journal.path(), second);
        append(&mut journal, &entry(3)).unwrap();
        assert_eq!(std::fs::read(&second).unwrap(), file_of(&entries(2..=3)));
        // Reopened meanwhile, folded up to 2: record 3 only, after the skipped ones.
        {
            let image = tempfile::tempdir().unwrap();
            let [image_first, image_second] = paths(image.path());
            std::fs::copy(&first, image_first).unwrap();
            std::fs::copy(&second, image_second).unwrap();
            let (_, read) = open(image.path(), 2);
            assert_eq!(read, entries(1..=3), "replay skips 1 and 2 as folded");
        }
        // The emptying works again: the switch empties the first file before it goes there.
        journal.switch();
        assert_eq!(journal.path(), first);
        assert_eq!(lengths(dir.path())[0], 0);
        append(&mut journal, &entry(4)).unwrap();
        files.empty_folded();
        assert_eq!(lengths(dir.path()), [file_of(&entries(4..=4)).len(), 0]);
    }

    #[test]
    fn a_failed_write_that_could_not_be_cut_back_is_cut_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = &paths(dir.path())[0];
        let records = entries(1..=2);
        let before = file_of(&records);
        std::fs::write(path, &before).unwrap();
        let (mut journal, _) = open(dir.path(), 0);
        journal.fail_next = true;
        journal.failing_cuts = 2;
        let refused = |journal: &mut Journal| append(journal, b"refused").expect_err("refused");
        refused(&mut journal);
        let torn = std::fs::read(path).unwrap();
        assert!(torn.len() > before.len(), "half the record stays");
        // The next append must cut first; while it cannot, it writes nothing.
        refused(&mut journal);
        assert_eq!(std::fs::read(path).unwrap(), torn);
        append(&mut journal, &entry(3)).unwrap();
        drop(journal);
        let (_, read) = open(dir.path(), 0);
        assert_eq!(read, entries(1..=3));
    }

    #[test]
    fn a_failed_append_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = &paths(dir.path())[0];
        let records = entries(1..=2);
        let before = file_of(&records);
        std::fs::write(path, &before).unwrap();
        let (mut journal, _) = open(dir.path(), 0);
        journal.fail_next = true;
        append(&mut journal, b"refused").expect_err("the write fails");
        assert_eq!(std::fs::read(path).unwrap(), before);
        append(&mut journal, &entry(3)).unwrap();
        drop(journal);
        let (mut journal, read) = open(dir.path(), 0);
        assert_eq!(read, entries(1..=3));
        let files = journal.files();
        journal.switch();
        files.empty_folded();
        assert!(journal.is_empty());
        drop((journal, files));
        assert!(open(dir.path(), 3).1.is_empty());
    }
}
