//! The SQLite schema, as migrations: version N of a database is the first N
//! entries applied in order (`PRAGMA user_version` says which ran). Never
//! edit an entry that has shipped; add one.
//!
//! 1. runs, task executions, variables.
//! 2. executions keyed by attempt and item (with input, times and journal
//!    position), snapshots.
//! 3. accounts and the ledger (metering), the run's account, the journal of
//!    events.
//! 4. workflow versions (each definition once, by name and content hash) and
//!    the version a run runs (`runs.workflow_hash`), so that a resume after
//!    the definition changed runs the run's own version.
//! 5. queues (issue 13, `docs/workers.md`): a run's queue, idempotency key,
//!    priority, due time, lease (owner, epoch, expiry) and cancel request;
//!    the per-queue limits; partial indexes of claimable and leased runs.
//! 6. credit leases (`credit_leases`): blocks of an account's credit a
//!    process holds (see `meter::lease`).
//! 7. sub-workflows, the result cache, idempotent starts (issue 14,
//!    `store/links.rs`): a run's parent run and task and its start key;
//!    `task_cache`, results by (workflow, task, key) with their expiry.
//! 8. `runs.waiting_since`: a running run with everything in flight parked
//!    (a wait, a sleep) reads as `waiting` (issue 14).
//! 9. `start_keys`: an idempotent start's key claimed by one run, atomically
//!    across processes (`store/start_keys.rs`); the keys of runs already
//!    started carried over (each key's newest run).

/// The schema this build writes; each entry migrates from the version before it.
pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT,
  error TEXT,
  started_at INTEGER NOT NULL,
  ended_at INTEGER
);
CREATE INDEX runs_by_status ON runs (status, started_at);
CREATE INDEX runs_by_workflow ON runs (workflow, started_at);
CREATE TABLE task_executions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  task TEXT NOT NULL,
  step INTEGER NOT NULL,
  item INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  payload TEXT NOT NULL,
  at INTEGER NOT NULL,
  UNIQUE (run_id, step, task, item, attempt)
);
CREATE INDEX task_executions_by_run ON task_executions (run_id, seq);
CREATE TABLE vars (
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, name)
);
"#, r#"
CREATE TABLE executions (
  run_id TEXT NOT NULL,
  task TEXT NOT NULL,
  step INTEGER NOT NULL,
  item INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  payload TEXT,
  input TEXT,
  started_at INTEGER,
  ended_at INTEGER,
  jseq INTEGER NOT NULL,
  PRIMARY KEY (run_id, task, step, item, attempt)
) WITHOUT ROWID;
INSERT INTO executions SELECT run_id, task, step, item, attempt, status, payload, NULL, NULL, at, seq FROM task_executions;
DROP TABLE task_executions;
CREATE TABLE snapshots (
  run_id TEXT PRIMARY KEY,
  jseq INTEGER NOT NULL,
  state TEXT NOT NULL
);
"#, r#"
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  balance INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE ledger (
  key TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  amount INTEGER NOT NULL,
  kind TEXT NOT NULL,
  run_id TEXT,
  task TEXT,
  item INTEGER,
  attempt INTEGER,
  at INTEGER NOT NULL
);
CREATE INDEX ledger_by_account ON ledger (account, at);
ALTER TABLE runs ADD COLUMN account TEXT;
CREATE TABLE events (
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  task TEXT,
  item INTEGER,
  attempt INTEGER,
  message TEXT NOT NULL,
  data TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX events_by_run ON events (run_id);
"#, r#"
CREATE TABLE workflows (
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  definition TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (name, hash)
) WITHOUT ROWID;
ALTER TABLE runs ADD COLUMN workflow_hash TEXT;
"#, r#"
ALTER TABLE runs ADD COLUMN queue TEXT;
ALTER TABLE runs ADD COLUMN run_key TEXT;
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN run_at INTEGER;
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_until INTEGER;
ALTER TABLE runs ADD COLUMN cancel TEXT;
CREATE UNIQUE INDEX runs_by_key ON runs (run_key);
CREATE INDEX runs_claimable ON runs (queue, priority DESC, run_at) WHERE status = 'queued';
CREATE INDEX runs_leased ON runs (queue, lease_until) WHERE status = 'running' AND owner IS NOT NULL;
CREATE INDEX runs_by_owner ON runs (owner) WHERE status = 'running' AND owner IS NOT NULL;
CREATE TABLE queues (
  name TEXT PRIMARY KEY,
  concurrency INTEGER
) WITHOUT ROWID;
"#, r#"
CREATE TABLE credit_leases (
  account TEXT NOT NULL,
  owner TEXT NOT NULL,
  amount INTEGER NOT NULL,
  lease_until INTEGER NOT NULL,
  PRIMARY KEY (account, owner)
) WITHOUT ROWID;
CREATE INDEX credit_leases_by_expiry ON credit_leases (lease_until);
"#, r#"
ALTER TABLE runs ADD COLUMN parent_id TEXT;
ALTER TABLE runs ADD COLUMN parent_task TEXT;
ALTER TABLE runs ADD COLUMN start_key TEXT;
CREATE INDEX runs_by_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX runs_by_start_key ON runs (start_key, started_at) WHERE start_key IS NOT NULL;
CREATE TABLE task_cache (
  workflow TEXT NOT NULL,
  task TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (workflow, task, key)
) WITHOUT ROWID;
"#, r#"
ALTER TABLE runs ADD COLUMN waiting_since INTEGER;
"#, r#"
CREATE TABLE start_keys (
  key TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  claimed_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO start_keys (key, run_id, claimed_at)
  SELECT start_key, id, started_at FROM runs WHERE start_key IS NOT NULL ORDER BY started_at, rowid
  ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, claimed_at = excluded.claimed_at;
"#];
