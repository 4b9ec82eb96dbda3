//! The queue across processes, on both stores: this test binary run again
//! as 4 children (`QUEUE_CHILD` says what to do, `QUEUE_URL` where), which
//! all start at once on a go file. 100 enqueues with one key create one
//! run; 2,000 runs claimed by 4 processes are each claimed once.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arcflow_core::queue::{self, ClaimRequest, NewRun};

const CHILDREN: usize = 4;

fn new_run(id: &str, key: Option<&str>) -> NewRun {
    NewRun { id: id.into(), workflow: "wf".into(), input: "{}".into(), queue: "default".into(), key: key.map(str::to_owned), priority: 0, run_at: None, account: None, at: 1 }
}

/// In a child: wait for the go file, do `what`, print one line per answer
/// (`@@ ID VALUE`).
fn child(what: &str, url: &str, go: &Path, me: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !go.exists() {
        assert!(Instant::now() < deadline, "no go signal");
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut q = queue::open(url).unwrap_or_else(|e| panic!("{e}"));
    match what {
        "enqueue" => {
            for i in 0..25 {
                let answer = q.enqueue(&[new_run(&format!("{me}-{i}"), Some("once"))]).unwrap().remove(0);
                println!("\n@@ {} {}", answer.id, answer.created);
            }
        }
        "claim" => {
            let queues = ["default".to_owned()];
            loop {
                let batch = q.claim(&ClaimRequest { worker: me, queues: &queues, limit: 25, lease_ms: 600_000 }).unwrap();
                if batch.is_empty() {
                    break;
                }
                for run in batch {
                    println!("\n@@ {} {}", run.id, run.epoch);
                }
            }
        }
        other => panic!("unknown child task {other}"),
    }
}

/// Runs `CHILDREN` children doing `what` on `url`; answers their lines.
fn children(name: &str, what: &str, url: &str) -> Vec<String> {
    let go: PathBuf = std::env::temp_dir().join(format!("arcflow-queue-processes-{}-{name}.go", std::process::id()));
    let _ = std::fs::remove_file(&go);
    let exe = std::env::current_exe().unwrap();
    let spawned: Vec<_> = (0..CHILDREN)
        .map(|i| {
            Command::new(&exe)
                .args([name, "--exact", "--nocapture", "--test-threads=1"])
                .env("QUEUE_CHILD", what)
                .env("QUEUE_URL", url)
                .env("QUEUE_GO", &go)
                .env("QUEUE_ME", format!("p{i}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::fs::write(&go, "").unwrap();
    let mut lines = Vec::new();
    for child in spawned {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a child failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // ours are "@@ ID VALUE", apart from the harness's own output
        lines.extend(text.lines().filter_map(|l| l.strip_prefix("@@ ")).map(str::to_owned));
    }
    let _ = std::fs::remove_file(&go);
    lines
}

/// In a child process, the child's part; else `parent(url)`.
fn run_or_child(parent: impl FnOnce()) {
    if let Ok(what) = std::env::var("QUEUE_CHILD") {
        let url = std::env::var("QUEUE_URL").unwrap();
        let go = PathBuf::from(std::env::var("QUEUE_GO").unwrap());
        return child(&what, &url, &go, &std::env::var("QUEUE_ME").unwrap());
    }
    parent()
}

fn sqlite_url(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("arcflow-queue-processes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // the file and its schema made before the children race for them
    let url = format!("sqlite:{}?locking=shared", dir.join("arcflow.db").display());
    drop(queue::open(&url).unwrap());
    url
}

fn one_key_from_processes_makes_one_run(name: &str, url: &str) {
    let lines = children(name, "enqueue", url);
    assert_eq!(lines.len(), CHILDREN * 25, "{lines:?}");
    let created = lines.iter().filter(|l| l.ends_with(" true")).count();
    let ids: HashSet<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!((created, ids.len()), (1, 1), "one run created and answered to all: {ids:?}");
}

fn runs_claimed_by_processes_are_each_claimed_once(name: &str, url: &str) {
    let mut q = queue::open(url).unwrap();
    let runs: Vec<NewRun> = (0..2_000).map(|i| new_run(&format!("r{i}"), None)).collect();
    q.enqueue(&runs).unwrap();
    let lines = children(name, "claim", url);
    let ids: HashSet<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!((lines.len(), ids.len()), (2_000, 2_000), "each run claimed exactly once");
    assert!(lines.iter().all(|l| l.ends_with(" 1")), "no run claimed twice (epoch 1 each)");
}

#[test]
fn sqlite_one_key_from_four_processes_makes_one_run() {
    run_or_child(|| one_key_from_processes_makes_one_run("sqlite_one_key_from_four_processes_makes_one_run", &sqlite_url("key")))
}

#[test]
fn sqlite_four_processes_claim_each_run_once() {
    run_or_child(|| runs_claimed_by_processes_are_each_claimed_once("sqlite_four_processes_claim_each_run_once", &sqlite_url("claim")))
}

#[test]
fn postgres_one_key_from_four_processes_makes_one_run() {
    run_or_child(|| {
        let (url, _) = support::postgres::cluster().fresh_url("processes");
        drop(queue::open(&url).unwrap());
        one_key_from_processes_makes_one_run("postgres_one_key_from_four_processes_makes_one_run", &url)
    })
}

#[test]
fn postgres_four_processes_claim_each_run_once() {
    run_or_child(|| {
        let (url, _) = support::postgres::cluster().fresh_url("processes");
        runs_claimed_by_processes_are_each_claimed_once("postgres_four_processes_claim_each_run_once", &url)
    })
}
