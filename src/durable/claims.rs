//! Duplicate claims: rows of the `claims` table in the order they were made, each holding the
//! keys one batch claimed (packed, 16 bytes each) and their common expiry, found by key in an
//! index the writer keeps in memory (read from the table when the store opens).
//!
//! A claim's key is a hash, so a table ordered by it takes each new claim on a random page:
//! a batch of a hundred appends rewrote about a hundred pages of claims, four fifths of what
//! it wrote to the log. A row per batch, in the order they were made, fills the table's last
//! page instead with one statement, and the index in memory answers "is this a duplicate?"
//! without reading the file. A key claimed again after its claim expired lives in its new row
//! (the index points there, so purging the old row leaves it); a released key is cut out of its
//! row. It costs about 40 bytes of memory per claim kept ([`MAX_CLAIMS`](super::MAX_CLAIMS) at
//! most).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::Millis;
use super::writer::PURGE_CHUNK;
use crate::hashing::FoldHashing;

/// A claim's key: a [`DedupeKey`](crate::dedupe::DedupeKey)'s bytes.
pub(super) type Key = [u8; 16];

/// A claim as kept: its row, and when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Claim {
    id: i64,
    expires: Millis,
}

/// The claims of a store: the table's rows, indexed by key. Only the writer changes them; a
/// batch's changes are undone with [`roll_back`](Claims::roll_back) when it fails.
#[derive(Debug, Default)]
pub(super) struct Claims {
    /// Looked up for every append: hashed with foldhash, keyed per process.
    index: HashMap<Key, Claim, FoldHashing>,
    /// What the running batch changed: each key with its claim before, and whether it was cut
    /// out of the journal's keys in `pending` (to put back).
    undo: Vec<(Key, Option<Claim>, bool)>,
    /// The id of the running batch's row.
    next: i64,
    /// The keys the running batch claimed, for its row, and their expiry.
    pending: Vec<u8>,
    pending_expires: Millis,
    /// The first bytes of `pending` that are the journal's claims, kept when a batch fails.
    kept: usize,
}

impl Claims {
    /// The claims `connection`'s database holds.
    pub(super) fn load(connection: &Connection) -> rusqlite::Result<Self> {
        let mut statement =
            connection.prepare("SELECT id, keys, expires FROM claims ORDER BY id")?;
        let mut rows = statement.query([])?;
        let mut index = HashMap::default();
        let mut last = 0;
        while let Some(row) = rows.next()? {
            let (id, keys, expires): (i64, &[u8], Millis) =
                (row.get(0)?, row.get_ref(1)?.as_blob()?, row.get(2)?);
            // Bytes past the last whole key are no hookbot claim: they match nothing.
            for key in keys.chunks_exact(size_of::<Key>()) {
                let key = Key::try_from(key).expect("a chunk of a key's length");
                index.insert(key, Claim { id, expires });
            }
            last = id;
        }
        Ok(Self {
            index,
            next: last + 1,
            ..Self::default()
        })
    }

    /// How many claims are kept, expired or not.
    pub(super) fn len(&self) -> u64 {
        self.index.len() as u64
    }

    /// When `key`'s claim expires, if there is one (expired or not).
    pub(super) fn expiry(&self, key: &Key) -> Option<Millis> {
        self.index.get(key).map(|claim| claim.expires)
    }

    /// Claims `key` until `expires` (the same for every key of a batch) in the running batch's
    /// row, which [`write`](Claims::write) writes.
    pub(super) fn claim(&mut self, key: Key, expires: Millis) {
        let before = self.index.insert(
            key,
            Claim {
                id: self.next,
                expires,
            },
        );
        self.undo.push((key, before, false));
        self.pending.extend_from_slice(&key);
        self.pending_expires = expires;
    }

    /// The claims made since the last [`commit`](Claims::commit) or `keep` are in the
    /// journal: they stay, in the running row, when a batch fails.
    pub(super) fn keep(&mut self) {
        self.undo.clear();
        self.kept = self.pending.len();
    }

