//! The write-behind queue: writes are queued without I/O on the caller's
//! thread and committed by one background thread, in batches of one
//! transaction each, every `flush_interval` or as soon as a batch is full.
//! A batch that fails for a transient reason (busy, locked, disk full,
//! I/O) is kept and retried with exponential backoff. One that fails for a
//! permanent reason (a constraint, a malformed write) is not retried: it is
//! split by the calls that queued it, and only the calls whose writes the
//! store refuses are set aside, counted and reported (see `set_aside`);
//! nothing is dropped silently. The queue is bounded: past `capacity`
//! writes, `capacity_bytes` bytes, or once its oldest unwritten write is
//! older than `max_unwritten`, it says so ([`WriteBehind::enqueue`] answers
//! `full`, see `bounds`), and the engine waits for it to drain instead of
//! growing it (or the work a crash would lose) without bound. Sequence numbers let a
//! caller wait until everything it queued is on disk (`sync` durability;
//! concurrent waiters share a commit).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::record::Write;
use super::Store;
use crate::error::{Error, Result};

mod batch;
mod bounds;
mod fence;
mod flush;
mod priority;
mod set_aside;
mod stats;

pub use stats::StoreStats;

use bounds::{write_bytes, Ages};
use flush::flush_loop;

#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub flush_interval: Duration,
    /// Writes per transaction at most.
    pub batch_size: usize,
    /// Queued writes past which the engine is asked to wait.
    pub capacity: usize,
    /// Queued bytes (approximate, the batch in flight included) past which the engine is asked to wait.
    pub capacity_bytes: usize,
    /// Age of the oldest unwritten write past which the engine is asked to
    /// wait (at least twice `flush_interval`): what `batched` can lose at a
    /// crash while the store fails.
    pub max_unwritten: Duration,
    /// First retry delay after a failed batch; doubles up to `max_retry_delay`.
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            flush_interval: Duration::from_millis(50),
            batch_size: 10_000,
            capacity: 100_000,
            capacity_bytes: 256 << 20,
            max_unwritten: Duration::from_secs(1),
            retry_delay: Duration::from_millis(10),
            max_retry_delay: Duration::from_secs(2),
        }
    }
}

struct State {
    queue: VecDeque<Write>,
    /// `(first, last)` sequence numbers of each call that queued several
    /// writes: a batch never splits one (a task's completion and its charge
    /// commit together, or not at all).
    groups: VecDeque<(u64, u64)>,
    stats: StoreStats,
    closing: bool,
    /// Someone waits for a commit: flush now rather than at the interval.
    urgent: bool,
    /// The sequence numbers `(first, last)` of the latest calls set aside,
    /// with why: [`WriteBehind::rejection`] answers from here.
    rejections: VecDeque<(u64, u64, String)>,
    /// When the unsettled writes were queued (see `bounds`).
    ages: Ages,
    /// The runs whose writes are checked against their lease (see `fence`).
    fences: fence::Fences,
    /// The flush thread's scheduling (see `priority`).
    priority: priority::Priority,
}

/// Calls set aside that [`WriteBehind::rejection`] remembers.
const REJECTIONS_KEPT: usize = 1024;

