//! The writer's fences, for workers (`lib/queue/worker.ts`): a claimed run's
//! writes commit only while its row says this worker holds it at the
//! claim's epoch; the runs refused since the last call are `takeLost`'s.
//! Also the one write a worker makes for a run it cannot start (a workflow
//! it has not loaded): the run's end, fenced like any other of its writes.

use arcflow_core::store::Write;
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::store::NativeStore;

#[napi]
impl NativeStore {
    /// From now on, run `runId`'s writes commit only while `owner` holds it at `epoch`.
    #[napi]
    pub fn fence(&self, run_id: String, owner: String, epoch: f64) {
        self.writer.fence(&run_id, &owner, epoch as u64);
    }

    /// Run `runId`'s writes are no longer checked (it ended, or was let go).
    #[napi]
    pub fn unfence(&self, run_id: String) {
        self.writer.unfence(&run_id);
    }

    /// The runs whose writes were refused since the last call (another
    /// worker holds them now): `[[id, epoch]]` as JSON text.
    #[napi]
    pub fn take_lost(&self) -> Result<String, JsError> {
        guard(|| serde_json::to_string(&self.writer.take_lost()).map_err(|e| arcflow_core::Error::Internal(e.to_string())))
    }

    /// Queues the end of a run that never started here (`status`, the
    /// error as JSON text): answers the write's sequence number, to wait for.
    #[napi]
    pub fn end_unstarted(&self, run_id: String, status: String, error_json: Option<String>) -> Result<f64, JsError> {
        guard(|| {
            let ended_at = arcflow_core::time::now_ms();
            let seq = self.writer.enqueue([Write::RunEnded { id: run_id, status, output: None, error: error_json, ended_at }])?;
            Ok(seq.0 as f64)
        })
    }
}
