//! The queue rules of the backend contract (issue 13, `docs/workers.md`):
//! enqueue and its key, claims (order, batches, due times, concurrent
//! claimers, per-queue limits), leases (renew, expiry and takeover,
//! release) and cancel requests. Each rule opens its queues by the
//! backend's URL, one connection per simulated worker or producer.

use std::collections::HashSet;

use arcflow_core::queue::{self, CancelAsked, ClaimRequest, Claimed, NewRun, Queue};
use arcflow_core::store::{RunFilter, Write};

use super::Backend;

pub(super) fn new_run(id: &str, queue: &str) -> NewRun {
    NewRun {
        id: id.into(),
        workflow: "wf".into(),
        input: "{\"n\":1}".into(),
        queue: queue.into(),
        key: None,
        priority: 0,
        run_at: None,
        account: None,
        at: 1,
    }
}

pub(super) fn claim(q: &mut dyn Queue, worker: &str, queues: &[&str], limit: u32, lease_ms: i64) -> Vec<Claimed> {
    let queues: Vec<String> = queues.iter().map(|s| s.to_string()).collect();
    q.claim(&ClaimRequest { worker, queues: &queues, limit, lease_ms }).unwrap()
}

fn ids(claimed: &[Claimed]) -> Vec<&str> {
    claimed.iter().map(|c| c.id.as_str()).collect()
}

