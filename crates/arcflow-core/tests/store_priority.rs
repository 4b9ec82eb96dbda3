//! The flush thread's scheduling (store/writer/priority.rs): `SCHED_IDLE`
//! while nothing waits for its commits, so that the event loop's thread
//! never waits behind a batch for a core; back at nice 10 while something
//! waits for one (here: a waiter on a commit that another connection's
//! write lock holds up), so that a busy machine does not starve it. What
//! the kernel says of the thread is read from /proc (policy 5: SCHED_IDLE,
//! 0: SCHED_OTHER). Linux only, run as a user that may renice (root here).
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use arcflow_core::store::{SqliteStore, WriteBehind, WriterConfig, Write};
use rusqlite::Connection;

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("arcflow-priority-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("arcflow.db").to_string_lossy().into_owned()
}

fn var(n: usize) -> Write {
    Write::Var { run_id: "r".into(), name: format!("v{n}"), value: "1".into() }
}

/// The scheduling policy and nice value of each of this process's threads named `arcflow-store`.
fn flush_threads() -> Vec<(u32, i64)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else { continue };
        if comm.trim() != "arcflow-store" {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap();
        // the fields after the command's closing parenthesis start at the third
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        out.push((fields[41 - 3].parse().unwrap(), fields[19 - 3].parse().unwrap()));
    }
    out
}

/// Waits (at most 10 s) for `cond`: the flush thread acts on its own clock.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

// one test: the policies read are those of every flush thread of the process
#[test]
fn the_flush_thread_runs_sched_idle_between_waits_and_at_nice_10_while_a_commit_is_waited_for() {
    let path = temp_db("policy");
    let config = WriterConfig { flush_interval: Duration::from_millis(5), ..WriterConfig::default() };
    let writer = WriteBehind::start(Box::new(SqliteStore::open(&path).unwrap()), config).unwrap();
    // batched: a write commits with nobody waiting (stats are polled: a waiter would count)
    let (seq, _) = writer.enqueue([var(0)]).unwrap();
    eventually("the first write committed", || writer.stats().settled >= seq);
    assert!(writer.flush_thread_idle());
    assert_eq!(flush_threads(), vec![(5, 10)], "SCHED_IDLE, its nice value kept");

    // another connection holds the write lock: the next batch retries until it is let go
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (seq, _) = writer.enqueue([var(1)]).unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut stats = writer.stats();
            while stats.settled < seq {
                stats = writer.wait_progress(stats.settled, Duration::from_secs(10));
            }
        });
        eventually("a waiter raised the flush thread", || !writer.flush_thread_idle());
        assert_eq!(flush_threads(), vec![(0, 10)], "SCHED_OTHER at nice 10 while the commit is waited for");
        holder.execute_batch("COMMIT").unwrap();
        waiter.join().unwrap();
    });

    // nobody waits any more: the next batch goes back to SCHED_IDLE
    let (seq, _) = writer.enqueue([var(2)]).unwrap();
    eventually("the third write committed", || writer.stats().settled >= seq);
    assert_eq!(flush_threads(), vec![(5, 10)]);
    writer.close();
    assert_eq!(writer.stats().committed, 3, "nothing lost");
}
