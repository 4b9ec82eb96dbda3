//! The flush thread (`arcflow-store`): it waits for a batch (the interval,
//! a full batch, a waiter, or the close), takes it off the queue under the
//! lock, and commits it off the lock, retrying transient failures with
//! backoff; a permanent failure goes to `set_aside`.

use std::collections::VecDeque;
use std::time::Instant;

use super::batch::{batch_len, coalesce, fresh};
use super::bounds::write_bytes;
use super::{fence, set_aside, Shared, REJECTIONS_KEPT};
use crate::error::{Error, Result};
use crate::store::{Fence, Store, Write};
use crate::time::now_ms;

pub(super) fn flush_loop(shared: &Shared, mut store: Box<dyn Store>) {
    shared.lock().priority.start();
    let config = &shared.config;
    loop {
        let (batch, base): (VecDeque<Write>, u64) = {
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
            let late = state.ages.oldest(Instant::now()) > config.flush_interval * 2;
            if state.urgent || state.closing || late {
                state.priority.waited();
            } else {
                state.priority.background();
            }
            state.urgent = false;
            let n = batch_len(&mut state, config.batch_size);
            // the sequence number of the last write before the batch
            let base = state.stats.enqueued - state.queue.len() as u64;
            // O(1) when the batch is the whole queue (the usual case when the
            // thread keeps up); callers wait on this lock, so nothing here
            // walks the batch
            let batch = if n == state.queue.len() {
                // the next writes need room at once: the queue keeps a batch's capacity
                std::mem::replace(&mut state.queue, VecDeque::with_capacity(config.batch_size.min(n.max(64))))
            } else {
                let rest = state.queue.split_off(n);
                std::mem::replace(&mut state.queue, rest)
            };
            (batch, base)
        };
        let mut batch = Vec::from(batch);
        let n = batch.len();
        // off the lock: the bytes the batch held, given back once it is done with
        let bytes: u64 = batch.iter().map(|w| write_bytes(w) as u64).sum();
        let merged = coalesce(&mut batch);
        let fresh = fresh(&batch, &merged);
        let started = Instant::now();
        let fences = fence::of_batch(shared, &batch);
        match apply_retrying(shared, &mut *store, &batch, &fences, &fresh) {
            Ok(()) => committed(shared, n as u64, started),
            Err(err) => {
                let units = set_aside::units(shared, batch.len(), n, base, &merged);
                set_aside::split_and_apply(shared, &mut *store, &batch, &fences, &units, err)
            }
        }
        drop(batch);
        let mut state = shared.lock();
        state.stats.queue_bytes = state.stats.queue_bytes.saturating_sub(bytes);
    }
}

/// Applies `writes` in one transaction, retrying transient failures with
/// backoff for as long as they last; answers a permanent failure. With
/// `fences` (of runs `writes` holds), the writes of runs fenced out are
/// dropped and reported (see `fence`); without, the store's plain `apply`.
/// `fresh`: the writes first of their execution (see `batch::fresh`; empty: none said).
pub(super) fn apply_retrying(shared: &Shared, store: &mut dyn Store, writes: &[Write], fences: &[Fence], fresh: &[bool]) -> Result<()> {
    let config = &shared.config;
    let mut delay = config.retry_delay;
    loop {
        let applied = store.apply_fresh(writes, fences, fresh);
        match applied {
            Ok(lost) => {
                fence::settled(shared, writes, fences, &lost);
                return Ok(());
            }
            Err(err @ Error::Store { transient: true, .. }) => {
                {
                    let mut state = shared.lock();
                    state.stats.retries += 1;
                    state.stats.failing = Some(err.to_string());
                    state.stats.permanent = false;
                    shared.progress.notify_all();
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(config.max_retry_delay);
            }
            Err(err) => return Err(err),
        }
    }
}

/// `writes` queued writes (coalesced or not) are committed, in one
/// transaction begun at `started`.
pub(super) fn committed(shared: &Shared, writes: u64, started: Instant) {
    let mut state = shared.lock();
    let stats = &mut state.stats;
    stats.committed += writes;
    stats.settled += writes;
    stats.queue_depth -= writes;
    stats.batches += 1;
    stats.last_flush_at = Some(now_ms());
    stats.last_flush_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    stats.last_flush_rows = writes;
    stats.failing = None;
    stats.permanent = false;
    let settled = stats.settled;
    state.ages.settled(settled);
    shared.progress.notify_all();
}

/// `writes` queued writes, those of the calls `first..=last`, are set aside
/// for good: `err` is permanent.
pub(super) fn rejected(shared: &Shared, writes: u64, (first, last): (u64, u64), err: &Error) {
    let why = format!("writes {first}..={last} set aside, not retried (a permanent error): {err}");
    let mut state = shared.lock();
    let stats = &mut state.stats;
    stats.rejected += writes;
    stats.settled += writes;
    stats.queue_depth -= writes;
    stats.failing = Some(why.clone());
    stats.permanent = true;
    stats.rejection = Some(why.clone());
    if state.rejections.len() == REJECTIONS_KEPT {
        state.rejections.pop_front();
    }
    state.rejections.push_back((first, last, why));
    let settled = state.stats.settled;
    state.ages.settled(settled);
    shared.progress.notify_all();
}
