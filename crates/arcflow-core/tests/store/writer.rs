//! The write-behind thread over a real SQLite file: what it commits at
//! close, a failing store (retried, never dropped), a full queue, a locked
//! database, the ledger's keys, a call's writes kept in one batch, and
//! fences.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arcflow_core::store::{Execution, RunFilter, RunRecord, SqliteStore, Store, WriteBehind, WriterConfig, Write};

use super::{started, task, temp_db};

/// A write-behind thread on the SQLite file `path`, flushing every `flush_interval`.
fn sqlite_writer(path: &str, flush_interval: Duration) -> WriteBehind {
    WriteBehind::start(Box::new(SqliteStore::open(path).unwrap()), WriterConfig { flush_interval, ..WriterConfig::default() }).unwrap()
}

#[test]
fn close_commits_everything_queued() {
    let path = temp_db("close");
    let writer = sqlite_writer(&path, Duration::from_secs(60));
    writer.enqueue([started("r")]).unwrap();
    for step in 0..25_000 {
        writer.enqueue([task("r", step, 1)]).unwrap();
    }
    writer.close();
    let stats = writer.stats();
    assert_eq!((stats.committed, stats.queue_depth, stats.closed), (25_001, 0, true));
    assert_eq!(SqliteStore::open(&path).unwrap().tasks("r", 0).unwrap().len(), 25_000);
    assert!(writer.enqueue([started("late")]).is_err(), "a closed store refuses writes");
}

/// Fails its first `failures` batches, then passes them to SQLite; with
/// `seen`, records the run ids of each batch it is given.
struct Flaky {
    inner: SqliteStore,
    failures: Arc<AtomicUsize>,
    seen: Option<Arc<std::sync::Mutex<Vec<Vec<String>>>>>,
    /// Batches given with fences (checked against their runs' leases).
    fenced: Arc<AtomicUsize>,
}

impl Store for Flaky {
    fn apply(&mut self, batch: &[Write]) -> arcflow_core::Result<()> {
        if let Some(seen) = &self.seen {
            let ids = batch.iter().map(|w| if let Write::Task(e) = w { e.run_id.to_string() } else { String::new() }).collect();
            seen.lock().unwrap().push(ids);
        }
        // one atomic step: a reset to 0 between a load and a decrement would wrap
        if self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(arcflow_core::Error::Store { message: "disk I/O error (injected)".into(), transient: true });
        }
        self.inner.apply(batch)
    }
    fn apply_fenced(&mut self, batch: &[Write], fences: &[arcflow_core::store::Fence]) -> arcflow_core::Result<Vec<String>> {
        self.fenced.fetch_add(1, Ordering::SeqCst);
        self.inner.apply_fenced(batch, fences)
    }
    fn get_run(&mut self, id: &str) -> arcflow_core::Result<Option<RunRecord>> {
        self.inner.get_run(id)
    }
    fn runs(&mut self, filter: &RunFilter) -> arcflow_core::Result<Vec<RunRecord>> {
        self.inner.runs(filter)
    }
    fn tasks(&mut self, run_id: &str, after: u64) -> arcflow_core::Result<Vec<Execution>> {
        self.inner.tasks(run_id, after)
    }
    fn activation(&mut self, run_id: &str, task: &str, step: u32) -> arcflow_core::Result<Vec<Execution>> {
        self.inner.activation(run_id, task, step)
    }
    fn snapshot(&mut self, run_id: &str) -> arcflow_core::Result<Option<(u64, String)>> {
        self.inner.snapshot(run_id)
    }
    fn events(&mut self, run_id: &str) -> arcflow_core::Result<Vec<arcflow_core::store::EventRecord>> {
        self.inner.events(run_id)
    }
    fn balance(&mut self, account: &str) -> arcflow_core::Result<Option<i64>> {
        self.inner.balance(account)
    }
    fn ledger_has(&mut self, key: &str) -> arcflow_core::Result<bool> {
        self.inner.ledger_has(key)
    }
    fn ledger(&mut self, account: &str, limit: u32) -> arcflow_core::Result<Vec<arcflow_core::meter::LedgerEntry>> {
        self.inner.ledger(account, limit)
    }
    fn workflow_definition(&mut self, name: &str, hash: &str) -> arcflow_core::Result<Option<String>> {
        self.inner.workflow_definition(name, hash)
    }
}

#[test]
fn a_failing_batch_is_retried_never_dropped_and_waiters_see_it_land() {
    let path = temp_db("flaky");
    let failures = Arc::new(AtomicUsize::new(4));
    let store = Flaky { inner: SqliteStore::open(&path).unwrap(), failures: Arc::clone(&failures), seen: None, fenced: Arc::default() };
    let config = WriterConfig { flush_interval: Duration::from_millis(5), retry_delay: Duration::from_millis(2), ..WriterConfig::default() };
    let writer = WriteBehind::start(Box::new(store), config).unwrap();
    let (seq, full) = writer.enqueue([started("r"), task("r", 1, 1)]).unwrap();
    assert_eq!((seq, full), (2, false));
    let mut stats = writer.stats();
    while stats.committed < seq {
        stats = writer.wait_progress(stats.committed, Duration::from_secs(5));
    }
    assert_eq!(stats.retries, 4);
    assert_eq!(stats.failing, None, "the fault cleared");
    writer.close();
    assert_eq!(SqliteStore::open(&path).unwrap().tasks("r", 0).unwrap().len(), 1);
}

