//! The reads, each one prepared statement (once per connection).

use postgres::{Client, Error, Row};

use super::Statements;
use crate::store::record::{execution_status, run_status, EventRecord, Execution, LedgerEntry, RunFilter, RunRecord};

type Result<T> = std::result::Result<T, Error>;

const RUN: &str = "SELECT id, workflow, status, input, output, error, started_at, ended_at, account, workflow_hash, parent_id, parent_task, waiting_since FROM runs WHERE id = $1";

const RUNS: &str = "
SELECT id, workflow, status, input, output, error, started_at, ended_at, account, workflow_hash, parent_id, parent_task, waiting_since FROM runs
WHERE ($1::text IS NULL OR (status = (CASE $1::text WHEN 'waiting' THEN 'running' ELSE $1::text END)
  AND ($1::text NOT IN ('running', 'waiting') OR (waiting_since IS NOT NULL) = ($1::text = 'waiting')))) AND ($2::text IS NULL OR workflow = $2)
ORDER BY started_at DESC, id LIMIT $3";

const EXECUTION_COLUMNS_AFTER: &str = "
SELECT run_id, task, step, item, attempt, status, payload, started_at, ended_at, jseq, input
FROM executions WHERE run_id = $1 AND jseq > $2 ORDER BY jseq";

const ACTIVATION: &str = "
SELECT run_id, task, step, item, attempt, status, payload, started_at, ended_at, jseq, input
FROM executions WHERE run_id = $1 AND task = $2 AND step = $3 ORDER BY item, attempt";

const EVENTS: &str = "
SELECT run_id, kind, task, item, attempt, message, data, at FROM events WHERE run_id = $1 ORDER BY seq";

const LEDGER: &str = "
SELECT key, account, amount, kind, run_id, task, item, attempt, at FROM ledger
WHERE account = $1 ORDER BY at DESC, seq DESC LIMIT $2";

pub(super) fn run_record(row: &Row) -> RunRecord {
    RunRecord {
        id: row.get(0),
        workflow: row.get(1),
        status: run_status(row.get(2), row.get(12)),
        input: row.get(3),
        output: row.get(4),
        error: row.get(5),
        started_at: row.get(6),
        ended_at: row.get(7),
        account: row.get(8),
        workflow_hash: row.get(9),
        parent_id: row.get(10),
        parent_task: row.get(11),
    }
}

fn execution(row: &Row) -> Execution {
    let status: &str = row.get(5);
    Execution {
        run_id: row.get::<_, &str>(0).into(),
        task: row.get::<_, &str>(1).into(),
        step: row.get::<_, i64>(2) as u32,
        item: row.get(3),
        attempt: row.get::<_, i64>(4) as u32,
        // written from the same list: anything else is a row arcflow did not write
        status: execution_status(status).unwrap_or("failed"),
        payload: row.get(6),
        started_at: row.get(7),
        ended_at: row.get(8),
        jseq: row.get::<_, i64>(9) as u64,
        input: row.get(10),
    }
}

pub(super) fn get_run(c: &mut Client, s: &mut Statements, id: &str) -> Result<Option<RunRecord>> {
    let statement = s.get(c, RUN)?;
    Ok(c.query_opt(&statement, &[&id])?.as_ref().map(run_record))
}

pub(super) fn runs(c: &mut Client, s: &mut Statements, filter: &RunFilter) -> Result<Vec<RunRecord>> {
    let statement = s.get(c, RUNS)?;
    let limit = i64::from(filter.limit.unwrap_or(100));
    let rows = c.query(&statement, &[&filter.status, &filter.workflow, &limit])?;
    Ok(rows.iter().map(run_record).collect())
}

pub(super) fn tasks(c: &mut Client, s: &mut Statements, run_id: &str, after: u64) -> Result<Vec<Execution>> {
    let statement = s.get(c, EXECUTION_COLUMNS_AFTER)?;
    Ok(c.query(&statement, &[&run_id, &(after as i64)])?.iter().map(execution).collect())
}

pub(super) fn activation(c: &mut Client, s: &mut Statements, run_id: &str, task: &str, step: u32) -> Result<Vec<Execution>> {
    let statement = s.get(c, ACTIVATION)?;
    Ok(c.query(&statement, &[&run_id, &task, &i64::from(step)])?.iter().map(execution).collect())
}

pub(super) fn snapshot(c: &mut Client, s: &mut Statements, run_id: &str) -> Result<Option<(u64, String)>> {
    let statement = s.get(c, "SELECT jseq, state FROM snapshots WHERE run_id = $1")?;
    Ok(c.query_opt(&statement, &[&run_id])?.map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
}

pub(super) fn balance(c: &mut Client, s: &mut Statements, account: &str) -> Result<Option<i64>> {
    let statement = s.get(c, "SELECT balance FROM accounts WHERE id = $1")?;
    Ok(c.query_opt(&statement, &[&account])?.map(|r| r.get(0)))
}

pub(super) fn workflow_definition(c: &mut Client, s: &mut Statements, name: &str, hash: &str) -> Result<Option<String>> {
    let statement = s.get(c, "SELECT definition FROM workflows WHERE name = $1 AND hash = $2")?;
    Ok(c.query_opt(&statement, &[&name, &hash])?.map(|r| r.get(0)))
}

pub(super) fn ledger_has(c: &mut Client, s: &mut Statements, key: &str) -> Result<bool> {
    let statement = s.get(c, "SELECT 1 FROM ledger WHERE key = $1")?;
    Ok(c.query_opt(&statement, &[&key])?.is_some())
}

pub(super) fn events(c: &mut Client, s: &mut Statements, run_id: &str) -> Result<Vec<EventRecord>> {
    let statement = s.get(c, EVENTS)?;
    let rows = c.query(&statement, &[&run_id])?;
    Ok(rows
        .iter()
        .map(|r| EventRecord {
            run_id: r.get(0),
            kind: r.get(1),
            task: r.get(2),
            item: r.get(3),
            attempt: r.get::<_, Option<i64>>(4).map(|a| a as u32),
            message: r.get(5),
            data: r.get(6),
            at: r.get(7),
        })
        .collect())
}

pub(super) fn ledger(c: &mut Client, s: &mut Statements, account: &str, limit: u32) -> Result<Vec<LedgerEntry>> {
    let statement = s.get(c, LEDGER)?;
    let rows = c.query(&statement, &[&account, &i64::from(limit)])?;
    Ok(rows
        .iter()
        .map(|r| LedgerEntry {
            key: r.get(0),
            account: r.get(1),
            amount: r.get(2),
            kind: r.get(3),
            run_id: r.get(4),
            task: r.get(5),
            item: r.get(6),
            attempt: r.get::<_, Option<i64>>(7).map(|a| a as u32),
            at: r.get(8),
        })
        .collect())
}
