//! The embedded default store: SQLite (bundled) in WAL mode. The schema is
//! versioned (`PRAGMA user_version`) and migrated when the store opens.

use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::credit::{LeaseGrant, LeaseRequest};
use super::record::{execution_status, EventRecord, Execution, LedgerEntry, LedgerKey, RunFilter, RunRecord, Write};
use super::schema::MIGRATIONS;
use super::Store;
use crate::error::{Error, Result};

mod credit;
mod identity;
mod locking;
use identity::FileIdentity;

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
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`,
    /// which may end in `?locking=shared` (default) or `?locking=exclusive`:
    /// the WAL index in a shared mapping other processes use, or in this
    /// process's memory, where a read-only or vanished file cannot raise
    /// SIGBUS (see `locking`).
    pub fn open(path: &str) -> Result<Self> {
        let (path, locking) = locking::parse(path)?;
        let conn = match locking.vfs() {
            None => Connection::open(path),
            Some(vfs) => Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs),
        }
        .map_err(db_error)?;
        let mut store = Self::setup(conn)?;
        // after setup: the file exists once the first pragma touched it
        store.file = FileIdentity::of(path);
        Ok(store)
    }

    fn setup(conn: Connection) -> Result<Self> {
        conn.busy_timeout(LOCK_WAIT).map_err(db_error)?;
        // the database file through read/write, never a mapping (a truncated
        // or immutable mapped file raises SIGBUS): whatever the build's default
        conn.pragma_update(None, "mmap_size", 0).map_err(db_error)?;
        // WAL: readers never block the writer; FULL: a commit survives power loss
        use_wal(&conn)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db_error)?;
        // a batch touches pages all over the executions B-tree: keep them cached (64 MiB)
        conn.pragma_update(None, "cache_size", -65_536).map_err(db_error)?;
        let mut store = SqliteStore { conn, file: None };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        // the common case, an up-to-date file, takes no write lock
        if schema_version(&self.conn)? == MIGRATIONS.len() {
            return Ok(());
        }
        // one writer migrates: IMMEDIATE takes the write lock up front (a
        // deferred transaction could not upgrade once another process
        // wrote), and the version is read again under it, so a process that
        // waited (busy timeout) sees the other's migration and runs none of it
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
        let version = schema_version(&tx)?;
        for sql in MIGRATIONS.iter().skip(version) {
            tx.execute_batch(sql).map_err(db_error)?;
        }
        if version < MIGRATIONS.len() {
            tx.pragma_update(None, "user_version", MIGRATIONS.len()).map_err(db_error)?;
        }
        tx.commit().map_err(db_error)
    }
}

/// Whether other processes may open the file at `path` (its `?locking=`).
pub(super) fn shared(path: &str) -> Result<bool> {
    Ok(locking::parse(path)?.1 == locking::Locking::Shared)
}

/// How long an open waits for another connection's lock.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Switches a file to WAL. The switch needs the file to itself, and SQLite
/// answers busy at once rather than call the busy handler (it may hold a
/// read lock of its own): while another process opens the same new file,
/// try again until it is WAL (the other may have switched it) or the
/// usual lock wait has passed.
fn use_wal(conn: &Connection) -> Result<()> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(db_error(e)),
        }
    }
}

/// `user_version`, refused when a newer arcflow wrote the file.
fn schema_version(conn: &Connection) -> Result<usize> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(db_error)?;
    crate::store::check_schema_version(version, MIGRATIONS.len())?;
    Ok(version)
}

fn run_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        workflow: row.get(1)?,
        status: row.get(2)?,
        input: row.get(3)?,
        output: row.get(4)?,
        error: row.get(5)?,
        started_at: row.get(6)?,
        ended_at: row.get(7)?,
        account: row.get(8)?,
        workflow_hash: row.get(9)?,
    })
}

const RUN_COLUMNS: &str = "id, workflow, status, input, output, error, started_at, ended_at, account, workflow_hash";

impl Store for SqliteStore {
    fn set_lock_wait(&mut self, wait: Duration) -> Result<()> {
        // the busy handler: under WAL only recovery or an exclusive-mode
        // connection makes a reader wait, and never on a writer's lock
        self.conn.busy_timeout(wait).map_err(db_error)
    }

    fn apply(&mut self, batch: &[Write]) -> Result<()> {
        if let Some(file) = &self.file {
            file.check()?;
        }
        let tx = self.conn.transaction().map_err(db_error)?;
        {
            let mut run_started = tx
                .prepare_cached(
                    "INSERT INTO runs (id, workflow, status, input, started_at, account, workflow_hash) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET status = 'running', ended_at = NULL, workflow_hash = COALESCE(?6, workflow_hash)",
                )
                .map_err(db_error)?;
            let mut task = tx
                .prepare_cached(
                    "INSERT INTO executions (run_id, task, step, item, attempt, status, payload, started_at, ended_at, jseq, input)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT DO UPDATE SET status = ?6, payload = ?7, ended_at = ?9, jseq = ?10,
                       started_at = COALESCE(started_at, ?8), input = COALESCE(input, ?11)",
                )
                .map_err(db_error)?;
            let mut var = tx
                .prepare_cached(
                    "INSERT INTO vars (run_id, name, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (run_id, name) DO UPDATE SET value = ?3",
                )
                .map_err(db_error)?;
            let mut snapshot = tx
                .prepare_cached(
                    "INSERT INTO snapshots (run_id, jseq, state) VALUES (?1, ?2, ?3)
                     ON CONFLICT (run_id) DO UPDATE SET jseq = ?2, state = ?3",
                )
                .map_err(db_error)?;
            let mut run_ended = tx
                .prepare_cached("UPDATE runs SET status = ?2, output = ?3, error = ?4, ended_at = ?5 WHERE id = ?1")
                .map_err(db_error)?;
            let mut ledger = tx
                .prepare_cached(
                    "INSERT INTO ledger (key, account, amount, kind, run_id, task, item, attempt, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (key) DO NOTHING",
                )
                .map_err(db_error)?;
            let mut balance = tx
                .prepare_cached(
                    "INSERT INTO accounts (id, balance) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET balance = balance + ?2",
                )
                .map_err(db_error)?;
            // a leasing meter's charge: from its lease (the balance no longer holds that credit)
            let mut lease_charge = tx
                .prepare_cached("UPDATE credit_leases SET amount = amount + ?3 WHERE account = ?1 AND owner = ?2")
                .map_err(db_error)?;
            let mut event = tx
                .prepare_cached(
                    "INSERT INTO events (run_id, kind, task, item, attempt, message, data, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(db_error)?;
            // once per version: every load and run of it writes it, one row stays
            let mut workflow = tx
                .prepare_cached(
                    "INSERT INTO workflows (name, hash, definition, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name, hash) DO NOTHING",
                )
                .map_err(db_error)?;
            let mut abandoned = tx
                .prepare_cached(
                    "UPDATE executions SET status = 'cancelled', ended_at = ?2 WHERE run_id = ?1 AND status = 'running'",
                )
                .map_err(db_error)?;
            for write in batch {
                match write {
                    Write::RunStarted { id, workflow, workflow_hash, input, started_at, account } => {
                        run_started.execute(params![id, workflow, input, started_at, account, workflow_hash])
                    }
                    Write::Workflow { name, hash, definition, at } => workflow.execute(params![name, hash, definition, at]),
                    Write::Task(e) => task.execute(params![
                        e.run_id, e.task, e.step, e.item, e.attempt, e.status, e.payload, e.started_at, e.ended_at,
                        e.jseq as i64, e.input
                    ]),
                    Write::Var { run_id, name, value } => var.execute(params![run_id, name, value]),
                    Write::Snapshot { run_id, jseq, state } => snapshot.execute(params![run_id, *jseq as i64, state]),
                    Write::Ledger(l) => {
                        let (run_id, task, item, attempt) = match &l.key {
                            LedgerKey::Unit { run_id, task, item, attempt, .. } => {
                                (Some(&**run_id), Some(&**task), (*item >= 0).then_some(*item), Some(*attempt))
                            }
                            LedgerKey::Given(_) => (None, None, None, None),
                        };
                        let added = ledger
                            .execute(params![l.key_text(), &*l.account, l.amount, l.kind, run_id, task, item, attempt, l.at])
                            .map_err(db_error)?;
                        // once per key: a retried batch or a second delivery changes nothing
                        match (&l.lease, added) {
                            (_, 0) => Ok(0),
                            // a lease gone (expired, returned to the balance): from the balance
                            (Some(owner), _) => match lease_charge.execute(params![&*l.account, &**owner, l.amount]).map_err(db_error)? {
                                0 => balance.execute(params![&*l.account, l.amount]),
                                n => Ok(n),
                            },
                            (None, _) => balance.execute(params![&*l.account, l.amount]),
                        }
                    }
                    Write::Event(e) => {
                        event.execute(params![e.run_id, e.kind, e.task, e.item, e.attempt, e.message, e.data, e.at])
                    }
                    Write::RunEnded { id, status, output, error, ended_at } => {
                        if status != "succeeded" {
                            abandoned.execute(params![id, ended_at]).map_err(db_error)?;
                        }
                        run_ended.execute(params![id, status, output, error, ended_at])
                    }
                }
                .map_err(db_error)?;
            }
        }
        tx.commit().map_err(db_error)
    }

    fn get_run(&mut self, id: &str) -> Result<Option<RunRecord>> {
        self.conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], run_record).optional())
            .map_err(db_error)
    }

    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR workflow = ?2)
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
        let rows = stmt.query_map(params![account, limit], Self::ledger_entry).map_err(db_error)?;
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
    fn ledger_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerEntry> {
        Ok(LedgerEntry {
            key: r.get(0)?,
            account: r.get(1)?,
            amount: r.get(2)?,
            kind: r.get(3)?,
            run_id: r.get(4)?,
            task: r.get(5)?,
            item: r.get(6)?,
            attempt: r.get(7)?,
            at: r.get(8)?,
        })
    }
}

const EXECUTION_COLUMNS: &str = "run_id, task, step, item, attempt, status, payload, started_at, ended_at, jseq, input";

fn execution(r: &rusqlite::Row<'_>) -> rusqlite::Result<Execution> {
    Ok(Execution {
        run_id: r.get::<_, String>(0)?.into(),
        task: r.get::<_, String>(1)?.into(),
        step: r.get(2)?,
        item: r.get(3)?,
        attempt: r.get(4)?,
        status: {
            let text: String = r.get(5)?;
            execution_status(&text).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, format!("unknown execution status {text:?}").into())
            })?
        },
        payload: r.get(6)?,
        started_at: r.get(7)?,
        ended_at: r.get(8)?,
        jseq: r.get::<_, i64>(9)? as u64,
        input: r.get(10)?,
    })
}
