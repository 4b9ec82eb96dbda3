//! The live runs of this thread, by the handle the engine picked: plain
//! functions, because a call on a `#[napi]` class instance costs several
//! times a plain function call (measured) and a run makes one call per task.
//! A run's native state lives here from its start until it ends.
//!
//! Each entry's size is reported to V8 (see `memory.rs`): an estimate on
//! insert (a fixed overhead plus what its context holds), brought up to
//! date after each call on the run (one atomic load: the context keeps its
//! own count), and exactly what was reported is released on remove.

use std::cell::RefCell;
use std::collections::HashMap;

use arcflow_core::flow::RunState;
use foldhash::fast::RandomState;
use napi_derive::napi;

use crate::memory;

/// What a run holds besides its context's values, roughly: its state, the
/// context's maps, a journal's buffers.
const RUN_OVERHEAD: usize = 2048;

struct LiveRun {
    state: RunState,
    /// Bytes reported to V8 for this run.
    reported: i64,
}

thread_local! {
    // handles are the engine's own numbers: foldhash, not SipHash (three lookups a run)
    static RUNS: RefCell<HashMap<u32, LiveRun, RandomState>> = RefCell::new(HashMap::default());
}

fn estimate(state: &RunState) -> i64 {
    (RUN_OVERHEAD + state.context().approx_bytes()) as i64
}

/// Whether `handle` names a live run.
pub(crate) fn is_live(handle: u32) -> bool {
    RUNS.with(|runs| runs.borrow().contains_key(&handle))
}

/// Registers a run under `handle`.
pub(crate) fn insert(handle: u32, state: RunState) {
    let reported = estimate(&state);
    memory::adjust(reported);
    let replaced = RUNS.with(|runs| runs.borrow_mut().insert(handle, LiveRun { state, reported }));
    // the run calls refuse a handle in use; should one slip through, its size is not reported twice
    if let Some(old) = replaced {
        memory::adjust(-old.reported);
    }
}

/// Releases a run: its native state is freed, its size no longer reported.
pub(crate) fn remove(handle: u32) -> Option<RunState> {
    let run = RUNS.with(|runs| runs.borrow_mut().remove(&handle))?;
    memory::adjust(-run.reported);
    Some(run.state)
}

/// Runs `f` on a live run; what the call journaled goes to the store's queue.
/// A handle that is not live is a run that has ended (`RunEndedError`).
pub(crate) fn with_run<T>(handle: u32, f: impl FnOnce(&mut RunState) -> arcflow_core::Result<T>) -> arcflow_core::Result<T> {
    RUNS.with(|runs| {
        let mut runs = runs.borrow_mut();
        let run = runs.get_mut(&handle).ok_or_else(|| arcflow_core::Error::Ended(format!("run {handle} has ended")))?;
        let result = f(&mut run.state);
        let now = estimate(&run.state);
        if now != run.reported {
            memory::adjust(now - run.reported);
            run.reported = now;
        }
        run.state.flush_journal()?;
        result
    })
}

/// How many runs this thread holds native state for (0 once every run has
/// ended), for leak tests.
#[napi(js_name = "liveRunCount")]
pub fn live_run_count() -> u32 {
    RUNS.with(|runs| runs.borrow().len() as u32)
}
