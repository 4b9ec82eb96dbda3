//! The queue on PostgreSQL beyond the contract: wake-ups (`NOTIFY` heard
//! by a `Listener`, other schemas' ignored, a lost listening connection
//! opened again) and how many transactions the hot calls cost.

mod support;

use std::time::Duration;

use arcflow_core::queue::{self, ClaimRequest, NewRun, Notice};
use arcflow_core::store::{self, Write, WriteBehind, WriterConfig};

fn new_run(id: &str, queue: &str) -> NewRun {
    NewRun { id: id.into(), workflow: "wf".into(), input: "{}".into(), queue: queue.into(), key: None, priority: 0, run_at: None, account: None, at: 1 }
}

fn ended(id: &str) -> Write {
    Write::RunEnded { id: id.into(), status: "succeeded".into(), output: None, error: None, ended_at: 2 }
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_listener_hears_enqueues_ends_and_cancels_of_its_schema_only() {
    let cluster = support::postgres::cluster();
    let (url, _) = cluster.fresh_url("listen");
    let (other_url, _) = cluster.fresh_url("listen_other");
    let mut q = queue::open(&url).unwrap();
    let mut other = queue::open(&other_url).unwrap();
    let mut listener = queue::listen(&url).unwrap().expect("PostgreSQL listens");

    other.enqueue(&[new_run("elsewhere", "default")]).unwrap();
    q.enqueue(&[new_run("a", "default"), new_run("b", "llm"), new_run("c", "default")]).unwrap();
    assert_eq!(listener.next(WAIT).unwrap(), Some(Notice::Enqueued(vec!["default".into(), "llm".into()])), "one notice per enqueue, another schema's unheard");

    let queues = vec!["default".to_owned(), "llm".to_owned()];
    let claimed = q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 3, lease_ms: 60_000 }).unwrap();
    assert_eq!(claimed.len(), 3);
    let writer = WriteBehind::start(store::open(&url).unwrap(), WriterConfig { flush_interval: Duration::from_millis(5), ..WriterConfig::default() }).unwrap();
    writer.enqueue([ended("a"), ended("b")]).unwrap();
    assert!(writer.settle(WAIT));
    assert_eq!(listener.next(WAIT).unwrap(), Some(Notice::Ended(Some(vec!["a".into(), "b".into()]))), "one notice for the batch's ends");

    q.request_cancel("c", "abort").unwrap();
    assert_eq!(listener.next(WAIT).unwrap(), Some(Notice::Cancel(vec!["c".into()])));
    q.enqueue(&[new_run("d", "default")]).unwrap();
    assert_eq!(listener.next(WAIT).unwrap(), Some(Notice::Enqueued(vec!["default".into()])));
    q.request_cancel("d", "abort").unwrap();
    assert_eq!(listener.next(WAIT).unwrap(), Some(Notice::Ended(Some(vec!["d".into()]))), "a queued run cancelled has ended");

    // ends past the payload limit are not named
    let many: Vec<Write> = (0..1_000).map(|i| ended(&format!("a-run-with-a-long-enough-id-{i}"))).collect();
    writer.enqueue(many).unwrap();
    assert!(writer.settle(WAIT));
    assert_eq!(listener.next(WAIT).unwrap(), Some(Notice::Ended(None)));
    assert_eq!(listener.next(Duration::from_millis(50)).unwrap(), None, "nothing else was said");
    writer.close();
}

#[test]
fn a_lost_listening_connection_is_opened_again_and_says_notices_were_missed() {
    let cluster = support::postgres::cluster();
    let (url, schema) = cluster.fresh_url("relisten");
    let mut q = queue::open(&url).unwrap();
    // named, so that only this listener's connection is cut
    let mut listener = queue::listen(&format!("{url}&application_name=relisten_test")).unwrap().unwrap();
    let killed = cluster
        .client()
        .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relisten_test'", &[])
        .unwrap();
    assert_eq!(killed.len(), 1, "the listener's connection is found");
    let mut saw_error_or_missed = false;
    for _ in 0..3 {
        match listener.next(Duration::from_millis(200)) {
            Err(e) => {
                assert_eq!(e.code(), "ARCFLOW_STORE");
                saw_error_or_missed = true;
            }
            Ok(Some(Notice::Missed)) => {
                saw_error_or_missed = true;
                break;
            }
            Ok(other) => assert_eq!(other, None, "nothing was enqueued yet"),
        }
    }
    assert!(saw_error_or_missed, "the lost connection is reported");
    q.enqueue(&[new_run("after", "default")]).unwrap();
    let mut heard = listener.next(WAIT).unwrap();
    if heard == Some(Notice::Missed) {
        heard = listener.next(WAIT).unwrap();
    }
    assert_eq!(heard, Some(Notice::Enqueued(vec!["default".into()])), "listening again ({schema})");
}

