//! Metering: integer credits per account, checked and reserved on the hot
//! path with one atomic operation (no I/O), charged through the store's
//! write-behind queue with an idempotency key, so that a retried flush, a
//! resumed run or a write delivered twice never charges twice.
//!
//! A reservation lives in memory only: a crash releases it (the store's
//! balance never included it), and a resumed attempt reserves again. What
//! the store keeps is the ledger (each charge and credit, unique by key) and
//! each account's balance, updated in the same transaction as the entry.
//!
//! A meter owns its accounts' balances (in memory, or on a store only this
//! process opens: `locking=exclusive`), or, on a store other processes
//! share, leases blocks of credit from it ([`lease`]): the same calls, the
//! same one compare-and-swap per reservation.

mod account;
mod block;
mod clock;
pub mod lease;
mod take;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use dashmap::DashMap;
use crate::error::{Error, Result};
use crate::time::now_ms;
use crate::store::{Store, Write, WriteBehind};
use account::Account;
use lease::{LeaseConfig, LeaseStats, Leases};
use take::{take, take_leased};
pub use lease::{CreditWait, Listener, Reservation, Settled};
// the records live beside the store's others; named here too
pub use crate::store::{LedgerEntry, LedgerKey, LedgerWrite};

/// A metered run's meter: the paying account, and each task's cost when it
/// is a number (`None`: a function of the input, reserved by the engine).
#[derive(Clone)]
pub struct RunMeter {
    pub meter: Arc<Meter>,
    pub account: u32,
    pub costs: Arc<[Option<i64>]>,
}

/// An in-memory meter's ledger: the most recent writes (kept as queued:
/// turned into entries only when read), and the keys of credits (a charge's
/// key is unique by construction: each attempt settles once).
#[derive(Default)]
struct MemoryLedger {
    writes: VecDeque<LedgerWrite>,
    credit_keys: HashSet<String>,
}

/// Entries an in-memory meter keeps for `ledger()`.
const MEMORY_LEDGER_ENTRIES: usize = 100_000;

pub struct Meter {
    accounts: Arc<RwLock<Vec<Arc<Account>>>>,
    ids: DashMap<String, u32>,
    writer: Option<Arc<WriteBehind>>,
    /// How far below zero a reservation may take a balance.
    overdraft: i64,
    memory: Mutex<MemoryLedger>,
    /// Set on a store other processes share: credit is leased, not owned.
    leases: Option<Arc<Leases>>,
}

/// The largest amount accepted: credits are integers JavaScript holds exactly.
pub const MAX_AMOUNT: i64 = (1 << 53) - 1;

fn check_amount(amount: i64, what: &str) -> Result<()> {
    if !(0..=MAX_AMOUNT).contains(&amount) {
        return Err(Error::invalid_value(format!("{what} must be a whole number of credits from 0 to 2^53 - 1, got {amount}")));
    }
    Ok(())
}

impl Meter {
    /// A meter; with a writer its ledger and balances persist in the store.
    pub fn new(writer: Option<Arc<WriteBehind>>, overdraft: i64) -> Self {
        Meter { accounts: Arc::default(), ids: DashMap::new(), writer, overdraft: overdraft.max(0), memory: Mutex::default(), leases: None }
    }

    /// A meter on a store other processes share: it leases credit through
    /// `conn`, a connection of its own to that store (see [`lease`]).
    pub fn leasing(writer: Arc<WriteBehind>, overdraft: i64, conn: Box<dyn Store>, config: LeaseConfig) -> Result<Self> {
        let mut meter = Meter::new(Some(Arc::clone(&writer)), overdraft);
        meter.leases = Some(Leases::start(conn, config, meter.overdraft, Arc::clone(&meter.accounts), writer)?);
        Ok(meter)
    }

    /// A leasing meter's database calls; `None` for a meter that owns its balances.
    pub fn lease_stats(&self) -> Option<LeaseStats> {
        self.leases.as_ref().map(|l| l.stats())
    }

