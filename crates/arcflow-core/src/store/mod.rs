//! Persistence: one data-access interface ([`Store`]) with an embedded
//! SQLite implementation, behind a native write-behind queue
//! ([`WriteBehind`]) that commits batches from a background thread. The
//! engine never writes SQL and never waits for I/O unless a run asked for
//! `sync` durability.

mod record;
mod schema;
mod sqlite;
mod writer;

pub use record::{execution_status, EventRecord, Execution, RunFilter, RunRecord, Write, EXECUTION_STATUSES};
pub use sqlite::SqliteStore;
pub use writer::{StoreStats, WriteBehind, WriterConfig};

use crate::error::Result;

/// What the engine needs from a database. Implementations: SQLite here; a
/// PostgreSQL one can follow without touching the engine.
pub trait Store: Send {
    /// Applies a batch in one transaction: all of it, or none of it.
    fn apply(&mut self, batch: &[Write]) -> Result<()>;
    fn get_run(&mut self, id: &str) -> Result<Option<RunRecord>>;
    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunRecord>>;
    /// Task executions of a run last written after journal position
    /// `after`, in journal order (`after` 0: all of them).
    fn tasks(&mut self, run_id: &str, after: u64) -> Result<Vec<Execution>>;
    /// Executions of one activation of a task (every item and attempt).
    fn activation(&mut self, run_id: &str, task: &str, step: u32) -> Result<Vec<Execution>>;
    /// The latest snapshot of a run: its journal position and state.
    fn snapshot(&mut self, run_id: &str) -> Result<Option<(u64, String)>>;
    /// An account's balance (`None`: no such account).
    fn balance(&mut self, account: &str) -> Result<Option<i64>>;
    /// Whether a ledger entry with this key exists.
    fn ledger_has(&mut self, key: &str) -> Result<bool>;
    /// A run's journal of events, oldest first.
    fn events(&mut self, run_id: &str) -> Result<Vec<EventRecord>>;
    /// An account's latest ledger entries, newest first.
    fn ledger(&mut self, account: &str, limit: u32) -> Result<Vec<crate::meter::LedgerEntry>>;
    /// Bounds how long a statement waits for a lock another connection (or
    /// process) holds; zero fails at once with a transient `Store` error.
    /// The binding's reader sets zero: a read on the JavaScript thread must
    /// never sit out someone else's lock (its async reads retry off-thread).
    fn set_lock_wait(&mut self, wait: std::time::Duration) -> Result<()> {
        let _ = wait;
        Ok(())
    }
}

/// How much a completion waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Nothing is written: the ephemeral fast path.
    None,
    /// Queued, on disk within the flush interval.
    Batched,
    /// Acknowledged once its batch commits (concurrent completions share a commit).
    Sync,
}

impl Durability {
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "none" => Self::None,
            "batched" => Self::Batched,
            "sync" => Self::Sync,
            other => {
                return Err(crate::error::Error::invalid_value(format!(
                    "unknown durability {other:?}: expected none, batched or sync"
                )))
            }
        })
    }
}