/// Transactions a call costs, on a cluster of its own (no other test's
/// transactions): the transaction ids given out meanwhile, less the probe's own.
#[test]
fn claims_renewals_and_enqueues_are_one_transaction_each() {
    let cluster = support::postgres::Cluster::start();
    let url = cluster.url("counted");
    let mut q = queue::open(&url).unwrap();
    let mut probe = cluster.client();
    let mut xid = || probe.query_one("SELECT txid_current()", &[]).unwrap().get::<_, i64>(0);
    let mut cost = |f: &mut dyn FnMut()| {
        let before = xid();
        f();
        xid() - before - 1
    };
    let runs: Vec<NewRun> = (0..500).map(|i| new_run(&format!("r{i}"), "default")).collect();
    assert_eq!(cost(&mut || drop(q.enqueue(&runs).unwrap())), 1, "500 runs enqueued in one transaction");
    q.set_limit("default", Some(400)).unwrap();
    let queues = vec!["default".to_owned()];
    let mut claimed = Vec::new();
    assert_eq!(cost(&mut || claimed = q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 300, lease_ms: 60_000 }).unwrap()), 1);
    assert_eq!(claimed.len(), 300);
    let mut held = Vec::new();
    assert_eq!(cost(&mut || held = q.renew("w", 60_000).unwrap()), 1, "one renewal for 300 leases");
    assert_eq!(held.len(), 300);
    let release: Vec<(String, u64)> = held[..100].to_vec();
    assert_eq!(cost(&mut || q.release("w", &release).unwrap()), 1);
}

fn started(id: &str) -> Write {
    Write::RunStarted { id: id.into(), workflow: "wf".into(), workflow_hash: Some("h1".into()), input: "{}".into(), started_at: 1, account: None }
}

/// id, status, output, error, ended_at, owner, lease_until, workflow_hash
type EndedRow = (String, String, Option<String>, Option<String>, Option<i64>, Option<String>, Option<i64>, Option<String>);

/// A short run's start and end in one batch write its `runs` row once (one
/// row version, each writing every index of `runs`), claimed (its row
/// there) or started in process (inserted ended); a run whose start and end
/// are in two batches still ends right. Counted by a trigger on `runs`.
#[test]
fn a_run_started_and_ended_in_one_batch_writes_its_row_once() {
    let cluster = support::postgres::cluster();
    let (url, schema) = cluster.fresh_url("fold");
    let mut q = queue::open(&url).unwrap();
    q.enqueue(&[new_run("c1", "default"), new_run("c2", "default"), new_run("c3", "default")]).unwrap();
    let queues = vec!["default".to_owned()];
    let claimed = q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 3, lease_ms: 60_000 }).unwrap();
    assert_eq!(claimed.len(), 3);
    let mut db = cluster.client();
    db.batch_execute(&format!(
        "SET search_path TO {schema};
         CREATE TABLE row_writes (op TEXT, id TEXT);
         CREATE FUNCTION count_row_write() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO row_writes VALUES (TG_OP, NEW.id); RETURN NEW; END $$;
         CREATE TRIGGER count_row_writes AFTER INSERT OR UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION count_row_write();"
    ))
    .unwrap();
    let writer = WriteBehind::start(store::open(&url).unwrap(), WriterConfig { flush_interval: Duration::from_secs(3600), ..WriterConfig::default() }).unwrap();
    for c in &claimed {
        writer.fence(&c.id, "w", c.epoch);
    }
    // one call, so one batch: c1 and c2 claimed, p1 started here; c3 starts only
    let mut failed = ended("c2");
    if let Write::RunEnded { status, error, .. } = &mut failed {
        *status = "failed".into();
        *error = Some("{\"message\":\"no\"}".into());
    }
    writer.enqueue([started("c1"), started("c2"), started("p1"), started("c3"), ended("c1"), failed, ended("p1")]).unwrap();
    assert!(writer.settle(WAIT));
    writer.enqueue([ended("c3")]).unwrap();
    assert!(writer.settle(WAIT));
    writer.close();

    let writes: Vec<(String, String, i64)> = db
        .query("SELECT id, op, count(*) FROM row_writes GROUP BY id, op ORDER BY id, op", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let w = |id: &str, op: &str, n: i64| (id.to_owned(), op.to_owned(), n);
    assert_eq!(writes, vec![w("c1", "UPDATE", 1), w("c2", "UPDATE", 1), w("c3", "UPDATE", 2), w("p1", "INSERT", 1)], "one row version per run started and ended in a batch");
    let rows: Vec<EndedRow> = db
        .query("SELECT id, status, output, error, ended_at, owner, lease_until, workflow_hash FROM runs ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7)))
        .collect();
    let hash = Some("h1".to_owned());
    assert_eq!(
        rows,
        vec![
            ("c1".into(), "succeeded".into(), None, None, Some(2), None, None, hash.clone()),
            ("c2".into(), "failed".into(), None, Some("{\"message\":\"no\"}".into()), Some(2), None, None, hash.clone()),
            ("c3".into(), "succeeded".into(), None, None, Some(2), None, None, hash.clone()),
            ("p1".into(), "succeeded".into(), None, None, Some(2), None, None, hash),
        ],
        "ended as a start then an end would leave them: lease cleared, the version kept"
    );
}

/// Every claim and end of a queued run writes every index of `runs` (its
/// status changes, so no update is HOT): an unkeyed run adds nothing to the
/// key index, however often it is written; a keyed one is still found.
#[test]
fn unkeyed_runs_leave_the_key_index_empty() {
    let cluster = support::postgres::cluster();
    let (url, schema) = cluster.fresh_url("keyindex");
    let mut q = queue::open(&url).unwrap();
    let runs: Vec<NewRun> = (0..2_000).map(|i| new_run(&format!("r{i}"), "default")).collect();
    q.enqueue(&runs).unwrap();
    let queues = vec!["default".to_owned()];
    assert_eq!(q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 2_000, lease_ms: 60_000 }).unwrap().len(), 2_000);
    let mut db = cluster.client();
    let size = |db: &mut postgres::Client| db.query_one(&format!("SELECT pg_relation_size('{schema}.runs_by_key')"), &[]).unwrap().get::<_, i64>(0);
    // a B-tree's metapage and at most an empty root: no leaf holds 4,000 entries (two row versions of 2,000 runs)
    assert!(size(&mut db) <= 2 * 8192, "{} bytes", size(&mut db));
    let keyed = NewRun { key: Some("order-42".into()), ..new_run("k1", "default") };
    assert!(q.enqueue(std::slice::from_ref(&keyed)).unwrap()[0].created);
    let again = q.enqueue(&[NewRun { id: "k2".into(), ..keyed }]).unwrap();
    assert_eq!((again[0].id.as_str(), again[0].created), ("k1", false), "the key still finds its run");
}

