//! The database file: opened with the durability asked for, recognised as hookbot's (or
//! created), its schema version checked, its pages checked for corruption; and the space that
//! deletions free given back to the file system.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use super::{Durability, StoreError, batches};

/// The schema this version of hookbot writes, kept in SQLite's `user_version`. A later
/// version that changes the tables raises it and migrates older files; this one refuses
/// newer ones.
pub(super) const SCHEMA_VERSION: i64 = 3;

/// SQLite's `application_id` of a hookbot store: "hkbt".
const APPLICATION_ID: i64 = 0x686b_6274;

/// How long a statement waits for a lock that another connection (the checkpointer restarting
/// the log, a `sqlite3` shell reading the file) holds before it fails, at least.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a statement sleeps between its tries for a lock: SQLite's own busy timeout sleeps
/// 1, 2, 5, 10 … ms, long against the checkpointer's hold of a millisecond or so.
const BUSY_PAUSE: Duration = Duration::from_micros(100);

/// Prepared statements kept for reuse: more than the store has.
const STATEMENT_CACHE: usize = 64;

/// The size the write-ahead log is truncated to after a checkpoint, in bytes.
const JOURNAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

/// Pages the write-ahead log grows to before a commit copies them into the database (a
/// checkpoint, with its two fsyncs) on the writer's thread: 16 MiB of 4 KiB pages, a bound
/// for when the checkpointer (`checkpointer.rs`), which keeps the log well below it, falls
/// behind.
const AUTOCHECKPOINT_PAGES: i64 = 4096;

/// How many of `quick_check`'s findings a corrupt store's error quotes.
const CHECK_FINDINGS: usize = 3;

/// Free pages past which space is given back to the file system (4 MiB of 4 KiB pages), and
/// how many pages one round gives back at most.
const RECLAIM_PAGES: i64 = 1024;

/// The tables of accepted notifications since schema version 3: a row per batch (see
/// `batches.rs`), and which notifications of a partly handled row are handled; version 2 kept a
/// row per notification.
const BATCH_TABLES: &str = "
CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    events BLOB NOT NULL
);
CREATE TABLE handled (
    batch INTEGER PRIMARY KEY,
    done BLOB NOT NULL
);
";

