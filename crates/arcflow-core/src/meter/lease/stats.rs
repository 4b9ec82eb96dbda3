//! What a leasing meter counts of its database calls ([`LeaseStats`]).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::Leases;

/// What a leasing meter did: its database calls, by kind.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseStats {
    /// Lease calls that added credit, both kinds.
    pub grants: u64,
    /// Lease calls a reservation waited for, on its own thread.
    pub blocking: u64,
    /// Reservations that waited for a lease off their thread (see `pending`).
    pub waits: u64,
    /// Looks at a waiting reservation's state (`credit_wait`): one per wait when the caller is told, not polling.
    pub looks: u64,
    /// Calls of the listener (each with the tickets of one pass of the credit thread).
    pub wakeups: u64,
    /// Lease calls the database could not cover.
    pub refused: u64,
    /// Blocks given back (idle, or at close).
    pub returns: u64,
    pub renewals: u64,
    /// Leases found expired at a renewal (this process was stalled past its lease).
    pub lost: u64,
    pub errors: u64,
    pub last_error: Option<String>,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) grants: AtomicU64,
    pub(super) blocking: AtomicU64,
    pub(super) waits: AtomicU64,
    pub(super) looks: AtomicU64,
    pub(super) wakeups: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) returns: AtomicU64,
    pub(super) renewals: AtomicU64,
    pub(super) lost: AtomicU64,
    pub(super) errors: AtomicU64,
}

impl Leases {
    pub(in crate::meter) fn stats(&self) -> LeaseStats {
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LeaseStats {
            grants: n(&c.grants),
            blocking: n(&c.blocking),
            waits: n(&c.waits),
            looks: n(&c.looks),
            wakeups: n(&c.wakeups),
            refused: n(&c.refused),
            returns: n(&c.returns),
            renewals: n(&c.renewals),
            lost: n(&c.lost),
            errors: n(&c.errors),
            last_error: self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}
