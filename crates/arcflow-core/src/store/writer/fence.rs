//! Fencing: the runs a worker holds under a lease, by epoch. The flush
//! thread hands the store the fences of the runs a batch writes; the store
//! checks each against the run's row in the batch's transaction and drops
//! every write of a run another worker took over (its charges included),
//! answering which. Such a run is reported lost once ([`WriteBehind::take_lost`])
//! and stays fenced, so that its writes still queued are refused too,
//! until the worker lets go of it ([`WriteBehind::unfence`]). A fence goes
//! by itself once its run's end commits.

use std::collections::{HashMap, HashSet};

use super::{Shared, WriteBehind};
use crate::store::{Fence, Write};

/// A fenced run's holder.
#[derive(Debug, Clone)]
pub(super) struct Held {
    owner: String,
    epoch: u64,
    /// Refused once already (reported lost).
    lost: bool,
}

/// The fences, under the queue's lock.
#[derive(Debug, Default)]
pub(super) struct Fences {
    held: HashMap<String, Held>,
    lost: Vec<(String, u64)>,
}

impl WriteBehind {
    /// From now on, every write of run `run_id` commits only while the
    /// run's row says `owner` holds it at `epoch` (see the module's doc).
    pub fn fence(&self, run_id: &str, owner: &str, epoch: u64) {
        let held = Held { owner: owner.to_owned(), epoch, lost: false };
        self.shared.lock().fences.held.insert(run_id.to_owned(), held);
    }

    /// [`WriteBehind::fence`] for each run `(id, epoch)` of one claim, under one lock.
    pub fn fence_all<'a>(&self, owner: &str, runs: impl IntoIterator<Item = (&'a str, u64)>) {
        let mut state = self.shared.lock();
        for (run_id, epoch) in runs {
            state.fences.held.insert(run_id.to_owned(), Held { owner: owner.to_owned(), epoch, lost: false });
        }
    }

    /// Writes of `run_id` are no longer checked.
    pub fn unfence(&self, run_id: &str) {
        self.shared.lock().fences.held.remove(run_id);
    }

    /// The runs `(id, epoch)` whose writes were refused since the last
    /// call: another worker holds them now.
    pub fn take_lost(&self) -> Vec<(String, u64)> {
        std::mem::take(&mut self.shared.lock().fences.lost)
    }
}

/// The fences of the runs `batch` writes (none, and no walk of the batch,
/// when nothing is fenced: the usual case). The JS thread queues writes
/// under the same lock, so the batch is walked off it: under it, one
/// lookup per run the batch writes, not a copy of every fence.
pub(super) fn of_batch(shared: &Shared, batch: &[Write]) -> Vec<Fence> {
    if shared.lock().fences.held.is_empty() {
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let runs: Vec<&str> = batch.iter().filter_map(Write::run_id).filter(|run| seen.insert(*run)).collect();
    let state = shared.lock();
    runs.into_iter()
        .filter_map(|run| {
            let h = state.fences.held.get(run)?;
            Some(Fence { run_id: run.to_owned(), owner: h.owner.clone(), epoch: h.epoch })
        })
        .collect()
}

/// `batch` committed under `fences`, less the writes of the runs `lost`:
/// reports those (once each), and lets go of the runs whose end committed.
pub(super) fn settled(shared: &Shared, batch: &[Write], fences: &[Fence], lost: &[String]) {
    if fences.is_empty() {
        return;
    }
    // indexed off the lock (see `of_batch`): the ends of a batch of hundreds
    // of runs are checked in one pass, not each against every fence
    let by_run: HashMap<&str, &Fence> = fences.iter().map(|f| (f.run_id.as_str(), f)).collect();
    let lost_runs: HashSet<&str> = lost.iter().map(String::as_str).collect();
    let ends: Vec<(&str, &Fence)> = batch
        .iter()
        .filter_map(|w| match w {
            Write::RunEnded { id, .. } if !lost_runs.contains(id.as_str()) => by_run.get(id.as_str()).map(|f| (id.as_str(), *f)),
            _ => None,
        })
        .collect();
    let mut state = shared.lock();
    for run in lost {
        let Some(held) = state.fences.held.get_mut(run) else { continue };
        if !held.lost {
            held.lost = true;
            let epoch = held.epoch;
            state.fences.lost.push((run.clone(), epoch));
            state.stats.lost_leases += 1;
        }
    }
    for (id, f) in ends {
        // the end of the fence this batch was checked under (not a newer claim's)
        if state.fences.held.get(id).is_some_and(|h| h.epoch == f.epoch && h.owner == f.owner) {
            state.fences.held.remove(id);
        }
    }
}
