//! PostgreSQL-specific checks beside the backend contract: the
//! write-behind queue over it, opening (schemas, concurrent migrations, a
//! newer schema), errors (transient or permanent, never the password) and
//! a lost connection.

mod support;

use std::time::Duration;

use arcflow_core::store::{self, EventRecord, Execution, LedgerKey, LedgerWrite, Store, WriteBehind, WriterConfig, Write};
use arcflow_core::Error;

fn started(id: &str) -> Write {
    Write::RunStarted { id: id.into(), workflow: "wf".into(), input: "{}".into(), started_at: 1, account: None, workflow_hash: None }
}

fn task(run: &str, name: &str, status: &'static str, jseq: u64) -> Write {
    Write::Task(Execution {
        run_id: run.into(),
        task: name.into(),
        step: 1,
        item: -1,
        attempt: 1,
        status,
        payload: None,
        input: None,
        started_at: (status == "running").then_some(jseq as i64),
        ended_at: None,
        jseq,
    })
}

fn event(run: &str, message: &str) -> Write {
    Write::Event(EventRecord { run_id: run.into(), kind: "task.log".into(), task: None, item: None, attempt: None, message: message.into(), data: None, at: 1 })
}

fn charge(run: &str, task: &str, amount: i64) -> Write {
    let key = LedgerKey::Unit { run_id: run.into(), task: task.into(), step: 1, item: -1, attempt: 1 };
    Write::Ledger(LedgerWrite { account: "acme".into(), amount: -amount, kind: "charge", key, at: 1, lease: None })
}

fn refuse_events_saying(schema: &str, message: &str) {
    support::postgres::cluster()
        .client()
        .batch_execute(&format!("ALTER TABLE \"{schema}\".events ADD CONSTRAINT refuse_events CHECK (message <> '{message}')"))
        .unwrap();
}

#[test]
fn the_write_behind_queue_commits_to_postgres_and_sets_aside_only_a_refused_call() {
    let (url, schema) = support::postgres::cluster().fresh_url("writer");
    let config = WriterConfig { flush_interval: Duration::from_millis(5), ..WriterConfig::default() };
    let writer = WriteBehind::start(store::open(&url).unwrap(), config).unwrap();
    refuse_events_saying(&schema, "refused");
    writer.enqueue([started("r")]).unwrap();
    writer.enqueue([task("r", "a", "running", 1), charge("r", "a", 3)]).unwrap();
    writer.enqueue([task("r", "a", "succeeded", 2), task("r", "b", "running", 3)]).unwrap();
    assert!(writer.settle(Duration::from_secs(10)), "everything queued commits: {:?}", writer.stats());
    let (last, _) = writer.enqueue([task("r", "b", "succeeded", 4), event("r", "refused")]).unwrap();
    writer.enqueue([event("r", "kept")]).unwrap();
    assert!(!writer.settle(Duration::from_secs(10)), "one call was set aside");
    assert!(writer.rejection(last - 1, last).is_some_and(|why| why.contains("refuse_events")), "{:?}", writer.stats());
    writer.close();
    let stats = writer.stats();
    assert_eq!((stats.committed, stats.rejected), (6, 2), "{stats:?}");

    let mut reader = store::open(&url).unwrap();
    let tasks = reader.tasks("r", 0).unwrap();
    let rows: Vec<(&str, &str, u64)> = tasks.iter().map(|t| (&*t.task, t.status, t.jseq)).collect();
    assert_eq!(rows, [("a", "succeeded", 2), ("b", "running", 3)], "the refused call's execution write did not land");
    assert_eq!(tasks[0].started_at, Some(1), "the running write's start is kept");
    assert_eq!(reader.balance("acme").unwrap(), Some(-3));
    let events: Vec<String> = reader.events("r").unwrap().into_iter().map(|e| e.message).collect();
    assert_eq!(events, ["kept"]);
    assert_eq!(reader.get_run("r").unwrap().unwrap().status, "running");
}

#[test]
fn processes_opening_one_schema_at_once_migrate_it_once() {
    let (url, schema) = support::postgres::cluster().fresh_url("race");
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || store::open(&url).map(drop))
        })
        .collect();
    for handle in opened {
        handle.join().unwrap().unwrap_or_else(|e| panic!("a concurrent open failed: {e}"));
    }
    let rows = support::postgres::cluster().client().query(&format!("SELECT version FROM \"{schema}\".arcflow_schema"), &[]).unwrap();
    let latest = 9; // the migrations of store/postgres/schema.rs
    assert_eq!(rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>(), [latest], "one version row, at the latest version");
}

#[test]
fn a_newer_schema_is_refused_clearly() {
    let (url, schema) = support::postgres::cluster().fresh_url("newer");
    drop(store::open(&url).unwrap());
    support::postgres::cluster().client().batch_execute(&format!("UPDATE \"{schema}\".arcflow_schema SET version = 99")).unwrap();
    let err = store::open(&url).err().expect("a newer schema is refused");
    assert!(matches!(err, Error::Store { transient: false, .. }), "{err:?}");
    assert!(err.to_string().contains("schema version 99, newer than this arcflow supports"), "{err}");
}

#[test]
fn a_schema_keeps_its_tables_apart_from_another() {
    let cluster = support::postgres::cluster();
    let (one, _) = cluster.fresh_url("apart");
    let (two, _) = cluster.fresh_url("apart");
    store::open(&one).unwrap().apply(&[started("r")]).unwrap();
    assert!(store::open(&one).unwrap().get_run("r").unwrap().is_some());
    assert_eq!(store::open(&two).unwrap().get_run("r").unwrap(), None);
}

