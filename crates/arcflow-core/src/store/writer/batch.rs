//! How the flush thread cuts the queue into batches (never splitting the
//! writes of one call) and merges, within a batch, an execution's
//! `running` write into the write that ends it.

use std::collections::HashMap;

use super::State;
use crate::store::Write;

/// How many writes the next batch takes: at most `batch_size`, unless that
/// would split the writes of one call (then the whole call's writes).
pub(super) fn batch_len(state: &mut State, batch_size: usize) -> usize {
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
/// chain of short tasks. Answers the merged pairs `(first, last)`, as
/// indices in the batch before.
pub(super) fn coalesce(batch: &mut Vec<Write>) -> Vec<(usize, usize)> {
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
        return merged;
    }
    let mut skip = vec![false; batch.len()];
    for &(first, last) in &merged {
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
    merged
}

/// Which writes of the coalesced `batch` are the first ever of their
/// execution: a `running` write (a task starts), and a write that ended an
/// execution whose `running` write it absorbed (`merged`, as [`coalesce`]
/// answered). A store may insert their rows outright rather than upsert
/// them (see `Store::apply_fresh`).
pub(super) fn fresh(batch: &[Write], merged: &[(usize, usize)]) -> Vec<bool> {
    let mut fresh: Vec<bool> = batch.iter().map(|w| matches!(w, Write::Task(e) if e.status == "running")).collect();
    let mut absorbed: Vec<usize> = merged.iter().map(|&(first, _)| first).collect();
    absorbed.sort_unstable();
    for &(_, last) in merged {
        // its index once the absorbed writes before it left the batch
        fresh[last - absorbed.partition_point(|&a| a < last)] = true;
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Execution;

    fn task(name: &str, status: &'static str) -> Write {
        Write::Task(Execution {
            run_id: "r".into(),
            task: name.into(),
            step: 1,
            item: -1,
            attempt: 1,
            status,
            payload: None,
            input: None,
            started_at: None,
            ended_at: None,
            jseq: 0,
        })
    }

    #[test]
    fn fresh_writes_are_starts_and_ends_that_absorbed_their_start() {
        // a starts and ends here; b ended (its start in an earlier batch); c only starts
        let mut batch = vec![task("a", "running"), task("b", "succeeded"), task("c", "running"), task("a", "succeeded")];
        let merged = coalesce(&mut batch);
        assert_eq!(merged, [(0, 3)]);
        let names: Vec<&str> = batch.iter().map(|w| if let Write::Task(e) = w { &*e.task } else { "" }).collect();
        assert_eq!(names, ["b", "c", "a"]);
        assert_eq!(fresh(&batch, &merged), [false, true, true]);
    }
}
