//! What the queue's hot statements read, counted in shared buffers (hit +
//! read, as `EXPLAIN (ANALYZE, BUFFERS)` counts them) for the store's own
//! calls (`support/plans.rs`), never timed: a renewal reads its own runs'
//! rows, not every leased run's; claims and renewals read no more with a
//! million ended runs in the history than with none.

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

/// Ended runs in the history: a million, filled in one `generate_series`
/// insert (about 10 s of the test on a 2-core machine, debug build).
const HISTORY: i64 = 1_000_000;

fn fill_history(db: &mut postgres::Client, schema: &str) {
    db.batch_execute(&format!(
        "INSERT INTO \"{schema}\".runs (id, workflow, status, input, output, started_at, ended_at, queue, epoch)
         SELECT 'h' || i, 'wf', CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END, '{{}}', '{{\"ok\":true}}',
           i, i + 1, 'default', 1
         FROM generate_series(1, {HISTORY}) AS i"
    ))
    .unwrap();
    // as autovacuum would after such an insert (VACUUM goes alone: not in a transaction)
    db.batch_execute(&format!("VACUUM ANALYZE \"{schema}\".runs")).unwrap();
}

/// The shared buffers a claim of 50 runs (from a limited queue, so its
/// count of running runs is read too) and a renewal touch in `schema`, on
/// average over 3 of each.
fn claim_and_renewal_buffers(cluster: &Cluster, db: &mut postgres::Client, schema: &str) -> (f64, f64) {
    let mut q = queue::open(&cluster.url(schema)).unwrap();
    q.enqueue(&(0..1_000).map(|i| new_run(format!("q{i}"))).collect::<Vec<_>>()).unwrap();
    q.set_limit("default", Some(10_000)).unwrap();
    let queues = vec!["default".to_owned()];
    let mut claim = || q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 50, lease_ms: LEASE_MS }).unwrap().len();
    assert_eq!(claim(), 50); // prepared, caches warm
    plans::reset(db);
    for _ in 0..3 {
        assert_eq!(claim(), 50);
    }
    let (calls, claims) = plans::buffers_per_call(db, "SKIP LOCKED");
    assert_eq!(calls, 3);
    q.renew("w", LEASE_MS).unwrap();
    plans::reset(db);
    for _ in 0..3 {
        assert_eq!(q.renew("w", LEASE_MS).unwrap().len(), 200);
    }
    let (calls, renewals) = plans::buffers_per_call(db, "SET lease_until");
    assert_eq!(calls, 3);
    (claims, renewals)
}

/// What the history may add per run a claim or renewal writes: each row's
/// new version goes into the indexes of every run (id, status, workflow),
/// a level deeper with a million entries, and into a larger free space map
/// (measured: about 6 per claimed run, 3.5 per renewed one).
const EXTRA_PER_RUN: f64 = 10.0;

/// Issue 13: claims stay fast with millions of runs in the history. The
/// partial indexes hold only what is queued or leased, so a claim or a
/// renewal reads no history: what it adds is [`EXTRA_PER_RUN`] at most.
#[test]
fn claims_and_renewals_read_no_more_with_a_million_ended_runs() {
    let cluster = Cluster::start_with(plans::SETTINGS);
    let mut db = cluster.client();
    plans::enable(&mut db);
    queue::open(&cluster.url("history")).unwrap();
    let filling = std::time::Instant::now();
    fill_history(&mut db, "history");
    eprintln!("{HISTORY} ended runs filled in {:?}", filling.elapsed());
    let history_pages = pages(&mut db, "history.runs");
    let (claim_empty, renew_empty) = claim_and_renewal_buffers(&cluster, &mut db, "empty");
    let (claim_full, renew_full) = claim_and_renewal_buffers(&cluster, &mut db, "history");
    eprintln!("claim of 50: {claim_empty} buffers (no history), {claim_full} ({HISTORY} ended runs, {history_pages} pages)");
    eprintln!("renewal of 200: {renew_empty} buffers (no history), {renew_full} ({HISTORY} ended runs)");
    // the bounds are far below what reading the history would add to either statement
    assert!(EXTRA_PER_RUN * 200.0 < history_pages / 4.0, "the history ({history_pages} pages) dwarfs the bounds");
    assert!(claim_full - claim_empty <= EXTRA_PER_RUN * 50.0, "a claim of 50 runs: {claim_full} buffers with {HISTORY} ended runs, {claim_empty} with none");
    assert!(renew_full - renew_empty <= EXTRA_PER_RUN * 200.0, "a renewal of 200 runs: {renew_full} buffers with {HISTORY} ended runs, {renew_empty} with none");
}
