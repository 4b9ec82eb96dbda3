//! What the queue's hot statements read, counted in shared buffers (hit +
//! read, as `EXPLAIN (ANALYZE, BUFFERS)` counts them) for the store's own
//! calls (`support/plans.rs`), never timed: a renewal reads its own runs'
//! rows, not every leased run's.

mod support;

use arcflow_core::queue::{self, ClaimRequest, NewRun};
use support::plans;
use support::postgres::Cluster;

const RUNS_EACH: usize = 20;
const LEASE_MS: i64 = 60_000;

fn new_run(id: String) -> NewRun {
    // a run's input takes room, as real ones do: rows spread over pages
    let input = format!("{{\"pad\":\"{}\"}}", "x".repeat(300));
    NewRun { id, workflow: "wf".into(), input, queue: "default".into(), key: None, priority: 0, run_at: None, account: None, at: 1 }
}

fn owner(n: usize) -> String {
    format!("worker-{n}")
}

/// `owners` workers holding `RUNS_EACH` runs each in `schema`, claimed in
/// turns (one run per claim), so that each owner's rows are spread among
/// the others'; then one renewal each, so the server has seen the statement.
fn lease_runs(cluster: &Cluster, schema: &str, owners: usize) {
    let mut q = queue::open(&cluster.url(schema)).unwrap();
    q.enqueue(&(0..owners * RUNS_EACH).map(|i| new_run(format!("r{i}"))).collect::<Vec<_>>()).unwrap();
    let queues = vec!["default".to_owned()];
    for _ in 0..RUNS_EACH {
        for n in 0..owners {
            let worker = owner(n);
            assert_eq!(q.claim(&ClaimRequest { worker: &worker, queues: &queues, limit: 1, lease_ms: LEASE_MS }).unwrap().len(), 1);
        }
    }
    for n in 0..owners {
        assert_eq!(q.renew(&owner(n), LEASE_MS).unwrap().len(), RUNS_EACH);
    }
}

/// The shared buffers one renewal by `worker` touches in `schema`, and the runs it renewed.
fn renewal_buffers(cluster: &Cluster, db: &mut postgres::Client, schema: &str, worker: &str) -> (f64, usize) {
    let mut q = queue::open(&cluster.url(schema)).unwrap();
    q.renew(worker, LEASE_MS).unwrap(); // prepared, caches warm
    plans::reset(db);
    let renewed = (0..3).map(|_| q.renew(worker, LEASE_MS).unwrap().len()).max().unwrap();
    let (calls, buffers) = plans::buffers_per_call(db, "SET lease_until");
    assert_eq!(calls, 3);
    (buffers, renewed)
}

fn pages(db: &mut postgres::Client, relation: &str) -> f64 {
    db.query_one("SELECT pg_relation_size($1::text::regclass)", &[&relation]).unwrap().get::<_, i64>(0) as f64 / 8192.0
}

/// A renewal reads the leased runs' index entries (one per run held, by
/// any owner: a few pages) and its own runs' rows only, so a worker that
/// holds nothing reads the index and no row at all; before the owner was
/// in the index it read every leased run's row (or the whole table).
#[test]
fn a_renewal_reads_its_own_runs_rows_not_every_leased_runs() {
    let cluster = Cluster::start_with(plans::SETTINGS);
    let mut db = cluster.client();
    plans::enable(&mut db);
    lease_runs(&cluster, "crowded", 100);
    for analyzed in [false, true] {
        if analyzed {
            // as autovacuum would, some time after: the plan must not hang on missing statistics
            db.batch_execute("ANALYZE crowded.runs").unwrap();
        }
        let (idle, renewed) = renewal_buffers(&cluster, &mut db, "crowded", "holds-nothing");
        assert_eq!(renewed, 0);
        let index = pages(&mut db, "crowded.runs_leased");
        let table = pages(&mut db, "crowded.runs");
        assert!(index < table / 4.0, "the index ({index} pages) is smaller than the rows it points to ({table} pages)");
        assert!(idle <= index, "a renewal of no run read {idle} buffers: more than the leased runs' index ({index} pages; analyzed: {analyzed})");
        let (busy, renewed) = renewal_buffers(&cluster, &mut db, "crowded", &owner(0));
        assert_eq!(renewed, RUNS_EACH);
        assert!(busy > idle, "renewing {RUNS_EACH} runs writes their rows and index entries: {busy} buffers, {idle} for none");
    }
}
