//! Renewals, and the rule that a block is spent only while its lease
//! cannot have lapsed (see the parent module's comment): each renewal or
//! grant that sets a row's expiry makes its block usable for two thirds of
//! the lease from the call's start; a block past that is renewed (or found
//! gone, and dropped) before anything more is taken from it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use super::{clock, Leases};
use crate::error::Result;
use crate::meter::Account;
use crate::store::Store;

impl Leases {
    /// Until when a block leased (or renewed) by a call that started at `start` may be spent.
    pub(super) fn usable_after(&self, start: i64) -> i64 {
        start.saturating_add((self.config.lease.as_nanos() * 2 / 3).min(i64::MAX as u128) as i64)
    }

    /// Whether `account`'s block may be spent now: its lease cannot have lapsed (see `Account::usable_until`).
    pub(in crate::meter) fn usable(&self, account: &Account) -> bool {
        clock::now_ns() < account.usable_until.load(Ordering::Acquire)
    }

    /// A block that may no longer be spent is renewed first (or found lost, and dropped).
    pub(super) fn refresh(&self, conn: &mut dyn Store, account: &Account) -> Result<()> {
        if account.held.load(Ordering::Acquire) && !self.usable(account) {
            self.renew_with(conn, &[account])?;
        }
        Ok(())
    }


    /// Renews every lease of this meter; drops the block of one found gone;
    /// refreshes each account's rest.
    pub(super) fn renew_with(&self, conn: &mut dyn Store, list: &[&Account]) -> Result<()> {
        let start = clock::now_ns();
        let held: HashMap<String, i64> = conn.renew_credit_leases(&self.owner, self.lease_ms())?.into_iter().collect();
        self.counters.renewals.fetch_add(1, Ordering::Relaxed);
        for account in list {
            match held.get(&*account.name) {
                Some(rest) => {
                    account.rest.store(*rest, Ordering::Release);
                    account.usable_until.fetch_max(self.usable_after(start), Ordering::AcqRel);
                }
                None => {
                    if account.held.swap(false, Ordering::AcqRel) {
                        // expired while this process stalled: its credit went back to the balance
                        account.balance.swap(0, Ordering::AcqRel);
                        self.counters.lost.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(rest) = conn.credit_rest(&account.name, &self.owner)? {
                        account.rest.store(rest, Ordering::Release);
                    }
                }
            }
        }
        Ok(())
    }

}
