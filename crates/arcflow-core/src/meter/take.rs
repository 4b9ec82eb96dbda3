//! A reservation on the hot path: one compare-and-swap on a balance, no I/O.

use std::sync::atomic::{AtomicI64, Ordering};

use super::account::Account;
use super::lease::Leases;

/// A leasing meter's reservation from its local block (the overdraft is
/// the database's to apply): one compare-and-swap; wakes the credit thread
/// when it leaves the block under its low water.
pub(super) fn take_leased(leases: &Leases, account: &Account, amount: i64) -> bool {
    if !leases.usable(account) {
        return false; // its lease may have lapsed: wait for the renewal (the credit thread's)
    }
    let before = account.balance.load(Ordering::Acquire);
    if take(&account.balance, amount, 0).is_err() {
        return false;
    }
    account.reserved.fetch_add(amount, Ordering::Relaxed);
    let low = account.low.load(Ordering::Relaxed);
    if before >= low && before - amount < low {
        leases.wake();
    }
    true
}

/// Takes `amount` from `balance` unless that leaves it under `floor`:
/// one compare-and-swap loop; `Err(balance)` when it would.
pub(in crate::meter) fn take(balance: &AtomicI64, amount: i64, floor: i64) -> std::result::Result<(), i64> {
    let mut current = balance.load(Ordering::Acquire);
    loop {
        let next = current - amount;
        if next < floor {
            return Err(current);
        }
        match balance.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(()),
            Err(actual) => current = actual,
        }
    }
}
