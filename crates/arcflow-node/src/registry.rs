//! The live runs of this thread, by the handle the engine picked: plain
//! functions, because a call on a `#[napi]` class instance costs several
//! times a plain function call (measured) and a run makes one call per task.
//! A run's native state lives here from its start until it ends.

use std::cell::RefCell;
use std::collections::HashMap;

use arcflow_core::flow::RunState;

use crate::flow::internal;

thread_local! {
    static RUNS: RefCell<HashMap<u32, RunState>> = RefCell::new(HashMap::new());
}

/// Whether `handle` names a live run.
pub(crate) fn is_live(handle: u32) -> bool {
    RUNS.with(|runs| runs.borrow().contains_key(&handle))
}

/// Registers a run under `handle`.
pub(crate) fn insert(handle: u32, state: RunState) {
    RUNS.with(|runs| runs.borrow_mut().insert(handle, state));
}

/// Releases a run: its native state is freed.
pub(crate) fn remove(handle: u32) -> Option<RunState> {
    RUNS.with(|runs| runs.borrow_mut().remove(&handle))
}

/// Runs `f` on a live run; what the call journaled goes to the store's queue.
pub(crate) fn with_run<T>(handle: u32, f: impl FnOnce(&mut RunState) -> arcflow_core::Result<T>) -> arcflow_core::Result<T> {
    RUNS.with(|runs| {
        let mut runs = runs.borrow_mut();
        let state = runs.get_mut(&handle).ok_or_else(|| internal(&format!("run {handle} is not live")))?;
        let result = f(state);
        state.flush_journal()?;
        result
    })
}
