//! Persistence: one data-access interface ([`Store`]), opened by URL
//! ([`open`]), with an embedded SQLite implementation, behind a native write-behind queue
//! ([`WriteBehind`]) that commits batches from a background thread. The
//! engine never writes SQL and never waits for I/O unless a run asked for
//! `sync` durability.

mod credit;
mod links;
mod postgres;
mod record;
mod schema;
mod sqlite;
mod start_keys;
mod writer;

pub use record::{
    execution_status, EventRecord, Fence, Execution, LedgerEntry, LedgerKey, LedgerWrite, RunFilter, RunRecord, Write, EXECUTION_STATUSES,
};
pub use links::{check_cache_key, CACHE_KEY_MAX};
pub use start_keys::{StartKeyClaim, StartKeyRequest, CLAIM_LOCK_WAIT_MS, ORPHAN_CLAIM_MS};
pub use credit::{grant_size, LeaseGrant, LeaseRequest};
pub use self::postgres::{PostgresStore, IDLE_IN_TRANSACTION_TIMEOUT, STATEMENT_TIMEOUT};
pub(crate) use self::postgres::listen_config as postgres_config;
pub use sqlite::SqliteStore;
pub use writer::{StoreStats, WriteBehind, WriterConfig};

use crate::error::{Error, Result};

/// Refuses a database whose schema a newer arcflow wrote (`version` past the
/// `supported` one): a permanent error, the same for every backend.
pub(crate) fn check_schema_version(version: usize, supported: usize) -> Result<()> {
    if version > supported {
        return Err(crate::error::Error::Store {
            message: format!("the database has schema version {version}, newer than this arcflow supports ({supported}): upgrade arcflow"),
            transient: false,
        });
    }
    Ok(())
}

/// Whether other processes may spend from the store `url` names, so that a
/// meter on it leases credit (`meter::lease`) instead of owning balances:
/// PostgreSQL always; SQLite unless opened `?locking=exclusive` (which
/// shuts every other process out).
pub fn shared_by_processes(url: &str) -> Result<bool> {
    match url.strip_prefix("sqlite:") {
        Some(path) => sqlite::shared(path),
        None => Ok(true),
    }
}

/// Opens the store `url` names: `sqlite:PATH` (the file created and
/// migrated if needed), or `postgres://` / `postgresql://` (a PostgreSQL
/// connection URL; `?schema=NAME` keeps arcflow's tables in that schema,
/// created if missing; the schema is migrated at open). A database that
/// cannot be reached is a transient [`Error::Store`], which never repeats
/// the URL's password; anything else, a bare path included, is an
/// [`Error::InvalidValue`] naming the accepted forms.
///
/// ```no_run
/// let mut store = arcflow_core::store::open("sqlite:./arcflow.db")?;
/// let mut shared = arcflow_core::store::open("postgres://arcflow@db:5432/arcflow?schema=tenant_a")?;
/// # Ok::<(), arcflow_core::Error>(())
/// ```
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    open_with::<Box<dyn Store>>(url, |path| Ok(Box::new(SqliteStore::open(path)?)), |url| Ok(Box::new(PostgresStore::open(url)?)))
}

/// The one reading of a store URL: `sqlite` gets the path, `postgres` the
/// whole URL; anything else is refused with a hint (the store's and the
/// queue's `open`).
pub(crate) fn open_with<T>(url: &str, sqlite: impl FnOnce(&str) -> Result<T>, postgres: impl FnOnce(&str) -> Result<T>) -> Result<T> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err(Error::invalid_value("the store URL sqlite: needs a path: sqlite:PATH"));
        }
        return sqlite(path);
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return postgres(url);
    }
    let hint = match url.split_once(':') {
        // the engine's option, not a backend: no store at all
        None if url == "memory" => "; an engine without a store keeps its runs in memory".to_owned(),
        // no scheme: most likely a path meant for SQLite
        None if !url.is_empty() => format!("; for an SQLite file write sqlite:{url}"),
        _ => String::new(),
    };
    let shown = url.split_once("://").map_or(url, |(scheme, _)| scheme);
    Err(Error::invalid_value(format!(
        "unknown store URL {shown:?}: expected sqlite:PATH, postgres://... or postgresql://...{hint}"
    )))
}

