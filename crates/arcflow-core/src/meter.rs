//! Metering: integer credits per account, checked and reserved on the hot
//! path with one atomic operation (no I/O), charged through the store's
//! write-behind queue with an idempotency key, so that a retried flush, a
//! resumed run or a write delivered twice never charges twice.
//!
//! A reservation lives in memory only: a crash releases it (the store's
//! balance never included it), and a resumed attempt reserves again. What
//! the store keeps is the ledger (each charge and credit, unique by key) and
//! each account's balance, updated in the same transaction as the entry.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use dashmap::DashMap;
use crate::error::{Error, Result};
use crate::time::now_ms;
use crate::store::{Store, Write, WriteBehind};
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

impl RunMeter {
    /// Reserves the static cost of `task`'s first attempt: `Some(Ok)`
    /// reserved, `Some(Err(balance))` not covered, `None` no static cost.
    pub fn reserve_static(&self, task: u32) -> Result<Option<std::result::Result<(), i64>>> {
        match self.costs.get(task as usize).copied().flatten() {
            Some(cost) => self.meter.reserve(self.account, cost).map(Some),
            None => Ok(None),
        }
    }
}

struct Account {
    name: Arc<str>,
    balance: AtomicI64,
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
    accounts: RwLock<Vec<Arc<Account>>>,
    ids: DashMap<String, u32>,
    writer: Option<Arc<WriteBehind>>,
    /// How far below zero a reservation may take a balance.
    overdraft: i64,
    memory: Mutex<MemoryLedger>,
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
        Meter { accounts: RwLock::new(Vec::new()), ids: DashMap::new(), writer, overdraft: overdraft.max(0), memory: Mutex::default() }
    }

    fn account(&self, id: u32) -> Result<Arc<Account>> {
        let accounts = self.accounts.read().map_err(|_| Error::Internal("the meter is poisoned".into()))?;
        accounts.get(id as usize).cloned().ok_or_else(|| Error::Internal(format!("unknown account id {id}")))
    }

    fn add(&self, name: &str, balance: i64) -> Result<u32> {
        let mut accounts = self.accounts.write().map_err(|_| Error::Internal("the meter is poisoned".into()))?;
        if let Some(id) = self.ids.get(name) {
            return Ok(*id);
        }
        let id = accounts.len() as u32;
        accounts.push(Arc::new(Account { name: Arc::from(name), balance: AtomicI64::new(balance) }));
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
            Some(store) => match store.balance(name)? {
                Some(balance) => self.add(name, balance).map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// Reserves `amount` on account `id` if its balance covers it (within
    /// the overdraft): one compare-and-swap, no I/O. `Err(balance)` when it
    /// does not.
    pub fn reserve(&self, id: u32, amount: i64) -> Result<std::result::Result<(), i64>> {
        check_amount(amount, "a cost")?;
        let account = self.account(id)?;
        let mut current = account.balance.load(Ordering::Acquire);
        loop {
            let next = current - amount;
            if next < -self.overdraft {
                return Ok(Err(current));
            }
            match account.balance.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(Ok(())),
                Err(actual) => current = actual,
            }
        }
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
        Ok((charged > 0).then(|| LedgerWrite { account: Arc::clone(&account.name), amount: -charged, kind: "charge", key, at: now_ms(), lease: None }))
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
                    let balance = store.balance(name)?.unwrap_or(0);
                    self.add(name, balance)?;
                }
                seen
            }
            None => {
                let seen = self.memory.lock().map_err(|_| Error::Internal("the meter is poisoned".into()))?.credit_keys.contains(key);
                if !seen {
                    self.add(name, 0)?;
                }
                seen
            }
        };
        if seen {
            let balance = match self.ids.get(name).map(|id| *id) {
                Some(id) => self.account(id)?.balance.load(Ordering::Acquire),
                None => 0,
            };
            return Ok((false, balance));
        }
        let id = *self.ids.get(name).ok_or_else(|| Error::Internal("the account vanished".into()))?;
        let account = self.account(id)?;
        let balance = account.balance.fetch_add(amount, Ordering::AcqRel) + amount;
        self.record(write)?;
        Ok((true, balance))
    }

    /// The balance of account `name` (reservations in flight deducted).
    pub fn balance(&self, name: &str, store: Option<&mut dyn Store>) -> Result<Option<i64>> {
        match self.resolve(name, store)? {
            Some(id) => Ok(Some(self.account(id)?.balance.load(Ordering::Acquire))),
            None => Ok(None),
        }
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
