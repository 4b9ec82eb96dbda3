//! The task graph of a workflow, built once at load from the validated
//! definition and shared (`Arc`) by every run of it.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::expr::{JsonTemplate, Template};

/// Where a transition goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A task, by index.
    Task(u32),
    /// `do: fail` fails the run.
    Fail,
    /// `do: noop` does nothing.
    Noop,
}

pub struct Transition {
    pub when: Option<Arc<Template>>,
    pub publish: Vec<(String, Arc<JsonTemplate>)>,
    pub targets: Vec<Target>,
}

/// How many inbound transitions a task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Runs on each arrival.
    None,
    /// Waits for every transition that leads to it.
    All,
    /// Waits for this many arrivals.
    Count(u32),
}

pub enum ItemsSource {
    Template(Arc<Template>),
    Json(Arc<JsonTemplate>),
}

/// What a task does when it runs. Each kind is dispatched in one place per
/// layer (its first input here, `startTask` in the engine); a new kind is a
/// new case there plus a module of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Calls an action (an async function of the engine's) with the task's input.
    Action,
    /// Waits for a signal (its input names it); see `flow/signals.rs`.
    Wait,
    /// Waits until a due time (its input says when).
    Sleep,
}

pub struct TaskNode {
    pub name: String,
    pub kind: TaskKind,
    pub input: Option<Arc<JsonTemplate>>,
    pub items: Option<ItemsSource>,
    pub join: Join,
    /// Retries after the first attempt (the engine runs them; a resume
    /// says with it whether an interrupted attempt is retried).
    pub retries: u32,
    /// Retry only while this holds (evaluated with the failed outcome).
    pub retry_when: Option<Arc<Template>>,
    pub transitions: Vec<Transition>,
    /// Transitions (over the whole graph) that lead here: `join: all`.
    pub(crate) inbound: u32,
}

impl TaskNode {
    pub fn new(name: impl Into<String>) -> Self {
        TaskNode {
            name: name.into(),
            kind: TaskKind::Action,
            input: None,
            items: None,
            join: Join::None,
            retries: 0,
            retry_when: None,
            transitions: Vec::new(),
            inbound: 0,
        }
    }

    /// Whether one of its transitions leads to task `target`.
    pub fn leads_to(&self, target: u32) -> bool {
        self.transitions.iter().any(|t| t.targets.contains(&Target::Task(target)))
    }

    /// A with-items task runs once per item of a list.
    pub fn has_items(&self) -> bool {
        self.items.is_some()
    }
}

pub struct FlowGraph {
    /// The workflow's name (`system.workflow`).
    pub name: String,
    /// The content hash of the definition (its version): journaled with
    /// each run's start, so that a resume can find the run's own version.
    pub version: Option<String>,
    pub(crate) tasks: Vec<TaskNode>,
    /// Task names, shared by reference (ledger keys, journal writes).
    pub(crate) keys: Vec<Arc<str>>,
    pub(crate) vars: Vec<(String, Arc<JsonTemplate>)>,
    pub(crate) output: Option<Arc<JsonTemplate>>,
    pub(crate) start: Vec<u32>,
    /// Task activations a run may start in all (bounds cycles).
    pub(crate) step_limit: u32,
}

/// Activations a run may start unless its workflow says otherwise.
pub const DEFAULT_STEP_LIMIT: u32 = 10_000;
/// The largest step limit: steps travel packed (see the binding's protocol).
pub const MAX_STEP_LIMIT: u32 = 1_000_000;

impl FlowGraph {
    pub fn new(name: impl Into<String>) -> Self {
        FlowGraph {
            name: name.into(),
            version: None,
            tasks: Vec::new(),
            keys: Vec::new(),
            vars: Vec::new(),
            output: None,
            start: Vec::new(),
            step_limit: DEFAULT_STEP_LIMIT,
        }
    }

    /// Bounds the activations of each run (1 to [`MAX_STEP_LIMIT`]).
    pub fn set_step_limit(&mut self, limit: u32) -> Result<()> {
        if !(1..=MAX_STEP_LIMIT).contains(&limit) {
            return Err(Error::invalid_value(format!("step_limit must be from 1 to {MAX_STEP_LIMIT}, got {limit}")));
        }
        self.step_limit = limit;
        Ok(())
    }

    pub fn step_limit(&self) -> u32 {
        self.step_limit
    }

    /// Adds a task (without transitions); returns its index.
    pub fn add_task(&mut self, task: TaskNode) -> u32 {
        self.keys.push(Arc::from(task.name.as_str()));
        self.tasks.push(task);
        (self.tasks.len() - 1) as u32
    }

    /// Adds a transition to `task`. Every task it names must exist already.
    pub fn add_transition(&mut self, task: u32, transition: Transition) -> Result<()> {
        let count = self.tasks.len() as u32;
        if task >= count {
            return Err(Error::Internal(format!("transition from unknown task index {task}")));
        }
        for target in &transition.targets {
            match *target {
                Target::Task(t) if t >= count => {
                    return Err(Error::Internal(format!("transition to unknown task index {t}")))
                }
                Target::Task(t) => self.tasks[t as usize].inbound += 1,
                Target::Fail | Target::Noop => {}
            }
        }
        self.tasks[task as usize].transitions.push(transition);
        Ok(())
    }

    /// An initial variable, rendered when a run starts, in order.
    pub fn add_var(&mut self, name: impl Into<String>, value: Arc<JsonTemplate>) {
        self.vars.push((name.into(), value));
    }

    /// The tasks a run starts with.
    pub fn set_start(&mut self, start: Vec<u32>) -> Result<()> {
        if let Some(t) = start.iter().find(|&&t| t as usize >= self.tasks.len()) {
            return Err(Error::Internal(format!("start at unknown task index {t}")));
        }
        self.start = start;
        Ok(())
    }

    pub fn start(&self) -> &[u32] {
        &self.start
    }

    pub fn set_output(&mut self, output: Arc<JsonTemplate>) {
        self.output = Some(output);
    }

    pub fn task(&self, index: u32) -> Result<&TaskNode> {
        self.tasks
            .get(index as usize)
            .ok_or_else(|| Error::Internal(format!("unknown task index {index}")))
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}
