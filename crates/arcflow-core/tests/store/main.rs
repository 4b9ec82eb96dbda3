//! The store against a real SQLite file: schema, batches, reads, and
//! opening by URL; the write-behind thread over it, and its faults (a
//! failing store, a locked database), in `writer.rs`.

mod writer;

use std::time::Duration;

use arcflow_core::store::{Execution, RunFilter, RunRecord, SqliteStore, StartKeyClaim, StartKeyRequest, Store, Write};

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("arcflow-store-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("arcflow.db").to_string_lossy().into_owned()
}

fn started(id: &str) -> Write {
    Write::RunStarted { id: id.into(), workflow: "wf".into(), workflow_hash: None, input: "{\"n\":1}".into(), started_at: 1, account: None }
}

fn task(run: &str, step: u32, attempt: u32) -> Write {
    Write::Task(Execution {
        run_id: run.into(),
        task: format!("t{step}").into(),
        step,
        item: -1,
        attempt,
        status: "succeeded",
        payload: Some(step.to_string()),
        input: None,
        started_at: None,
        ended_at: Some(2),
        jseq: u64::from(step) + 1,
    })
}

#[test]
fn a_batch_lands_whole_and_reads_back() {
    let path = temp_db("batch");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[
            started("r1"),
            task("r1", 1, 1),
            task("r1", 2, 1),
            Write::Var { run_id: "r1".into(), name: "x".into(), value: "3".into() },
            Write::RunEnded { id: "r1".into(), status: "succeeded".into(), output: Some("2".into()), error: None, ended_at: 9 },
            started("r2"),
        ])
        .unwrap();
    let run = store.get_run("r1").unwrap().unwrap();
    assert_eq!(
        run,
        RunRecord {
            id: "r1".into(),
            workflow: "wf".into(),
            status: "succeeded".into(),
            input: "{\"n\":1}".into(),
            output: Some("2".into()),
            error: None,
            started_at: 1,
            ended_at: Some(9),
            account: None,
            workflow_hash: None,
            parent_id: None,
            parent_task: None,
        }
    );
    let tasks: Vec<Execution> = store.tasks("r1", 0).unwrap();
    assert_eq!(tasks.iter().map(|t| &*t.task).collect::<Vec<_>>(), ["t1", "t2"]);
    let running = store.runs(&RunFilter { status: Some("running".into()), ..RunFilter::default() }).unwrap();
    assert_eq!(running.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r2"]);
    // the same task execution written twice (a retried batch) stays one row
    store.apply(&[task("r1", 2, 1)]).unwrap();
    assert_eq!(store.tasks("r1", 0).unwrap().len(), 2);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_newer_schema_is_refused_clearly() {
    let path = temp_db("schema");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).err().expect("a newer schema must be refused");
    assert_eq!(err.code(), "ARCFLOW_STORE");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn the_start_key_migration_carries_each_keys_newest_run_over() {
    let path = temp_db("start-keys");
    let mut store = SqliteStore::open(&path).unwrap();
    let keyed = |id: &str, at: i64| {
        let start = Write::RunStarted { id: id.into(), workflow: "wf".into(), workflow_hash: None, input: "{}".into(), started_at: at, account: None };
        [start, Write::RunLinks { id: id.into(), parent_id: None, parent_task: None, start_key: Some("k".into()) }]
    };
    store.apply(&[keyed("old", 1), keyed("new", 2)].concat()).unwrap();
    drop(store);
    // the database as version 8 left it: keys on the runs only
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE start_keys; PRAGMA user_version = 8;").unwrap();
    drop(conn);
    let mut store = SqliteStore::open(&path).unwrap();
    let claim = StartKeyRequest { key: "k", run_id: "another", now_ms: Some(3), retention_ms: 1_000, superseded: None };
    match store.claim_start_key(&claim).unwrap() {
        StartKeyClaim::Taken { run_id, run } => assert_eq!((run_id.as_str(), run.map(|r| r.status)), ("new", Some("running".into()))),
        StartKeyClaim::Claimed => panic!("the key's run was not carried over"),
    }
}
#[test]
fn open_takes_an_sqlite_url_and_refuses_everything_else_clearly() {
    let path = temp_db("open");
    let mut store = arcflow_core::store::open(&format!("sqlite:{path}")).unwrap();
    store.apply(&[started("r")]).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert!(SqliteStore::open(&path).unwrap().get_run("r").unwrap().is_some(), "sqlite:PATH opens the file at PATH");

    // nothing listens on port 1: a database that cannot be reached is transient
    for url in ["postgres://user:secret@127.0.0.1:1/arcflow", "postgresql://127.0.0.1:1/arcflow"] {
        let err = arcflow_core::store::open(url).err().expect("no server on port 1");
        assert!(matches!(err, arcflow_core::Error::Store { transient: true, .. }), "{err:?}");
        assert!(!err.to_string().contains("secret"), "a URL's password is never repeated: {err}");
    }
    for url in [path.as_str(), "memory", "sqlite:", "mysql://db/x", ""] {
        let err = arcflow_core::store::open(url).err().unwrap_or_else(|| panic!("{url:?} must be refused"));
        assert_eq!(err.code(), "ARCFLOW_INVALID_VALUE", "{url:?}: {err}");
        assert!(err.to_string().contains("sqlite:PATH"), "{url:?}: the message names the accepted form: {err}");
    }
    let err = arcflow_core::store::open("./arcflow.db").err().unwrap();
    assert!(err.to_string().contains("write sqlite:./arcflow.db"), "a bare path gets a hint: {err}");
}

#[test]
fn a_reader_with_no_lock_wait_reads_through_another_connections_write_lock() {
    let path = temp_db("reader-lock");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[started("r")]).unwrap();
    let mut reader = SqliteStore::open(&path).unwrap();
    reader.set_lock_wait(Duration::ZERO).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE; CREATE TABLE lock_probe (x)").unwrap();
    // under WAL a reader needs no lock a writer holds: it answers, as committed
    assert!(reader.get_run("r").unwrap().is_some());
    assert_eq!(reader.balance("nobody").unwrap(), None);
    other.execute_batch("COMMIT").unwrap();
}
