//! Permanent store errors: a write the store refuses for good is set aside
//! (alone, with the rest of its call), counted and reported, never retried
//! in a loop and never dropped silently; its waiters wake and can see why.
//! Transient errors are retried (see `store.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arcflow_core::meter::LedgerEntry;
use arcflow_core::store::{EventRecord, Execution, RunFilter, RunRecord, SqliteStore, Store, WriteBehind, WriterConfig, Write};
use arcflow_core::{Error, Result};

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("arcflow-permanent-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("arcflow.db").to_string_lossy().into_owned()
}

fn started(id: &str) -> Write {
    Write::RunStarted { id: id.into(), workflow: "wf".into(), workflow_hash: None, input: "{}".into(), started_at: 1, account: None }
}

fn task(run: &str, step: u32, status: &'static str) -> Write {
    Write::Task(Execution {
        run_id: run.into(),
        task: format!("t{step}").into(),
        step,
        item: -1,
        attempt: 1,
        status,
        payload: None,
        input: None,
        started_at: (status == "running").then_some(1),
        ended_at: (status != "running").then_some(2),
        jseq: u64::from(step),
    })
}

fn event(run: &str, message: &str) -> Write {
    Write::Event(EventRecord { run_id: run.into(), kind: "task.log".into(), task: None, item: None, attempt: None, message: message.into(), data: None, at: 3 })
}

/// Refuses for good any batch holding the event `poison` (as a store
/// refuses a write that breaks a constraint); counts the batches it is given.
struct Poisoned {
    inner: SqliteStore,
    applies: Arc<AtomicUsize>,
}

impl Store for Poisoned {
    fn apply(&mut self, batch: &[Write]) -> Result<()> {
        self.applies.fetch_add(1, Ordering::SeqCst);
        if batch.iter().any(|w| matches!(w, Write::Event(e) if e.message == "poison")) {
            return Err(Error::Store { message: "a constraint failed (injected)".into(), transient: false });
        }
        self.inner.apply(batch)
    }
    fn get_run(&mut self, id: &str) -> Result<Option<RunRecord>> {
        self.inner.get_run(id)
    }
    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        self.inner.runs(filter)
    }
    fn tasks(&mut self, run_id: &str, after: u64) -> Result<Vec<Execution>> {
        self.inner.tasks(run_id, after)
    }
    fn activation(&mut self, run_id: &str, task: &str, step: u32) -> Result<Vec<Execution>> {
        self.inner.activation(run_id, task, step)
    }
    fn snapshot(&mut self, run_id: &str) -> Result<Option<(u64, String)>> {
        self.inner.snapshot(run_id)
    }
    fn events(&mut self, run_id: &str) -> Result<Vec<EventRecord>> {
        self.inner.events(run_id)
    }
    fn balance(&mut self, account: &str) -> Result<Option<i64>> {
        self.inner.balance(account)
    }
    fn ledger_has(&mut self, key: &str) -> Result<bool> {
        self.inner.ledger_has(key)
    }
    fn ledger(&mut self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>> {
        self.inner.ledger(account, limit)
    }
    fn workflow_definition(&mut self, name: &str, hash: &str) -> Result<Option<String>> {
        self.inner.workflow_definition(name, hash)
    }
}

fn poisoned_writer(path: &str, flush_interval: Duration) -> (WriteBehind, Arc<AtomicUsize>) {
    let applies = Arc::new(AtomicUsize::new(0));
    let store = Poisoned { inner: SqliteStore::open(path).unwrap(), applies: Arc::clone(&applies) };
    let config = WriterConfig { flush_interval, retry_delay: Duration::from_millis(1), ..WriterConfig::default() };
    (WriteBehind::start(Box::new(store), config).unwrap(), applies)
}

#[test]
fn a_permanently_refused_call_is_set_aside_alone_and_everything_else_commits() {
    let path = temp_db("alone");
    // flushed only at close: every call below lands in one batch
    let (writer, _) = poisoned_writer(&path, Duration::from_secs(60));
    writer.enqueue([started("good"), started("bad")]).unwrap(); // 1..=2
    writer.enqueue([task("bad", 1, "running")]).unwrap(); // 3, merged into 5
    writer.enqueue([task("good", 1, "succeeded")]).unwrap(); // 4
    writer.enqueue([task("bad", 1, "succeeded"), event("bad", "poison"), task("bad", 2, "succeeded")]).unwrap(); // 5..=7
    writer.enqueue([event("good", "fine")]).unwrap(); // 8
    writer.close();
    let stats = writer.stats();
    assert_eq!(stats.retries, 0, "a permanent error is not retried");
    assert_eq!(stats.rejected, 4, "the poisoned call's 3 writes and the running write merged into it");
    assert_eq!((stats.committed, stats.settled, stats.queue_depth), (4, 8, 0));
    let why = stats.rejection.expect("the rejection is kept");
    assert!(why.contains("writes 5..=7") && why.contains("injected"), "{why}");
    assert_eq!(writer.rejection(6, 6), Some(why));
    assert_eq!(writer.rejection(1, 4), None);
    assert_eq!(writer.rejection(8, 8), None);

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.tasks("good", 0).unwrap().len(), 1);
    assert_eq!(store.events("good").unwrap().len(), 1, "a call queued after the bad one commits");
    assert!(store.get_run("bad").unwrap().is_some(), "a call queued before the bad one commits");
    assert!(store.tasks("bad", 0).unwrap().is_empty(), "the bad call is set aside whole");
}

