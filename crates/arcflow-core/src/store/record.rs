//! What the store keeps: runs, task executions (each attempt and item) and
//! published variables. Values are JSON text, as they cross the boundary.

use serde::Serialize;

/// One queued write. Writes of a run are applied in the order queued.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A run started (or was resumed).
    RunStarted { id: String, workflow: String, input: String, started_at: i64 },
    /// A task execution (an attempt of a task, or of one item) ended.
    Task {
        run_id: String,
        task: String,
        /// The run's activation number of the task (a task may run more than
        /// once in a cycle); with `item` and `attempt` it keys the row.
        step: u32,
        /// -1 for the task itself, else the item index.
        item: i64,
        attempt: u32,
        status: String,
        /// The result (succeeded) or the error, as JSON.
        payload: String,
        at: i64,
    },
    /// A variable was published.
    Var { run_id: String, name: String, value: String },
    /// The run ended.
    RunEnded { id: String, status: String, output: Option<String>, error: Option<String>, ended_at: i64 },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub task: String,
    pub step: u32,
    pub item: Option<i64>,
    pub attempt: u32,
    pub status: String,
    pub payload: String,
    pub at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub status: Option<String>,
    pub workflow: Option<String>,
    pub limit: Option<u32>,
}
