//! The embedded durable store as a bot opens it: its directory created and held, bad
//! conditions refused at open with the path named (a directory that cannot be created or
//! written, a second bot on the same directory, a store from a newer version, a corrupt file),
//! and conversations that go on, and time out, across a restart of the bot and its store.
//!
//! The store's accept path (group commit, duplicates, bounds, recovery, a full disk, a killed
//! process) is crate-visible and tested beside it, in `src/store/entries.rs`.

mod common;

use std::path::Path;
use std::time::Duration;

use hookbot::conversation::Conversations;
use hookbot::durable::{DurableStore, SqliteStorage, StoreError, StoreSettings};
use hookbot::testing::TestBot;

#[path = "../examples/conversation.rs"]
#[allow(dead_code)]
mod example;

const VASILISA: &str = "79001234567@c.us";
const DATABASE: &str = "hookbot.sqlite3";

fn open(directory: &Path) -> hookbot::Result<DurableStore> {
    DurableStore::open(directory, StoreSettings::new())
}

/// The [`StoreError`] behind `error`.
fn store_error(error: &hookbot::Error) -> &StoreError {
    let hookbot::Error::Storage { source } = error else {
        panic!("expected a storage error, got {error:?}");
    };
    source
        .downcast_ref::<StoreError>()
        .unwrap_or_else(|| panic!("expected a StoreError, got {source:?}"))
}

/// `error`'s message, which must name `path`.
fn naming(error: &hookbot::Error, path: &Path) -> String {
    let message = error.to_string();
    assert!(
        message.contains(&*path.to_string_lossy()),
        "the message names {}: {message}",
        path.display()
    );
    message
}

/// The stored schema version of the database in `directory`.
fn user_version(directory: &Path) -> i64 {
    rusqlite::Connection::open(directory.join(DATABASE))
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn open_creates_the_directory_and_reopens_it() {
    let parent = tempfile::tempdir().unwrap();
    let directory = parent.path().join("data").join("bot");
    let store = open(&directory).unwrap();
    assert_eq!(store.directory(), directory);
    assert!(directory.join(DATABASE).is_file());
    drop(store);
    assert_eq!(user_version(&directory), 3);
    open(&directory).unwrap();
}

#[test]
fn a_directory_that_cannot_be_created_is_refused_with_its_path() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let directory = file.join("data");
    let error = open(&directory).unwrap_err();
    assert!(matches!(
        store_error(&error),
        StoreError::CreateDirectory { .. }
    ));
    let message = naming(&error, &directory);
    assert!(message.contains("cannot be created"), "{message}");
}

#[test]
fn a_directory_that_cannot_be_written_is_refused_with_its_path() {
    let directory = tempfile::tempdir().unwrap();
    // The lock file cannot be written: a directory stands in its place (permissions would
    // not stop the root user that CI runs as).
    let lock = directory.path().join("hookbot.lock");
    std::fs::create_dir(&lock).unwrap();
    let error = open(directory.path()).unwrap_err();
    assert!(matches!(
        store_error(&error),
        StoreError::NotWritable { .. }
    ));
    let message = naming(&error, &lock);
    assert!(message.contains("cannot be written"), "{message}");
}

#[test]
fn a_second_store_on_the_same_directory_is_refused_until_the_first_is_dropped() {
    let directory = tempfile::tempdir().unwrap();
    let first = open(directory.path()).unwrap();
    let error = open(directory.path()).unwrap_err();
    assert!(matches!(store_error(&error), StoreError::Locked { .. }));
    let message = naming(&error, directory.path());
    assert!(message.contains("in use by another bot"), "{message}");
    drop(first);
    open(directory.path()).expect("free once the first store is dropped");
}

#[test]
fn a_store_from_a_newer_version_is_refused_and_left_as_it_was() {
    let directory = tempfile::tempdir().unwrap();
    drop(open(directory.path()).unwrap());
    rusqlite::Connection::open(directory.path().join(DATABASE))
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let error = open(directory.path()).unwrap_err();
    assert!(matches!(
        store_error(&error),
        StoreError::NewerSchema {
            found: 99,
            supported: 3,
            ..
        }
    ));
    let message = naming(&error, &directory.path().join(DATABASE));
    assert!(message.contains("newer hookbot"), "{message}");
    assert_eq!(user_version(directory.path()), 99, "not rewritten");
}

