//! `runResume`: an interrupted durable run rebuilt from its store and
//! registered like a started one (see `arcflow_core::flow::Resumed`).

use arcflow_core::flow::{queued_signals, Next, PendingActivation, Resumed, RunState};
use arcflow_core::value::to_json;
use arcflow_core::OutcomeStatus;
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::flow::{internal, NativeFlow};
use crate::meter::run_billing;
use crate::protocol::{push_input, status_code, write_answer, AnswerKind};
use crate::registry::{insert as insert_run, is_live};
use crate::store::NativeStore;

/// Resumes run `runId` of `flow` from `store` under `handle` (see
/// `arcflow_core::flow::Resumed`). Answers, each ending with `full, seq`:
///
/// - `[6, starts, [[t, step, k, v, attempt, interrupted, began, failed, items], ...]]`:
///   activations to start again; `starts` counts activations per task so
///   far; `attempt` is the last attempt journaled (0: none), `interrupted`
///   1 when it was running; `began` when its first attempt started (ms, or null);
///   `failed` when that last attempt failed, if it is `retrying` (ms, or null:
///   a durable retry delay counts from it); `items` (with-items tasks) lists the item
///   executions journaled, `[index, attempt, status, payload, failed]` with status
///   0 succeeded, 1 failed, 2 timed out, 3 retrying (`failed`: when a retrying
///   attempt failed, ms or null);
/// - `[7, t, attempt, status, payload, next]`: the last completion ended
///   the run (`next` 1: a transition chose `fail`, 2: unhandled failure);
/// - `[3, output]` / `[4, error]` / `[9, error]`: the run is complete (and released).
///
/// Each then ends with the signals received and not taken, `[[name, payload], ...]`,
/// the resume's journal message (what starts again,
/// what counts as interrupted, what is retried) before `full, seq`.
#[napi(js_name = "runResume")]
pub fn run_resume(
    flow: &NativeFlow,
    handle: u32,
    run_id: String,
    store: &NativeStore,
    meter_table: Option<u32>,
    meter_account: Option<u32>,
) -> Result<String, JsError> {
    guard(|| {
        let graph = flow.sealed.clone().ok_or_else(|| internal("the flow is not sealed"))?;
        if is_live(handle) {
            return Err(internal(&format!("run handle {handle} is in use")));
        }
        let (mut state, resumed) = store.resume(graph, &run_id)?;
        // signals received and not taken yet: delivered again (waits take them)
        let signals = store.with_reader(|reader| reader.events(&run_id)).map(|events| queued_signals(&events))?;
        state.set_billing(run_billing(meter_table, meter_account)?);
        let (answer, live) = match resumed {
            Resumed::Complete => {
                let end = state.finish()?;
                (write_answer(&end, None), false)
            }
            Resumed::Ended { task, attempt, outcome, next } => {
                let payload = if outcome.status == OutcomeStatus::Succeeded { &outcome.result } else { &outcome.error };
                let next = if next == Next::Fail { AnswerKind::Fail } else { AnswerKind::Unhandled } as u8;
                let status = status_code(outcome.status.as_str()).map_or(u8::MAX, |s| s as u8);
                (format!("[{},{task},{attempt},{status},{},{next}]", AnswerKind::ResumedEnded as u8, to_json(payload)?), true)
            }
            Resumed::Continue(activations) => (resume_answer(&mut state, &activations)?, true),
        };
        let answer = with_ack(&mut state, answer, &signals)?;
        if live {
            insert_run(handle, state);
        }
        Ok(answer)
    })
}

/// Ends `answer` with the signals queued for the run (`[[name, payload], ...]`),
/// the resume's message and the acknowledgement of what the resume journaled.
fn with_ack(state: &mut RunState, mut answer: String, signals: &[(String, String)]) -> arcflow_core::Result<String> {
    answer.pop();
    answer.push_str(",[");
    for (i, (name, payload)) in signals.iter().enumerate() {
        if i > 0 {
            answer.push(',');
        }
        let name = serde_json::to_string(name).map_err(|e| internal(&e.to_string()))?;
        answer.push_str(&format!("[{name},{payload}]"));
    }
    answer.push(']');
    let note = serde_json::to_string(state.resume_note().unwrap_or("resumed")).map_err(|e| internal(&e.to_string()))?;
    answer.push(',');
    answer.push_str(&note);
    crate::protocol::push_ack(&mut answer, state.ack()?);
    answer.push(']');
    Ok(answer)
}

fn resume_answer(state: &mut RunState, activations: &[PendingActivation]) -> arcflow_core::Result<String> {
    let mut out = format!("[{},", AnswerKind::Resumed as u8);
    out.push_str(&serde_json::to_string(state.starts()).map_err(|e| internal(&e.to_string()))?);
    out.push_str(",[");
    for (i, activation) in activations.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (task, step) = (activation.task, activation.step);
        out.push_str(&format!("[{task},{step},"));
        let last = activation.executions.iter().filter(|e| e.item < 0).max_by_key(|e| e.attempt);
        let attempt = last.map_or(0, |e| e.attempt);
        let interrupted = last.is_some_and(|e| e.status == "running");
        let input = state.resumed_input(task, attempt == 0)?;
        push_input(&mut out, &input);
        // when the activation began (its first attempt): a wait's or a sleep's deadline counts from it
        let began = activation.executions.iter().filter(|e| e.item < 0).filter_map(|e| e.started_at).min();
        // when a retrying attempt failed: a long retry delay counts from it (see lib/engine/retry.ts)
        let failed = last.filter(|e| e.status == "retrying").and_then(|e| e.ended_at);
        let ms = |t: Option<i64>| t.map_or("null".to_owned(), |t| t.to_string());
        out.push_str(&format!(",{attempt},{},{},{}", u8::from(interrupted), ms(began), ms(failed)));
        if !state.graph().task(task)?.has_items() {
            out.push_str(",null]");
            continue;
        }
        out.push_str(",[");
        let mut first = true;
        for e in activation.executions.iter().filter(|e| e.item >= 0) {
            let Some(status) = status_code(e.status) else { continue };
            if !first {
                out.push(',');
            }
            first = false;
            let payload = e.payload.as_deref().unwrap_or("null");
            // a retrying item's failure time: its durable retry delay counts from it, as a task's
            let failed = if e.status == "retrying" { e.ended_at } else { None };
            out.push_str(&format!("[{},{},{},{payload},{}]", e.item, e.attempt, status as u8, ms(failed)));
        }
        out.push_str("]]");
    }
    out.push_str("]]");
    Ok(out)
}
