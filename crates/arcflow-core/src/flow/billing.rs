//! A metered run's side of metering: what its attempts in flight have
//! reserved (given back whole when the run ends), and the one rule of what
//! an attempt that ends is charged. The account's balance itself is the
//! shared [`Meter`](crate::meter::Meter)'s.

use crate::error::Result;
use crate::meter::{CreditWait, LedgerKey, LedgerWrite, Reservation, RunMeter};

use super::answer::Charge;

pub struct Billing {
    pub meter: RunMeter,
    /// Failed attempts are billed too (`metering.billFailed`).
    bill_failed: bool,
    /// Credits reserved by attempts in flight.
    reserved: i64,
    /// Reservations waiting for a lease: (ticket, amount).
    waiting: Vec<(u64, i64)>,
}

impl Billing {
    pub fn new(meter: RunMeter, bill_failed: bool) -> Self {
        Billing { meter, bill_failed, reserved: 0, waiting: Vec::new() }
    }

    /// Reserves the static cost of a task's attempt without waiting for
    /// I/O (see [`Meter::try_reserve`](crate::meter::Meter::try_reserve));
    /// `None`: no static cost (a function of the input sets it: the engine
    /// reserves with [`Billing::reserve`]).
    pub fn reserve_static(&mut self, task: u32) -> Result<Option<Reservation>> {
        let Some(cost) = self.meter.costs.get(task as usize).copied().flatten() else { return Ok(None) };
        self.reserve(cost).map(Some)
    }

    /// Reserves `amount` without waiting for I/O; a pending one is the
    /// run's to follow (its end cancels it).
    pub fn reserve(&mut self, amount: i64) -> Result<Reservation> {
        let reservation = self.meter.meter.try_reserve(self.meter.account, amount)?;
        match reservation {
            Reservation::Reserved => self.reserved += amount,
            Reservation::Pending(ticket) => self.waiting.push((ticket, amount)),
            Reservation::Short(_) => {}
        }
        Ok(reservation)
    }

    /// Where a pending reservation stands: `Ok(true)` reserved, `Ok(false)`
    /// waiting, `Err(balance)` refused.
    pub fn credit_wait(&mut self, ticket: u64) -> Result<std::result::Result<bool, i64>> {
        let state = self.meter.meter.credit_wait(self.meter.account, ticket)?;
        let Some(at) = self.waiting.iter().position(|(t, _)| *t == ticket) else {
            return Err(crate::error::Error::Internal(format!("no reservation waits as {ticket}")));
        };
        Ok(match state {
            CreditWait::Waiting => Ok(false),
            CreditWait::Covered => {
                self.reserved += self.waiting.swap_remove(at).1;
                Ok(true)
            }
            CreditWait::Refused => {
                self.waiting.swap_remove(at);
                Err(self.meter.meter.balance_of(self.meter.account)?)
            }
        })
    }

    /// Ends an attempt's reservation: a succeeded attempt (or any, with
    /// `bill_failed`) is charged what its handler reported, else its
    /// estimate; a failed one nothing. The rest goes back to the balance;
    /// answers the ledger write to queue when something was charged.
    pub fn settle(&mut self, charge: Charge, succeeded: bool, key: LedgerKey) -> Result<Option<LedgerWrite>> {
        let charged = if succeeded || self.bill_failed { charge.reported.unwrap_or(charge.reserved) } else { 0 };
        self.reserved -= charge.reserved;
        self.meter.meter.charge(self.meter.account, charge.reserved, charged, key)
    }

    /// Gives a reservation back whole (an attempt that ended late or was cancelled).
    pub fn release(&mut self, amount: i64) -> Result<()> {
        self.reserved -= amount;
        self.meter.meter.release(self.meter.account, amount)
    }

    /// The run ended: whatever its attempts still hold goes back.
    pub fn release_all(&mut self) -> Result<()> {
        let mut held = std::mem::take(&mut self.reserved);
        for (ticket, amount) in std::mem::take(&mut self.waiting) {
            if self.meter.meter.cancel_wait(self.meter.account, ticket)? {
                held += amount; // covered while the run ended
            }
        }
        if held > 0 {
            self.meter.meter.release(self.meter.account, held)?;
        }
        Ok(())
    }
}