    /// Tells `listener` the tickets of pending reservations as they settle
    /// (covered or refused; `-ticket`: cancelled), once per pass of the
    /// credit thread, so the caller looks at each once instead of polling
    /// (see `lease::pending`). False for a meter that owns its balances (nothing waits).
    pub fn listen(&self, listener: Listener) -> bool {
        self.leases.as_ref().map(|l| l.listen(listener)).is_some()
    }

    /// A leasing meter's owner id in `credit_leases`.
    pub fn lease_owner(&self) -> Option<&str> {
        self.leases.as_ref().map(|l| &*l.owner)
    }

    /// Stops leasing: waits (at most `settle`) for the queued charges and
    /// gives every lease back. Nothing for a meter that owns its balances.
    /// Later reservations are refused once the block is spent.
    pub fn close(&self, settle: std::time::Duration) -> Result<()> {
        match (&self.leases, &self.writer) {
            (Some(leases), Some(writer)) => leases.close(&self.accounts, writer, settle),
            _ => Ok(()),
        }
    }

    fn account(&self, id: u32) -> Result<Arc<Account>> {
        let accounts = self.accounts.read().map_err(|_| Error::Internal("the meter is poisoned".into()))?;
        accounts.get(id as usize).cloned().ok_or_else(|| Error::Internal(format!("unknown account id {id}")))
    }

    fn add(&self, name: &str, balance: i64, rest: i64) -> Result<u32> {
        let mut accounts = self.accounts.write().map_err(|_| Error::Internal("the meter is poisoned".into()))?;
        if let Some(id) = self.ids.get(name) {
            return Ok(*id);
        }
        let id = accounts.len() as u32;
        accounts.push(Arc::new(Account::new(name, balance, rest)));
        self.ids.insert(name.to_owned(), id);
        Ok(id)
    }

    /// The id of account `name` (a durable meter loads its balance from the
    /// store on first use); `None` when it does not exist.
    pub fn resolve(&self, name: &str, store: Option<&mut dyn Store>) -> Result<Option<u32>> {
        if let Some(id) = self.ids.get(name) {
            return Ok(Some(*id));
        }
        match store {
            Some(store) => match &self.leases {
                // leased: nothing local yet; the rest is the balance and others' leases
                Some(leases) => match store.credit_rest(name, &leases.owner)? {
                    Some(rest) => self.add(name, 0, rest).map(Some),
                    None => Ok(None),
                },
                None => match store.balance(name)? {
                    Some(balance) => self.add(name, balance, 0).map(Some),
                    None => Ok(None),
                },
            },
            None => Ok(None),
        }
    }

    /// Reserves `amount` on account `id` if its balance covers it (within
    /// the overdraft): one compare-and-swap, no I/O. `Err(balance)` when it
    /// does not. A leasing meter reserves from its local block (the
    /// overdraft is the database's to apply), and asks the database when
    /// the block cannot cover it: one blocking round trip (see [`lease`]).
    pub fn reserve(&self, id: u32, amount: i64) -> Result<std::result::Result<(), i64>> {
        check_amount(amount, "a cost")?;
        let account = self.account(id)?;
        let Some(leases) = &self.leases else { return Ok(take(&account.balance, amount, -self.overdraft)) };
        // a grant, then the reservation; again only if another reservation took the grant first
        for _ in 0..4 {
            if take_leased(leases, &account, amount) {
                return Ok(Ok(()));
            }
            if !leases.cover(&account, amount)? {
                break;
            }
        }
        Ok(Err(self.view(&account)))
    }

