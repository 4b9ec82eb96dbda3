//! Runs, as plain functions over a per-thread registry keyed by a handle the
//! engine picks: a call on a `#[napi]` class instance costs several times a
//! plain function call (measured), and a run makes a handful of calls per
//! task. Answers that decide what happens next come back as one JSON text:
//!
//! - `[0, t, k, v, ...]` start tasks `t`; per task `k` is 0 (`v` is its
//!   rendered input), 1 (rendering failed, `v` is the error), 2 (no input),
//!   3 (a with-items task: the engine asks for its items), 4 (a metered
//!   run's account cannot cover the task's cost: `v` is the balance); for
//!   0 and 2 a metered run has reserved the task's cost when it is a number;
//! - `[1]` a transition chose `fail`; `[2]` a failure went unhandled;
//! - `[3, output]` the run is complete; `[4, error]` its output failed to render;
//! - `[5, error]` the initial variables failed to render.
//!
//! Errors as data are `{ code, payload }` (see `error::to_json_value`).

use std::sync::Arc;

use arcflow_core::flow::{set_system_values, Journal, Next, RunState};
use arcflow_core::value::{from_json, to_json};
use arcflow_core::{OutcomeStatus, TaskOutcome, Value};
use napi_derive::napi;

use crate::context::{new_context, NativeContext};
use crate::error::{guard, to_json_value, JsError};
use crate::flow::{internal, NativeFlow};
use crate::registry::{self, with_run};
use crate::store::NativeStore;

pub(crate) fn push_json(out: &mut String, value: &Value) -> arcflow_core::Result<()> {
    out.push_str(&to_json(value)?);
    Ok(())
}

pub(crate) fn push_error(out: &mut String, err: &arcflow_core::Error) {
    out.push_str(&to_json_value(err).to_string());
}

/// `k, v` of an input: `0,<json>`, `2,null` (none) or `1,<error>`.
pub(crate) fn push_input(out: &mut String, input: arcflow_core::Result<Option<String>>) {
    match input {
        Ok(Some(json)) => {
            out.push_str("0,");
            out.push_str(&json);
        }
        Ok(None) => out.push_str("2,null"),
        Err(err) => {
            out.push_str("1,");
            push_error(out, &err);
        }
    }
}

/// `[0, t, k, v, ...]` for tasks about to start (a durable run journals
/// each as started, with its input).
pub(crate) fn schedule(state: &mut RunState, tasks: &[u32]) -> arcflow_core::Result<String> {
    let mut out = String::from("[0");
    for &task in tasks {
        out.push_str(&format!(",{task},"));
        let from = out.len();
        push_task_input(&mut out, state, task)?;
        // a metered run reserves a task's static cost here, once its input
        // rendered; `4,balance`: the account cannot cover it
        if let Some(meter) = &state.meter {
            let rendered = out[from..].starts_with("0,") || out[from..].starts_with("2,");
            if rendered {
                if let Some(Err(balance)) = meter.reserve_static(task)? {
                    out.truncate(from);
                    out.push_str(&format!("4,{balance}"));
                    state.activate_one(task, None)?;
                    continue;
                }
            }
        }
        // `0,<json>`: the input as rendered
        let input = out[from..].strip_prefix("0,").map(str::to_owned);
        state.activate_one(task, input.as_deref())?;
    }
    out.push(']');
    Ok(out)
}

/// `k, v` of a task's first input; `3,null` for a with-items task.
pub(crate) fn push_task_input(out: &mut String, state: &RunState, task: u32) -> arcflow_core::Result<()> {
    if state.graph().task(task)?.items.is_some() {
        out.push_str("3,null");
    } else {
        push_input(out, state.task_input(task));
    }
    Ok(())
}

/// `[3, output]` or `[4, error]`; a durable run journals its end.
pub(crate) fn finish(state: &mut RunState) -> arcflow_core::Result<String> {
    let (answer, ended) = match state.output().and_then(|o| o.map(|v| to_json(&v)).transpose()) {
        Ok(output) => {
            let text = output.as_deref().unwrap_or("null").to_owned();
            (format!("[3,{text}]"), ("succeeded", output, None))
        }
        Err(err) => {
            let mut out = String::from("[4,");
            push_error(&mut out, &err);
            out.push(']');
            let error = to_json_value(&err).to_string();
            (out, ("failed", None, Some(error)))
        }
    };
    if let Some(journal) = state.journal_mut() {
        journal.end(ended.0, ended.1, ended.2)?;
    }
    Ok(answer)
}

/// The engine's status codes: 0 succeeded, 1 failed, 2 timed out.
pub(crate) fn outcome_status(status: u32) -> arcflow_core::Result<OutcomeStatus> {
    Ok(match status {
        0 => OutcomeStatus::Succeeded,
        1 => OutcomeStatus::Failed,
        2 => OutcomeStatus::TimedOut,
        other => return Err(internal(&format!("unknown outcome status {other}"))),
    })
}

