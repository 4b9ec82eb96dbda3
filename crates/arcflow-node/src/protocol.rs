//! The wire between the engine and the core, declared once: the codes are
//! `#[napi]` enums (they become `const enum`s in the generated `.d.ts`,
//! which `lib/engine/protocol.ts` uses), the packings of several numbers
//! into one `f64` live here and in `protocol.ts` only (each argument of a
//! napi call costs about as much as the call itself on a busy V8:
//! measured), and answers are JSON text written by [`write_answer`].
//!
//! An answer is `[kind, ...]`:
//! - `Schedule`: `[0, t, step, k, v, ...]`, four per task: index, step
//!   number, [`InputKind`] and value (the input, the error, the balance);
//! - `Fail` `[1]`, `Unhandled` `[2]`, `Complete` `[3, output]`,
//!   `OutputError` `[4, error]`, `VarsError` `[5, error]`,
//!   `StepLimit` `[8, t, limit]`, `JoinError` `[9, error]`; the resume answers `[6, ...]`, `[7, ...]`
//!   are `run_resume.rs`'s.
//!
//! A durable run's answer ends with `full, seq` (see [`push_ack`]).

use std::fmt::Write as _;

use arcflow_core::flow::{Ack, Answer, Input};
use arcflow_core::value::to_json;
use arcflow_core::{OutcomeStatus, Value};
use napi_derive::napi;

use crate::error::{guard, to_json_value, JsError};
use crate::flow::internal;

/// What an answer says (its first element).
#[napi]
pub enum AnswerKind {
    Schedule = 0,
    Fail = 1,
    Unhandled = 2,
    Complete = 3,
    OutputError = 4,
    VarsError = 5,
    Resumed = 6,
    ResumedEnded = 7,
    StepLimit = 8,
    /// Nothing left to run while a join waits: the run failed (`[9, error]`).
    JoinError = 9,
}

/// How the core hands over an attempt's input.
#[napi]
pub enum InputKind {
    Rendered = 0,
    Error = 1,
    None = 2,
    /// A with-items task: the engine asks for its items.
    Items = 3,
    /// A metered run's account cannot cover the cost (the value is the balance).
    Uncovered = 4,
    /// A metered run's cost is reserved, waiting for a lease: the value is
    /// `[ticket, kind, value]`, the input the attempt runs with once covered.
    Pending = 5,
}

/// An attempt's or execution's status as it crosses.
#[napi]
pub enum StatusCode {
    Succeeded = 0,
    Failed = 1,
    TimedOut = 2,
    /// Journaled executions only: failed, another attempt follows.
    Retrying = 3,
}

/// The status of an attempt that ended (`Succeeded`, `Failed`, `TimedOut`).
pub(crate) fn outcome_status(code: u32) -> arcflow_core::Result<OutcomeStatus> {
    Ok(match code {
        0 => OutcomeStatus::Succeeded,
        1 => OutcomeStatus::Failed,
        2 => OutcomeStatus::TimedOut,
        other => return Err(internal(&format!("unknown outcome status {other}"))),
    })
}

/// A journaled execution's status code; `None` for `running` and `cancelled`.
pub(crate) fn status_code(status: &str) -> Option<StatusCode> {
    Some(match status {
        "succeeded" => StatusCode::Succeeded,
        "failed" => StatusCode::Failed,
        "timed_out" => StatusCode::TimedOut,
        "retrying" => StatusCode::Retrying,
        _ => return None,
    })
}

/// 2^16: attempts are at most 10,001 (retries are bounded at 10,000).
const ATTEMPT_SPAN: u64 = 1 << 16;
/// 2^20: steps are at most 1,000,000 (`MAX_STEP_LIMIT`).
const STEP_SPAN: u64 = 1 << 20;
/// `2^53`: every packing stays an exact integer in an `f64`.
const EXACT: f64 = 9_007_199_254_740_992.0;

fn whole(packed: f64, what: &str) -> arcflow_core::Result<u64> {
    if !(packed >= 0.0 && packed < EXACT && packed.fract() == 0.0) {
        return Err(internal(&format!("bad {what} {packed}")));
    }
    Ok(packed as u64)
}

/// An execution of a task, packed: `(task * 2^20 + step) * 2^16 + attempt`
/// (tasks are fewer than 2^16). The only packing of step and attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unit {
    pub task: u32,
    pub step: u32,
    pub attempt: u32,
}

impl Unit {
    pub(crate) fn unpack(packed: f64) -> arcflow_core::Result<Self> {
        let packed = whole(packed, "execution")?;
        Ok(Unit {
            task: (packed / (STEP_SPAN * ATTEMPT_SPAN)) as u32,
            step: ((packed / ATTEMPT_SPAN) % STEP_SPAN) as u32,
            attempt: (packed % ATTEMPT_SPAN) as u32,
        })
    }
}

/// What `runComplete` packs into one number: `handle * 2^20 + task * 16 +
/// status * 4 + follow * 2 + idle` (handles are u32, tasks fewer than 2^16).
/// A durable or metered run also names the execution as a [`Unit`].
pub(crate) struct CompleteOp {
    pub handle: u32,
    pub task: u32,
    pub status: OutcomeStatus,
    pub follow: bool,
    pub idle: bool,
}

