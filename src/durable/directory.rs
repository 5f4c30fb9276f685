//! The data directory: created when missing, checked for writing, and held by one store at a
//! time with an OS lock on its lock file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::StoreError;

/// The database's file name in the data directory.
pub(super) const DATABASE_FILE: &str = "hookbot.sqlite3";
/// The intake journal's two files' names in the data directory, which the appends alternate
/// between (see `journal`).
pub(super) const JOURNAL_FILES: [&str; 2] = ["hookbot.journal", "hookbot.journal-2"];
/// The lock file's name in the data directory.
const LOCK_FILE: &str = "hookbot.lock";

/// A data directory held by this store: the lock lasts as long as this value (and the kernel
/// drops it when the process dies, however it dies).
#[derive(Debug)]
pub(super) struct Held {
    directory: PathBuf,
    _lock: File,
}

impl Held {
    /// The database file in the directory.
    pub(super) fn database_path(&self) -> PathBuf {
        self.directory.join(DATABASE_FILE)
    }

    /// The intake journal's two files in the directory.
    pub(super) fn journal_paths(&self) -> [PathBuf; 2] {
        JOURNAL_FILES.map(|file| self.directory.join(file))
    }
}

/// Creates `directory` if needed and takes its lock.
///
/// # Errors
///
/// [`StoreError::CreateDirectory`], [`StoreError::NotWritable`] or [`StoreError::Locked`],
/// each naming the directory.
pub(super) fn hold(directory: &Path) -> Result<Held, StoreError> {
    std::fs::create_dir_all(directory).map_err(|source| StoreError::CreateDirectory {
        path: directory.to_owned(),
        source,
    })?;
    let lock_path = directory.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|error| not_writable(&lock_path, &error))?;
    match lock.try_lock() {
        Ok(()) => Ok(Held {
            directory: directory.to_owned(),
            _lock: lock,
        }),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: directory.to_owned(),
        }),
        Err(TryLockError::Error(error)) => Err(not_writable(&lock_path, &error)),
    }
}

/// `file` cannot be written, for `error`.
fn not_writable(file: &Path, error: &std::io::Error) -> StoreError {
    let reason = match error.kind() {
        ErrorKind::PermissionDenied => "permission denied".to_owned(),
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only".to_owned(),
        _ => error.to_string(),
    };
    StoreError::NotWritable {
        path: file.to_owned(),
        reason,
    }
}
