//! Reservations that wait for a lease, off the caller's thread.
//!
//! A reservation the local block cannot cover is taken anyway, as a debt
//! of the block (its balance goes below zero), and the credit thread asks
//! the database for the debt: the caller (the JavaScript thread) never
//! waits for the database, and another process's lock, which makes that
//! request fail at once, is only a reason to ask again at the next tick.
//! The reservation is covered once the block is back at zero or above (all
//! its debts are leased); it is refused when the database answers that the
//! credit is not there, or the meter closes. Every reservation waiting at a
//! refusal is refused (the database could not cover them together); the
//! caller gives it back, and the rest are asked for again.

use std::sync::atomic::Ordering;

use super::{Leases, REFUSAL_MEMORY};
use crate::error::Result;
use crate::meter::{block, Account};

/// What a reservation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Reserved,
    /// Not covered: the balance.
    Short(i64),
    /// Taken as a debt of the block, waiting for a lease: its ticket for [`Meter::credit_wait`](crate::meter::Meter::credit_wait).
    Pending(u64),
}

/// Where a pending reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditWait {
    Covered,
    Waiting,
    /// The database cannot cover it (or the meter closed): the caller gives it back.
    Refused,
}

impl Leases {
    fn stopped(&self) -> bool {
        self.signal.lock().unwrap_or_else(|p| p.into_inner()).stop
    }

    /// A queued credit of this process not yet committed: the database must have it to lease it.
    fn credit_in_flight(&self) -> bool {
        let credited = self.credited.load(Ordering::Acquire);
        credited > 0 && self.writer.stats().settled < credited
    }

    /// Takes `amount`, which the block cannot cover, as a debt and wakes the
    /// credit thread: its ticket, or `None` when it is refused without
    /// asking (closed, or the database refused as much just before).
    pub(in crate::meter) fn owe(&self, account: &Account, amount: i64) -> Option<u64> {
        if self.stopped() {
            return None; // closed: no new lease
        }
        let need = amount - account.balance.load(Ordering::Acquire).max(0);
        let now = self.epoch.elapsed().as_nanos() as i64;
        if !self.credit_in_flight() && now < account.dry_until.load(Ordering::Acquire) && need >= account.dry_need.load(Ordering::Acquire) {
            return None;
        }
        // a refusal from now on includes this debt
        let ticket = account.refusals.load(Ordering::Acquire) + 1;
        account.balance.fetch_sub(amount, Ordering::AcqRel);
        account.reserved.fetch_add(amount, Ordering::Relaxed);
        account.largest_wait.fetch_max(amount, Ordering::Relaxed);
        self.counters.waits.fetch_add(1, Ordering::Relaxed);
        self.wake();
        Some(ticket)
    }

    /// Where the reservation of `ticket` stands: no I/O.
    pub(in crate::meter) fn waiting(&self, account: &Account, ticket: u64) -> CreditWait {
        if account.balance.load(Ordering::Acquire) >= 0 {
            CreditWait::Covered
        } else if account.refusals.load(Ordering::Acquire) >= ticket || self.stopped() {
            CreditWait::Refused
        } else {
            CreditWait::Waiting
        }
    }

    /// On the credit thread: asks the database for the block's debt, and a
    /// block beyond it. A failure (busy, locked, unreachable) is noted and
    /// asked again at the next tick; a refusal refuses the waiting reservations.
    pub(in crate::meter) fn pay_debt(&self, account: &Account) -> Result<()> {
        let local = account.balance.load(Ordering::Acquire);
        if local >= 0 || self.credit_in_flight() {
            return Ok(()); // nothing owed, or asked once this process's credit is in
        }
        let need = -local;
        let size = account.block.load(Ordering::Relaxed).max(account.largest_wait.load(Ordering::Relaxed).saturating_mul(block::MIN_RESERVATIONS));
        if self.grant(&mut **self.conn(), account, need, need.saturating_add(size))? == 0 {
            let now = self.epoch.elapsed().as_nanos() as i64;
            account.dry_need.store(need, Ordering::Release);
            account.dry_until.store(now + REFUSAL_MEMORY.as_nanos() as i64, Ordering::Release);
            account.refusals.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }
}

/// Drops what is positive of a block (given back, or lost), keeping its
/// debts: a waiting reservation must not read a lost block as covered.
/// Answers what was dropped.
pub(in crate::meter) fn drop_block(account: &Account) -> i64 {
    account.balance.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| (b > 0).then_some(0)).unwrap_or(0).max(0)
}

