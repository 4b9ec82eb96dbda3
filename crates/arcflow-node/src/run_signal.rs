//! Signals: one for a live run (`runSignal`, journaled when it is durable),
//! a wait taking one (`runSignalTaken`), one for a run no process of this
//! store holds (`storeSignal`). See `arcflow_core::flow::signal_stored`.

use arcflow_core::flow::{signal_stored, Ack};
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::registry::with_run;
use crate::store::NativeStore;

/// An acknowledgement as one number: its sequence, negative when the
/// store's queue is full, 0 when nothing was queued.
fn ack_number(ack: Option<Ack>) -> f64 {
    ack.map_or(0.0, |a| if a.full { -(a.seq as f64) } else { a.seq as f64 })
}

/// Signal `name` (payload as JSON) arrived for live run `handle`.
#[napi(js_name = "runSignal")]
pub fn run_signal(handle: u32, name: String, payload_json: String, at: Option<f64>) -> Result<f64, JsError> {
    guard(|| with_run(handle, |state| Ok(ack_number(state.signal_received(&name, &payload_json, at.map(|t| t as i64))?))))
}

/// A wait of run `handle` took the oldest signal `name`: journaled with
/// the completion the engine makes next.
#[napi(js_name = "runSignalTaken")]
pub fn run_signal_taken(handle: u32, name: String) -> Result<(), JsError> {
    guard(|| with_run(handle, |state| state.signal_taken(&name)))
}

/// Signal `name` for durable run `runId`, which no run of this process
/// holds: queued for its resume (a `SignalError` if the store has no such
/// run, or it has ended).
#[napi(js_name = "storeSignal")]
pub fn store_signal(store: &NativeStore, run_id: String, name: String, payload_json: String) -> Result<f64, JsError> {
    guard(|| {
        store.settle();
        let ack = store.with_reader(|reader| signal_stored(reader, &store.writer, &run_id, &name, &payload_json))?;
        Ok(ack_number(Some(ack)))
    })
}
