//! `sqlite:PATH?locking=exclusive`: the WAL index in this process's memory
//! (the `unix-excl` VFS), shared by every connection of the process.

use arcflow_core::store::{self, RunFilter, Write};

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("arcflow-locking-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("arcflow.db")
}

fn started(id: &str) -> Write {
    Write::RunStarted { id: id.into(), workflow: "wf".into(), workflow_hash: None, input: "1".into(), started_at: 1, account: None }
}

#[test]
fn exclusive_locking_keeps_the_wal_index_off_a_mapped_file_and_shares_it_in_process() {
    let path = temp_db("exclusive");
    let url = format!("sqlite:{}?locking=exclusive", path.display());
    let mut writer = store::open(&url).unwrap();
    let mut reader = store::open(&url).unwrap();
    reader.set_lock_wait(std::time::Duration::ZERO).unwrap();
    for i in 0..3 {
        writer.apply(&[started(&format!("r{i}"))]).unwrap();
        // the reader sees each commit at once: one WAL index for both
        assert_eq!(reader.runs(&RunFilter::default()).unwrap().len(), i + 1);
    }
    assert!(path.with_extension("db-wal").exists(), "still WAL");
    assert!(!path.with_extension("db-shm").exists(), "no shared-memory file to map");
    drop((writer, reader));
    // closed: the file opens again, in either mode, with everything in it
    let mut shared = store::open(&format!("sqlite:{}", path.display())).unwrap();
    assert_eq!(shared.runs(&RunFilter::default()).unwrap().len(), 3);
}

#[test]
fn an_unknown_locking_mode_is_refused() {
    let path = temp_db("unknown");
    let err = store::open(&format!("sqlite:{}?locking=sometimes", path.display())).err().unwrap();
    assert!(err.to_string().contains("locking=exclusive"), "{err}");
}
