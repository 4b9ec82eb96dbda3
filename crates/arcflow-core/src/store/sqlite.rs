//! The embedded default store: SQLite (bundled) in WAL mode. The schema is
//! versioned (`PRAGMA user_version`) and migrated when the store opens.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::credit::{LeaseGrant, LeaseRequest};
use super::record::{EventRecord, Execution, Fence, LedgerEntry, RunFilter, RunRecord, Write};
use super::start_keys::{StartKeyClaim, StartKeyRequest};
use super::Store;
use crate::error::{Error, Result};

mod apply;
mod credit;
mod identity;
mod links;
mod locking;
mod open;
mod queue;
mod rows;
mod start_keys;
use identity::FileIdentity;
use rows::{execution, ledger_entry, run_record, EXECUTION_COLUMNS, RUN_COLUMNS, RUN_STATUS_FILTER};

/// Milliseconds since the epoch by SQLite's clock (the machine's: every
/// process on one file shares it): the queue's leases and the credit leases.
pub(super) fn clock_ms(conn: &rusqlite::Connection) -> Result<i64> {
    conn.query_row(&format!("SELECT {NOW_MS}"), [], |r| r.get(0)).map_err(db_error)
}

/// The same as an SQL expression, for statements that compare with it.
pub(super) const NOW_MS: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

pub(crate) fn db_error(e: rusqlite::Error) -> Error {
    Error::Store { message: e.to_string(), transient: is_transient(&e) }
}

/// Busy, locked, full or read-only: worth retrying once the fault clears.
fn is_transient(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(DatabaseBusy | DatabaseLocked | DiskFull | ReadOnly | SystemIoFailure | CannotOpen | OutOfMemory)
    )
}

pub struct SqliteStore {
    conn: Connection,
    /// The file opened, checked before each commit (see `identity`).
    file: Option<FileIdentity>,
    /// `set_lock_wait`'s (a start key's claim waits longer, then sets it back).
    lock_wait: Duration,
}

/// Whether other processes may open the file at `path` (its `?locking=`).
pub(super) fn shared(path: &str) -> Result<bool> {
    Ok(locking::parse(path)?.1 == locking::Locking::Shared)
}

impl Store for SqliteStore {
    fn set_lock_wait(&mut self, wait: Duration) -> Result<()> {
        // the busy handler: under WAL only recovery or an exclusive-mode
        // connection makes a reader wait, and never on a writer's lock
        self.lock_wait = wait;
        self.conn.busy_timeout(wait).map_err(db_error)
    }

    fn claim_start_key(&mut self, request: &StartKeyRequest<'_>) -> Result<StartKeyClaim> {
        self.claim_key(request)
    }

    fn release_start_key(&mut self, key: &str, run_id: &str) -> Result<()> {
        self.release_key(key, run_id)
    }

    fn apply(&mut self, batch: &[Write]) -> Result<()> {
        if let Some(file) = &self.file {
            file.check()?;
        }
        let tx = self.conn.transaction().map_err(db_error)?;
        apply::write_batch(&tx, batch.iter())?;
        tx.commit().map_err(db_error)
    }

    fn apply_fenced(&mut self, batch: &[Write], fences: &[Fence]) -> Result<Vec<String>> {
        if let Some(file) = &self.file {
            file.check()?;
        }
        // IMMEDIATE: the rows checked cannot change before the writes land
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
        let lost = apply::fenced_out(&tx, fences)?;
        apply::write_batch(&tx, batch.iter().filter(|w| w.run_id().is_none_or(|run| !lost.iter().any(|l| l == run))))?;
        tx.commit().map_err(db_error)?;
        Ok(lost)
    }

    fn run_by_start_key(&mut self, key: &str) -> Result<Option<RunRecord>> {
        self.conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE start_key = ?1 ORDER BY started_at DESC, rowid DESC LIMIT 1"))
            .and_then(|mut s| s.query_row([key], run_record).optional())
            .map_err(db_error)
    }

    fn cache_get(&mut self, workflow: &str, task: &str, key: &str) -> Result<Option<(String, i64)>> {
        links::cache_get(&self.conn, workflow, task, key)
    }

