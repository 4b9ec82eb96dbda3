//! Credit leasing: how a meter spends an account that other processes
//! spend too (PostgreSQL always; SQLite unless opened `locking=exclusive`).
//!
//! The meter does not own the balance. It holds a block of the account's
//! credit leased from the database (`credit_leases`, taken out of
//! `accounts.balance` in one transaction that never takes the balance below
//! `-overdraft`, see `store/credit.rs`), and reserves and charges against
//! that block in memory: the hot path stays one compare-and-swap. A
//! background thread (`arcflow-credit`) tops the block up before it runs
//! out (its size follows the spending rate, see `block`), gives back what
//! an idle account does not use, renews the leases (one statement per
//! third of the lease, for all accounts) and, on each renewal, returns
//! every expired lease of any process to its balance. A reservation the
//! block cannot cover waits for a lease the credit thread asks for (see
//! `pending`: the engine's path, no I/O on its thread), or, through
//! [`Meter::reserve`](super::Meter::reserve), asks the database itself on
//! the caller's thread (one blocking round trip, counted as `blocking`); it
//! is refused only when the database cannot cover it either. Charges are queued as today and the
//! flush thread draws them from this meter's lease row, in the transaction
//! of their ledger entry, once per key. At close the meter waits for its
//! queued charges and gives every lease back.
//!
//! A block is spent only while its lease cannot have lapsed: until two
//! thirds of the lease after the start of the call (renewal or grant) that
//! last set its row's expiry (`Account::usable_until`, checked on the hot
//! path with a coarse clock read). Past that, reservations wait while the
//! credit thread renews (or finds the lease gone and drops the block): a
//! late renewal must not spend credit another process may already have
//! returned to the balance and leased again.
//!
//! What a balance means here: the database's balance plus every other
//! process's unspent lease, as read at this meter's last database call
//! (each renewal at least), plus its own credits since, plus its own local
//! block (which has its open reservations taken out), less the
//! reservations waiting for a lease as far as they can be covered (it does
//! not go below `-overdraft` for them: those past it will be refused).
//!
//! What a crash does: money is never created, and none is lost for good.
//! The database always holds `balance + Σ leases = Σ ledger`; a process
//! killed (kill -9) leaves its lease row, whose unspent amount is only
//! unavailable until the lease expires (by the database's clock), when the
//! next grant on that account, or any process's renewal or takeover,
//! returns it to the balance. Its reservations in flight die with it, and a
//! charge it queued but never flushed is never billed (its attempt is
//! resumed and reserves again). A process stopped past its lease
//! (SIGSTOP) finds its lease gone at its next renewal and drops its local
//! block; what it reserved before it stopped is charged to the balance
//! when it settles, so the account can go below `-overdraft` by at most
//! that: the reservations of one stalled process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::block;
use super::clock;
use super::Account;
use crate::error::{Error, Result};
use crate::store::{LeaseRequest, Store, WriteBehind};

mod pending;
mod renewal;
mod stats;
mod thread;
pub use pending::{CreditWait, Listener, Reservation, Settled};
pub(super) use pending::Queue;
pub use stats::LeaseStats;
use stats::Counters;

/// A leasing meter's timings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// How long a lease lasts unrenewed: a dead process's credit comes back after this. Default 30 s.
    pub lease: Duration,
    /// An account without reservations this long gives its block back. Default 5 s.
    pub idle: Duration,
    /// How often the background thread looks at the blocks (a reservation under the low water wakes it at once). Default 25 ms.
    pub tick: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig { lease: Duration::from_secs(30), idle: Duration::from_secs(5), tick: Duration::from_millis(25) }
    }
}

#[derive(Default)]
struct Signal {
    stop: bool,
    woken: bool,
}

pub(super) struct Leases {
    pub(super) owner: Arc<str>,
    /// The meter's own connection: lease calls never queue behind history reads or the flush.
    conn: Mutex<Box<dyn Store>>,
    config: LeaseConfig,
    overdraft: i64,
    counters: Counters,
    last_error: Mutex<Option<String>>,
    signal: Mutex<Signal>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    writer: Arc<WriteBehind>,
    /// The writer's sequence number of this meter's latest credit: a lease
    /// call waits for it to commit (the credit is the database's to lease).
    credited: AtomicU64,
    /// The clock of `Account::dry_until` (ns since this instant).
    epoch: Instant,
    /// Reservations waiting for a lease, by ticket, until their caller has the answer (see `pending`).
    tickets: AtomicU64,
    waiters: dashmap::DashMap<u64, Arc<pending::Waiter>>,
    /// Tickets settled (or cancelled: negative) not yet told, and who to tell (see `pending`).
    settled: Mutex<Settled>,
    listener: RwLock<Option<Listener>>,
}

/// How long a refusal by the database is remembered: a reservation in that
/// window that lacks at least as much is refused without another round
/// trip (a burst of runs on an empty account asks once, not once a run).
pub const REFUSAL_MEMORY: Duration = Duration::from_millis(50);

type Accounts = Arc<RwLock<Vec<Arc<Account>>>>;

