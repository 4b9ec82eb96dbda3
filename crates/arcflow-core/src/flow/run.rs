//! The state of one run over a [`FlowGraph`]: its context, join counters
//! and the item lists of with-items tasks in flight. Scheduling decisions
//! that need templates (transitions, publishes, joins, retry conditions)
//! are made here, so the engine crosses into native code once to start a
//! task and once to complete it.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::ValueKind;
use minijinja::Value;

use super::graph::{FlowGraph, ItemsSource, Join, Target};
use super::journal::Journal;
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

pub struct RunState {
    graph: Arc<FlowGraph>,
    ctx: WorkflowContext,
    arrivals: Vec<u32>,
    batches: HashMap<u32, Arc<[Value]>>,
    journal: Option<Journal>,
    next_batch: u32,
}

impl RunState {
    pub fn new(graph: Arc<FlowGraph>, ctx: WorkflowContext) -> Self {
        let arrivals = vec![0; graph.len()];
        RunState { graph, ctx, arrivals, batches: HashMap::new(), next_batch: 0, journal: None }
    }

    pub fn context(&self) -> &WorkflowContext {
        &self.ctx
    }

    /// Makes the run durable: from now on its progress is journaled.
    pub fn set_journal(&mut self, journal: Journal) {
        self.journal = Some(journal);
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

    /// Journals a task execution (durable runs; nothing otherwise).
    pub fn record(&mut self, task: u32, attempt: u32, status: OutcomeStatus, payload_json: &str) -> Result<()> {
        let Some(journal) = &mut self.journal else { return Ok(()) };
        let node = self.graph.task(task)?;
        journal.task(task, &node.name, attempt, status.as_str(), payload_json)
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
