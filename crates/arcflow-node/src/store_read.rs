//! History reads off the JavaScript thread: an `AsyncTask` (with an
//! optional `AbortSignal`, as napi-rs/node-rs do) that waits on a libuv
//! thread for this process's queued writes to commit (reads see their own
//! writes), then reads through the store's reader connection.
//!
//! The task borrows its `NativeStore`: napi roots the JS object a returned
//! `AsyncTask` borrowed from until the task settles, so the store outlives
//! the read. An abort before the work starts cancels it (napi rejects with
//! an `AbortError`); after, it stops waiting at once and answers nothing
//! (the TS layer has already rejected): nothing stays behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arcflow_core::meter::Meter;
use arcflow_core::store::{RunFilter, Store};
use napi::bindgen_prelude::{AbortSignal, AsyncTask};
use napi::{Env, Task};
use napi_derive::napi;
use serde_json::json;

use crate::error::{guard, to_json_value, JsError};
use crate::store::{NativeStore, READ_SETTLE};

/// The history reads of a store (its lifecycle is `store.rs`'s).
#[napi]
impl NativeStore {
    /// A run, its executions and its events as one JSON document
    /// (`{run, tasks, events}`), or null: once this process's queued writes
    /// commit, read on a libuv thread (see `store_read.rs`).
    #[napi(ts_args_type = "id: string, signal?: AbortSignal | undefined | null", ts_return_type = "Promise<string>")]
    pub fn run_info(&self, id: String, signal: Option<AbortSignal>) -> AsyncTask<Read<'_>> {
        Read::spawn(self, Query::RunInfo(id), signal)
    }

    /// The same, blocking the JavaScript thread while queued writes commit
    /// (at most `READ_SETTLE`): only for `engine.resume`, which must answer
    /// a `Run` at once and rebuilds the run on this thread anyway.
    #[napi]
    pub fn run_info_sync(&self, id: String) -> Result<Option<String>, JsError> {
        guard(|| {
            self.writer.settle(READ_SETTLE);
            Query::RunInfo(id).run(self)
        })
    }

    /// The definition of version `hash` of workflow `name`, or null: as
    /// blocking as `runInfoSync`, and only for `engine.resume`, which
    /// rebuilds a run's own version when the definition loaded has changed.
    #[napi]
    pub fn workflow_definition_sync(&self, name: String, hash: String) -> Result<Option<String>, JsError> {
        guard(|| {
            self.writer.settle(READ_SETTLE);
            self.with_reader(|reader| reader.workflow_definition(&name, &hash))
        })
    }

    /// Whether the store has a run `id`, as committed now: one lookup by
    /// key on the reader, which waits neither for this process's queued
    /// writes nor for another connection's lock (a locked database is a
    /// transient `StoreError`). For `start` with a caller's run id.
    #[napi]
    pub fn has_run_now(&self, id: String) -> Result<bool, JsError> {
        guard(|| self.with_reader(|reader| Ok(reader.get_run(&id)?.is_some())))
    }

    /// Runs, newest first: JSON text (see `runInfo`).
    #[napi(
        ts_args_type = "status: string | undefined | null, workflow: string | undefined | null, limit: number | undefined | null, signal?: AbortSignal | undefined | null",
        ts_return_type = "Promise<string>"
    )]
    pub fn runs(&self, status: Option<String>, workflow: Option<String>, limit: Option<u32>, signal: Option<AbortSignal>) -> AsyncTask<Read<'_>> {
        Read::spawn(self, Query::Runs(RunFilter { status, workflow, limit }), signal)
    }

    /// Task executions of a run, in journal order: JSON text (see `runInfo`).
    #[napi(ts_args_type = "runId: string, signal?: AbortSignal | undefined | null", ts_return_type = "Promise<string>")]
    pub fn tasks(&self, run_id: String, signal: Option<AbortSignal>) -> AsyncTask<Read<'_>> {
        Read::spawn(self, Query::Tasks(run_id), signal)
    }

    /// A run's journal of events (handler logs, resumes), oldest first: JSON text (see `runInfo`).
    #[napi(ts_args_type = "runId: string, signal?: AbortSignal | undefined | null", ts_return_type = "Promise<string>")]
    pub fn events(&self, run_id: String, signal: Option<AbortSignal>) -> AsyncTask<Read<'_>> {
        Read::spawn(self, Query::Events(run_id), signal)
    }

}

/// What a read asks for.
pub enum Query {
    /// `{run, tasks, events}` of one run, or `None`.
    RunInfo(String),
    Runs(RunFilter),
    Tasks(String),
    Events(String),
    /// An account's latest ledger entries (a durable meter's).
    Ledger { meter: Arc<Meter>, account: String, limit: u32 },
    /// A cached task result, `[value, expiresAt]` (see `store_links.rs`): read as
    /// committed now, without waiting for queued writes.
    Cached { workflow: String, task: String, key: String },
}

fn json<T: serde::Serialize>(value: &T) -> arcflow_core::Result<String> {
    serde_json::to_string(value).map_err(|e| arcflow_core::Error::Internal(e.to_string()))
}

