//! The state of one run over a [`FlowGraph`]: its context, join counters,
//! activation counts and the item lists of with-items tasks in flight, and
//! the transitions that decide what follows a task. A whole step (record,
//! transitions, schedule, journal, billing) is `step.rs`'s; items are
//! `items.rs`'s.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::Value;

use serde::{Deserialize, Serialize};

use super::billing::Billing;
use super::graph::{FlowGraph, Join, Target, TaskNode};
use super::journal::{now_ms, ExecutionWrite, Journal};
use crate::context::{OutcomeStatus, TaskOutcome, WorkflowContext};
use crate::error::{Error, Result};

/// What a completed task leads to.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Tasks to start now, in order (joins already counted).
    Schedule(Vec<u32>),
    /// A transition chose `fail`.
    Fail,
    /// The task failed and no transition handled it: the run fails.
    Unhandled,
}

/// Which activations a durable run has started and not yet completed: what
/// a resume starts again. In-memory runs do not keep it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Activations per task so far: the step number of the latest.
    pub starts: Vec<u32>,
    /// `(task, step)` of activations in flight.
    pub pending: Vec<(u32, u32)>,
}

/// A snapshot's state: what resume restores before replaying the journal
/// written after it.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotState {
    pub version: u32,
    /// The context document (`WorkflowContext::export`).
    pub context: String,
    pub arrivals: Vec<u32>,
    pub progress: Progress,
}

pub(crate) const SNAPSHOT_VERSION: u32 = 1;

pub struct RunState {
    pub(crate) graph: Arc<FlowGraph>,
    pub(crate) ctx: WorkflowContext,
    pub(crate) arrivals: Vec<u32>,
    pub(crate) batches: HashMap<u32, super::items::ItemBatch>,
    pub(crate) next_batch: u32,
    pub(crate) journal: Option<Journal>,
    /// The run's id, for ledger keys (set by whoever starts the run).
    run_id: Arc<str>,
    /// Metered runs: the account, the tasks' costs and what is reserved.
    pub(crate) billing: Option<Billing>,
    /// Activations per task so far: the step number of the latest.
    pub(crate) starts: Vec<u32>,
    /// Activations in all (the step limit bounds it).
    pub(crate) steps: u32,
    /// Durable runs and replay: `(task, step)` of activations in flight.
    pub(crate) pending: Option<Vec<(u32, u32)>>,
    snapshot_due: bool,
    /// A resumed run: what its resume said it does (see `resume_note.rs`).
    pub(crate) resume_note: Option<String>,
}

/// The system values every run has: `system.run_id`, `system.workflow`
/// and `system.started_at`.
pub fn set_system_values(ctx: &WorkflowContext, run_id: &str, workflow: &str, started_ms: i64) {
    ctx.set_system("run_id", Value::from(run_id));
    ctx.set_system("workflow", Value::from(workflow));
    ctx.set_system("started_at", Value::from(crate::time::iso_millis(started_ms)));
}

impl RunState {
    pub fn new(graph: Arc<FlowGraph>, ctx: WorkflowContext) -> Self {
        let arrivals = vec![0; graph.len()];
        let starts = vec![0; graph.len()];
        RunState {
            graph,
            ctx,
            arrivals,
            batches: HashMap::new(),
            next_batch: 0,
            journal: None,
            run_id: Arc::from(""),
            billing: None,
            starts,
            steps: 0,
            pending: None,
            snapshot_due: false,
            resume_note: None,
        }
    }

    pub fn set_run_id(&mut self, run_id: &str) {
        self.run_id = Arc::from(run_id);
    }

    /// The ledger key of one billable unit of this run.
    pub fn unit_key(&self, task: u32, step: u32, item: i64, attempt: u32) -> Result<crate::meter::LedgerKey> {
        let task = self.graph.keys.get(task as usize).ok_or_else(|| Error::Internal(format!("unknown task index {task}")))?;
        Ok(crate::meter::LedgerKey::Unit { run_id: Arc::clone(&self.run_id), task: Arc::clone(task), step, item, attempt })
    }

    pub fn context(&self) -> &WorkflowContext {
        &self.ctx
    }

    /// Makes the run durable: from now on its progress is journaled.
    pub fn set_journal(&mut self, journal: Journal) {
        self.journal = Some(journal);
        self.track();
    }

    /// Makes the run metered.
    pub fn set_billing(&mut self, billing: Option<Billing>) {
        self.billing = billing;
    }

