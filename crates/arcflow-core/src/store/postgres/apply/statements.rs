//! The statements of a phase of a batch (`apply.rs`), one per kind of
//! write, each taking one array per column (`unnest`).

/// A run started, or resumed: its input and start time are kept; a resume
/// that names the version it runs replaces the recorded one.
pub(super) const RUNS_STARTED: &str = "
INSERT INTO runs (id, workflow, status, input, started_at, account, workflow_hash)
SELECT id, workflow, 'running', input, started_at, account, workflow_hash
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])
  AS t(id, workflow, input, started_at, account, workflow_hash)
ON CONFLICT (id) DO UPDATE SET status = 'running', ended_at = NULL, waiting_since = NULL,
  workflow_hash = COALESCE(EXCLUDED.workflow_hash, runs.workflow_hash)";

/// A workflow version, kept once per (name, hash).
pub(super) const WORKFLOWS: &str = "
INSERT INTO workflows (name, hash, definition, created_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (name, hash) DO NOTHING";

/// A later write of an execution updates it; its start and input stay the first known.
pub(super) const EXECUTIONS: &str = "
INSERT INTO executions (run_id, task, step, item, attempt, status, payload, input, started_at, ended_at, jseq)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[],
                     $8::text[], $9::bigint[], $10::bigint[], $11::bigint[])
ON CONFLICT (run_id, task, step, item, attempt) DO UPDATE SET
  status = EXCLUDED.status, payload = EXCLUDED.payload, ended_at = EXCLUDED.ended_at, jseq = EXCLUDED.jseq,
  started_at = COALESCE(executions.started_at, EXCLUDED.started_at), input = COALESCE(executions.input, EXCLUDED.input)";

/// Executions first written in this batch (see `Store::apply_fresh`): a
/// plain insert; one there already fails the batch, applied again with [`EXECUTIONS`].
pub(super) const EXECUTIONS_NEW: &str = "
INSERT INTO executions (run_id, task, step, item, attempt, status, payload, input, started_at, ended_at, jseq)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[],
                     $8::text[], $9::bigint[], $10::bigint[], $11::bigint[])";

pub(super) const VARS: &str = "
INSERT INTO vars (run_id, name, value) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT (run_id, name) DO UPDATE SET value = EXCLUDED.value";

pub(super) const SNAPSHOTS: &str = "
INSERT INTO snapshots (run_id, jseq, state) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
ON CONFLICT (run_id) DO UPDATE SET jseq = EXCLUDED.jseq, state = EXCLUDED.state";

/// Entries once per key; each new entry moves its owner's lease (a leasing
/// meter's charge, `$10`) or else its account's balance, in the same
/// statement (a retried batch or a second delivery changes nothing; a
/// charge whose lease is gone, expired and returned, draws from the balance).
pub(super) const LEDGER: &str = "
WITH entered AS (
  INSERT INTO ledger (key, account, amount, kind, run_id, task, item, attempt, at)
  SELECT key, account, amount, kind, run_id, task, item, attempt, at
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[])
    WITH ORDINALITY AS t(key, account, amount, kind, run_id, task, item, attempt, at, n)
  ORDER BY n
  ON CONFLICT (key) DO NOTHING
  RETURNING key, account, amount
), owned AS (
  SELECT e.account, o.owner, e.amount FROM entered e JOIN unnest($1::text[], $10::text[]) AS o(key, owner) ON o.key = e.key
), leased AS (
  UPDATE credit_leases l SET amount = l.amount + s.amount
  FROM (SELECT account, owner, sum(amount)::bigint AS amount FROM owned WHERE owner IS NOT NULL GROUP BY account, owner) s
  WHERE l.account = s.account AND l.owner = s.owner
  RETURNING l.account, l.owner
)
INSERT INTO accounts (id, balance)
SELECT account, sum(amount)::bigint FROM owned o
WHERE NOT EXISTS (SELECT 1 FROM leased l WHERE l.account = o.account AND l.owner = o.owner)
GROUP BY account
ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + EXCLUDED.balance";

pub(super) const EVENTS: &str = "
INSERT INTO events (run_id, kind, task, item, attempt, message, data, at)
SELECT run_id, kind, task, item, attempt, message, data, at
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[])
  WITH ORDINALITY AS t(run_id, kind, task, item, attempt, message, data, at, n)
ORDER BY n";

/// A run that did not succeed: its executions still `running` end `cancelled` with it.
pub(super) const ABANDONED: &str = "
UPDATE executions AS e SET status = 'cancelled', ended_at = t.ended_at
FROM unnest($1::text[], $2::bigint[]) AS t(id, ended_at)
WHERE e.run_id = t.id AND e.status = 'running'";

pub(super) const RUNS_ENDED: &str = "
UPDATE runs AS r SET status = t.status, output = t.output, error = t.error, ended_at = t.ended_at,
  owner = NULL, lease_until = NULL
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS t(id, status, output, error, ended_at)
WHERE r.id = t.id";
