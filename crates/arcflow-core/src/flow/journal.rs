//! What a durable run writes as it goes: its start, each task execution
//! (started, retrying, ended; items as they end), each published variable,
//! a snapshot now and then, and its end, queued on the write-behind store
//! (no I/O here). A run without a journal writes nothing.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use minijinja::Value;

use crate::error::Result;
use crate::store::{Execution, Write, WriteBehind};
use crate::value::to_json;

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Completions between two snapshots of a run, by default: resume replays
/// at most this many completions after the latest snapshot.
pub const DEFAULT_SNAPSHOT_EVERY: u32 = 256;

pub struct Journal {
    writer: Arc<WriteBehind>,
    run_id: String,
    /// The journal position of the last execution write.
    jseq: u64,
    snapshot_every: u32,
    since_snapshot: u32,
    /// Sequence number and "queue full" of the last write.
    last: (u64, bool),
}

/// One execution write, by its key.
pub(crate) struct ExecutionWrite<'a> {
    pub task: &'a str,
    pub step: u32,
    pub item: i64,
    pub attempt: u32,
    pub status: &'a str,
    pub payload: Option<&'a str>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl Journal {
    /// A new run: journals its start.
    pub fn start(writer: Arc<WriteBehind>, run_id: String, workflow: &str, input_json: &str, snapshot_every: u32) -> Result<Self> {
        Self::open(writer, run_id, workflow, input_json, now_ms(), 0, snapshot_every)
    }

    /// A run started before (a resume): its journal goes on after `jseq`.
    pub(crate) fn open(
        writer: Arc<WriteBehind>,
        run_id: String,
        workflow: &str,
        input_json: &str,
        started_at: i64,
        jseq: u64,
        snapshot_every: u32,
    ) -> Result<Self> {
        let write = Write::RunStarted { id: run_id.clone(), workflow: workflow.to_owned(), input: input_json.to_owned(), started_at };
        let last = writer.enqueue([write])?;
        Ok(Journal { writer, run_id, jseq, snapshot_every: snapshot_every.max(1), since_snapshot: 0, last })
    }

    pub(crate) fn execution(&mut self, e: ExecutionWrite<'_>) -> Result<()> {
        self.jseq += 1;
        let write = Write::Task(Execution {
            run_id: self.run_id.clone(),
            task: e.task.to_owned(),
            step: e.step,
            item: e.item,
            attempt: e.attempt,
            status: e.status.to_owned(),
            payload: e.payload.map(str::to_owned),
            started_at: e.started_at,
            ended_at: e.ended_at,
            jseq: self.jseq,
        });
        self.last = self.writer.enqueue([write])?;
        Ok(())
    }

    pub(crate) fn var(&mut self, name: &str, value: &Value) -> Result<()> {
        let write = Write::Var { run_id: self.run_id.clone(), name: name.to_owned(), value: to_json(value)? };
        self.last = self.writer.enqueue([write])?;
        Ok(())
    }

    /// Counts a completion; true when a snapshot is due.
    pub(crate) fn completed(&mut self) -> bool {
        self.since_snapshot += 1;
        self.since_snapshot >= self.snapshot_every
    }

    pub(crate) fn snapshot(&mut self, state: String) -> Result<()> {
        self.since_snapshot = 0;
        let write = Write::Snapshot { run_id: self.run_id.clone(), jseq: self.jseq, state };
        self.last = self.writer.enqueue([write])?;
        Ok(())
    }

    pub fn end(&mut self, status: &str, output: Option<String>, error: Option<String>) -> Result<()> {
        let write = Write::RunEnded { id: self.run_id.clone(), status: status.to_owned(), output, error, ended_at: now_ms() };
        self.last = self.writer.enqueue([write])?;
        Ok(())
    }

    /// The sequence number covering every write so far, and whether the
    /// queue is past its capacity.
    pub fn last(&self) -> (u64, bool) {
        self.last
    }
}
