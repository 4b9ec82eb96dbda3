//! PostgreSQL's writes and reads of run links, start keys and the result
//! cache (see `store/links.rs`): one statement per write, as they are rare
//! (a child's start, a keyed start, a cached task's success).

use postgres::types::ToSql;
use postgres::{Client, Error};

use super::Statements;
use crate::store::record::{RunRecord, Write};

const LINKS: &str = "UPDATE runs SET parent_id = $2, parent_task = $3, start_key = $4 WHERE id = $1";
/// The expiry by the database's clock, `$5` ms from now.
const PUT: &str = "
INSERT INTO task_cache (workflow, task, key, value, expires_at)
VALUES ($1, $2, $3, $4, (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $5)
ON CONFLICT (workflow, task, key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at";
const CLEAR: &str = "DELETE FROM task_cache WHERE ($1::text IS NULL OR workflow = $1) AND ($2::text IS NULL OR task = $2)";
const WAITING: &str = "UPDATE runs SET waiting_since = $2 WHERE id = $1 AND status = 'running'";
/// What the entry has left, by the database's clock.
const GET: &str = "
SELECT value, expires_at - now.ms FROM task_cache, (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms) AS now
WHERE workflow = $1 AND task = $2 AND key = $3 AND expires_at > now.ms";
const BY_KEY: &str = "
SELECT id, workflow, status, input, output, error, started_at, ended_at, account, workflow_hash, parent_id, parent_task, waiting_since
FROM runs WHERE start_key = $1 ORDER BY started_at DESC, id DESC LIMIT 1";

/// Applies one of the writes this module owns through the batch's `exec`.
pub(super) fn apply(exec: &mut impl FnMut(&'static str, &[&(dyn ToSql + Sync)]) -> Result<(), Error>, write: &Write) -> Result<(), Error> {
    match write {
        Write::RunLinks { id, parent_id, parent_task, start_key } => exec(LINKS, &[id, parent_id, parent_task, start_key]),
        Write::CachePut { workflow, task, key, value, ttl_ms } => exec(PUT, &[workflow, task, key, value, ttl_ms]),
        Write::CacheClear { workflow, task } => exec(CLEAR, &[workflow, task]),
        Write::RunWaiting { id, since } => exec(WAITING, &[id, since]),
        _ => Ok(()),
    }
}

pub(super) fn cache_get(c: &mut Client, s: &mut Statements, workflow: &str, task: &str, key: &str) -> Result<Option<(String, i64)>, Error> {
    let statement = s.get(c, GET)?;
    Ok(c.query_opt(&statement, &[&workflow, &task, &key])?.map(|row| (row.get(0), row.get(1))))
}

pub(super) fn run_by_start_key(c: &mut Client, s: &mut Statements, key: &str) -> Result<Option<RunRecord>, Error> {
    let statement = s.get(c, BY_KEY)?;
    Ok(c.query_opt(&statement, &[&key])?.as_ref().map(super::read::run_record))
}
