//! The items of a with-items task: rendered once, their inputs a window at
//! a time, each ending journaled (durable runs) with its charge (see
//! `arcflow_core::flow::RunState::item_done`).

use arcflow_core::flow::ItemEnd;
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::protocol::{outcome_status, push_input, push_json, Unit};
use crate::registry::with_run;
use crate::meter::charge;

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

/// Inputs of items `from..from + count`: `[k, v, k, v, ...]` (`InputKind`s).
#[napi(js_name = "runItemInputs")]
pub fn run_item_inputs(handle: u32, task: u32, batch: u32, from: u32, count: u32) -> Result<String, JsError> {
    guard(|| {
        with_run(handle, |state| {
            let mut out = String::from("[");
            for (i, input) in state.item_inputs(task, batch, from, count)?.iter().enumerate() {
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

/// An item of a durable run's with-items task ended (after its retries):
/// journaled with its result or error and start time (and, metered, its
/// charge settled in the same group of writes: `reserved`, and `reported`
/// -1 for none). Answers the sequence number covering it, negated when the
/// store's queue is full (the engine then waits before starting more items).
#[allow(clippy::too_many_arguments)]
#[napi(js_name = "runItemDone")]
pub fn run_item_done(
    handle: u32,
    unit: f64,
    batch: u32,
    item: u32,
    status: u32,
    payload_json: String,
    started_ms: f64,
    reserved: Option<f64>,
    reported: Option<f64>,
) -> Result<f64, JsError> {
    guard(|| {
        let Unit { task, step, attempt } = Unit::unpack(unit)?;
        let status = outcome_status(status)?;
        let charge = reserved.map(|r| charge(r, reported)).transpose()?;
        with_run(handle, |state| {
            let end = ItemEnd { task, batch, step, item, attempt, status, payload_json: &payload_json, started_at: started_ms as i64, charge };
            let ack = state.item_done(end)?;
            Ok(ack.map_or(0.0, |a| if a.full { -(a.seq as f64) } else { a.seq as f64 }))
        })
    })
}
