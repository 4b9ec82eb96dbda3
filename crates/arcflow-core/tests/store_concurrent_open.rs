//! Several processes opening one new database at the same moment: one
//! migrates, the others wait for its lock and find the schema in place.
//! The children are this test binary run again (`CHILD_DB` set). Several
//! processes on one file is `?locking=shared` (the default, exclusive, lets
//! one process have it at a time).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arcflow_core::store::{RunFilter, SqliteStore, Store};

const CHILDREN: usize = 6;
const ROUNDS: usize = 8;

/// In a child: wait for the go file (so every child opens at once), open, exit.
fn child(db: &str) {
    let go = format!("{db}.go");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Path::new(&go).exists() {
        assert!(Instant::now() < deadline, "no go signal");
        std::thread::sleep(Duration::from_micros(200));
    }
    match SqliteStore::open(&format!("{db}?locking=shared")) {
        Ok(mut store) => {
            store.runs(&RunFilter { status: None, workflow: None, limit: Some(1) }).expect("the schema is there");
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(3)
        }
    }
}

#[test]
fn concurrent_opens_of_a_new_database_all_succeed_table_runs_already_exists() {
    if let Ok(db) = std::env::var("CHILD_DB") {
        return child(&db);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = std::env::temp_dir().join(format!("arcflow-concurrent-open-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for round in 0..ROUNDS {
        let db = dir.join(format!("round-{round}.db")).to_string_lossy().into_owned();
        let children: Vec<_> = (0..CHILDREN)
            .map(|_| {
                Command::new(&exe)
                    .args(["--exact", "concurrent_opens_of_a_new_database_all_succeed_table_runs_already_exists", "--nocapture"])
                    .env("CHILD_DB", &db)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::fs::write(format!("{db}.go"), b"").unwrap();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