pub(crate) fn status_code(status: &str) -> u8 {
    match status {
        "succeeded" => 0,
        "failed" => 1,
        "timed_out" => 2,
        "retrying" => 3,
        _ => 4, // running, cancelled
    }
}

pub(crate) fn outcome(status: u32, payload_json: &str) -> arcflow_core::Result<TaskOutcome> {
    Ok(TaskOutcome::ended(outcome_status(status)?, from_json(payload_json)?))
}

/// What durable runs pass with an execution: `step * 2^20 + attempt`.
pub(crate) fn step_attempt(ack: f64) -> arcflow_core::Result<(u32, u32)> {
    if !((0.0..4_503_599_627_370_496.0).contains(&ack) && ack.fract() == 0.0) {
        return Err(internal(&format!("bad step and attempt {ack}")));
    }
    let ack = ack as u64;
    Ok(((ack >> 20) as u32, (ack & 0xF_FFFF) as u32))
}

/// Starts a run under `handle`: creates its context (system values
/// `run_id`, `workflow`, `started_at`), renders the initial variables, and
/// answers with the start tasks and their inputs (`[0, ...]`) or `[5, error]`.
/// With a `store`, the run is durable: its progress is journaled, and every
/// answer ends with `full, seq` (see [`with_ack`]).
#[allow(clippy::too_many_arguments)]
#[napi(js_name = "runStart")]
pub fn run_start(
    flow: &NativeFlow,
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
        let graph = flow.sealed.clone().ok_or_else(|| internal("the flow is not sealed"))?;
        if registry::is_live(handle) {
            return Err(internal(&format!("run handle {handle} is in use")));
        }
        let ctx = new_context(input_json.clone(), None)?;
        set_system_values(&ctx, &run_id, &graph.name, started_ms as i64);
        let mut state = RunState::new(Arc::clone(&graph), ctx);
        state.set_run_id(&run_id);
        state.meter = crate::meter::run_meter_of(meter_table, meter_account)?;
        if let Some(store) = store {
            let input = input_json.as_deref().unwrap_or("null");
            state.set_journal(Journal::start(Arc::clone(&store.writer), &run_id, &graph, input, account.as_deref(), store.snapshot_every)?);
        }
        let answer = match state.init_vars() {
            Ok(()) => schedule(&mut state, graph.start())?,
            Err(err) => {
                let mut out = String::from("[5,");
                push_error(&mut out, &err);
                out.push(']');
                out
            }
        };
        let answer = with_ack(&mut state, answer)?;
        registry::insert(handle, state);
        Ok(answer)
    })
}

/// A durable run's answer ends with `full, seq`: whether the store's queue
/// is past its capacity (the engine then waits for it), and the sequence
/// number that covers the run's writes so far (a `sync` run waits for it).
pub(crate) fn with_ack(state: &mut RunState, mut answer: String) -> arcflow_core::Result<String> {
    if let Some((seq, full)) = state.flush_journal()? {
        answer.pop();
        answer.push_str(&format!(",{},{seq}]", u8::from(full)));
    }
    Ok(answer)
}

/// What `runComplete` packs into one number: each argument of a napi call
/// costs about as much as the call itself on a busy V8 (measured), so the
/// run handle, task, status and flags travel as one `f64`:
/// `handle * 2^20 + task * 16 + status * 4 + follow * 2 + idle` (exact
/// below 2^53; tasks are fewer than 2^16).
pub(crate) struct CompleteOp {
    handle: u32,
    task: u32,
    status: u32,
    follow: bool,
    idle: bool,
}

impl CompleteOp {
    fn unpack(op: f64) -> arcflow_core::Result<Self> {
        if !(op >= 0.0 && op < 9_007_199_254_740_992.0 && op.fract() == 0.0) {
            return Err(internal(&format!("bad completion {op}")));
        }
        let op = op as u64;
        let low = (op & 0xF_FFFF) as u32;
        Ok(CompleteOp {
            handle: (op >> 20) as u32,
            task: low >> 4,
            status: (low >> 2) & 3,
            follow: low & 2 != 0,
            idle: low & 1 != 0,
        })
    }
}

