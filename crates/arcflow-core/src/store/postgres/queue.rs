//! The queue on PostgreSQL. Claims take rows with `FOR UPDATE SKIP LOCKED`
//! (concurrent claimers pass each other's rows by), each queue's candidates
//! through the partial indexes of claimable and leased runs. A limited
//! queue's row is locked first, in its own statement: under READ COMMITTED
//! the claim that follows then counts the runs other claimers committed
//! while it waited (a count in the same statement would see the snapshot
//! from before the wait). Wake-ups are `pg_notify` in the transaction that
//! made the change. Every time is the database's clock.

use postgres::GenericClient;

use super::{PostgresStore, Statements};
use crate::error::{Error, Result};
use crate::queue::{self, CancelAsked, ClaimRequest, Claimed, Enqueued, NewRun, Queue};

/// Milliseconds since the epoch, by the database's clock.
const NOW: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Rows go in key order: concurrent batches sharing keys then wait on each
/// other's keys in one order, never in a cycle (a deadlock). One statement,
/// its own transaction: the runs and the wake-up of the created ones' queues
/// (`{"q":[queues],"s":schema}`, sent at its commit) in one round trip.
/// `note` may be evaluated more than once: a transaction's identical notices are one.
const ENQUEUE: &str = "
WITH ins AS (
  INSERT INTO runs (id, workflow, status, input, started_at, account, queue, run_key, priority, run_at)
  SELECT id, workflow, 'queued', input, at, account, queue, run_key, priority,
    COALESCE(run_at, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[])
    WITH ORDINALITY AS t(id, workflow, input, at, account, queue, run_key, priority, run_at, n)
  ORDER BY run_key, n
  ON CONFLICT (run_key) WHERE run_key IS NOT NULL DO NOTHING
  RETURNING id, queue
), note AS (
  SELECT pg_notify('arcflow', json_build_object('q', array_agg(DISTINCT queue ORDER BY queue), 's', current_schema()::text)::text)
  FROM ins HAVING count(*) > 0
)
SELECT ins.id FROM ins CROSS JOIN (SELECT count(*) FROM note) AS noted";

const BY_KEYS: &str = "SELECT run_key, id, status FROM runs WHERE run_key = ANY($1)";

/// The payload says whose schema changed: listeners of other schemas on
/// the same database ignore it.
const NOTIFY: &str = "SELECT pg_notify('arcflow', jsonb_set($1::text::jsonb, '{s}', to_jsonb(current_schema()::text))::text)";

/// The limited queues among the claim's, locked in a fixed order (no
/// deadlock between claimers of several); `{queues}` is a literal array.
const LOCK_LIMITS: &str = "SELECT name FROM queues WHERE name = ANY({queues}) AND concurrency IS NOT NULL ORDER BY name FOR UPDATE";

/// The name [`CLAIM`] is prepared under on each connection (see `claim_query`).
const CLAIM_NAME: &str = "arcflow_claim";

/// `$1` queues, `$2` the batch's limit, `$3` the worker, `$4` the lease in
/// ms. A limited queue's concurrency is read here, its row locked by the
/// statement before ([`LOCK_LIMITS`]), so this statement's snapshot, taken
/// after that lock was granted, counts the runs other claimers committed
/// while it waited. Each queue's
/// room (the limit, or what its concurrency leaves: only a limited queue
/// counts its running runs) bounds its candidates, so a full queue never
/// crowds out another's.
const CLAIM: &str = "
WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms),
room AS (
  SELECT w.name, CASE WHEN l.concurrency IS NULL THEN $2::bigint ELSE GREATEST(0, LEAST($2::bigint, l.concurrency - (
    SELECT count(*) FROM runs r WHERE r.queue = w.name AND r.status = 'running' AND r.owner IS NOT NULL
      AND r.lease_until >= (SELECT ms FROM now)))) END AS free
  FROM unnest($1::text[]) AS w(name) LEFT JOIN queues l ON l.name = w.name),
