//! `NativeStore`: the store a URL names (`store::open`) behind the
//! write-behind queue, one per database file and thread, shared by the
//! engines on it (`lib/store/shared.ts`). Writes are queued by runs (see `run.rs`); this class
//! reads history (through its own connection: WAL lets it read while the
//! flush thread writes, or another process holds the write lock), on a
//! libuv thread (`store_read.rs`), reports stats, waits for commits off
//! the JS thread, and closes with a final flush.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arcflow_core::flow::{FlowGraph, Resumed, RunState, DEFAULT_SNAPSHOT_EVERY};
use arcflow_core::store::{self, Store, Write, WriteBehind, WriterConfig};
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

use crate::error::{guard, JsError};

#[napi]
pub struct NativeStore {
    pub(crate) writer: Arc<WriteBehind>,
    /// `None` once closed: a closed engine holds no descriptor until it is collected.
    reader: Mutex<Option<Box<dyn Store>>>,
    /// Completions between two snapshots of a run.
    pub(crate) snapshot_every: u32,
    /// The URL it was opened with: a leasing meter opens its own connection.
    pub(crate) url: String,
}

fn json<T: serde::Serialize>(value: &T) -> arcflow_core::Result<String> {
    serde_json::to_string(value).map_err(|e| arcflow_core::Error::Internal(e.to_string()))
}

#[napi]
impl NativeStore {
    /// Opens (creating and migrating) the store `url` names (`sqlite:PATH`:
    /// held by this process, `?locking=shared` to share it with others) and starts its flush thread. `capacityBytes` and `maxUnwrittenMs`
    /// bound the queue besides `capacity` (defaults: 256 MiB, 1 s).
    #[napi(constructor)]
    pub fn new(
        url: String,
        flush_interval_ms: u32,
        batch_size: u32,
        capacity: u32,
        snapshot_every: Option<u32>,
        capacity_bytes: Option<f64>,
        max_unwritten_ms: Option<u32>,
    ) -> Result<Self, JsError> {
        guard(|| {
            let defaults = WriterConfig::default();
            let config = WriterConfig {
                flush_interval: Duration::from_millis(u64::from(flush_interval_ms.max(1))),
                batch_size: batch_size.max(1) as usize,
                capacity: capacity.max(1) as usize,
                capacity_bytes: capacity_bytes.map_or(defaults.capacity_bytes, |b| b.max(1.0) as usize),
                max_unwritten: max_unwritten_ms.map_or(defaults.max_unwritten, |ms| Duration::from_millis(u64::from(ms))),
                ..defaults
            };
            let writer = WriteBehind::start(store::open(&url)?, config)?;
            // the same URL, so the same locking: with `locking=exclusive` (the
            // default) the reader shares the writer's in-memory WAL index (one
            // per file and process) and still reads while the flush thread writes
            let reader = store::open(&url)?;
            Ok(NativeStore {
                writer: Arc::new(writer),
                reader: Mutex::new(Some(reader)),
                snapshot_every: snapshot_every.unwrap_or(DEFAULT_SNAPSHOT_EVERY).max(1),
                url,
            })
        })
    }

    /// Keeps version `hash` of workflow `name` (its normalized definition),
    /// queued like any write: once per version, however often it is written.
    #[napi]
    pub fn record_workflow(&self, name: String, hash: String, definition: String) -> Result<(), JsError> {
        guard(|| {
            let at = arcflow_core::time::now_ms();
            self.writer.enqueue([Write::Workflow { name, hash, definition, at }])?;
            Ok(())
        })
    }

    /// Queue depth, batches, rows, retries, last flush: JSON text.
    #[napi]
    pub fn stats(&self) -> Result<String, JsError> {
        guard(|| json(&self.writer.stats()))
    }

    /// Resolves (with the stats, as JSON text) once commits pass `seen`, the
    /// store fails or closes, or `timeoutMs` passes. Waits on a libuv thread.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait_progress(&self, seen: f64, timeout_ms: u32) -> AsyncTask<WaitProgress> {
        AsyncTask::new(WaitProgress { writer: Arc::clone(&self.writer), seen: seen as u64, timeout: Duration::from_millis(u64::from(timeout_ms)) })
    }

    /// Asks the flush thread to commit everything queued and stop, without
    /// waiting: the engine then waits with `waitProgress` until the stats say
    /// `closed` (a blocking close on a libuv thread would hold the process's
    /// exit hostage to a failing store), and joins with `closeSync`.
    #[napi]
    pub fn request_close(&self) {
        self.writer.request_close();
    }

    /// The same, blocking: for `process.on('exit')`, where nothing async runs.
    #[napi]
    pub fn close_sync(&self) {
        self.writer.close();
        // the reader's connection (database, WAL and shared-memory descriptors) goes now, not at GC
        let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(reader);
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    #[napi]
    pub fn integrity_check(&self) -> Result<String, JsError> {
        guard(|| self.with_reader(|reader| reader.integrity_check()))
    }
}

impl NativeStore {
    /// Rebuilds an interrupted run from what is committed (see `run.rs`):
    /// after this process's queued writes commit, like `runInfoSync`.
    pub(crate) fn resume(&self, graph: Arc<FlowGraph>, run_id: &str) -> arcflow_core::Result<(RunState, Resumed)> {
        self.writer.settle(READ_SETTLE);
        self.with_reader(|reader| RunState::resume(graph, reader, Arc::clone(&self.writer), run_id, self.snapshot_every))
    }

    /// Waits (a bounded time) for this process's queued writes to commit:
    /// a read then sees a run this process just started.
    pub(crate) fn settle(&self) {
        self.writer.settle(READ_SETTLE);
    }

    /// Runs `f` on the reader as the database is committed now, without
    /// waiting for this process's queued writes, nor for a lock another
    /// connection holds (a locked database fails at once, transient).
    pub(crate) fn with_reader<T>(&self, f: impl FnOnce(&mut dyn Store) -> arcflow_core::Result<T>) -> arcflow_core::Result<T> {
        let mut guard = self.reader.lock().map_err(poisoned)?;
        let Some(reader) = guard.as_mut() else { return Err(arcflow_core::Error::Closed("the store is closed".into())) };
        let reader: &mut dyn Store = &mut **reader;
        reader.set_lock_wait(Duration::ZERO)?;
        f(reader)
    }
}

/// How long a history read waits for queued writes to commit (a failing
/// store is read as it is then).
pub(crate) const READ_SETTLE: Duration = Duration::from_secs(2);

fn poisoned<T>(_: std::sync::PoisonError<T>) -> arcflow_core::Error {
    arcflow_core::Error::Internal("the store's reader is poisoned".into())
}

pub struct WaitProgress {
    writer: Arc<WriteBehind>,
    seen: u64,
    timeout: Duration,
}

impl Task for WaitProgress {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<String> {
        let stats = self.writer.wait_progress(self.seen, self.timeout);
        serde_json::to_string(&stats).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
        Ok(output)
    }
}
