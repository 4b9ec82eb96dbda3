//! An activation a resume found in flight: what the run starts again, and
//! what its resume note describes.

use crate::store::Execution;

/// An activation that was in flight when the run stopped.
#[derive(Debug)]
pub struct PendingActivation {
    pub task: u32,
    pub step: u32,
    /// Its executions so far (attempts of the task, items), by item and attempt.
    pub executions: Vec<Execution>,
}
