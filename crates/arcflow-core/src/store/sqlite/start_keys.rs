//! SQLite's claims of idempotent start keys (see `store/start_keys.rs`):
//! an `IMMEDIATE` transaction, so that claims take turns across connections
//! and processes, waiting up to `CLAIM_LOCK_WAIT_MS` for the write lock.
//!
//! The claim commits with `synchronous = NORMAL` (no fsync of its own: it
//! runs on the JavaScript thread, and an fsync there costs ~0.3 ms per keyed
//! start). It is as durable as its run all the same: the run's own rows
//! come after it in the one WAL file, and the writer's commit of them
//! (`FULL`) syncs every frame before them, the claim's included; a crash
//! before that (of the process or the machine: the database is in the
//! process) loses the claim and the run's start together.

use std::time::Duration;

use rusqlite::{params, OptionalExtension};

use super::rows::{run_record, RUN_COLUMNS};
use super::{db_error, SqliteStore};
use crate::error::Result;
use crate::store::start_keys::{StartKeyClaim, StartKeyRequest, CLAIM_LOCK_WAIT_MS};

/// Inserts the claim, or replaces a row that no longer answers; `RETURNING`
/// says whether the row is the claimer's now.
const CLAIM: &str = "
INSERT INTO start_keys (key, run_id, claimed_at) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, claimed_at = excluded.claimed_at
WHERE start_keys.claimed_at < ?4
   OR start_keys.run_id = ?6
   OR EXISTS (SELECT 1 FROM runs WHERE runs.id = start_keys.run_id AND runs.status IN ('failed', 'cancelled', 'timed_out'))
   OR (start_keys.claimed_at < ?5 AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = start_keys.run_id))
RETURNING run_id";

impl SqliteStore {
    pub(super) fn claim_key(&mut self, r: &StartKeyRequest<'_>) -> Result<StartKeyClaim> {
        self.conn.busy_timeout(Duration::from_millis(CLAIM_LOCK_WAIT_MS)).map_err(db_error)?;
        let claim = self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(db_error).and_then(|()| self.claim_key_now(r));
        // both settings come back whatever the claim did: the reader's other
        // writes (credits) commit with FULL, its reads wait `lock_wait`
        let restored = self.restore_settings();
        match (claim, restored) {
            (Err(e), _) => Err(e),
            (Ok(claim), Ok(())) => Ok(claim),
            (Ok(claim), Err(e)) => {
                // the start reports this failure, so it must not keep the key
                if claim == StartKeyClaim::Claimed {
                    let _ = self.conn.execute("DELETE FROM start_keys WHERE key = ?1 AND run_id = ?2", params![r.key, r.run_id]);
                }
                Err(e)
            }
        }
    }

    fn restore_settings(&mut self) -> Result<()> {
        let sync = self.conn.pragma_update(None, "synchronous", "FULL").map_err(db_error);
        let wait = self.conn.busy_timeout(self.lock_wait).map_err(db_error);
        sync.and(wait)
    }

    fn claim_key_now(&mut self, r: &StartKeyRequest<'_>) -> Result<StartKeyClaim> {
        let tx = self.immediate()?;
        // the database is this machine's file: its clock is this machine's
        let now = r.now_ms.unwrap_or_else(crate::time::now_ms);
        let params = params![r.key, r.run_id, now, r.retained_since(now), StartKeyRequest::orphaned_before(now), r.superseded];
        let mine: Option<String> = tx.prepare_cached(CLAIM).and_then(|mut s| s.query_row(params, |row| row.get(0)).optional()).map_err(db_error)?;
        let claim = if mine.is_some() {
            StartKeyClaim::Claimed
        } else {
            let run_id: String = tx.query_row("SELECT run_id FROM start_keys WHERE key = ?1", [r.key], |row| row.get(0)).map_err(db_error)?;
            let run = tx
                .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
                .and_then(|mut s| s.query_row([&run_id], run_record).optional())
                .map_err(db_error)?
                .map(Box::new);
            StartKeyClaim::Taken { run_id, run }
        };
        tx.commit().map_err(db_error)?;
        Ok(claim)
    }

    pub(super) fn release_key(&mut self, key: &str, run_id: &str) -> Result<()> {
        self.conn.busy_timeout(Duration::from_millis(CLAIM_LOCK_WAIT_MS)).map_err(db_error)?;
        let done = self.conn.execute("DELETE FROM start_keys WHERE key = ?1 AND run_id = ?2", params![key, run_id]).map(drop).map_err(db_error);
        let restored = self.conn.busy_timeout(self.lock_wait).map_err(db_error);
        done.and(restored)
    }
}
