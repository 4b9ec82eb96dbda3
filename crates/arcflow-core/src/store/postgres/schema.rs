//! The PostgreSQL schema, as migrations: version N of a schema is the first
//! N entries applied in order (the one row of `arcflow_schema` says which
//! ran). Never edit an entry that has shipped; add one.
//!
//! It mirrors the SQLite schema's tables and meaning (`store/schema.rs`),
//! from its latest version: times, sequence numbers, steps, items and
//! attempts are `BIGINT`; values are the engine's JSON text, kept as `TEXT`
//! (`jsonb` would reformat them). SQLite's `rowid` order (events, the
//! ledger) is an identity column here.
//!
//! 1. runs, task executions, variables, snapshots, accounts and the
//!    ledger, the journal of events.
//! 2. workflow versions and the version a run runs.
//! 3. queues (SQLite's 5): a run's queue, idempotency key, priority, due
//!    time, lease (owner, epoch, expiry) and cancel request; the per-queue
//!    limits; partial indexes of claimable and leased runs.
//! 4. credit leases (`credit_leases`, see `meter::lease`).
//! 5. sub-workflows, the result cache, idempotent starts (SQLite's 7).
//! 6. `runs.waiting_since` (SQLite's 8).
//! 7. `start_keys` (SQLite's 9).
//! 8. fewer index entries per claim and per end (every update of a queued
//!    run changes its status, so none is HOT and each writes every index of
//!    `runs`): the key index holds only keyed runs, and the runs of an owner
//!    are found through the leased runs' partial index (as many rows as
//!    runs are held), not an index of their own.
//! 9. the owner in the leased runs' index, after its queue and lease: a
//!    renewal (or a cancel check) of one owner reads the index's entries
//!    (as many as runs are held, all owners') and only its own runs' rows,
//!    not every leased run's row; claims keep their `(queue, lease_until)`
//!    order, and no index entry is added per claim.

use postgres::Client;

use super::url::Target;
use super::db_error;
use crate::error::Result;

/// The schema this build writes; each entry migrates from the version before it.
pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT,
  error TEXT,
  started_at BIGINT NOT NULL,
  ended_at BIGINT,
  account TEXT
);
CREATE INDEX runs_by_status ON runs (status, started_at);
CREATE INDEX runs_by_workflow ON runs (workflow, started_at);
CREATE TABLE executions (
  run_id TEXT NOT NULL,
  task TEXT NOT NULL,
  step BIGINT NOT NULL,
  item BIGINT NOT NULL,
  attempt BIGINT NOT NULL,
  status TEXT NOT NULL,
  payload TEXT,
  input TEXT,
  started_at BIGINT,
  ended_at BIGINT,
  jseq BIGINT NOT NULL,
  PRIMARY KEY (run_id, task, step, item, attempt)
);
CREATE TABLE vars (
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, name)
);
CREATE TABLE snapshots (
  run_id TEXT PRIMARY KEY,
  jseq BIGINT NOT NULL,
  state TEXT NOT NULL
);
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  balance BIGINT NOT NULL
);
CREATE TABLE ledger (
  key TEXT PRIMARY KEY,
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  account TEXT NOT NULL,
  amount BIGINT NOT NULL,
  kind TEXT NOT NULL,
  run_id TEXT,
  task TEXT,
  item BIGINT,
  attempt BIGINT,
  at BIGINT NOT NULL
);
CREATE INDEX ledger_by_account ON ledger (account, at, seq);
CREATE TABLE events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  task TEXT,
  item BIGINT,
  attempt BIGINT,
  message TEXT NOT NULL,
  data TEXT,
  at BIGINT NOT NULL
);
CREATE INDEX events_by_run ON events (run_id, seq);
"#, r#"
CREATE TABLE workflows (
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  definition TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (name, hash)
);
ALTER TABLE runs ADD COLUMN workflow_hash TEXT;
"#, r#"
ALTER TABLE runs ADD COLUMN queue TEXT, ADD COLUMN run_key TEXT, ADD COLUMN priority INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN run_at BIGINT, ADD COLUMN owner TEXT, ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN lease_until BIGINT, ADD COLUMN cancel TEXT;
CREATE UNIQUE INDEX runs_by_key ON runs (run_key);
CREATE INDEX runs_claimable ON runs (queue, priority DESC, run_at) WHERE status = 'queued';
CREATE INDEX runs_leased ON runs (queue, lease_until) WHERE status = 'running' AND owner IS NOT NULL;
CREATE INDEX runs_by_owner ON runs (owner) WHERE status = 'running' AND owner IS NOT NULL;
CREATE TABLE queues (
  name TEXT PRIMARY KEY,
  concurrency INTEGER
);
"#, r#"
CREATE TABLE credit_leases (
  account TEXT NOT NULL,
  owner TEXT NOT NULL,
  amount BIGINT NOT NULL,
  lease_until BIGINT NOT NULL,
  PRIMARY KEY (account, owner)
);
CREATE INDEX credit_leases_by_expiry ON credit_leases (lease_until);
"#, r#"
ALTER TABLE runs ADD COLUMN parent_id TEXT, ADD COLUMN parent_task TEXT, ADD COLUMN start_key TEXT;
CREATE INDEX runs_by_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX runs_by_start_key ON runs (start_key, started_at) WHERE start_key IS NOT NULL;
CREATE TABLE task_cache (
  workflow TEXT NOT NULL,
  task TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (workflow, task, key)
);
"#, r#"
ALTER TABLE runs ADD COLUMN waiting_since BIGINT;
"#, r#"
CREATE TABLE start_keys (
  key TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  claimed_at BIGINT NOT NULL
);
INSERT INTO start_keys (key, run_id, claimed_at)
  SELECT DISTINCT ON (start_key) start_key, id, started_at FROM runs WHERE start_key IS NOT NULL
  ORDER BY start_key, started_at DESC, id DESC;
