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