candidates AS (
  SELECT c.* FROM room w, LATERAL (
    SELECT r.id, r.queue, r.priority, r.run_at FROM runs r
    WHERE r.status = 'queued' AND r.queue = w.name AND r.run_at <= (SELECT ms FROM now)
    ORDER BY r.priority DESC, r.run_at LIMIT w.free FOR UPDATE SKIP LOCKED) c
  UNION ALL
  SELECT c.* FROM room w, LATERAL (
    SELECT r.id, r.queue, r.priority, r.run_at FROM runs r
    WHERE r.status = 'running' AND r.owner IS NOT NULL AND r.queue = w.name AND r.lease_until < (SELECT ms FROM now)
    ORDER BY r.lease_until LIMIT w.free FOR UPDATE SKIP LOCKED) c),
ranked AS (
  SELECT c.*, row_number() OVER (PARTITION BY c.queue ORDER BY c.priority DESC, c.run_at) AS n FROM candidates c),
picked AS (
  SELECT k.id FROM ranked k JOIN room w ON w.name = k.queue WHERE k.n <= w.free
  ORDER BY k.priority DESC, k.run_at LIMIT $2)
UPDATE runs r SET status = 'running', owner = $3, epoch = r.epoch + 1, lease_until = (SELECT ms FROM now) + $4
FROM picked WHERE r.id = picked.id
RETURNING r.id, r.workflow, r.workflow_hash, r.input, r.account, r.epoch, r.priority, r.run_at";

/// The whole claim as one simple query, one round trip: its transaction,
/// the limited queues' lock, the claim ([`CLAIM`], prepared once per
/// connection and run by `EXECUTE`: planned as a prepared statement is, not
/// parsed again) and the commit. Its plan is the generic one, made once: by
/// default PostgreSQL planned it anew at every call (the generic plan's
/// estimate, its limit unknown, looked dearer): an idle worker's claim of
/// one run went from 0.95 to 0.65 ms (median, fsync off); the plan is the same, the queues and
/// limit being read at run time from the partial indexes either way
/// (`queue_postgres_plans.rs` counts what it reads). Each statement of a simple query takes its
/// own snapshot (READ COMMITTED), so the claim sees what committed while the
/// lock waited; an error stops the string there, the transaction left to
/// roll back. The claim commits synchronously: a claim a database crash
/// could lose would come back at the same owner and epoch, which the fence
/// could not tell from the first, and would let another worker start the
/// run while the first attempt still runs. Its values go as literals.
fn claim_query(queues: &[&str], limit: u32, worker: &str, lease_ms: i64) -> String {
    let names: Vec<String> = queues.iter().map(|q| literal(q)).collect();
    let queues = format!("ARRAY[{}]::text[]", names.join(", "));
    format!(
        "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; {}; EXECUTE {CLAIM_NAME}({queues}, {limit}, {}, {lease_ms}); COMMIT",
        LOCK_LIMITS.replace("{queues}", &queues),
        literal(worker)
    )
}

/// `text` as a string literal: `E''` with backslashes and quotes escaped
/// holds any text, whatever `standard_conforming_strings` says.
fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A claimed row of the simple query's answer (text columns, as [`CLAIM`]
/// returns them): the run, its priority and due time (the claim's order).
fn claimed_row(row: &postgres::SimpleQueryRow) -> Option<(i32, i64, Claimed)> {
    let text = |i: usize| row.get(i).map(str::to_owned);
    let number = |i: usize| row.get(i).and_then(|v| v.parse::<i64>().ok());
    let run = Claimed::new(text(0)?, text(1)?, text(2), text(3)?, text(4), number(5)? as u64);
    Some((number(6)? as i32, number(7).unwrap_or(0), run))
}

/// A failed claim's transaction is rolled back (the connection stays usable); answers `e`.
fn rolled_back(client: &mut postgres::Client, e: postgres::Error) -> postgres::Error {
    let _ = client.batch_execute("ROLLBACK");
    e
}

/// An owner's runs are found through the leased runs' partial index (its
/// predicate, word for word; the owner an index condition since v9): as
/// many entries as runs are held, and the rows of this owner's only.
const RENEW: &str = "
UPDATE runs SET lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $2
WHERE owner = $1 AND status = 'running' AND owner IS NOT NULL RETURNING id, epoch";

