//! What a durable run journals besides its steps: what handlers log, and
//! the events a stream rebuilt from the journal needs that its executions
//! do not say (`lib/engine/journal-events.ts`).

use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::registry::with_run;

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

/// A live event of a durable run that its executions do not imply
/// (`task.waiting`, `task.cached`, `task.child`, a stored signal's delivery;
/// `join.blocked` and `billing.insufficient_balance` are rebuilt from the
/// run's error instead, see `lib/engine/journal-events.ts`): journaled as an event of its own kind
/// with its fields as `dataJson` and its time `at` (epoch ms), so that a
/// stream rebuilt from the store equals the live one. `task` -1: a
/// run-level event (`item` -1: not an item's).
#[napi(js_name = "runEvent")]
pub fn run_event(handle: u32, kind: String, task: i32, attempt: u32, item: i32, data_json: String, at: f64) -> Result<(), JsError> {
    guard(|| {
        with_run(handle, |state| match state.journal_mut() {
            Some(journal) => {
                let unit = u32::try_from(task).ok().map(|task| (task, i64::from(item), attempt));
                journal.event_at(&kind, unit, "", Some(data_json), at as i64)
            }
            None => Ok(()),
        })
    })
}