/// The claim's limits lock goes as one simple query with the queue names as
/// literals: any name, quotes and backslashes included, is claimed and
/// limited as it is, and nothing in a name is read as SQL.
#[test]
fn queue_names_of_any_text_are_claimed_and_limited() {
    let cluster = support::postgres::cluster();
    let (url, _) = cluster.fresh_url("oddnames");
    let mut q = queue::open(&url).unwrap();
    let odd = r#"it's \ "odd"'); DROP TABLE runs; --"#;
    q.enqueue(&[new_run("a", odd), new_run("b", odd), new_run("c", odd), new_run("d", "plain")]).unwrap();
    q.set_limit(odd, Some(2)).unwrap();
    let queues = vec![odd.to_owned(), "plain".to_owned()];
    let claimed = q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 10, lease_ms: 60_000 }).unwrap();
    let mut ids: Vec<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a", "b", "d"], "two of the limited queue's three, and the plain one's");
    assert_eq!(q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 10, lease_ms: 60_000 }).unwrap().len(), 0, "the limit holds");
    assert_eq!(q.depth(&[odd.to_owned()]).unwrap(), 1);
}

/// The claim runs by `EXECUTE` a statement it prepares once per
/// connection: a connection opened again after a lost one prepares it again.
#[test]
fn a_claim_after_a_lost_connection_prepares_its_statement_again() {
    let cluster = support::postgres::cluster();
    let (url, _) = cluster.fresh_url("reclaim");
    let mut q = queue::open(&format!("{url}&application_name=arcflow_reclaim")).unwrap();
    q.enqueue(&[new_run("a", "default"), new_run("b", "default")]).unwrap();
    let queues = vec!["default".to_owned()];
    let claim = |q: &mut Box<dyn queue::Queue>| q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 1, lease_ms: 60_000 });
    assert_eq!(claim(&mut q).unwrap().len(), 1);
    let killed = cluster
        .client()
        .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'arcflow_reclaim'", &[])
        .unwrap();
    assert_eq!(killed.len(), 1, "the queue's one connection");
    // the first call may notice the loss (transient) or find it already noticed
    let mut failures = 0;
    let claimed = loop {
        match claim(&mut q) {
            Ok(claimed) => break claimed,
            Err(err) => {
                assert!(matches!(err, arcflow_core::Error::Store { transient: true, .. }), "a lost connection is transient: {err:?}");
                failures += 1;
                assert!(failures < 3, "the claim does not recover: {err}");
            }
        }
    };
    assert_eq!(claimed.len(), 1, "the other run, claimed on the new connection");
    assert_eq!(claim(&mut q).unwrap().len(), 0);
}