#[test]
fn a_full_queue_asks_the_caller_to_wait() {
    let path = temp_db("full");
    let failures = Arc::new(AtomicUsize::new(usize::MAX));
    let store = Flaky { inner: SqliteStore::open(&path).unwrap(), failures: Arc::clone(&failures), seen: None, fenced: Arc::default() };
    let config = WriterConfig { capacity: 100, batch_size: 10, retry_delay: Duration::from_millis(1), max_retry_delay: Duration::from_millis(5), ..WriterConfig::default() };
    let writer = WriteBehind::start(Box::new(store), config).unwrap();
    let mut full = false;
    for step in 0..150 {
        full = writer.enqueue([task("r", step, 1)]).unwrap().1;
    }
    // the fault clears whatever happens below: a failed assertion must not
    // leave close() (run by Drop) retrying forever
    struct Clear(Arc<AtomicUsize>);
    impl Drop for Clear {
        fn drop(&mut self) {
            self.0.store(0, Ordering::SeqCst);
        }
    }
    let clear = Clear(Arc::clone(&failures));
    assert!(full, "past capacity the queue says so");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while writer.stats().failing.is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(writer.stats().failing.is_some(), "the failure shows in the stats");
    assert_eq!(writer.stats().committed, 0);
    drop(clear);
    writer.close();
    assert_eq!(writer.stats().committed, 150, "nothing was dropped while the store failed");
}

#[test]
fn a_locked_database_delays_writes_until_the_lock_is_released() {
    let path = temp_db("locked");
    let writer = sqlite_writer(&path, Duration::from_millis(5));
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (seq, _) = writer.enqueue([started("r")]).unwrap();
    let stats = writer.wait_progress(0, Duration::from_millis(300));
    assert_eq!(stats.committed, 0, "nothing commits while another connection holds the lock");
    other.execute_batch("COMMIT").unwrap();
    let mut stats = writer.stats();
    while stats.committed < seq {
        stats = writer.wait_progress(stats.committed, Duration::from_secs(10));
    }
    writer.close();
    assert!(SqliteStore::open(&path).unwrap().get_run("r").unwrap().is_some());
}

fn charge(run: &str, task: &str, amount: i64) -> Write {
    use arcflow_core::meter::{LedgerKey, LedgerWrite};
    Write::Ledger(LedgerWrite {
        account: "acme".into(),
        amount,
        kind: "charge",
        key: LedgerKey::Unit { run_id: run.into(), task: task.into(), step: 1, item: -1, attempt: 1 },
        at: 5,
        lease: None,
    })
}

#[test]
fn a_ledger_entry_applies_once_whatever_the_retries_and_the_deliveries() {
    use arcflow_core::meter::{LedgerKey, LedgerWrite};
    let path = temp_db("ledger");
    let failures = Arc::new(AtomicUsize::new(3));
    let store = Flaky { inner: SqliteStore::open(&path).unwrap(), failures: Arc::clone(&failures), seen: None, fenced: Arc::default() };
    let config = WriterConfig { flush_interval: Duration::from_millis(5), retry_delay: Duration::from_millis(1), ..WriterConfig::default() };
    let writer = WriteBehind::start(Box::new(store), config).unwrap();
    let credit = Write::Ledger(LedgerWrite { account: "acme".into(), amount: 100, kind: "credit", key: LedgerKey::Given("top-up".into()), at: 1, lease: None });
    // a failing batch retried three times, then the same writes delivered again
    writer.enqueue([credit.clone(), charge("r1", "a", -7), charge("r1", "b", -5)]).unwrap();
    writer.enqueue([credit, charge("r1", "a", -7)]).unwrap();
    writer.close();
    assert_eq!(writer.stats().retries, 3);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.balance("acme").unwrap(), Some(88), "100 credited once, 7 and 5 charged once");
    let ledger = store.ledger("acme", 10).unwrap();
    assert_eq!(ledger.len(), 3);
    assert_eq!(ledger.iter().map(|e| e.amount).sum::<i64>(), 88);
    assert!(store.ledger_has("r1/a/1/-1/1/charge").unwrap());
    assert!(store.ledger_has("credit/top-up").unwrap());
}

