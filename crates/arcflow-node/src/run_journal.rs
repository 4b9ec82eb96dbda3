//! What a durable run journals besides its steps: what handlers log.

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
