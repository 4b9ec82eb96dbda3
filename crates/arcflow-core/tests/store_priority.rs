//! The flush thread's scheduling (store/writer/priority.rs): `SCHED_IDLE`
//! while nothing waits for its commits, so that the event loop's thread
//! never waits behind a batch for a core; back at nice 10 while something
//! waits for one (here: a waiter on a commit that another connection's
//! write lock holds up) or once it is late, so that a busy machine does
//! not starve it. What
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

/// Commits one more write, waiting for it by polling (a waiter would raise the thread); the thread's policy and nice value then.
fn commit_one(writer: &WriteBehind, n: usize) -> Vec<(u32, i64)> {
    let (seq, _) = writer.enqueue([var(n)]).unwrap();
    eventually("a write committed", || writer.stats().settled >= seq);
    flush_threads()
}

/// Nothing waits and it keeps up: `SCHED_IDLE` at the next batches (a few
/// tries: a batch the machine's load made late runs at nice 10).
fn back_to_idle(writer: &WriteBehind, from: usize) {
    let policies: Vec<_> = (from..from + 20).map(|n| commit_one(writer, n)).collect();
    assert!(policies.contains(&vec![(5, 10)]), "never SCHED_IDLE at nice 10: {policies:?}");
}

// one test: the policies read are those of every flush thread of the process
#[test]
fn the_flush_thread_runs_sched_idle_between_waits_and_at_nice_10_while_a_commit_is_waited_for_or_late() {
    let path = temp_db("policy");
    let config = WriterConfig { flush_interval: Duration::from_millis(20), ..WriterConfig::default() };
    let writer = WriteBehind::start(Box::new(SqliteStore::open(&path).unwrap()), config).unwrap();
    // batched: writes commit with nobody waiting
    back_to_idle(&writer, 0);

    // another connection holds the write lock: the next batch retries until it is let go
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (seq, _) = writer.enqueue([var(100)]).unwrap();
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
    back_to_idle(&writer, 200);

    // late without a waiter (a busy machine starving it; here a lock): the next write queued raises it
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    writer.enqueue([var(300)]).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // past twice the flush interval
    let (seq, _) = writer.enqueue([var(301)]).unwrap();
    assert_eq!(flush_threads(), vec![(0, 10)], "at nice 10 once the queue is late (raised by the write that found it so, or by the batch taken late)");
    holder.execute_batch("COMMIT").unwrap();
    eventually("the late writes committed", || writer.stats().settled >= seq);
    back_to_idle(&writer, 400);
    writer.close();
    assert_eq!(writer.stats().rejected, 0, "nothing set aside");
}
