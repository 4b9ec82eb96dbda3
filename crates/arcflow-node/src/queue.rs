//! `NativeQueue`: the core's queue (`arcflow_core::queue`) for one store
//! URL, on a connection of its own. Every call is one database transaction
//! on a libuv thread (an `AsyncTask`), never on the JavaScript thread; it
//! answers `{"ok":VALUE}` or `{"error":{code,payload}}` as the history reads
//! do (`store_read.rs`), so that errors keep their `ARCFLOW_*` code.
//! `NativeListener` (PostgreSQL `LISTEN`) is in `queue_listen.rs`; the
//! lib/queue/ twin of both is `lib/queue/native.ts`.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use arcflow_core::queue::{self, CancelAsked, ClaimRequest, NewRun, Queue};
use arcflow_core::store::WriteBehind;
use napi::bindgen_prelude::{AbortSignal, AsyncTask};
use napi::{Env, Task};
use napi_derive::napi;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use crate::error::{guard, to_json_value, JsError};
use crate::store::NativeStore;

type Shared = Arc<Mutex<Option<Box<dyn Queue>>>>;

#[napi]
pub struct NativeQueue {
    /// `None` once closed. One connection: calls of this process queue on the mutex.
    inner: Shared,
}

/// One run of `enqueue`'s batch, as `lib/queue/enqueue.ts` sends it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsNewRun {
    id: String,
    workflow: String,
    /// JSON text.
    input: String,
    queue: String,
    key: Option<String>,
    priority: i32,
    run_at: Option<i64>,
    account: Option<String>,
    at: i64,
}

/// What a call does, on the libuv thread.
enum Op {
    Enqueue(Vec<NewRun>),
    /// `fence`: the writer whose fences the claimed runs join (see `claim`).
    Claim { worker: String, queues: Vec<String>, limit: u32, lease_ms: i64, fence: Option<Arc<WriteBehind>> },
    Renew { worker: String, lease_ms: i64 },
    Release { worker: String, runs: Vec<(String, u64)> },
    Cancel { id: String, policy: String },
    Cancels { worker: String },
    SetLimit { queue: String, concurrency: Option<u32> },
    Depth { queues: Vec<String> },
    Now,
}

#[napi]
impl NativeQueue {
    /// Opens the queue of the store `url` names (`sqlite:PATH`,
    /// `postgres://...`), migrating its schema like the store's open.
    #[napi(constructor)]
    pub fn new(url: String) -> Result<Self, JsError> {
        guard(|| Ok(NativeQueue { inner: Arc::new(Mutex::new(Some(queue::open(&url)?))) }))
    }

    /// Enqueues a batch (JSON text: `[{id, workflow, input, queue, key,
    /// priority, runAt, account, at}]`) in one transaction; answers
    /// `[{id, created, status}]` in order.
    #[napi(ts_args_type = "runs: string, signal?: AbortSignal | undefined | null", ts_return_type = "Promise<string>")]
    pub fn enqueue(&self, runs: String, signal: Option<AbortSignal>) -> Result<AsyncTask<Call>, JsError> {
        let runs: Vec<JsNewRun> = guard(|| serde_json::from_str(&runs).map_err(|e| arcflow_core::Error::Internal(format!("enqueue batch: {e}"))))?;
        let runs = runs
            .into_iter()
            .map(|r| NewRun {
                id: r.id,
                workflow: r.workflow,
                input: r.input,
                queue: r.queue,
                key: r.key,
                priority: r.priority,
                run_at: r.run_at,
                account: r.account,
                at: r.at,
            })
            .collect();
        Ok(self.call(Op::Enqueue(runs), signal))
    }

    /// Claims up to `limit` runs of `queues` for `worker` under a lease of
    /// `leaseMs`: `[[id, workflow, input, account, epoch, takenOver, inputIsText]]`
    /// (built as text by `claimed_text`).
    /// With `store`, each claimed run is fenced there at its epoch (every
    /// write of it is checked against this claim) before the answer reaches
    /// JavaScript: on the libuv thread, in one lock, not a call per run.
    #[napi(ts_args_type = "worker: string, queues: string[], limit: number, leaseMs: number, store?: NativeStore | undefined | null", ts_return_type = "Promise<string>")]
    pub fn claim(&self, worker: String, queues: Vec<String>, limit: u32, lease_ms: u32, store: Option<&NativeStore>) -> AsyncTask<Call> {
        let fence = store.map(|s| Arc::clone(&s.writer));
        self.call(Op::Claim { worker, queues, limit, lease_ms: i64::from(lease_ms), fence }, None)
    }

