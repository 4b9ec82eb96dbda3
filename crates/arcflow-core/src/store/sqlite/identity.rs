//! Which file a store has open. A database deleted or replaced under a
//! running store (`rm a.db a.db-wal a.db-shm`) stays open and writable:
//! SQLite would go on committing into the unlinked inode, and all of it
//! would be gone at close. So before each commit the file at the path is
//! compared, by (device, inode), with the one opened; a mismatch is a
//! transient store error: nothing more is acknowledged, the queue is kept
//! and retried (the file may be put back), and `stats().failing` says why.

use std::path::PathBuf;

use crate::error::Error;

pub(super) struct FileIdentity {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    /// The file at `path` now (`None` for an in-memory or temporary database).
    pub(super) fn of(path: &str) -> Option<Self> {
        if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
            return None;
        }
        // absolute: the check must not follow a later change of directory
        let path = std::fs::canonicalize(path).ok()?;
        let (dev, ino) = dev_ino(&path)?;
        Some(FileIdentity { path, dev, ino })
    }

    /// A transient error unless the file at the path is still the one opened.
    pub(super) fn check(&self) -> Result<(), Error> {
        match dev_ino(&self.path) {
            Some(found) if found == (self.dev, self.ino) => Ok(()),
            found => Err(Error::Store {
                message: format!(
                    "the database file {} is {} since this store opened it: nothing is committed until it is back",
                    self.path.display(),
                    if found.is_some() { "another file" } else { "gone" }
                ),
                transient: true,
            }),
        }
    }
}

#[cfg(unix)]
fn dev_ino(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dev_ino(path: &std::path::Path) -> Option<(u64, u64)> {
    // no inode numbers: only a vanished file is seen
    std::fs::metadata(path).ok().map(|_| (0, 0))
}
