//! The intake's journal: the appends of a store that does not fsync ([`Durability::Process`]),
//! each written as one record with one `write` on the request's own task, and folded into the
//! database by the writer thread's next commit (see [`Core`](super::writer::Core)), after which
//! the file is emptied.
//!
//! A record is `[length u32][xxh3 u64][payload]` (little-endian), the hash over the payload. A
//! write that fails is cut back (`set_len`) to where the record began, so that the file holds
//! whole records only. At open, a record cut short at the end of the file was never answered
//! (the process died inside its `write`): it is cut off. A record failing its hash with more
//! bytes after it than it claims is damage a crash of the operating system or a power loss
//! left (pages of the file written back out of order), which [`Durability::Process`] may lose:
//! as SQLite does with its write-ahead log, the journal ends there — the records before it
//! are kept, it and what follows are cut off and reported (an error in the log naming the
//! file and the bytes lost) — rather than refuse to start a bot after a power cut. Whole
//! records whose ids go back (each append takes the next id) end it likewise, at replay.
//!
//! Memory keeps only each unfolded notification's size: the fold reads the rows' blobs back
//! from the file ([`Journal::read_all`], [`payloads`]).
//!
//! [`Durability::Process`]: super::Durability::Process

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::xxh3_64;

use super::StoreError;
use super::claims::Key;
use super::entries::Seq;

/// Bytes before a record's payload: its length and its hash.
const HEADER: usize = 4 + 8;

/// The journal file, open for appending.
#[derive(Debug)]
pub(super) struct Journal {
    file: File,
    path: PathBuf,
    /// The file's length: where the next record begins.
    len: u64,
    /// A failed write could not be cut back: the next append cuts it first.
    torn: bool,
    /// The next write fails, as a full disk would make it (tests only).
    #[cfg(test)]
    pub(super) fail_next: bool,
    /// How many of the next cuts back fail (tests only).
    #[cfg(test)]
    failing_cuts: u32,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads its records' payloads, in order, up
    /// to the first that is torn or damaged, which is cut off with everything after it.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotWritable`] when the file cannot be opened, read or cut.
    pub(super) fn open(path: &Path) -> Result<(Self, Vec<Vec<u8>>), StoreError> {
        let failed = |error: std::io::Error| StoreError::NotWritable {
            path: path.to_owned(),
            reason: error.to_string(),
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(path)
            .map_err(failed)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(failed)?;
        let (records, whole) = read_records(&bytes);
        if whole < bytes.len() {
            report_cut(path, &bytes, whole);
            file.set_len(whole as u64).map_err(failed)?;
        }
        let journal = Self {
            file,
            path: path.to_owned(),
            len: whole as u64,
            torn: false,
            #[cfg(test)]
            fail_next: false,
            #[cfg(test)]
            failing_cuts: 0,
        };
        Ok((journal, records))
    }

    /// Appends one record, its payload what `payload` adds to `record` (emptied first; the
    /// caller's buffer, kept for the next), with one `write`; a failed write is cut back,
    /// leaving the file as it was.
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
                self.len += record.len() as u64;
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

    /// Cuts the file back to its last whole record's end.
    fn cut_back(&mut self) -> std::io::Result<()> {
        #[cfg(test)]
        if self.failing_cuts > 0 {
            self.failing_cuts -= 1;
            return Err(std::io::Error::other("the cut failed (a test's)"));
        }
        self.file.set_len(self.len)
    }

    fn write(&mut self, record: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_next) {
            // Half the record reaches the file, as a full disk may leave it.
            self.file.write_all(&record[..record.len() / 2])?;
            return Err(std::io::Error::other(
                "no space left on the device (a test's)",
            ));
        }
        self.file.write_all(record)
    }

