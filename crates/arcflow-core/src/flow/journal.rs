//! What a durable run writes as it goes: its start, each task execution
//! (started, retrying, ended; items as they end), each published variable,
//! a snapshot now and then, and its end, queued on the write-behind store
//! (no I/O here). A run without a journal writes nothing.

use std::sync::Arc;

use minijinja::Value;

use super::graph::FlowGraph;
use crate::error::Result;
use crate::store::{Execution, Write, WriteBehind};
use crate::value::to_json;

// `run.rs` imports the clock from here
pub(crate) use crate::time::now_ms;

/// Completions between two snapshots of a run, by default: resume replays
/// at most this many completions after the latest snapshot.
pub const DEFAULT_SNAPSHOT_EVERY: u32 = 256;

pub struct Journal {
    writer: Arc<WriteBehind>,
    run_id: Arc<str>,
    /// Task names by index, shared by every write.
    names: Vec<Arc<str>>,
    /// Writes of the current native call: queued in one go by
    /// [`Journal::flush`] (one lock per call, not per write).
    buffer: Vec<Write>,
    /// The journal position of the last execution write.
    jseq: u64,
    snapshot_every: u32,
    since_snapshot: u32,
    /// Sequence number and "queue full" of the last write.
    last: (u64, bool),
}

/// One execution write, by its key.
pub(crate) struct ExecutionWrite<'a> {
    pub task: u32,
    pub step: u32,
    pub item: i64,
    pub attempt: u32,
    pub status: &'static str,
    pub payload: Option<&'a str>,
    pub input: Option<&'a str>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl Journal {
    /// A new run: journals its start.
    pub fn start(
        writer: Arc<WriteBehind>,
        run_id: &str,
        graph: &FlowGraph,
        input_json: &str,
        account: Option<&str>,
        snapshot_every: u32,
    ) -> Result<Self> {
        Self::open(writer, run_id, graph, input_json, account, now_ms(), 0, snapshot_every)
    }

    /// A run started before (a resume): its journal goes on after `jseq`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        writer: Arc<WriteBehind>,
        run_id: &str,
        graph: &FlowGraph,
        input_json: &str,
        account: Option<&str>,
        started_at: i64,
        jseq: u64,
        snapshot_every: u32,
    ) -> Result<Self> {
        let write = Write::RunStarted {
            id: run_id.to_owned(),
            workflow: graph.name.clone(),
            workflow_hash: graph.version.clone(),
            input: input_json.to_owned(),
            started_at,
            account: account.map(str::to_owned),
        };
        let mut journal = Journal {
            writer,
            run_id: Arc::from(run_id),
            names: graph.tasks.iter().map(|t| Arc::from(t.name.as_str())).collect(),
            buffer: vec![write],
            jseq,
            snapshot_every: snapshot_every.max(1),
            since_snapshot: 0,
            last: (0, false),
        };
        journal.flush()?;
        Ok(journal)
    }

    pub(crate) fn execution(&mut self, e: ExecutionWrite<'_>) -> Result<()> {
        self.jseq += 1;
        let task = self
            .names
            .get(e.task as usize)
            .ok_or_else(|| crate::error::Error::Internal(format!("unknown task index {}", e.task)))?;
        self.buffer.push(Write::Task(Execution {
            run_id: Arc::clone(&self.run_id),
            task: Arc::clone(task),
            step: e.step,
            item: e.item,
            attempt: e.attempt,
            status: e.status,
            payload: e.payload.map(str::to_owned),
            input: e.input.map(str::to_owned),
            started_at: e.started_at,
            ended_at: e.ended_at,
            jseq: self.jseq,
        }));
        Ok(())
    }

    /// Another write that belongs with this call's (a charge with its completion).
    pub fn push(&mut self, write: Write) {
        self.buffer.push(write);
    }

    /// An event of the run's journal (`task.log`, `run.resumed`).
    pub fn event(&mut self, kind: &str, unit: Option<(u32, i64, u32)>, message: &str, data: Option<String>) -> Result<()> {
        self.event_at(kind, unit, message, data, now_ms())
    }

    /// An event stamped with the time its live twin carries (`at`, epoch
    /// ms), so that a stream rebuilt from the journal says the same time.
    pub fn event_at(&mut self, kind: &str, unit: Option<(u32, i64, u32)>, message: &str, data: Option<String>, at: i64) -> Result<()> {
        let (task, item, attempt) = match unit {
            Some((task, item, attempt)) => {
                let name = self.names.get(task as usize).map(|n| n.to_string());
                (name, (item >= 0).then_some(item), Some(attempt))
            }
            None => (None, None, None),
        };
        self.buffer.push(Write::Event(crate::store::EventRecord {
            run_id: self.run_id.to_string(),
            kind: kind.to_owned(),
            task,
            item,
            attempt,
            message: message.to_owned(),
            data,
            at,
        }));
        Ok(())
    }

    pub(crate) fn var(&mut self, name: &str, value: &Value) -> Result<()> {
        self.buffer.push(Write::Var { run_id: self.run_id.to_string(), name: name.to_owned(), value: to_json(value)? });
        Ok(())
    }

    /// Queues the writes of this call on the store. Returns the sequence
    /// number covering every write queued so far, and whether the queue is
    /// past its capacity.
    pub fn flush(&mut self) -> Result<(u64, bool)> {
        if !self.buffer.is_empty() {
            self.last = self.writer.enqueue(self.buffer.drain(..))?;
        }
        Ok(self.last)
    }

    /// Counts a completion; true when a snapshot is due.
    pub(crate) fn completed(&mut self) -> bool {
        self.since_snapshot += 1;
        self.since_snapshot >= self.snapshot_every
    }

    pub(crate) fn snapshot(&mut self, state: String) {
        self.since_snapshot = 0;
        self.buffer.push(Write::Snapshot { run_id: self.run_id.to_string(), jseq: self.jseq, state });
    }

    /// Journals the run's end and queues everything.
    pub fn end(&mut self, status: &str, output: Option<String>, error: Option<String>) -> Result<(u64, bool)> {
        self.buffer.push(Write::RunEnded { id: self.run_id.to_string(), status: status.to_owned(), output, error, ended_at: now_ms() });
        self.flush()
    }
}