    /// Reserves `amount` on account `id` without waiting for I/O: as
    /// [`Meter::reserve`] when the balance (or the local block) covers it;
    /// a leasing meter whose block cannot takes it as a debt the credit
    /// thread asks the database for, and answers `Pending` (see [`lease`];
    /// follow it with [`Meter::credit_wait`]).
    pub fn try_reserve(&self, id: u32, amount: i64) -> Result<Reservation> {
        check_amount(amount, "a cost")?;
        let account = self.account(id)?;
        let Some(leases) = &self.leases else {
            return Ok(take(&account.balance, amount, -self.overdraft).map_or_else(Reservation::Short, |()| Reservation::Reserved));
        };
        if take_leased(leases, &account, amount) {
            return Ok(Reservation::Reserved);
        }
        Ok(match leases.owe(&account, amount) {
            Some(ticket) => Reservation::Pending(ticket),
            None => Reservation::Short(self.view(&account)),
        })
    }

    /// Where a pending reservation (`ticket`) on account `id` stands: no
    /// I/O. A covered one is reserved; a refused one reserves nothing.
    pub fn credit_wait(&self, id: u32, ticket: u64) -> Result<CreditWait> {
        let account = self.account(id)?;
        Ok(self.leases.as_ref().map_or(CreditWait::Refused, |l| l.waiting(&account, ticket)))
    }

    /// Gives up waiting for `ticket` (its run ended): true when it was
    /// covered meanwhile, so that its amount is reserved (the caller's to release).
    pub fn cancel_wait(&self, id: u32, ticket: u64) -> Result<bool> {
        let account = self.account(id)?;
        Ok(self.leases.as_ref().is_some_and(|l| l.cancel(&account, ticket)))
    }

    /// An account's balance as this meter sees it (see [`Meter::balance`]).
    pub fn balance_of(&self, id: u32) -> Result<i64> {
        Ok(self.view(&*self.account(id)?))
    }

    /// Ends a reservation: `charged` is billed, the rest of `reserved`
    /// returns to the balance (or the excess of `charged` over it is taken).
    /// The ledger write it needs (if anything was charged) is the caller's
    /// to queue under `key`, in the same group as the completion it belongs
    /// to (or through [`Meter::record`]).
    pub fn charge(&self, id: u32, reserved: i64, charged: i64, key: LedgerKey) -> Result<Option<LedgerWrite>> {
        check_amount(reserved, "a reservation")?;
        check_amount(charged, "a charge")?;
        let account = self.account(id)?;
        account.balance.fetch_add(reserved - charged, Ordering::AcqRel);
        let lease = self.leases.as_ref().map(|l| Arc::clone(&l.owner));
        Ok((charged > 0).then(|| LedgerWrite { account: Arc::clone(&account.name), amount: -charged, kind: "charge", key, at: now_ms(), lease }))
    }

    /// Returns a reservation whole: nothing is billed.
    pub fn release(&self, id: u32, reserved: i64) -> Result<()> {
        check_amount(reserved, "a reservation")?;
        self.account(id)?.balance.fetch_add(reserved, Ordering::AcqRel);
        Ok(())
    }

    /// Queues a ledger write on the store (an in-memory meter keeps it).
    pub fn record(&self, write: LedgerWrite) -> Result<()> {
        match &self.writer {
            Some(writer) => writer.enqueue([Write::Ledger(write)]).map(|_| ()),
            None => {
                let mut memory = self.memory.lock().map_err(|_| Error::Internal("the meter is poisoned".into()))?;
                if let LedgerKey::Given(key) = &write.key {
                    memory.credit_keys.insert(key.clone());
                }
                if memory.writes.len() == MEMORY_LEDGER_ENTRIES {
                    memory.writes.pop_front();
                }
                memory.writes.push_back(write);
                Ok(())
            }
        }
    }