/// The other tables of schema version 3. Claims are a row per batch in the order they were
/// made, found by key in memory (see `claims.rs`); version 2 kept a row per claim, version 1
/// kept the claims ordered by key.
const TABLES: &str = "
CREATE TABLE claims (
    id INTEGER PRIMARY KEY,
    keys BLOB NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX claims_by_expiry ON claims (expires);
CREATE TABLE conversations (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    active INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversations_by_activity ON conversations (active);
CREATE TABLE timed_out (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE memos (
    memo TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    written INTEGER NOT NULL,
    expires INTEGER,
    PRIMARY KEY (memo, key)
) WITHOUT ROWID;
CREATE INDEX memos_by_written ON memos (written);
CREATE INDEX memos_by_expiry ON memos (expires) WHERE expires IS NOT NULL;
";

/// Version 1's claims (ordered by key) moved into version 2's table, oldest first.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE claims RENAME TO claims_1;
CREATE TABLE claims (
    id INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    expires INTEGER NOT NULL
);
INSERT INTO claims (key, expires) SELECT key, expires FROM claims_1 ORDER BY expires;
DROP TABLE claims_1;
CREATE INDEX claims_by_expiry ON claims (expires);
";

/// Version 2's claims (one key per row) as version 3's rows; [`Database::migrate`] then
/// creates [`BATCH_TABLES`] and fills them.
const MIGRATE_2_TO_3: &str = "ALTER TABLE claims RENAME COLUMN key TO keys;";

/// An open database and the path of its file.
pub(super) struct Database {
    pub(super) connection: Connection,
    pub(super) path: PathBuf,
}

impl Database {
    /// `error` of this database, named by its path.
    pub(super) fn error(&self, error: rusqlite::Error) -> StoreError {
        classify(&self.path, error)
    }
}

/// Opens (or creates) the store's database at `path`.
///
/// # Errors
///
/// [`StoreError::NewerSchema`], [`StoreError::Corrupt`], [`StoreError::NotWritable`] or
/// [`StoreError::Database`], each naming `path`.
pub(super) fn open(path: &Path, durability: Durability) -> Result<Database, StoreError> {
    let fail = |error| classify(path, error);
    let mut connection = Connection::open_with_flags(path, OpenFlags::default()).map_err(fail)?;
    set_busy_handler(&mut connection, None).map_err(fail)?;
    let database = Database {
        connection,
        path: path.to_owned(),
    };
    database.prepare(durability).map_err(fail)??;
    Ok(database)
}

impl Database {
    /// Recognises the file (or creates the schema in a new one), checks its pages and sets the
    /// connection up. The outer error is SQLite's, the inner one a finding about the file.
    fn prepare(&self, durability: Durability) -> rusqlite::Result<Result<(), StoreError>> {
        let connection = &self.connection;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let application: i64 =
            connection.pragma_query_value(None, "application_id", |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Ok(Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            }));
        }
        let fresh = application == 0 && version == 0 && self.is_empty()?;
        if !fresh && application != APPLICATION_ID {
            return Ok(Err(StoreError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "it is a SQLite database of another application (application_id {application})"
                ),
            }));
        }
        if fresh {
            // Only an empty database takes an auto-vacuum mode.
            connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Ok(Err(StoreError::NotWritable {
                path: self.path.clone(),
                reason: format!("SQLite cannot keep a write-ahead log here (journal mode {mode})"),
            }));
        }
        connection.pragma_update(None, "synchronous", synchronous(durability))?;
        connection.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
        connection.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
        if connection.is_readonly(rusqlite::MAIN_DB)? {
            return Ok(Err(StoreError::NotWritable {
                path: self.path.clone(),
                reason: "the file is read-only".to_owned(),
            }));
        }
        if fresh {
            self.create()?;
        } else if version < SCHEMA_VERSION {
            self.migrate(version)?;
        }
        Ok(self.check())
    }

    /// Whether the database has no table yet.
    fn is_empty(&self) -> rusqlite::Result<bool> {
        let tables: i64 =
            self.connection
                .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
        Ok(tables == 0)
    }

    /// Creates the tables and marks the file as hookbot's, in one transaction.
    fn create(&self) -> rusqlite::Result<()> {
        self.connection.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             {BATCH_TABLES}
             {TABLES}
             PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {SCHEMA_VERSION};
             COMMIT;"
        ))
    }

    /// Brings a file of `version` (1 or 2) to [`SCHEMA_VERSION`], in one transaction: its
    /// claims and its unhandled notifications, in their order, carried across.
    fn migrate(&self, version: i64) -> rusqlite::Result<()> {
        let tx = Transaction::new_unchecked(&self.connection, TransactionBehavior::Immediate)?;
        if version < 2 {
            tx.execute_batch(MIGRATE_1_TO_2)?;
        }
        tx.execute_batch(MIGRATE_2_TO_3)?;
        tx.execute_batch(BATCH_TABLES)?;
        batches::move_entries(&tx)?;
        tx.execute_batch(&format!(
            "DROP TABLE entries; PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        tx.commit()
    }

    /// Checks every page of the file (`PRAGMA quick_check`): a corrupt store is refused at
    /// start rather than found out while serving. The store is bounded, and so is the time.
    fn check(&self) -> Result<(), StoreError> {
        let findings = self
            .connection
            .prepare(&format!("PRAGMA quick_check({CHECK_FINDINGS})"))
            .and_then(|mut check| {
                check
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|error| self.error(error))?;
        if findings.iter().all(|finding| finding == "ok") {
            return Ok(());
        }
        Err(StoreError::Corrupt {
            path: self.path.clone(),
            reason: findings.join("; "),
        })
    }
}

/// Rewrites the database's first page as it is (the application id every open store carries):
/// a write that changes nothing, for a transaction whose only purpose is to write a page to
/// the log (see `checkpointer.rs`).
pub(super) fn rewrite_first_page(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
}

/// Makes a statement of `connection` wait for another connection's lock, trying again every
/// [`BUSY_PAUSE`] for `patience` at least ([`BUSY_TIMEOUT`] when `None`).
pub(super) fn set_busy_handler(
    connection: &mut Connection,
    patience: Option<Duration>,
) -> rusqlite::Result<()> {
    let tries = patience.unwrap_or(BUSY_TIMEOUT).as_micros() / BUSY_PAUSE.as_micros();
    connection.busy_handler(Some(move |tried: i32| {
        if u128::try_from(tried).unwrap_or(0) >= tries {
            return false;
        }
        std::thread::sleep(BUSY_PAUSE);
        true
    }))
}

/// The `synchronous` setting of `durability`.
pub(super) fn synchronous(durability: Durability) -> &'static str {
    match durability {
        Durability::Process => "NORMAL",
        Durability::PowerLoss => "FULL",
    }
}

/// Gives freed pages back to the file system when many are free, a bounded number at a time;
/// whether many are left free.
pub(super) fn reclaim_space(connection: &Connection) -> rusqlite::Result<bool> {
    let free = || -> rusqlite::Result<i64> {
        connection.pragma_query_value(None, "freelist_count", |row| row.get(0))
    };
    if free()? < RECLAIM_PAGES {
        return Ok(false);
    }
    // The pragma gives back one page per step.
    let mut vacuum = connection.prepare(&format!("PRAGMA incremental_vacuum({RECLAIM_PAGES})"))?;
    let mut steps = vacuum.query([])?;
    while steps.next()?.is_some() {}
    Ok(free()? >= RECLAIM_PAGES)
}

/// What `error` on the database at `path` means for its user.
pub(super) fn classify(path: &Path, error: rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            reason: error.to_string(),
        },
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            StoreError::NotWritable {
                path,
                reason: error.to_string(),
            }
        }
        _ => StoreError::Database {
            path,
            source: Box::new(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedupe::DedupeKey;
    use crate::durable::test_support::{T0, open as open_store, peek, text};
    use crate::durable::{Appended, Clock, StoreSettings};

    fn pages(connection: &Connection, pragma: &str) -> i64 {
        connection
            .pragma_query_value(None, pragma, |row| row.get(0))
            .unwrap()
    }

    /// Turns the fresh store in `directory` into an empty file of schema version 2.
    fn as_version_2(directory: &std::path::Path) {
        peek(directory)
            .execute_batch(
                "DROP TABLE batches;
                 DROP TABLE handled;
                 DROP TABLE claims;
                 CREATE TABLE entries (
                     seq INTEGER PRIMARY KEY AUTOINCREMENT,
                     gateway TEXT NOT NULL,
                     instance TEXT NOT NULL,
                     notification TEXT NOT NULL
                 );
                 CREATE TABLE claims (
                     id INTEGER PRIMARY KEY,
                     key BLOB NOT NULL,
                     expires INTEGER NOT NULL
                 );
                 CREATE INDEX claims_by_expiry ON claims (expires);
                 PRAGMA user_version = 2;",
            )
            .unwrap();
    }

    /// `bytes` as an SQL blob literal.
    fn blob(bytes: &[u8]) -> String {
        format!(
            "x'{}'",
            bytes
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        )
    }

    /// Adds an unhandled entry of `event` to a file of version 1 or 2.
    fn old_entry(directory: &std::path::Path, event: &crate::event::Event) {
        peek(directory)
            .execute(
                "INSERT INTO entries (gateway, instance, notification) VALUES (?1, ?2, ?3)",
                [event.gateway.as_str(), &*event.instance, event.raw.as_str()],
            )
            .unwrap();
    }

    #[tokio::test]
    async fn a_version_2_store_keeps_its_claims_and_entries_in_their_order_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let events: Vec<_> = (1..=5)
            .map(|n| text("79001234567@c.us", &format!("M{n}"), "hi"))
            .collect();
        drop(open_store(dir.path(), StoreSettings::new(), &clock));
        as_version_2(dir.path());
        // M1 and M2 were handled (their entries deleted), M3–M5 not; M1's claim expired.
        for (n, event) in events.iter().enumerate() {
            let key = DedupeKey::of(event).unwrap().to_bytes();
            let expires = if n == 0 { T0 - 1 } else { T0 + 1000 };
            peek(dir.path())
                .execute_batch(&format!(
                    "INSERT INTO claims (key, expires) VALUES ({}, {expires});",
                    blob(&key)
                ))
                .unwrap();
            if n >= 2 {
                old_entry(dir.path(), event);
            }
        }

        let settings = StoreSettings::new().max_events(4);
        let store = open_store(dir.path(), settings.clone(), &clock);
        let unfinished = store.unfinished(None, 10).await.unwrap();
        let ids: Vec<String> = unfinished
            .iter()
            .map(|entry| entry.event.message_id().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["M3", "M4", "M5"]);
        for event in &events[1..] {
            assert_eq!(store.append(event).await.unwrap(), Appended::Duplicate);
        }
        assert!(matches!(
            store.append(&events[0]).await.unwrap(),
            Appended::Queued(_)
        ));
        let sixth = text("79001234567@c.us", "M6", "hi");
        assert_eq!(
            store.append(&sixth).await.unwrap(),
            Appended::Full,
            "the entries carried across count"
        );
        store.finish(unfinished[1].seq);
        store.flush().await.unwrap();
        drop(store);

        assert_eq!(pages(&peek(dir.path()), "user_version"), SCHEMA_VERSION);
        let store = open_store(dir.path(), settings, &clock);
        let ids: Vec<String> = store
            .unfinished(None, 10)
            .await
            .unwrap()
            .iter()
            .map(|entry| entry.event.message_id().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["M3", "M5", "M1"]);
    }

    #[tokio::test]
    async fn a_version_1_store_keeps_its_claims_and_entries_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(T0);
        let (claimed, waiting) = (
            text("79001234567@c.us", "M1", "hi"),
            text("79001234567@c.us", "M2", "hi"),
        );
        drop(open_store(dir.path(), StoreSettings::new(), &clock));
        as_version_2(dir.path());
        let key = DedupeKey::of(&claimed).unwrap().to_bytes();
        // The same file as version 1 wrote it: claims ordered by key.
        peek(dir.path())
            .execute_batch(&format!(
                "DROP TABLE claims;
                 CREATE TABLE claims (key BLOB PRIMARY KEY, expires INTEGER NOT NULL) WITHOUT ROWID;
                 CREATE INDEX claims_by_expiry ON claims (expires);
                 INSERT INTO claims VALUES ({}, {});
                 PRAGMA user_version = 1;",
                blob(&key),
                T0 + 1000,
            ))
            .unwrap();
        old_entry(dir.path(), &waiting);

        let store = open_store(dir.path(), StoreSettings::new(), &clock);
        assert_eq!(store.append(&claimed).await.unwrap(), Appended::Duplicate);
        let unfinished = store.unfinished(None, 10).await.unwrap();
        assert_eq!(unfinished[0].event.message_id().unwrap().as_str(), "M2");
        drop(store);
        let version: i64 = pages(&peek(dir.path()), "user_version");
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn freed_pages_are_given_back_a_bounded_number_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_store(
            dir.path(),
            StoreSettings::new(),
            &Clock::manual(T0),
        ));
        let connection = peek(dir.path());
        connection
            .execute_batch(
                "BEGIN;
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
                 INSERT INTO batches (events) SELECT randomblob(4096) FROM n;
                 COMMIT;
                 DELETE FROM batches;",
            )
            .unwrap();
        let free = pages(&connection, "freelist_count");
        let size = pages(&connection, "page_count");
        assert!(free > 2 * RECLAIM_PAGES, "{free} pages free");

        assert!(reclaim_space(&connection).unwrap(), "more is left");
        assert_eq!(pages(&connection, "freelist_count"), free - RECLAIM_PAGES);
        assert!(
            pages(&connection, "page_count") <= size - RECLAIM_PAGES,
            "the file shrank"
        );
        while reclaim_space(&connection).unwrap() {}
        assert!(pages(&connection, "freelist_count") < RECLAIM_PAGES);
    }
}
