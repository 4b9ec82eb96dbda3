//! A run that starts and ends in one phase of a batch (a short run: the
//! usual claimed one) is written once, ended: one row version of `runs`,
//! not an insert or update to `running` and another to its end, each
//! writing every index of `runs` (a status change is never a HOT update).

use std::collections::{HashMap, HashSet};

use super::columns::{Ends, Starts};

/// Which runs of a phase start and end in it: their starts with their
/// ends (`g`, `ends`, in the same order), and the starts and ends of the others.
#[derive(Default)]
pub(super) struct Folds<'a> {
    pub(super) g: Starts<'a>,
    pub(super) ends: Ends<'a>,
    pub(super) rest: Starts<'a>,
    pub(super) rest_ends: Ends<'a>,
}

impl<'a> Folds<'a> {
    pub(super) fn of(starts: &Starts<'a>, ends: &Ends<'a>) -> Self {
        let mut f = Folds::default();
        if ends.id.is_empty() {
            return f;
        }
        // a phase holds at most one end of a run (a later one begins a new phase)
        let end_of: HashMap<&str, usize> = ends.id.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut folded = HashSet::new();
        for (i, id) in starts.id.iter().enumerate() {
            let (to, end) = match end_of.get(id) {
                Some(&e) => {
                    folded.insert(*id);
                    (&mut f.g, Some(e))
                }
                None => (&mut f.rest, None),
            };
            to.id.push(id);
            to.workflow.push(starts.workflow[i]);
            to.input.push(starts.input[i]);
            to.started_at.push(starts.started_at[i]);
            to.account.push(starts.account[i]);
            to.workflow_hash.push(starts.workflow_hash[i]);
            if let Some(e) = end {
                f.ends.push_end(ends, e);
            }
        }
        for (i, id) in ends.id.iter().enumerate() {
            if !folded.contains(id) {
                f.rest_ends.push_end(ends, i);
            }
        }
        f
    }
}

impl<'a> Ends<'a> {
    /// Copies end `i` of `from` (its `abandoned` part stays with `from`: those run as they did).
    fn push_end(&mut self, from: &Ends<'a>, i: usize) {
        self.id.push(from.id[i]);
        self.status.push(from.status[i]);
        self.output.push(from.output[i]);
        self.error.push(from.error[i]);
        self.ended_at.push(from.ended_at[i]);
    }
}

/// A run that started and ended in one phase: inserted ended, or (a
/// claimed or resumed run, its row there) updated once to its end, as
/// `RUNS_STARTED` then `RUNS_ENDED` would leave it.
pub(super) const RUNS_STARTED_ENDED: &str = "
INSERT INTO runs (id, workflow, status, input, started_at, account, workflow_hash, output, error, ended_at)
SELECT * FROM unnest($1::text[], $2::text[], $7::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
                     $8::text[], $9::text[], $10::bigint[])
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, output = EXCLUDED.output, error = EXCLUDED.error,
  ended_at = EXCLUDED.ended_at, waiting_since = NULL, owner = NULL, lease_until = NULL,
  workflow_hash = COALESCE(EXCLUDED.workflow_hash, runs.workflow_hash)";