#[test]
fn a_batch_never_splits_the_writes_of_one_call() {
    let path = temp_db("groups");
    let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = Flaky { inner: SqliteStore::open(&path).unwrap(), failures: Arc::new(AtomicUsize::new(0)), seen: Some(Arc::clone(&batches)), fenced: Arc::default() };
    // batches of 3 at most, flushed only at close: the cuts fall where they may
    let config = WriterConfig { flush_interval: Duration::from_secs(60), batch_size: 3, ..WriterConfig::default() };
    let writer = WriteBehind::start(Box::new(store), config).unwrap();
    writer.enqueue([task("single-1", 1, 1)]).unwrap();
    writer.enqueue([task("single-2", 1, 1)]).unwrap();
    writer.enqueue((1..=4).map(|step| task("group-a", step, 1))).unwrap();
    writer.enqueue([task("single-3", 1, 1)]).unwrap();
    writer.enqueue((1..=2).map(|step| task("group-b", step, 1))).unwrap();
    writer.close();
    let batches = batches.lock().unwrap();
    for group in ["group-a", "group-b"] {
        let holding: Vec<usize> = (0..batches.len()).filter(|&i| batches[i].iter().any(|id| id == group)).collect();
        assert_eq!(holding.len(), 1, "{group} was split across batches {batches:?}");
    }
    assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 9);
    assert!(batches.iter().all(|b| b.len() <= 6), "a batch grows only to finish a group: {batches:?}");
}
#[test]
fn a_durable_meter_knows_its_own_credit_keys_before_they_commit() {
    use arcflow_core::meter::Meter;
    let path = temp_db("credit-keys");
    let other = rusqlite::Connection::open(&path).unwrap();
    let writer = Arc::new(
        sqlite_writer(&path, Duration::from_millis(5)),
    );
    let mut reader = SqliteStore::open(&path).unwrap();
    // the credit cannot commit while another connection holds the write lock
    other.execute_batch("BEGIN IMMEDIATE; CREATE TABLE lock_probe (x)").unwrap();
    let meter = Meter::new(Some(Arc::clone(&writer)), 0);
    assert_eq!(meter.credit("acme", 10, "k", Some(&mut reader)).unwrap(), (true, 10));
    assert_eq!(meter.credit("acme", 10, "k", Some(&mut reader)).unwrap(), (false, 10), "the queued key is seen without waiting for it");
    other.execute_batch("COMMIT").unwrap();
    writer.close();
    assert_eq!(reader.balance("acme").unwrap(), Some(10));
}

#[test]
fn only_a_batch_writing_a_fenced_run_is_checked_and_a_fence_goes_with_its_runs_end() {
    let path = temp_db("fence-path");
    let mut queue = arcflow_core::queue::open(&format!("sqlite:{path}")).unwrap();
    let run = |id: &str| arcflow_core::queue::NewRun {
        id: id.into(), workflow: "wf".into(), input: "{}".into(), queue: "q".into(), key: None, priority: 0, run_at: None, account: None, at: 1,
    };
    queue.enqueue(&[run("held")]).unwrap();
    let queues = ["q".to_owned()];
    let claimed = queue.claim(&arcflow_core::queue::ClaimRequest { worker: "w1", queues: &queues, limit: 1, lease_ms: 60_000 }).unwrap();
    let fenced = Arc::new(AtomicUsize::new(0));
    let store = Flaky { inner: SqliteStore::open(&path).unwrap(), failures: Arc::default(), seen: None, fenced: Arc::clone(&fenced) };
    let writer = WriteBehind::start(Box::new(store), WriterConfig { flush_interval: Duration::from_millis(2), ..WriterConfig::default() }).unwrap();
    writer.enqueue([started("free"), task("free", 1, 1)]).unwrap();
    assert!(writer.settle(Duration::from_secs(10)));
    assert_eq!(fenced.load(Ordering::SeqCst), 0, "nothing fenced: the plain apply, no check");
    writer.fence("held", "w1", claimed[0].epoch);
    writer.enqueue([task("free", 2, 1)]).unwrap();
    assert!(writer.settle(Duration::from_secs(10)));
    assert_eq!(fenced.load(Ordering::SeqCst), 0, "a batch of unfenced runs is not checked");
    writer.enqueue([task("held", 1, 1), Write::RunEnded { id: "held".into(), status: "succeeded".into(), output: None, error: None, ended_at: 2 }]).unwrap();
    assert!(writer.settle(Duration::from_secs(10)));
    assert_eq!(fenced.load(Ordering::SeqCst), 1);
    assert!(writer.take_lost().is_empty(), "the holder's writes land");
    writer.enqueue([task("held", 2, 1)]).unwrap();
    assert!(writer.settle(Duration::from_secs(10)));
    assert_eq!(fenced.load(Ordering::SeqCst), 1, "its end committed: the fence is gone");
    writer.close();
    let mut reader = SqliteStore::open(&path).unwrap();
    assert_eq!(reader.tasks("held", 0).unwrap().len(), 2);
    assert_eq!(reader.get_run("held").unwrap().unwrap().status, "succeeded");
}
