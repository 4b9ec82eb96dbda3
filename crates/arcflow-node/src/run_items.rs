//! The items of a with-items task: rendered once, their inputs a window at
//! a time (see `RunState::item_inputs`).

use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::registry::with_run;
use crate::run::{push_input, push_json};

/// Renders a with-items task's items: `[batch, [items...]]`.
#[napi(js_name = "runBeginItems")]
pub fn run_begin_items(handle: u32, task: u32) -> Result<String, JsError> {
    guard(|| {
        with_run(handle, |state| {
            let (batch, items) = state.begin_items(task)?;
            let mut out = format!("[{batch},");
            push_json(&mut out, &items)?;
            out.push(']');
            Ok(out)
        })
    })
}

/// Inputs of items `from..from + count`: `[k, v, k, v, ...]` with `k` as
/// in a schedule (0 input, 1 error, 2 none).
#[napi(js_name = "runItemInputs")]
pub fn run_item_inputs(handle: u32, task: u32, batch: u32, from: u32, count: u32) -> Result<String, JsError> {
    guard(|| {
        with_run(handle, |state| {
            let mut out = String::from("[");
            for (i, input) in state.item_inputs(task, batch, from, count)?.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_input(&mut out, input);
            }
            out.push(']');
            Ok(out)
        })
    })
}

#[napi(js_name = "runEndItems")]
pub fn run_end_items(handle: u32, batch: u32) {
    let _ = with_run(handle, |state| {
        state.end_items(batch);
        Ok(())
    });
}
