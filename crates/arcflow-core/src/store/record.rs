//! What the store keeps: runs, task executions (each attempt and item),
//! published variables, context snapshots, events and ledger entries. Values are JSON text, as
//! they cross the boundary.

use std::sync::Arc;

use serde::Serialize;

/// One queued write. Writes of a run are applied in the order queued.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A run started (or was resumed: its input and start time are kept).
    /// `workflow_hash`: the version of the workflow it runs (see
    /// [`Write::Workflow`]); a resume with one replaces it, with none keeps it.
    RunStarted { id: String, workflow: String, workflow_hash: Option<String>, input: String, started_at: i64, account: Option<String> },
    /// A version of a workflow: its definition (canonical JSON) under its
    /// content hash, kept once per (name, hash): writing it again changes nothing.
    Workflow { name: String, hash: String, definition: String, at: i64 },
    /// A task execution (an attempt of a task, or of one item) started or
    /// ended; a later write of the same execution updates it.
    Task(Execution),
    /// A variable was published.
    Var { run_id: String, name: String, value: String },
    /// The state of a run (context, join counters, activations in flight)
    /// after every write of its journal up to `jseq`: resume starts here.
    Snapshot { run_id: String, jseq: u64, state: String },
    /// The run ended; executions still `running` end `cancelled`.
    RunEnded { id: String, status: String, output: Option<String>, error: Option<String>, ended_at: i64 },
    /// A charge or a credit: applied once per key (the account's balance
    /// with it, in the same transaction).
    Ledger(LedgerWrite),
    /// Something a run's handler said (`ctx.log`) or a run-level event
    /// (`run.resumed`): the run's journal of events.
    Event(EventRecord),
    /// What links a run to others (issue 14, `store/links.rs`), written
    /// after its start: its parent run and task (a sub-workflow's child),
    /// and the idempotency key it was started with.
    RunLinks { id: String, parent_id: Option<String>, parent_task: Option<String>, start_key: Option<String> },
    /// Whether everything run `id` has in flight is parked (a wait or a
    /// sleep): `since` (ms) while it is, `None` once it runs on. Changes
    /// only a `running` run's row; its status reads `waiting` meanwhile.
    RunWaiting { id: String, since: Option<i64> },
    /// A task's successful result kept in the result cache under
    /// (workflow, task, key) for `ttl_ms` from when it is stored, by the
    /// store's clock (the database's on PostgreSQL: a process whose clock
    /// is off neither keeps an entry too long for the others nor loses it).
    CachePut { workflow: String, task: String, key: String, value: String, ttl_ms: i64 },
    /// Drops cached results: a workflow's (of one task, or of all), or every one.
    CacheClear { workflow: Option<String>, task: Option<String> },
}

impl Write {
    /// The run the write belongs to (a charge: the run it bills), if any:
    /// what fencing drops together.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Write::RunStarted { id, .. } | Write::RunEnded { id, .. } => Some(id),
            Write::Task(e) => Some(&e.run_id),
            Write::Var { run_id, .. } | Write::Snapshot { run_id, .. } => Some(run_id),
            Write::Event(e) => Some(&e.run_id),
            Write::RunLinks { id, .. } | Write::RunWaiting { id, .. } => Some(id),
            Write::CachePut { .. } | Write::CacheClear { .. } => None,
            Write::Ledger(LedgerWrite { key: LedgerKey::Unit { run_id, .. }, .. }) => Some(run_id),
            Write::Ledger(_) | Write::Workflow { .. } => None,
        }
    }
}

/// The lease a run's writes are checked against: they commit only while
/// the run's row says `owner` holds it at `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub run_id: String,
    pub owner: String,
    pub epoch: u64,
}

/// One event of a run's journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub run_id: String,
    /// `task.log`, `run.resumed`.
    pub kind: String,
    pub task: Option<String>,
    pub item: Option<i64>,
    pub attempt: Option<u32>,
    pub message: String,
    /// JSON, or none.
    pub data: Option<String>,
    pub at: i64,
}

