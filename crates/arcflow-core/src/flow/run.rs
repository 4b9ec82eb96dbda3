//! The state of one run over a [`FlowGraph`]: its context, join counters
//! and the item lists of with-items tasks in flight. Scheduling decisions
//! that need templates (transitions, publishes, joins, retry conditions)
//! are made here, so the engine crosses into native code once to start a
//! task and once to complete it.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::ValueKind;
use minijinja::Value;

use serde::{Deserialize, Serialize};

use super::graph::{FlowGraph, ItemsSource, Join, Target};
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
    batches: HashMap<u32, Arc<[Value]>>,
    journal: Option<Journal>,
    /// The run's id, for ledger keys (set by whoever starts the run).
    run_id: Arc<str>,
    /// Metered runs: the meter, the paying account and the tasks' costs.
    pub meter: Option<crate::meter::RunMeter>,
    pub(crate) progress: Option<Progress>,
    snapshot_due: bool,
    next_batch: u32,
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
        RunState {
            graph,
            ctx,
            arrivals,
            batches: HashMap::new(),
            next_batch: 0,
            journal: None,
            run_id: Arc::from(""),
            meter: None,
            progress: None,
            snapshot_due: false,
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

    /// Keeps track of activations (durable runs, and replay).
    pub(crate) fn track(&mut self) {
        if self.progress.is_none() {
            self.progress = Some(Progress { starts: vec![0; self.graph.len()], pending: Vec::new() });
        }
    }

    /// Activations per task so far (durable runs; empty otherwise).
    pub fn starts(&self) -> &[u32] {
        self.progress.as_ref().map_or(&[], |p| &p.starts)
    }

    /// Tasks about to start: a durable run counts each activation (its
    /// step number) and journals it as `running`. Replay passes no inputs.
    pub fn activate(&mut self, tasks: &[u32]) -> Result<()> {
        for &task in tasks {
            self.activate_one(task, None)?;
        }
        Ok(())
    }

    /// One task about to start, with its rendered input (JSON) when it has one.
    pub fn activate_one(&mut self, task: u32, input: Option<&str>) -> Result<()> {
        let Some(progress) = &mut self.progress else { return Ok(()) };
        let starts = progress
            .starts
            .get_mut(task as usize)
            .ok_or_else(|| Error::Internal(format!("unknown task index {task}")))?;
        *starts += 1;
        let step = *starts;
        progress.pending.push((task, step));
        let Some(journal) = &mut self.journal else { return Ok(()) };
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
        })
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
        let (Some(journal), Some(progress)) = (&mut self.journal, &self.progress) else { return Ok(()) };
        let state = SnapshotState {
            version: SNAPSHOT_VERSION,
            context: self.ctx.export()?,
            arrivals: self.arrivals.clone(),
            progress: progress.clone(),
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

    /// Renders the inputs of items `from..from + count` (fewer at the end
    /// of the list), in one go: the engine asks for a window at a time.
    pub fn item_inputs(&self, task: u32, batch: u32, from: u32, count: u32) -> Result<Vec<Result<Option<String>>>> {
        let node = self.graph.task(task)?;
        let list = self
            .batches
            .get(&batch)
            .ok_or_else(|| Error::Internal(format!("no item batch {batch}")))?;
        let start = (from as usize).min(list.len());
        let end = start.saturating_add(count as usize).min(list.len());
        Ok((start..end)
            .map(|index| match &node.input {
                None => Ok(None),
                Some(input) => input.render_json(&self.ctx.with_item(list[index].clone(), index as u64)).map(Some),
            })
            .collect())
    }

    /// Renders a with-items task's items and keeps them for
    /// [`RunState::item_input`] until [`RunState::end_items`]; returns the
    /// batch id and the items.
    pub fn begin_items(&mut self, task: u32) -> Result<(u32, Value)> {
        let node = self.graph.task(task)?;
        let items = match &node.items {
            Some(ItemsSource::Template(t)) => t.render(&self.ctx)?,
            Some(ItemsSource::Json(t)) => t.render(&self.ctx)?,
            None => return Err(Error::Internal(format!("task '{}' has no items", node.name))),
        };
        if items.kind() != ValueKind::Seq {
            return Err(Error::invalid_value(format!(
                "with.items of task '{}' must give a list, got {}",
                node.name,
                items.kind()
            )));
        }
        let list: Arc<[Value]> = items.try_iter().map_err(|e| Error::Internal(e.to_string()))?.collect();
        let id = self.next_batch;
        self.next_batch = self.next_batch.wrapping_add(1);
        self.batches.insert(id, list);
        Ok((id, items))
    }

    pub fn end_items(&mut self, batch: u32) {
        self.batches.remove(&batch);
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
    pub fn record(&mut self, task: u32, step: u32, attempt: u32, status: OutcomeStatus, payload_json: &str) -> Result<()> {
        if let Some(progress) = &mut self.progress {
            match progress.pending.iter().position(|&p| p == (task, step)) {
                Some(at) => {
                    progress.pending.swap_remove(at);
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
    pub fn complete(&mut self, task: u32, outcome: TaskOutcome, follow: bool) -> Result<Next> {
        let graph = Arc::clone(&self.graph);
        let node = graph.task(task)?;
        let failed = outcome.status != OutcomeStatus::Succeeded;
        if !follow {
            self.ctx.set_task_outcome(&node.name, outcome);
            return Ok(Next::Schedule(Vec::new()));
        }
        let view = self.ctx.with_outcome(outcome.clone());
        self.ctx.set_task_outcome(&node.name, outcome);
        let mut schedule = Vec::new();
        let mut fired = false;
        for transition in &node.transitions {
            if let Some(when) = &transition.when {
                if !when.is_true(&view)? {
                    continue;
                }
            }
            fired = true;
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
        if failed && !fired {
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

    /// The workflow's rendered output (`None`: it declares none).
    pub fn output(&self) -> Result<Option<Value>> {
        self.graph.output.as_ref().map(|t| t.render(&self.ctx)).transpose()
    }
}
