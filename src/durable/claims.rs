//! Duplicate claims: rows of the `claims` table in the order they were made, found by key in
//! an index the writer keeps in memory (read from the table when the store opens).
//!
//! A claim's key is a hash, so a table ordered by it takes each new claim on a random page:
//! a batch of a hundred appends rewrote about a hundred pages of claims, four fifths of what
//! it wrote to the log. Rows in the order they were made fill the table's last page instead,
//! and the index in memory answers "is this a duplicate?" without reading the file. It costs
//! about 40 bytes of memory per claim kept ([`MAX_CLAIMS`](super::MAX_CLAIMS) at most).

use std::collections::HashMap;

use rusqlite::{Connection, Transaction, params};

use super::Millis;
use super::writer::PURGE_CHUNK;

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
    index: HashMap<Key, Claim>,
    /// What the running batch changed: each key with its claim before.
    undo: Vec<(Key, Option<Claim>)>,
}

impl Claims {
    /// The claims `connection`'s database holds.
    pub(super) fn load(connection: &Connection) -> rusqlite::Result<Self> {
        let mut statement =
            connection.prepare("SELECT id, key, expires FROM claims ORDER BY id")?;
        let mut rows = statement.query([])?;
        let mut index = HashMap::new();
        while let Some(row) = rows.next()? {
            let (id, key, expires): (i64, Vec<u8>, Millis) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            // A key of another length is no hookbot claim: it can match nothing.
            if let Ok(key) = Key::try_from(key.as_slice()) {
                index.insert(key, Claim { id, expires });
            }
        }
        Ok(Self {
            index,
            undo: Vec::new(),
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

    /// Claims `key` until `expires` in `tx`: a new row at the table's end, or the expiry of
    /// the key's (expired) row moved on.
    pub(super) fn claim(
        &mut self,
        tx: &Transaction<'_>,
        key: Key,
        expires: Millis,
    ) -> rusqlite::Result<()> {
        let before = self.index.get(&key).copied();
        let id = match before {
            Some(claim) => {
                tx.prepare_cached("UPDATE claims SET expires = ?1 WHERE id = ?2")?
                    .execute(params![expires, claim.id])?;
                claim.id
            }
            None => {
                tx.prepare_cached("INSERT INTO claims (key, expires) VALUES (?1, ?2)")?
                    .execute(params![key.as_slice(), expires])?;
                tx.last_insert_rowid()
            }
        };
        self.undo.push((key, before));
        self.index.insert(key, Claim { id, expires });
        Ok(())
    }

    /// Deletes `key`'s claim in `tx`, if there is one.
    pub(super) fn release(&mut self, tx: &Transaction<'_>, key: &Key) -> rusqlite::Result<()> {
        let Some(claim) = self.index.get(key).copied() else {
            return Ok(());
        };
        tx.prepare_cached("DELETE FROM claims WHERE id = ?1")?
            .execute([claim.id])?;
        self.undo.push((*key, Some(claim)));
        self.index.remove(key);
        Ok(())
    }

    /// The running batch was committed: its changes stay.
    pub(super) fn commit(&mut self) {
        self.undo.clear();
    }

    /// The running batch failed: its changes are undone, last first.
    pub(super) fn roll_back(&mut self) {
        while let Some((key, before)) = self.undo.pop() {
            match before {
                Some(claim) => self.index.insert(key, claim),
                None => self.index.remove(&key),
            };
        }
    }

    /// Purges one chunk of claims (each statement committed on its own): expired ones, and
    /// while more than `max_claims` ([`MAX_CLAIMS`](super::MAX_CLAIMS)) are kept, the oldest.
    /// Whether more are left to purge.
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
             RETURNING id, key",
            params![now, PURGE_CHUNK],
        )?;
        let excess = self
            .len()
            .saturating_sub(max_claims)
            .min(PURGE_CHUNK as u64);
        if excess > 0 {
            self.delete(
                connection,
                "DELETE FROM claims WHERE id IN
                 (SELECT id FROM claims ORDER BY expires LIMIT ?1)
                 RETURNING id, key",
                [excess as i64],
            )?;
        }
        Ok(expired == PURGE_CHUNK as usize || self.len() > max_claims)
    }

    /// Runs a `DELETE … RETURNING id, key` and forgets the rows it deleted; how many.
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
        for (id, key) in &deleted {
            if let Ok(key) = Key::try_from(key.as_slice())
                && self.index.get(&key).is_some_and(|claim| claim.id == *id)
            {
                self.index.remove(&key);
            }
        }
        Ok(deleted.len())
    }
}

#[cfg(test)]
mod tests {
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
                "INSERT INTO claims (key, expires) VALUES (?1, ?2)",
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

    #[test]
    fn a_claim_moved_on_keeps_its_row_and_a_rolled_back_batch_restores_the_index() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), StoreSettings::new(), &Clock::manual(T0)));
        let mut connection = peek(dir.path());
        let mut index = Claims::load(&connection).unwrap();
        let tx = connection.transaction().unwrap();
        index.claim(&tx, key(1), T0).unwrap();
        index.claim(&tx, key(2), T0).unwrap();
        tx.commit().unwrap();
        index.commit();

        let tx = connection.transaction().unwrap();
        index.claim(&tx, key(1), T0 + 10).unwrap();
        index.release(&tx, &key(2)).unwrap();
        index.claim(&tx, key(3), T0).unwrap();
        assert_eq!(index.expiry(&key(1)), Some(T0 + 10));
        assert_eq!(index.expiry(&key(2)), None);
        drop(tx); // rolled back
        index.roll_back();
        assert_eq!(index.expiry(&key(1)), Some(T0));
        assert_eq!(index.expiry(&key(2)), Some(T0));
        assert_eq!(index.expiry(&key(3)), None);

        let tx = connection.transaction().unwrap();
        index.claim(&tx, key(1), T0 + 10).unwrap();
        tx.commit().unwrap();
        index.commit();
        let rows: i64 = connection
            .query_row("SELECT count(*) FROM claims", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 2, "one row per key");
        assert_eq!(
            Claims::load(&connection).unwrap().expiry(&key(1)),
            Some(T0 + 10)
        );
    }
}
