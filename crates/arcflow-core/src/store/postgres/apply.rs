//! A batch in one transaction, as a few multi-row statements (`unnest` of
//! one array per column), not a statement per write.
//!
//! The batch is cut into phases, usually one. A phase gathers its writes by
//! kind and runs one statement per kind, in this order: runs started,
//! executions, variables, snapshots, the ledger (entries and balances),
//! events, runs ended. That gives what applying the writes one by one in
//! batch order gives (as SQLite does) because within a phase:
//! - several writes of one execution are folded into one row as the
//!   upsert would fold them (the last status, payload, end and journal
//!   position; the first start and input), so are a variable's and a
//!   snapshot's (the last wins) and a run's starts (the first inserts, the
//!   others only say `running` again);
//! - a ledger key is entered once (the first), and a balance moves only by
//!   the entries that were new, in the same statement;
//! - events and ledger entries keep batch order (`WITH ORDINALITY`), which
//!   their identity column records;
//! - a run's end comes after every start and execution of that run queued
//!   before it. A start, execution or end of a run queued *after* its end
//!   begins a new phase, so an execution written after a failed end is not
//!   cancelled by it, and a run started again after its end is running.

use std::collections::{HashMap, HashSet};

use postgres::{Error, Transaction};

use super::Statements;
use crate::store::record::{LedgerKey, Write};

mod columns;
mod fold;
mod statements;
use columns::{Ends, Events, Folded, Ledger, Starts, Versions};
use fold::{Folds, RUNS_STARTED_ENDED};
use statements::{ABANDONED, EVENTS, EXECUTIONS, EXECUTIONS_NEW, LEDGER, RUNS_ENDED, RUNS_STARTED, SNAPSHOTS, VARS, WORKFLOWS};

/// `batch`: each write, and whether it is the first ever of its execution
/// (see `Store::apply_fresh`).
pub(super) fn apply<'a>(tx: &mut Transaction<'_>, statements: &mut Statements, batch: impl IntoIterator<Item = (&'a Write, bool)>) -> Result<(), Error> {
    let mut phase = Phase::default();
    let mut ended: Vec<&str> = Vec::new();
    let mut signalled: Vec<&str> = Vec::new();
    for (write, fresh) in batch {
        if let Some(run) = run_of(write) {
            // a start follows what it resets: a waiting mark queued before it
            let restarts = matches!(write, Write::RunStarted { .. }) && phase.parked.contains(run);
            if phase.ended.contains(run) || restarts {
                phase.run(tx, statements)?;
                phase = Phase::default();
            }
        }
        match write {
            Write::RunEnded { id, .. } => ended.push(id),
            Write::Event(e) if e.kind == crate::flow::SIGNAL_STORED && !signalled.contains(&&*e.run_id) => signalled.push(&e.run_id),
            _ => {}
        }
        phase.add(write, fresh);
    }
    phase.run(tx, statements)?;
    if !ended.is_empty() {
        // one wake-up per batch, delivered at commit (result waiters, cancel forwarding)
        notify(tx, statements, &crate::queue::ended_payload(&ended))?;
    }
    if !signalled.is_empty() {
        // the worker holding the run takes the signal into it at once
        notify(tx, statements, &crate::queue::ids_payload("g", &signalled))?;
    }
    Ok(())
}

/// A notice sent at this transaction's commit.
pub(super) fn notify(tx: &mut Transaction<'_>, statements: &mut Statements, payload: &str) -> Result<(), Error> {
    let statement = statements.get(&mut *tx, NOTIFY)?;
    tx.execute(&statement, &[&payload]).map(drop)
}

/// The payload says whose schema changed: listeners of other schemas on
/// the same database ignore it.
const NOTIFY: &str = "SELECT pg_notify('arcflow', jsonb_set($1::text::jsonb, '{s}', to_jsonb(current_schema()::text))::text)";

/// The transaction failed on an execution written before (a batch whose
/// fresh rows were inserted outright, applied again after a commit whose
/// answer was lost): it runs again with every execution upserted.
pub(super) fn written_before(e: &Error) -> bool {
    e.as_db_error().is_some_and(|db| *db.code() == postgres::error::SqlState::UNIQUE_VIOLATION && db.constraint() == Some(EXECUTIONS_KEY))
}

/// The executions' primary key (PostgreSQL's default name for it).
const EXECUTIONS_KEY: &str = "executions_pkey";

/// The run whose end a write must follow (or precede).
fn run_of(write: &Write) -> Option<&str> {
    match write {
        Write::RunStarted { id, .. } | Write::RunEnded { id, .. } => Some(id),
        Write::Task(e) => Some(&e.run_id),
        _ => None,
    }
}

type ExecutionKey<'a> = (&'a str, &'a str, u32, i64, u32);