"#, r#"
DROP INDEX runs_by_key;
CREATE UNIQUE INDEX runs_by_key ON runs (run_key) WHERE run_key IS NOT NULL;
DROP INDEX runs_by_owner;
"#, r#"
DROP INDEX runs_leased;
CREATE INDEX runs_leased ON runs (queue, lease_until, owner) WHERE status = 'running' AND owner IS NOT NULL;
"#];

/// The advisory lock's first key ("arcf"); the second is the schema's hash.
const LOCK_CLASS: i32 = 0x6172_6366;

/// Creates `schema` if missing and brings it to the latest version, in one
/// transaction under an advisory lock: processes opening the same schema
/// at once take turns, and each re-reads the version once it holds the lock.
pub(super) fn migrate(client: &mut Client, target: &Target) -> Result<()> {
    let pg = |e| db_error(target, e);
    let schema = target.schema.as_deref();
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1, hashtext(COALESCE($2::text, current_schema()::text, '')))", &[&LOCK_CLASS, &schema])
        .map_err(pg)?;
    if let Some(name) = schema {
        // a plain name (checked when the URL was read), quoted to keep its case
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{name}\"; SET LOCAL search_path TO \"{name}\""))
            .map_err(pg)?;
    }
    tx.batch_execute("CREATE TABLE IF NOT EXISTS arcflow_schema (version INTEGER NOT NULL)").map_err(pg)?;
    // read again under the lock: another process may have migrated meanwhile
    let version = match tx.query_opt("SELECT version FROM arcflow_schema", &[]).map_err(pg)? {
        Some(row) => row.get::<_, i32>(0) as usize,
        None => {
            tx.execute("INSERT INTO arcflow_schema (version) VALUES (0)", &[]).map_err(pg)?;
            0
        }
    };
    crate::store::check_schema_version(version, MIGRATIONS.len())?;
    if version == MIGRATIONS.len() {
        return tx.commit().map_err(pg);
    }
    for sql in &MIGRATIONS[version..] {
        tx.batch_execute(sql).map_err(pg)?;
    }
    tx.execute("UPDATE arcflow_schema SET version = $1", &[&(MIGRATIONS.len() as i32)]).map_err(pg)?;
    tx.commit().map_err(pg)
}