    /// Keeps track of the activations in flight (durable runs, and replay).
    pub(crate) fn track(&mut self) {
        if self.pending.is_none() {
            self.pending = Some(Vec::new());
        }
    }

    /// Activations per task so far.
    pub fn starts(&self) -> &[u32] {
        &self.starts
    }

    /// Activations so far, in all.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Tasks about to start (replay: no inputs, nothing journaled anew).
    pub(crate) fn activate(&mut self, tasks: &[u32]) -> Result<()> {
        for &task in tasks {
            self.activate_one(task, None)?;
        }
        Ok(())
    }

    /// One task about to start, with its rendered input (JSON) when it has
    /// one: counts the activation and answers its step number; a durable
    /// run journals it as `running`.
    pub(crate) fn activate_one(&mut self, task: u32, input: Option<&str>) -> Result<u32> {
        let starts = self.starts.get_mut(task as usize).ok_or_else(|| Error::Internal(format!("unknown task index {task}")))?;
        *starts += 1;
        let step = *starts;
        self.steps += 1;
        let Some(pending) = &mut self.pending else { return Ok(step) };
        pending.push((task, step));
        let Some(journal) = &mut self.journal else { return Ok(step) };
        journal.execution(ExecutionWrite {
            task,
            step,
            item: -1,
            attempt: 1,
            status: "running",
            payload: None,
            input,
            started_at: Some(now_ms()),
            ended_at: None,
        })?;
        Ok(step)
    }

    /// Journals an execution of a durable run (nothing otherwise): an
    /// attempt that starts (`running`), fails and is retried (`retrying`),
    /// or an item that ends.
    #[allow(clippy::too_many_arguments)]
    pub fn journal_execution(
        &mut self,
        task: u32,
        step: u32,
        item: i64,
        attempt: u32,
        status: &'static str,
        payload: Option<&str>,
        input: Option<&str>,
        started_at: Option<i64>,
    ) -> Result<()> {
        let Some(journal) = &mut self.journal else { return Ok(()) };
        let ended_at = (status != "running").then(now_ms);
        let started_at = started_at.or_else(|| (status == "running").then(now_ms));
        journal.execution(ExecutionWrite {
            task,
            step,
            item,
            attempt,
            status,
            payload,
            input,
            started_at,
            ended_at,
        })
    }

    /// A durable run writes a snapshot every so many completions.
    pub fn checkpoint(&mut self) -> Result<()> {
        if !self.snapshot_due {
            return Ok(());
        }
        self.snapshot_due = false;
        let (Some(journal), Some(pending)) = (&mut self.journal, &self.pending) else { return Ok(()) };
        let state = SnapshotState {
            version: SNAPSHOT_VERSION,
            context: self.ctx.export()?,
            arrivals: self.arrivals.clone(),
            progress: Progress { starts: self.starts.clone(), pending: pending.clone() },
        };
        let text = serde_json::to_string(&state).map_err(|e| Error::Internal(e.to_string()))?;
        journal.snapshot(text);
        Ok(())
    }

    /// Queues what this call journaled (durable runs): `(seq, full)` of the
    /// last write, or `None` for a run without a journal.
    pub fn flush_journal(&mut self) -> Result<Option<(u64, bool)>> {
        self.journal.as_mut().map(Journal::flush).transpose()
    }

    pub fn journal_mut(&mut self) -> Option<&mut Journal> {
        self.journal.as_mut()
    }

    pub fn graph(&self) -> &FlowGraph {
        &self.graph
    }

    /// Renders the workflow's initial variables, in order (a later one may
    /// read an earlier one).
    pub fn init_vars(&mut self) -> Result<()> {
        for (name, value) in &self.graph.vars {
            let value = value.render(&self.ctx)?;
            if let Some(journal) = &mut self.journal {
                journal.var(name, &value)?;
            }
            self.ctx.set_var(name, value);
        }
        Ok(())
    }

    /// The rendered input of a task without items, as JSON text (`None`:
    /// it has none).
    pub fn task_input(&self, task: u32) -> Result<Option<String>> {
        let node = self.graph.task(task)?;
        node.input.as_ref().map(|t| t.render_json(&self.ctx)).transpose()
    }

    /// Whether a failed attempt may be retried under the task's `retry.when`.
    pub fn retry_allowed(&self, task: u32, outcome: TaskOutcome) -> Result<bool> {
        match &self.graph.task(task)?.retry_when {
            None => Ok(true),
            Some(when) => when.is_true(&self.ctx.with_outcome(outcome)),
        }
    }

