//! Executions first written in a batch go in as plain inserts on
//! PostgreSQL (`Store::apply_fresh`), cheaper than the upsert: counted by
//! `pg_stat_statements` (which statement ran, how many rows), never timed.
//! A batch applied again after its commit's answer was lost (its rows are
//! there) still commits, as the upsert would leave it.

mod support;

use arcflow_core::store::{self, Execution, Store, Write};
use support::plans;
use support::postgres::Cluster;

fn started(id: &str) -> Write {
    Write::RunStarted { id: id.into(), workflow: "wf".into(), input: "{}".into(), started_at: 1, account: None, workflow_hash: None }
}

fn task(run: &str, status: &'static str, started_at: Option<i64>, payload: Option<&str>, jseq: u64) -> Write {
    Write::Task(Execution {
        run_id: run.into(),
        task: "a".into(),
        step: 1,
        item: -1,
        attempt: 1,
        status,
        payload: payload.map(Into::into),
        input: None,
        started_at,
        ended_at: None,
        jseq,
    })
}

/// `(rows inserted outright, rows upserted)` since the last reset: the calls' rows of each statement.
fn rows_by_statement(db: &mut postgres::Client) -> (i64, i64) {
    let rows = db
        .query(
            "SELECT strpos(query, 'ON CONFLICT') > 0, sum(rows)::bigint FROM pg_stat_statements
             WHERE strpos(query, 'INSERT INTO executions') > 0 GROUP BY 1",
            &[],
        )
        .unwrap();
    let of = |upsert: bool| rows.iter().find(|r| r.get::<_, bool>(0) == upsert).map_or(0, |r| r.get::<_, i64>(1));
    (of(false), of(true))
}

/// `(run_id, status, payload, started_at)` of the executions `filter` keeps, by run.
fn executions(db: &mut postgres::Client, filter: &str) -> Vec<(String, String, Option<String>, Option<i64>)> {
    db.query(&format!("SELECT run_id, status, payload, started_at FROM fresh.executions {filter} ORDER BY run_id"), &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[test]
fn fresh_executions_are_inserted_outright_and_a_batch_applied_again_still_commits() {
    let cluster = Cluster::start_with(plans::SETTINGS);
    let mut db = cluster.client();
    plans::enable(&mut db);
    let mut store = store::open(&cluster.url("fresh")).unwrap();
    // a task started and ended in this batch (the writer's `coalesce` leaves its end, fresh), and one still running
    let batch = [started("r"), task("r", "succeeded", Some(5), Some("1"), 2), started("s"), task("s", "running", Some(6), None, 1)];
    let fresh = [false, true, false, true];
    plans::reset(&mut db);
    assert!(store.apply_fresh(&batch, &[], &fresh).unwrap().is_empty());
    assert_eq!(rows_by_statement(&mut db), (2, 0), "both rows inserted outright, none upserted");

    // the same batch again (its commit's answer lost): it commits, every execution upserted
    plans::reset(&mut db);
    store.apply_fresh(&batch, &[], &fresh).unwrap();
    assert_eq!(rows_by_statement(&mut db), (0, 2), "the plain insert failed on the key and rolled back; the batch ran again upserting");
    assert_eq!(executions(&mut db, ""), [("r".into(), "succeeded".into(), Some("1".into()), Some(5)), ("s".into(), "running".into(), None, Some(6))]);

    // a write said fresh whose row is there keeps the row's first start, as the upsert does
    store.apply_fresh(&[task("s", "succeeded", Some(9), Some("2"), 3)], &[], &[true]).unwrap();
    assert_eq!(executions(&mut db, "WHERE run_id = 's'"), [("s".into(), "succeeded".into(), Some("2".into()), Some(6))]);

    // writes not said fresh are upserted
    plans::reset(&mut db);
    store.apply_fresh(&[started("t"), task("t", "running", Some(1), None, 1)], &[], &[]).unwrap();
    assert_eq!(rows_by_statement(&mut db), (0, 1));
}