/// What the engine needs from a database. Implementations: SQLite and
/// PostgreSQL. Every
/// implementation passes the backend contract suite (`tests/contract`).
pub trait Store: Send {
    /// Applies a batch in one transaction: all of it, or none of it.
    fn apply(&mut self, batch: &[Write]) -> Result<()>;
    /// Applies a batch as [`Store::apply`] does, after checking, in the same
    /// transaction, each fenced run's row (its `owner` and `epoch`): every
    /// write of a run whose row differs is dropped, the rest commits.
    /// Answers the runs dropped. A store without queues cannot fence.
    fn apply_fenced(&mut self, batch: &[Write], fences: &[Fence]) -> Result<Vec<String>> {
        if fences.is_empty() {
            return self.apply(batch).map(|()| Vec::new());
        }
        Err(Error::Store { message: "this store cannot fence writes (it has no queues)".into(), transient: false })
    }
    /// [`Store::apply_fenced`] (or, with no fences, [`Store::apply`]), told
    /// which writes are the first ever of their execution (`fresh[i]`; a
    /// shorter slice says no more): a store may insert those rows outright
    /// instead of upserting them, as long as a row already there (a batch
    /// applied again after its commit's answer was lost) ends as the upsert
    /// would leave it.
    fn apply_fresh(&mut self, batch: &[Write], fences: &[Fence], fresh: &[bool]) -> Result<Vec<String>> {
        let _ = fresh;
        if fences.is_empty() {
            return self.apply(batch).map(|()| Vec::new());
        }
        self.apply_fenced(batch, fences)
    }
    fn get_run(&mut self, id: &str) -> Result<Option<RunRecord>>;
    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunRecord>>;
    /// Task executions of a run last written after journal position
    /// `after`, in journal order (`after` 0: all of them).
    fn tasks(&mut self, run_id: &str, after: u64) -> Result<Vec<Execution>>;
    /// Executions of one activation of a task (every item and attempt).
    fn activation(&mut self, run_id: &str, task: &str, step: u32) -> Result<Vec<Execution>>;
    /// The latest snapshot of a run: its journal position and state.
    fn snapshot(&mut self, run_id: &str) -> Result<Option<(u64, String)>>;
    /// An account's balance (`None`: no such account).
    fn balance(&mut self, account: &str) -> Result<Option<i64>>;
    /// Whether a ledger entry with this key exists.
    fn ledger_has(&mut self, key: &str) -> Result<bool>;
    /// A run's journal of events, oldest first.
    fn events(&mut self, run_id: &str) -> Result<Vec<EventRecord>>;
    /// An account's latest ledger entries, newest first.
    fn ledger(&mut self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>>;
    /// The definition of version `hash` of workflow `name` (see
    /// [`Write::Workflow`]), or `None` when the store does not have it.
    fn workflow_definition(&mut self, name: &str, hash: &str) -> Result<Option<String>>;
    /// The database's own consistency check: `ok`, or what is wrong.
    fn integrity_check(&mut self) -> Result<String> {
        Err(Error::Store { message: "this store has no integrity check".into(), transient: false })
    }
    /// Bounds how long a statement waits for a lock another connection (or
    /// process) holds; zero fails at once with a transient `Store` error.
    /// The binding's reader sets zero: a read on the JavaScript thread must
    /// never sit out someone else's lock (its async reads retry off-thread).
    fn set_lock_wait(&mut self, wait: std::time::Duration) -> Result<()> {
        let _ = wait;
        Ok(())
    }
    /// Credit leasing (see `credit`): adds a block to `owner`'s lease of
    /// an account, in one transaction that first returns the account's
    /// expired leases. `None`: no such account.
    fn lease_credit(&mut self, request: &LeaseRequest<'_>) -> Result<Option<LeaseGrant>> {
        let _ = request;
        Err(no_leases())
    }
    /// Moves `amount` of `owner`'s lease back to the balance; `None`: the
    /// whole lease, whose row goes.
    fn return_credit(&mut self, account: &str, owner: &str, amount: Option<i64>) -> Result<()> {
        let _ = (account, owner, amount);
        Err(no_leases())
    }
    /// Extends every lease of `owner` by `lease_ms` from now and returns
    /// every expired one (anyone's); answers the accounts `owner` still
    /// holds, each with its rest (see [`LeaseGrant::rest`]).
    fn renew_credit_leases(&mut self, owner: &str, lease_ms: i64) -> Result<Vec<(String, i64)>> {
        let _ = (owner, lease_ms);
        Err(no_leases())
    }
    /// Returns every expired lease's unspent amount to its balance: how many.
    fn expire_credit_leases(&mut self) -> Result<u64> {
        Err(no_leases())
    }
    /// The balance of `account` plus the leases of owners other than
    /// `owner`; `None`: no such account.
    fn credit_rest(&mut self, account: &str, owner: &str) -> Result<Option<i64>> {
        let _ = (account, owner);
        Err(no_leases())
    }
    /// The newest run started with idempotency key `key` (see `links`).
    fn run_by_start_key(&mut self, key: &str) -> Result<Option<RunRecord>> {
        let _ = key;
        Err(links::unsupported())
    }
    /// The result cached under (workflow, task, key) that has not expired
    /// by the store's clock: its JSON text and the ms it has left.
    fn cache_get(&mut self, workflow: &str, task: &str, key: &str) -> Result<Option<(String, i64)>> {
        let _ = (workflow, task, key);
        Err(links::unsupported())
    }
    /// Claims an idempotent start's key for a run about to start, or answers
    /// the run that holds it, in one transaction (see `start_keys`).
    fn claim_start_key(&mut self, request: &StartKeyRequest<'_>) -> Result<StartKeyClaim> {
        let _ = request;
        Err(links::unsupported())
    }
    /// Gives up `run_id`'s claim of `key` (its start failed before the run existed).
    fn release_start_key(&mut self, key: &str, run_id: &str) -> Result<()> {
        let _ = (key, run_id);
        Err(links::unsupported())
    }
}

fn no_leases() -> Error {
    Error::Store { message: "this store has no credit leases".into(), transient: false }
}

/// A boxed store is a store: `&mut *guard` of a `Mutex<Box<dyn Store>>`
/// passes where `&mut dyn Store` is asked for.
impl<S: Store + ?Sized> Store for Box<S> {
    fn apply(&mut self, batch: &[Write]) -> Result<()> {
        (**self).apply(batch)
    }
    fn apply_fenced(&mut self, batch: &[Write], fences: &[Fence]) -> Result<Vec<String>> {
        (**self).apply_fenced(batch, fences)
    }
    fn apply_fresh(&mut self, batch: &[Write], fences: &[Fence], fresh: &[bool]) -> Result<Vec<String>> {
        (**self).apply_fresh(batch, fences, fresh)
    }
    fn get_run(&mut self, id: &str) -> Result<Option<RunRecord>> {
        (**self).get_run(id)
    }
    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        (**self).runs(filter)
    }
    fn tasks(&mut self, run_id: &str, after: u64) -> Result<Vec<Execution>> {
        (**self).tasks(run_id, after)
    }
    fn activation(&mut self, run_id: &str, task: &str, step: u32) -> Result<Vec<Execution>> {
        (**self).activation(run_id, task, step)
    }
    fn snapshot(&mut self, run_id: &str) -> Result<Option<(u64, String)>> {
        (**self).snapshot(run_id)
    }
    fn balance(&mut self, account: &str) -> Result<Option<i64>> {
        (**self).balance(account)
    }
    fn ledger_has(&mut self, key: &str) -> Result<bool> {
        (**self).ledger_has(key)
    }
    fn events(&mut self, run_id: &str) -> Result<Vec<EventRecord>> {
        (**self).events(run_id)
    }
    fn ledger(&mut self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>> {
        (**self).ledger(account, limit)
    }
    fn workflow_definition(&mut self, name: &str, hash: &str) -> Result<Option<String>> {
        (**self).workflow_definition(name, hash)
    }
    fn integrity_check(&mut self) -> Result<String> {
        (**self).integrity_check()
    }
    fn set_lock_wait(&mut self, wait: std::time::Duration) -> Result<()> {
        (**self).set_lock_wait(wait)
    }
    fn lease_credit(&mut self, request: &LeaseRequest<'_>) -> Result<Option<LeaseGrant>> {
        (**self).lease_credit(request)
    }
    fn return_credit(&mut self, account: &str, owner: &str, amount: Option<i64>) -> Result<()> {
        (**self).return_credit(account, owner, amount)
    }
    fn renew_credit_leases(&mut self, owner: &str, lease_ms: i64) -> Result<Vec<(String, i64)>> {
        (**self).renew_credit_leases(owner, lease_ms)
    }
    fn expire_credit_leases(&mut self) -> Result<u64> {
        (**self).expire_credit_leases()
    }
    fn credit_rest(&mut self, account: &str, owner: &str) -> Result<Option<i64>> {
        (**self).credit_rest(account, owner)
    }
    fn run_by_start_key(&mut self, key: &str) -> Result<Option<RunRecord>> {
        (**self).run_by_start_key(key)
    }
    fn cache_get(&mut self, workflow: &str, task: &str, key: &str) -> Result<Option<(String, i64)>> {
        (**self).cache_get(workflow, task, key)
    }
    fn claim_start_key(&mut self, request: &StartKeyRequest<'_>) -> Result<StartKeyClaim> {
        (**self).claim_start_key(request)
    }
    fn release_start_key(&mut self, key: &str, run_id: &str) -> Result<()> {
        (**self).release_start_key(key, run_id)
    }
}
