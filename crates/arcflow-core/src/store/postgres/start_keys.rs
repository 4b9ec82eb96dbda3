//! PostgreSQL's claims of idempotent start keys (see `store/start_keys.rs`):
//! one transaction; a concurrent claim of the same key waits on the row's
//! lock (`ON CONFLICT` sees the committed row), at most `CLAIM_LOCK_WAIT_MS`.
//! It commits synchronously (unlike SQLite's, which skips its fsync): the
//! database can crash on its own, while the run goes on in its process and
//! its rows land later, so a claim lost with the crash would let another
//! process start a second run under the key.

use postgres::Client;

use super::Statements;
use crate::store::start_keys::{StartKeyClaim, StartKeyRequest, CLAIM_LOCK_WAIT_MS};

type Pg<T> = std::result::Result<T, postgres::Error>;

/// As SQLite's (`sqlite/start_keys.rs`): the claim, or a row that no longer answers replaced.
const CLAIM: &str = "
INSERT INTO start_keys (key, run_id, claimed_at) VALUES ($1, $2, $3)
ON CONFLICT (key) DO UPDATE SET run_id = EXCLUDED.run_id, claimed_at = EXCLUDED.claimed_at
WHERE start_keys.claimed_at < $4
   OR start_keys.run_id = $6::text
   OR EXISTS (SELECT 1 FROM runs WHERE runs.id = start_keys.run_id AND runs.status IN ('failed', 'cancelled', 'timed_out'))
   OR (start_keys.claimed_at < $5 AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = start_keys.run_id))
RETURNING run_id";
const HOLDER: &str = "SELECT run_id FROM start_keys WHERE key = $1";
const RUN: &str = "SELECT id, workflow, status, input, output, error, started_at, ended_at, account, workflow_hash, parent_id, parent_task, waiting_since FROM runs WHERE id = $1";

pub(super) fn claim(c: &mut Client, s: &mut Statements, r: &StartKeyRequest<'_>) -> Pg<StartKeyClaim> {
    let mut tx = c.transaction()?;
    tx.batch_execute(&format!("SET LOCAL lock_timeout = '{CLAIM_LOCK_WAIT_MS}ms'"))?;
    let statement = s.get(&mut tx, CLAIM)?;
    let mine = tx.query_opt(&statement, &[&r.key, &r.run_id, &r.now_ms, &r.retained_since(), &r.orphaned_before(), &r.superseded])?;
    let claim = if mine.is_some() {
        StartKeyClaim::Claimed
    } else {
        let statement = s.get(&mut tx, HOLDER)?;
        let run_id: String = tx.query_one(&statement, &[&r.key])?.get(0);
        let statement = s.get(&mut tx, RUN)?;
        let run = tx.query_opt(&statement, &[&run_id])?.as_ref().map(|row| Box::new(super::read::run_record(row)));
        StartKeyClaim::Taken { run_id, run }
    };
    tx.commit()?;
    Ok(claim)
}

pub(super) fn release(c: &mut Client, s: &mut Statements, key: &str, run_id: &str) -> Pg<()> {
    let statement = s.get(c, "DELETE FROM start_keys WHERE key = $1 AND run_id = $2")?;
    c.execute(&statement, &[&key, &run_id]).map(drop)
}
