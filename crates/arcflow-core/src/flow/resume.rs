//! Resuming a durable run that a dead process left `running`: the state is
//! restored from the run's latest snapshot (or rebuilt from its input),
//! then the completions journaled after the snapshot are replayed through
//! the same transitions, without running anything. What is left in flight
//! is handed back with its recorded executions, so that completed items
//! are not run again and interrupted attempts follow their retry policy.

use std::collections::HashMap;
use std::sync::Arc;

use super::graph::FlowGraph;
use super::journal::Journal;
use super::pending::PendingActivation;
use super::resume_note::{ended_note, resume_note};
use super::run::{set_system_values, Next, RunState, SnapshotState, SNAPSHOT_VERSION};
use crate::context::{OutcomeStatus, TaskOutcome, WorkflowContext};
use crate::error::{Error, Result};
use crate::store::{Execution, Store, WriteBehind};
use crate::value::from_json;

#[derive(Debug)]
pub enum Resumed {
    /// Start these activations again.
    Continue(Vec<PendingActivation>),
    /// The last completion journaled ended the run (`Next::Fail` or
    /// `Next::Unhandled`); the process died before the run's end was written.
    Ended { task: u32, attempt: u32, outcome: TaskOutcome, next: Next },
    /// Nothing is in flight: the run is complete (its output is due).
    Complete,
}

/// The payload of an execution as a value (`null` when none was written).
pub fn payload_value(execution: &Execution) -> Result<minijinja::Value> {
    execution.payload.as_deref().map_or(Ok(minijinja::Value::from(())), from_json)
}

impl RunState {
    /// What the last resume said it does (its `run.resumed` journal message).
    pub fn resume_note(&self) -> Option<&str> {
        self.resume_note.as_deref()
    }

    /// Rebuilds run `run_id` of `graph` from `store` and journals on
    /// through `writer` from where it stopped.
    pub fn resume(
        graph: Arc<FlowGraph>,
        store: &mut dyn Store,
        writer: Arc<WriteBehind>,
        run_id: &str,
        snapshot_every: u32,
    ) -> Result<(RunState, Resumed)> {
        let run = store.get_run(run_id)?.ok_or_else(|| Error::Resume(format!("no run {run_id:?} in the store")))?;
        if !run.is_live() {
            return Err(Error::Resume(format!(
                "run {run_id} has ended ({}): only an interrupted run can be resumed",
                run.status
            )));
        }
        if run.workflow != graph.name {
            return Err(Error::Resume(format!(
                "run {run_id} is a run of workflow '{}', not '{}'",
                run.workflow, graph.name
            )));
        }
        let (mut state, after) = match store.snapshot(run_id)? {
            Some((jseq, text)) => (restore(&graph, run_id, &text)?, jseq),
            None => {
                let ctx = WorkflowContext::new(from_json(&run.input)?);
                set_system_values(&ctx, run_id, &graph.name, run.started_at);
                let mut state = RunState::new(Arc::clone(&graph), ctx);
                state.track();
                state.init_vars().map_err(|e| Error::Resume(format!("run {run_id}: initial vars: {e}")))?;
                state.activate(graph.start())?;
                (state, 0)
            }
        };
        let index: HashMap<&str, u32> = graph.tasks.iter().enumerate().map(|(i, t)| (t.name.as_str(), i as u32)).collect();
        let task_index = |name: &str| {
            index.get(name).copied().ok_or_else(|| {
                Error::Resume(format!("run {run_id} journaled task '{name}', which workflow '{}' does not have", graph.name))
            })
        };
        let mut jseq = after;
        let mut ended = None;
        for execution in store.tasks(run_id, after)? {
            jseq = jseq.max(execution.jseq);
            if execution.item >= 0 || !execution.is_final() || ended.is_some() {
                continue;
            }
            let task = task_index(&execution.task)?;
            let status = OutcomeStatus::parse(execution.status)?;
            let outcome = TaskOutcome::ended(status, payload_value(&execution)?);
            let payload = execution.payload.as_deref().unwrap_or("null");
            state.record(task, execution.step, execution.attempt, status, payload).map_err(|_| {
                Error::Resume(format!(
                    "run {run_id}: the journal completes task '{}' (step {}), which was not in flight: it does not fit workflow '{}'",
                    execution.task, execution.step, graph.name
                ))
            })?;
            match state.complete(task, outcome.clone(), true)? {
                Next::Schedule(tasks) => state.activate(&tasks)?,
                next => ended = Some(Resumed::Ended { task, attempt: execution.attempt, outcome, next }),
            }
        }
        let pending = state.pending.clone().unwrap_or_default();
        let mut activations = Vec::with_capacity(pending.len());
        for (task, step) in pending {
            let executions = store.activation(run_id, &graph.tasks[task as usize].name, step)?;
            jseq = executions.iter().map(|e| e.jseq).fold(jseq, u64::max);
            activations.push(PendingActivation { task, step, executions });
        }
        activations.sort_by_key(|a| (a.task, a.step));
        state.set_run_id(run_id);
        state.set_journal(Journal::open(writer, run_id, &graph, &run.input, run.account.as_deref(), run.started_at, jseq, snapshot_every)?);
        let note = match &ended {
            Some(Resumed::Ended { task, next, .. }) => ended_note(&graph.tasks[*task as usize].name, *next == Next::Fail),
            _ => resume_note(&graph, &activations),
        };
        if let Some(journal) = state.journal_mut() {
            journal.event("run.resumed", None, &note, None)?;
        }
        state.resume_note = Some(note);
        let resumed = match ended {
            Some(ended) => ended,
            None if activations.is_empty() => Resumed::Complete,
            None => Resumed::Continue(activations),
        };
        Ok((state, resumed))
    }
}

fn restore(graph: &Arc<FlowGraph>, run_id: &str, text: &str) -> Result<RunState> {
    let snapshot: SnapshotState = serde_json::from_str(text)
        .map_err(|e| Error::Resume(format!("run {run_id}: the snapshot cannot be read: {e}")))?;
    if snapshot.version != SNAPSHOT_VERSION {
        return Err(Error::Resume(format!(
            "run {run_id}: snapshot version {} is not supported (this build reads version {SNAPSHOT_VERSION})",
            snapshot.version
        )));
    }
    let tasks = graph.len();
    if snapshot.arrivals.len() != tasks || snapshot.progress.starts.len() != tasks {
        return Err(Error::Resume(format!(
            "run {run_id}: its snapshot has {} tasks, workflow '{}' has {tasks}: it was changed",
            snapshot.progress.starts.len(),
            graph.name
        )));
    }
    if snapshot.progress.pending.iter().any(|&(t, _)| t as usize >= tasks) {
        return Err(Error::Resume(format!("run {run_id}: its snapshot does not fit workflow '{}'", graph.name)));
    }
    let mut state = RunState::new(Arc::clone(graph), WorkflowContext::import(&snapshot.context)?);
    state.arrivals = snapshot.arrivals;
    state.steps = snapshot.progress.starts.iter().sum();
    state.starts = snapshot.progress.starts;
    state.pending = Some(snapshot.progress.pending);
    Ok(state)
}
