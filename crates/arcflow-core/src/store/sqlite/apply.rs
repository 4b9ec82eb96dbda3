//! A batch's writes in the caller's transaction, one prepared statement
//! per kind of write; and the fence check that may drop some of them.

use rusqlite::{params, OptionalExtension, Transaction};

use super::db_error;
use crate::error::Result;
use crate::store::record::{Fence, LedgerKey, Write};

/// The fenced runs whose row no longer says their fence's owner and epoch
/// (taken over, released, ended or gone).
pub(super) fn fenced_out(tx: &Transaction<'_>, fences: &[Fence]) -> Result<Vec<String>> {
    let mut held = tx.prepare_cached("SELECT owner, epoch FROM runs WHERE id = ?1").map_err(db_error)?;
    let mut lost = Vec::new();
    for fence in fences {
        let row: Option<(Option<String>, i64)> =
            held.query_row([&fence.run_id], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(db_error)?;
        let holds = row.is_some_and(|(owner, epoch)| owner.as_deref() == Some(&*fence.owner) && epoch as u64 == fence.epoch);
        if !holds {
            lost.push(fence.run_id.clone());
        }
    }
    Ok(lost)
}

/// Applies `batch` in order in `tx`.
pub(super) fn write_batch<'a>(tx: &Transaction<'_>, batch: impl Iterator<Item = &'a Write>) -> Result<()> {
    let mut run_started = tx
        .prepare_cached(
            "INSERT INTO runs (id, workflow, status, input, started_at, account, workflow_hash) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET status = 'running', ended_at = NULL, waiting_since = NULL, workflow_hash = COALESCE(?6, workflow_hash)",
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
        .prepare_cached(
            // its lease goes with it
            "UPDATE runs SET status = ?2, output = ?3, error = ?4, ended_at = ?5, owner = NULL, lease_until = NULL WHERE id = ?1",
        )
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
    let mut links = super::links::Statements::prepare(tx)?;
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
            Write::RunLinks { .. } | Write::RunWaiting { .. } | Write::CachePut { .. } | Write::CacheClear { .. } => links.apply(write),
        }
        .map_err(db_error)?;
    }
    Ok(())
}