/// Waits until the database's clock passes `ms` (a lease's expiry):
/// asks the clock, never compares durations.
pub(super) fn until_db_time_passes(q: &mut dyn Queue, ms: i64) {
    while q.now_ms().unwrap() <= ms {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

pub fn an_enqueued_run_is_queued_and_its_key_makes_it_once(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    let keyed = |id: &str| NewRun { key: Some("order-42".into()), ..new_run(id, "default") };
    let first = q.enqueue(&[keyed("r1"), new_run("r2", "default")]).unwrap();
    assert_eq!((first[0].id.as_str(), first[0].created, first[0].status.as_str()), ("r1", true, "queued"));
    assert!(first[1].created);
    // the same key again, alone and twice in one batch: the key's run
    let again = q.enqueue(&[keyed("r3"), keyed("r4")]).unwrap();
    for answer in &again {
        assert_eq!((answer.id.as_str(), answer.created, answer.status.as_str()), ("r1", false, "queued"));
    }
    // a retried enqueue (the same id and key) answers the run it made
    let retried = q.enqueue(&[keyed("r1")]).unwrap();
    assert_eq!((retried[0].id.as_str(), retried[0].created), ("r1", false));
    let in_one = q.enqueue(&[NewRun { key: Some("k2".into()), ..new_run("r5", "default") }, NewRun { key: Some("k2".into()), ..new_run("r6", "default") }]).unwrap();
    assert_eq!((in_one[0].created, in_one[1].id.as_str(), in_one[1].created), (true, "r5", false));
    let store = backend.store();
    let run = store.get_run("r1").unwrap().expect("a queued run is a run");
    assert_eq!((run.status.as_str(), run.workflow.as_str(), run.input.as_str()), ("queued", "wf", "{\"n\":1}"));
    let queued = store.runs(&RunFilter { status: Some("queued".into()), ..RunFilter::default() }).unwrap();
    assert_eq!(queued.len(), 3, "r1, r2, r5: no run for a taken key");
    assert_eq!(store.get_run("r3").unwrap(), None);
}

pub fn concurrent_enqueues_with_one_key_create_one_run(backend: &mut impl Backend) {
    let url = backend.url();
    let answers: Vec<(String, bool)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let url = url.clone();
                s.spawn(move || {
                    let mut q = queue::open(&url).unwrap();
                    (0..25)
                        .map(|i| {
                            let run = NewRun { key: Some("once".into()), ..new_run(&format!("t{t}-{i}"), "default") };
                            let answer = q.enqueue(&[run]).unwrap().remove(0);
                            (answer.id, answer.created)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(answers.len(), 100);
    assert_eq!(answers.iter().filter(|(_, created)| *created).count(), 1, "one enqueue created the run");
    let ids: HashSet<&str> = answers.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 1, "every enqueue answered the same run");
    let queued = backend.store().runs(&RunFilter { status: Some("queued".into()), limit: Some(1000), ..RunFilter::default() }).unwrap();
    assert_eq!(queued.len(), 1);
}

pub fn claims_come_by_priority_then_due_time_in_batches(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    let now = q.now_ms().unwrap();
    let run = |id: &str, priority: i32, ago: i64| NewRun { priority, run_at: Some(now - ago), ..new_run(id, "default") };
    q.enqueue(&[run("low-old", 0, 500), run("high-new", 5, 10), run("low-new", 0, 10), run("high-old", 5, 900), run("mid", 2, 100)]).unwrap();
    q.enqueue(&[new_run("elsewhere", "other")]).unwrap();
    let first = claim(&mut *q, "w1", &["default"], 2, 60_000);
    assert_eq!(ids(&first), ["high-old", "high-new"]);
    assert!(first.iter().all(|c| c.epoch == 1 && !c.taken_over && c.workflow == "wf" && c.input == "{\"n\":1}"));
    let rest = claim(&mut *q, "w1", &["default"], 10, 60_000);
    assert_eq!(ids(&rest), ["mid", "low-old", "low-new"]);
    assert!(claim(&mut *q, "w2", &["default"], 10, 60_000).is_empty(), "all claimed");
    assert_eq!(q.depth(&["other".into()]).unwrap(), 1, "another queue's run is left");
    assert_eq!(backend.store().get_run("mid").unwrap().unwrap().status, "running");
}

pub fn a_delayed_run_is_claimed_once_it_is_due(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    let now = q.now_ms().unwrap();
    q.enqueue(&[NewRun { run_at: Some(now + 3_600_000), ..new_run("later", "default") }, NewRun { run_at: Some(now + 150), ..new_run("soon", "default") }])
        .unwrap();
    assert_eq!(q.depth(&["default".into()]).unwrap(), 0, "nothing is due");
    assert!(claim(&mut *q, "w", &["default"], 10, 60_000).is_empty());
    until_db_time_passes(&mut *q, now + 150);
    assert_eq!(q.depth(&["default".into()]).unwrap(), 1);
    assert_eq!(ids(&claim(&mut *q, "w", &["default"], 10, 60_000)), ["soon"], "the hour-away run waits");
}

pub fn concurrent_claimers_take_each_run_once(backend: &mut impl Backend) {
    let url = backend.url();
    let mut q = queue::open(&url).unwrap();
    let runs: Vec<NewRun> = (0..2_000).map(|i| new_run(&format!("r{i}"), "default")).collect();
    for chunk in runs.chunks(500) {
        q.enqueue(chunk).unwrap();
    }
    let claimed: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let url = url.clone();
                s.spawn(move || {
                    let mut q = queue::open(&url).unwrap();
                    let mut mine = Vec::new();
                    loop {
                        let batch = claim(&mut *q, &format!("w{t}"), &["default"], 50, 60_000);
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|c| c.id));
                    }
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), 2_000, "every run claimed");
    assert_eq!(unique.len(), 2_000, "none twice");
    assert_eq!(q.depth(&["default".into()]).unwrap(), 0);
}

pub fn a_queue_limit_holds_across_claimers(backend: &mut impl Backend) {
    let url = backend.url();
    let mut q = queue::open(&url).unwrap();
    q.set_limit("llm", Some(3)).unwrap();
    let runs: Vec<NewRun> = (0..20).map(|i| new_run(&format!("r{i}"), "llm")).collect();
    q.enqueue(&runs).unwrap();
    q.enqueue(&[new_run("free", "default")]).unwrap();
    let claimed: Vec<Claimed> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let url = url.clone();
                s.spawn(move || {
                    let mut q = queue::open(&url).unwrap();
                    (0..5).flat_map(|_| claim(&mut *q, &format!("w{t}"), &["llm"], 2, 60_000)).collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(claimed.len(), 3, "3 at once across every claimer");
    // a full queue does not hold back another
    assert_eq!(ids(&claim(&mut *q, "w9", &["llm", "default"], 5, 60_000)), ["free"]);
    // one ends: one more may run
    let store = backend.store();
    store.apply(&[Write::RunEnded { id: claimed[0].id.clone(), status: "succeeded".into(), output: None, error: None, ended_at: 2 }]).unwrap();
    assert_eq!(claim(&mut *q, "w9", &["llm"], 5, 60_000).len(), 1);
    q.set_limit("llm", None).unwrap();
    assert_eq!(claim(&mut *q, "w9", &["llm"], 100, 60_000).len(), 16, "no limit: the rest");
}

pub fn an_expired_lease_is_taken_over_with_the_next_epoch(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    let before = q.now_ms().unwrap();
    q.enqueue(&[NewRun { run_at: Some(before - 2), ..new_run("r", "default") }, NewRun { run_at: Some(before - 1), ..new_run("kept", "default") }]).unwrap();
    let short = claim(&mut *q, "w1", &["default"], 1, 100);
    let long = claim(&mut *q, "w1", &["default"], 1, 3_600_000);
    assert_eq!((ids(&short), ids(&long)), (vec!["r"], vec!["kept"]));
    assert!(claim(&mut *q, "w2", &["default"], 10, 60_000).is_empty(), "both leases hold");
    until_db_time_passes(&mut *q, before + 150);
    let taken = claim(&mut *q, "w2", &["default"], 10, 60_000);
    assert_eq!(ids(&taken), ["r"], "only the expired lease is taken over");
    assert_eq!((taken[0].epoch, taken[0].taken_over), (2, true));
    assert_eq!(q.renew("w1", 60_000).unwrap(), [("kept".to_owned(), 1)], "w1 learns it lost r");
    assert_eq!(q.renew("w2", 60_000).unwrap(), [("r".to_owned(), 2)]);
}

pub fn renew_answers_every_run_held_and_keeps_them(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    let before = q.now_ms().unwrap();
    // due in order: r0 first
    q.enqueue(&(0..5).map(|i| NewRun { run_at: Some(before - 10 + i), ..new_run(&format!("r{i}"), "default") }).collect::<Vec<_>>()).unwrap();
    assert_eq!(claim(&mut *q, "w1", &["default"], 3, 200).len(), 3);
    assert_eq!(claim(&mut *q, "w2", &["default"], 1, 200).len(), 1);
    let mut held = q.renew("w1", 3_600_000).unwrap();
    held.sort();
    assert_eq!(held, [("r0".to_owned(), 1), ("r1".to_owned(), 1), ("r2".to_owned(), 1)]);
    until_db_time_passes(&mut *q, before + 250);
    // w1's renewed leases hold; w2's lapsed and is taken, with the one still queued
    let mut taken = ids(&claim(&mut *q, "w3", &["default"], 10, 60_000)).into_iter().map(str::to_owned).collect::<Vec<_>>();
    taken.sort();
    assert_eq!(taken, ["r3", "r4"]);
    assert!(q.renew("w2", 1_000).unwrap().is_empty());
    assert!(q.renew("nobody", 1_000).unwrap().is_empty());
    assert_eq!(q.renew("w1", 0).unwrap_err().code(), "ARCFLOW_INVALID_VALUE", "a lease must be positive");
}

pub fn a_released_run_goes_back_for_another_worker(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    let now = q.now_ms().unwrap();
    q.enqueue(&[NewRun { run_at: Some(now - 2), ..new_run("a", "default") }, NewRun { run_at: Some(now - 1), ..new_run("b", "default") }]).unwrap();
    let held = claim(&mut *q, "w1", &["default"], 2, 60_000);
    assert_eq!(held.len(), 2);
    // a stale epoch, and someone else's release, leave the run alone
    q.release("w1", &[("a".into(), 1), ("b".into(), 7)]).unwrap();
    q.release("w2", &[("b".into(), 1)]).unwrap();
    assert_eq!(backend.store().get_run("a").unwrap().unwrap().status, "queued");
    assert_eq!(backend.store().get_run("b").unwrap().unwrap().status, "running");
    assert_eq!(q.renew("w1", 60_000).unwrap(), [("b".to_owned(), 1)]);
    let again = claim(&mut *q, "w2", &["default"], 10, 60_000);
    assert_eq!(ids(&again), ["a"]);
    assert_eq!((again[0].epoch, again[0].taken_over), (2, true), "a released run resumes from its snapshot");
}

pub fn a_cancel_request_depends_on_the_run_state(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    q.enqueue(&[new_run("queued", "default")]).unwrap();
    assert_eq!(q.request_cancel("queued", "abort").unwrap(), CancelAsked::Cancelled);
    assert_eq!(backend.store().get_run("queued").unwrap().unwrap().status, "cancelled");
    assert!(backend.store().get_run("queued").unwrap().unwrap().ended_at.is_some());
    q.enqueue(&[new_run("running", "default")]).unwrap();
    assert_eq!(ids(&claim(&mut *q, "w1", &["default"], 10, 60_000)), ["running"], "a cancelled run is never claimed");
    assert_eq!(q.request_cancel("running", "graceful").unwrap(), CancelAsked::Forwarded { owner: Some("w1".into()) });
    assert_eq!(q.cancels("w1").unwrap(), [("running".to_owned(), "graceful".to_owned())]);
    assert!(q.cancels("w2").unwrap().is_empty());
    assert_eq!(q.request_cancel("queued", "abort").unwrap(), CancelAsked::Ended { status: "cancelled".into() });
    assert_eq!(q.request_cancel("nope", "abort").unwrap(), CancelAsked::Unknown);
    // a run started in some process (no owner)
    let store = backend.store();
    store.apply(&[Write::RunStarted { id: "local".into(), workflow: "wf".into(), workflow_hash: None, input: "{}".into(), started_at: 1, account: None }]).unwrap();
    assert_eq!(q.request_cancel("local", "abort").unwrap(), CancelAsked::Forwarded { owner: None });
    store.apply(&[Write::RunEnded { id: "running".into(), status: "cancelled".into(), output: None, error: None, ended_at: 3 }]).unwrap();
    assert!(q.cancels("w1").unwrap().is_empty(), "answered until its run ends");
}

pub fn a_claimed_run_keeps_its_lease_through_its_start_and_loses_it_at_its_end(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    q.enqueue(&[NewRun { key: Some("k".into()), priority: 3, account: Some("acme".into()), ..new_run("r", "default") }]).unwrap();
    let held = claim(&mut *q, "w1", &["default"], 1, 60_000);
    let store = backend.store();
    store
        .apply(&[Write::RunStarted { id: "r".into(), workflow: "wf".into(), workflow_hash: Some("h".into()), input: "{\"n\":1}".into(), started_at: 5, account: Some("acme".into()) }])
        .unwrap();
    let run = store.get_run("r").unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.started_at, run.account.as_deref(), run.workflow_hash.as_deref()), ("running", 1, Some("acme"), Some("h")));
    assert_eq!(q.renew("w1", 60_000).unwrap(), [("r".to_owned(), held[0].epoch)], "owner and epoch kept by the start");
    let again = q.enqueue(&[NewRun { key: Some("k".into()), ..new_run("r2", "default") }]).unwrap();
    assert_eq!((again[0].id.as_str(), again[0].status.as_str()), ("r", "running"), "the key kept too");
    store.apply(&[Write::RunEnded { id: "r".into(), status: "succeeded".into(), output: Some("1".into()), error: None, ended_at: 9 }]).unwrap();
    assert!(q.renew("w1", 60_000).unwrap().is_empty(), "an ended run has no lease");
    assert_eq!(store.get_run("r").unwrap().unwrap().status, "succeeded");
    assert!(claim(&mut *q, "w2", &["default"], 10, 1).is_empty(), "an ended run is never claimed");
}

pub fn bad_queue_requests_are_refused_clearly(backend: &mut impl Backend) {
    let mut q = queue::open(&backend.url()).unwrap();
    assert_eq!(q.enqueue(&[new_run("r", "")]).unwrap_err().code(), "ARCFLOW_INVALID_VALUE");
    assert_eq!(q.enqueue(&[new_run("", "default")]).unwrap_err().code(), "ARCFLOW_INVALID_VALUE");
    let queues = vec!["default".to_owned()];
    let bad_lease = q.claim(&ClaimRequest { worker: "w", queues: &queues, limit: 1, lease_ms: -5 });
    assert_eq!(bad_lease.unwrap_err().code(), "ARCFLOW_INVALID_VALUE");
    assert_eq!(q.set_limit("", Some(1)).unwrap_err().code(), "ARCFLOW_INVALID_VALUE");
    // an id already taken is the store's refusal, not a panic
    q.enqueue(&[new_run("r", "default")]).unwrap();
    assert_eq!(q.enqueue(&[new_run("r", "default")]).unwrap_err().code(), "ARCFLOW_STORE");
    assert!(queue::open("mysql://x").is_err());
}
