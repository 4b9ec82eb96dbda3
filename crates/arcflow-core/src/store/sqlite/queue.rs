//! The queue on SQLite: every call that changes rows is one `IMMEDIATE`
//! transaction, which holds the database's write lock from its start, so
//! claims of several connections or processes (`locking=shared`) are
//! serialized and never take a run twice. The time is SQLite's clock (the
//! machine's), read in the transaction.

use rusqlite::{params, OptionalExtension};

use super::{db_error, SqliteStore};
use crate::error::Result;
use crate::queue::{self, CancelAsked, ClaimRequest, Claimed, Enqueued, NewRun, Queue};

/// A list of names as one parameter: `IN (SELECT value FROM json_each(?))`.
fn json_list(names: &[&str]) -> String {
    // a list of strings always serializes
    serde_json::to_string(names).unwrap_or_default()
}

use super::{clock_ms as now, NOW_MS};

impl Queue for SqliteStore {
    fn enqueue(&mut self, runs: &[NewRun]) -> Result<Vec<Enqueued>> {
        queue::check_new_runs(runs)?;
        let tx = self.immediate()?;
        let now = now(&tx)?;
        let mut answers = Vec::with_capacity(runs.len());
        {
            let mut by_key = tx.prepare_cached("SELECT id, status FROM runs WHERE run_key = ?1").map_err(db_error)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO runs (id, workflow, status, input, started_at, account, queue, run_key, priority, run_at)
                     VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(db_error)?;
            for run in runs {
                if let Some(key) = &run.key {
                    let found: Option<(String, String)> =
                        by_key.query_row([key], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(db_error)?;
                    if let Some((id, status)) = found {
                        answers.push(Enqueued { id, created: false, status });
                        continue;
                    }
                }
                insert
                    .execute(params![
                        run.id, run.workflow, run.input, run.at, run.account, run.queue, run.key, run.priority,
                        run.run_at.unwrap_or(now)
                    ])
                    .map_err(db_error)?;
                answers.push(Enqueued { id: run.id.clone(), created: true, status: "queued".into() });
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(answers)
    }

    fn claim(&mut self, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>> {
        let Some(queues) = req.checked()? else { return Ok(Vec::new()) };
        let limit = i64::from(req.limit);
        let tx = self.immediate()?;
        let now = now(&tx)?;
        let mut claimed = Vec::new();
        {
            // each queue's room: the batch's limit, or what its concurrency leaves
            let mut limit_of = tx
                .prepare_cached(
                    "SELECT q.concurrency - (SELECT count(*) FROM runs r WHERE r.queue = q.name AND r.status = 'running'
                       AND r.owner IS NOT NULL AND r.lease_until >= ?2)
                     FROM queues q WHERE q.name = ?1 AND q.concurrency IS NOT NULL",
                )
                .map_err(db_error)?;
            let mut queued = tx
                .prepare_cached(
                    "SELECT id, queue, priority, run_at FROM runs WHERE status = 'queued' AND queue = ?1 AND run_at <= ?2
                     ORDER BY priority DESC, run_at LIMIT ?3",
                )
                .map_err(db_error)?;
            let mut expired = tx
                .prepare_cached(
                    "SELECT id, queue, priority, run_at FROM runs WHERE status = 'running' AND owner IS NOT NULL AND queue = ?1
                       AND lease_until < ?2 ORDER BY lease_until LIMIT ?3",
                )
                .map_err(db_error)?;
            let mut room = Vec::with_capacity(queues.len());
            let mut candidates = Vec::new();
            for name in &queues {
                let free: Option<i64> = limit_of.query_row(params![name, now], |r| r.get(0)).optional().map_err(db_error)?;
                let free = free.map_or(limit, |f| f.clamp(0, limit));
                room.push((*name, free));
                if free == 0 {
                    continue;
                }
                for stmt in [&mut queued, &mut expired] {
                    let rows = stmt
                        .query_map(params![name, now, free], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, Option<i64>>(3)?.unwrap_or(0))))
                        .map_err(db_error)?;
                    for row in rows {
                        candidates.push(row.map_err(db_error)?);
                    }
                }
            }
            let mut take = tx
                .prepare_cached(
                    "UPDATE runs SET status = 'running', owner = ?2, epoch = epoch + 1, lease_until = ?3 WHERE id = ?1
                     RETURNING id, workflow, workflow_hash, input, account, epoch",
                )
                .map_err(db_error)?;
            for id in queue::pick(candidates, &room, req.limit as usize) {
                let run = take
                    .query_row(params![id, req.worker, now.saturating_add(req.lease_ms)], |r| {
                        Ok(Claimed::new(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, i64>(5)? as u64))
                    })
                    .map_err(db_error)?;
                claimed.push(run);
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(claimed)
    }

    fn renew(&mut self, worker: &str, lease_ms: i64) -> Result<Vec<(String, u64)>> {
        queue::check_lease(lease_ms)?;
        // one statement, its own transaction
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "UPDATE runs SET lease_until = ({NOW_MS}) + ?2 WHERE owner = ?1 AND status = 'running' RETURNING id, epoch"
            ))
            .map_err(db_error)?;
        let rows = stmt.query_map(params![worker, lease_ms], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))).map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
    }

    fn release(&mut self, worker: &str, runs: &[(String, u64)]) -> Result<()> {
        let tx = self.immediate()?;
        {
            // its place in the queue (priority, due time) is kept: it goes first again
            let mut release = tx
                .prepare_cached(
                    "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL
                     WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND status = 'running'",
                )
                .map_err(db_error)?;
            for (id, epoch) in runs {
                release.execute(params![id, worker, *epoch as i64]).map_err(db_error)?;
            }
        }
        tx.commit().map_err(db_error)
    }

    fn request_cancel(&mut self, id: &str, policy: &str) -> Result<CancelAsked> {
        let tx = self.immediate()?;
        let row: Option<(String, Option<String>)> = tx
            .query_row("SELECT status, owner FROM runs WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db_error)?;
        let asked = match row {
            None => CancelAsked::Unknown,
            Some((status, _)) if status == "queued" => {
                tx.execute(
                    &format!("UPDATE runs SET status = 'cancelled', cancel = ?2, ended_at = ({NOW_MS}) WHERE id = ?1"),
                    params![id, policy],
                )
                .map_err(db_error)?;
                CancelAsked::Cancelled
            }
            Some((status, owner)) if status == "running" => {
                tx.execute("UPDATE runs SET cancel = ?2 WHERE id = ?1", params![id, policy]).map_err(db_error)?;
                CancelAsked::Forwarded { owner }
            }
            Some((status, _)) => CancelAsked::Ended { status },
        };
        tx.commit().map_err(db_error)?;
        Ok(asked)
    }

    fn cancels(&mut self, worker: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, cancel FROM runs WHERE owner = ?1 AND status = 'running' AND cancel IS NOT NULL")
            .map_err(db_error)?;
        let rows = stmt.query_map([worker], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)
    }

    fn set_limit(&mut self, queue: &str, concurrency: Option<u32>) -> Result<()> {
        queue::check_queue_name(queue)?;
        self.conn
            .execute(
                "INSERT INTO queues (name, concurrency) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency",
                params![queue, concurrency],
            )
            .map(drop)
            .map_err(db_error)
    }

    fn depth(&mut self, queues: &[String]) -> Result<u64> {
        let queues = queue::checked_queues(queues)?;
        let sql = format!(
            "SELECT count(*) FROM runs WHERE status = 'queued' AND queue IN (SELECT value FROM json_each(?1)) AND run_at <= ({NOW_MS})"
        );
        let n: i64 = self.conn.query_row(&sql, [json_list(&queues)], |r| r.get(0)).map_err(db_error)?;
        Ok(n as u64)
    }

    fn now_ms(&mut self) -> Result<i64> {
        now(&self.conn)
    }
}
