//! The write-behind queue: writes are queued without I/O on the caller's
//! thread and committed by one background thread, in batches of one
//! transaction each, every `flush_interval` or as soon as a batch is full.
//! A failed batch is kept and retried with exponential backoff, never
//! dropped. The queue is bounded: past `capacity` it says so
//! ([`WriteBehind::enqueue`] returns `true`), and the engine waits for it
//! to drain instead of growing it without bound. Sequence numbers let a
//! caller wait until everything it queued is on disk (`sync` durability;
//! concurrent waiters share a commit).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::record::Write;
use super::Store;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub flush_interval: Duration,
    /// Writes per transaction at most.
    pub batch_size: usize,
    /// Queued writes past which the engine is asked to wait.
    pub capacity: usize,
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
            retry_delay: Duration::from_millis(10),
            max_retry_delay: Duration::from_secs(2),
        }
    }
}

/// `engine.stats()`'s store part.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    /// Writes queued and not yet committed (the batch in flight included).
    pub queue_depth: u64,
    pub enqueued: u64,
    pub committed: u64,
    pub batches: u64,
    pub retries: u64,
    /// Milliseconds since the epoch of the last commit.
    pub last_flush_at: Option<i64>,
    pub last_flush_ms: Option<f64>,
    pub last_flush_rows: u64,
    /// The last failure, while the store is failing.
    pub failing: Option<String>,
    pub closed: bool,
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
}

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

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
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
        state.queue.extend(writes);
        let added = (state.queue.len() - before) as u64;
        if added > 1 {
            let first = state.stats.enqueued + 1;
            state.groups.push_back((first, first + added - 1));
        }
        state.stats.enqueued += added;
        state.stats.queue_depth += added;
        let full = state.queue.len() >= self.shared.config.capacity;
        if state.queue.len() >= self.shared.config.batch_size || full {
            self.shared.work.notify_one();
        }
        Ok((state.stats.enqueued, full))
    }

    pub fn stats(&self) -> StoreStats {
        self.shared.lock().stats.clone()
    }

    /// Blocks until `committed` differs from `seen` (or `timeout` passes,
    /// or the store closes); returns the stats then. A waiter makes the
    /// flush thread commit what is queued now instead of at the interval;
    /// one caller waits for every pending `sync` completion, so concurrent
    /// completions share a commit (group commit).
    pub fn wait_progress(&self, seen: u64, timeout: Duration) -> StoreStats {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        if state.stats.committed == seen && !state.queue.is_empty() {
            state.urgent = true;
            self.shared.work.notify_one();
        }
        while state.stats.committed == seen && !state.stats.closed {
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
    /// the store did not get there in time (it is failing, or closed).
    pub fn settle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let target = self.stats().enqueued;
        loop {
            let stats = self.stats();
            if stats.committed >= target {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stats.closed {
                return false;
            }
            self.wait_progress(stats.committed, left);
        }
    }

    /// Asks the flush thread to commit everything queued and stop, without
    /// waiting (see `stats().closed`); later writes are refused.
    pub fn request_close(&self) {
        self.shared.lock().closing = true;
        self.shared.work.notify_one();
    }

    /// Commits everything queued so far, then stops the thread. Loses nothing:
    /// a failing batch keeps being retried.
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

/// How many writes the next batch takes: at most `batch_size`, unless that
/// would split the writes of one call (then the whole call's writes).
fn batch_len(state: &mut State, batch_size: usize) -> usize {
    // the sequence number of the last write before the queue's front
    let base = state.stats.enqueued - state.queue.len() as u64;
    while state.groups.front().is_some_and(|&(_, last)| last <= base) {
        state.groups.pop_front();
    }
    let mut n = state.queue.len().min(batch_size);
    let cut = base + n as u64;
    for &(first, last) in &state.groups {
        if first > cut {
            break;
        }
        if cut < last {
            n = (last - base) as usize;
            break;
        }
    }
    n
}

/// A batch often holds both the `running` write of an execution and the
/// write that ends it (a task shorter than the flush interval): only the
/// last is applied, with the start time of the first. Half the rows for a
/// chain of short tasks.
fn coalesce(batch: &mut Vec<Write>) {
    let mut open: HashMap<(&str, &str, u32, i64, u32), usize> = HashMap::new();
    let mut merged = Vec::new();
    for (i, write) in batch.iter().enumerate() {
        if let Write::Task(e) = write {
            if e.status == "running" {
                open.insert(e.key(), i);
            } else if let Some(first) = open.remove(&e.key()) {
                merged.push((first, i));
            }
        }
    }
    drop(open);
    if merged.is_empty() {
        return;
    }
    let mut skip = vec![false; batch.len()];
    for (first, last) in merged {
        let (started, input) = match &mut batch[first] {
            Write::Task(e) => (e.started_at, e.input.take()),
            _ => (None, None),
        };
        if let Write::Task(e) = &mut batch[last] {
            e.started_at = e.started_at.or(started);
            e.input = e.input.take().or(input);
        }
        skip[first] = true;
    }
    let mut index = 0;
    batch.retain(|_| {
        index += 1;
        !skip[index - 1]
    });
}

/// The flush thread yields the CPU to the event loop: on a machine with few
/// cores, a commit competing at equal priority shows up as event-loop delay.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's own id, with a valid nice value
    unsafe {
        // the raw syscall: glibc's gettid() wrapper needs glibc 2.30
        libc::setpriority(libc::PRIO_PROCESS, libc::syscall(libc::SYS_gettid) as libc::id_t, 10);
    }
}

fn flush_loop(shared: &Shared, mut store: Box<dyn Store>) {
    lower_priority();
    let config = &shared.config;
    loop {
        let batch: VecDeque<Write> = {
            let mut state = shared.lock();
            let deadline = Instant::now() + config.flush_interval;
            while state.queue.len() < config.batch_size && !state.closing && !state.urgent {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = shared.work.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
            }
            if state.queue.is_empty() {
                if state.closing {
                    state.stats.closed = true;
                    shared.progress.notify_all();
                    return;
                }
                continue;
            }
            state.urgent = false;
            let n = batch_len(&mut state, config.batch_size);
            // O(1) when the batch is the whole queue (the usual case when the
            // thread keeps up); callers wait on this lock, so nothing here
            // walks the batch
            if n == state.queue.len() {
                // the next writes need room at once: the queue keeps a batch's capacity
                std::mem::replace(&mut state.queue, VecDeque::with_capacity(config.batch_size.min(n.max(64))))
            } else {
                let rest = state.queue.split_off(n);
                std::mem::replace(&mut state.queue, rest)
            }
        };
        let batch = Vec::from(batch);
        let n = batch.len() as u64;
        let mut batch = batch;
        coalesce(&mut batch);
        let mut delay = config.retry_delay;
        loop {
            let started = Instant::now();
            match store.apply(&batch) {
                Ok(()) => {
                    let mut state = shared.lock();
                    let stats = &mut state.stats;
                    stats.committed += n;
                    stats.queue_depth -= n;
                    stats.batches += 1;
                    stats.last_flush_at = Some(now_ms());
                    stats.last_flush_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                    stats.last_flush_rows = n;
                    stats.failing = None;
                    shared.progress.notify_all();
                    break;
                }
                Err(err) => {
                    {
                        let mut state = shared.lock();
                        state.stats.retries += 1;
                        state.stats.failing = Some(err.to_string());
                        shared.progress.notify_all();
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(config.max_retry_delay);
                }
            }
        }
    }
}
