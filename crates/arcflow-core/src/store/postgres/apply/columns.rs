//! The columns a phase of a batch sends (`apply.rs`): one array per
//! column of each statement, gathered write by write.

use std::collections::HashSet;

use crate::store::record::Execution;

#[derive(Default)]
pub(super) struct Starts<'a> {
    pub(super) id: Vec<&'a str>,
    pub(super) workflow: Vec<&'a str>,
    pub(super) input: Vec<&'a str>,
    pub(super) started_at: Vec<i64>,
    pub(super) account: Vec<Option<&'a str>>,
    pub(super) workflow_hash: Vec<Option<&'a str>>,
}

/// Workflow versions: once per (name, hash), whatever is written again.
#[derive(Default)]
pub(super) struct Versions<'a> {
    pub(super) seen: HashSet<(&'a str, &'a str)>,
    pub(super) name: Vec<&'a str>,
    pub(super) hash: Vec<&'a str>,
    pub(super) definition: Vec<&'a str>,
    pub(super) at: Vec<i64>,
}

/// An execution's writes of one phase, folded into the row they make.
pub(super) struct Folded<'a> {
    pub(super) run_id: &'a str,
    pub(super) task: &'a str,
    pub(super) step: u32,
    pub(super) item: i64,
    pub(super) attempt: u32,
    pub(super) status: &'a str,
    pub(super) payload: Option<&'a str>,
    pub(super) input: Option<&'a str>,
    pub(super) started_at: Option<i64>,
    pub(super) ended_at: Option<i64>,
    pub(super) jseq: u64,
    /// The execution's first write ever is in this phase: its row is new.
    pub(super) fresh: bool,
}

impl<'a> Folded<'a> {
    pub(super) fn of(e: &'a Execution, fresh: bool) -> Self {
        Folded {
            run_id: &e.run_id,
            task: &e.task,
            step: e.step,
            item: e.item,
            attempt: e.attempt,
            status: e.status,
            payload: e.payload.as_deref(),
            input: e.input.as_deref(),
            started_at: e.started_at,
            ended_at: e.ended_at,
            jseq: e.jseq,
            fresh,
        }
    }
}

#[derive(Default)]
pub(super) struct Ledger<'a> {
    pub(super) key: Vec<String>,
    pub(super) account: Vec<&'a str>,
    pub(super) amount: Vec<i64>,
    pub(super) kind: Vec<&'a str>,
    pub(super) run_id: Vec<Option<&'a str>>,
    pub(super) task: Vec<Option<&'a str>>,
    pub(super) item: Vec<Option<i64>>,
    pub(super) attempt: Vec<Option<i64>>,
    pub(super) at: Vec<i64>,
    /// The lease a charge draws from (see `LedgerWrite::lease`).
    pub(super) lease: Vec<Option<&'a str>>,
}

#[derive(Default)]
pub(super) struct Events<'a> {
    pub(super) run_id: Vec<&'a str>,
    pub(super) kind: Vec<&'a str>,
    pub(super) task: Vec<Option<&'a str>>,
    pub(super) item: Vec<Option<i64>>,
    pub(super) attempt: Vec<Option<i64>>,
    pub(super) message: Vec<&'a str>,
    pub(super) data: Vec<Option<&'a str>>,
    pub(super) at: Vec<i64>,
}

#[derive(Default)]
pub(super) struct Ends<'a> {
    pub(super) id: Vec<&'a str>,
    pub(super) status: Vec<&'a str>,
    pub(super) output: Vec<Option<&'a str>>,
    pub(super) error: Vec<Option<&'a str>>,
    pub(super) ended_at: Vec<i64>,
    /// Runs that did not succeed: their executions still running end with them.
    pub(super) abandoned: (Vec<&'a str>, Vec<i64>),
}
