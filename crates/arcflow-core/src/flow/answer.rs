//! What one step of a run answers: the tasks to start (with their step
//! numbers and first inputs), or how the run ends. The binding only
//! serializes it (see `crates/arcflow-node/src/protocol.rs`).

use crate::context::OutcomeStatus;
use crate::error::Error;

/// A task's first input, as the engine receives it.
#[derive(Debug)]
pub enum Input {
    /// Rendered, as JSON text.
    Rendered(String),
    /// The task declares no input.
    None,
    /// Rendering failed: the attempt fails with this error.
    Error(Error),
    /// A with-items task: the engine asks for its items.
    Items,
    /// A metered run's account cannot cover the task's cost (its balance).
    Uncovered { balance: i64 },
    /// The cost is reserved, waiting for a lease (`ticket`, see
    /// `meter::lease::pending`): the attempt runs with `input` once covered.
    Pending { ticket: u64, input: Box<Input> },
}

impl Input {
    /// The rendered JSON, if any (what a durable run journals with the start).
    pub fn rendered(&self) -> Option<&str> {
        match self {
            Input::Rendered(json) => Some(json),
            Input::Pending { input, .. } => input.rendered(),
            _ => None,
        }
    }

    /// Whether an attempt runs with it (a static cost was reserved for it).
    pub fn runs(&self) -> bool {
        matches!(self, Input::Rendered(_) | Input::None)
    }
}

impl From<crate::error::Result<Option<String>>> for Input {
    fn from(input: crate::error::Result<Option<String>>) -> Self {
        match input {
            Ok(Some(json)) => Input::Rendered(json),
            Ok(None) => Input::None,
            Err(err) => Input::Error(err),
        }
    }
}

/// A task activation to start now.
#[derive(Debug)]
pub struct Scheduled {
    pub task: u32,
    /// The activation's number among the task's activations (1 for the first).
    pub step: u32,
    pub input: Input,
}

/// What a run's step leads to.
#[derive(Debug)]
pub enum Answer {
    /// Start these activations, in order (joins counted, costs reserved).
    Schedule(Vec<Scheduled>),
    /// A transition chose `fail`.
    Fail,
    /// The task failed and no transition handled it.
    Unhandled,
    /// Starting `task` would pass the workflow's step limit: nothing was started.
    StepLimit { task: u32, limit: u32 },
    /// The run is complete: its output as JSON (`None`: it declares none). Its end is journaled.
    Complete(Option<String>),
    /// The run's output failed to render: the run failed (journaled).
    OutputError(Error),
    /// Nothing is left to run while a join still waits: the run failed
    /// with an [`Error::Join`] (journaled).
    JoinError(Error),
    /// The initial variables failed to render.
    VarsError(Error),
}

impl Answer {
    /// The run has ended with this answer (its native state can go).
    pub fn ends_run(&self) -> bool {
        matches!(self, Answer::Complete(_) | Answer::OutputError(_) | Answer::JoinError(_))
    }
}

/// The store's acknowledgement of a durable run's writes so far: the
/// sequence number that covers them, and whether the queue is past its
/// capacity (the engine then waits for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub full: bool,
}

/// A metered attempt's reservation as it ends: what was reserved, and what
/// the handler reported with `ctx.charge()` (`None`: the estimate stands).
#[derive(Debug, Clone, Copy)]
pub struct Charge {
    pub reserved: i64,
    pub reported: Option<i64>,
}

/// One attempt of a task (not an item) that ended.
#[derive(Debug)]
pub struct Completion<'a> {
    pub task: u32,
    pub step: u32,
    pub attempt: u32,
    pub status: OutcomeStatus,
    /// The result (succeeded) or the error, as JSON.
    pub payload_json: &'a str,
    /// Metered runs: the attempt's reservation, settled by this step.
    pub charge: Option<Charge>,
    /// Fire the task's transitions (false while the run stops).
    pub follow: bool,
    /// Nothing else of the run is in flight: with nothing to start, the run is complete.
    pub idle: bool,
}
