//! Rows read back as records: the columns each read selects, and how a
//! row becomes a record.

use crate::store::record::{execution_status, run_status, Execution, LedgerEntry, RunRecord};

pub(super) fn run_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        workflow: row.get(1)?,
        status: run_status(row.get(2)?, row.get(12)?),
        input: row.get(3)?,
        output: row.get(4)?,
        error: row.get(5)?,
        started_at: row.get(6)?,
        ended_at: row.get(7)?,
        account: row.get(8)?,
        workflow_hash: row.get(9)?,
        parent_id: row.get(10)?,
        parent_task: row.get(11)?,
    })
}

pub(super) const RUN_COLUMNS: &str = "id, workflow, status, input, output, error, started_at, ended_at, account, workflow_hash, parent_id, parent_task, waiting_since";

/// `?1`, a status as runs read (see `run_status`): `waiting` and `running`
/// are both rows of status `running`, told apart by `waiting_since`.
pub(super) const RUN_STATUS_FILTER: &str = "(?1 IS NULL OR (status = (CASE ?1 WHEN 'waiting' THEN 'running' ELSE ?1 END)
  AND (?1 NOT IN ('running', 'waiting') OR (waiting_since IS NOT NULL) = (?1 = 'waiting'))))";

pub(super) const EXECUTION_COLUMNS: &str = "run_id, task, step, item, attempt, status, payload, started_at, ended_at, jseq, input";

pub(super) fn execution(r: &rusqlite::Row<'_>) -> rusqlite::Result<Execution> {
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

pub(super) fn ledger_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerEntry> {
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
