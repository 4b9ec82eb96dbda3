//! Turns a template's result into plain data. The scope hands out live
//! views (`vars`, `tasks`, `tasks.NAME`); a result that keeps one would see
//! later writes, and stored back into the context could even contain itself.
//! Plain parts are returned as they are (an `Arc` clone), so the usual case
//! copies nothing.
//!
//! The walk is also where a result's size is bounded: minijinja keeps
//! `[x] * n` and `a + b` lazy, so a short expression can stand for billions
//! of items that only this walk would create. It counts what the result
//! holds as if written out ([`SLOT_BYTES`] per item or entry, plus string
//! bytes) and stops at [`MAX_VALUE_BYTES`].

use minijinja::value::{Value, ValueKind};

use crate::context::TaskOutcome;
use crate::error::{Error, ExpressionError, ExpressionErrorKind, Result};
use crate::scope::{MapView, Scope};
use crate::value::MAX_DEPTH;

/// Largest result an expression may produce, by the count below; the same
/// bound as a text template's output.
pub const MAX_VALUE_BYTES: u64 = super::env::MAX_OUTPUT_BYTES as u64;

/// What one list item or map entry counts for (minijinja's own slot cost).
const SLOT_BYTES: u64 = 32;

/// `template` names the expression in the error when the result is too large.
pub(crate) fn materialize(value: Value, template: &str) -> Result<Value> {
    let mut budget = MAX_VALUE_BYTES;
    match walk(&value, 0, &mut budget) {
        Ok(walked) => Ok(walked.unwrap_or(value)),
        Err(None) => Err(ExpressionError::new(
            ExpressionErrorKind::Limit,
            format!("result is larger than the limit of {MAX_VALUE_BYTES} bytes"),
            template,
        )
        .into()),
        Err(Some(e)) => Err(e),
    }
}

/// `Err(None)`: the budget ran out.
type Walk = std::result::Result<Option<Value>, Option<Error>>;

fn charge(budget: &mut u64, bytes: u64) -> std::result::Result<(), Option<Error>> {
    *budget = budget.checked_sub(bytes).ok_or(None)?;
    Ok(())
}

/// `Some(copy)` when something below had to change, `None` when `value` is
/// plain already.
fn walk(value: &Value, depth: usize, budget: &mut u64) -> Walk {
    if depth > MAX_DEPTH {
        return Err(Some(Error::invalid_value(format!("template result is nested deeper than {MAX_DEPTH} levels"))));
    }
    charge(budget, SLOT_BYTES)?;
    match value.kind() {
        ValueKind::Map => {
            let obj = value.as_object().expect("maps are objects");
            let is_view = obj.is::<MapView>() || obj.is::<TaskOutcome>() || obj.is::<Scope>();
            let keys: Vec<Value> = value.try_iter().map_err(internal)?.collect();
            let mut changed = is_view;
            let mut pairs = Vec::with_capacity(keys.len());
            for key in keys {
                let child = value.get_item(&key).map_err(internal)?;
                if let Some(k) = key.as_str() {
                    charge(budget, k.len() as u64)?;
                }
                let walked = walk(&child, depth + 1, budget)?;
                changed |= walked.is_some();
                pairs.push((key, walked.unwrap_or(child)));
            }
            Ok(changed.then(|| Value::from_pairs(pairs)))
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut changed = value.kind() == ValueKind::Iterable;
            // A lazy length is not a promise of memory: reserve what the
            // budget could still pay for at most.
            let room = (*budget / SLOT_BYTES) as usize;
            let mut items = Vec::with_capacity(value.len().unwrap_or(0).min(room));
            for child in value.try_iter().map_err(internal)? {
                let walked = walk(&child, depth + 1, budget)?;
                changed |= walked.is_some();
                items.push(walked.unwrap_or(child));
            }
            Ok(changed.then(|| Value::from(items)))
        }
        ValueKind::Undefined => Ok(Some(Value::from(()))),
        ValueKind::Plain | ValueKind::Bytes | ValueKind::Invalid => Ok(Some(Value::from(value.to_string()))),
        ValueKind::String => {
            charge(budget, value.as_str().map_or(0, |s| s.len() as u64))?;
            Ok(None)
        }
        ValueKind::None | ValueKind::Bool | ValueKind::Number => Ok(None),
        _ => Ok(Some(Value::from(value.to_string()))),
    }
}

fn internal(e: minijinja::Error) -> Option<Error> {
    Some(Error::Internal(format!("walking a template result: {e}")))
}
