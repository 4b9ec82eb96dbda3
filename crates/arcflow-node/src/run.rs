//! Runs, as plain functions over the run registry (see `registry.rs`):
//! each converts its arguments, makes one core call (the core decides the
//! whole step: see `arcflow_core::flow::RunState::complete_task`) and
//! writes the answer (see `protocol.rs`).

use std::sync::Arc;

use arcflow_core::flow::{Answer, Completion, Input, Journal, RunStart, RunState};
use napi_derive::napi;

use crate::context::{new_context, NativeContext};
use crate::error::{guard, JsError};
use crate::flow::internal;
use crate::meter::{charge, run_billing};
use crate::protocol::{outcome_status, push_input, write_answer, CompleteOp, Unit};
use crate::registry::{self, with_run};
use crate::store::NativeStore;

/// Writes `answer` with the run's acknowledgement; a run the answer ends is released.
fn answer(state: &mut RunState, answer: &Answer) -> arcflow_core::Result<(String, bool)> {
    Ok((write_answer(answer, state.ack()?), answer.ends_run()))
}

/// Starts a run of flow `flow` (its number: see `NativeFlow.register`)
/// under `handle`: creates its context (system values
/// `run_id`, `workflow`, `started_at`), renders the initial variables, and
/// answers with the start tasks (`Schedule`) or `VarsError`. With a
/// `store`, the run is durable: its progress is journaled; with a meter
/// table and account, it is metered.
#[allow(clippy::too_many_arguments)]
#[napi(js_name = "runStart")]
pub fn run_start(
    flow: u32,
    handle: u32,
    input_json: Option<String>,
    run_id: String,
    started_ms: f64,
    store: Option<&NativeStore>,
    account: Option<String>,
    meter_table: Option<u32>,
    meter_account: Option<u32>,
) -> Result<String, JsError> {
    guard(|| {
        let graph = crate::flow_ids::get(flow)?;
        if registry::is_live(handle) {
            return Err(internal(&format!("run handle {handle} is in use")));
        }
        let ctx = new_context(input_json.as_deref(), None)?;
        let journal = match store {
            Some(store) => {
                let input = input_json.as_deref().unwrap_or("null");
                Some(Journal::start(Arc::clone(&store.writer), &run_id, &graph, input, account.as_deref(), store.snapshot_every)?)
            }
            None => None,
        };
        let billing = run_billing(meter_table, meter_account)?;
        let (mut state, start) = RunState::start(graph, ctx, RunStart { run_id, started_ms: started_ms as i64, journal, billing })?;
        let (text, _) = answer(&mut state, &start)?;
        registry::insert(handle, state);
        Ok(text)
    })
}

/// An attempt of a task ended (`op`: see [`CompleteOp`]; `payloadJson`: the
/// result or the error): the core records it and answers what follows. A
/// durable or metered run names the execution (`unit`, see [`Unit`]); a
/// metered run's attempt passes its reservation and the charge its handler
/// reported (-1: none). An answer that ends the run releases it.
#[napi(js_name = "runComplete")]
pub fn run_complete(op: f64, payload_json: String, unit: Option<f64>, reserved: Option<f64>, reported: Option<f64>) -> Result<String, JsError> {
    guard(|| {
        let CompleteOp { handle, task, status, follow, idle } = CompleteOp::unpack(op)?;
        let (step, attempt) = match unit.map(Unit::unpack).transpose()? {
            Some(unit) => (unit.step, unit.attempt),
            None => (0, 1),
        };
        let charge = reserved.map(|r| charge(r, reported)).transpose()?;
        let (text, done) = with_run(handle, |state| {
            let next = state.complete_task(Completion { task, step, attempt, status, payload_json: &payload_json, charge, follow, idle })?;
            answer(state, &next)
        })?;
        if done {
            registry::remove(handle);
        }
        Ok(text)
    })
}

/// The run is complete (nothing in flight, nothing to start): `Complete`,
/// `OutputError` or `JoinError`; the run is released.
#[napi(js_name = "runFinish")]
pub fn run_finish(handle: u32) -> Result<String, JsError> {
    let text = guard(|| with_run(handle, |state| {
        let end = state.finish()?;
        answer(state, &end)
    }))?;
    registry::remove(handle);
    Ok(text.0)
}

/// A failed attempt (`status` 1 or 2, `errorJson`) that the retry count
/// allows: whether the task's `retry.when` allows it too. A durable run
/// journals it as `retrying` (`item` -1: the task itself; `startedMs`: when
/// an item's attempt started; `batch`: the item's activation, whose kept
/// input the row carries).
#[napi(js_name = "runRetry")]
pub fn run_retry(handle: u32, unit: f64, item: i32, status: u32, error_json: String, started_ms: Option<f64>, batch: Option<u32>) -> Result<bool, JsError> {
    guard(|| {
        let Unit { task, step, attempt } = Unit::unpack(unit)?;
        let status = outcome_status(status)?;
        with_run(handle, |state| state.retry(task, step, i64::from(item), attempt, status, &error_json, started_ms.map(|ms| ms as i64), batch))
    })
}

/// A retry of a task starts: its input rendered again, as `[k, v]` (an
/// `InputKind` and its value); a durable run journals the attempt, a
/// metered one reserves its static cost.
#[napi(js_name = "runAttemptInput")]
pub fn run_attempt_input(handle: u32, unit: f64) -> Result<String, JsError> {
    guard(|| {
        let Unit { task, step, attempt } = Unit::unpack(unit)?;
        with_run(handle, |state| {
            let input = state.attempt_input(task, step, attempt)?;
            Ok(input_text(&input))
        })
    })
}

/// `[k, v]` of one input.
pub(crate) fn input_text(input: &Input) -> String {
    let mut out = String::from("[");
    push_input(&mut out, input);
    out.push(']');
    out
}

/// A handle on a live run's context.
#[napi(js_name = "runContext")]
pub fn run_context(handle: u32) -> Result<NativeContext, JsError> {
    guard(|| with_run(handle, |state| Ok(NativeContext { inner: state.context().clone() })))
}

/// Releases a run (idempotent). A run that ended another way than through
/// its output (failed, cancelled, timed out) gives back what its attempts
/// still reserve, and a durable one journals its end (`status`,
/// `errorJson`); answers the sequence number covering its writes, or -1.
#[napi(js_name = "runEnd")]
pub fn run_end(handle: u32, status: Option<String>, error_json: Option<String>) -> Result<f64, JsError> {
    let Some(mut state) = registry::remove(handle) else { return Ok(-1.0) };
    guard(|| {
        let ack = state.end(status.as_deref(), error_json)?;
        Ok(ack.map_or(-1.0, |a| a.seq as f64))
    })
}
