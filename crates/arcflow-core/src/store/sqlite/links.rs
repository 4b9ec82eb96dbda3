//! SQLite's writes and reads of run links, start keys and the result cache
//! (see `store/links.rs`).

use rusqlite::{params, CachedStatement, Connection, OptionalExtension, Transaction};

use super::db_error;
use crate::error::Result;
use crate::store::record::Write;

/// The prepared statements of one batch.
pub(super) struct Statements<'t> {
    links: CachedStatement<'t>,
    put: CachedStatement<'t>,
    clear: CachedStatement<'t>,
    waiting: CachedStatement<'t>,
}

impl<'t> Statements<'t> {
    pub(super) fn prepare(tx: &'t Transaction<'_>) -> Result<Self> {
        let prepare = |sql| tx.prepare_cached(sql).map_err(db_error);
        Ok(Statements {
            links: prepare("UPDATE runs SET parent_id = ?2, parent_task = ?3, start_key = ?4 WHERE id = ?1")?,
            put: prepare(
                "INSERT INTO task_cache (workflow, task, key, value, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (workflow, task, key) DO UPDATE SET value = ?4, expires_at = ?5",
            )?,
            clear: prepare("DELETE FROM task_cache WHERE (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR task = ?2)")?,
            waiting: prepare("UPDATE runs SET waiting_since = ?2 WHERE id = ?1 AND status = 'running'")?,
        })
    }

    /// Applies one of the writes this module owns (any other: nothing).
    pub(super) fn apply(&mut self, write: &Write) -> rusqlite::Result<usize> {
        match write {
            Write::RunLinks { id, parent_id, parent_task, start_key } => self.links.execute(params![id, parent_id, parent_task, start_key]),
            // the database is this machine's file: its clock is this machine's
            Write::CachePut { workflow, task, key, value, ttl_ms } => {
                self.put.execute(params![workflow, task, key, value, crate::time::now_ms().saturating_add(*ttl_ms)])
            }
            Write::CacheClear { workflow, task } => self.clear.execute(params![workflow, task]),
            Write::RunWaiting { id, since } => self.waiting.execute(params![id, since]),
            _ => Ok(0),
        }
    }
}

pub(super) fn cache_get(conn: &Connection, workflow: &str, task: &str, key: &str) -> Result<Option<(String, i64)>> {
    let now = crate::time::now_ms();
    conn.prepare_cached("SELECT value, expires_at - ?4 FROM task_cache WHERE workflow = ?1 AND task = ?2 AND key = ?3 AND expires_at > ?4")
        .and_then(|mut s| s.query_row(params![workflow, task, key, now], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(db_error)
}
