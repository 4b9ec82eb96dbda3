//! A worker frozen past its lease (`SIGSTOP`), its run taken over by
//! another, then woken (`SIGCONT`): the stale worker's late writes and
//! charges are refused by the database, it learns the run is lost, and
//! nothing it wrote after the takeover is in the journal or the ledger.
//! The stale worker is this test binary run again (`STALE_URL` set), on
//! both stores.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arcflow_core::queue::{self, ClaimRequest, NewRun};
use arcflow_core::store::{self, Execution, LedgerKey, LedgerWrite, Write, WriteBehind, WriterConfig};

const LEASE_MS: i64 = 300;

fn task(step: u32) -> Write {
    Write::Task(Execution {
        run_id: "r".into(),
        task: "t".into(),
        step,
        item: -1,
        attempt: 1,
        status: "succeeded",
        payload: Some("1".into()),
        input: None,
        started_at: Some(1),
        ended_at: Some(2),
        jseq: u64::from(step),
    })
}

fn charge(step: u32) -> Write {
    let key = LedgerKey::Unit { run_id: "r".into(), task: "t".into(), step, item: -1, attempt: 1 };
    Write::Ledger(LedgerWrite { account: "acme".into(), amount: -1, kind: "charge", key, at: 2, lease: None })
}

fn claim(q: &mut dyn queue::Queue, worker: &str, lease_ms: i64) -> arcflow_core::Result<Vec<queue::Claimed>> {
    q.claim(&ClaimRequest { worker, queues: &["default".to_owned()], limit: 1, lease_ms })
}

/// The stale worker: claims the run, then writes a task and its charge
/// every few ms, renewing its lease, until its writer reports the run lost.
fn stale_worker(url: &str) {
    let mut q = queue::open(url).unwrap();
    let claimed = claim(&mut *q, "stale", LEASE_MS).unwrap().remove(0);
    let writer = WriteBehind::start(store::open(url).unwrap(), WriterConfig { flush_interval: Duration::from_millis(5), ..WriterConfig::default() }).unwrap();
    writer.fence("r", "stale", claimed.epoch);
    for step in 1..100_000 {
        writer.enqueue([task(step), charge(step)]).unwrap();
        if step % 10 == 0 {
            let _ = q.renew("stale", LEASE_MS);
        }
        if let Some((run, epoch)) = writer.take_lost().into_iter().next() {
            println!("\n@@ lost {run} {epoch}");
            writer.close();
            std::process::exit(0);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("the run was never reported lost");
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: a signal to our own child, by its pid
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, sig) }, 0);
}

fn stale_writes_after_a_takeover_are_refused(name: &str, url: &str) {
    let mut q = queue::open(url).unwrap();
    q.enqueue(&[NewRun { id: "r".into(), workflow: "wf".into(), input: "{}".into(), queue: "default".into(), key: None, priority: 0, run_at: None, account: None, at: 1 }])
        .unwrap();
    let mut reader = store::open(url).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("STALE_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while reader.tasks("r", 0).unwrap().len() < 20 {
        assert!(Instant::now() < deadline, "the stale worker never wrote");
        std::thread::sleep(Duration::from_millis(10));
    }
    // freeze it until its lease lapses and another worker takes the run; if
    // it froze inside a transaction (the run's row or the database locked),
    // let it finish and freeze it again
    let taken = 'takeover: {
        for _ in 0..20 {
            signal(child.id(), libc::SIGSTOP);
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                if let Ok(mut got) = claim(&mut *q, "fresh", 3_600_000) {
                    if let Some(run) = got.pop() {
                        break 'takeover run;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            signal(child.id(), libc::SIGCONT);
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(child.id(), libc::SIGKILL);
        panic!("the run was never taken over");
    };
    assert_eq!((taken.id.as_str(), taken.epoch, taken.taken_over), ("r", 2, true));
    let tasks_then = reader.tasks("r", 0).unwrap().len();
    let balance_then = reader.balance("acme").unwrap().unwrap_or(0);
    assert_eq!(balance_then, -(tasks_then as i64), "one charge per task written before the takeover");

    signal(child.id(), libc::SIGCONT);
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(child.wait().unwrap().success(), "the stale worker ended on its own");
    assert!(out.contains("@@ lost r 1"), "the stale worker learned its run is lost: {out}");
    assert_eq!(reader.tasks("r", 0).unwrap().len(), tasks_then, "no stale task row landed after the takeover");
    assert_eq!(reader.balance("acme").unwrap().unwrap_or(0), balance_then, "no stale charge landed");
    assert_eq!(reader.ledger("acme", 1_000_000).unwrap().len(), tasks_then);
    assert_eq!(q.renew("fresh", 60_000).unwrap(), [("r".to_owned(), 2)], "the new holder keeps it");

    // the new holder's writes land
    let writer = WriteBehind::start(store::open(url).unwrap(), WriterConfig::default()).unwrap();
    writer.fence("r", "fresh", 2);
    writer.enqueue([task(1_000_000), charge(1_000_000)]).unwrap();
    assert!(writer.settle(Duration::from_secs(30)));
    assert!(writer.take_lost().is_empty());
    assert_eq!(reader.tasks("r", 0).unwrap().len(), tasks_then + 1);
    writer.close();
}

fn child_or(parent: impl FnOnce()) {
    match std::env::var("STALE_URL") {
        Ok(url) => stale_worker(&url),
        Err(_) => parent(),
    }
}

#[test]
fn sqlite_a_stale_workers_late_writes_are_refused() {
    child_or(|| {
        let dir = std::env::temp_dir().join(format!("arcflow-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}?locking=shared", dir.join("arcflow.db").display());
        stale_writes_after_a_takeover_are_refused("sqlite_a_stale_workers_late_writes_are_refused", &url);
        let _ = std::fs::remove_dir_all(&dir);
    })
}

#[test]
fn postgres_a_stale_workers_late_writes_are_refused() {
    child_or(|| {
        let (url, _) = support::postgres::cluster().fresh_url("stale");
        stale_writes_after_a_takeover_are_refused("postgres_a_stale_workers_late_writes_are_refused", &url);
    })
}