/// A process-unique, machine-qualified owner id.
fn owner_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut host = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or fails
    let named = unsafe { libc::gethostname(host.as_mut_ptr().cast(), host.len()) } == 0;
    let host = if named { String::from_utf8_lossy(&host[..host.iter().position(|b| *b == 0).unwrap_or(0)]).into_owned() } else { "host".into() };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{host}/{}/{}/{nanos:x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Leases {
    pub(super) fn start(conn: Box<dyn Store>, config: LeaseConfig, overdraft: i64, accounts: Accounts, writer: Arc<WriteBehind>) -> Result<Arc<Self>> {
        let leases = Arc::new(Leases {
            owner: Arc::from(owner_id()),
            conn: Mutex::new(conn),
            config,
            overdraft,
            counters: Counters::default(),
            last_error: Mutex::new(None),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
            thread: Mutex::new(None),
            writer: Arc::clone(&writer),
            credited: AtomicU64::new(0),
            epoch: Instant::now(),
            tickets: AtomicU64::new(0),
            waiters: dashmap::DashMap::new(),
            settled: Mutex::default(),
            listener: RwLock::default(),
        });
        let worker = Arc::clone(&leases);
        let thread = std::thread::Builder::new()
            .name("arcflow-credit".into())
            .spawn(move || worker.run(&accounts, &writer))
            .map_err(|e| Error::Internal(format!("cannot start the credit thread: {e}")))?;
        *leases.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
        Ok(leases)
    }

    fn lease_ms(&self) -> i64 {
        self.config.lease.as_millis().min(i64::MAX as u128) as i64
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Box<dyn Store>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note(&self, error: &Error) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
    }

    /// Adds to `account`'s lease: what was granted (0: the database could not cover `need`).
    fn grant(&self, conn: &mut dyn Store, account: &Account, need: i64, want: i64) -> Result<i64> {
        self.refresh(conn, account)?; // a grant must not add to a block whose row is gone
        let request = LeaseRequest { account: &account.name, owner: &self.owner, need, want: want.max(need), overdraft: self.overdraft, lease_ms: self.lease_ms() };
        let start = clock::now_ns();
        let Some(grant) = conn.lease_credit(&request)? else { return Ok(0) };
        if grant.granted > 0 {
            // the grant set the row's lease_until (after `start`, by the database's clock)
            account.usable_until.fetch_max(self.usable_after(start), Ordering::AcqRel);
            account.held.store(true, Ordering::Release);
            account.balance.fetch_add(grant.granted, Ordering::AcqRel);
            self.counters.grants.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
        }
        account.rest.store(grant.rest, Ordering::Release);
        Ok(grant.granted)
    }

    /// A reservation of `amount` the local block could not cover: asks the
    /// database on this thread (a transient failure is tried again twice).
    /// True when the block now covers it, or may after another look.
    pub(super) fn cover(&self, account: &Account, amount: i64) -> Result<bool> {
        if self.signal.lock().unwrap_or_else(|p| p.into_inner()).stop {
            return Ok(false); // closed: no new lease
        }
        // a credit of this process just queued: the database must have it to lease it
        // (a reservation right after a credit waits once for its commit)
        let credited = self.credited.load(Ordering::Acquire);
        let fresh_credit = credited > 0 && self.writer.stats().settled < credited;
        if fresh_credit {
            self.writer.settle(Duration::from_secs(5));
        }
        let mut conn = self.conn();
        self.refresh(&mut **conn, account)?;
        // the background thread may have topped the block up meanwhile
        let local = account.balance.load(Ordering::Acquire);
        if local >= amount {
            return Ok(true);
        }
        let need = amount - local.max(0);
        let now = self.epoch.elapsed().as_nanos() as i64;
        if !fresh_credit && now < account.dry_until.load(Ordering::Acquire) && need >= account.dry_need.load(Ordering::Acquire) {
            return Ok(false);
        }
        account.largest_wait.fetch_max(amount, Ordering::Relaxed);
        let want = account.block.load(Ordering::Relaxed).max(amount.saturating_mul(block::MIN_RESERVATIONS));
        self.counters.blocking.fetch_add(1, Ordering::Relaxed);
        let mut tries = 0;
        loop {
            match self.grant(&mut **conn, account, need, want) {
                Ok(0) => {
                    account.dry_need.store(need, Ordering::Release);
                    account.dry_until.store(now + REFUSAL_MEMORY.as_nanos() as i64, Ordering::Release);
                    return Ok(false);
                }
                Ok(_) => return Ok(true),
                Err(Error::Store { transient: true, .. }) if tries < 2 => tries += 1,
                Err(e) => {
                    self.note(&e);
                    return Err(e);
                }
            }
        }
    }

    /// This meter queued a credit as the writer's `seq`.
    pub(super) fn credited(&self, seq: u64) {
        self.credited.fetch_max(seq, Ordering::AcqRel);
    }

    /// Wakes the background thread (the block fell under its low water).
    pub(super) fn wake(&self) {
        let mut signal = self.signal.lock().unwrap_or_else(|p| p.into_inner());
        signal.woken = true;
        self.wake.notify_one();
    }

    /// Stops the thread, waits (at most `settle`) for the queued charges,
    /// and gives every lease back whole (each lease row goes).
    pub(super) fn close(&self, accounts: &Accounts, writer: &WriteBehind, settle: Duration) -> Result<()> {
        {
            let mut signal = self.signal.lock().unwrap_or_else(|p| p.into_inner());
            if signal.stop {
                return Ok(());
            }
            signal.stop = true;
            self.wake.notify_one();
        }
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
        let list = accounts.read().map(|a| a.clone()).unwrap_or_default();
        self.refuse_all(&list);
        writer.settle(settle);
        let mut conn = self.conn();
        let mut result = Ok(());
        for account in list.iter().filter(|a| a.held.swap(false, Ordering::AcqRel)) {
            let back = account.balance.swap(0, Ordering::AcqRel);
            match conn.return_credit(&account.name, &self.owner, None) {
                Ok(()) => {
                    account.rest.fetch_add(back, Ordering::AcqRel);
                    self.counters.returns.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    // left to expire: a later process gets it back after the lease
                    self.note(&e);
                    result = Err(e);
                }
            }
        }
        result
    }
}
