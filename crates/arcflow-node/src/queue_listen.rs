//! `NativeListener`: PostgreSQL `LISTEN arcflow` (`arcflow_core::queue::listen`)
//! on a thread of its own, each notice handed to JavaScript through a weak
//! thread-safe function (a listener never keeps the process alive), as
//! JSON text: `{"q":[queues]}`, `{"e":[ids]}`, `{"e":"*"}`, `{"c":[ids]}`,
//! `{"missed":true}` (reconnected: re-check everything) or
//! `{"error":{code,payload}}` (the database is unreachable; the thread
//! retries with backoff). SQLite has no notifications: `listen` answers null.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arcflow_core::queue::{self, Notice};
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use serde_json::json;

use crate::error::{guard, to_json_value, JsError};

/// How long one wait for a notice lasts: the bound on noticing `stop`.
const SLICE: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

type Deliver = ThreadsafeFunction<String, (), String, Status, false, true>;

#[napi]
pub struct NativeListener {
    stopped: Arc<AtomicBool>,
}

/// Listens on the store `url` names, calling `onNotice` with each notice
/// (see the module's comment); null for a store without notifications
/// (SQLite). Opening the connection fails here, as a `StoreError`.
#[napi(ts_args_type = "url: string, onNotice: (notice: string) => void", ts_return_type = "NativeListener | null")]
pub fn listen_notices(url: String, on_notice: Function<String, ()>) -> Result<Option<NativeListener>, JsError> {
    let Some(mut listener) = guard(|| queue::listen(&url))? else {
        return Ok(None);
    };
    let deliver: Deliver = on_notice
        .build_threadsafe_function::<String>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()
        .map_err(|e| crate::error::to_js(&arcflow_core::Error::Internal(format!("listener callback: {e}"))))?;
    let stopped = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&stopped);
    std::thread::Builder::new()
        .name("arcflow-listen".into())
        .spawn(move || {
            let mut backoff = Duration::from_millis(50);
            while !stop.load(Ordering::Acquire) {
                let text = match listener.next(SLICE) {
                    Ok(None) => continue,
                    Ok(Some(notice)) => {
                        backoff = Duration::from_millis(50);
                        notice_json(&notice)
                    }
                    Err(e) => {
                        let text = json!({ "error": to_json_value(&e) }).to_string();
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        text
                    }
                };
                if stop.load(Ordering::Acquire) || deliver.call(text, ThreadsafeFunctionCallMode::NonBlocking) == Status::Closing {
                    break;
                }
            }
        })
        .map_err(|e| crate::error::to_js(&arcflow_core::Error::Internal(format!("listener thread: {e}"))))?;
    Ok(Some(NativeListener { stopped }))
}

#[napi]
impl NativeListener {
    /// Stops listening: no notice is delivered after this call returns
    /// (the JS side drops any already queued); the connection closes within
    /// a fraction of a second, without blocking this thread.
    #[napi]
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }
}

impl Drop for NativeListener {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Release);
    }
}

fn notice_json(notice: &Notice) -> String {
    match notice {
        Notice::Enqueued(queues) => json!({ "q": queues }),
        Notice::Ended(Some(ids)) => json!({ "e": ids }),
        Notice::Ended(None) => json!({ "e": "*" }),
        Notice::Cancel(ids) => json!({ "c": ids }),
        Notice::Written(Some(ids)) => json!({ "w": ids }),
        Notice::Written(None) => json!({ "w": "*" }),
        Notice::Signalled(Some(ids)) => json!({ "g": ids }),
        Notice::Signalled(None) => json!({ "g": "*" }),
        Notice::Missed => json!({ "missed": true }),
    }
    .to_string()
}