    fn get_run(&mut self, id: &str) -> Result<Option<RunRecord>> {
        self.conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], run_record).optional())
            .map_err(db_error)
    }

    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE {RUN_STATUS_FILTER} AND (?2 IS NULL OR workflow = ?2)
             ORDER BY started_at DESC, id LIMIT ?3"
        );
        let limit = i64::from(filter.limit.unwrap_or(100));
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db_error)?;
        let rows = stmt
            .query_map(params![filter.status, filter.workflow, limit], run_record)
            .map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
    }

    fn tasks(&mut self, run_id: &str, after: u64) -> Result<Vec<Execution>> {
        // no index on jseq (one B-tree less per write): the run's rows come
        // by primary key, sorted here
        let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE run_id = ?1 AND jseq > ?2");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db_error)?;
        let rows = stmt.query_map(params![run_id, after as i64], execution).map_err(db_error)?;
        let mut rows = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)?;
        rows.sort_unstable_by_key(|e| e.jseq);
        Ok(rows)
    }

    fn activation(&mut self, run_id: &str, task: &str, step: u32) -> Result<Vec<Execution>> {
        let sql = format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE run_id = ?1 AND task = ?2 AND step = ?3 ORDER BY item, attempt"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db_error)?;
        let rows = stmt.query_map(params![run_id, task, step], execution).map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
    }

    fn events(&mut self, run_id: &str) -> Result<Vec<EventRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT run_id, kind, task, item, attempt, message, data, at FROM events WHERE run_id = ?1 ORDER BY rowid",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(EventRecord {
                    run_id: r.get(0)?,
                    kind: r.get(1)?,
                    task: r.get(2)?,
                    item: r.get(3)?,
                    attempt: r.get(4)?,
                    message: r.get(5)?,
                    data: r.get(6)?,
                    at: r.get(7)?,
                })
            })
            .map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
    }

    fn balance(&mut self, account: &str) -> Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT balance FROM accounts WHERE id = ?1")
            .and_then(|mut s| s.query_row([account], |r| r.get(0)).optional())
            .map_err(db_error)
    }

    fn ledger_has(&mut self, key: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM ledger WHERE key = ?1")
            .and_then(|mut s| s.exists([key]))
            .map_err(db_error)
    }

    fn ledger(&mut self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key, account, amount, kind, run_id, task, item, attempt, at FROM ledger
                 WHERE account = ?1 ORDER BY at DESC, rowid DESC LIMIT ?2",
            )
            .map_err(db_error)?;
        let rows = stmt.query_map(params![account, limit], ledger_entry).map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
    }

    fn workflow_definition(&mut self, name: &str, hash: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT definition FROM workflows WHERE name = ?1 AND hash = ?2")
            .and_then(|mut s| s.query_row([name, hash], |r| r.get(0)).optional())
            .map_err(db_error)
    }

    fn snapshot(&mut self, run_id: &str) -> Result<Option<(u64, String)>> {
        self.conn
            .prepare_cached("SELECT jseq, state FROM snapshots WHERE run_id = ?1")
            .and_then(|mut s| s.query_row([run_id], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))).optional())
            .map_err(db_error)
    }

    fn lease_credit(&mut self, request: &LeaseRequest<'_>) -> Result<Option<LeaseGrant>> {
        self.lease(request)
    }

    fn return_credit(&mut self, account: &str, owner: &str, amount: Option<i64>) -> Result<()> {
        self.give_back(account, owner, amount)
    }

    fn renew_credit_leases(&mut self, owner: &str, lease_ms: i64) -> Result<Vec<(String, i64)>> {
        self.renew(owner, lease_ms)
    }

    fn expire_credit_leases(&mut self) -> Result<u64> {
        self.expire_all()
    }

    fn credit_rest(&mut self, account: &str, owner: &str) -> Result<Option<i64>> {
        self.rest_of(account, owner)
    }

    /// `PRAGMA integrity_check`.
    fn integrity_check(&mut self) -> Result<String> {
        self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(db_error)
    }
}

impl SqliteStore {
    /// A transaction that holds the write lock from its start: the queue's
    /// and the credit leases' read-then-write calls take turns across
    /// connections and processes.
    fn immediate(&mut self) -> Result<rusqlite::Transaction<'_>> {
        self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)
    }
}