#[test]
fn errors_are_permanent_for_what_a_retry_cannot_fix_and_never_show_the_password() {
    let (url, schema) = support::postgres::cluster().fresh_url("errors");
    let mut store = store::open(&url).unwrap();
    refuse_events_saying(&schema, "refused");
    let err = store.apply(&[event("r", "refused")]).unwrap_err();
    assert!(matches!(err, Error::Store { transient: false, .. }), "a constraint is permanent: {err:?}");
    assert!(err.to_string().contains("23514"), "the SQLSTATE is said: {err}");
    store.apply(&[event("r", "fine")]).unwrap();

    let err = store::open("postgres://arcflow:s3cret-pw@127.0.0.1:1/db?schema=x").err().unwrap();
    assert!(matches!(err, Error::Store { transient: true, .. }), "a server that is not there is transient: {err:?}");
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    let err = store::open("postgresql://arcflow:s3cret-pw@127.0.0.1:notaport/db").err().unwrap();
    assert!(matches!(err, Error::Store { transient: false, .. }), "a malformed URL is permanent: {err:?}");
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    let err = store::open("postgres://127.0.0.1/db?schema=no-dashes").err().unwrap();
    assert_eq!(err.code(), "ARCFLOW_INVALID_VALUE", "{err}");
}

#[test]
fn a_lost_connection_is_transient_and_the_next_call_opens_another() {
    let cluster = support::postgres::cluster();
    let (url, _) = cluster.fresh_url("lost");
    let mut store = store::open(&format!("{url}&application_name=arcflow_lost")).unwrap();
    store.apply(&[started("before")]).unwrap();
    let killed = cluster
        .client()
        .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'arcflow_lost'", &[])
        .unwrap();
    assert_eq!(killed.len(), 1, "the store's one connection");
    // the first call may notice the loss (transient) or find it already noticed
    let mut failures = 0;
    while let Err(err) = store.apply(&[started("after")]) {
        assert!(matches!(err, Error::Store { transient: true, .. }), "a lost connection is transient: {err:?}");
        failures += 1;
        assert!(failures < 3, "the store does not reconnect: {err}");
    }
    assert!(store.get_run("before").unwrap().is_some() && store.get_run("after").unwrap().is_some());
}

/// Batch order decides what SQLite (one statement per write) ends with:
/// PostgreSQL's grouped statements must end with the same.
#[test]
fn a_batch_in_any_order_ends_as_it_does_on_sqlite() {
    let end = |status: &str, at: i64| Write::RunEnded { id: "r".into(), status: status.into(), output: None, error: None, ended_at: at };
    let credit = |key: &str, amount: i64| {
        Write::Ledger(LedgerWrite { account: "acme".into(), amount, kind: "credit", key: LedgerKey::Given(key.into()), at: 1, lease: None })
    };
    let snapshot = |jseq: u64| Write::Snapshot { run_id: "r".into(), jseq, state: format!("s{jseq}") };
    let batch = [
        started("r"),
        task("r", "a", "running", 1),
        credit("k", 10),
        started("r"),
        task("r", "b", "running", 2),
        task("r", "b", "succeeded", 3),
        Write::Var { run_id: "r".into(), name: "v".into(), value: "1".into() },
        snapshot(3),
        end("failed", 50),
        // after the end: not cancelled by it; the run resumes and ends again
        task("r", "c", "running", 4),
        started("r"),
        credit("k", 99),
        Write::Var { run_id: "r".into(), name: "v".into(), value: "2".into() },
        snapshot(2),
        task("r", "d", "running", 5),
        end("cancelled", 60),
        task("r", "e", "running", 6),
    ];
    let dir = std::env::temp_dir().join(format!("arcflow-pg-order-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut sqlite = store::open(&format!("sqlite:{}", dir.join("a.db").display())).unwrap();
    let (url, schema) = support::postgres::cluster().fresh_url("order");
    let mut pg = store::open(&url).unwrap();
    for store in [&mut sqlite, &mut pg] {
        store.apply(&batch).unwrap();
    }
    let seen = |store: &mut Box<dyn Store>| {
        let tasks: Vec<_> = store.tasks("r", 0).unwrap().into_iter().map(|t| (t.task.to_string(), t.status, t.started_at, t.ended_at, t.jseq)).collect();
        let run = store.get_run("r").unwrap().unwrap();
        (tasks, run, store.snapshot("r").unwrap(), store.balance("acme").unwrap(), store.ledger("acme", 10).unwrap())
    };
    let expected = seen(&mut sqlite);
    assert_eq!(seen(&mut pg), expected);
    let statuses: Vec<_> = expected.0.iter().map(|t| (t.0.as_str(), t.1)).collect();
    assert_eq!(statuses, [("a", "cancelled"), ("b", "succeeded"), ("c", "cancelled"), ("d", "cancelled"), ("e", "running")]);
    assert_eq!((expected.1.status.as_str(), expected.3), ("cancelled", Some(10)));
    let var: String = support::postgres::cluster().client().query_one(&format!("SELECT value FROM \"{schema}\".vars"), &[]).unwrap().get(0);
    assert_eq!(var, "2", "the last write of a variable wins");
    let _ = std::fs::remove_dir_all(&dir);
}