#[test]
fn one_bad_write_among_many_costs_a_few_transactions_not_one_per_write() {
    let path = temp_db("many");
    let (writer, applies) = poisoned_writer(&path, Duration::from_secs(60));
    writer.enqueue([started("r")]).unwrap();
    for step in 1..=1000 {
        writer.enqueue([if step == 700 { event("r", "poison") } else { task("r", step, "succeeded") }]).unwrap();
    }
    writer.close();
    let stats = writer.stats();
    assert_eq!((stats.committed, stats.rejected), (1000, 1));
    assert!(writer.rejection(701, 701).is_some(), "the bad write is the 701st queued");
    assert!(applies.load(Ordering::SeqCst) <= 2 + 2 * 11, "{} transactions", applies.load(Ordering::SeqCst));
    assert_eq!(SqliteStore::open(&path).unwrap().tasks("r", 0).unwrap().len(), 999);
}

#[test]
fn a_waiter_wakes_for_a_write_set_aside_and_can_see_why() {
    let path = temp_db("waiter");
    let (writer, _) = poisoned_writer(&path, Duration::from_millis(5));
    let (seq, _) = writer.enqueue([started("r"), event("r", "poison")]).unwrap();
    assert!(!writer.settle(Duration::from_secs(10)), "a read does not see its writes: they were set aside");
    let stats = writer.wait_progress(0, Duration::from_secs(10));
    assert_eq!(stats.settled, seq, "the waiter woke: its sequence number is done with");
    assert_eq!(stats.committed, 0);
    assert!(stats.permanent, "the failure is marked permanent");
    assert!(stats.failing.as_deref().is_some_and(|f| f.contains("set aside")), "{stats:?}");
    assert!(writer.rejection(1, seq).is_some());

    // the store moves on: the next write commits, the rejection stays reported
    writer.enqueue([started("after")]).unwrap();
    assert!(writer.settle(Duration::from_secs(10)));
    let stats = writer.stats();
    assert_eq!((stats.failing, stats.permanent, stats.rejected), (None, false, 2));
    assert!(stats.rejection.is_some());
    writer.close();
}

#[test]
fn a_real_sqlite_constraint_is_permanent_and_only_its_call_is_set_aside() {
    let path = temp_db("constraint");
    drop(SqliteStore::open(&path).unwrap());
    // a constraint the schema does not have, added by hand: RAISE(ABORT) is SQLITE_CONSTRAINT
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.message = 'poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned event refused'); END;",
        )
        .unwrap();
    let mut direct = SqliteStore::open(&path).unwrap();
    let err = direct.apply(&[started("x"), event("x", "poison")]).unwrap_err();
    assert!(matches!(&err, Error::Store { transient: false, message } if message.contains("poisoned event refused")), "{err:?}");
    assert!(direct.get_run("x").unwrap().is_none(), "all or nothing");

    let config = WriterConfig { flush_interval: Duration::from_secs(60), ..WriterConfig::default() };
    let writer = WriteBehind::start(arcflow_core::store::open(&format!("sqlite:{path}")).unwrap(), config).unwrap();
    writer.enqueue([started("r"), event("r", "fine")]).unwrap();
    writer.enqueue([event("r", "poison"), task("r", 1, "succeeded")]).unwrap();
    writer.enqueue([task("r", 2, "succeeded")]).unwrap();
    writer.close();
    let stats = writer.stats();
    assert_eq!((stats.committed, stats.rejected, stats.retries), (3, 2, 0));
    assert!(stats.rejection.is_some_and(|r| r.contains("writes 3..=4") && r.contains("poisoned event refused")));
    assert_eq!(direct.tasks("r", 0).unwrap().iter().map(|t| t.step).collect::<Vec<_>>(), [2]);
}

#[test]
fn a_database_from_a_newer_arcflow_is_refused_at_open_as_permanent() {
    let path = temp_db("newer");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let err = arcflow_core::store::open(&format!("sqlite:{path}")).err().expect("a newer schema must be refused");
    assert!(matches!(err, Error::Store { transient: false, .. }), "{err:?}");
    assert!(err.to_string().contains("schema version 99") && err.to_string().contains("upgrade arcflow"), "{err}");
}