struct Shared {
    state: Mutex<State>,
    /// The flush thread waits here for work.
    work: Condvar,
    /// Callers wait here for commits.
    progress: Condvar,
    config: WriterConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // a panic while holding the lock leaves plain counters: keep going
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct WriteBehind {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl WriteBehind {
    /// Starts the flush thread over `store`.
    pub fn start(store: Box<dyn Store>, config: WriterConfig) -> Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                groups: VecDeque::new(),
                stats: StoreStats::default(),
                closing: false,
                urgent: false,
                rejections: VecDeque::new(),
                ages: Ages::default(),
                fences: fence::Fences::default(),
                priority: priority::Priority::default(),
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            config,
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("arcflow-store".into())
            .spawn(move || flush_loop(&worker, store))
            .map_err(|e| Error::Internal(format!("cannot start the store thread: {e}")))?;
        Ok(WriteBehind { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Queues writes; returns the sequence number that covers them and
    /// whether the queue is past its capacity (the caller should wait).
    pub fn enqueue(&self, writes: impl IntoIterator<Item = Write>) -> Result<(u64, bool)> {
        let mut state = self.shared.lock();
        if state.closing {
            return Err(Error::Closed("the store is closed".into()));
        }
        let before = state.queue.len();
        let mut bytes = 0;
        state.queue.extend(writes.into_iter().inspect(|w| bytes += write_bytes(w)));
        let added = (state.queue.len() - before) as u64;
        if added > 1 {
            let first = state.stats.enqueued + 1;
            state.groups.push_back((first, first + added - 1));
        }
        state.stats.enqueued += added;
        state.stats.queue_depth += added;
        state.stats.queue_bytes += bytes as u64;
        let config = &self.shared.config;
        let now = Instant::now();
        let max_unwritten = config.max_unwritten.max(config.flush_interval * 2);
        let oldest = state.ages.oldest(now);
        let full = state.queue.len() >= config.capacity || state.stats.queue_bytes >= config.capacity_bytes as u64 || oldest > max_unwritten;
        if oldest > config.flush_interval * 2 {
            // the flush thread is late (a busy machine starves a SCHED_IDLE thread): at nice 10 until it keeps up
            state.priority.waited();
        }
        if added > 0 {
            let last = state.stats.enqueued;
            state.ages.queued(last, now);
        }
        if state.queue.len() >= self.shared.config.batch_size || full {
            self.shared.work.notify_one();
        }
        Ok((state.stats.enqueued, full))
    }

    pub fn stats(&self) -> StoreStats {
        self.shared.lock().stats.clone()
    }

    /// Blocks until `settled` differs from `seen` (a commit, or writes set
    /// aside; or `timeout` passes, or the store closes); returns the stats
    /// then. A waiter makes the flush thread commit what is queued now
    /// instead of at the interval; one caller waits for every pending
    /// `sync` completion, so concurrent completions share a commit (group
    /// commit).
    pub fn wait_progress(&self, seen: u64, timeout: Duration) -> StoreStats {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        if state.stats.settled == seen {
            // a batch in flight too: it commits at the flush thread's waited-for priority
            state.priority.waited();
            if !state.queue.is_empty() {
                state.urgent = true;
                self.shared.work.notify_one();
            }
        }
        while state.stats.settled == seen && !state.stats.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self.shared.progress.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        state.stats.clone()
    }

    /// Waits (at most `timeout`) until every write queued so far is
    /// committed, so that a read sees this process's own writes; false if
    /// the store did not get there in time (it is failing, or closed) or
    /// set some of them aside.
    pub fn settle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (from, target) = {
            let mut state = self.shared.lock();
            state.stats.blocking_waits += 1;
            (state.stats.settled, state.stats.enqueued)
        };
        loop {
            let stats = self.stats();
            if stats.settled >= target {
                return target == from || self.rejection(from + 1, target).is_none();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stats.closed {
                return false;
            }
            self.wait_progress(stats.settled, left);
        }
    }

    /// Why writes in `first..=last` (sequence numbers) were set aside, if
    /// any was (as far as the last 1,024 calls set aside go).
    /// A waiter that woke for its sequence number asks here whether its
    /// writes were committed.
    pub fn rejection(&self, first: u64, last: u64) -> Option<String> {
        let state = self.shared.lock();
        state.rejections.iter().rev().find(|(f, l, _)| *f <= last && first <= *l).map(|(_, _, why)| why.clone())
    }

    /// Asks the flush thread to commit everything queued and stop, without
    /// waiting (see `stats().closed`); later writes are refused.
    pub fn request_close(&self) {
        let mut state = self.shared.lock();
        state.closing = true;
        state.priority.waited();
        self.shared.work.notify_one();
    }

    /// Whether the flush thread runs `SCHED_IDLE` now (Linux; nothing
    /// waits for its commits: see `priority`), for diagnostics and tests.
    pub fn flush_thread_idle(&self) -> bool {
        self.shared.lock().priority.is_idle()
    }

    /// Commits everything queued so far, then stops the thread. Loses
    /// nothing: a batch failing for a transient reason keeps being retried
    /// (one the store refuses for good is set aside and reported).
    pub fn close(&self) {
        self.request_close();
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for WriteBehind {
    /// Asks the flush thread to commit what is queued and stop, without
    /// waiting for it: a drop can happen at process teardown, where waiting
    /// on a failing store would hang the exit. [`WriteBehind::close`] waits.
    fn drop(&mut self) {
        self.request_close();
    }
}