    /// Empties the file: its records are in the database.
    ///
    /// # Errors
    ///
    /// The truncation's error; the records stay, and the next open skips them as folded.
    pub(super) fn empty(&mut self) -> std::io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        self.file.set_len(0)?;
        self.len = 0;
        Ok(())
    }

    /// Reads the file's records (written by this journal since it was last emptied, all
    /// whole) into `bytes`, to be walked with [`payloads`].
    ///
    /// # Errors
    ///
    /// The read's error.
    pub(super) fn read_all(&self, bytes: &mut Vec<u8>) -> std::io::Result<()> {
        bytes.clear();
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        let read = file.take(self.len).read_to_end(bytes)?;
        if (read as u64) < self.len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// Whether the file holds records.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
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

/// The payloads of the records of `bytes`, as [`Journal::read_all`] read them (whole records,
/// which this process wrote: their hashes are not checked again), up to one that does not fit.
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

/// The payloads of the good records at the start of `bytes`, up to the first torn or damaged
/// one, and how many bytes they take.
fn read_records(bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(payload) = record_at(bytes, at) {
        records.push(payload.to_vec());
        at += HEADER + payload.len();
    }
    (records, at)
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
/// past the end of `bytes`.
fn torn_at(bytes: &[u8], at: usize) -> bool {
    match bytes.get(at..at + HEADER) {
        Some(header) => {
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            at + HEADER + len > bytes.len()
        }
        None => true,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends a record of `payload` to `journal`.
    fn append(journal: &mut Journal, payload: &[u8]) -> std::io::Result<()> {
        journal.append(&mut Vec::new(), |record| record.extend_from_slice(payload))
    }

    fn payloads(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("record {i} {}", "x".repeat(i * 7)).into_bytes())
            .collect()
    }

    fn written(path: &Path, records: &[Vec<u8>]) -> Vec<u8> {
        let (mut journal, none) = Journal::open(path).unwrap();
        assert!(none.is_empty());
        let mut buffer = Vec::new();
        for payload in records {
            journal
                .append(&mut buffer, |record| record.extend_from_slice(payload))
                .unwrap();
        }
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_journal_cut_at_every_byte_of_its_last_record_opens_with_the_records_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookbot.journal");
        let records = payloads(4);
        let bytes = written(&path, &records);
        let last = HEADER + records[3].len();
        for cut in bytes.len() - last..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let (mut journal, read) = Journal::open(&path).unwrap();
            assert_eq!(read, records[..3], "cut at {cut}");
            assert_eq!(
                std::fs::metadata(&path).unwrap().len() as usize,
                bytes.len() - last,
                "the torn record is cut off"
            );
            append(&mut journal, b"next").unwrap();
            drop(journal);
            let (_, read) = Journal::open(&path).unwrap();
            assert_eq!(read.len(), 4, "a record after the cut reads");
            assert_eq!(read[3], b"next");
        }
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Journal::open(&path).unwrap().1, records);
    }

    #[test]
    fn a_damaged_record_ends_the_journal_there_and_the_records_before_it_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookbot.journal");
        let records = payloads(3);
        let mut bytes = written(&path, &records);
        // A byte of the second record's payload changed, as a power loss may leave a page.
        let second = HEADER + records[0].len();
        assert!(!torn_at(&bytes, second), "whole, but damaged");
        bytes[second + HEADER + 2] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (mut journal, read) = Journal::open(&path).expect("a damaged journal opens");
        assert_eq!(read, records[..1]);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() as usize,
            second,
            "the damaged record and those after it are cut off"
        );
        append(&mut journal, b"next").unwrap();
        drop(journal);
        let (_, read) = Journal::open(&path).unwrap();
        assert_eq!(read, [records[0].clone(), b"next".to_vec()]);
        // Damage in the last record ends the journal before it too.
        let mut bytes = written(&dir.path().join("other.journal"), &records);
        let third = bytes.len() - records[2].len();
        bytes[third] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Journal::open(&path).unwrap().1, records[..2]);
    }

    #[test]
    fn a_failed_write_that_could_not_be_cut_back_is_cut_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookbot.journal");
        let records = payloads(2);
        let before = written(&path, &records);
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.fail_next = true;
        journal.failing_cuts = 2;
        let refused = |journal: &mut Journal| append(journal, b"refused").expect_err("refused");
        refused(&mut journal);
        let torn = std::fs::read(&path).unwrap();
        assert!(torn.len() > before.len(), "half the record stays");
        // The next append must cut first; while it cannot, it writes nothing.
        refused(&mut journal);
        assert_eq!(std::fs::read(&path).unwrap(), torn);
        append(&mut journal, b"next").unwrap();
        drop(journal);
        let (_, read) = Journal::open(&path).unwrap();
        assert_eq!(
            read,
            [records[0].clone(), records[1].clone(), b"next".to_vec()]
        );
    }

    #[test]
    fn a_failed_append_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookbot.journal");
        let records = payloads(2);
        let before = written(&path, &records);
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.fail_next = true;
        append(&mut journal, b"refused").expect_err("the write fails");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        append(&mut journal, b"next").unwrap();
        drop(journal);
        let (mut journal, read) = Journal::open(&path).unwrap();
        assert_eq!(
            read,
            [records[0].clone(), records[1].clone(), b"next".to_vec()]
        );
        journal.empty().unwrap();
        assert!(journal.is_empty());
        drop(journal);
        assert!(Journal::open(&path).unwrap().1.is_empty());
    }
}
