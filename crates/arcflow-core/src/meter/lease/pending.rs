//! Reservations that wait for a lease, off the caller's thread.
//!
//! A reservation the local block cannot cover joins its account's queue of
//! waiters (the balance shows it as taken) and wakes the credit thread,
//! which serves the queue in order: from the block when it has the credit,
//! else by asking the database for the waiter's need (and a block beyond
//! it). A failure (busy, locked by another process, unreachable) is noted
//! and asked again at the next tick; the caller (the JavaScript thread)
//! never waits for the database. A waiter is refused only when the
//! database answers that the credit is not there (as a blocking
//! reservation would be, one waiter at a time: the account is spent
//! exactly), or when the meter closes. The caller looks at its ticket
//! (no I/O) and cancels it when its run ends first.
//!
//! The caller is told, not polled: each ticket the credit thread covers or
//! refuses, and each one its run cancels (`-ticket`: forget it), is noted
//! and handed to the meter's listener ([`Leases::listen`]) once per pass of
//! the thread, in the order the states changed; so the caller looks at a
//! ticket once, after it settled. A ticket settled before its caller
//! follows it (an answer it reads after a commit) is told all the same: the
//! caller keeps the news until it follows the ticket or is told to forget it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Leases, REFUSAL_MEMORY};
use crate::error::Result;
use crate::meter::{block, take, Account};

/// What a reservation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Reserved,
    /// Not covered: the balance.
    Short(i64),
    /// Waiting for a lease: its ticket for [`Meter::credit_wait`](crate::meter::Meter::credit_wait).
    Pending(u64),
}

/// Where a pending reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditWait {
    /// Reserved: it is the caller's to settle or release.
    Covered,
    Waiting,
    /// The database cannot cover it (or the meter closed): nothing is reserved.
    Refused,
}

const WAITING: u8 = 0;
const COVERED: u8 = 1;
const REFUSED: u8 = 2;
const CANCELLED: u8 = 3;

/// One reservation in an account's queue.
pub(in crate::meter) struct Waiter {
    ticket: u64,
    amount: i64,
    state: AtomicU8,
}

/// An account's waiters, oldest first.
pub(in crate::meter) type Queue = Mutex<VecDeque<Arc<Waiter>>>;

/// Told to the listener: tickets settled (covered or refused), and `-ticket` for one cancelled.
pub type Settled = Vec<i64>;

/// The meter's listener: called with the tickets of one pass, from the credit thread (or the closing one).
pub type Listener = Arc<dyn Fn(Settled) + Send + Sync>;

impl Leases {
    fn stopped(&self) -> bool {
        self.signal.lock().unwrap_or_else(|p| p.into_inner()).stop
    }

    /// A queued credit of this process not yet committed: the database must have it to lease it.
    pub(super) fn credit_in_flight(&self) -> bool {
        let credited = self.credited.load(Ordering::Acquire);
        credited > 0 && self.writer.stats().settled < credited
    }

    fn refused_recently(&self, account: &Account, need: i64) -> bool {
        let now = self.epoch.elapsed().as_nanos() as i64;
        !self.credit_in_flight() && now < account.dry_until.load(Ordering::Acquire) && need >= account.dry_need.load(Ordering::Acquire)
    }

