//! Who may open a SQLite file: by default (`locking=exclusive`, the
//! `unix-excl` VFS) one process, its connections sharing a WAL index in its
//! memory; with `?locking=shared` every process that asks so. The second
//! process is a real one: this test binary run again as `child_opens`.

use std::process::Command;

use arcflow_core::store::{self, RunFilter, Write};
use arcflow_core::Error;

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("arcflow-locking-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("arcflow.db")
}

fn started(id: &str) -> Write {
    Write::RunStarted { id: id.into(), workflow: "wf".into(), workflow_hash: None, input: "1".into(), started_at: 1, account: None }
}

fn run_count(store: &mut dyn store::Store) -> usize {
    store.runs(&RunFilter { limit: Some(1000), ..RunFilter::default() }).unwrap().len()
}

/// Not a test of its own: in a child process (`CHILD_URL` set) it opens the
/// store, writes run `CHILD_RUN`, and prints what happened on one line.
#[test]
fn child_opens() {
    let Ok(url) = std::env::var("CHILD_URL") else { return };
    let outcome = store::open(&url).and_then(|mut s| {
        s.apply(&[started(&std::env::var("CHILD_RUN").unwrap())])?;
        Ok(run_count(&mut *s))
    });
    match outcome {
        Ok(runs) => println!("CHILD ok {runs}"),
        Err(e) => println!("CHILD {} {e}", e.code()),
    }
}

/// Runs `child_opens` in another process on `url`: its one line.
fn other_process(url: &str, run: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_opens", "--nocapture", "--test-threads=1"])
        .env("CHILD_URL", url)
        .env("CHILD_RUN", run)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // libtest prints the test's name on the same line first
    let line = stdout.lines().find_map(|l| l.split_once("CHILD ")).map(|(_, said)| said.to_owned());
    line.unwrap_or_else(|| panic!("the child said nothing: {stdout} {}", String::from_utf8_lossy(&out.stderr)))
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
        assert_eq!(run_count(&mut *reader), i + 1);
    }
    assert!(path.with_extension("db-wal").exists(), "still WAL");
    assert!(!path.with_extension("db-shm").exists(), "no shared-memory file to map");
    drop((writer, reader));
    // closed: the file opens again, in either mode, with everything in it
    let mut shared = store::open(&format!("sqlite:{}?locking=shared", path.display())).unwrap();
    assert_eq!(run_count(&mut *shared), 3);
}

#[cfg(unix)]
#[test]
fn the_default_is_exclusive_and_another_process_is_refused_with_a_held_error_losing_nothing() {
    let path = temp_db("default");
    let url = format!("sqlite:{}", path.display());
    let mut holder = store::open(&url).unwrap();
    holder.apply(&[started("mine-1")]).unwrap();
    assert!(!path.with_extension("db-shm").exists(), "the default maps no shared-memory file");
    // in either mode, the other process cannot open the held file
    for other in [url.clone(), format!("{url}?locking=shared")] {
        let said = other_process(&other, "theirs");
        assert!(said.starts_with("ARCFLOW_STORE_HELD "), "{other}: {said}");
        assert!(said.contains("held by another process") && said.contains("?locking=shared"), "{said}");
        assert!(said.contains(&path.display().to_string()), "names the file: {said}");
    }
    // the holder goes on, with nothing of its own lost and nothing of theirs
    holder.apply(&[started("mine-2")]).unwrap();
    let ids: Vec<String> = holder.runs(&RunFilter::default()).unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(!ids.contains(&"theirs".to_string()));
    drop(holder);
    // released: another process opens it now
    assert_eq!(other_process(&url, "theirs"), "ok 3");
}

#[test]
fn with_locking_shared_two_processes_write_one_file() {
    let path = temp_db("shared");
    let url = format!("sqlite:{}?locking=shared", path.display());
    let mut here = store::open(&url).unwrap();
    here.apply(&[started("here-1")]).unwrap();
    // the other process writes while this one has the file open
    assert_eq!(other_process(&url, "there-1"), "ok 2");
    here.apply(&[started("here-2")]).unwrap();
    assert_eq!(run_count(&mut *here), 3, "each sees the other's runs");
    assert!(path.with_extension("db-shm").exists(), "shared: the index is the mapped -shm file");
}

#[cfg(unix)]
#[test]
fn a_shared_holder_refuses_an_exclusive_opener() {
    let path = temp_db("mixed");
    let mut here = store::open(&format!("sqlite:{}?locking=shared", path.display())).unwrap();
    here.apply(&[started("here")]).unwrap();
    // a WAL connection keeps a shared lock on the file: the default opener waits, then is told
    let said = other_process(&format!("sqlite:{}", path.display()), "there");
    assert!(said.starts_with("ARCFLOW_STORE_HELD "), "{said}");
    here.apply(&[started("here-2")]).unwrap();
    assert_eq!(run_count(&mut *here), 2);
}

#[test]
fn an_unknown_locking_mode_is_refused() {
    let path = temp_db("unknown");
    let err = store::open(&format!("sqlite:{}?locking=sometimes", path.display())).err().unwrap();
    assert!(matches!(err, Error::InvalidValue { .. }), "{err:?}");
    assert!(err.to_string().contains("locking=exclusive"), "{err}");
}
