//! What bounds the queue besides its count of writes: its bytes (a fresh
//! 20 MB variable per step under a full disk must not grow memory without
//! bound) and the age of its oldest unwritten write (`batched` on a failing
//! disk must not acknowledge minutes of work that a crash would lose).
//! Either makes [`WriteBehind::enqueue`](super::WriteBehind::enqueue) answer
//! `full`: the engine waits for the commit, as under backpressure.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::store::Write;

/// Fixed cost of a queued write besides its text (the enum, keys, numbers).
const WRITE_OVERHEAD: usize = 64;

/// A write's approximate size in memory: its text, plus a fixed overhead.
pub(super) fn write_bytes(write: &Write) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    WRITE_OVERHEAD
        + match write {
            Write::RunStarted { id, workflow, input, account, workflow_hash, .. } => id.len() + workflow.len() + input.len() + opt(account) + opt(workflow_hash),
            Write::Task(e) => opt(&e.payload) + opt(&e.input),
            Write::Var { run_id, name, value } => run_id.len() + name.len() + value.len(),
            Write::Snapshot { run_id, state, .. } => run_id.len() + state.len(),
            Write::RunEnded { id, status, output, error, .. } => id.len() + status.len() + opt(output) + opt(error),
            Write::Ledger(_) => 0,
            Write::Event(e) => e.run_id.len() + e.kind.len() + e.message.len() + opt(&e.data),
            Write::Workflow { name, hash, definition, .. } => name.len() + hash.len() + definition.len(),
            Write::RunLinks { id, parent_id, parent_task, start_key } => id.len() + opt(parent_id) + opt(parent_task) + opt(start_key),
            Write::CachePut { workflow, task, key, value, .. } => workflow.len() + task.len() + key.len() + value.len(),
            Write::CacheClear { workflow, task } => opt(workflow) + opt(task),
            Write::RunWaiting { id, .. } => id.len(),
        }
}

/// When each call's writes were queued, as `(last sequence number, when)`,
/// until they are settled: the front is the oldest unwritten write.
#[derive(Default)]
pub(super) struct Ages {
    queued: VecDeque<(u64, Instant)>,
}

impl Ages {
    pub(super) fn queued(&mut self, last: u64, at: Instant) {
        self.queued.push_back((last, at));
    }

    /// Every write up to `settled` is done with.
    pub(super) fn settled(&mut self, settled: u64) {
        while self.queued.front().is_some_and(|&(last, _)| last <= settled) {
            self.queued.pop_front();
        }
    }

    /// How long the oldest unwritten write has waited, at `now`.
    pub(super) fn oldest(&self, now: Instant) -> Duration {
        self.queued.front().map_or(Duration::ZERO, |&(_, at)| now.saturating_duration_since(at))
    }
}