impl CompleteOp {
    pub(crate) fn unpack(op: f64) -> arcflow_core::Result<Self> {
        let op = whole(op, "completion")?;
        let low = (op & 0xF_FFFF) as u32;
        Ok(CompleteOp {
            handle: (op >> 20) as u32,
            task: low >> 4,
            status: outcome_status((low >> 2) & 3)?,
            follow: low & 2 != 0,
            idle: low & 1 != 0,
        })
    }
}

/// Unpacks a packing the way the core reads it, for the protocol test in
/// `__test__/protocol.spec.ts` (which packs with `lib/engine/protocol.ts`).
#[napi(js_name = "protocolUnpack")]
pub fn protocol_unpack(what: String, packed: f64) -> Result<Vec<u32>, JsError> {
    guard(|| match what.as_str() {
        "unit" => Unit::unpack(packed).map(|u| vec![u.task, u.step, u.attempt]),
        "complete" => CompleteOp::unpack(packed).map(|c| vec![c.handle, c.task, c.status as u32, u32::from(c.follow), u32::from(c.idle)]),
        other => Err(internal(&format!("unknown packing {other}"))),
    })
}

pub(crate) fn push_json(out: &mut String, value: &Value) -> arcflow_core::Result<()> {
    out.push_str(&to_json(value)?);
    Ok(())
}

pub(crate) fn push_error(out: &mut String, err: &arcflow_core::Error) {
    out.push_str(&to_json_value(err).to_string());
}

/// An integer, without the formatting machinery (answers are written on
/// every step: `write!` cost more than the rest of a short answer, measured).
fn push_int(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// `k,v` of an input.
pub(crate) fn push_input(out: &mut String, input: &Input) {
    let kind = match input {
        Input::Rendered(_) => InputKind::Rendered,
        Input::None => InputKind::None,
        Input::Items => InputKind::Items,
        Input::Uncovered { .. } => InputKind::Uncovered,
        Input::Pending { .. } => InputKind::Pending,
        Input::Error(_) => InputKind::Error,
    };
    push_int(out, kind as u8);
    out.push(',');
    match input {
        Input::Rendered(json) => out.push_str(json),
        Input::None | Input::Items => out.push_str("null"),
        Input::Uncovered { balance } => push_int(out, *balance),
        Input::Pending { ticket, input } => {
            out.push('[');
            push_int(out, *ticket);
            out.push(',');
            push_input(out, input);
            out.push(']');
        }
        Input::Error(err) => push_error(out, err),
    }
}

/// An answer as JSON text, with the acknowledgement of a durable run.
pub(crate) fn write_answer(answer: &Answer, ack: Option<Ack>) -> String {
    let mut out = String::with_capacity(64);
    out.push('[');
    // writing to a String cannot fail
    let _ = match answer {
        Answer::Schedule(tasks) => {
            push_int(&mut out, AnswerKind::Schedule as u8);
            for s in tasks {
                out.push(',');
                push_int(&mut out, s.task);
                out.push(',');
                push_int(&mut out, s.step);
                out.push(',');
                push_input(&mut out, &s.input);
            }
            Ok(())
        }
        Answer::Fail => write!(out, "{}", AnswerKind::Fail as u8),
        Answer::Unhandled => write!(out, "{}", AnswerKind::Unhandled as u8),
        Answer::StepLimit { task, limit } => write!(out, "{},{task},{limit}", AnswerKind::StepLimit as u8),
        Answer::Complete(output) => {
            push_int(&mut out, AnswerKind::Complete as u8);
            out.push(',');
            out.push_str(output.as_deref().unwrap_or("null"));
            Ok(())
        }
        Answer::OutputError(err) | Answer::VarsError(err) | Answer::JoinError(err) => {
            let kind = match answer {
                Answer::OutputError(_) => AnswerKind::OutputError,
                Answer::JoinError(_) => AnswerKind::JoinError,
                _ => AnswerKind::VarsError,
            };
            let _ = write!(out, "{},", kind as u8);
            push_error(&mut out, err);
            Ok(())
        }
    };
    push_ack(&mut out, ack);
    out.push(']');
    out
}

/// A durable run's answer ends with `full, seq`: whether the store's queue
/// is past its capacity (the engine then waits for it), and the sequence
/// number that covers the run's writes so far (a `sync` run waits for it).
pub(crate) fn push_ack(out: &mut String, ack: Option<Ack>) {
    if let Some(Ack { seq, full }) = ack {
        let _ = write!(out, ",{},{seq}", u8::from(full));
    }
}

#[cfg(test)]
mod tests {
    use super::{CompleteOp, Unit};

    #[test]
    fn packings_reject_what_is_not_an_exact_whole_number() {
        for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, 9_007_199_254_740_992.0] {
            assert!(Unit::unpack(bad).is_err(), "{bad}");
            assert!(CompleteOp::unpack(bad).is_err(), "{bad}");
        }
        let unit = Unit::unpack(((65_535.0 * 1_048_576.0) + 1_000_000.0) * 65_536.0 + 10_001.0).unwrap();
        assert_eq!(unit, Unit { task: 65_535, step: 1_000_000, attempt: 10_001 });
    }
}
