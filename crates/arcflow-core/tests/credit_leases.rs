//! Credit leasing across processes (`meter::lease`), against real
//! databases: SQLite files and a throwaway PostgreSQL cluster. Workers are
//! threads with connections of their own (each a meter, a writer and a
//! lease connection, as separate processes have), and, for crashes, a real
//! child process killed with SIGKILL.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use arcflow_core::meter::lease::LeaseConfig;
use arcflow_core::meter::{CreditWait, LedgerKey, LedgerWrite, Meter, Reservation};
use arcflow_core::store::{self, Store, Write, WriteBehind, WriterConfig};

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("arcflow-credit-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    format!("{}?locking=shared", dir.join("arcflow.db").display())
}

fn sqlite_url(name: &str) -> String {
    format!("sqlite:{}", temp_db(name))
}

fn pg_url(prefix: &str) -> String {
    support::postgres::cluster().fresh_url(prefix).0
}

fn writer(url: &str) -> Arc<WriteBehind> {
    let config = WriterConfig { flush_interval: Duration::from_millis(5), ..WriterConfig::default() };
    Arc::new(WriteBehind::start(store::open(url).unwrap(), config).unwrap())
}

/// A worker: its writer and a leasing meter with a connection of its own.
fn worker(url: &str, config: LeaseConfig) -> (Arc<WriteBehind>, Meter) {
    let writer = writer(url);
    let meter = Meter::leasing(Arc::clone(&writer), 0, store::open(url).unwrap(), config).unwrap();
    (writer, meter)
}

fn quick() -> LeaseConfig {
    LeaseConfig { lease: Duration::from_secs(30), idle: Duration::from_secs(30), tick: Duration::from_millis(5) }
}

/// Credits `amount` to `account` and waits for the commit.
fn fund(url: &str, account: &str, amount: i64) {
    let writer = writer(url);
    let key = LedgerKey::Given(format!("fund-{account}"));
    writer.enqueue([Write::Ledger(LedgerWrite { account: account.into(), amount, kind: "credit", key, at: 1, lease: None })]).unwrap();
    writer.close();
}

fn charge_key(worker: usize, n: u64) -> LedgerKey {
    LedgerKey::Unit { run_id: format!("w{worker}-{n}").into(), task: "t".into(), step: 1, item: -1, attempt: 1 }
}

/// Sum of the ledger, the balance and the leases of `account`, as committed.
fn totals(url: &str, account: &str) -> (i64, i64, usize, u64) {
    let mut s = store::open(url).unwrap();
    let entries = s.ledger(account, u32::MAX).unwrap();
    let sum = entries.iter().map(|e| e.amount).sum();
    let charges = entries.iter().filter(|e| e.kind == "charge").count();
    let balance = s.balance(account).unwrap().unwrap();
    let rest = s.credit_rest(account, "nobody").unwrap().unwrap();
    (sum, balance, charges, (rest - balance) as u64)
}

