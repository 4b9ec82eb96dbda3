//! An account as a meter holds it: the balance the hot path reserves from
//! with one compare-and-swap, and, when credit is leased, what the credit
//! thread follows for it (see `lease`).

use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::Arc;

use super::lease;

pub(super) struct Account {
    pub(super) name: Arc<str>,
    /// Owned: the balance. Leased: the local block (what is leased and not
    /// yet reserved or charged).
    pub(super) balance: AtomicI64,
    /// Leased only: the database's balance plus other owners' leases, as
    /// last read, plus this meter's credits since.
    pub(super) rest: AtomicI64,
    /// Leased only: credits reserved so far (the thread derives the rate).
    pub(super) reserved: AtomicI64,
    /// Leased only: a reservation that leaves the block under this wakes the thread.
    pub(super) low: AtomicI64,
    /// Leased only: the block the thread would hold now.
    pub(super) block: AtomicI64,
    /// Leased only: the largest reservation that had to ask the database.
    pub(super) largest_wait: AtomicI64,
    /// Leased only: this meter has a lease row for the account.
    pub(super) held: AtomicBool,
    /// Leased only: the block may be spent until then (`clock::now_ns`): two
    /// thirds of the lease after the start of the call that last renewed its
    /// row. Past it, the lease may have lapsed (a renewal late) and its
    /// credit be back in the balance for others: reservations wait for the
    /// renewal instead (see `lease`).
    pub(super) usable_until: AtomicI64,
    /// Leased only: until then (see `lease::REFUSAL_MEMORY`), a reservation
    /// lacking `dry_need` or more is refused without asking the database.
    pub(super) dry_until: AtomicI64,
    pub(super) dry_need: AtomicI64,
    /// Leased only: reservations waiting for a lease, oldest first, and their sum (see `lease::pending`).
    pub(super) queue: lease::Queue,
    pub(super) pending: AtomicI64,
}

impl Account {
    pub(super) fn new(name: &str, balance: i64, rest: i64) -> Self {
        Account {
            name: Arc::from(name),
            balance: AtomicI64::new(balance),
            rest: AtomicI64::new(rest),
            reserved: AtomicI64::new(0),
            low: AtomicI64::new(0),
            block: AtomicI64::new(0),
            largest_wait: AtomicI64::new(0),
            held: AtomicBool::new(false),
            usable_until: AtomicI64::new(0),
            dry_until: AtomicI64::new(0),
            dry_need: AtomicI64::new(0),
            queue: lease::Queue::default(),
            pending: AtomicI64::new(0),
        }
    }
}
