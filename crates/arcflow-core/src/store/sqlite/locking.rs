//! Who may open the database while this process has it: the WAL index.
//!
//! In WAL mode SQLite keeps the WAL index in the `-shm` file, mapped with
//! `mmap(MAP_SHARED)` so that every process sees it. A write through that
//! mapping once the file became immutable (`chattr +i`: the kernel
//! write-protects the mapped pages), or a read or write past its end once it
//! was truncated, raises SIGBUS: no error code, the process dies. Nothing
//! short of a signal handler can turn that into an error while the index is
//! a shared mapping, and SQLite has no option to keep a shared index off a
//! mapping.
//!
//! So the choice is a setting of the store URL, `sqlite:PATH?locking=MODE`:
//! - `exclusive` (default on Unix): the `unix-excl` VFS. This process takes
//!   an exclusive lock on the database at first access and keeps the WAL
//!   index in heap memory, shared by every connection of this process to
//!   that file (the engine's writer and reader, several engines), which
//!   still read while the flush thread writes. No `-shm` file is mapped, so
//!   a read-only or vanished file is an I/O error the writer retries, never
//!   a signal. It fits arcflow's one writer per file (the engines of one
//!   process share one store). Any other process opening the file is
//!   refused (`Error::StoreHeld`) until this one closes it. Another SQLite
//!   library in this process (better-sqlite3) is not: POSIX locks are per
//!   process, so it must not open the file while the store has it (in
//!   either mode: its close may checkpoint and delete the WAL under us,
//!   SQLite's "multiple copies of SQLite in one process" hazard).
//! - `shared` (default elsewhere): the `-shm` mapping; other processes (the
//!   CLI's `arcflow runs list`, a backup, the `sqlite3` shell, a second
//!   engine) read and write the file while an engine runs, each with
//!   `locking=shared` (a WAL connection keeps a shared lock on the file, so
//!   an exclusive opener is refused too). A WAL index made immutable or
//!   truncated under it can kill the process with SIGBUS.
//!
//! (`PRAGMA locking_mode=EXCLUSIVE` also keeps the index in heap memory, but
//! per connection: the engine's reader could not read at all; and
//! `mmap_size` concerns the database file, not the WAL index.)

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Locking {
    Shared,
    Exclusive,
}

impl Locking {
    /// The VFS to open with (`None`: SQLite's default).
    pub(super) fn vfs(self) -> Option<&'static str> {
        match self {
            Locking::Shared => None,
            Locking::Exclusive => Some("unix-excl"),
        }
    }
}

/// Without `?locking=`: `exclusive` where the `unix-excl` VFS exists.
const DEFAULT: Locking = if cfg!(unix) { Locking::Exclusive } else { Locking::Shared };

/// Splits `PATH?locking=MODE` into the path and the mode. A path whose last
/// `?` is not followed by `locking=` is a path as it stands (a file name may
/// hold a `?`).
pub(super) fn parse(spec: &str) -> Result<(&str, Locking)> {
    let Some((path, mode)) = spec.rsplit_once('?').and_then(|(p, q)| Some((p, q.strip_prefix("locking=")?))) else {
        return Ok((spec, DEFAULT));
    };
    let locking = match mode {
        "shared" => Locking::Shared,
        "exclusive" if cfg!(unix) => Locking::Exclusive,
        "exclusive" => return Err(Error::invalid_value("locking=exclusive (the unix-excl VFS) needs a Unix system")),
        other => {
            return Err(Error::invalid_value(format!(
                "unknown locking mode {other:?} in the store URL: expected locking=exclusive (default: one process per file) or locking=shared (several processes)"
            )))
        }
    };
    if path.is_empty() {
        return Err(Error::invalid_value("the store URL sqlite: needs a path: sqlite:PATH"));
    }
    Ok((path, locking))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_default_is_exclusive_on_unix() {
        assert_eq!(DEFAULT, Locking::Exclusive);
    }

    #[test]
    fn a_locking_parameter_is_split_from_the_path() {
        assert_eq!(parse("a.db").unwrap(), ("a.db", DEFAULT));
        assert_eq!(parse("a.db?locking=shared").unwrap(), ("a.db", Locking::Shared));
        assert_eq!(parse("dir/a.db?locking=exclusive").unwrap(), ("dir/a.db", Locking::Exclusive));
        // a question mark that is not the parameter belongs to the file name
        assert_eq!(parse("what?.db").unwrap(), ("what?.db", DEFAULT));
        assert!(parse("a.db?locking=EXCL").is_err());
        assert!(parse("?locking=exclusive").is_err());
    }
}
