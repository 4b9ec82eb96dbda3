//! What the flush thread does with a batch the store refused for good (a
//! permanent error: a constraint, a malformed write, a schema it cannot
//! write). Retrying it would loop forever and hold back every write queued
//! after it; dropping it would lose writes that are fine. So the batch is
//! split by the calls that queued it (a *unit*: the writes of one
//! `enqueue`, which commit together or not at all) and applied in halves,
//! in queue order: a half that commits is done, a half that fails is split
//! again, and a single unit that fails is set aside: counted in
//! `rejected`, reported in `failing` / `rejection`, and answered by
//! [`WriteBehind::rejection`](super::WriteBehind::rejection). Its waiters
//! wake (`settled` passes it) and can see that. A bad write costs about
//! `2 log2(units)` extra transactions, not one per unit.
//!
//! A `running` write merged into the write that ends it (see `coalesce`)
//! shares that write's fate: it is counted with the unit of the end.

use std::time::Instant;

use super::flush::{apply_retrying, committed, rejected};
use super::Shared;
use crate::error::Error;
use crate::store::{Fence, Store, Write};

/// The writes of one `enqueue` call, in the coalesced batch.
pub(super) struct Unit {
    /// `start..end` in the coalesced batch.
    start: usize,
    end: usize,
    /// Queued writes it stands for (merged `running` writes included).
    writes: u64,
    /// Its sequence numbers, `(first, last)`.
    seqs: (u64, u64),
}

/// `units` (the calls of `batch`, see [`units`]) failed together with the
/// permanent `err`: applies each half on its own (under the batch's
/// `fences`), and sets aside a single call that fails.
pub(super) fn split_and_apply(shared: &Shared, store: &mut dyn Store, batch: &[Write], fences: &[Fence], units: &[Unit], err: Error) {
    if let [unit] = units {
        rejected(shared, unit.writes, unit.seqs, &err);
        return;
    }
    let (left, right) = units.split_at(units.len() / 2);
    for half in [left, right] {
        if let Err(err) = apply_units(shared, store, batch, fences, half) {
            split_and_apply(shared, store, batch, fences, half, err);
        }
    }
}

/// Applies consecutive units in one transaction (transient failures retried).
fn apply_units(shared: &Shared, store: &mut dyn Store, batch: &[Write], fences: &[Fence], units: &[Unit]) -> crate::error::Result<()> {
    let (Some(first), Some(last)) = (units.first(), units.last()) else { return Ok(()) };
    let started = Instant::now();
    apply_retrying(shared, store, &batch[first.start..last.end], fences, &[])?;
    committed(shared, units.iter().map(|u| u.writes).sum(), started);
    Ok(())
}

/// Cuts the coalesced batch (`len` writes, from `n` queued after sequence
/// number `base`; `merged` as [`super::batch::coalesce`] answered) into units.
pub(super) fn units(shared: &Shared, len: usize, n: usize, base: u64, merged: &[(usize, usize)]) -> Vec<Unit> {
    // the queued writes each survivor stands for, and where it was queued
    let mut stands_for = vec![1u64; n];
    let mut kept = vec![true; n];
    for &(first, last) in merged {
        kept[first] = false;
        stands_for[last] += 1;
    }
    let queued: Vec<usize> = (0..n).filter(|&i| kept[i]).collect();
    debug_assert_eq!(queued.len(), len);
    // the calls that queued several writes, within the batch (a batch
    // never splits one, so each lies wholly inside or outside)
    let groups: Vec<(u64, u64)> = {
        let state = shared.lock();
        state.groups.iter().copied().filter(|&(first, _)| first > base && first <= base + n as u64).collect()
    };
    let mut units: Vec<Unit> = Vec::new();
    let mut group = groups.iter().peekable();
    for (at, &i) in queued.iter().enumerate() {
        let seq = base + 1 + i as u64;
        while group.next_if(|&&(_, last)| last < seq).is_some() {}
        let seqs = match group.peek() {
            Some(&&(first, last)) if first <= seq => (first, last),
            _ => (seq, seq),
        };
        match units.last_mut() {
            Some(unit) if unit.seqs == seqs => {
                unit.end = at + 1;
                unit.writes += stands_for[i];
            }
            _ => units.push(Unit { start: at, end: at + 1, writes: stands_for[i], seqs }),
        }
    }
    units
}
