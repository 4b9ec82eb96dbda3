//! Credit leases as the store keeps them: `credit_leases (account, owner,
//! amount, lease_until)`, a block of an account's credit taken out of
//! `accounts.balance` by one process (its `owner` id), which reserves and
//! charges against it in memory (`meter::lease`). What the store guarantees,
//! on both backends:
//! - `balance + Σ leases = Σ ledger` for every account, at every commit: a
//!   grant, a return and an expiry move credit between the balance and a
//!   lease row in one transaction; a charge draws from its owner's lease
//!   row (from the balance when that lease is gone) in the transaction of
//!   its ledger entry.
//! - a grant never takes `balance` below `-overdraft`;
//! - a lease past `lease_until` (by the database's clock; twice the lease
//!   after its last grant or renewal, see [`lease_kept_until`]) is returned to the
//!   balance by whoever looks first: a grant on its account, any renewal, or
//!   [`Store::expire_credit_leases`](super::Store::expire_credit_leases).

/// The expiry a grant or a renewal at `now_ms` gives its lease row: twice
/// the lease. Its holder spends the block only for two thirds of the lease
/// after that call began (`meter/lease/renewal.rs`); what it reserved
/// meanwhile has the rest, four thirds of a lease, to be charged (its
/// attempt to end and its batch to commit) before another process may
/// return the row to the balance, where a late charge would count that
/// credit twice. A dead holder's credit comes back after twice the lease.
pub fn lease_kept_until(now_ms: i64, lease_ms: i64) -> i64 {
    now_ms.saturating_add(lease_ms.saturating_mul(2))
}

/// A process asks for more credit on `account`.
#[derive(Debug, Clone)]
pub struct LeaseRequest<'a> {
    pub account: &'a str,
    pub owner: &'a str,
    /// What the reservation waiting for it lacks (0: a background top-up).
    pub need: i64,
    /// The block the meter would like (see `meter::lease::block`).
    pub want: i64,
    /// How far below zero the balance may go.
    pub overdraft: i64,
    /// The lease's length from now, in ms.
    pub lease_ms: i64,
}

/// What a grant gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrant {
    /// Added to the owner's lease (0: refused).
    pub granted: i64,
    /// The balance after the grant plus every other owner's lease: with the
    /// owner's own unspent lease, what the account holds.
    pub rest: i64,
}

/// The block granted from `available` (balance + overdraft) for a request:
/// `want`, but at most half of what is available so that other processes
/// still find credit, and never less than `need`; nothing when `available`
/// cannot cover `need` (the reservation is refused and nothing is held).
pub fn grant_size(available: i64, need: i64, want: i64) -> i64 {
    if available <= 0 || available < need {
        return 0;
    }
    want.min(available / 2).max(need).min(available)
}

#[cfg(test)]
mod tests {
    use super::grant_size;

    #[test]
    fn a_grant_covers_the_need_takes_at_most_half_the_rest_and_never_more_than_there_is() {
        assert_eq!(grant_size(1000, 1, 100), 100);
        assert_eq!(grant_size(1000, 1, 900), 500);
        assert_eq!(grant_size(1000, 700, 100), 700);
        assert_eq!(grant_size(3, 1, 100), 1);
        assert_eq!(grant_size(1, 1, 100), 1);
        assert_eq!(grant_size(5, 6, 100), 0);
        assert_eq!(grant_size(0, 0, 100), 0);
        assert_eq!(grant_size(-4, 0, 100), 0);
    }
}