    /// Credits `amount` to account `name` (creating it) once per `key`:
    /// `(applied, balance)`; a key seen before applies nothing. A durable
    /// meter answers from memory for the keys it credited itself (their
    /// writes may still be queued), and asks the store, as it is committed
    /// now, for any other: so it never waits for its own queued writes.
    pub fn credit(&self, name: &str, amount: i64, key: &str, store: Option<&mut dyn Store>) -> Result<(bool, i64)> {
        check_amount(amount, "a credit")?;
        let write = LedgerWrite { account: Arc::from(name), amount, kind: "credit", key: LedgerKey::Given(key.to_owned()), at: now_ms(), lease: None };
        let seen = match store {
            Some(store) => {
                let mut memory = self.memory.lock().map_err(|_| Error::Internal("the meter is poisoned".into()))?;
                let seen = memory.credit_keys.contains(key) || store.ledger_has(&write.key_text())?;
                if !seen {
                    // credits are rare (top-ups): remembering their keys costs little
                    memory.credit_keys.insert(key.to_owned());
                }
                drop(memory);
                if !seen && self.ids.get(name).is_none() {
                    match &self.leases {
                        Some(leases) => self.add(name, 0, store.credit_rest(name, &leases.owner)?.unwrap_or(0))?,
                        None => self.add(name, store.balance(name)?.unwrap_or(0), 0)?,
                    };
                }
                seen
            }
            None => {
                let seen = self.memory.lock().map_err(|_| Error::Internal("the meter is poisoned".into()))?.credit_keys.contains(key);
                if !seen {
                    self.add(name, 0, 0)?;
                }
                seen
            }
        };
        if seen {
            let balance = match self.ids.get(name).map(|id| *id) {
                Some(id) => self.view(&*self.account(id)?),
                None => 0,
            };
            return Ok((false, balance));
        }
        let id = *self.ids.get(name).ok_or_else(|| Error::Internal("the account vanished".into()))?;
        let account = self.account(id)?;
        // leased: a credit goes to the database's balance, not to the local block
        match (&self.leases, &self.writer) {
            (Some(leases), Some(writer)) => {
                account.rest.fetch_add(amount, Ordering::AcqRel);
                leases.credited(writer.enqueue([Write::Ledger(write)])?.0);
            }
            _ => {
                account.balance.fetch_add(amount, Ordering::AcqRel);
                self.record(write)?;
            }
        }
        Ok((true, self.view(&account)))
    }

    /// The balance of account `name` (reservations in flight deducted);
    /// leased, see [`lease`] for what it counts.
    pub fn balance(&self, name: &str, store: Option<&mut dyn Store>) -> Result<Option<i64>> {
        match self.resolve(name, store)? {
            Some(id) => Ok(Some(self.view(&*self.account(id)?))),
            None => Ok(None),
        }
    }

    /// An account's balance as this meter sees it.
    fn view(&self, account: &Account) -> i64 {
        let local = account.balance.load(Ordering::Acquire);
        if self.leases.is_none() {
            return local;
        }
        // leased: reservations waiting for a lease are taken too, but only as
        // far as they can be covered (down to the overdraft): the rest will be
        // refused, and a refusal must not report a balance below what the
        // database allows
        let held = local.saturating_add(account.rest.load(Ordering::Acquire));
        held.saturating_sub(account.pending.load(Ordering::Acquire)).max(held.min(-self.overdraft))
    }

    /// The latest entries of account `name`, newest first (an in-memory
    /// meter keeps the last 100,000 entries of all accounts).
    pub fn ledger(&self, name: &str, limit: u32, store: Option<&mut dyn Store>) -> Result<Vec<LedgerEntry>> {
        match store {
            Some(store) => store.ledger(name, limit),
            None => {
                let memory = self.memory.lock().map_err(|_| Error::Internal("the meter is poisoned".into()))?;
                Ok(memory.writes.iter().rev().filter(|w| &*w.account == name).take(limit as usize).map(LedgerWrite::entry).collect())
            }
        }
    }

    /// Whether this meter persists (its reads go to the store).
    pub fn durable(&self) -> bool {
        self.writer.is_some()
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // a leasing meter not closed: its leases go back now rather than at expiry
        let _ = self.close(std::time::Duration::from_secs(2));
    }
}
