//! What the write-behind queue reports: `engine.stats().store`.

use serde::Serialize;

/// `engine.stats()`'s store part.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    /// Writes queued and not yet committed (the batch in flight included).
    pub queue_depth: u64,
    /// Their approximate size in bytes.
    pub queue_bytes: u64,
    pub enqueued: u64,
    pub committed: u64,
    /// Writes done with, in queue order: every write up to this sequence
    /// number is committed or set aside (`committed + rejected`). Waiters
    /// wait on this.
    pub settled: u64,
    /// Writes set aside for good: the store refused them with a permanent
    /// error (see `rejection`).
    pub rejected: u64,
    pub batches: u64,
    pub retries: u64,
    /// Milliseconds since the epoch of the last commit.
    pub last_flush_at: Option<i64>,
    pub last_flush_ms: Option<f64>,
    pub last_flush_rows: u64,
    /// The last failure, while the store is failing.
    pub failing: Option<String>,
    /// `failing` is permanent: the writes it names were set aside, not retried.
    pub permanent: bool,
    /// The last permanent failure and the writes it set aside, kept once
    /// the store moves on.
    pub rejection: Option<String>,
    pub closed: bool,
    /// Calls that waited on their own thread for queued writes to commit
    /// ([`WriteBehind::settle`]): a read or start that must not block the
    /// JavaScript thread never adds to it.
    pub blocking_waits: u64,
    /// Fenced runs whose writes were refused: another worker took them
    /// over (their lease was lost). Their refused writes count as committed.
    pub lost_leases: u64,
}
