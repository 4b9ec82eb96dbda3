//! Opening a file: the pragmas every connection sets (no mapping, WAL,
//! FULL sync), the migration (one process migrates, the others wait and see
//! it done), and a file another process holds told apart from other failures.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::identity::FileIdentity;
use super::{db_error, locking, SqliteStore};
use crate::error::{Error, Result};
use crate::store::schema::MIGRATIONS;

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`,
    /// which may end in `?locking=exclusive` (default on Unix) or
    /// `?locking=shared`: the WAL index in this process's memory, where a
    /// read-only or vanished file cannot raise SIGBUS, or in a shared
    /// mapping other processes use (see `locking`). A file another process
    /// holds is `Error::StoreHeld` once the lock wait has passed.
    pub fn open(path: &str) -> Result<Self> {
        let (path, locking) = locking::parse(path)?;
        let conn = match locking.vfs() {
            None => Connection::open(path),
            Some(vfs) => Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs),
        }
        .map_err(db_error)?;
        let mut store = Self::setup(conn).map_err(|e| held(e, path))?;
        // after setup: the file exists once the first pragma touched it
        store.file = FileIdentity::of(path);
        Ok(store)
    }

    fn setup(conn: Connection) -> std::result::Result<Self, OpenError> {
        conn.busy_timeout(LOCK_WAIT)?;
        // the database file through read/write, never a mapping (a truncated
        // or immutable mapped file raises SIGBUS): whatever the build's default
        conn.pragma_update(None, "mmap_size", 0)?;
        // WAL: readers never block the writer; FULL: a commit survives power loss
        use_wal(&conn)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // a batch touches pages all over the executions B-tree: keep them cached (64 MiB)
        conn.pragma_update(None, "cache_size", -65_536)?;
        let mut store = SqliteStore { conn, file: None, lock_wait: LOCK_WAIT };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> std::result::Result<(), OpenError> {
        // the common case, an up-to-date file, takes no write lock
        if schema_version(&self.conn)? == MIGRATIONS.len() {
            return Ok(());
        }
        // one writer migrates: IMMEDIATE takes the write lock up front (a
        // deferred transaction could not upgrade once another process
        // wrote), and the version is read again under it, so a process that
        // waited (busy timeout) sees the other's migration and runs none of it
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = schema_version(&tx)?;
        for sql in MIGRATIONS.iter().skip(version) {
            tx.execute_batch(sql)?;
        }
        if version < MIGRATIONS.len() {
            tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
        }
        Ok(tx.commit()?)
    }
}

/// Why an open failed: SQLite's own error (told apart for a held file), or ours.
enum OpenError {
    Sqlite(rusqlite::Error),
    Other(Error),
}

impl From<rusqlite::Error> for OpenError {
    fn from(e: rusqlite::Error) -> Self {
        OpenError::Sqlite(e)
    }
}

impl From<Error> for OpenError {
    fn from(e: Error) -> Self {
        OpenError::Other(e)
    }
}

/// Still locked once the open's lock wait has passed: under WAL only an
/// exclusive lock keeps a new connection out for that long, and only a
/// process holding the file (`unix-excl`, or a shared-mode process while
/// this one asks for exclusive) keeps one, so that is what the error says.
fn held(e: OpenError, path: &str) -> Error {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    match e {
        OpenError::Sqlite(e) if matches!(e.sqlite_error_code(), Some(DatabaseBusy | DatabaseLocked)) => {
            Error::StoreHeld { path: path.to_owned() }
        }
        OpenError::Sqlite(e) => db_error(e),
        OpenError::Other(e) => e,
    }
}

/// How long an open waits for another connection's lock.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Switches a file to WAL. The switch needs the file to itself, and SQLite
/// answers busy at once rather than call the busy handler (it may hold a
/// read lock of its own): while another process opens the same new file,
/// try again until it is WAL (the other may have switched it) or the
/// usual lock wait has passed.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// `user_version`, refused when a newer arcflow wrote the file.
fn schema_version(conn: &Connection) -> Result<usize> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(db_error)?;
    crate::store::check_schema_version(version, MIGRATIONS.len())?;
    Ok(version)
}
