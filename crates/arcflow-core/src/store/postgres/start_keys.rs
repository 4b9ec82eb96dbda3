//! PostgreSQL's claims of idempotent start keys (see `store/start_keys.rs`):
//! one statement, its own transaction, so one round trip on the JS thread.
//!
//! - The insert always takes the key's row: on a conflict it locks the row
//!   (a concurrent claim of the same key waits for its commit and then sees
//!   the committed row, READ COMMITTED's `ON CONFLICT`) and either replaces
//!   it or keeps it as it is, and `RETURNING` names the run the row names
//!   now. There is no second read of the holder that a release between two
//!   statements could leave empty.
//! - Times are the database's clock, unless the request names one (tests).
//! - The lock wait is bounded by `set_config('lock_timeout', .., true)` in
//!   the insert's source row, which is computed before the insert looks
//!   for a conflict (so before any wait); `true`: it ends with the
//!   statement's transaction, leaving the session's setting alone.
//! - It commits synchronously (unlike SQLite's, which skips its fsync): the
//!   database can crash on its own, while the run goes on in its process and
//!   its rows land later, so a claim lost with the crash would let another
//!   process start a second run under the key.
//! - Accepted limit: the holder's status (its record, and whether a failed
//!   one gives way) is read in the statement's snapshot, taken before any
//!   wait for the row's lock. A holder that ended while this claim waited
//!   behind a concurrent claim of the same key reads as still running: the
//!   caller gets the right run id with a stale status, or (a holder that
//!   failed in that window) its run rather than a new start; the next claim
//!   sees the end.

use postgres::Client;

use super::Statements;
use crate::store::start_keys::{StartKeyClaim, StartKeyRequest, CLAIM_LOCK_WAIT_MS, ORPHAN_CLAIM_MS};

type Pg<T> = std::result::Result<T, postgres::Error>;

/// `$1` key, `$2` run, `$3` the time (null: the database's clock), `$4` the
/// retention, `$5` the run the claimer knows did not succeed, `$6` the
/// orphan age, `$7` the lock wait. The row gives way as SQLite's does
/// (`sqlite/start_keys.rs`); the holder's record comes with it, as the
/// statement's snapshot has it (null: not in the store yet, as for a run
/// not flushed yet). Columns: [`super::read::run_record`]'s, then the holder.
const CLAIM: &str = "
WITH k AS (
  INSERT INTO start_keys AS k (key, run_id, claimed_at)
  SELECT $1, $2, COALESCE($3::bigint, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
  FROM (SELECT set_config('lock_timeout', $7::text, true)) AS wait
  ON CONFLICT (key) DO UPDATE SET (run_id, claimed_at) = (
    SELECT CASE WHEN gives_way THEN EXCLUDED.run_id ELSE k.run_id END,
           CASE WHEN gives_way THEN EXCLUDED.claimed_at ELSE k.claimed_at END
    FROM (SELECT k.claimed_at < EXCLUDED.claimed_at - $4::bigint
       OR k.run_id = $5::text
       OR EXISTS (SELECT 1 FROM runs WHERE runs.id = k.run_id AND runs.status IN ('failed', 'cancelled', 'timed_out'))
       OR (k.claimed_at < EXCLUDED.claimed_at - $6::bigint AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = k.run_id))
       AS gives_way) AS w)
  RETURNING k.run_id
)
SELECT r.id, r.workflow, r.status, r.input, r.output, r.error, r.started_at, r.ended_at, r.account,
  r.workflow_hash, r.parent_id, r.parent_task, r.waiting_since, k.run_id
FROM k LEFT JOIN runs r ON r.id = k.run_id AND k.run_id <> $2";

/// How many times a claim that answered no row is made again. The insert
/// always answers its row, so this is a defence, not a path.
const ATTEMPTS: usize = 3;

/// The claim; `None` if no attempt answered a row (the caller fails it).
pub(super) fn claim(c: &mut Client, s: &mut Statements, r: &StartKeyRequest<'_>) -> Pg<Option<StartKeyClaim>> {
    let statement = s.get(c, CLAIM)?;
    let wait = format!("{CLAIM_LOCK_WAIT_MS}ms");
    for _ in 0..ATTEMPTS {
        let Some(row) = c.query_opt(&statement, &[&r.key, &r.run_id, &r.now_ms, &r.retention_ms, &r.superseded, &ORPHAN_CLAIM_MS, &wait])? else {
            continue;
        };
        let holder: String = row.get(13);
        if holder == r.run_id {
            return Ok(Some(StartKeyClaim::Claimed));
        }
        let run = row.get::<_, Option<&str>>(0).is_some().then(|| Box::new(super::read::run_record(&row)));
        return Ok(Some(StartKeyClaim::Taken { run_id: holder, run }));
    }
    Ok(None)
}

pub(super) fn release(c: &mut Client, s: &mut Statements, key: &str, run_id: &str) -> Pg<()> {
    let statement = s.get(c, "DELETE FROM start_keys WHERE key = $1 AND run_id = $2")?;
    c.execute(&statement, &[&key, &run_id]).map(drop)
}
