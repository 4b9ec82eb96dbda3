//! Idempotent starts across processes (issue 14): a key's claim is one row
//! of `start_keys (key PRIMARY KEY, run_id, claimed_at)`, taken or read in
//! one transaction, so that of any number of processes starting one key at
//! once exactly one run starts. `runs.start_key` (see `links.rs`) stays the
//! history's record of which runs a key started.
//!
//! A claim replaces the row it finds when that row no longer answers:
//! - it is older than the retention;
//! - its run failed, was cancelled or timed out (a key is retried after a failure);
//! - its run is the one the claimer knows ended that way, though the store
//!   does not say so yet (its end still queued in this process);
//! - its run never reached the store within [`ORPHAN_CLAIM_MS`] (the
//!   claiming process died between its claim and its first flush).
//!
//! The claim is synchronous because `engine.start` answers a run (and its
//! id) at once: which run a key names must be known before it returns.
//!
//! Its times are the store's clock (PostgreSQL's for every process on the
//! database, so a skewed machine neither keeps a key past its retention nor
//! gives it up early), unless the request names one (tests).

use serde::Serialize;

use super::record::RunRecord;

/// A claim whose run never reached the store this long after it was made is
/// given up (documented in the README).
pub const ORPHAN_CLAIM_MS: i64 = 60_000;

/// How long a claim waits for another connection's lock before it fails
/// with a transient error (it runs on the JavaScript thread).
pub const CLAIM_LOCK_WAIT_MS: u64 = 5_000;

/// A claim of `key` for the run `run_id` that is about to start.
#[derive(Debug, Clone, Copy)]
pub struct StartKeyRequest<'a> {
    pub key: &'a str,
    pub run_id: &'a str,
    /// `None`: now, by the store's clock (the database's on PostgreSQL); a
    /// time in ms since the epoch claims as if it were then (tests).
    pub now_ms: Option<i64>,
    /// How long a claim answers its run (from when it was made).
    pub retention_ms: i64,
    /// A run of this key the claimer knows did not succeed: its row may be replaced.
    pub superseded: Option<&'a str>,
}

impl StartKeyRequest<'_> {
    /// Claims made before this (`now` the claim's time) no longer answer.
    pub fn retained_since(&self, now: i64) -> i64 {
        now.saturating_sub(self.retention_ms)
    }

    /// A claim made before this whose run is not in the store is given up.
    pub fn orphaned_before(now: i64) -> i64 {
        now.saturating_sub(ORPHAN_CLAIM_MS)
    }
}

/// What a claim answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "claim", rename_all = "camelCase")]
pub enum StartKeyClaim {
    /// The key names the requested run now: it starts.
    Claimed,
    /// The key names another run: its id, and its record once the store has it.
    #[serde(rename_all = "camelCase")]
    Taken { run_id: String, run: Option<Box<RunRecord>> },
}