    /// Renews every lease `worker` holds, in one statement: `[[id, epoch]]` of the runs it still holds.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn renew(&self, worker: String, lease_ms: u32) -> AsyncTask<Call> {
        self.call(Op::Renew { worker, lease_ms: i64::from(lease_ms) }, None)
    }

    /// Puts runs (`ids` at `epochs`) `worker` holds back to `queued` for another worker.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn release(&self, worker: String, ids: Vec<String>, epochs: Vec<f64>) -> AsyncTask<Call> {
        let runs = ids.into_iter().zip(epochs).map(|(id, e)| (id, e as u64)).collect();
        self.call(Op::Release { worker, runs }, None)
    }

    /// Asks for run `id` to be cancelled with `policy`: `{"asked": "cancelled" | "forwarded" | "ended" | "unknown", owner?, status?}`.
    #[napi(ts_args_type = "id: string, policy: string, signal?: AbortSignal | undefined | null", ts_return_type = "Promise<string>")]
    pub fn request_cancel(&self, id: String, policy: String, signal: Option<AbortSignal>) -> AsyncTask<Call> {
        self.call(Op::Cancel { id, policy }, signal)
    }

    /// The cancel requests of the runs `worker` holds: `[[id, policy]]`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn cancels(&self, worker: String) -> AsyncTask<Call> {
        self.call(Op::Cancels { worker }, None)
    }

    /// Sets (or, null, lifts) the limit of `queue`'s runs running at once across all workers.
    #[napi(ts_args_type = "queue: string, concurrency: number | null, signal?: AbortSignal | undefined | null", ts_return_type = "Promise<string>")]
    pub fn set_limit(&self, queue: String, concurrency: Option<u32>, signal: Option<AbortSignal>) -> AsyncTask<Call> {
        self.call(Op::SetLimit { queue, concurrency }, signal)
    }

    /// Runs of `queues` queued and due now.
    #[napi(ts_args_type = "queues: string[], signal?: AbortSignal | undefined | null", ts_return_type = "Promise<string>")]
    pub fn depth(&self, queues: Vec<String>, signal: Option<AbortSignal>) -> AsyncTask<Call> {
        self.call(Op::Depth { queues }, signal)
    }

    /// The database's clock (ms since the epoch).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn now_ms(&self) -> AsyncTask<Call> {
        self.call(Op::Now, None)
    }

    /// Closes the connection (a call in flight finishes first); later calls fail with `ARCFLOW_ENGINE_CLOSED`.
    #[napi]
    pub fn close(&self) {
        let queue = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(queue);
    }
}

impl NativeQueue {
    fn call(&self, op: Op, signal: Option<AbortSignal>) -> AsyncTask<Call> {
        AsyncTask::with_optional_signal(Call { inner: Arc::clone(&self.inner), op: Some(op) }, signal)
    }
}

/// One queue call on a libuv thread.
pub struct Call {
    inner: Shared,
    op: Option<Op>,
}

impl Call {
    /// The answer's value, as JSON text.
    fn run(&mut self) -> arcflow_core::Result<String> {
        let Some(op) = self.op.take() else {
            return Err(arcflow_core::Error::Internal("a queue call ran twice".into()));
        };
        let mut guard = self.inner.lock().map_err(|_| arcflow_core::Error::Internal("the queue's connection is poisoned".into()))?;
        let Some(q) = guard.as_mut() else {
            return Err(arcflow_core::Error::Closed("the queue is closed".into()));
        };
        let value = match op {
            Op::Enqueue(runs) => {
                let answers = q.enqueue(&runs)?;
                Json::Array(answers.into_iter().map(|a| json!({ "id": a.id, "created": a.created, "status": a.status })).collect())
            }
            Op::Claim { worker, queues, limit, lease_ms, fence } => {
                let claimed = q.claim(&ClaimRequest { worker: &worker, queues: &queues, limit, lease_ms })?;
                if let Some(writer) = fence {
                    writer.fence_all(&worker, claimed.iter().map(|c| (c.id.as_str(), c.epoch)));
                }
                return Ok(claimed_text(&claimed));
            }
            Op::Renew { worker, lease_ms } => json!(q.renew(&worker, lease_ms)?),
            Op::Release { worker, runs } => {
                q.release(&worker, &runs)?;
                Json::Null
            }
            Op::Cancel { id, policy } => match q.request_cancel(&id, &policy)? {
                CancelAsked::Cancelled => json!({ "asked": "cancelled" }),
                CancelAsked::Forwarded { owner } => json!({ "asked": "forwarded", "owner": owner }),
                CancelAsked::Ended { status } => json!({ "asked": "ended", "status": status }),
                CancelAsked::Unknown => json!({ "asked": "unknown" }),
            },
            Op::Cancels { worker } => json!(q.cancels(&worker)?),
            Op::SetLimit { queue, concurrency } => {
                q.set_limit(&queue, concurrency)?;
                Json::Null
            }
            Op::Depth { queues } => json!(q.depth(&queues)?),
            Op::Now => json!(q.now_ms()?),
        };
        Ok(value.to_string())
    }
}

/// A claim's answer, built as text: one tuple per run, its input embedded
/// as the JSON it is, so that the worker's one parse of the answer gives
/// each run's input (no string of JSON to parse again per run, no field
/// names). An input that is not JSON (a row changed by hand) goes as a
/// string, flagged: the worker fails that run alone, as parsing it would.
/// The epoch is a u64 the database counts from 1: exact as a JS number far
/// past any count of claims.
fn claimed_text(claimed: &[queue::Claimed]) -> String {
    let mut out = String::with_capacity(2 + claimed.iter().map(|c| c.id.len() + c.workflow.len() + c.input.len() + 48).sum::<usize>());
    out.push('[');
    for (n, c) in claimed.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        // IgnoredAny checks the syntax without building the value
        let json = serde_json::from_str::<serde::de::IgnoredAny>(&c.input).is_ok();
        let text;
        let input: &dyn std::fmt::Display = if json {
            &c.input
        } else {
            text = Json::from(c.input.as_str());
            &text
        };
        // writing to a String cannot fail
        let _ = write!(out, "[{},{},{},{},{},{},{}]", Json::from(c.id.as_str()), Json::from(c.workflow.as_str()), input, json!(c.account), c.epoch, c.taken_over, !json);
    }
    out.push(']');
    out
}

impl Task for Call {
    /// `{"ok":VALUE}` or `{"error":{"code","payload"}}` (see the module's comment).
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<String> {
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run()))
            .unwrap_or_else(|_| Err(arcflow_core::Error::Internal("panic in native code: a queue call".into())));
        Ok(match answer {
            Ok(value) => format!("{{\"ok\":{value}}}"),
            Err(e) => json!({ "error": to_json_value(&e) }).to_string(),
        })
    }

    fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
        Ok(output)
    }
}