#[test]
fn a_file_that_is_not_a_database_is_refused_with_its_path() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join(DATABASE),
        "this is not a SQLite database, and it is long enough to hold a header".repeat(100),
    )
    .unwrap();
    let error = open(directory.path()).unwrap_err();
    assert!(matches!(store_error(&error), StoreError::Corrupt { .. }));
    naming(&error, &directory.path().join(DATABASE));
}

#[tokio::test]
async fn a_damaged_page_is_found_at_open() {
    let directory = tempfile::tempdir().unwrap();
    {
        let store = open(directory.path()).unwrap();
        let memo = store.memo::<String>("notes");
        for n in 0..300 {
            memo.put(&format!("chat-{n}"), &"a note of some length".repeat(10))
                .await
                .unwrap();
        }
    }
    let database = directory.path().join(DATABASE);
    let mut bytes = std::fs::read(&database).unwrap();
    let middle = bytes.len() / 2 / 4096 * 4096;
    bytes[middle..middle + 4096].fill(0xa5);
    std::fs::write(&database, bytes).unwrap();

    let error = open(directory.path()).unwrap_err();
    assert!(matches!(store_error(&error), StoreError::Corrupt { .. }));
    naming(&error, &database);
}

#[test]
fn a_database_of_another_application_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    rusqlite::Connection::open(directory.path().join(DATABASE))
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .unwrap();
    let error = open(directory.path()).unwrap_err();
    assert!(matches!(store_error(&error), StoreError::Corrupt { .. }));
    let message = naming(&error, &directory.path().join(DATABASE));
    assert!(message.contains("another application"), "{message}");
}

/// The example's card dialogue on the test kit, its conversations in `store`.
async fn card_bot(store: &DurableStore, idle_timeout: Duration) -> TestBot {
    let storage = SqliteStorage::new(store)
        .idle_timeout(idle_timeout)
        .poll_interval(Duration::from_millis(20));
    TestBot::builder()
        .start_configured(example::router(), (), |bot| {
            bot.conversations(Conversations::new(storage))
                .on_conversation_timeout(example::timed_out)
        })
        .await
}

#[tokio::test]
async fn a_conversation_goes_on_after_the_bot_and_its_store_restart() {
    let directory = tempfile::tempdir().unwrap();
    {
        let store = open(directory.path()).unwrap();
        let mut bot = card_bot(&store, Duration::from_secs(30 * 60)).await;
        bot.send(VASILISA, "card").await;
        assert!(common::text(&bot.reply(VASILISA).await).starts_with("Whose card"));
        bot.stop().await;
    }
    let store = open(directory.path()).unwrap();
    let mut bot = card_bot(&store, Duration::from_secs(30 * 60)).await;
    bot.send(VASILISA, "Ivan Petrov").await;
    assert_eq!(
        common::text(&bot.reply(VASILISA).await),
        "The phone number of Ivan Petrov, with the country code?"
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_conversation_that_timed_out_while_the_bot_was_down_is_told_after_the_restart() {
    let directory = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(300);
    let first = {
        let store = open(directory.path()).unwrap();
        let mut bot = card_bot(&store, Duration::from_secs(30 * 60)).await;
        let first = bot.send(VASILISA, "card").await;
        assert!(common::text(&bot.reply(VASILISA).await).starts_with("Whose card"));
        bot.stop().await;
        first
    };
    // Started again with a short timeout, measured from the last activity before the stop.
    let store = open(directory.path()).unwrap();
    let mut bot = card_bot(&store, timeout).await;
    let told = bot.reply(VASILISA).await;
    assert!(
        common::text(&told).starts_with("No answer for a while"),
        "{told:?}"
    );
    assert_eq!(told.quoted, Some(first));
    bot.stop().await;
}