#[derive(Default)]
struct Phase<'a> {
    /// Runs that ended in this phase.
    ended: HashSet<&'a str>,
    started: HashSet<&'a str>,
    /// Runs with a `RunWaiting` in this phase (applied after its starts).
    parked: HashSet<&'a str>,
    start: Starts<'a>,
    executions: HashMap<ExecutionKey<'a>, usize>,
    /// Folded executions, by first appearance.
    tasks: Vec<Folded<'a>>,
    vars: HashMap<(&'a str, &'a str), &'a str>,
    snapshots: HashMap<&'a str, (i64, &'a str)>,
    ledger_keys: HashSet<String>,
    ledger: Ledger<'a>,
    events: Events<'a>,
    ends: Ends<'a>,
    versions: Versions<'a>,
    /// Run links and cache writes (see `links.rs`): rare, one statement each, in batch order.
    links: Vec<&'a Write>,
}


impl<'a> Phase<'a> {
    fn add(&mut self, write: &'a Write, fresh: bool) {
        match write {
            Write::RunStarted { id, workflow, input, started_at, account, workflow_hash } => {
                // a second start only says `running` again, as the first did
                if self.started.insert(id) {
                    let g = &mut self.start;
                    g.id.push(id);
                    g.workflow.push(workflow);
                    g.input.push(input);
                    g.started_at.push(*started_at);
                    g.account.push(account.as_deref());
                    g.workflow_hash.push(workflow_hash.as_deref());
                } else if let (Some(hash), Some(at)) = (workflow_hash, self.start.id.iter().position(|r| r == id)) {
                    // a resume that names its version replaces the first's
                    self.start.workflow_hash[at] = Some(hash);
                }
            }
            Write::Workflow { name, hash, definition, at } => {
                let g = &mut self.versions;
                if g.seen.insert((name, hash)) {
                    g.name.push(name);
                    g.hash.push(hash);
                    g.definition.push(definition);
                    g.at.push(*at);
                }
            }
            Write::Task(e) => match self.executions.get(&e.key()) {
                // as the upsert would have it, had they come one by one
                Some(&i) => {
                    let row = &mut self.tasks[i];
                    row.status = e.status;
                    row.payload = e.payload.as_deref();
                    row.ended_at = e.ended_at;
                    row.jseq = e.jseq;
                    row.started_at = row.started_at.or(e.started_at);
                    row.input = row.input.or(e.input.as_deref());
                }
                None => {
                    self.executions.insert(e.key(), self.tasks.len());
                    // its first write in the phase says whether the row is new
                    self.tasks.push(Folded::of(e, fresh));
                }
            },
            Write::Var { run_id, name, value } => {
                self.vars.insert((run_id, name), value);
            }
            Write::Snapshot { run_id, jseq, state } => {
                self.snapshots.insert(run_id, (*jseq as i64, state));
            }
            Write::Ledger(l) => {
                let key = l.key_text();
                if !self.ledger_keys.insert(key.clone()) {
                    return;
                }
                let (run_id, task, item, attempt) = match &l.key {
                    LedgerKey::Unit { run_id, task, item, attempt, .. } => {
                        (Some(&**run_id), Some(&**task), (*item >= 0).then_some(*item), Some(i64::from(*attempt)))
                    }
                    LedgerKey::Given(_) => (None, None, None, None),
                };
                let g = &mut self.ledger;
                g.key.push(key);
                g.account.push(&l.account);
                g.amount.push(l.amount);
                g.kind.push(l.kind);
                g.run_id.push(run_id);
                g.task.push(task);
                g.item.push(item);
                g.attempt.push(attempt);
                g.at.push(l.at);
                g.lease.push(l.lease.as_deref());
            }
            Write::Event(e) => {
                let g = &mut self.events;
                g.run_id.push(&e.run_id);
                g.kind.push(&e.kind);
                g.task.push(e.task.as_deref());
                g.item.push(e.item);
                g.attempt.push(e.attempt.map(i64::from));
                g.message.push(&e.message);
                g.data.push(e.data.as_deref());
                g.at.push(e.at);
            }
            Write::RunWaiting { id, .. } => {
                self.parked.insert(id);
                self.links.push(write);
            }
            Write::RunLinks { .. } | Write::CachePut { .. } | Write::CacheClear { .. } => self.links.push(write),
            Write::RunEnded { id, status, output, error, ended_at } => {
                self.ended.insert(id);
                let g = &mut self.ends;
                g.id.push(id);
                g.status.push(status);
                g.output.push(output.as_deref());
                g.error.push(error.as_deref());
                g.ended_at.push(*ended_at);
                if status != "succeeded" {
                    g.abandoned.0.push(id);
                    g.abandoned.1.push(*ended_at);
                }
            }
        }
    }