/// Records a task's outcome (status 0 succeeded, 1 failed, 2 timed out;
/// `payloadJson`: the result or the error) and, with `follow`, fires its
/// transitions. With `idle` (nothing else in flight) and nothing to start,
/// the run is complete: the answer is its output, and the run is released.
/// `op` packs the arguments (see [`CompleteOp`]); a durable run also passes
/// `stepAttempt` (`step * 2^20 + attempt`), and a metered run whose last
/// attempt succeeded its reservation and charge (settled here: one call
/// fewer per task than `meterSettle`).
#[napi(js_name = "runComplete")]
pub fn run_complete(
    op: f64,
    payload_json: String,
    step_attempt_packed: Option<f64>,
    reserved: Option<f64>,
    charged: Option<f64>,
) -> Result<String, JsError> {
    guard(|| {
        let CompleteOp { handle, task, status, follow, idle } = CompleteOp::unpack(op)?;
        let (step, attempt) = step_attempt_packed.map_or(Ok((0, 1)), step_attempt)?;
        let (answer, done) = with_run(handle, |state| {
            let outcome = outcome(status, &payload_json)?;
            state.record(task, step, attempt, outcome.status, &payload_json)?;
            if let (Some(reserved), Some(charged)) = (reserved, charged) {
                crate::meter::settle(state, task, step, -1, attempt, reserved, charged)?;
            }
            let next = state.complete(task, outcome, follow)?;
            let (answer, done) = match next {
                Next::Fail => ("[1]".to_owned(), false),
                Next::Unhandled => ("[2]".to_owned(), false),
                Next::Schedule(tasks) if tasks.is_empty() && idle && follow => (finish(state)?, true),
                Next::Schedule(tasks) => (schedule(state, &tasks)?, false),
            };
            if !done {
                state.checkpoint()?;
            }
            Ok((with_ack(state, answer)?, done))
        })?;
        if done {
            registry::remove(handle);
        }
        Ok(answer)
    })
}

/// The run is complete (nothing in flight, nothing to start): `[3, output]`
/// or `[4, error]`; the run is released.
#[napi(js_name = "runFinish")]
pub fn run_finish(handle: u32) -> Result<String, JsError> {
    let answer = guard(|| with_run(handle, |state| {
        let answer = finish(state)?;
        with_ack(state, answer)
    }))?;
    registry::remove(handle);
    Ok(answer)
}

/// A task's input again (a retry): JSON text, or `null` for none. A
/// durable run passes `stepAttempt` and journals the attempt as started.
#[napi(js_name = "runTaskInput")]
pub fn run_task_input(handle: u32, task: u32, step_attempt_packed: Option<f64>) -> Result<Option<String>, JsError> {
    guard(|| {
        with_run(handle, |state| {
            if let Some(packed) = step_attempt_packed {
                let (step, attempt) = step_attempt(packed)?;
                let input = state.task_input(task)?;
                state.journal_execution(task, step, -1, attempt, "running", None, input.as_deref(), None)?;
                return Ok(input);
            }
            state.task_input(task)
        })
    })
}

/// Whether a failed attempt (`status` 1 or 2, `errorJson`) may be retried
/// under the task's `retry.when`.
#[napi(js_name = "runRetryAllowed")]
pub fn run_retry_allowed(handle: u32, task: u32, status: u32, error_json: String) -> Result<bool, JsError> {
    guard(|| with_run(handle, |state| state.retry_allowed(task, outcome(status, &error_json)?)))
}

/// A handle on a live run's context.
#[napi(js_name = "runContext")]
pub fn run_context(handle: u32) -> Result<NativeContext, JsError> {
    guard(|| with_run(handle, |state| Ok(NativeContext { inner: state.context().clone() })))
}

/// Releases a run (idempotent). A durable run that ended another way than
/// through its output (failed, cancelled, timed out) journals its end
/// (`status`, `errorJson`); answers the sequence number covering its
/// writes, or -1.
#[napi(js_name = "runEnd")]
pub fn run_end(handle: u32, status: Option<String>, error_json: Option<String>) -> Result<f64, JsError> {
    let state = registry::remove(handle);
    let Some(mut state) = state else { return Ok(-1.0) };
    guard(|| {
        let Some(journal) = state.journal_mut() else { return Ok(-1.0) };
        let (seq, _) = match status {
            Some(status) => journal.end(&status, None, error_json)?,
            None => journal.flush()?,
        };
        Ok(seq as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::CompleteOp;

    #[test]
    fn complete_op_unpacks_what_the_engine_packs() {
        // as lib/engine/run.ts packs it
        let pack = |handle: f64, task: f64, status: f64, follow: f64, idle: f64| handle * 1_048_576.0 + task * 16.0 + status * 4.0 + follow * 2.0 + idle;
        let op = CompleteOp::unpack(pack(4_294_967_295.0, 65_535.0, 2.0, 1.0, 0.0)).unwrap();
        assert_eq!((op.handle, op.task, op.status, op.follow, op.idle), (u32::MAX, 65_535, 2, true, false));
        let op = CompleteOp::unpack(pack(7.0, 0.0, 0.0, 0.0, 1.0)).unwrap();
        assert_eq!((op.handle, op.task, op.status, op.follow, op.idle), (7, 0, 0, false, true));
        for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, 9_007_199_254_740_992.0] {
            assert!(CompleteOp::unpack(bad).is_err(), "{bad}");
        }
    }
}
