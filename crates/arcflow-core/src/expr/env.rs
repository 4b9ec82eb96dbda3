//! The two shared minijinja environments (lenient and strict) with
//! arcflow's functions and filters. Nothing in them reaches the
//! environment, the filesystem or a process: there is no loader, no
//! `include`, and every render runs on a fuel budget.

use std::sync::LazyLock;

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};

use crate::context::{OutcomeStatus, TaskOutcome};
use crate::scope::OUTCOME_KEY;

/// Fuel one render may burn: about one unit per instruction and one per 64
/// bytes of data created (so at most ~128 MB of data). Enough for any sane
/// template over megabytes of context; a runaway loop stops in milliseconds
/// with `out_of_fuel`.
pub const FUEL_PER_RENDER: u64 = 2_000_000;

/// Largest string a text template may render.
pub const MAX_OUTPUT_BYTES: usize = 64 << 20;

/// Nesting of calls and blocks inside one render.
const RECURSION_LIMIT: usize = 100;

static LENIENT: LazyLock<Environment<'static>> = LazyLock::new(|| build(UndefinedBehavior::Chainable));
static STRICT: LazyLock<Environment<'static>> = LazyLock::new(|| build(UndefinedBehavior::Strict));

/// The environment for a strictness: lenient lets undefined names and
/// attributes through as undefined (`null` once rendered); strict makes
/// them errors.
pub(crate) fn environment(strict: bool) -> &'static Environment<'static> {
    if strict {
        &STRICT
    } else {
        &LENIENT
    }
}

fn build(undefined: UndefinedBehavior) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(undefined);
    env.set_fuel(Some(FUEL_PER_RENDER));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // A namespace is the one value a loop can grow from one iteration to
    // the next (doubling a list, nesting it a level per pass); minijinja
    // builds and walks such values without charging fuel or bounding depth.
    env.remove_global("namespace");
    env.add_function("task", task);
    env.add_function("result", |state: &State| Ok(outcome(state, "result")?.result.clone()));
    env.add_function("error", |state: &State| Ok(outcome(state, "error")?.error.clone()));
    env.add_function("succeeded", |state: &State| is(state, "succeeded", OutcomeStatus::Succeeded));
    env.add_function("failed", |state: &State| is(state, "failed", OutcomeStatus::Failed));
    env.add_function("timed_out", |state: &State| is(state, "timed_out", OutcomeStatus::TimedOut));
    env.add_filter("keys", keys);
    env.add_filter("values", values);
    env
}

/// `task('NAME')`: the same as `tasks.NAME`.
fn task(state: &State, name: &str) -> Result<Value, Error> {
    let tasks = state.lookup("tasks").unwrap_or_default();
    tasks.get_attr(name)
}

fn outcome(state: &State, function: &str) -> Result<TaskOutcome, Error> {
    state
        .lookup(OUTCOME_KEY)
        .and_then(|v| v.downcast_object_ref::<TaskOutcome>().cloned())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("{function}() reads the outcome of the task being evaluated, and this context carries none"),
            )
        })
}

fn is(state: &State, function: &str, status: OutcomeStatus) -> Result<bool, Error> {
    Ok(outcome(state, function)?.status == status)
}

fn keys(value: &Value) -> Result<Value, Error> {
    if value.kind() != ValueKind::Map {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("keys expects a mapping, got {}", value.kind())));
    }
    Ok(Value::from_iter(value.try_iter()?))
}

fn values(value: &Value) -> Result<Value, Error> {
    if value.kind() != ValueKind::Map {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("values expects a mapping, got {}", value.kind())));
    }
    let mut out = Vec::with_capacity(value.len().unwrap_or(0));
    for key in value.try_iter()? {
        out.push(value.get_item(&key)?);
    }
    Ok(Value::from(out))
}
