//! Turns a template's result into plain data. The scope hands out live
//! views (`vars`, `tasks`, `tasks.NAME`); a result that keeps one would see
//! later writes, and stored back into the context could even contain itself.
//! Plain parts are returned as they are (an `Arc` clone), so the usual case
//! copies nothing.

use minijinja::value::{Value, ValueKind};

use crate::context::TaskOutcome;
use crate::error::{Error, Result};
use crate::scope::{MapView, Scope};
use crate::value::MAX_DEPTH;

pub(crate) fn materialize(value: Value) -> Result<Value> {
    Ok(walk(&value, 0)?.unwrap_or(value))
}

/// `Some(copy)` when something below had to change, `None` when `value` is
/// plain already.
fn walk(value: &Value, depth: usize) -> Result<Option<Value>> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid_value(format!("template result is nested deeper than {MAX_DEPTH} levels")));
    }
    match value.kind() {
        ValueKind::Map => {
            let obj = value.as_object().expect("maps are objects");
            let is_view = obj.is::<MapView>() || obj.is::<TaskOutcome>() || obj.is::<Scope>();
            let keys: Vec<Value> = value.try_iter().map_err(internal)?.collect();
            let mut changed = is_view;
            let mut pairs = Vec::with_capacity(keys.len());
            for key in keys {
                let child = value.get_item(&key).map_err(internal)?;
                let walked = walk(&child, depth + 1)?;
                changed |= walked.is_some();
                pairs.push((key, walked.unwrap_or(child)));
            }
            Ok(changed.then(|| Value::from_pairs(pairs)))
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut changed = value.kind() == ValueKind::Iterable;
            let mut items = Vec::with_capacity(value.len().unwrap_or(0));
            for child in value.try_iter().map_err(internal)? {
                let walked = walk(&child, depth + 1)?;
                changed |= walked.is_some();
                items.push(walked.unwrap_or(child));
            }
            Ok(changed.then(|| Value::from(items)))
        }
        ValueKind::Undefined => Ok(Some(Value::from(()))),
        ValueKind::Plain | ValueKind::Bytes | ValueKind::Invalid => Ok(Some(Value::from(value.to_string()))),
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::String => Ok(None),
        _ => Ok(Some(Value::from(value.to_string()))),
    }
}

fn internal(e: minijinja::Error) -> Error {
    Error::Internal(format!("walking a template result: {e}"))
}