/// Four workers spend one account of `n` credits, one credit a task, each
/// until refused; a sampler reads the balance throughout.
fn four_workers_spend_exactly_the_balance(url: &str) {
    let n = 2_000;
    fund(url, "acme", n);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (url, done) = (url.to_owned(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut s = store::open(&url).unwrap();
            let (mut samples, mut lowest) = (0u64, i64::MAX);
            while !done.load(Ordering::Acquire) {
                lowest = lowest.min(s.balance("acme").unwrap().unwrap());
                samples += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (samples, lowest)
        })
    };
    let ran = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (url, ran, start) = (url.to_owned(), Arc::clone(&ran), Arc::clone(&start));
            std::thread::spawn(move || {
                let (writer, meter) = worker(&url, quick());
                let id = meter.resolve("acme", Some(&mut *store::open(&url).unwrap())).unwrap().unwrap();
                start.wait();
                let mut mine = 0;
                let mut lowest_view = i64::MAX;
                while meter.reserve(id, 1).unwrap().is_ok() {
                    let write = meter.charge(id, 1, 1, charge_key(w, mine)).unwrap().unwrap();
                    writer.enqueue([Write::Ledger(write)]).unwrap();
                    mine += 1;
                    lowest_view = lowest_view.min(meter.balance("acme", None).unwrap().unwrap());
                }
                ran.fetch_add(mine, Ordering::AcqRel);
                let stats = meter.lease_stats().unwrap();
                meter.close(Duration::from_secs(10)).unwrap();
                writer.close();
                (mine, stats, lowest_view)
            })
        })
        .collect();
    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    done.store(true, Ordering::Release);
    let (samples, lowest) = sampler.join().unwrap();
    assert_eq!(ran.load(Ordering::Acquire), n as u64, "exactly the tasks the account covers ran: {results:?}");
    assert!(samples > 10, "the balance was sampled during the run ({samples} samples)");
    assert!(lowest >= 0, "the balance went to {lowest}");
    for (mine, stats, view) in &results {
        assert!(*view >= 0, "a worker saw the balance at {view}");
        // a block per worker covers many tasks: few round trips per reservation
        let calls = stats.grants + stats.refused;
        assert!(calls * 10 <= (*mine).max(1) + 10 * 4, "{calls} lease calls for {mine} reservations: {stats:?}");
    }
    let (sum, balance, charges, leased) = totals(url, "acme");
    assert_eq!((sum, balance, charges, leased), (0, 0, n as usize, 0), "ledger, balance and leases agree at the end");
}

#[test]
fn four_sqlite_workers_on_one_account_run_exactly_what_it_covers() {
    four_workers_spend_exactly_the_balance(&sqlite_url("four"));
}

#[test]
fn four_postgres_workers_on_one_account_run_exactly_what_it_covers() {
    four_workers_spend_exactly_the_balance(&pg_url("credit_four"));
}

/// One worker's unused block goes back at close; an idle one gives it back by itself.
fn unused_credit_goes_back(url: &str) {
    fund(url, "acme", 1_000);
    let config = LeaseConfig { idle: Duration::from_millis(100), ..quick() };
    let (writer, meter) = worker(url, config);
    let id = meter.resolve("acme", Some(&mut *store::open(url).unwrap())).unwrap().unwrap();
    meter.reserve(id, 10).unwrap().unwrap();
    meter.release(id, 10).unwrap();
    let (_, balance, _, leased) = totals(url, "acme");
    assert!(leased >= 10 && balance == 1_000 - leased as i64, "a block is leased: {balance} + {leased}");
    assert_eq!(meter.balance("acme", None).unwrap(), Some(1_000), "the balance counts the leased block");
    let deadline = Instant::now() + Duration::from_secs(20);
    while totals(url, "acme").3 != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(totals(url, "acme"), (1_000, 1_000, 0, 0), "the idle block went back");
    assert!(meter.lease_stats().unwrap().returns >= 1);
    meter.reserve(id, 7).unwrap().unwrap();
    let write = meter.charge(id, 7, 5, charge_key(0, 0)).unwrap().unwrap();
    writer.enqueue([Write::Ledger(write)]).unwrap();
    meter.close(Duration::from_secs(10)).unwrap();
    assert_eq!(totals(url, "acme"), (995, 995, 1, 0), "at close, what was not charged went back");
    assert_eq!(meter.reserve(id, 1).unwrap(), Err(995), "a closed meter leases nothing more");
    writer.close();
}

#[test]
fn sqlite_unused_credit_goes_back_when_idle_and_at_close() {
    unused_credit_goes_back(&sqlite_url("idle"));
}

#[test]
fn postgres_unused_credit_goes_back_when_idle_and_at_close() {
    unused_credit_goes_back(&pg_url("credit_idle"));
}