    /// Journals the end of activation `step` of a task (durable runs;
    /// nothing otherwise).
    pub(crate) fn record(&mut self, task: u32, step: u32, attempt: u32, status: OutcomeStatus, payload_json: &str) -> Result<()> {
        if let Some(pending) = &mut self.pending {
            match pending.iter().position(|&p| p == (task, step)) {
                Some(at) => {
                    pending.swap_remove(at);
                }
                None => return Err(Error::Internal(format!("task index {task} step {step} is not in flight"))),
            }
        }
        let Some(journal) = &mut self.journal else { return Ok(()) };
        journal.execution(ExecutionWrite {
            task,
            step,
            item: -1,
            attempt,
            status: status.as_str(),
            payload: Some(payload_json),
            input: None,
            started_at: None,
            ended_at: Some(now_ms()),
        })?;
        self.snapshot_due = journal.completed();
        Ok(())
    }

    /// Records a task's outcome; with `follow`, also fires its transitions
    /// (publishing variables, counting joins) and says what comes next.
    pub(crate) fn complete(&mut self, task: u32, outcome: TaskOutcome, follow: bool) -> Result<Next> {
        let graph = Arc::clone(&self.graph);
        let node = graph.task(task)?;
        let failed = outcome.status != OutcomeStatus::Succeeded;
        if !follow {
            self.ctx.set_task_outcome(&node.name, outcome);
            return Ok(Next::Schedule(Vec::new()));
        }
        let outcome = Arc::new(outcome);
        let view = self.ctx.with_shared_outcome(Arc::clone(&outcome));
        self.ctx.set_shared_outcome(&node.name, outcome);
        let mut schedule = Vec::new();
        // A failure is handled only by a `when` that holds for it: an entry
        // without `when` means "on success" (as `{{ succeeded() }}`), so an
        // unconditional `next` never swallows a failure.
        let mut handled = false;
        for transition in &node.transitions {
            match &transition.when {
                None if failed => continue,
                None => {}
                Some(when) if !when.is_true(&view)? => continue,
                Some(_) => handled = true,
            }
            for (name, value) in &transition.publish {
                let value = value.render(&view)?;
                if let Some(journal) = &mut self.journal {
                    journal.var(name, &value)?;
                }
                self.ctx.set_var(name, value);
            }
            for target in &transition.targets {
                match *target {
                    Target::Fail => return Ok(Next::Fail),
                    Target::Noop => {}
                    Target::Task(t) => {
                        if self.arrive(&graph, t) {
                            schedule.push(t);
                        }
                    }
                }
            }
        }
        if failed && !handled {
            return Ok(Next::Unhandled);
        }
        Ok(Next::Schedule(schedule))
    }

    /// Counts an arrival at `task`; true when it should start now.
    fn arrive(&mut self, graph: &FlowGraph, task: u32) -> bool {
        let needed = match graph.tasks[task as usize].join {
            Join::None => return true,
            Join::All => graph.tasks[task as usize].inbound.max(1),
            Join::Count(n) => n.max(1),
        };
        let count = &mut self.arrivals[task as usize];
        *count += 1;
        if *count < needed {
            return false;
        }
        *count = 0;
        true
    }

    /// The first join (by task order) that some transition reached but not
    /// enough of them: with nothing left to run it can never fire. It waits
    /// for the inbound tasks that have not completed since its last firing
    /// (never ran, or ran and took another way), or all of them if each has.
    pub(crate) fn stuck_join(&self) -> Option<Error> {
        let graph = &self.graph;
        let (join, arrived) = self.arrivals.iter().enumerate().find(|&(_, &n)| n > 0)?;
        let node = &graph.tasks[join];
        let needed = match node.join {
            Join::None => return None,
            Join::All => node.inbound.max(1),
            Join::Count(n) => n.max(1),
        };
        let inbound: Vec<&TaskNode> = graph.tasks.iter().filter(|t| t.leads_to(join as u32)).collect();
        let silent: Vec<String> = inbound.iter().filter(|t| self.ctx.get_task_outcome(&t.name).is_none()).map(|t| t.name.clone()).collect();
        let waiting_for = if silent.is_empty() { inbound.iter().map(|t| t.name.clone()).collect() } else { silent };
        Some(Error::Join { join: node.name.clone(), waiting_for, arrived: *arrived, needed })
    }

    /// The workflow's rendered output (`None`: it declares none).
    pub fn output(&self) -> Result<Option<Value>> {
        self.graph.output.as_ref().map(|t| t.render(&self.ctx)).transpose()
    }
}