/// Execution statuses: `running`, `retrying` (the attempt failed and
/// another follows), and the final `succeeded`, `failed`, `timed_out`,
/// `cancelled`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// Shared with every write of the run (no copy per write).
    pub run_id: Arc<str>,
    pub task: Arc<str>,
    /// The task's activation number in the run (a task runs again in a
    /// cycle); with `item` and `attempt` it keys the execution.
    pub step: u32,
    /// -1 for the task itself, else the item index.
    pub item: i64,
    pub attempt: u32,
    /// One of [`EXECUTION_STATUSES`].
    pub status: &'static str,
    /// The result (succeeded) or the error, as JSON; none while running.
    pub payload: Option<String>,
    /// The task's rendered input, as JSON (written when it starts; items: none).
    pub input: Option<String>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// The run's journal position of this write: replay after a snapshot
    /// follows it.
    pub jseq: u64,
}

pub const EXECUTION_STATUSES: [&str; 6] = ["running", "retrying", "succeeded", "failed", "timed_out", "cancelled"];

/// A status read back from the store, as one of [`EXECUTION_STATUSES`]
/// (`None`: not one of them).
pub fn execution_status(text: &str) -> Option<&'static str> {
    EXECUTION_STATUSES.iter().copied().find(|s| *s == text)
}

impl Execution {
    pub fn is_final(&self) -> bool {
        matches!(self.status, "succeeded" | "failed" | "timed_out")
    }

    /// What identifies the execution: later writes of it replace earlier ones.
    pub fn key(&self) -> (&str, &str, u32, i64, u32) {
        (&self.run_id, &self.task, self.step, self.item, self.attempt)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    /// The content hash of the workflow version the run runs (none: a run
    /// from before versions were kept).
    pub workflow_hash: Option<String>,
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// The account that pays for the run (metered runs).
    pub account: Option<String>,
    /// A sub-workflow's child: the run and task that started it.
    pub parent_id: Option<String>,
    pub parent_task: Option<String>,
}

impl RunRecord {
    /// Not ended: `running`, or `waiting` (see [`run_status`]).
    pub fn is_live(&self) -> bool {
        matches!(self.status.as_str(), "running" | "waiting")
    }
}

/// The status a run's row reads as: `running` with everything in flight
/// parked ([`Write::RunWaiting`]) is `waiting`; the row itself keeps
/// `running`, which leases and queues count on.
pub(crate) fn run_status(status: String, waiting_since: Option<i64>) -> String {
    if status == "running" && waiting_since.is_some() {
        "waiting".to_owned()
    } else {
        status
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub status: Option<String>,
    pub workflow: Option<String>,
    pub limit: Option<u32>,
}

/// What a ledger entry is keyed by: a billable unit (an attempt of a task or
/// an item) or a key the caller gave (a credit).
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerKey {
    Unit { run_id: Arc<str>, task: Arc<str>, step: u32, item: i64, attempt: u32 },
    Given(String),
}

/// One ledger write, queued on the store.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerWrite {
    pub account: Arc<str>,
    /// Credits: positive for a credit, negative for a charge.
    pub amount: i64,
    pub kind: &'static str,
    pub key: LedgerKey,
    pub at: i64,
    /// The owner of the credit lease a charge draws from (a leasing meter's,
    /// see `meter::lease`): the flush thread takes it from that lease row
    /// rather than from the account's balance. `None`: from the balance.
    pub lease: Option<Arc<str>>,
}

impl LedgerWrite {
    /// The unique key of the entry: `RUN/TASK/STEP/ITEM/ATTEMPT/KIND` for a
    /// unit (built on the flush thread, not the JS thread), else the given key.
    pub fn key_text(&self) -> String {
        match &self.key {
            LedgerKey::Unit { run_id, task, step, item, attempt } => format!("{run_id}/{task}/{step}/{item}/{attempt}/{}", self.kind),
            LedgerKey::Given(key) => format!("credit/{key}"),
        }
    }

    /// The entry as read back (an in-memory meter's ledger).
    pub(crate) fn entry(&self) -> LedgerEntry {
        let (run_id, task, item, attempt) = match &self.key {
            LedgerKey::Unit { run_id, task, item, attempt, .. } => {
                (Some(run_id.to_string()), Some(task.to_string()), (*item >= 0).then_some(*item), Some(*attempt))
            }
            LedgerKey::Given(_) => (None, None, None, None),
        };
        LedgerEntry { key: self.key_text(), account: self.account.to_string(), amount: self.amount, kind: self.kind.to_owned(), run_id, task, item, attempt, at: self.at }
    }
}

/// A ledger entry as `engine.ledger()` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub key: String,
    pub account: String,
    pub amount: i64,
    pub kind: String,
    pub run_id: Option<String>,
    pub task: Option<String>,
    pub item: Option<i64>,
    pub attempt: Option<u32>,
    pub at: i64,
}
