//! `NativeCreditWake`: a leasing meter's credit thread tells JavaScript
//! which waiting reservations settled (`arcflow_core::meter::Meter::listen`),
//! once per pass of the thread, through a thread-safe function: so
//! `lib/engine/credit-wait.ts` looks at each reservation once, after it
//! settled, instead of on a timer. The function is weak (it never keeps the
//! process alive) unless `hold(true)`: JavaScript holds it while some
//! reservation waits, as a timer would have kept the process alive.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;

use crate::error::{guard, to_js, JsError};
use crate::meter::meter;

type Deliver = ThreadsafeFunction<Vec<i64>, (), Vec<i64>, Status, false, true>;

#[napi]
pub struct NativeCreditWake {
    deliver: Arc<Mutex<Deliver>>,
}

/// Calls `onSettled` with the tickets of meter `handle`'s reservations that
/// settled (covered or refused; `-ticket`: cancelled by its run's end), one
/// call per pass of its credit thread; null for a meter that owns its
/// balances (its reservations never wait).
#[napi(ts_args_type = "handle: number, onSettled: (tickets: number[]) => void", ts_return_type = "NativeCreditWake | null")]
pub fn meter_listen(handle: u32, on_settled: Function<Vec<i64>, ()>) -> Result<Option<NativeCreditWake>, JsError> {
    let meter = guard(|| meter(handle))?;
    if meter.lease_stats().is_none() {
        return Ok(None);
    }
    let deliver: Deliver = on_settled
        .build_threadsafe_function::<Vec<i64>>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()
        .map_err(|e| to_js(&arcflow_core::Error::Internal(format!("credit wake callback: {e}"))))?;
    let deliver = Arc::new(Mutex::new(deliver));
    let told = Arc::clone(&deliver);
    meter.listen(Arc::new(move |tickets| {
        // Closing: the environment is going away, and with it whoever waited
        let _ = told.lock().unwrap_or_else(|p| p.into_inner()).call(tickets, ThreadsafeFunctionCallMode::NonBlocking);
    }));
    Ok(Some(NativeCreditWake { deliver }))
}

#[napi]
impl NativeCreditWake {
    /// `true`: the process stays alive until told (a reservation waits); `false`: weak again.
    #[napi]
    #[allow(deprecated)] // napi's ref/unref of a thread-safe function: the one way to toggle it
    pub fn hold(&self, env: Env, on: bool) -> Result<(), JsError> {
        let mut deliver = self.deliver.lock().unwrap_or_else(|p| p.into_inner());
        let done = if on { deliver.refer(&env) } else { deliver.unref(&env) };
        done.map_err(|e| to_js(&arcflow_core::Error::Internal(format!("credit wake hold: {e}"))))
    }
}
