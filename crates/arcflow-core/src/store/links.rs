//! What issue 14 keeps beside a run (SQLite v7, PostgreSQL v5):
//!
//! - a sub-workflow's child is a run of its own, linked to its parent by
//!   `runs.parent_id` / `runs.parent_task` ([`Write::RunLinks`](super::Write::RunLinks),
//!   queued right after the child's start, in the same writer queue);
//! - an idempotent start's key is kept on its runs as `runs.start_key`, not
//!   unique: a key whose run failed may start another, so the newest run of
//!   a key is the one that counts ([`Store::run_by_start_key`](super::Store::run_by_start_key));
//!   which run a key names is claimed atomically in `start_keys` (see `start_keys.rs`);
//!   `runs.run_key` (a queue's enqueue key, unique) is a separate namespace;
//! - the task result cache, `task_cache (workflow, task, key)`: a result and
//!   its expiry; an expired row is left in place and replaced by the next put.

use crate::error::Error;

/// The longest rendered cache key kept (bytes of its JSON text): longer is
/// an `InvalidValue` before anything is written.
pub const CACHE_KEY_MAX: usize = 4096;

pub(super) fn unsupported() -> Error {
    Error::Store { message: "this store keeps no run links, start keys or cached results".into(), transient: false }
}

/// A rendered cache key (its JSON text) the store can keep: at most [`CACHE_KEY_MAX`] bytes.
pub fn check_cache_key(key: &str) -> crate::error::Result<()> {
    if key.len() > CACHE_KEY_MAX {
        return Err(Error::invalid_value(format!("a cache key is at most {CACHE_KEY_MAX} bytes of JSON, got {}", key.len())));
    }
    Ok(())
}