    /// One statement per kind of write the phase holds.
    fn run(&self, tx: &mut Transaction<'_>, statements: &mut Statements) -> Result<(), Error> {
        let mut exec = |sql: &'static str, params: &[&(dyn postgres::types::ToSql + Sync)]| -> Result<(), Error> {
            let statement = statements.get(&mut *tx, sql)?;
            tx.execute(&statement, params).map(drop)
        };
        if !self.versions.name.is_empty() {
            let g = &self.versions;
            exec(WORKFLOWS, &[&g.name, &g.hash, &g.definition, &g.at])?;
        }
        // a run that starts and ends in this phase (a short run: the usual
        // claimed one) is written once, ended, not inserted or updated
        // `running` and then updated again: one row version, not two, each
        // writing every index of `runs`. Links update the run's row between
        // its start and end, so a phase with links keeps the two.
        let folded = if self.links.is_empty() { Folds::of(&self.start, &self.ends) } else { Folds::default() };
        if folded.g.id.len() < self.start.id.len() {
            let g = if folded.g.id.is_empty() { &self.start } else { &folded.rest };
            exec(RUNS_STARTED, &[&g.id, &g.workflow, &g.input, &g.started_at, &g.account, &g.workflow_hash])?;
        }
        if !folded.g.id.is_empty() {
            let (g, e) = (&folded.g, &folded.ends);
            exec(RUNS_STARTED_ENDED, &[&g.id, &g.workflow, &g.input, &g.started_at, &g.account, &g.workflow_hash, &e.status, &e.output, &e.error, &e.ended_at])?;
        }
        for write in &self.links {
            // after the runs started (a link updates its run's row), before the ends
            super::links::apply(&mut exec, write)?;
        }
        // new rows inserted outright, the others upserted
        let (fresh, known): (Vec<&Folded<'a>>, Vec<&Folded<'a>>) = self.tasks.iter().partition(|e| e.fresh);
        for (sql, t) in [(EXECUTIONS_NEW, fresh), (EXECUTIONS, known)] {
            if t.is_empty() {
                continue;
            }
            let col = |f: fn(&Folded<'a>) -> i64| t.iter().map(|e| f(e)).collect::<Vec<_>>();
            let opt = |f: fn(&Folded<'a>) -> Option<i64>| t.iter().map(|e| f(e)).collect::<Vec<_>>();
            let text = |f: fn(&Folded<'a>) -> &'a str| t.iter().map(|e| f(e)).collect::<Vec<_>>();
            let opt_text = |f: fn(&Folded<'a>) -> Option<&'a str>| t.iter().map(|e| f(e)).collect::<Vec<_>>();
            exec(
                sql,
                &[
                    &text(|e| e.run_id),
                    &text(|e| e.task),
                    &col(|e| i64::from(e.step)),
                    &col(|e| e.item),
                    &col(|e| i64::from(e.attempt)),
                    &text(|e| e.status),
                    &opt_text(|e| e.payload),
                    &opt_text(|e| e.input),
                    &opt(|e| e.started_at),
                    &opt(|e| e.ended_at),
                    &col(|e| e.jseq as i64),
                ],
            )?;
        }
        if !self.vars.is_empty() {
            let (keys, values): (Vec<_>, Vec<_>) = self.vars.iter().map(|(k, v)| (*k, *v)).unzip();
            let (runs, names): (Vec<_>, Vec<_>) = keys.into_iter().unzip();
            exec(VARS, &[&runs, &names, &values])?;
        }
        if !self.snapshots.is_empty() {
            let runs: Vec<&str> = self.snapshots.keys().copied().collect();
            let (jseqs, states): (Vec<i64>, Vec<&str>) = runs.iter().map(|r| self.snapshots[r]).unzip();
            exec(SNAPSHOTS, &[&runs, &jseqs, &states])?;
        }
        if !self.ledger.key.is_empty() {
            let g = &self.ledger;
            exec(LEDGER, &[&g.key, &g.account, &g.amount, &g.kind, &g.run_id, &g.task, &g.item, &g.attempt, &g.at, &g.lease])?;
        }
        if !self.events.run_id.is_empty() {
            let g = &self.events;
            exec(EVENTS, &[&g.run_id, &g.kind, &g.task, &g.item, &g.attempt, &g.message, &g.data, &g.at])?;
        }
        if !self.ends.id.is_empty() {
            let g = &self.ends;
            if !g.abandoned.0.is_empty() {
                exec(ABANDONED, &[&g.abandoned.0, &g.abandoned.1])?;
            }
            if folded.g.id.is_empty() {
                exec(RUNS_ENDED, &[&g.id, &g.status, &g.output, &g.error, &g.ended_at])?;
            } else if folded.g.id.len() < g.id.len() {
                let r = &folded.rest_ends;
                exec(RUNS_ENDED, &[&r.id, &r.status, &r.output, &r.error, &r.ended_at])?;
            }
        }
        Ok(())
    }
}