/// A reservation past what the database holds is refused, past the overdraft only.
fn the_overdraft_bounds_every_grant(url: &str) {
    fund(url, "acme", 10);
    let writer = writer(url);
    let meter = Meter::leasing(Arc::clone(&writer), 5, store::open(url).unwrap(), quick()).unwrap();
    let id = meter.resolve("acme", Some(&mut *store::open(url).unwrap())).unwrap().unwrap();
    meter.reserve(id, 15).unwrap().unwrap();
    assert_eq!(meter.reserve(id, 1).unwrap(), Err(-5), "the balance plus the overdraft is spent");
    let write = meter.charge(id, 15, 15, charge_key(0, 0)).unwrap().unwrap();
    writer.enqueue([Write::Ledger(write)]).unwrap();
    meter.close(Duration::from_secs(10)).unwrap();
    assert_eq!(totals(url, "acme"), (-5, -5, 1, 0));
    writer.close();
}

#[test]
fn sqlite_the_overdraft_bounds_every_grant() {
    the_overdraft_bounds_every_grant(&sqlite_url("overdraft"));
}

#[test]
fn postgres_the_overdraft_bounds_every_grant() {
    the_overdraft_bounds_every_grant(&pg_url("credit_overdraft"));
}

/// The child of the kill test: leases a block on `ARCFLOW_CREDIT_URL`,
/// charges 5 (committed), says so, and waits to be killed.
#[test]
#[ignore = "the child process of the kill -9 tests, run by them"]
fn child_leases_charges_and_waits() {
    let url = std::env::var("ARCFLOW_CREDIT_URL").expect("run by the kill tests");
    let config = LeaseConfig { lease: Duration::from_millis(1_500), ..quick() };
    let (writer, meter) = worker(&url, config);
    let id = meter.resolve("acme", Some(&mut *store::open(&url).unwrap())).unwrap().unwrap();
    meter.reserve(id, 5).unwrap().unwrap();
    let write = meter.charge(id, 5, 5, charge_key(9, 0)).unwrap().unwrap();
    writer.enqueue([Write::Ledger(write)]).unwrap();
    assert!(writer.settle(Duration::from_secs(10)));
    println!("leased");
    std::thread::sleep(Duration::from_secs(600));
}

/// A worker killed with SIGKILL holding a lease: its credit is unavailable
/// until the lease expires, then returns; nothing is created or lost.
fn a_killed_workers_lease_returns_after_its_expiry(url: &str) {
    fund(url, "acme", 1_000);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_leases_charges_and_waits", "--nocapture", "--test-threads=1"])
        .env("ARCFLOW_CREDIT_URL", url)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().contains("leased")), "the child leased and charged");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (sum, balance, charges, leased) = totals(url, "acme");
    assert_eq!((sum, charges), (995, 1), "the child's committed charge stays");
    assert!(leased > 0 && balance + leased as i64 == 995, "the dead worker's lease is still held: {balance} + {leased}");
    // another process's renewal (or a grant on the account) returns it once it expired
    let mut s = store::open(url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut expired = 0;
    while expired == 0 && Instant::now() < deadline {
        expired = s.expire_credit_leases().unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(expired, 1, "the lease expired");
    assert_eq!(totals(url, "acme"), (995, 995, 1, 0), "its unspent credit is back in the balance");
}

#[test]
fn sqlite_a_killed_workers_lease_returns_after_its_expiry() {
    a_killed_workers_lease_returns_after_its_expiry(&sqlite_url("killed"));
}

#[test]
fn postgres_a_killed_workers_lease_returns_after_its_expiry() {
    a_killed_workers_lease_returns_after_its_expiry(&pg_url("credit_killed"));
}

/// A worker whose renewals are late (here: another connection holds the
/// file's write lock) stops spending its block before the lease could have
/// lapsed (and its credit gone back to the balance for others to lease
/// again): a reservation waits instead, and is covered once the renewal
/// lands. Regression: with a short lease and renewals late under load, four
/// queue workers overspent an account (`__test__/credit-workers.spec.ts`).
#[test]
fn sqlite_a_block_whose_renewal_is_late_is_not_spent() {
    let url = sqlite_url("late");
    fund(&url, "acme", 100);
    let lease = Duration::from_millis(600);
    let (writer, meter) = worker(&url, LeaseConfig { lease, ..quick() });
    let id = meter.resolve("acme", Some(&mut *store::open(&url).unwrap())).unwrap().unwrap();
    meter.reserve(id, 1).unwrap().unwrap(); // leases a block (16 at least)
    meter.release(id, 1).unwrap();
    let path = url.trim_start_matches("sqlite:").split('?').next().unwrap().to_owned();
    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    // past two thirds of the lease since any renewal could have started: the block is not spent
    std::thread::sleep(lease * 2 / 3 + Duration::from_millis(150));
    let ticket = match meter.try_reserve(id, 1).unwrap() {
        Reservation::Pending(ticket) => ticket,
        other => panic!("a block whose lease may have lapsed was spent: {other:?}"),
    };
    lock.execute_batch("COMMIT").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut state = meter.credit_wait(id, ticket).unwrap();
    while state == CreditWait::Waiting && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        state = meter.credit_wait(id, ticket).unwrap();
    }
    assert_eq!(state, CreditWait::Covered, "covered once the renewal landed");
    assert_eq!(meter.try_reserve(id, 1).unwrap(), Reservation::Reserved, "the renewed block is spent again at once");
    meter.release(id, 2).unwrap();
    meter.close(Duration::from_secs(5)).unwrap();
    writer.close();
    assert_eq!(totals(&url, "acme"), (100, 100, 0, 0), "nothing was charged, every lease is back");
}

