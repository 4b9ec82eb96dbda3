//! What a durable run writes as it goes: its start, each task execution,
//! each published variable and its end, queued on the write-behind store
//! (no I/O here). A run without a journal writes nothing.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use minijinja::Value;

use crate::error::Result;
use crate::store::{WriteBehind, Write};
use crate::value::to_json;

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub struct Journal {
    writer: Arc<WriteBehind>,
    run_id: String,
    /// Completions per task so far: a task's n-th execution in a cycle.
    steps: Vec<u32>,
    /// Sequence number and "queue full" of the last write.
    pub(crate) last: (u64, bool),
}

impl Journal {
    pub fn start(writer: Arc<WriteBehind>, run_id: String, workflow: &str, input_json: &str, tasks: usize) -> Result<Self> {
        let write = Write::RunStarted { id: run_id.clone(), workflow: workflow.to_owned(), input: input_json.to_owned(), started_at: now_ms() };
        let last = writer.enqueue([write])?;
        Ok(Journal { writer, run_id, steps: vec![0; tasks], last })
    }

    pub fn task(&mut self, task: u32, name: &str, attempt: u32, status: &str, payload_json: &str) -> Result<()> {
        let step = &mut self.steps[task as usize];
        *step += 1;
        let write = Write::Task {
            run_id: self.run_id.clone(),
            task: name.to_owned(),
            step: *step,
            item: -1,
            attempt,
            status: status.to_owned(),
            payload: payload_json.to_owned(),
            at: now_ms(),
        };
        self.last = self.writer.enqueue([write])?;
        Ok(())
    }

    pub(crate) fn var(&mut self, name: &str, value: &Value) -> Result<()> {
        let write = Write::Var { run_id: self.run_id.clone(), name: name.to_owned(), value: to_json(value)? };
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
