//! What a durable run journals besides its completions: attempts that
//! fail and are retried, items as they end (with their charges), and what
//! handlers log. Plain functions over the run registry (see `run.rs`).

use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::registry::with_run;
use crate::run::{outcome_status, step_attempt};

/// A durable run's attempt (`item` -1) or item attempt failed (`status` 1
/// or 2) and will be retried: journaled as `retrying` with its error (and,
/// for an item, when the attempt started).
#[napi(js_name = "runRetrying")]
pub fn run_retrying(
    handle: u32,
    task: u32,
    step_attempt_packed: f64,
    item: i32,
    error_json: String,
    started_ms: Option<f64>,
) -> Result<(), JsError> {
    guard(|| {
        let (step, attempt) = step_attempt(step_attempt_packed)?;
        let started = started_ms.map(|ms| ms as i64);
        with_run(handle, |state| {
            state.journal_execution(task, step, i64::from(item), attempt, "retrying", Some(&error_json), None, started)
        })
    })
}

/// An item of a durable run's with-items task ended (after its retries):
/// journaled with its result or error and start time (and, metered, its
/// charge settled in the same group of writes). Answers the sequence
/// number covering it, negated when the store's queue is full (the engine
/// then waits before starting more items).
#[allow(clippy::too_many_arguments)]
#[napi(js_name = "runItemDone")]
pub fn run_item_done(
    handle: u32,
    task: u32,
    step_attempt_packed: f64,
    item: u32,
    status: u32,
    payload_json: String,
    started_ms: f64,
    reserved: Option<f64>,
    charged: Option<f64>,
) -> Result<f64, JsError> {
    guard(|| {
        let (step, attempt) = step_attempt(step_attempt_packed)?;
        let status = outcome_status(status)?;
        with_run(handle, |state| {
            let started = Some(started_ms as i64);
            state.journal_execution(task, step, i64::from(item), attempt, status.as_str(), Some(&payload_json), None, started)?;
            if let (Some(reserved), Some(charged)) = (reserved, charged) {
                crate::meter::settle(state, task, step, i64::from(item), attempt, reserved, charged)?;
            }
            let (seq, full) = state.flush_journal()?.unwrap_or((0, false));
            Ok(if full { -(seq as f64) } else { seq as f64 })
        })
    })
}

/// A durable run's handler said something (`ctx.log`): journaled as a
/// `task.log` event (`item` -1: the task itself; `dataJson`: JSON or null).
#[napi(js_name = "runLog")]
pub fn run_log(handle: u32, task: u32, attempt: u32, item: i32, message: String, data_json: Option<String>) -> Result<(), JsError> {
    guard(|| {
        with_run(handle, |state| match state.journal_mut() {
            Some(journal) => journal.event("task.log", Some((task, i64::from(item), attempt)), &message, data_json),
            None => Ok(()),
        })
    })
}
