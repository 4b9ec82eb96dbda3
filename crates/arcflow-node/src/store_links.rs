//! What a store keeps for issue 14 (see the core's `store/links.rs`): a
//! child run's link to its parent, an idempotent start's key, the task
//! result cache. Writes are queued like any other (answering their
//! sequence number, for `committed`); a cached result is read off the JS
//! thread (`cacheGet`), a start key's run by one indexed lookup now, and a
//! start key claimed for a run in one transaction (`claimStartKey`).

use arcflow_core::store::{check_cache_key, StartKeyClaim, StartKeyRequest, Write};
use napi::bindgen_prelude::{AbortSignal, AsyncTask};
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::store::NativeStore;
use crate::store_read::{Query, Read};

fn json<T: serde::Serialize>(value: &T) -> arcflow_core::Result<String> {
    serde_json::to_string(value).map_err(|e| arcflow_core::Error::Internal(e.to_string()))
}

#[napi]
impl NativeStore {
    /// Links run `id` (started just before, in this queue) to its parent
    /// run and task, and/or to the idempotency key it was started with.
    #[napi]
    pub fn link_run(&self, id: String, parent_id: Option<String>, parent_task: Option<String>, start_key: Option<String>) -> Result<f64, JsError> {
        guard(|| Ok(self.writer.enqueue([Write::RunLinks { id, parent_id, parent_task, start_key }])?.0 as f64))
    }

    /// Marks run `id` waiting since `since` (ms: everything it has in
    /// flight is parked) or, with null, running again (`Write::RunWaiting`).
    #[napi]
    pub fn set_waiting(&self, id: String, since: Option<f64>) -> Result<f64, JsError> {
        guard(|| Ok(self.writer.enqueue([Write::RunWaiting { id, since: since.map(|s| s as i64) }])?.0 as f64))
    }

    /// Keeps a task's result (JSON text) under (workflow, task, key) for
    /// `ttlMs` from when it is stored, by the store's clock (the database's
    /// on PostgreSQL), not this process's.
    #[napi]
    pub fn cache_put(&self, workflow: String, task: String, key: String, value: String, ttl_ms: f64) -> Result<f64, JsError> {
        guard(|| {
            check_cache_key(&key)?;
            let ttl_ms = ttl_ms.min(i64::MAX as f64) as i64;
            Ok(self.writer.enqueue([Write::CachePut { workflow, task, key, value, ttl_ms }])?.0 as f64)
        })
    }

    /// Drops cached results (a workflow's, one task's of it, or all).
    #[napi]
    pub fn cache_clear(&self, workflow: Option<String>, task: Option<String>) -> Result<f64, JsError> {
        guard(|| Ok(self.writer.enqueue([Write::CacheClear { workflow, task }])?.0 as f64))
    }

    /// The result cached under (workflow, task, key) that has not expired
    /// by the store's clock, as `[value, msLeft]` (JSON text) or null, read on a libuv thread as
    /// committed now: it does not wait for this process's queued writes
    /// (the engine's in-memory layer answers its own).
    #[napi(
        ts_args_type = "workflow: string, task: string, key: string, signal?: AbortSignal | undefined | null",
        ts_return_type = "Promise<string>"
    )]
    pub fn cache_get(&self, workflow: String, task: String, key: String, signal: Option<AbortSignal>) -> AsyncTask<Read<'_>> {
        Read::spawn(self, Query::Cached { workflow, task, key }, signal)
    }

    /// The newest run started with idempotency key `key`, as committed now
    /// (JSON of its record, or null): one indexed lookup on the reader,
    /// which waits neither for queued writes nor for another connection's
    /// lock (as `hasRunNow`). For `start` with a key this process has not seen.
    #[napi]
    pub fn run_by_start_key_now(&self, key: String) -> Result<Option<String>, JsError> {
        guard(|| self.with_reader(|reader| reader.run_by_start_key(&key)?.map(|r| json(&r)).transpose()))
    }

    /// Claims idempotency key `key` for run `runId`, about to start, in one
    /// transaction on the reader (see the core's `store/start_keys.rs`):
    /// null once the key names `runId`, else JSON `{ runId, run }` of the run
    /// it names (`run`: its record, null until the store has it). Waits for
    /// another connection's lock at most `CLAIM_LOCK_WAIT_MS` (then a
    /// transient `StoreError`); `superseded`: a run of the key this process
    /// knows did not succeed. Synchronous: `start` answers its run at once.
    /// Its times are the store's clock (the database's on PostgreSQL), not this process's.
    #[napi]
    pub fn claim_start_key(&self, key: String, run_id: String, retention_ms: f64, superseded: Option<String>) -> Result<Option<String>, JsError> {
        guard(|| {
            let request = StartKeyRequest { key: &key, run_id: &run_id, now_ms: None, retention_ms: retention_ms.min(i64::MAX as f64) as i64, superseded: superseded.as_deref() };
            match self.with_reader(|reader| reader.claim_start_key(&request))? {
                StartKeyClaim::Claimed => Ok(None),
                taken => json(&taken).map(Some),
            }
        })
    }

    /// Gives up `runId`'s claim of `key`: its start failed before the run existed.
    #[napi]
    pub fn release_start_key(&self, key: String, run_id: String) -> Result<(), JsError> {
        guard(|| self.with_reader(|reader| reader.release_start_key(&key, &run_id)))
    }
}
