//! The fencing rule of the backend contract: writes the flush thread
//! commits for a run are refused once another worker took the run over,
//! all of them (its charges included), and the rest of the batch lands.

use std::time::Duration;

use arcflow_core::queue;
use arcflow_core::store::{self, Write, WriteBehind, WriterConfig};

use super::queue::{claim, new_run, until_db_time_passes};
use super::{charge, credit, ended, event, task, Backend};

pub fn a_taken_over_runs_writes_are_refused_whole_and_the_rest_lands(backend: &mut impl Backend) {
    let url = backend.url();
    let mut q = queue::open(&url).unwrap();
    let before = q.now_ms().unwrap();
    q.enqueue(&[new_run("lost", "default")]).unwrap();
    let lost = claim(&mut *q, "w1", &["default"], 1, 100).remove(0);
    q.enqueue(&[new_run("kept", "default")]).unwrap();
    let kept = claim(&mut *q, "w1", &["default"], 1, 3_600_000).remove(0);
    until_db_time_passes(&mut *q, before + 150);
    let taken = claim(&mut *q, "w2", &["default"], 1, 3_600_000).remove(0);
    assert_eq!((taken.id.as_str(), taken.epoch), ("lost", 2));

    // w1's writer still believes it holds both
    let writer = WriteBehind::start(store::open(&url).unwrap(), WriterConfig { flush_interval: Duration::from_millis(5), ..WriterConfig::default() }).unwrap();
    writer.fence("lost", "w1", lost.epoch);
    writer.fence("kept", "w1", kept.epoch);
    let stale = |run: &str| {
        vec![
            task(run, "a", "succeeded", 1),
            Write::Var { run_id: run.into(), name: "v".into(), value: "1".into() },
            Write::Snapshot { run_id: run.into(), jseq: 1, state: "s".into() },
            event(run, "said", 2),
            charge("acme", run, "a", -1, 7, 2),
        ]
    };
    writer.enqueue([credit("acme", 100, "top-up", 1)]).unwrap();
    writer.enqueue(stale("lost")).unwrap();
    writer.enqueue(stale("kept")).unwrap();
    writer.enqueue([ended("lost", "succeeded", 3)]).unwrap();
    assert!(writer.settle(Duration::from_secs(30)), "the batch committed");

    let store = backend.store();
    assert!(store.tasks("lost", 0).unwrap().is_empty(), "the stale worker's task row is refused");
    assert_eq!(store.snapshot("lost").unwrap(), None);
    assert!(store.events("lost").unwrap().is_empty());
    assert!(!store.ledger_has("lost/a/1/-1/1/charge").unwrap(), "a fenced-out attempt is never billed");
    let run = store.get_run("lost").unwrap().unwrap();
    assert_eq!(run.status, "running", "its end refused: the new holder runs it");
    assert_eq!(store.tasks("kept", 0).unwrap().len(), 1, "the run still held lands");
    assert_eq!(store.snapshot("kept").unwrap().map(|s| s.0), Some(1));
    assert_eq!(store.events("kept").unwrap().len(), 1);
    assert_eq!(store.balance("acme").unwrap(), Some(93), "the credit and the held run's charge only");
    assert_eq!(writer.take_lost(), [("lost".to_owned(), 1)]);
    assert!(writer.take_lost().is_empty(), "reported once");
    assert_eq!(writer.stats().lost_leases, 1);
    assert_eq!(q.renew("w2", 60_000).unwrap(), [("lost".to_owned(), 2)], "the new holder's lease is untouched");

    // late writes still queued for it are refused too, and not reported again
    writer.enqueue([task("lost", "b", "succeeded", 4)]).unwrap();
    assert!(writer.settle(Duration::from_secs(30)));
    assert!(backend.store().tasks("lost", 0).unwrap().is_empty());
    assert_eq!(writer.stats().lost_leases, 1);

    // the new holder's writes land (its own fence)
    let w2 = WriteBehind::start(store::open(&url).unwrap(), WriterConfig { flush_interval: Duration::from_millis(5), ..WriterConfig::default() }).unwrap();
    w2.fence("lost", "w2", 2);
    w2.enqueue([task("lost", "a", "succeeded", 1), charge("acme", "lost", "a", -1, 7, 2), ended("lost", "succeeded", 5)]).unwrap();
    assert!(w2.settle(Duration::from_secs(30)));
    assert!(w2.take_lost().is_empty());
    let store = backend.store();
    assert_eq!(store.tasks("lost", 0).unwrap().len(), 1);
    assert_eq!(store.balance("acme").unwrap(), Some(86));
    assert_eq!(store.get_run("lost").unwrap().unwrap().status, "succeeded");
    writer.close();
    w2.close();
}

pub fn a_fenced_out_run_stays_refused_when_a_bad_write_splits_its_batch(backend: &mut impl Backend) {
    backend.refuse_events_saying("refused");
    let url = backend.url();
    let mut q = queue::open(&url).unwrap();
    let before = q.now_ms().unwrap();
    q.enqueue(&[new_run("lost", "default")]).unwrap();
    let lost = claim(&mut *q, "w1", &["default"], 1, 100).remove(0);
    until_db_time_passes(&mut *q, before + 150);
    assert_eq!(claim(&mut *q, "w2", &["default"], 1, 3_600_000)[0].epoch, 2);

    let writer = WriteBehind::start(store::open(&url).unwrap(), WriterConfig { flush_interval: Duration::from_secs(1), ..WriterConfig::default() }).unwrap();
    writer.fence("lost", "w1", lost.epoch);
    // one batch (taken by the settle below, well within the interval): the lost run's writes, a good call, a call the store refuses for good
    writer.enqueue([task("lost", "a", "succeeded", 1), charge("acme", "lost", "a", -1, 7, 2)]).unwrap();
    writer.enqueue([credit("acme", 100, "top-up", 1)]).unwrap();
    writer.enqueue([event("other", "refused", 2)]).unwrap();
    assert!(!writer.settle(Duration::from_secs(30)), "one call was set aside");
    let store = backend.store();
    assert!(store.tasks("lost", 0).unwrap().is_empty(), "the halves applied alone are fenced too");
    assert_eq!(store.balance("acme").unwrap(), Some(100), "the credit landed, the stale charge did not");
    assert_eq!(writer.take_lost(), [("lost".to_owned(), 1)]);
    assert_eq!(writer.stats().rejected, 1);
    writer.close();
}