impl Query {
    /// Reads as the database is committed now (the caller settled first).
    pub fn run(&self, store: &NativeStore) -> arcflow_core::Result<Option<String>> {
        store.with_reader(|reader| self.read(reader))
    }

    fn read(&self, reader: &mut dyn Store) -> arcflow_core::Result<Option<String>> {
        Ok(Some(match self {
            Query::RunInfo(id) => {
                let Some(run) = reader.get_run(id)? else { return Ok(None) };
                json(&json!({ "run": run, "tasks": reader.tasks(id, 0)?, "events": reader.events(id)? }))?
            }
            Query::Runs(filter) => json(&reader.runs(filter)?)?,
            Query::Tasks(id) => json(&reader.tasks(id, 0)?)?,
            Query::Events(id) => json(&reader.events(id)?)?,
            Query::Ledger { meter, account, limit } => json(&meter.ledger(account, *limit, Some(reader))?)?,
            Query::Cached { workflow, task, key } => match reader.cache_get(workflow, task, key)? {
                Some((value, left_ms)) => format!("[{value},{left_ms}]"),
                None => return Ok(None),
            },
        }))
    }
}

/// A read on a libuv thread (see the module's comment).
pub struct Read<'a> {
    /// `None`: an in-memory meter's ledger, answered without a store.
    store: Option<&'a NativeStore>,
    query: Query,
    aborted: Arc<AtomicBool>,
    /// The writes queued when the read was asked for: what it must see.
    target: u64,
}

/// How long a read on a libuv thread retries while another connection
/// holds a lock its reader needs (the reader itself never waits on a lock:
/// it holds the reader's mutex, which the JS thread may need meanwhile).
const LOCKED_RETRY: Duration = Duration::from_secs(5);
const LOCKED_PAUSE: Duration = Duration::from_millis(10);
/// Slices of the wait for commits, to notice an abort.
const SETTLE_SLICE: Duration = Duration::from_millis(50);

impl<'a> Read<'a> {
    pub fn spawn(store: &'a NativeStore, query: Query, signal: Option<AbortSignal>) -> AsyncTask<Read<'a>> {
        Self::spawn_on(Some(store), query, signal)
    }

    pub fn spawn_on(store: Option<&'a NativeStore>, query: Query, signal: Option<AbortSignal>) -> AsyncTask<Read<'a>> {
        let aborted = Arc::new(AtomicBool::new(false));
        if let Some(signal) = &signal {
            let flag = Arc::clone(&aborted);
            signal.on_abort(move || flag.store(true, Ordering::Release));
        }
        // taken on the JS thread, at the call: later writes need not be waited for
        let target = store.map_or(0, |s| s.writer.stats().enqueued);
        AsyncTask::with_optional_signal(Read { store, query, aborted, target }, signal)
    }

    fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Waits until every write queued when the read was asked for is committed (at
    /// most `READ_SETTLE`; a failing or closed store is read as it is).
    fn settle(&self, store: &NativeStore) {
        let deadline = Instant::now() + READ_SETTLE;
        let target = self.target;
        loop {
            let stats = store.writer.stats();
            let left = deadline.saturating_duration_since(Instant::now());
            if stats.committed >= target || stats.closed || left.is_zero() || self.aborted() {
                return;
            }
            store.writer.wait_progress(stats.committed, left.min(SETTLE_SLICE));
        }
    }
}

impl Task for Read<'_> {
    /// `{"ok":VALUE}` (VALUE: the JSON answer, or null) or
    /// `{"error":{"code","payload"}}`: errors travel as data, so that they
    /// keep their `ARCFLOW_*` code (a task's own errors would not).
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<String> {
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.answer()))
            .unwrap_or_else(|_| Err(arcflow_core::Error::Internal("panic in native code: a history read".into())));
        Ok(match answer {
            Ok(Some(value)) => format!("{{\"ok\":{value}}}"),
            Ok(None) => "{\"ok\":null}".to_owned(),
            Err(e) => json!({ "error": to_json_value(&e) }).to_string(),
        })
    }

    fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
        Ok(output)
    }
}

impl Read<'_> {
    fn answer(&self) -> arcflow_core::Result<Option<String>> {
        let Some(store) = self.store else {
            // an in-memory meter's ledger: nothing to wait for, no store
            return match &self.query {
                Query::Ledger { meter, account, limit } => json(&meter.ledger(account, *limit, None)?).map(Some),
                _ => Err(arcflow_core::Error::Internal("a history read needs a store".into())),
            };
        };
        if !matches!(self.query, Query::Cached { .. }) {
            self.settle(store);
        }
        let deadline = Instant::now() + LOCKED_RETRY;
        loop {
            if self.aborted() {
                // the TS layer rejected already: this answer is never read
                return Ok(None);
            }
            match self.query.run(store) {
                // locked by another connection: retry with the reader's mutex released
                Err(arcflow_core::Error::Store { transient: true, .. }) if Instant::now() < deadline => std::thread::sleep(LOCKED_PAUSE),
                answer => return answer,
            }
        }
    }
}
