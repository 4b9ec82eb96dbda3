//! Native memory reported to V8 (`napi_adjust_external_memory`), so that
//! its garbage collector sees what live runs and contexts hold and collects
//! sooner when they are large, as `@napi-rs/canvas` does for its surfaces.
//!
//! The run calls are plain functions without an `Env` (see `registry.rs`),
//! so the binding keeps this thread's `napi_env` from module load: each
//! thread that loads the addon (the main thread, each worker) gets its own
//! module instance and its own thread-local copy, and a cleanup hook forgets
//! it when that instance is torn down, so nothing reports to a dead env.
//! Every adjustment happens on the JS thread, inside a napi call or a
//! finalizer. `reported` counts what this thread added and not yet
//! released, for tests (`nativeMemoryReported`).

use std::cell::Cell;

use napi::bindgen_prelude::Object;
use napi::{sys, Env};
use napi_derive::napi;

thread_local! {
    static ENV: Cell<Option<sys::napi_env>> = const { Cell::new(None) };
    static REPORTED: Cell<i64> = const { Cell::new(0) };
    /// Adjustments not yet passed to V8: passed on once they add up to
    /// [`REPORT_STEP`], so a run's per-task changes cost a thread-local add,
    /// not a call into V8 (measured on the one-task run).
    static PENDING: Cell<i64> = const { Cell::new(0) };
}

/// How far what V8 was told may lag behind what is held, per thread.
const REPORT_STEP: i64 = 64 * 1024;

#[napi(module_exports)]
pub fn remember_env(_exports: Object, env: Env) -> napi::Result<()> {
    ENV.with(|cell| cell.set(Some(env.raw())));
    env.add_env_cleanup_hook((), |()| ENV.with(|cell| cell.set(None)))?;
    Ok(())
}

/// Reports `delta` bytes more (or, negative, fewer) native memory to V8.
pub(crate) fn adjust(delta: i64) {
    if delta == 0 {
        return;
    }
    REPORTED.with(|reported| reported.set(reported.get() + delta));
    let pending = PENDING.with(|p| {
        let total = p.get() + delta;
        p.set(if total.abs() >= REPORT_STEP { 0 } else { total });
        total
    });
    if pending.abs() < REPORT_STEP {
        return;
    }
    if let Some(env) = ENV.with(Cell::get) {
        // a failure only skews V8's idea of when to collect: nothing to undo
        let _ = Env::from_raw(env).adjust_external_memory(pending);
    }
}

/// Bytes of native memory this thread reports to V8 (live runs and
/// contexts; V8 hears of it in steps of at most 64 KiB), for leak tests.
#[napi(js_name = "nativeMemoryReported")]
pub fn native_memory_reported() -> f64 {
    REPORTED.with(Cell::get) as f64
}