    /// Queues `amount`, which the block cannot cover, and wakes the credit
    /// thread: its ticket, or `None` when it is refused without asking
    /// (closed, or the database refused as much just before).
    pub(in crate::meter) fn owe(&self, account: &Account, amount: i64) -> Option<u64> {
        if self.stopped() || self.refused_recently(account, amount - account.balance.load(Ordering::Acquire).max(0)) {
            return None;
        }
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed) + 1;
        account.pending.fetch_add(amount, Ordering::AcqRel);
        account.reserved.fetch_add(amount, Ordering::Relaxed);
        account.largest_wait.fetch_max(amount, Ordering::Relaxed);
        let waiter = Arc::new(Waiter { ticket, amount, state: AtomicU8::new(WAITING) });
        self.waiters.insert(ticket, Arc::clone(&waiter));
        account.queue.lock().unwrap_or_else(|p| p.into_inner()).push_back(Arc::clone(&waiter));
        self.counters.waits.fetch_add(1, Ordering::Relaxed);
        if self.stopped() {
            // closed meanwhile, perhaps after `refuse_all` went through the queue: no thread will serve it
            self.settle_told(account, &waiter, REFUSED);
            self.tell();
        } else {
            self.wake();
        }
        Some(ticket)
    }

    /// Where `ticket` stands (no I/O); a closed meter refuses its waiters.
    pub(in crate::meter) fn waiting(&self, account: &Account, ticket: u64) -> CreditWait {
        self.counters.looks.fetch_add(1, Ordering::Relaxed);
        let Some(waiter) = self.waiters.get(&ticket).map(|w| Arc::clone(&w)) else { return CreditWait::Refused };
        if self.stopped() {
            // the caller is looking: nothing to tell it
            settle(account, &waiter, REFUSED);
        }
        let answer = match waiter.state.load(Ordering::Acquire) {
            WAITING => return CreditWait::Waiting,
            COVERED => CreditWait::Covered,
            _ => CreditWait::Refused,
        };
        self.waiters.remove(&ticket); // the caller has the answer
        answer
    }

    /// The caller no longer waits (its run ended): true when the
    /// reservation was covered meanwhile (it is the caller's to release).
    pub(in crate::meter) fn cancel(&self, account: &Account, ticket: u64) -> bool {
        // under the news's lock: a `-ticket` always follows the ticket's own news
        let mut news = self.news();
        let Some((_, waiter)) = self.waiters.remove(&ticket) else { return false };
        let covered = !settle(account, &waiter, CANCELLED) && waiter.state.load(Ordering::Acquire) == COVERED;
        news.push(-(ticket as i64));
        drop(news);
        if self.stopped() {
            self.tell(); // no thread to pass the news on
        } else {
            self.wake();
        }
        covered
    }

    fn news(&self) -> MutexGuard<'_, Settled> {
        self.settled.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes `waiter` into `state` and notes it for the listener: false if it was not waiting.
    fn settle_told(&self, account: &Account, waiter: &Waiter, state: u8) -> bool {
        let mut news = self.news();
        let moved = settle(account, waiter, state);
        if moved {
            news.push(waiter.ticket as i64);
        }
        moved
    }

    /// From now on `listener` is told the tickets that settle (see the module's comment);
    /// what settled before is told at once.
    pub(in crate::meter) fn listen(&self, listener: Listener) {
        *self.listener.write().unwrap_or_else(|p| p.into_inner()) = Some(listener);
        self.tell();
    }

    /// Hands the news noted since the last call to the listener, in one call (none: kept).
    pub(in crate::meter) fn tell(&self) {
        let listener = self.listener.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(listener) = listener else { return };
        let news = std::mem::take(&mut *self.news());
        if !news.is_empty() {
            self.counters.wakeups.fetch_add(1, Ordering::Relaxed);
            listener(news);
        }
    }

    /// The meter closes: every reservation still waiting is refused, and told.
    pub(in crate::meter) fn refuse_all(&self, accounts: &[Arc<Account>]) {
        for account in accounts {
            let queue: Vec<_> = account.queue.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
            for waiter in queue {
                self.settle_told(account, &waiter, REFUSED);
            }
        }
        self.tell();
    }

    /// On the credit thread: serves the account's waiters in order, from
    /// the block or a grant each; stops at a failure (asked again next tick).
    pub(in crate::meter) fn serve(&self, account: &Account) -> Result<()> {
        loop {
            let Some(waiter) = account.queue.lock().unwrap_or_else(|p| p.into_inner()).front().cloned() else { return Ok(()) };
            if waiter.state.load(Ordering::Acquire) != WAITING {
                pop(account, &waiter);
                continue;
            }
            if account.held.load(Ordering::Acquire) && !self.usable(account) {
                self.refresh(&mut **self.conn(), account)?; // a lapsed block is renewed (or dropped) before it is spent
            }
            if self.usable(account) && take(&account.balance, waiter.amount, 0).is_ok() {
                if !self.settle_told(account, &waiter, COVERED) {
                    account.balance.fetch_add(waiter.amount, Ordering::AcqRel); // cancelled meanwhile
                }
                pop(account, &waiter);
                continue;
            }
            if self.credit_in_flight() {
                return Ok(()); // asked once this process's credit is in
            }
            let need = waiter.amount - account.balance.load(Ordering::Acquire).max(0);
            if self.refused_recently(account, need) {
                self.settle_told(account, &waiter, REFUSED);
                pop(account, &waiter);
                continue;
            }
            let size = account.block.load(Ordering::Relaxed).max(account.largest_wait.load(Ordering::Relaxed).saturating_mul(block::MIN_RESERVATIONS));
            if self.grant(&mut **self.conn(), account, need, need.saturating_add(size))? == 0 {
                let now = self.epoch.elapsed().as_nanos() as i64;
                account.dry_need.store(need, Ordering::Release);
                account.dry_until.store(now + REFUSAL_MEMORY.as_nanos() as i64, Ordering::Release);
                self.settle_told(account, &waiter, REFUSED);
                pop(account, &waiter);
            }
        }
    }
}

/// Takes `waiter` out of waiting into `state`: false if it was not waiting.
fn settle(account: &Account, waiter: &Waiter, state: u8) -> bool {
    let moved = waiter.state.compare_exchange(WAITING, state, Ordering::AcqRel, Ordering::Acquire).is_ok();
    if moved {
        account.pending.fetch_sub(waiter.amount, Ordering::AcqRel);
    }
    moved
}

fn pop(account: &Account, waiter: &Waiter) {
    let mut queue = account.queue.lock().unwrap_or_else(|p| p.into_inner());
    if queue.front().is_some_and(|w| w.ticket == waiter.ticket) {
        queue.pop_front();
    }
}