/// Reservations waiting for a lease count against the balance a leasing
/// meter reports only as far as they can be covered: more waiting than the
/// account holds reports 0, never below, and so does each refusal.
/// Regression: the first of 700 refused runs on PostgreSQL reported a
/// balance of -36 (twelve others' waits of 3 deducted).
fn waiting_reservations_never_report_a_balance_below_the_overdraft(overdraft: i64) {
    let url = sqlite_url(&format!("waits-{overdraft}"));
    fund(&url, "acme", 10);
    let writer = writer(&url);
    let meter = Meter::leasing(Arc::clone(&writer), overdraft, store::open(&url).unwrap(), quick()).unwrap();
    let id = meter.resolve("acme", Some(&mut *store::open(&url).unwrap())).unwrap().unwrap();
    let path = url.trim_start_matches("sqlite:").split('?').next().unwrap().to_owned();
    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap(); // no grant lands while the reservations queue
    let tickets: Vec<u64> = (0..20)
        .map(|_| match meter.try_reserve(id, 1).unwrap() {
            Reservation::Pending(ticket) => ticket,
            other => panic!("nothing is leased yet, the reservation waits: {other:?}"),
        })
        .collect();
    assert_eq!(meter.balance_of(id).unwrap(), -overdraft, "20 waiting on 10 credits: the balance reads the overdraft's floor");
    lock.execute_batch("COMMIT").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut states = vec![CreditWait::Waiting; tickets.len()];
    while states.contains(&CreditWait::Waiting) && Instant::now() < deadline {
        for (state, &ticket) in states.iter_mut().zip(&tickets) {
            if *state == CreditWait::Waiting {
                *state = meter.credit_wait(id, ticket).unwrap();
                assert!(meter.balance_of(id).unwrap() >= -overdraft, "a settle never reports a balance below the overdraft");
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let covered = (10 + overdraft) as usize;
    assert_eq!(states.iter().filter(|s| **s == CreditWait::Covered).count(), covered, "exactly what the account and its overdraft hold is covered");
    assert_eq!(states.iter().filter(|s| **s == CreditWait::Refused).count(), 20 - covered);
    assert_eq!(meter.balance_of(id).unwrap(), -overdraft);
    meter.release(id, covered as i64).unwrap();
    meter.close(Duration::from_secs(5)).unwrap();
    writer.close();
    assert_eq!(totals(&url, "acme"), (10, 10, 0, 0), "nothing was charged, every lease is back");
}

#[test]
fn sqlite_waiting_reservations_never_report_a_balance_below_0() {
    waiting_reservations_never_report_a_balance_below_the_overdraft(0);
}

#[test]
fn sqlite_waiting_reservations_never_report_a_balance_below_an_overdraft_of_5() {
    waiting_reservations_never_report_a_balance_below_the_overdraft(5);
}