    /// Writes the running batch's row of claims in `tx`, if it claimed any.
    pub(super) fn write(&mut self, tx: &Connection) -> rusqlite::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        tx.prepare_cached("INSERT INTO claims (id, keys, expires) VALUES (?1, ?2, ?3)")?
            .execute(params![self.next, self.pending, self.pending_expires])?;
        Ok(())
    }

    /// Deletes `key`'s claim in `tx`, if there is one: its row is written again without it (or
    /// deleted, when it was the row's last).
    pub(super) fn release(&mut self, tx: &Connection, key: &Key) -> rusqlite::Result<()> {
        let Some(claim) = self.index.get(key).copied() else {
            return Ok(());
        };
        let mut cut_kept = false;
        if claim.id == self.next {
            let at = self
                .pending
                .chunks_exact(size_of::<Key>())
                .position(|other| other == key);
            if let Some(at) = at
                && at * size_of::<Key>() < self.kept
            {
                self.kept -= size_of::<Key>();
                cut_kept = true;
            }
            self.pending = without(&self.pending, key);
        } else {
            let keys: Option<Vec<u8>> = tx
                .prepare_cached("SELECT keys FROM claims WHERE id = ?1")?
                .query_row([claim.id], |row| row.get(0))
                .optional()?;
            let left = without(&keys.unwrap_or_default(), key);
            if left.is_empty() {
                tx.prepare_cached("DELETE FROM claims WHERE id = ?1")?
                    .execute([claim.id])?;
            } else {
                tx.prepare_cached("UPDATE claims SET keys = ?1 WHERE id = ?2")?
                    .execute(params![left, claim.id])?;
            }
        }
        self.undo.push((*key, Some(claim), cut_kept));
        self.index.remove(key);
        Ok(())
    }

    /// The running batch was committed: its changes stay.
    pub(super) fn commit(&mut self) {
        self.undo.clear();
        self.kept = 0;
        if !self.pending.is_empty() {
            self.next += 1;
            self.pending.clear();
        }
    }

    /// The running batch (or a journal's append) failed: its changes are undone, last
    /// first; the journal's claims stay.
    pub(super) fn roll_back(&mut self) {
        self.pending.truncate(self.kept);
        while let Some((key, before, cut_kept)) = self.undo.pop() {
            if cut_kept {
                self.pending.extend_from_slice(&key);
            }
            match before {
                Some(claim) => self.index.insert(key, claim),
                None => self.index.remove(&key),
            };
        }
        self.kept = self.pending.len();
    }

    /// Purges one chunk of rows of claims (each statement committed on its own): expired ones,
    /// and while more than `max_claims` ([`MAX_CLAIMS`](super::MAX_CLAIMS)) are kept, the
    /// oldest. Whether more are left to purge.
    pub(super) fn purge(
        &mut self,
        connection: &Connection,
        now: Millis,
        max_claims: u64,
    ) -> rusqlite::Result<bool> {
        let expired = self.delete(
            connection,
            "DELETE FROM claims WHERE id IN
             (SELECT id FROM claims WHERE expires <= ?1 ORDER BY expires LIMIT ?2)
             RETURNING id, keys",
            params![now, PURGE_CHUNK],
        )?;
        for _ in 0..PURGE_CHUNK {
            if self.len() <= max_claims {
                break;
            }
            self.delete(
                connection,
                "DELETE FROM claims WHERE id IN
                 (SELECT id FROM claims ORDER BY expires LIMIT 1)
                 RETURNING id, keys",
                [],
            )?;
        }
        Ok(expired == PURGE_CHUNK as usize || self.len() > max_claims)
    }

    /// Runs a `DELETE … RETURNING id, keys` and forgets the claims of the rows it deleted
    /// (not a key claimed again since, which lives in a newer row); how many rows.
    fn delete(
        &mut self,
        connection: &Connection,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> rusqlite::Result<usize> {
        let deleted = connection
            .prepare_cached(sql)?
            .query_map(params, |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (id, keys) in &deleted {
            for key in keys.chunks_exact(size_of::<Key>()) {
                let key = Key::try_from(key).expect("a chunk of a key's length");
                if self.index.get(&key).is_some_and(|claim| claim.id == *id) {
                    self.index.remove(&key);
                }
            }
        }
        Ok(deleted.len())
    }
}

/// `keys` (packed) without `key`.
fn without(keys: &[u8], key: &Key) -> Vec<u8> {
    keys.chunks_exact(size_of::<Key>())
        .filter(|other| *other != key)
        .flatten()
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use rusqlite::Transaction;

    use super::*;
    use crate::durable::test_support::{T0, open, peek};
    use crate::durable::{Clock, StoreSettings};

    fn key(n: i64) -> Key {
        (n as u128).to_be_bytes()
    }

    #[test]
    fn expired_claims_are_purged_in_chunks_and_the_oldest_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), StoreSettings::new(), &Clock::manual(T0)));
        let mut connection = peek(dir.path());
        let claims = 2 * PURGE_CHUNK + PURGE_CHUNK / 2;
        let tx = connection.transaction().unwrap();
        for n in 0..claims + 5 {
            let expires = if n < claims { T0 - 1 } else { T0 + n };
            tx.execute(
                "INSERT INTO claims (keys, expires) VALUES (?1, ?2)",
                params![key(n).as_slice(), expires],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let mut index = Claims::load(&connection).unwrap();
        assert_eq!(index.len() as i64, claims + 5);
        assert!(index.purge(&connection, T0, u64::MAX).unwrap());
        assert!(index.purge(&connection, T0, u64::MAX).unwrap());
        assert!(!index.purge(&connection, T0, u64::MAX).unwrap());
        assert_eq!(index.len(), 5);
        assert_eq!(index.expiry(&key(0)), None, "a purged claim is forgotten");
        assert!(!index.purge(&connection, T0, 3).unwrap());
        assert_eq!(index.len(), 3);
        let left: Vec<i64> = connection
            .prepare("SELECT expires FROM claims ORDER BY expires")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            left,
            [T0 + claims + 2, T0 + claims + 3, T0 + claims + 4],
            "the newest stay"
        );
        assert_eq!(index.expiry(&key(claims + 1)), None);
        assert_eq!(index.expiry(&key(claims + 4)), Some(T0 + claims + 4));
    }

    fn rows(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT count(*) FROM claims", [], |row| row.get(0))
            .unwrap()
    }

    /// Runs `batch` on `index` in a transaction of `connection` and commits it.
    fn committed(
        connection: &mut Connection,
        index: &mut Claims,
        batch: impl FnOnce(&Transaction<'_>, &mut Claims),
    ) {
        let tx = connection.transaction().unwrap();
        batch(&tx, index);
        index.write(&tx).unwrap();
        tx.commit().unwrap();
        index.commit();
    }

    /// A new store whose first batch claimed keys 1 and 2 until `T0`: its directory, a
    /// connection to it and its claims.
    fn two_claims_in_one_batch() -> (tempfile::TempDir, Connection, Claims) {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), StoreSettings::new(), &Clock::manual(T0)));
        let mut connection = peek(dir.path());
        let mut index = Claims::load(&connection).unwrap();
        committed(&mut connection, &mut index, |_, index| {
            index.claim(key(1), T0);
            index.claim(key(2), T0);
        });
        (dir, connection, index)
    }

    #[test]
    fn a_batchs_claims_are_one_row_and_a_claim_made_again_lives_in_its_new_row() {
        let (_dir, mut connection, mut index) = two_claims_in_one_batch();
        assert_eq!(rows(&connection), 1);

        // Rolled back: the index is as before.
        let tx = connection.transaction().unwrap();
        index.claim(key(1), T0 + 10);
        index.release(&tx, &key(2)).unwrap();
        index.claim(key(3), T0 + 10);
        assert_eq!(index.expiry(&key(1)), Some(T0 + 10));
        assert_eq!(index.expiry(&key(2)), None);
        drop(tx);
        index.roll_back();
        assert_eq!(index.expiry(&key(1)), Some(T0));
        assert_eq!(index.expiry(&key(2)), Some(T0));
        assert_eq!(index.expiry(&key(3)), None);

        // Key 1, expired, is claimed again: a new row, which purging the old one leaves.
        committed(&mut connection, &mut index, |_, index| {
            index.claim(key(1), T0 + 10);
        });
        assert_eq!(rows(&connection), 2);
        assert_eq!(
            Claims::load(&connection).unwrap().expiry(&key(1)),
            Some(T0 + 10)
        );
        assert!(!index.purge(&connection, T0 + 1, u64::MAX).unwrap());
        let loaded = Claims::load(&connection).unwrap();
        for claims in [&index, &loaded] {
            assert_eq!(claims.expiry(&key(1)), Some(T0 + 10));
            assert_eq!(claims.expiry(&key(2)), None);
        }
        assert_eq!(rows(&connection), 1);
    }

    #[test]
    fn a_released_claim_is_cut_out_of_its_row_and_its_rows_last_deletes_it() {
        let (_dir, mut connection, mut index) = two_claims_in_one_batch();
        // Claimed and released in one batch: never written.
        committed(&mut connection, &mut index, |tx, index| {
            index.claim(key(3), T0);
            index.release(tx, &key(3)).unwrap();
            index.release(tx, &key(1)).unwrap();
        });
        assert_eq!(rows(&connection), 1);
        let loaded = Claims::load(&connection).unwrap();
        assert_eq!(
            [1, 2, 3].map(|n| loaded.expiry(&key(n))),
            [None, Some(T0), None]
        );
        committed(&mut connection, &mut index, |tx, index| {
            index.release(tx, &key(2)).unwrap();
        });
        assert_eq!(rows(&connection), 0);
        assert_eq!(index.len(), 0);
    }
}
