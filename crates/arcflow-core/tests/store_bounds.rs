//! What bounds the write-behind queue besides its count (issue 17.11,
//! 17.12): its bytes, and the age of its oldest unwritten write. Another
//! connection holds the write lock, so nothing commits meanwhile.

use std::time::Duration;

use arcflow_core::store::{SqliteStore, WriteBehind, WriterConfig, Write};
use rusqlite::Connection;

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("arcflow-bounds-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("arcflow.db").to_string_lossy().into_owned()
}

fn var(n: usize, bytes: usize) -> Write {
    Write::Var { run_id: "r".into(), name: format!("v{n}"), value: "x".repeat(bytes) }
}

/// Another connection takes the write lock (the store exists first).
fn lock(path: &str) -> Connection {
    drop(SqliteStore::open(path).unwrap());
    let holder = Connection::open(path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS lock_probe (x);").unwrap();
    holder
}

#[test]
fn memory_under_a_sustained_fault_is_bounded_by_bytes_not_only_by_count() {
    let path = temp_db("bytes");
    let holder = lock(&path);
    let config = WriterConfig { capacity_bytes: 1 << 20, flush_interval: Duration::from_millis(5), ..WriterConfig::default() };
    let writer = WriteBehind::start(Box::new(SqliteStore::open(&path).unwrap()), config).unwrap();
    // 100 KB writes: the 11th passes 1 MiB, far below the count of 100,000
    let fulls: Vec<bool> = (0..12).map(|n| writer.enqueue([var(n, 100_000)]).unwrap().1).collect();
    assert_eq!(fulls.iter().position(|&f| f), Some(10), "full once the bytes pass the bound: {fulls:?}");
    assert!(writer.stats().queue_bytes >= 1 << 20);
    holder.execute_batch("COMMIT").unwrap();
    writer.close();
    let stats = writer.stats();
    assert_eq!((stats.committed, stats.queue_bytes), (12, 0), "nothing lost, the bytes given back");
}

#[test]
fn batched_on_a_failing_disk_waits_once_the_oldest_unwritten_write_is_past_max_unwritten() {
    let path = temp_db("age");
    let holder = lock(&path);
    let config = WriterConfig { max_unwritten: Duration::from_millis(50), flush_interval: Duration::from_millis(5), ..WriterConfig::default() };
    let writer = WriteBehind::start(Box::new(SqliteStore::open(&path).unwrap()), config).unwrap();
    assert!(!writer.enqueue([var(0, 10)]).unwrap().1, "a fresh write: room");
    std::thread::sleep(Duration::from_millis(200)); // the first write is now older than max_unwritten
    let (seq, full) = writer.enqueue([var(1, 10)]).unwrap();
    assert!(full, "past max_unwritten the caller is asked to wait");
    assert_eq!(writer.stats().committed, 0);
    holder.execute_batch("COMMIT").unwrap();
    let mut stats = writer.stats();
    while stats.settled < seq {
        stats = writer.wait_progress(stats.settled, Duration::from_secs(10));
    }
    assert!(!writer.enqueue([var(2, 10)]).unwrap().1, "once written, the age starts again");
    writer.close();
}