/// Its place in the queue (priority, due time) is kept: it goes first again.
const RELEASE: &str = "
UPDATE runs AS r SET status = 'queued', owner = NULL, lease_until = NULL
FROM unnest($2::text[], $3::bigint[]) AS t(id, epoch)
WHERE r.id = t.id AND r.owner = $1 AND r.epoch = t.epoch AND r.status = 'running'";

const CANCELS: &str = "SELECT id, cancel FROM runs WHERE owner = $1 AND status = 'running' AND owner IS NOT NULL AND cancel IS NOT NULL";

const SET_LIMIT: &str = "
INSERT INTO queues (name, concurrency) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET concurrency = EXCLUDED.concurrency";

const DEPTH: &str = "
SELECT count(*) FROM runs WHERE status = 'queued' AND queue = ANY($1)
  AND run_at <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint";

fn notify(tx: &mut impl GenericClient, statements: &mut Statements, payload: &str) -> std::result::Result<(), postgres::Error> {
    let statement = statements.get(tx, NOTIFY)?;
    tx.execute(&statement, &[&payload]).map(drop)
}

impl Queue for PostgresStore {
    fn enqueue(&mut self, runs: &[NewRun]) -> Result<Vec<Enqueued>> {
        queue::check_new_runs(runs)?;
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|client, statements| {
            let col = |f: fn(&NewRun) -> Option<&str>| runs.iter().map(f).collect::<Vec<_>>();
            let statement = statements.get(client, ENQUEUE)?;
            // committed (and durable) when it answers
            let created = client.query(
                &statement,
                &[
                    &runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                    &runs.iter().map(|r| r.workflow.as_str()).collect::<Vec<_>>(),
                    &runs.iter().map(|r| r.input.as_str()).collect::<Vec<_>>(),
                    &runs.iter().map(|r| r.at).collect::<Vec<_>>(),
                    &col(|r| r.account.as_deref()),
                    &runs.iter().map(|r| r.queue.as_str()).collect::<Vec<_>>(),
                    &col(|r| r.key.as_deref()),
                    &runs.iter().map(|r| r.priority).collect::<Vec<_>>(),
                    &runs.iter().map(|r| r.run_at).collect::<Vec<_>>(),
                ],
            )?;
            let created: std::collections::HashSet<String> = created.iter().map(|r| r.get(0)).collect();
            // the keys' runs, committed (by this statement, or a concurrent one whose commit the insert waited for)
            let keys: Vec<&str> = runs.iter().filter(|r| !created.contains(&r.id)).filter_map(|r| r.key.as_deref()).collect();
            let mut by_key = std::collections::HashMap::new();
            if !keys.is_empty() {
                let statement = statements.get(client, BY_KEYS)?;
                for row in client.query(&statement, &[&keys])? {
                    by_key.insert(row.get::<_, String>(0), (row.get::<_, String>(1), row.get::<_, String>(2)));
                }
            }
            let mut answers = Vec::with_capacity(runs.len());
            for run in runs {
                let existing = run.key.as_ref().and_then(|k| by_key.get(k)).filter(|_| !created.contains(&run.id));
                answers.push(match existing {
                    Some((id, status)) => Enqueued { id: id.clone(), created: false, status: status.clone() },
                    None => Enqueued { id: run.id.clone(), created: true, status: "queued".into() },
                });
            }
            Ok(answers)
        })
    }

    fn claim(&mut self, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>> {
        let Some(queues) = req.checked()? else { return Ok(Vec::new()) };
        let messages = self.with(|client, statements| {
            if statements.named.insert(CLAIM_NAME) {
                // once per connection (a new one forgets it: `Statements` starts anew)
                if let Err(e) = client.batch_execute(&format!("PREPARE {CLAIM_NAME}(text[], bigint, text, bigint) AS {CLAIM}")) {
                    statements.named.remove(CLAIM_NAME);
                    return Err(e);
                }
            }
            client.simple_query(&claim_query(&queues, req.limit, req.worker, req.lease_ms)).map_err(|e| rolled_back(client, e))
        })?;
        // the rows of the fourth statement (BEGIN, SET LOCAL, the lock, the claim, COMMIT)
        let mut done = 0;
        let mut claimed: Vec<(i32, i64, Claimed)> = Vec::new();
        for message in &messages {
            match message {
                postgres::SimpleQueryMessage::CommandComplete(_) => done += 1,
                postgres::SimpleQueryMessage::Row(row) if done == 3 => claimed.push(
                    claimed_row(row).ok_or_else(|| Error::Internal("a claimed row the claim's columns do not describe".into()))?,
                ),
                _ => {}
            }
        }
        // RETURNING has no order: the claim's own
        claimed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(claimed.into_iter().map(|(_, _, run)| run).collect())
    }

    fn renew(&mut self, worker: &str, lease_ms: i64) -> Result<Vec<(String, u64)>> {
        queue::check_lease(lease_ms)?;
        self.with(|client, statements| {
            let statement = statements.get(client, RENEW)?;
            let rows = client.query(&statement, &[&worker, &lease_ms])?;
            Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1) as u64)).collect())
        })
    }

    fn release(&mut self, worker: &str, runs: &[(String, u64)]) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = runs.iter().map(|(id, _)| id.as_str()).collect();
        let epochs: Vec<i64> = runs.iter().map(|(_, e)| *e as i64).collect();
        self.with(|client, statements| {
            let statement = statements.get(client, RELEASE)?;
            client.execute(&statement, &[&worker, &ids, &epochs]).map(drop)
        })
    }

    fn request_cancel(&mut self, id: &str, policy: &str) -> Result<CancelAsked> {
        self.with(|client, statements| {
            let mut tx = client.transaction()?;
            let row = tx.query_opt("SELECT status, owner FROM runs WHERE id = $1 FOR UPDATE", &[&id])?;
            let asked = match row.map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1))) {
                None => CancelAsked::Unknown,
                Some((status, _)) if status == "queued" => {
                    let sql = format!("UPDATE runs SET status = 'cancelled', cancel = $2, ended_at = {NOW} WHERE id = $1");
                    tx.execute(sql.as_str(), &[&id, &policy])?;
                    // it ended: whoever waits for its result
                    notify(&mut tx, statements, &queue::ended_payload(&[id]))?;
                    CancelAsked::Cancelled
                }
                Some((status, owner)) if status == "running" => {
                    tx.execute("UPDATE runs SET cancel = $2 WHERE id = $1", &[&id, &policy])?;
                    notify(&mut tx, statements, &serde_json::json!({ "c": [id] }).to_string())?;
                    CancelAsked::Forwarded { owner }
                }
                Some((status, _)) => CancelAsked::Ended { status },
            };
            tx.commit()?;
            Ok(asked)
        })
    }

    fn cancels(&mut self, worker: &str) -> Result<Vec<(String, String)>> {
        self.with(|client, statements| {
            let statement = statements.get(client, CANCELS)?;
            Ok(client.query(&statement, &[&worker])?.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn set_limit(&mut self, queue: &str, concurrency: Option<u32>) -> Result<()> {
        queue::check_queue_name(queue)?;
        let concurrency = concurrency.map(|c| c.min(i32::MAX as u32) as i32);
        self.with(|client, statements| {
            let statement = statements.get(client, SET_LIMIT)?;
            client.execute(&statement, &[&queue, &concurrency]).map(drop)
        })
    }

    fn depth(&mut self, queues: &[String]) -> Result<u64> {
        let queues = queue::checked_queues(queues)?;
        self.with(|client, statements| {
            let statement = statements.get(client, DEPTH)?;
            Ok(client.query_one(&statement, &[&queues])?.get::<_, i64>(0) as u64)
        })
    }

    fn now_ms(&mut self) -> Result<i64> {
        self.with(|client, _| Ok(client.query_one(&format!("SELECT {NOW}"), &[])?.get::<_, i64>(0)))
    }
}
